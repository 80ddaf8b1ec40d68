//! Path quality against brute force on random small networks.
use super::tests::search_of;
use super::*;
use proptest::prelude::*;

/// Every complete order's score, minimised by trying them all.
fn brute_force(search: &Search<'_, 1>) -> Cost {
    fn go(
        search: &Search<'_, 1>,
        live: &mut Vec<usize>,
        next: usize,
        path: &mut SsaPath,
        best: &mut Cost,
    ) {
        if live.len() == 1 {
            if let Some((score, largest)) = search.score(path)
                && largest <= search.limit
            {
                *best = (*best).min(score);
            }
            return;
        }
        for i in 0..live.len() {
            for j in i + 1..live.len() {
                let (a, b) = (live[i], live[j]);
                live.remove(j);
                live.remove(i);
                live.push(next);
                path.push((a, b));
                go(search, live, next + 1, path, best);
                path.pop();
                live.pop();
                live.insert(i, a);
                live.insert(j, b);
            }
        }
    }
    let n = search.inputs.len();
    let mut best = Cost::MAX;
    go(search, &mut (0..n).collect(), n, &mut Vec::new(), &mut best);
    best
}

/// Random networks: 2 to 7 operands over up to 8 axes of sizes 1 to 6;
/// each operand a random subset, the output a random subset of the axes
/// the operands hold; a random memory limit half the time.
fn network() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<usize>, Vec<usize>, Option<u128>)> {
    (2usize..=7, 1usize..=8).prop_flat_map(|(n, axes)| {
        (
            prop::collection::vec(prop::collection::vec(any::<bool>(), axes), n),
            prop::collection::vec(any::<bool>(), axes),
            prop::collection::vec(1usize..=6, axes),
            prop::option::of(4u128..200),
        )
            .prop_map(|(members, out, sizes, limit)| {
                let inputs: Vec<Vec<usize>> = members
                    .iter()
                    .map(|m| (0..m.len()).filter(|&a| m[a]).collect())
                    .collect();
                let held: Vec<bool> = (0..sizes.len())
                    .map(|a| inputs.iter().any(|i| i.contains(&a)))
                    .collect();
                let output = (0..sizes.len()).filter(|&a| out[a] && held[a]).collect();
                (inputs, output, sizes, limit)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn optimal_and_dp_find_the_minimum_and_greedy_beats_naive((inputs, output, sizes, limit) in network()) {
        let search = search_of(&inputs, &output, &sizes, limit);
        let best = brute_force(&search);
        let cost = |optimize: &Optimize| -> Option<Cost> {
            let path = search.run(optimize).ok()?.path();
            let (score, largest) = search.score(&path).expect("complete path");
            assert!(largest <= search.limit, "{optimize:?} broke the memory limit");
            Some(score)
        };
        if best == Cost::MAX {
            // No order fits the limit: every optimizer must say so.
            for optimize in [Optimize::Optimal, Optimize::Dp, Optimize::Greedy, Optimize::Branch(2), Optimize::Naive] {
                prop_assert!(search.run(&optimize).is_err(), "{:?} found an order", optimize);
            }
            return Ok(());
        }
        prop_assert_eq!(cost(&Optimize::Optimal), Some(best));
        prop_assert_eq!(cost(&Optimize::Dp), Some(best));
        prop_assert_eq!(cost(&Optimize::Branch(0)).map(|c| c >= best), Some(true));
        let naive = cost(&Optimize::Naive);
        let greedy = cost(&Optimize::Greedy);
        if let (Some(g), Some(n)) = (greedy, naive) {
            prop_assert!(g <= n, "greedy {} > naive {}", g, n);
        }
        // Reconfiguration starts from greedy's order and never worsens
        // it; with subtrees as large as the network it re-solves the
        // whole tree exactly, so it finds the minimum whenever greedy
        // finds a start within the limit. So does `auto`, which runs it
        // so from 6 to 10 operands.
        if let Some(g) = greedy {
            let small = cost(&Optimize::Reconfigure { trials: 2, subtree: 3, seed: 5 });
            prop_assert!(small.is_some_and(|c| c <= g && c >= best), "{:?} vs greedy {}", small, g);
            let whole = cost(&Optimize::Reconfigure { trials: 1, subtree: 10, seed: 0 });
            prop_assert_eq!(whole, Some(best));
        }
        // Whether or not greedy fits the limit.
        prop_assert_eq!(cost(&Optimize::Auto), Some(best));
        for optimize in [Optimize::Greedy, Optimize::Branch(1), Optimize::RandomGreedy { trials: 4, seed: 3 }] {
            if let Some(c) = cost(&optimize) {
                prop_assert!(c >= best);
            }
        }
    }
}
