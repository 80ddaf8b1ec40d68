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
use super::{Search, SsaPath, dp, greedy, partition};
use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective, pair_flops};

/// Largest frontier re-solved: `3^k` subset splits each time.
pub(crate) const MAX_SUBTREE: usize = 10;

/// Frontiers of this many tensors or more, short of the whole network, skip
/// subsets that share no axis when the frontier as a whole is connected.
const SPARSE_FRONTIER: usize = 6;

/// Starting orders, each improved; the cheapest. The first start is plain
/// greedy, then two bisection orders for each random greedy run (see
/// [`Optimize::Reconfigure`](super::Optimize::Reconfigure)). `None` when
/// every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    trials: usize,
    subtree: usize,
    seed: u64,
) -> Option<SsaPath> {
    let mut best: Option<(Cost, SsaPath)> = None;
    let consider = |best: &mut Option<(Cost, SsaPath)>, path: SsaPath| {
        let attempts = ATTEMPTS_PER_OPERAND * search.inputs.len();
        let Some((score, path)) = improve_all_sizes(search, &path, subtree, attempts) else {
            return;
        };
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            *best = Some((score, path));
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
    best.map(|(_, path)| path)
}

/// The cheapest of `path` improved with subtrees of each size from
/// `subtree` down to 3, and its score.
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
    path: &SsaPath,
    subtree: usize,
    attempts: usize,
) -> Option<(Cost, SsaPath)> {
    let n = search.inputs.len();
    if n <= subtree.min(MAX_SUBTREE)
        && let Some(whole) = solve_whole(search, path)
        && whole.0.exact().is_some_and(|c| c < EXACT_IN_FLOATS)
    {
        // One subproblem holds every operand: its subset DP is the optimum
        // over all orders, which no smaller subtree can beat; when the
        // costs are below 2^52 the DP's floats were exact, so this holds
        // by construction (beyond, every size is tried as below).
        return Some(whole);
    }
    let mut best: Option<(Cost, SsaPath)> = None;
    // A frontier never holds more tensors than there are operands, so the
    // sizes beyond that search exactly as that size does.
    let largest = subtree.min(n).clamp(3, MAX_SUBTREE);
    for k in (3..=largest).rev() {
        let improved = improve(search, path, k, attempts);
        let Some((score, largest)) = search.score(&improved) else {
            continue;
        };
        if largest <= search.limit && best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, improved));
        }
    }
    best
}

/// Costs below this are integers an `f64` holds exactly, sums included.
const EXACT_IN_FLOATS: u128 = 1 << 52;

/// The best order of all, by the subset DP over every operand at once,
/// with its score; `None` when the DP cannot take the network (more than
/// 128 axes) or nothing fits the memory limit.
fn solve_whole<const W: usize>(search: &Search<'_, W>, path: &SsaPath) -> Option<(Cost, SsaPath)> {
    let n = search.inputs.len();
    let path = if n < 3 {
        // One contraction or none: nothing to choose.
        path.clone()
    } else {
        let axes = search
            .inputs
            .iter()
            .fold(search.output, |acc, set| acc.union(set));
        if axes.iter().count() > 128 {
            return None;
        }
        let mut tree = Tree::new(search, path)?;
        // The frontier grows to every operand; `None` when the order was
        // already the cheapest.
        let _ = tree.reconfigure(search, tree.root, n, &mut Scratch::default());
        tree.path()
    };
    let (score, largest) = search.score(&path)?;
    (largest <= search.limit).then_some((score, path))
}

/// Up to this many operands an order search whose starts all break the
/// memory limit falls back on dp (as `auto` runs dp up to 16).
const FALLBACK_DP_OPERANDS: usize = 16;

/// Subproblems solved per operand at most, per order improved: each
/// contraction once, and what rewrites re-queue (rarely more than twice
/// the contractions on the networks of `benches/networks.txt`).
const ATTEMPTS_PER_OPERAND: usize = 8;

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

/// A node of the contraction tree: an operand (no children) or a contraction.
#[derive(Clone, Copy)]
struct Node<const W: usize> {
    set: AxisSet<W>,
    children: Option<(usize, usize)>,
    /// This contraction's FLOPs and its result's element count (0 and the
    /// operand's size for operands).
    flops: Cost,
    size: Cost,
}

