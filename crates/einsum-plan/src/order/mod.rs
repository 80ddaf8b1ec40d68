//! Contraction order: which two operands to contract at each step.
//!
//! This file is the module's front: the choice of optimizer ([`Optimize`],
//! what `Auto` picks, the operand limits of the exponential optimizers),
//! `Search::run`, which dispatches on it, and `find`, which dispatches on
//! the bitset width. Each optimizer is its own file and works on the same
//! `Search` (`search.rs`): the operands (after single-operand
//! preprocessing) as axis sets, the output, the axis sizes, a memory limit
//! and an objective. Optimizers return an `SsaPath` (`path.rs`): pairs of
//! tensor ids where `0..n` are the operands and each contraction creates
//! the next id; [`Path`] converts to numpy's linear format.
//!
//! The order found leaves as a contraction tree (`tree.rs`), the one form
//! the plan builder reads: a path becomes one by a single replay, and
//! subtree reconfiguration (`reconfigure.rs`, its subset DP in
//! `subsets.rs`), which rewrites trees in place, hands out the tree it
//! kept.
//!
//! The search is generic over the bitset width `W` and dispatched on the
//! number of axes, so small problems do their set algebra in one word; the
//! tree goes out as a `dyn ContractionTree`, so the builder is not generic.

mod block;
mod branch;
mod dp;
mod greedy;
mod hyper;
mod multilevel;
mod naive;
mod optimal;
mod partition;
mod path;
mod random_greedy;
mod reconfigure;
mod sampled_greedy;
mod search;
mod slice;
mod subsets;
mod tree;

pub(crate) use block::{BLOCK_TEMP, MemoryOrder, cache_blocks};
pub use path::Path;
pub(crate) use path::SsaPath;
pub(crate) use search::{Search, with_merged};
pub(crate) use slice::{Problem, find_sliced, slice_chunks, tree_flops};
pub(crate) use tree::{ContractionTree, Tree};

use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective};
use crate::count::Count;

/// How to choose the contraction order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Optimize {
    /// Choose by problem size: `optimal` up to 5 operands, an exact subset
    /// DP over all operands (`Reconfigure` with one subtree of 10) up to
    /// 10, `dp` up to 16, `Reconfigure` with 3 starts beyond (about 18 ms
    /// at 100 operands on a shared 2-core machine), then, when that order's
    /// contraction is expected to take over 2 s, `Hyper` for 1% of that
    /// time, at most 1 s ([`Budget::Scaled`]; never a costlier order than
    /// reconfigure's). Deterministic unless the contraction is that long.
    /// Never refused for its size: each choice is within that optimizer's
    /// operand limit.
    #[default]
    Auto,
    /// Exhaustive depth-first search, pruned on the best cost found and on
    /// states already reached more cheaply. Exact; exponential: at most
    /// [`OPTIMAL_OPERANDS`] operands, beyond which planning fails with
    /// [`OperandsTooMany`](crate::PlanErrorKind::OperandsTooMany).
    Optimal,
    /// Dynamic programming over connected subsets with a growing cost cap
    /// (Pfeifer, Haegeman and Verstraete 2014, as opt_einsum's `dp`). Exact
    /// among orders without intermediate outer products (and among all
    /// orders up to 12 operands). Exponential: at most [`DP_OPERANDS`]
    /// operands.
    Dp,
    /// Repeatedly contract the pair that removes the most memory; outer
    /// products last.
    Greedy,
    /// Branch and bound: explore the best `n` candidate pairs at each step
    /// (`0` explores all), pruning on the best cost found. Exponential in
    /// the operands for `n` other than 1: at most [`branch_operands`] of
    /// them (10 exploring all, 24 exploring 2, 15 exploring 3).
    Branch(usize),
    /// Greedy with the choice among the best candidates drawn at random,
    /// repeated `trials` times; the same `seed` gives the same order.
    RandomGreedy {
        /// How many greedy runs; the first is plain greedy.
        trials: usize,
        /// Seed of the random choices.
        seed: u64,
    },
    /// Several starting orders, each improved by re-solving its subtrees
    /// of up to `subtree` operands exactly (subtree reconfiguration, as
    /// cotengra's); the cheapest wins. The starts are plain greedy, then
    /// two recursive bisections of the network (few, small axes cut; as
    /// cotengra's partition-based trees) for each random greedy run. Each
    /// start is improved with every subtree size from 3 to `subtree` and
    /// the cheapest result kept, so a larger `subtree` never gives a
    /// costlier order than a smaller one from the same starts.
    /// Deterministic for a seed. What `Auto` uses for large networks, with
    /// 3 trials; more trials find cheaper orders on large networks, at
    /// about `trials x n x 50 µs` of planning.
    Reconfigure {
        /// How many greedy runs to improve; at least 1.
        trials: usize,
        /// Largest subtree re-solved, in operands (3 to 10; `3^subtree`
        /// work per subtree).
        subtree: usize,
        /// Seed of the random greedy runs.
        seed: u64,
    },
    /// Many diverse starting orders, each refined by subtree
    /// reconfiguration (subtrees of 8), the cheapest kept (as cotengra's
    /// `HyperOptimizer`): plain greedy, then divisive orders from a
    /// multilevel hypergraph bisection with random balance and part sizes,
    /// and greedy runs with random cost modifier, temperature and size
    /// jitter. Runs trials on every core until the budget is spent; with
    /// [`Budget::Trials`] deterministic for a seed.
    Hyper {
        /// How long to search.
        budget: Budget,
        /// Seed of the trials' random choices.
        seed: u64,
    },
    /// Left to right: `((a b) c) d`, for reference.
    Naive,
    /// A given order, in numpy's linear format: each pair indexes the current
    /// operand list, whose contracted pair is removed and result appended.
    Path(Path),
}

