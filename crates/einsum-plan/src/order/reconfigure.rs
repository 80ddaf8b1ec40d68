//! Subtree reconfiguration: improves a complete order by re-solving its
//! small subtrees exactly (after cotengra's `subtree_reconfigure`).
//!
//! A contraction order is a binary tree. Cut any subtree at a frontier of `k`
//! smaller subtrees and the part between the frontier and the subtree's root
//! is an independent problem: contract the `k` frontier tensors down to the
//! root's axes. Nothing outside changes, since the root keeps its axes; so
//! the cheapest way to do it, found by dynamic programming over the `2^k`
//! subsets of the frontier (outer products included), can replace the old
//! part whenever it is cheaper.
//!
//! Greedy orders are locally poor in exactly this way, and so are the
//! bisection orders of `partition` below their cuts. Contractions are
//! re-solved most expensive first; a rewrite re-queues what it touched.
//! `search` improves several starting orders (greedy, bisection, random
//! greedy) and keeps the best: what `auto` runs on large networks.

use std::collections::BinaryHeap;

use super::random_greedy::{self, SplitMix64};
use super::subsets::{LocalSizes, MAX_SUBTREE, Scratch, Subsets, connected, global};
use super::tree::{Node, Tree};
use super::{Search, SsaPath, dp, greedy, partition};
use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective, pair_flops};

/// Frontiers of this many tensors or more, short of the whole network, skip
/// subsets that share no axis when the frontier as a whole is connected.
const SPARSE_FRONTIER: usize = 6;

/// Starting orders, each improved; the cheapest, as its tree. The first
/// start is plain greedy, then two bisection orders for each random greedy
/// run (see [`Optimize::Reconfigure`](super::Optimize::Reconfigure)).
/// `None` when every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    trials: usize,
    subtree: usize,
    seed: u64,
) -> Option<Tree<W>> {
    let mut best: Option<Tree<W>> = None;
    let consider = |best: &mut Option<Tree<W>>, path: SsaPath| {
        let attempts = ATTEMPTS_PER_OPERAND * search.inputs.len();
        let Some(start) = Tree::new(search, &path) else {
            return;
        };
        let Some(tree) = improve_all_sizes(search, &start, subtree, attempts) else {
            return;
        };
        if best.as_ref().is_none_or(|b| tree.total < b.total) {
            *best = Some(tree);
        }
    };
    let mut rng = SplitMix64(seed);
    for trial in 0..trials.max(1) {
        let start = match trial {
            0 => greedy::search(search, None),
            t if t % 3 == 0 => random_greedy::randomized(search, &mut rng),
            _ => partition::order(search, &mut rng),
        };
        if let Some(path) = start {
            consider(&mut best, path);
        }
    }
    if best.is_none() {
        // No start fit the memory limit, which does not mean no order
        // does: dp honours the limit exactly where it is affordable, and
        // beyond, greedy on the size of intermediates alone finds the
        // order with the smallest largest-intermediate it can.
        let start = if search.inputs.len() <= FALLBACK_DP_OPERANDS {
            dp::search(search)
        } else {
            greedy::search(&search.with_objective(Objective::Size), None)
        };
        if let Some(path) = start {
            consider(&mut best, path);
        }
    }
    best
}