/// `path` improved by re-solving subtrees of up to `subtree` leaves, most
/// expensive first, until no subtree improves or `attempts` subproblems
/// have been solved. Never worse than `path`, and within the memory limit
/// if `path` is. Deterministic.
pub(crate) fn improve<const W: usize>(
    search: &Search<'_, W>,
    path: &SsaPath,
    subtree: usize,
    attempts: usize,
) -> SsaPath {
    let subtree = subtree.clamp(3, MAX_SUBTREE);
    let Some(mut tree) = Tree::new(search, path) else {
        return path.clone();
    };
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
    tree.path()
}

struct Tree<const W: usize> {
    nodes: Vec<Node<W>>,
    /// The score of the whole order, kept up to date.
    total: Cost,
    /// Each node's parent; `None` for the root.
    parent: Vec<Option<usize>>,
    operands: usize,
    root: usize,
}

/// Buffers reused across subproblems. Axis sets of the subproblem are
/// bitmasks over `axes`, its axes in increasing order.
#[derive(Default)]
struct Scratch {
    frontier: Vec<usize>,
    inside: Vec<usize>,
    axes: Vec<usize>,
    union: Vec<u128>,
    result: Vec<u128>,
    score: Vec<f64>,
    split: Vec<usize>,
    /// Each subset's result size, in the DP's domain.
    points: Vec<f64>,
    /// Each axis's size, in the DP's domain.
    value: Vec<f64>,
}

/// How the subset DP computes with its `f64`s: the values themselves, or
/// their base-2 logarithms for subproblems whose values could pass
/// `f64::MAX` (a subproblem over more than about 2^1000 index points),
/// where plain floats would make every score infinite and the subtree
/// could never improve. Both order as the values do; the DP is written
/// once over this trait and monomorphised, so the common case pays nothing.
trait Domain {
    /// The representation of `size`.
    fn of(size: f64) -> f64;
    /// Of 0 and 1.
    const ZERO: f64;
    const ONE: f64;
    fn mul(a: f64, b: f64) -> f64;
    fn div(a: f64, b: f64) -> f64;
    fn sum(a: f64, b: f64) -> f64;
    /// `k * a`, for a small constant `k` given as `log2(k)`.
    fn scale(a: f64, k: f64, log2_k: f64) -> f64;

    /// `Objective::join`.
    fn join(objective: Objective, a: f64, b: f64) -> f64 {
        match objective {
            Objective::Flops | Objective::Combined => Self::sum(a, b),
            Objective::Size => a.max(b),
        }
    }

    /// `Objective::add`.
    fn add(objective: Objective, score: f64, flops: f64, size: f64) -> f64 {
        match objective {
            Objective::Flops => Self::sum(score, flops),
            Objective::Size => score.max(size),
            Objective::Combined => Self::sum(Self::sum(score, flops), Self::scale(size, 64.0, 6.0)),
        }
    }
}

/// Values as they are: fast, for every subproblem that fits.
struct Plain;

impl Domain for Plain {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;

    fn of(size: f64) -> f64 {
        size
    }
    fn mul(a: f64, b: f64) -> f64 {
        a * b
    }
    fn div(a: f64, b: f64) -> f64 {
        a / b
    }
    fn sum(a: f64, b: f64) -> f64 {
        a + b
    }
    fn scale(a: f64, k: f64, _: f64) -> f64 {
        k * a
    }
}

/// Base-2 logarithms of the values.
struct Log2;

impl Domain for Log2 {
    const ZERO: f64 = f64::NEG_INFINITY;
    const ONE: f64 = 0.0;

    fn of(size: f64) -> f64 {
        size.log2()
    }
    fn mul(a: f64, b: f64) -> f64 {
        a + b
    }
    fn div(a: f64, b: f64) -> f64 {
        a - b
    }
    fn sum(a: f64, b: f64) -> f64 {
        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
        if lo == f64::NEG_INFINITY || hi == f64::INFINITY {
            return hi;
        }
        hi + (lo - hi).exp2().ln_1p() * std::f64::consts::LOG2_E
    }
    fn scale(a: f64, _: f64, log2_k: f64) -> f64 {
        a + log2_k
    }
}

/// A subproblem whose index points number below `2^PLAIN_BITS` scores in
/// plain floats: its largest score is below `2^(PLAIN_BITS + 12)` (a few
/// steps of twice the points plus 64 times a size), far from `f64::MAX`.
const PLAIN_BITS: f64 = 960.0;

