//! The problem every optimizer solves, [`Search`]: the operands (after
//! single-operand preprocessing) as axis sets, the output, the axis sizes,
//! a memory limit and an objective; with the cost of one pairwise
//! contraction ([`Pair`]) and the replay of a whole path, which scores it.
//!
//! Which optimizer runs is chosen in the module's front (`Search::run`).

use std::cell::{Cell, OnceCell};

use super::{SsaPath, naive};
use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective, pair_flops};
use crate::count::Count;

/// The problem every optimizer solves.
pub(crate) struct Search<'a, const W: usize> {
    pub inputs: Vec<AxisSet<W>>,
    pub output: AxisSet<W>,
    pub sizes: &'a [usize],
    /// Largest intermediate allowed, in elements (`Cost::MAX` for none).
    /// The final result is the output and is not an intermediate.
    pub limit: Cost,
    pub objective: Objective,
    /// The left-to-right order and its score, once computed: every greedy
    /// run compares itself with it, and random greedy and reconfigure run
    /// greedy many times over the same problem.
    naive: OnceCell<Option<(SsaPath, Cost)>>,
    /// A score the left-to-right order is known to reach, from a replay
    /// stopped there (see `naive_below`).
    naive_floor: Cell<Cost>,
}

/// One candidate pairwise contraction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair<const W: usize> {
    pub result: AxisSet<W>,
    pub flops: Cost,
    pub size: Cost,
}

impl<'a, const W: usize> Search<'a, W> {
    pub(crate) fn new(
        inputs: Vec<AxisSet<W>>,
        output: AxisSet<W>,
        sizes: &'a [usize],
        limit: Cost,
        objective: Objective,
    ) -> Self {
        Search {
            inputs,
            output,
            sizes,
            limit,
            objective,
            naive: OnceCell::new(),
            naive_floor: Cell::new(Cost::ZERO),
        }
    }

    /// The left-to-right order within the limit with its score, when that
    /// score is below `bound` (`None` for no bound). The replay stops once
    /// its running score reaches the bound: scores only grow along a path,
    /// and on large networks the left-to-right order's intermediates hold
    /// most of the network's axes, so a whole replay is quadratic (a fifth
    /// of greedy's time at 2,500 tensors) where greedy's own order is
    /// usually beaten within a few steps.
    pub(crate) fn naive_below(&self, bound: Option<Cost>) -> Option<&(SsaPath, Cost)> {
        fn below(found: &Option<(SsaPath, Cost)>, bound: Option<Cost>) -> Option<&(SsaPath, Cost)> {
            found
                .as_ref()
                .filter(|(_, score)| bound.is_none_or(|b| *score < b))
        }
        if let Some(found) = self.naive.get() {
            return below(found, bound);
        }
        if bound.is_some_and(|b| self.naive_floor.get() >= b) {
            return None;
        }
        match naive::scored_below(self, bound) {
            Ok(found) => below(self.naive.get_or_init(|| found), bound),
            Err(floor) => {
                self.naive_floor.set(self.naive_floor.get().max(floor));
                None
            }
        }
    }

    /// Contracts `a` with `b`, keeping the axes in `keep` (the output and the
    /// axes of every other live tensor).
    #[inline]
    pub(crate) fn pair(&self, a: &AxisSet<W>, b: &AxisSet<W>, keep: &AxisSet<W>) -> Pair<W> {
        let union = a.union(b);
        let result = union.intersection(keep);
        let sums = result != union;
        Pair {
            result,
            flops: pair_flops(union.size(self.sizes), sums),
            size: result.size(self.sizes),
        }
    }