/// How much searching [`Optimize::Hyper`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Budget {
    /// Trials until this much wall-clock time has passed (the trials
    /// under way finish; the first always runs, so there is always an
    /// order). How many trials fit depends on the machine and its load.
    Time(std::time::Duration),
    /// Exactly this many trials (at least one): the same seed gives the
    /// same order on any machine.
    Trials(usize),
    /// What `Auto` does on large networks: `Reconfigure`'s starts first
    /// (3 trials, subtrees of 8), then trials for 1% of the time the
    /// order's contraction is expected to take at 10 GFLOP/s, at most one
    /// second; none below 20 ms of search (a contraction under 2 s), so
    /// cheap networks plan deterministically. Never costlier than
    /// `Reconfigure` from the same starts.
    Scaled,
}

/// Most operands `Optimal` takes. Its time grows by about 4x to 10x per
/// operand; at 11 operands random networks of degree 3 to 6 took up to
/// 6.5 s (release build, on a shared 2-core machine), at 12 up to 35 s.
/// (Every operand sharing an axis with every other is worse: 10.7 s at 10.)
/// An operand limit rather than a time budget, so plans stay deterministic.
pub const OPTIMAL_OPERANDS: usize = 11;

/// Most operands `Dp` takes. Its time depends on how many connected
/// subsets the network has. At 20 operands most networks took under 4 s
/// (random regular of degree 3 to 6, lattices, MPS, random hypergraph
/// equations; release build, shared 2-core machine), the worst a random
/// hypergraph equation of `benches/quality_networks.txt`, 17 s; random
/// 4-regular networks crossed 10 s at 24 operands, 3-regular ones at 34.
/// (Every operand sharing an axis with every other: 8.6 s at 14.) Not below
/// 20: `Auto` uses dp up to 16, and `benches/plan.rs` times it at 20.
pub const DP_OPERANDS: usize = 20;