/// Whether the frontier tensors in `mask` are connected through shared
/// axes, given each one's `neighbours`.
fn connected(mask: usize, neighbours: &[u32; MAX_SUBTREE]) -> bool {
    let mask = mask as u32;
    let mut reach = mask & mask.wrapping_neg();
    loop {
        let grown = bits(u128::from(reach)).fold(reach, |acc, i| acc | neighbours[i]) & mask;
        if grown == reach {
            return reach == mask;
        }
        reach = grown;
    }
}

/// The global axis set of a local mask over `axes`.
fn global<const W: usize>(mask: u128, axes: &[usize]) -> AxisSet<W> {
    AxisSet::from_indices(
        (0..axes.len())
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| axes[i]),
    )
}

/// The sizes of the subproblem's axes, for products over local masks.
struct LocalSizes {
    sizes: Vec<usize>,
}

impl LocalSizes {
    fn new(sizes: impl Iterator<Item = usize>) -> Self {
        LocalSizes {
            sizes: sizes.collect(),
        }
    }

    /// The product of the sizes in `mask`, as `AxisSet::size`.
    fn of(&self, mask: u128) -> Cost {
        Cost::product(bits(mask).map(|i| self.sizes[i]))
    }

    /// The log2 of the product of all the sizes.
    fn log2_all(&self) -> f64 {
        Cost::product(self.sizes.iter().copied()).log2()
    }
}

/// The indices of the set bits of `mask`, lowest first.
fn bits(mut mask: u128) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

impl<const W: usize> Tree<W> {
    /// The tree of a complete `path`; `None` if it is not one.
    fn new(search: &Search<'_, W>, path: &SsaPath) -> Option<Self> {
        let n = search.inputs.len();
        let mut nodes: Vec<Node<W>> = search
            .inputs
            .iter()
            .map(|&set| Node {
                set,
                children: None,
                flops: Cost::ZERO,
                size: set.size(search.sizes),
            })
            .collect();
        let left = search.replay(path, |_, a, b, pair| {
            nodes.push(Node {
                set: pair.result,
                children: Some((a, b)),
                flops: pair.flops,
                size: pair.size,
            });
        })?;
        if left != 1 {
            return None;
        }
        let mut parent = vec![None; nodes.len()];
        for (node, n) in nodes.iter().enumerate() {
            if let Some((a, b)) = n.children {
                parent[a] = Some(node);
                parent[b] = Some(node);
            }
        }
        let mut tree = Tree {
            root: nodes.len() - 1,
            total: Cost::ZERO,
            parent,
            nodes,
            operands: n,
        };
        tree.total = tree.score(search);
        Some(tree)
    }

    /// The score of the whole order.
    fn score(&self, search: &Search<'_, W>) -> Cost {
        self.internal().fold(Cost::ZERO, |acc, n| {
            let node = &self.nodes[n];
            let size = if n == self.root {
                Cost::ZERO
            } else {
                node.size
            };
            search.objective.add(acc, node.flops, size)
        })
    }

    fn internal(&self) -> impl Iterator<Item = usize> + '_ {
        self.operands..self.nodes.len()
    }

    /// The path in SSA form: children before parents, left before right.
    fn path(&self) -> SsaPath {
        let mut path = SsaPath::with_capacity(self.operands.saturating_sub(1));
        let mut id = vec![usize::MAX; self.nodes.len()];
        for (t, slot) in id.iter_mut().enumerate().take(self.operands) {
            *slot = t;
        }
        let mut next = self.operands;
        // Iterative post-order from the root.
        let mut stack = vec![(self.root, false)];
        while let Some((node, expanded)) = stack.pop() {
            let Some((a, b)) = self.nodes[node].children else {
                continue;
            };
            if expanded {
                path.push((id[a], id[b]));
                id[node] = next;
                next += 1;
            } else {
                stack.push((node, true));
                stack.push((b, false));
                stack.push((a, false));
            }
        }
        path
    }

    /// Re-solves the subtree under `root` cut at up to `k` leaves; on an
    /// improvement rewrites it in place and returns the rewritten nodes.
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
        if sizes.log2_all() < PLAIN_BITS {
            dp.solve::<Plain>(s);
        } else {
            dp.solve::<Log2>(s);
        }
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

