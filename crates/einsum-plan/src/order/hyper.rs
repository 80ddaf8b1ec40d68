//! The hyper-optimizer: many diverse starting orders, each refined by
//! subtree reconfiguration, the cheapest kept, within a budget of time or
//! of trials (after cotengra's `HyperOptimizer`; our own code).
//!
//! Trial `t` is a function of the seed and `t` alone: its kind and knobs
//! are drawn from a generator seeded by both, so which trials run is the
//! only thing that time (and thread scheduling) decides. Trial 0 is plain
//! greedy, trial 1 the flat bisection `reconfigure` uses; then four of five
//! trials are divisive orders from the multilevel partitioner
//! (`multilevel.rs`, through `partition.rs`) with a random balance
//! tolerance, its decay as parts shrink, the part size left to greedy and
//! the number of parts per split (2, 4 or 8), and one of five is a greedy
//! run with random cost modifier, temperature and size jitter
//! (`sampled_greedy.rs`). Each trial is refined with subtrees of 6; the
//! four cheapest (by cost, then trial number) are polished with subtrees
//! of 8 then 10, and the cheapest after that wins (the earlier on a tie).
//! Refinement never makes an order costlier, so the result is never
//! costlier than greedy's order refined with subtrees of 6.
//!
//! The trials run on every core the machine offers (scoped threads taking
//! trial numbers from a shared counter) for 85% of a time budget, the
//! polish in the rest; trial 0 runs whatever the budget, so there is always
//! a complete order. With a number of trials instead, the result is the
//! same on any machine and any number of threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::partition::{self, Divide};
use super::random_greedy::SplitMix64;
use super::reconfigure::{self, ATTEMPTS_PER_OPERAND};
use super::sampled_greedy::{self, Knobs};
use super::tree::Tree;
use super::{AUTO_SUBTREE, AUTO_TRIALS, Budget, Search, SsaPath, auto_choice, greedy};
use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective};

/// Up to this many operands `Auto`'s choice is exact (`dp` at most) and
/// `Hyper` runs it instead of trials. Not beyond `Auto`'s exact range:
/// there `Auto` is `Hyper`, which would recurse.
const EXACT_OPERANDS: usize = 16;

/// Subtrees re-solved in each trial's refinement, in operands.
const SUBTREE: usize = 6;

/// Subtrees re-solved, one size after the other, in the last refinement
/// of the cheapest trials, in operands. Trials refine with subtrees of 6
/// (a ninth of the work of 8 per subtree): on random regular networks of
/// 200-300 tensors twice the trials fit, and polishing the cheapest four
/// with 8 then 10 left orders as cheap as refining every trial with 8, or
/// cheaper.
const POLISH_SUBTREES: [usize; 2] = [8, 10];

/// Trials per generation (see `trials`).
const GENERATION: usize = 32;

/// How many of the cheapest divisive trials' knobs later generations
/// nudge.
const ELITE: usize = 8;

/// The share of a time budget spent on trials (the rest polishes).
const TRIALS_SHARE: f64 = 0.85;