/// Most operands `Branch(width)` takes, `None` for no limit. Width 1 is one
/// greedy-like path (polynomial); width `w >= 2` explores up to
/// `w^(n - 1)` orders, held to `2^23` (24 operands at width 2, where
/// random 3-regular networks took up to 3 s, 26 taking 11 s); exploring
/// all candidates (`0`), or a width that explores all the same, at most
/// 10 (dense random networks took up to 4.5 s at 10, over 40 s at 11).
pub fn branch_operands(width: usize) -> Option<usize> {
    const ALL: usize = 10;
    const LOG2_ORDERS: f64 = 23.0;
    match width {
        1 => None,
        0 => Some(ALL),
        w => Some(ALL.max(1 + (LOG2_ORDERS / (w as f64).log2()) as usize)),
    }
}

/// Most operands `optimize` takes, `None` for no limit.
fn operand_limit(optimize: &Optimize) -> Option<usize> {
    match optimize {
        Optimize::Optimal => Some(OPTIMAL_OPERANDS),
        Optimize::Dp => Some(DP_OPERANDS),
        Optimize::Branch(width) => branch_operands(*width),
        _ => None,
    }
}

/// Why no order could be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OrderError {
    /// Every order needs an intermediate above the limit; the smallest
    /// largest-intermediate any order needs is given when known.
    MemoryLimit { needed: Option<Count> },
    /// A user path that does not fit the operands.
    PathInvalid(String),
    /// More axes than the widest search bitset.
    AxesTooMany(usize),
    /// More operands than the optimizer takes.
    OperandsTooMany { operands: usize, limit: usize },
}

impl<const W: usize> Search<'_, W> {
    /// Runs the optimizer; its order as a tree.
    pub(crate) fn run(&self, optimize: &Optimize) -> Result<Tree<W>, OrderError> {
        let n = self.inputs.len();
        if n <= 1 {
            // Nothing to contract: the one operand is the tree.
            return Tree::new(self, &[])
                .ok_or_else(|| OrderError::PathInvalid("there are no operands".into()));
        }
        if let Some(limit) = operand_limit(optimize)
            && n > limit
        {
            return Err(OrderError::OperandsTooMany { operands: n, limit });
        }
        let path = match optimize {
            Optimize::Auto => return self.run(&auto_choice(n)),
            Optimize::Optimal => optimal::search(self),
            Optimize::Dp => dp::search(self),
            Optimize::Greedy => greedy::search(self, None),
            Optimize::Branch(width) => branch::search(self, *width),
            Optimize::RandomGreedy { trials, seed } => random_greedy::search(self, *trials, *seed),
            Optimize::Reconfigure {
                trials,
                subtree,
                seed,
            } => {
                // Reconfigure's own tree, as it is.
                return reconfigure::search(self, *trials, *subtree, *seed)
                    .ok_or_else(|| self.nothing_fits());
            }
            Optimize::Hyper { budget, seed } => {
                return hyper::search(self, budget, *seed).ok_or_else(|| self.nothing_fits());
            }
            Optimize::Naive => naive::search(self),
            Optimize::Path(path) => {
                let ssa = path.to_ssa(n).map_err(OrderError::PathInvalid)?;
                let (_, largest) = self
                    .score(&ssa)
                    .ok_or_else(|| OrderError::PathInvalid("the path is incomplete".into()))?;
                if largest > self.limit {
                    return Err(OrderError::MemoryLimit {
                        needed: self.largest_count(&ssa),
                    });
                }
                Some(ssa)
            }
        };
        let path = path.ok_or_else(|| self.nothing_fits())?;
        Ok(Tree::new(self, &path).expect("optimizers return complete orders"))
    }

    /// The error when no order fits the memory limit.
    fn nothing_fits(&self) -> OrderError {
        OrderError::MemoryLimit {
            needed: self.smallest_peak(),
        }
    }

    /// The smallest largest-intermediate any order reaches, by the `Size`
    /// objective with no limit (greedy when the problem is large): for the
    /// error message when nothing fits.
    fn smallest_peak(&self) -> Option<Count> {
        let unlimited = Search::new(
            self.inputs.clone(),
            self.output,
            self.sizes,
            Cost::MAX,
            Objective::Size,
        );
        let path = if self.inputs.len() <= 8 {
            optimal::search(&unlimited)
        } else {
            greedy::search(&unlimited, None)
        }?;
        unlimited.largest_count(&path)
    }
}