/// The subset DP of one subproblem, given the frontier's result sets in
/// the scratch buffers.
struct Subsets<'a> {
    objective: Objective,
    limit: Cost,
    /// Whether the subproblem's root is the whole order's (its result is
    /// the output, not an intermediate).
    is_root: bool,
    /// Whether subsets that are not connected are skipped.
    sparse: bool,
    neighbours: &'a [u32; MAX_SUBTREE],
    sizes: &'a LocalSizes,
}

impl Subsets<'_> {
    /// Fills `s.score` and `s.split` for every subset of the frontier.
    fn solve<D: Domain>(&self, s: &mut Scratch) {
        let objective = self.objective;
        let full = s.result.len() - 1;
        s.value.clear();
        s.value
            .extend(self.sizes.sizes.iter().map(|&v| D::of(v as f64)));
        s.score.clear();
        s.score.extend((0..=full).map(|mask| {
            if mask.count_ones() == 1 {
                D::ZERO
            } else {
                f64::INFINITY
            }
        }));
        s.split.clear();
        s.split.resize(full + 1, 0);
        s.points.clear();
        s.points.extend(
            s.result
                .iter()
                .map(|&r| bits(r).fold(D::ONE, |acc, i| D::mul(acc, s.value[i]))),
        );
        for mask in 1..=full {
            if mask.count_ones() < 2 || (self.sparse && !connected(mask, self.neighbours)) {
                continue;
            }
            let last = mask == full;
            if !last && self.limit != Cost::MAX && self.sizes.of(s.result[mask]) > self.limit {
                continue;
            }
            let written = if last && self.is_root {
                D::ZERO
            } else {
                s.points[mask]
            };
            let result = s.result[mask];
            let low = mask & mask.wrapping_neg();
            let rest = mask ^ low;
            let mut best = f64::INFINITY;
            let mut split = 0;
            // Submasks `a` holding the lowest bit: each split once.
            let mut sub = rest;
            loop {
                let a = sub | low;
                let b = mask ^ a;
                if b != 0 {
                    let joined = D::join(objective, s.score[a], s.score[b]);
                    // A step costs at least its larger operand's size.
                    let floor = s.points[a].max(s.points[b]);
                    if D::add(objective, joined, floor, written) < best {
                        let both = s.result[a] | s.result[b];
                        // |A ∪ B| = |A| |B| / |A ∩ B|: the shared axes are
                        // few, so this beats a product over all of them.
                        let mut shared = s.result[a] & s.result[b];
                        let mut common = D::ONE;
                        while shared != 0 {
                            common = D::mul(common, s.value[shared.trailing_zeros() as usize]);
                            shared &= shared - 1;
                        }
                        let points = D::div(D::mul(s.points[a], s.points[b]), common);
                        let flops = if result != both {
                            D::scale(points, 2.0, 1.0)
                        } else {
                            points
                        };
                        let score = D::add(objective, joined, flops, written);
                        if score < best {
                            best = score;
                            split = a;
                        }
                    }
                }
                if sub == 0 {
                    break;
                }
                sub = (sub - 1) & rest;
            }
            s.score[mask] = best;
            s.split[mask] = split;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Optimize;
    use crate::order::tests::{exact_flops, problem, random_regular, search_of};

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
            let path = improve(&search, &naive, subtree, 1000);
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
        let (_, improved) = solve_whole(&search, &poor).unwrap();
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
        let start = greedy::search(&search, None).unwrap();
        let alone: Vec<Cost> = (3..=10)
            .map(|k| {
                search
                    .score(&improve(&search, &start, k, 8 * 24))
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
                        .score(&super::search(&search, trials, k, 0).unwrap())
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
            let path = search.run(&optimize).expect("an order within the limit");
            let (score, largest) = search.score(&path).unwrap();
            assert!(largest <= Cost::new(53), "{optimize:?}");
            assert_eq!(score, dp.0, "{optimize:?}");
        }
    }

    #[test]
    fn local_sizes_multiply_without_saturating() {
        let sizes = LocalSizes::new((1..=20).map(|i| i % 3 + 2));
        let mask: u128 = (1 << 0) | (1 << 9) | (1 << 19);
        assert_eq!(sizes.of(mask), Cost::new(3 * 3 * 4));
        assert_eq!(sizes.of(0), Cost::new(1));
        let huge = LocalSizes::new(std::iter::repeat_n(usize::MAX, 40));
        assert!(huge.of((1 << 40) - 1) > huge.of((1 << 39) - 1));
        assert!((huge.log2_all() - 40.0 * 64.0).abs() < 1e-6);
    }
}