/// The cheapest of `start` improved with subtrees of each size from
/// `subtree` down to 3, renumbered to run depth first (its score is its
/// `total`); `None` when none is within the memory limit.
///
/// Each size is a local search of its own, and from the same start a
/// larger size can settle in a costlier local minimum than a smaller one
/// (8 starts on a 200-tensor random 4-regular network: subtrees of 10
/// ended 4x costlier than subtrees of 8). Keeping the best over all sizes
/// up to `subtree` makes a larger `subtree` never worse than a smaller one
/// by construction. Chaining the sizes instead (each from the previous
/// size's order) was as monotone but settled far higher (100x on the same
/// network: small subtrees lock the order into their local minimum). The
/// price is time: the smaller sizes take about as long together as the
/// largest alone (`3^k` per subproblem), so `auto` on large networks plans
/// in 1.5x to 1.8x the time, for orders 14% cheaper (geometric mean over
/// `benches/quality_networks.txt`, n >= 17; none costlier, one 3600x
/// cheaper). Largest size first, so a tie keeps the largest size's order.
/// When one subproblem holds every operand, its exact DP settles it alone.
fn improve_all_sizes<const W: usize>(
    search: &Search<'_, W>,
    start: &Tree<W>,
    subtree: usize,
    attempts: usize,
) -> Option<Tree<W>> {
    let n = search.inputs.len();
    if n <= subtree.min(MAX_SUBTREE)
        && let Some(whole) = solve_whole(search, start)
        && whole.total.exact().is_some_and(|c| c < EXACT_IN_FLOATS)
    {
        // One subproblem holds every operand: its subset DP is the optimum
        // over all orders, which no smaller subtree can beat; when the
        // costs are below 2^52 the DP's floats were exact, so this holds
        // by construction (beyond, every size is tried as below).
        return Some(whole);
    }
    let mut best: Option<Tree<W>> = None;
    // A frontier never holds more tensors than there are operands, so the
    // sizes beyond that search exactly as that size does.
    let largest = subtree.min(n).clamp(3, MAX_SUBTREE);
    for k in (3..=largest).rev() {
        let improved = improve(search, start, k, attempts);
        if improved.largest() <= search.limit
            && best.as_ref().is_none_or(|b| improved.total < b.total)
        {
            best = Some(improved);
        }
    }
    best
}

/// Costs below this are integers an `f64` holds exactly, sums included.
const EXACT_IN_FLOATS: u128 = 1 << 52;

/// The best order of all, by the subset DP over every operand at once,
/// renumbered to run depth first; `None` when the DP cannot take the
/// network (more than 128 axes) or nothing fits the memory limit.
fn solve_whole<const W: usize>(search: &Search<'_, W>, start: &Tree<W>) -> Option<Tree<W>> {
    let n = search.inputs.len();
    let mut tree = start.clone();
    // With one contraction or none there is nothing to choose.
    if n >= 3 {
        let axes = search
            .inputs
            .iter()
            .fold(search.output, |acc, set| acc.union(set));
        if axes.iter().count() > 128 {
            return None;
        }
        // The frontier grows to every operand; `None` when the order was
        // already the cheapest.
        let _ = tree.reconfigure(search, tree.root, n, &mut Scratch::default());
        tree.renumber(search);
    }
    (tree.largest() <= search.limit).then_some(tree)
}

/// Up to this many operands an order search whose starts all break the
/// memory limit falls back on dp (as `auto` runs dp up to 16).
const FALLBACK_DP_OPERANDS: usize = 16;

/// Subproblems solved per operand at most, per order improved: each
/// contraction once, and what rewrites re-queue (rarely more than twice
/// the contractions on the networks of `benches/networks.txt`).
pub(super) const ATTEMPTS_PER_OPERAND: usize = 8;

/// A part of the order costing less than `1 / NEGLIGIBLE` of the whole is
/// not re-solved. Small rewrites do open the way to large ones, so the
/// bound is loose: on `benches/quality_networks.txt` (3 starts, n >= 17),
/// 1/1024 left the orders 16% costlier (geometric mean) than 1/16384, and
/// no bound at all was within noise of 1/16384 but slower.
const NEGLIGIBLE: Cost = Cost::small(1 << 14);

/// Whether re-solving a part of the order scoring `part` can matter to the
/// whole order's `total`: under the additive objectives it can gain at most
/// `part`, and a negligible part is left alone; under `Size`, only a part
/// holding the largest intermediate can lower it.
fn worth_trying(objective: Objective, part: Cost, total: Cost) -> bool {
    match objective {
        Objective::Size => part >= total,
        Objective::Flops | Objective::Combined => part.times(NEGLIGIBLE) >= total,
    }
}