/// How many of the cheapest trials are polished.
const POLISHED: usize = 4;

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
    let n = search.inputs.len();
    if n <= EXACT_OPERANDS {
        // What `Auto` runs here is exact (optimal, or a subset DP over all
        // operands, or dp): no trial can beat it, and it takes milliseconds.
        return search.run(&auto_choice(n)).ok();
    }
    match *budget {
        Budget::Time(time) => trials(search, Some(time), usize::MAX, seed, &POLISH_SUBTREES),
        Budget::Trials(count) => trials(search, None, count.max(1), seed, &POLISH_SUBTREES),
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
    match trials(search, Some(time), usize::MAX, seed, &POLISH_SUBTREES) {
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
///
/// Trials run in generations of [`GENERATION`]: every trial of a
/// generation finishes before the next starts, and from the second on,
/// half the divisive trials take the knobs of one of the [`ELITE`]
/// cheapest divisive trials so far, nudged (a cheap trial's knobs tend to
/// give cheap orders again with other random choices). What a trial does
/// then depends on the trials before its generation, never on which
/// finished first: the result depends on time only through how many
/// trials fit.
fn trials<const W: usize>(
    search: &Search<'_, W>,
    time: Option<Duration>,
    count: usize,
    seed: u64,
    polish_subtrees: &[usize],
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
    // Trials stop at a share of the time; the polish takes the rest, and is
    // skipped once the time is up.
    let started = Instant::now();
    let deadline = time.map(|t| started + t.mul_f64(TRIALS_SHARE));
    let end = time.map(|t| started + t);
    let late = || deadline.is_some_and(|d| Instant::now() >= d);
    // The cheapest trials so far, by cost then trial number.
    let mut best: Vec<(Cost, usize, Tree<W>)> = Vec::new();
    // The cheapest divisive trials' knobs, by cost then trial number.
    let mut elite: Vec<(Cost, usize, Divide)> = Vec::new();
    let mut first = 0;
    while first < count && !(first > 0 && late()) {
        let last = (first + GENERATION).min(count);
        let next = AtomicUsize::new(first);
        let done: Mutex<Vec<(usize, Tree<W>, Option<Divide>)>> = Mutex::new(Vec::new());
        let knobs: Vec<Divide> = elite.iter().map(|e| e.2).collect();
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
                if t >= last || (t > 0 && late()) {
                    break;
                }
                if let Some((tree, divide)) = trial(&search, t, seed, &knobs, deadline) {
                    done.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((t, tree, divide));
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
        for (t, tree, divide) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let key = (tree.total, t);
            if let Some(divide) = divide {
                let at = elite.partition_point(|(c, et, _)| (*c, *et) < key);
                elite.insert(at, (tree.total, t, divide));
                elite.truncate(ELITE);
            }
            let at = best.partition_point(|(c, bt, _)| (*c, *bt) < key);
            if at < POLISHED {
                best.insert(at, (tree.total, t, tree));
                best.truncate(POLISHED);
            }
        }
        first = last;
    }
    // Each of the cheapest few polished; the cheapest after polishing, the
    // earlier on a tie.
    let polished = best
        .into_iter()
        .map(|(_, _, tree)| {
            if end.is_none_or(|e| Instant::now() < e) {
                polish(search, tree, polish_subtrees)
            } else {
                tree
            }
        })
        .reduce(|a, b| if b.total < a.total { b } else { a });
    match polished {
        Some(tree) => Some(tree),
        // No trial fitted the memory limit: reconfigure's fallbacks (dp
        // where affordable, else greedy on intermediate sizes).
        None => reconfigure::search(search, 1, SUBTREE, seed),
    }
}

/// `tree` improved with larger subtrees than the trials use, when that is
/// cheaper (never costlier, within the memory limit if `tree` is).
fn polish<const W: usize>(search: &Search<'_, W>, tree: Tree<W>, subtrees: &[usize]) -> Tree<W> {
    let attempts = ATTEMPTS_PER_OPERAND * search.inputs.len();
    let mut polished = tree.clone();
    for &subtree in subtrees {
        polished = reconfigure::improve(search, &polished, subtree, attempts);
    }
    if polished.total < tree.total && polished.largest() <= search.limit {
        polished
    } else {
        tree
    }
}

/// Trial `t`: its starting order, refined (unless the deadline has passed
/// since it started: then the start as it is); `None` when it breaks the
/// memory limit.
fn trial<const W: usize>(
    search: &Search<'_, W>,
    t: usize,
    seed: u64,
    elite: &[Divide],
    deadline: Option<Instant>,
) -> Option<(Tree<W>, Option<Divide>)> {
    let mut rng = SplitMix64(seed ^ (t as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64();
    let mut knobs = None;
    let path: SsaPath = match t {
        0 => greedy::search(search, None)?,
        1 => partition::order(search, &mut rng)?,
        _ if t % 5 < 4 => {
            let d = if !elite.is_empty() && rng.next_f64() < 0.5 {
                let pick = elite[(rng.next_u64() % elite.len() as u64) as usize];
                nudge(pick, &mut rng)
            } else {
                divide(&mut rng)
            };
            knobs = Some(d);
            // Given up when the deadline passes: a divisive order of a
            // large network can take tens of milliseconds.
            partition::order_until(search, &d, &mut rng, deadline.filter(|_| t > 0))?
        }
        _ => sampled_greedy::search(search, self::knobs(&mut rng), &mut rng)?,
    };
    let start = Tree::new(search, &path)?;
    if start.largest() > search.limit {
        return None;
    }
    if t > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
        return Some((start, knobs));
    }
    let attempts = ATTEMPTS_PER_OPERAND * search.inputs.len();
    let tree = reconfigure::improve(search, &start, SUBTREE, attempts);
    (tree.largest() <= search.limit).then_some((tree, knobs))
}

/// `d` nudged: the tolerance by a factor up to 1.6 either way, the decay
/// by up to 0.4, the part size left to greedy by up to 2, sometimes other
/// parts per split.
fn nudge(d: Divide, rng: &mut SplitMix64) -> Divide {
    let mut step = || 2.0 * rng.next_f64() - 1.0;
    let imbalance = (d.imbalance.ln() + 0.5 * step()).exp().clamp(0.03, 1.0);
    let decay = (d.decay + 0.4 * step()).clamp(-3.0, 1.0);
    let cutoff = (d.cutoff as f64 + 2.0 * step()).round().clamp(2.0, 10.0) as usize;
    let parts = if rng.next_f64() < 0.25 {
        2 << (rng.next_u64() % 3)
    } else {
        d.parts
    };
    Divide {
        imbalance,
        decay,
        cutoff,
        parts,
        ..d
    }
}

/// A log-uniform draw in `[lo, hi]`.
fn log_uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.next_f64()).exp()
}

/// Knobs of a multilevel divisive trial.
fn divide(rng: &mut SplitMix64) -> Divide {
    Divide {
        // Tolerances below 0.03 gave the costliest trials (median) on the
        // four networks below.
        imbalance: log_uniform(rng, 0.03, 1.0),
        // Negative decays (parts split more freely as they shrink, down to
        // peeling single tensors off) won on random regular networks: on a
        // 200-tensor 4-regular one, the best of 200 trials came from
        // decays below -0.7, whose median trial was 2^12 cheaper than that
        // of decays above 0.7; with decays in [-2, 1] on 200 trials each of
        // rr3 (200, 300 tensors), rr4 (150) and random hyperedge equations
        // (200), decays above 0.2 were the costliest (median and best).
        decay: 2.3 * rng.next_f64() - 2.0,
        cutoff: 2 + (rng.next_u64() % 9) as usize,
        parts: 2 << (rng.next_u64() % 3),
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
        // Trial 0 is greedy refined with subtrees of 6; the winner is no
        // costlier.
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
    fn auto_is_reconfigure_on_cheap_networks_and_never_costlier_on_long_ones() {
        let reconfigure = Optimize::Reconfigure {
            trials: AUTO_TRIALS,
            subtree: AUTO_SUBTREE,
            seed: 0,
        };
        // Bonds of 2: a contraction of microseconds, no search beyond
        // reconfigure's starts, the same order.
        let (inputs, sizes) = random_regular(60, 3, 4, |_| 2);
        let search = wide_search_of::<4>(&inputs, &[], &sizes, None);
        let auto = search.run(&Optimize::Auto).unwrap();
        assert!(scaled_time(flops(&auto)) < MIN_SCALED);
        assert_eq!(auto.path(), search.run(&reconfigure).unwrap().path());
        // Bonds of 16 to 64 on a 4-regular network: far beyond 2 s of
        // contraction, so a second of trials; never costlier.
        let (inputs, sizes) = random_regular(60, 4, 4, |rng| 16 << (rng.next_u64() % 3));
        let search = wide_search_of::<4>(&inputs, &[], &sizes, None);
        let base = search.run(&reconfigure).unwrap();
        assert_eq!(scaled_time(flops(&base)), MAX_SCALED);
        let started = Instant::now();
        let auto = search.run(&Optimize::Auto).unwrap();
        let spent = started.elapsed();
        assert!(auto.total <= base.total);
        assert_eq!(search.score(&auto.path()).unwrap().0, auto.total);
        // The budget is kept, give or take the trials under way and the
        // polish (and a loaded machine).
        assert!(spent < Duration::from_secs(4), "{spent:?}");
    }

    #[test]
    fn up_to_the_exact_range_hyper_is_auto() {
        for n in 2..=EXACT_OPERANDS {
            assert!(!matches!(auto_choice(n), Optimize::Hyper { .. }), "{n}");
        }
        assert!(matches!(
            auto_choice(EXACT_OPERANDS + 1),
            Optimize::Hyper {
                budget: Budget::Scaled,
                ..
            }
        ));
    }

    #[test]
    fn scaled_time_grows_with_the_flops_and_is_capped() {
        assert!(scaled_time(Cost::new(1000)) < MIN_SCALED);
        assert!(scaled_time(Cost::new(1 << 40)) > scaled_time(Cost::new(1 << 35)));
        assert_eq!(scaled_time(Cost::MAX), MAX_SCALED);
        assert_eq!(scaled_time(Cost::new(1 << 100)), MAX_SCALED);
    }
}