    /// The score of `path` under the objective, and its largest intermediate;
    /// `None` if the path is not a complete order.
    pub(crate) fn score(&self, path: &[(usize, usize)]) -> Option<(Cost, Cost)> {
        let mut score = Cost::ZERO;
        let mut largest = Cost::ZERO;
        let left = self.replay(path, |step, _, _, pair| {
            let last = step + 1 == path.len();
            if !last {
                largest = largest.max(pair.size);
            }
            score =
                self.objective
                    .add(score, pair.flops, if last { Cost::ZERO } else { pair.size });
        })?;
        (left == 1).then_some((score, largest))
    }

    /// The exact element count of `path`'s largest intermediate (the output
    /// is not one), for error messages; `None` if the path is incomplete.
    pub(super) fn largest_count(&self, path: &[(usize, usize)]) -> Option<Count> {
        let mut largest = Count::ZERO;
        let left = self.replay(path, |step, _, _, pair| {
            if step + 1 < path.len() {
                largest = largest.clone().max(pair.result.count(self.sizes));
            }
        })?;
        (left == 1).then_some(largest)
    }

    /// Replays `path`, calling `visit(step, a, b, pair)` with each
    /// contraction it makes; returns how many tensors are left, or `None` if
    /// a pair names a tensor that does not exist or is already contracted.
    /// Linear in the path: each axis keeps a count of the live tensors
    /// holding it.
    pub(crate) fn replay(
        &self,
        path: &[(usize, usize)],
        mut visit: impl FnMut(usize, usize, usize, &Pair<W>),
    ) -> Option<usize> {
        self.replay_while(path, |step, a, b, pair| {
            visit(step, a, b, pair);
            true
        })
    }

    /// [`replay`](Search::replay), stopped after the first contraction
    /// for which `visit` returns `false` (the count is then of the tensors
    /// left at that point).
    pub(crate) fn replay_while(
        &self,
        path: &[(usize, usize)],
        mut visit: impl FnMut(usize, usize, usize, &Pair<W>) -> bool,
    ) -> Option<usize> {
        let mut live: Vec<Option<AxisSet<W>>> = self.inputs.iter().copied().map(Some).collect();
        let mut holders = vec![0u32; self.sizes.len()];
        for set in &self.inputs {
            for axis in set.iter() {
                holders[axis] += 1;
            }
        }
        for (step, &(a, b)) in path.iter().enumerate() {
            if a == b {
                return None;
            }
            let sa = live.get(a).copied().flatten()?;
            let sb = live.get(b).copied().flatten()?;
            live[a] = None;
            live[b] = None;
            let mut keep = self.output;
            for axis in sa.union(&sb).iter() {
                let own = u32::from(sa.contains(axis)) + u32::from(sb.contains(axis));
                if holders[axis] > own {
                    keep.insert(axis);
                }
            }
            let pair = self.pair(&sa, &sb, &keep);
            for axis in sa.iter().chain(sb.iter()) {
                holders[axis] -= 1;
            }
            for axis in pair.result.iter() {
                holders[axis] += 1;
            }
            let go_on = visit(step, a, b, &pair);
            live.push(Some(pair.result));
            if !go_on {
                break;
            }
        }
        Some(live.iter().flatten().count())
    }

    /// The same problem under another objective.
    pub(crate) fn with_objective(&self, objective: Objective) -> Search<'a, W> {
        Search::new(
            self.inputs.clone(),
            self.output,
            self.sizes,
            self.limit,
            objective,
        )
    }
}

/// The backtracking step of the exhaustive searches: replaces `live[i]` and
/// `live[j]` (`i < j`) by `merged` while `f` explores from there, then puts
/// them back where they were.
pub(crate) fn with_merged<T: Copy, R>(
    live: &mut Vec<T>,
    i: usize,
    j: usize,
    merged: T,
    f: impl FnOnce(&mut Vec<T>) -> R,
) -> R {
    debug_assert!(i < j);
    let (a, b) = (live[i], live[j]);
    live.remove(j);
    live.remove(i);
    live.push(merged);
    let result = f(live);
    live.pop();
    live.insert(i, a);
    live.insert(j, b);
    result
}