/// `start` improved by re-solving subtrees of up to `subtree` leaves, most
/// expensive first, until no subtree improves or `attempts` subproblems
/// have been solved; renumbered to run depth first. Never worse than
/// `start`, and within the memory limit if `start` is. Deterministic.
pub(super) fn improve<const W: usize>(
    search: &Search<'_, W>,
    start: &Tree<W>,
    subtree: usize,
    attempts: usize,
) -> Tree<W> {
    let subtree = subtree.clamp(3, MAX_SUBTREE);
    let mut tree = start.clone();
    let mut scratch = Scratch::default();
    // Every contraction is tried once, most expensive first; a rewrite
    // queues the contractions it rewrote and the ancestors whose subtree it
    // may have changed within reach of their frontier. A subproblem depends
    // only on the top of its subtree (a node's axes are fixed by the
    // operands under it), so nothing else can have become improvable.
    let mut queued = vec![false; tree.nodes.len()];
    let mut queue: BinaryHeap<(Cost, usize)> = BinaryHeap::new();
    for node in tree.internal() {
        queued[node] = true;
        queue.push((tree.nodes[node].flops, node));
    }
    let mut budget = attempts.max(1);
    while let Some((_, node)) = queue.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        queued[node] = false;
        let Some(rebuilt) = tree.reconfigure(search, node, subtree, &mut scratch) else {
            continue;
        };
        let mut up = node;
        let mut touched = rebuilt;
        for _ in 1..subtree {
            match tree.parent[up] {
                Some(p) => {
                    touched.push(p);
                    up = p;
                }
                None => break,
            }
        }
        for n in touched {
            if !queued[n] {
                queued[n] = true;
                queue.push((tree.nodes[n].flops, n));
            }
        }
    }
    tree.renumber(search);
    tree
}

// What reconfigure does to a tree: re-solve one subtree and rewrite it.
impl<const W: usize> Tree<W> {
    /// Re-solves the subtree under `root` cut at up to `k` leaves; on an
    /// improvement rewrites it in place and returns the rewritten nodes.
    /// A rewrite reuses the subtree's slots in any order: the tree needs a
    /// [`renumber`](Tree::renumber) before it is handed out.
    fn reconfigure(
        &mut self,
        search: &Search<'_, W>,
        root: usize,
        k: usize,
        s: &mut Scratch,
    ) -> Option<Vec<usize>> {
        // Grow the frontier breadth-first from `root`, opening the most
        // expensive contraction first.
        s.frontier.clear();
        s.inside.clear();
        s.frontier.push(root);
        while s.frontier.len() < k {
            let Some(pos) = (0..s.frontier.len())
                .filter(|&i| self.nodes[s.frontier[i]].children.is_some())
                .max_by_key(|&i| (self.nodes[s.frontier[i]].flops, std::cmp::Reverse(i)))
            else {
                break;
            };
            let node = s.frontier.swap_remove(pos);
            let (a, b) = self.nodes[node].children.expect("internal");
            s.inside.push(node);
            s.frontier.push(a);
            s.frontier.push(b);
        }
        let f = s.frontier.len();
        if f < 3 {
            return None;
        }
        let is_root = root == self.root;
        let objective = search.objective;
        // The current score of the part being replaced, the root's size
        // counted as the search counts it.
        let old = s.inside.iter().fold(Cost::ZERO, |acc, &n| {
            let node = &self.nodes[n];
            let size = if n == self.root {
                Cost::ZERO
            } else {
                node.size
            };
            objective.add(acc, node.flops, size)
        });
        if !worth_trying(objective, old, self.total) {
            return None;
        }

        // The subproblem's axes, renumbered into one `u128` so the DP's set
        // algebra and sizes are a few instructions each.
        let out = self.nodes[root].set;
        let all = s
            .frontier
            .iter()
            .fold(out, |acc, &t| acc.union(&self.nodes[t].set));
        s.axes.clear();
        s.axes.extend(all.iter());
        if s.axes.len() > 128 {
            return None;
        }
        let local = |set: &AxisSet<W>, axes: &[usize]| -> u128 {
            axes.iter()
                .enumerate()
                .filter(|(_, a)| set.contains(**a))
                .fold(0, |acc, (i, _)| acc | 1 << i)
        };
        let sizes = LocalSizes::new(s.axes.iter().map(|&a| search.sizes[a]));
        let out_local = local(&out, &s.axes);

        // Subset DP over the frontier: result axes, best score, best split.
        let full = (1usize << f) - 1;
        s.union.clear();
        s.union.resize(full + 1, 0);
        let leaves: [u128; MAX_SUBTREE] = std::array::from_fn(|i| {
            s.frontier
                .get(i)
                .map_or(0, |&t| local(&self.nodes[t].set, &s.axes))
        });
        for mask in 1..=full {
            let low = mask.trailing_zeros() as usize;
            s.union[mask] = s.union[mask & (mask - 1)] | leaves[low];
        }
        s.result.clear();
        // A subset's result keeps the axes of the root or of the rest of the
        // frontier; a single tensor is as it is (summing an axis only it
        // holds would be a step of its own, not part of this tree).
        s.result.extend((0..=full).map(|mask| {
            if mask.count_ones() == 1 {
                s.union[mask]
            } else {
                s.union[mask] & (out_local | s.union[full ^ mask])
            }
        }));
        // Which frontier tensors share an axis. When a frontier of six or
        // more is connected, its subsets that are not (whose order would
        // start with an outer product) are skipped: a fraction of the `3^k`
        // splits remain. On `benches/quality_networks.txt` no order changed.
        // Smaller frontiers, and a frontier that is the whole network, keep
        // the exact search, outer products included.
        let neighbours: [u32; MAX_SUBTREE] = std::array::from_fn(|i| {
            (0..f)
                .filter(|&j| i < f && j != i && leaves[i] & leaves[j] != 0)
                .fold(0, |acc, j| acc | 1 << j)
        });
        let sparse = f >= SPARSE_FRONTIER && f < self.operands && connected(full, &neighbours);
        let dp = Subsets {
            objective,
            limit: search.limit,
            is_root,
            sparse,
            neighbours: &neighbours,
            sizes: &sizes,
        };
        // Scores in floating point, for speed; the winner is re-scored
        // exactly below before it may replace anything.
        dp.solve(s);
        // `old` scored the root's size by the same rule, so the two compare.
        if s.score[full] == f64::INFINITY || self.exact(search, full, is_root, &sizes, s) >= old {
            return None;
        }

        // Rewrite: the root keeps its slot; the other inner slots are reused.
        let mut free: Vec<usize> = s.inside.iter().copied().filter(|&n| n != root).collect();
        let mut rebuilt = Vec::with_capacity(f - 1);
        self.emit(search, full, Some(root), &mut free, &mut rebuilt, &*s);
        debug_assert!(free.is_empty());
        debug_assert_eq!(self.nodes[root].set, out);
        self.total = self.score(search);
        Some(rebuilt)
    }