/// `optimize`, with `Auto` replaced by what it picks for `n` operands.
pub(crate) fn resolve(optimize: &Optimize, n: usize) -> Optimize {
    match optimize {
        Optimize::Auto => auto_choice(n),
        other => other.clone(),
    }
}

/// Starting orders `Auto` improves on large networks: greedy and two
/// bisections. On `benches/quality_networks.txt` (n >= 17)
/// three starts left orders at 5.6x to 6.4x cotengra's best found in a
/// minute (geometric mean; opt_einsum's `auto-hq` 37x, its `auto` 300x),
/// eight starts 3.5x at under three times the planning time. (Measured
/// with subtrees of 8 alone; every size up to 8, as now, made the orders
/// 14% cheaper again, geometric mean, for 1.5x to 1.8x the time.)
const AUTO_TRIALS: usize = 3;

/// The subtrees `Auto` re-solves on large networks.
const AUTO_SUBTREE: usize = 8;

/// The optimizer `Auto` picks for `n` operands.
fn auto_choice(n: usize) -> Optimize {
    match n {
        0..=5 => Optimize::Optimal,
        // One subtree of all operands: the exact subset DP over all of
        // them from a greedy start, 3x faster than dp on the 10-operand
        // network of benches/networks.txt (0.34 ms against 1.1 ms on a
        // shared 2-core machine), as good.
        6..=10 => Optimize::Reconfigure {
            trials: 1,
            subtree: 10,
            seed: 0,
        },
        11..=16 => Optimize::Dp,
        // Reconfigure's starts, then more search when the contraction is
        // expected to be long (`Budget::Scaled`).
        _ => Optimize::Hyper {
            budget: Budget::Scaled,
            seed: 0,
        },
    }
}

