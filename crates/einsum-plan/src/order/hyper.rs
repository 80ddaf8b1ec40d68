//! The hyper-optimizer: many diverse starting orders, each refined by
//! subtree reconfiguration, the cheapest kept, within a budget of time or
//! of trials (after cotengra's `HyperOptimizer`; our own code).
//!
//! Trial `t` is a function of the seed and `t` alone: its kind and knobs
//! are drawn from a generator seeded by both, so which trials run is the
//! only thing that time (and thread scheduling) decides. Trial 0 is plain
//! greedy, so the result is never costlier than greedy's refined order;
//! trial 1 is the flat bisection `reconfigure` uses; then three of five
//! trials are divisive orders from the multilevel partitioner
//! (`multilevel.rs`) with a random balance tolerance, its decay with depth
//! and the part size left to greedy, and two of five are greedy runs with
//! random cost modifier, temperature and size jitter (`sampled_greedy.rs`).
//! The winner is the cheapest, the lowest trial number among equals.
//!
//! The trials run on every core the machine offers (scoped threads taking
//! trial numbers from a shared counter); the first trial runs whatever the
//! budget, so there is always a complete order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::partition::{self, Divide};
use super::random_greedy::SplitMix64;
use super::reconfigure::{self, ATTEMPTS_PER_OPERAND};
use super::sampled_greedy::{self, Knobs};
use super::tree::Tree;
use super::{AUTO_SUBTREE, AUTO_TRIALS, Budget, Search, SsaPath, greedy};
use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective};

/// Subtrees re-solved in each trial's refinement, in operands.
const SUBTREE: usize = 8;

/// Threads at most.
const THREADS: usize = 8;

/// FLOPs per second a contraction is assumed to run at, to turn the FLOPs
/// of an order into the time its contraction will take (a shared-core
/// machine's GEMM speed, to an order of magnitude).
const NOMINAL_FLOPS_PER_SECOND: f64 = 1e10;

/// The share of a contraction's expected time `Budget::Scaled` spends
/// searching for a cheaper order.
const SEARCH_SHARE: f64 = 0.01;

/// `Budget::Scaled` searches at most this long.
const MAX_SCALED: Duration = Duration::from_secs(1);

/// Below this, `Budget::Scaled` does not search beyond reconfigure's
/// starts at all, so cheap networks plan deterministically.
const MIN_SCALED: Duration = Duration::from_millis(20);

/// The hyper-optimizer's order, as its tree; `None` when no order it finds
/// fits the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    budget: &Budget,
    seed: u64,
) -> Option<Tree<W>> {
    match *budget {
        Budget::Time(time) => trials(search, Some(Instant::now() + time), usize::MAX, seed),
        Budget::Trials(count) => trials(search, None, count.max(1), seed),
        Budget::Scaled => scaled(search, seed),
    }
}

/// `Budget::Scaled`: reconfigure's own starts first (what `auto` ran
/// before there was a budget), then, when their order's contraction is
/// expected to take long enough, trials for a share of that time; the
/// cheaper order wins, reconfigure's on a tie.
fn scaled<const W: usize>(search: &Search<'_, W>, seed: u64) -> Option<Tree<W>> {
    let base = reconfigure::search(search, AUTO_TRIALS, AUTO_SUBTREE, seed)?;
    let time = scaled_time(flops(&base));
    if time < MIN_SCALED {
        return Some(base);
    }
    match trials(search, Some(Instant::now() + time), usize::MAX, seed) {
        Some(found) if found.total < base.total => Some(found),
        _ => Some(base),
    }
}

/// The search time `Budget::Scaled` spends on an order of `flops`.
fn scaled_time(flops: Cost) -> Duration {
    let seconds = flops.log2().exp2() / NOMINAL_FLOPS_PER_SECOND * SEARCH_SHARE;
    if seconds.is_nan() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(seconds.min(MAX_SCALED.as_secs_f64()))
}

/// The FLOPs of `tree`'s contractions (whatever the objective).
fn flops<const W: usize>(tree: &Tree<W>) -> Cost {
    tree.internal()
        .fold(Cost::ZERO, |acc, n| acc.plus(tree.nodes[n].flops))
}

/// The parts of a search every thread needs, all `Send` (a `Search` itself
/// caches its naive order in a cell and stays on one thread).
struct Problem<'a, const W: usize> {
    inputs: Vec<AxisSet<W>>,
    output: AxisSet<W>,
    sizes: &'a [usize],
    limit: Cost,
    objective: Objective,
}

/// Trials `0, 1, ...` until `deadline` passes (trial 0 runs regardless)
/// or `count` have run; the cheapest order.
fn trials<const W: usize>(
    search: &Search<'_, W>,
    deadline: Option<Instant>,
    count: usize,
    seed: u64,
) -> Option<Tree<W>> {
    let problem = Problem {
        inputs: search.inputs.clone(),
        output: search.output,
        sizes: search.sizes,
        limit: search.limit,
        objective: search.objective,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, THREADS)
        .min(count);
    let next = AtomicUsize::new(0);
    let best: Mutex<Option<(Cost, usize, Tree<W>)>> = Mutex::new(None);
    let work = || {
        let search = Search::new(
            problem.inputs.clone(),
            problem.output,
            problem.sizes,
            problem.limit,
            problem.objective,
        );
        loop {
            let t = next.fetch_add(1, Ordering::Relaxed);
            let late = || deadline.is_some_and(|d| Instant::now() >= d);
            if t >= count || (t > 0 && late()) {
                break;
            }
            let Some(tree) = trial(&search, t, seed, deadline) else {
                continue;
            };
            let mut best = best.lock().unwrap_or_else(|e| e.into_inner());
            if best
                .as_ref()
                .is_none_or(|(c, bt, _)| (tree.total, t) < (*c, *bt))
            {
                *best = Some((tree.total, t, tree));
            }
        }
    };
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let found = best.into_inner().unwrap_or_else(|e| e.into_inner());
    match found {
        Some((_, _, tree)) => Some(tree),
        // No trial fitted the memory limit: reconfigure's fallbacks (dp
        // where affordable, else greedy on intermediate sizes).
        None => reconfigure::search(search, 1, SUBTREE, seed),
    }
}