    /// The exact score of the DP's tree for `mask`.
    fn exact(
        &self,
        search: &Search<'_, W>,
        mask: usize,
        is_root: bool,
        sizes: &LocalSizes,
        s: &Scratch,
    ) -> Cost {
        if mask.count_ones() == 1 {
            return Cost::ZERO;
        }
        let a = s.split[mask];
        let b = mask ^ a;
        let joined = search.objective.join(
            self.exact(search, a, false, sizes, s),
            self.exact(search, b, false, sizes, s),
        );
        let both = s.result[a] | s.result[b];
        let flops = pair_flops(sizes.of(both), s.result[mask] != both);
        let full = mask == (1 << s.frontier.len()) - 1;
        let written = if full && is_root {
            Cost::ZERO
        } else {
            sizes.of(s.result[mask])
        };
        search.objective.add(joined, flops, written)
    }

    /// Writes the DP's tree for `mask`: a frontier tensor's own id, or an
    /// inner node written into `slot` (when given, else one taken from
    /// `free`) whose id is returned; every slot written is appended to
    /// `rebuilt`.
    fn emit(
        &mut self,
        search: &Search<'_, W>,
        mask: usize,
        slot: Option<usize>,
        free: &mut Vec<usize>,
        rebuilt: &mut Vec<usize>,
        s: &Scratch,
    ) -> usize {
        if mask.count_ones() == 1 {
            return s.frontier[mask.trailing_zeros() as usize];
        }
        let slot = slot.unwrap_or_else(|| free.pop().expect("one slot per inner node"));
        let a = s.split[mask];
        let b = mask ^ a;
        let ca = self.emit(search, a, None, free, rebuilt, s);
        let cb = self.emit(search, b, None, free, rebuilt, s);
        let both = s.result[a] | s.result[b];
        let set = global(s.result[mask], &s.axes);
        self.parent[ca] = Some(slot);
        self.parent[cb] = Some(slot);
        self.nodes[slot] = Node {
            set,
            children: Some((ca, cb)),
            flops: pair_flops(
                global::<W>(both, &s.axes).size(search.sizes),
                s.result[mask] != both,
            ),
            size: set.size(search.sizes),
        };
        rebuilt.push(slot);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{exact_flops, problem, random_regular, search_of};
    use crate::order::{ContractionTree, Optimize};

    /// The tree of `path`, which must be complete.
    fn tree_of<const W: usize>(search: &Search<'_, W>, path: &SsaPath) -> Tree<W> {
        Tree::new(search, path).expect("a complete order")
    }

    #[test]
    fn small_subtrees_improve_a_poor_order_locally() {
        // A ring of eight, contracted left to right: subtrees of three can
        // only reorder pairs of neighbours, yet each rewrite is a valid,
        // cheaper order with the same root.
        let sizes: Vec<(char, usize)> = "abcdefgh".chars().zip([2, 9, 3, 8, 2, 7, 3, 9]).collect();
        let text = "ab,bc,cd,de,ef,fg,gh,ha->";
        let (inputs, output, sizes) = problem(text, &sizes);
        let search = search_of(&inputs, &output, &sizes, None);
        let naive = super::super::naive::search(&search).unwrap();
        let (before, _) = search.score(&naive).unwrap();
        let mut last = before;
        for subtree in 3..=8 {
            let path = improve(&search, &tree_of(&search, &naive), subtree, 1000).path();
            let (after, _) = search.score(&path).expect("a complete order");
            assert!(after <= last, "subtree {subtree}: {after} > {last}");
            last = after;
        }
        assert!(last < before);
        // Eight operands in one subtree: the exact optimum.
        let optimal = super::super::optimal::search(&search).unwrap();
        assert_eq!(last, search.score(&optimal).unwrap().0);
    }

    #[test]
    fn subproblems_past_floats_still_improve() {
        // A ring of 8 whose neighbours share six axes of 2^62: every step
        // of every order spans more than 2^1024 index points, past f64, so
        // the subset DP runs on logarithms (plain floats made every score
        // infinite, and nothing improved).
        let (n, shared) = (8, 6);
        let inputs: Vec<Vec<usize>> = (0..n)
            .map(|k| {
                let prev = (k + n - 1) % n;
                (0..shared)
                    .flat_map(|i| [shared * prev + i, shared * k + i])
                    .collect()
            })
            .collect();
        let sizes = vec![1usize << 62; shared * n];
        let search = search_of(&inputs, &[], &sizes, None);
        // Opposite operands first: outer products, a poor start.
        let poor = vec![(0, 4), (1, 5), (2, 6), (3, 7), (8, 9), (10, 11), (12, 13)];
        let improved = solve_whole(&search, &tree_of(&search, &poor))
            .unwrap()
            .path();
        let optimal = super::super::optimal::search(&search).unwrap();
        let [poor, improved, optimal] =
            [&poor, &improved, &optimal].map(|p| exact_flops(&search, p));
        assert!(improved < poor, "{improved} >= {poor}");
        // The optimum, to the logarithms' resolution.
        assert!(improved.clone().times(1_000_000_000) <= optimal.times(1_000_000_001));
    }

    #[test]
    fn a_larger_subtree_is_never_costlier() {
        // Found among seeds: from greedy's order, re-solving subtrees of 7
        // alone ends at almost twice the cost of subtrees of 6 alone.
        let (inputs, sizes) = random_regular(24, 3, 39, |rng| 2 + (rng.next_u64() % 3) as usize);
        let search = search_of(&inputs, &[], &sizes, None);
        let text = |costs: &[Cost]| {
            costs
                .iter()
                .map(Cost::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let start = tree_of(&search, &greedy::search(&search, None).unwrap());
        let alone: Vec<Cost> = (3..=10)
            .map(|k| {
                search
                    .score(&improve(&search, &start, k, 8 * 24).path())
                    .unwrap()
                    .0
            })
            .collect();
        assert!(
            alone.windows(2).any(|w| w[1] > w[0]),
            "each size alone is monotone here: {}",
            text(&alone)
        );
        for trials in 1..=3 {
            let costs: Vec<Cost> = (3..=10)
                .map(|k| {
                    search
                        .score(&super::search(&search, trials, k, 0).unwrap().path())
                        .unwrap()
                        .0
                })
                .collect();
            assert!(
                costs.windows(2).all(|w| w[1] <= w[0]),
                "{trials} starts, subtrees of 3 to 10: {}",
                text(&costs)
            );
        }
    }

    #[test]
    fn a_tight_memory_limit_that_greedy_breaks_still_finds_an_order() {
        // Found by review: greedy (and left to right) cannot stay under 53
        // elements here, dp can (largest intermediate 32).
        let inputs = [
            vec![1, 4, 6],
            vec![6],
            vec![0, 2, 3],
            vec![0, 1, 3, 4, 7],
            vec![1, 2, 7],
            vec![0, 1, 2],
        ];
        let sizes = [2, 2, 2, 4, 2, 6, 4, 4];
        let search = search_of(&inputs, &[2], &sizes, Some(53));
        assert!(greedy::search(&search, None).is_none());
        let dp = search.score(&dp::search(&search).unwrap()).unwrap();
        for optimize in [
            Optimize::Auto,
            Optimize::Reconfigure {
                trials: 3,
                subtree: 8,
                seed: 0,
            },
        ] {
            let path = search
                .run(&optimize)
                .expect("an order within the limit")
                .path();
            let (score, largest) = search.score(&path).unwrap();
            assert!(largest <= Cost::new(53), "{optimize:?}");
            assert_eq!(score, dp.0, "{optimize:?}");
        }
    }

    /// `tree` is what replaying its own path gives: the same children,
    /// axes, costs, parents and score, node for node.
    fn assert_replays<const W: usize>(search: &Search<'_, W>, tree: &Tree<W>) {
        let replayed = tree_of(search, &tree.path());
        assert_eq!(tree.root, replayed.root);
        assert_eq!(tree.parent, replayed.parent);
        assert_eq!(tree.total, replayed.total);
        for (a, b) in tree.nodes.iter().zip(&replayed.nodes) {
            assert_eq!(
                (a.set, a.children, a.flops, a.size),
                (b.set, b.children, b.flops, b.size)
            );
        }
        assert_eq!(tree.nodes.len(), replayed.nodes.len());
    }

    #[test]
    fn rewritten_trees_are_what_their_paths_replay_to() {
        // Handed out without a replay, a rewritten tree must hold exactly
        // what a replay of its path would: the plan is built from it.
        for seed in 0..6 {
            let (inputs, sizes) =
                random_regular(18, 3, seed, |rng| 2 + (rng.next_u64() % 5) as usize);
            // Half of the operands' first axes in the output.
            let output: Vec<usize> = inputs.iter().step_by(2).map(|a| a[0]).collect();
            let search = search_of(&inputs, &output, &sizes, None);
            let start = tree_of(&search, &greedy::search(&search, None).unwrap());
            for k in [3, 6, 10] {
                assert_replays(&search, &improve(&search, &start, k, 8 * 18));
            }
            assert_replays(&search, &super::search(&search, 3, 8, seed).unwrap());
        }
        // The whole network in one subproblem, in logarithms.
        let (n, shared) = (8, 6);
        let inputs: Vec<Vec<usize>> = (0..n)
            .map(|k| {
                let prev = (k + n - 1) % n;
                (0..shared)
                    .flat_map(|i| [shared * prev + i, shared * k + i])
                    .collect()
            })
            .collect();
        let sizes = vec![1usize << 62; shared * n];
        let search = search_of(&inputs, &[], &sizes, None);
        let poor = vec![(0, 4), (1, 5), (2, 6), (3, 7), (8, 9), (10, 11), (12, 13)];
        assert_replays(
            &search,
            &solve_whole(&search, &tree_of(&search, &poor)).unwrap(),
        );
    }
}
