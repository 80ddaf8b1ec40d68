//! Random greedy: greedy runs in which each step takes one of the best few
//! candidates at random, weighted towards the best (a Boltzmann choice); the
//! best of all runs wins. The first run is plain greedy, so it is never
//! worse than greedy; the same seed gives the same order.

use super::greedy::{self, CHOICES, Removed};
use super::{Search, SsaPath};
use crate::cost::Cost;

/// Sharpness of the choice: the weight of a candidate whose cost is worse
/// than the best by the best's own magnitude is `exp(-1 / TEMPERATURE)`.
const TEMPERATURE: f64 = 0.3;

/// `None` when every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    trials: usize,
    seed: u64,
) -> Option<SsaPath> {
    let mut best: Option<(Cost, SsaPath)> = None;
    let mut rng = SplitMix64(seed);
    for trial in 0..trials.max(1) {
        let path = if trial == 0 {
            greedy::search(search, None)
        } else {
            randomized(search, &mut rng)
        };
        let Some(path) = path else { continue };
        let Some((score, _)) = search.score(&path) else {
            continue;
        };
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, path));
        }
    }
    best.map(|(_, path)| path)
}

/// One greedy run with its choices drawn from `rng`.
pub(crate) fn randomized<const W: usize>(
    search: &Search<'_, W>,
    rng: &mut SplitMix64,
) -> Option<SsaPath> {
    let mut choose = |costs: &[Removed]| boltzmann(costs, rng.next_f64());
    greedy::search(search, Some(&mut choose))
}

/// Index drawn from `costs` (increasing) with weights `exp(-(c - c0) / (T |c0|))`,
/// using the uniform draw `u` in `[0, 1)`.
fn boltzmann(costs: &[Removed], u: f64) -> usize {
    debug_assert!(costs.len() <= CHOICES);
    let best = costs[0].to_f64();
    let scale = TEMPERATURE * best.abs().max(1.0);
    let weights: Vec<f64> = costs
        .iter()
        .map(|&c| {
            let w = (-(c.to_f64() - best) / scale).exp();
            // Costs beyond a float's range (infinite differences) compare
            // through their logarithms instead.
            if w.is_nan() {
                (-c.gap(costs[0]) / TEMPERATURE).exp()
            } else {
                w
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = u * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    costs.len() - 1
}

/// SplitMix64: a tiny, well-mixed generator; enough for choosing among four.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::Count;
    use crate::order::Optimize;
    use crate::order::tests::{cost, exact_flops, random_regular, wide_search_of};

    #[test]
    fn never_worse_than_greedy_and_deterministic_per_seed() {
        let sizes = [('a', 2), ('b', 3), ('c', 40), ('d', 5), ('e', 60), ('f', 7)];
        let text = "ab,bc,cd,de,ef,fa->";
        let greedy = cost(text, &sizes, &Optimize::Greedy);
        let rg = |seed| cost(text, &sizes, &Optimize::RandomGreedy { trials: 16, seed });
        assert!(rg(1) <= greedy);
        assert_eq!(rg(7), rg(7));
    }

    #[test]
    fn orders_past_u128_still_rank() {
        // A random 4-regular network of 40 operands with bonds of 2^20 to
        // 2^30: two operands share at most one axis, so even the first
        // contraction of any order costs more than 2^140 FLOPs. With
        // saturating scores every trial tied with greedy and greedy won.
        let (inputs, sizes) = random_regular(40, 4, 7, |rng| 1 << (20 + rng.next_u64() % 11));
        let search = wide_search_of::<2>(&inputs, &[], &sizes, None);
        let (trials, seed) = (16, 3);
        let path = super::search(&search, trials, seed).unwrap();
        // The trials' orders, as `search` draws them.
        let mut rng = SplitMix64(seed);
        let mut orders = vec![greedy::search(&search, None).unwrap()];
        for _ in 1..trials {
            orders.push(randomized(&search, &mut rng).unwrap());
        }
        let exact: Vec<Count> = orders.iter().map(|p| exact_flops(&search, p)).collect();
        let threshold = Count::from(u128::MAX);
        assert!(exact.iter().all(|c| *c > threshold));
        // The cheapest trial wins, up to the log's resolution (orders within
        // a relative 1e-12 or so of each other tie).
        let best = exact.iter().min().unwrap();
        let chosen = exact_flops(&search, &path);
        assert!(chosen.clone().times(1_000_000_000) <= best.clone().times(1_000_000_001));
        assert!(chosen < exact[0], "greedy's order was kept: {exact:?}");
    }

    #[test]
    fn boltzmann_prefers_the_best() {
        let r = |v: &[u128]| -> Vec<Removed> {
            v.iter()
                .map(|&x| Removed::new(Cost::ZERO, Cost::new(x), Cost::ZERO))
                .collect()
        };
        assert_eq!(boltzmann(&r(&[100, 0]), 0.0), 0);
        assert_eq!(boltzmann(&r(&[5]), 0.99), 0);
        assert!(boltzmann(&r(&[100, 99, 98, 97]), 0.999) >= 1);
        // Far beyond a float's range: 2^4000 removed against 2^3999 or
        // 2^2000 removed; the draw still weighs by relative difference.
        let p = |k: usize| Cost::product(std::iter::repeat_n(2, k));
        let huge = |k| Removed::new(Cost::ZERO, p(k), Cost::ZERO);
        let (a, b, c) = (huge(4000), huge(3999), huge(2000));
        assert!(a < b && b < c);
        assert_eq!(
            boltzmann(&[a, c], 0.9),
            0,
            "c removes almost nothing of a's"
        );
        assert_eq!(boltzmann(&[a, b], 0.9), 1, "b removes half of a's");
    }
}