/// Trial `t`: its starting order, refined (unless the deadline has passed
/// since it started: then the start as it is); `None` when it breaks the
/// memory limit.
fn trial<const W: usize>(
    search: &Search<'_, W>,
    t: usize,
    seed: u64,
    deadline: Option<Instant>,
) -> Option<Tree<W>> {
    let mut rng = SplitMix64(seed ^ (t as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64();
    let path: SsaPath = match t {
        0 => greedy::search(search, None)?,
        1 => partition::order(search, &mut rng)?,
        _ if t % 5 < 3 => partition::order_with(search, &divide(&mut rng), &mut rng)?,
        _ => sampled_greedy::search(search, knobs(&mut rng), &mut rng)?,
    };
    let start = Tree::new(search, &path)?;
    if start.largest() > search.limit {
        return None;
    }
    if t > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
        return Some(start);
    }
    let attempts = ATTEMPTS_PER_OPERAND * search.inputs.len();
    let tree = reconfigure::improve(search, &start, SUBTREE, attempts);
    (tree.largest() <= search.limit).then_some(tree)
}

/// A log-uniform draw in `[lo, hi]`.
fn log_uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.next_f64()).exp()
}

/// Knobs of a multilevel divisive trial.
fn divide(rng: &mut SplitMix64) -> Divide {
    Divide {
        imbalance: log_uniform(rng, 0.01, 0.8),
        decay: 2.0 * rng.next_f64() - 1.0,
        cutoff: 2 + (rng.next_u64() % 9) as usize,
        multilevel: true,
    }
}

/// Knobs of a sampled greedy trial.
fn knobs(rng: &mut SplitMix64) -> Knobs {
    Knobs {
        costmod: log_uniform(rng, 0.1, 4.0),
        temperature: log_uniform(rng, 0.001, 1.0),
        jitter: 0.3 * rng.next_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{exact_flops, random_regular, wide_search_of};
    use crate::order::{ContractionTree, Optimize};

    #[test]
    fn a_tiny_budget_still_gives_a_complete_order() {
        let (inputs, sizes) = random_regular(120, 3, 1, |rng| 2 + (rng.next_u64() % 3) as usize);
        let search = wide_search_of::<4>(&inputs, &[], &sizes, None);
        for time in [Duration::ZERO, Duration::from_micros(1)] {
            let tree = search
                .run(&Optimize::Hyper {
                    budget: Budget::Time(time),
                    seed: 3,
                })
                .unwrap();
            let path = tree.path();
            assert_eq!(path.len(), 119);
            assert_eq!(search.score(&path).unwrap().0, tree.total);
        }
    }

    #[test]
    fn a_trial_limit_is_deterministic_and_never_worse_than_greedy() {
        let (inputs, sizes) = random_regular(80, 3, 7, |rng| 2 + (rng.next_u64() % 3) as usize);
        let search = wide_search_of::<4>(&inputs, &[], &sizes, None);
        let hyper = |seed| {
            search
                .run(&Optimize::Hyper {
                    budget: Budget::Trials(12),
                    seed,
                })
                .unwrap()
                .path()
        };
        let first = hyper(5);
        assert_eq!(first, hyper(5));
        let greedy = search.run(&Optimize::Greedy).unwrap().path();
        let reconfigured = search
            .run(&Optimize::Reconfigure {
                trials: 1,
                subtree: SUBTREE,
                seed: 0,
            })
            .unwrap()
            .path();
        let ours = exact_flops(&search, &first);
        assert!(ours <= exact_flops(&search, &greedy));
        // Trial 0 is greedy refined as reconfigure refines it with
        // subtrees of 8 alone; the winner is no costlier.
        let refined = reconfigure::improve(
            &search,
            &Tree::new(&search, &greedy::search(&search, None).unwrap()).unwrap(),
            SUBTREE,
            ATTEMPTS_PER_OPERAND * 80,
        );
        assert!(ours <= exact_flops(&search, &refined.path()));
        // And on this network many trials beat reconfigure's one start.
        assert!(ours < exact_flops(&search, &reconfigured));
    }

    #[test]
    fn a_memory_limit_is_kept() {
        let (inputs, sizes) = random_regular(40, 3, 2, |_| 2);
        let search = wide_search_of::<2>(&inputs, &[], &sizes, Some(1 << 10));
        let tree = search
            .run(&Optimize::Hyper {
                budget: Budget::Trials(8),
                seed: 1,
            })
            .unwrap();
        assert!(tree.largest() <= Cost::new(1 << 10));
    }

    #[test]
    fn scaled_time_grows_with_the_flops_and_is_capped() {
        assert!(scaled_time(Cost::new(1000)) < MIN_SCALED);
        assert!(scaled_time(Cost::new(1 << 40)) > scaled_time(Cost::new(1 << 35)));
        assert_eq!(scaled_time(Cost::MAX), MAX_SCALED);
        assert_eq!(scaled_time(Cost::new(1 << 100)), MAX_SCALED);
    }
}