/// Finds an order for `inputs` (axis indices, each list without repeats)
/// contracting to `output`, as its contraction tree.
pub(crate) fn find(
    inputs: &[Vec<usize>],
    output: &[usize],
    sizes: &[usize],
    limit: Option<usize>,
    objective: Objective,
    optimize: &Optimize,
) -> Result<Box<dyn ContractionTree>, OrderError> {
    let limit = limit.map_or(Cost::MAX, |l| Cost::new(l as u128));
    fn go<const W: usize>(
        inputs: &[Vec<usize>],
        output: &[usize],
        sizes: &[usize],
        limit: Cost,
        objective: Objective,
        optimize: &Optimize,
    ) -> Result<Box<dyn ContractionTree>, OrderError> {
        let search = Search::<W>::new(
            inputs
                .iter()
                .map(|axes| AxisSet::from_indices(axes.iter().copied()))
                .collect(),
            AxisSet::from_indices(output.iter().copied()),
            sizes,
            limit,
            objective,
        );
        Ok(Box::new(search.run(optimize)?))
    }
    match sizes.len().div_ceil(64) {
        0 | 1 => go::<1>(inputs, output, sizes, limit, objective, optimize),
        2 => go::<2>(inputs, output, sizes, limit, objective, optimize),
        3 | 4 => go::<4>(inputs, output, sizes, limit, objective, optimize),
        5..=8 => go::<8>(inputs, output, sizes, limit, objective, optimize),
        9..=16 => go::<16>(inputs, output, sizes, limit, objective, optimize),
        17..=64 => go::<64>(inputs, output, sizes, limit, objective, optimize),
        _ => Err(OrderError::AxesTooMany(sizes.len())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::random_greedy::SplitMix64;
    use super::*;

    /// A search over axes named by letters, for tests: `"ij,jk->ik"` style
    /// text with one size per letter given as `(letter, size)`.
    pub(crate) fn problem(
        text: &str,
        sizes: &[(char, usize)],
    ) -> (Vec<Vec<usize>>, Vec<usize>, Vec<usize>) {
        let (ins, out) = text.split_once("->").expect("explicit output");
        let index = |c: char| {
            sizes
                .iter()
                .position(|&(l, _)| l == c)
                .expect("sized label")
        };
        let inputs = ins
            .split(',')
            .map(|t| t.chars().map(index).collect())
            .collect();
        let output = out.chars().map(index).collect();
        (inputs, output, sizes.iter().map(|&(_, s)| s).collect())
    }

    /// The search over `inputs` (axis indices) contracting to `output`,
    /// minimising FLOPs under `limit` (`None`: no limit).
    pub(crate) fn search_of<'a>(
        inputs: &[Vec<usize>],
        output: &[usize],
        sizes: &'a [usize],
        limit: Option<u128>,
    ) -> Search<'a, 1> {
        wide_search_of(inputs, output, sizes, limit)
    }

    /// [`search_of`] over `64 * W` axes.
    pub(crate) fn wide_search_of<'a, const W: usize>(
        inputs: &[Vec<usize>],
        output: &[usize],
        sizes: &'a [usize],
        limit: Option<u128>,
    ) -> Search<'a, W> {
        Search::new(
            inputs
                .iter()
                .map(|a| AxisSet::from_indices(a.iter().copied()))
                .collect(),
            AxisSet::from_indices(output.iter().copied()),
            sizes,
            limit.map_or(Cost::MAX, Cost::new),
            Objective::Flops,
        )
    }

    /// A random `degree`-regular network of `n` operands (no two sharing
    /// more than one axis), each axis's size drawn by `size`; no output.
    pub(crate) fn random_regular(
        n: usize,
        degree: usize,
        seed: u64,
        mut size: impl FnMut(&mut SplitMix64) -> usize,
    ) -> (Vec<Vec<usize>>, Vec<usize>) {
        let mut rng = SplitMix64(seed);
        loop {
            // Pair up `degree` stubs per operand at random; retry on a
            // loop or a double edge.
            let mut stubs: Vec<usize> = (0..n * degree).map(|s| s / degree).collect();
            for i in (1..stubs.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                stubs.swap(i, j);
            }
            let mut edges: Vec<(usize, usize)> = stubs
                .chunks(2)
                .map(|p| (p[0].min(p[1]), p[0].max(p[1])))
                .collect();
            let simple = edges.iter().all(|&(a, b)| a != b);
            edges.sort_unstable();
            let before = edges.len();
            edges.dedup();
            if !simple || edges.len() != before {
                continue;
            }
            let mut inputs = vec![Vec::new(); n];
            let mut sizes = Vec::with_capacity(edges.len());
            for (axis, &(a, b)) in edges.iter().enumerate() {
                inputs[a].push(axis);
                inputs[b].push(axis);
                sizes.push(size(&mut rng));
            }
            return (inputs, sizes);
        }
    }

    /// The exact FLOPs of `path`, counted independently of `Cost`.
    pub(crate) fn exact_flops<const W: usize>(search: &Search<'_, W>, path: &SsaPath) -> Count {
        let mut sets: Vec<AxisSet<W>> = search.inputs.clone();
        let mut total = Count::ZERO;
        search.replay(path, |_, a, b, pair| {
            let union = sets[a].union(&sets[b]);
            let points = union.count(search.sizes);
            total += &if pair.result == union {
                points
            } else {
                points.times(2)
            };
            sets.push(pair.result);
        });
        total
    }

    /// The FLOPs of `optimize`'s order, which must be exact.
    pub(crate) fn cost(text: &str, sizes: &[(char, usize)], optimize: &Optimize) -> u128 {
        score(text, sizes, optimize).exact().expect("an exact cost")
    }

    /// The FLOPs of `optimize`'s order, as the search ranks them.
    pub(crate) fn score(text: &str, sizes: &[(char, usize)], optimize: &Optimize) -> Cost {
        let (inputs, output, sizes) = problem(text, sizes);
        let path = find(&inputs, &output, &sizes, None, Objective::Flops, optimize)
            .unwrap()
            .path();
        let search = search_of(&inputs, &output, &sizes, None);
        search.score(&path).expect("complete path").0
    }

    #[test]
    fn auto_never_picks_past_an_operand_limit() {
        for n in 0..=1000 {
            let chosen = auto_choice(n);
            if let Some(limit) = operand_limit(&chosen) {
                assert!(n <= limit, "{n} operands: {chosen:?}");
            }
        }
        assert_eq!(branch_operands(2), Some(24));
        assert_eq!(branch_operands(3), Some(15));
        assert_eq!(branch_operands(1000), Some(10));
    }

    #[test]
    fn exponential_optimizers_refuse_past_their_limit_at_once() {
        // A ring of 200 operands: any exhaustive search would run for ever.
        let n = 200;
        let inputs: Vec<Vec<usize>> = (0..n).map(|i| vec![i, (i + 1) % n]).collect();
        let sizes = vec![2; n];
        let search = Search::<4>::new(
            inputs
                .iter()
                .map(|a| AxisSet::from_indices(a.iter().copied()))
                .collect(),
            AxisSet::default(),
            &sizes,
            Cost::MAX,
            Objective::Flops,
        );
        for (optimize, limit) in [
            (Optimize::Optimal, OPTIMAL_OPERANDS),
            (Optimize::Dp, DP_OPERANDS),
            (Optimize::Branch(0), 10),
            (Optimize::Branch(2), 24),
        ] {
            let started = std::time::Instant::now();
            assert_eq!(
                search.run(&optimize).map(|tree| tree.path()),
                Err(OrderError::OperandsTooMany { operands: n, limit }),
                "{optimize:?}"
            );
            assert!(started.elapsed().as_millis() < 100, "{optimize:?} searched");
        }
        // At the limit they run (a ring is easy for all of them).
        for (optimize, limit) in [
            (Optimize::Optimal, OPTIMAL_OPERANDS),
            (Optimize::Dp, DP_OPERANDS),
            (Optimize::Branch(0), 10),
        ] {
            let ring: Vec<Vec<usize>> = (0..limit).map(|i| vec![i, (i + 1) % limit]).collect();
            let sizes = vec![2; limit];
            let path = find(&ring, &[], &sizes, None, Objective::Flops, &optimize);
            assert!(path.is_ok(), "{optimize:?}");
        }
        // Width 1 is polynomial: no limit.
        assert!(search.run(&Optimize::Branch(1)).is_ok());
    }

    #[test]
    fn chain4_finds_the_skinny_middle() {
        // workloads.toml: left to right costs 2.04e9, the best order 6e7.
        let text = "ij,jk,kl,lm->im";
        let sizes = [
            ('i', 1000),
            ('j', 1000),
            ('k', 10),
            ('l', 1000),
            ('m', 1000),
        ];
        assert_eq!(cost(text, &sizes, &Optimize::Naive), 2_040_000_000);
        for optimize in [
            Optimize::Optimal,
            Optimize::Dp,
            Optimize::Greedy,
            Optimize::Branch(0),
            Optimize::Auto,
        ] {
            assert_eq!(cost(text, &sizes, &optimize), 60_000_000, "{optimize:?}");
        }
    }

    #[test]
    fn chain5_finds_the_cheap_order() {
        // workloads.toml: left to right 2.1e9, the best order "8.2e7";
        // numpy's einsum_path(optimize='optimal') says 8.160e+07 exactly.
        let text = "pq,qr,rs,st,tu->pu";
        let sizes = [
            ('p', 1000),
            ('q', 20),
            ('r', 1000),
            ('s', 1000),
            ('t', 20),
            ('u', 1000),
        ];
        assert_eq!(cost(text, &sizes, &Optimize::Naive), 2_120_000_000);
        assert_eq!(cost(text, &sizes, &Optimize::Optimal), 81_600_000);
        assert_eq!(cost(text, &sizes, &Optimize::Dp), 81_600_000);
        // Greedy's own order is not the optimum; re-solving the whole
        // five-operand tree is.
        let reconfigured = Optimize::Reconfigure {
            trials: 1,
            subtree: 8,
            seed: 0,
        };
        assert_eq!(cost(text, &sizes, &reconfigured), 81_600_000);
    }
}

#[cfg(test)]
mod quality;
