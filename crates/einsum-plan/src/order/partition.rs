//! Divisive orders: split the network in two parts sharing as few index
//! bits as possible, split each part again, and contract bottom-up (as
//! cotengra's partition-based trees, with a partitioner of our own).
//!
//! A part's result holds the axes it shares with the rest of the network,
//! so a cut that crosses few (small) axes makes a small intermediate. Greedy
//! builds its order from the bottom and cannot see this global structure;
//! on large regular networks a bisection tree is orders of magnitude
//! cheaper. Each bisection is a Fiduccia–Mattheyses local search on the
//! hypergraph whose vertices are the tensors and whose edges are the axes,
//! weighted by `log2(size)`, from a region grown breadth-first from a random
//! tensor, within a random balance tolerance. Parts of at most [`CUTOFF`]
//! tensors are ordered by greedy. The caller re-solves subtrees afterwards
//! (`reconfigure`), which also mends what the cutoff leaves rough.

use std::collections::BinaryHeap;
use std::time::Instant;

use super::multilevel::{self, Hypergraph};
use super::random_greedy::SplitMix64;
use super::{Search, SsaPath, greedy};
use crate::axis_set::AxisSet;

/// Parts of at most this many tensors are not split further.
const CUTOFF: usize = 8;

/// FM passes per bisection at most; each pass that gains nothing ends it.
const PASSES: usize = 8;

/// One divisive order, with the balance tolerance and starting tensors
/// drawn from `rng`; `None` when a part's order or result breaks the memory
/// limit (the caller has other orders to fall back on).
pub(crate) fn order<const W: usize>(
    search: &Search<'_, W>,
    rng: &mut SplitMix64,
) -> Option<SsaPath> {
    let divide = Divide {
        imbalance: 0.02 + 0.48 * rng.next_f64(),
        decay: 0.0,
        cutoff: CUTOFF,
        multilevel: false,
        parts: 2,
    };
    order_with(search, &divide, rng)
}

/// How a divisive order splits the network.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Divide {
    /// Balance tolerance of the first bisection: each part at most
    /// `(1 + imbalance) / 2` of the group (multilevel) or at least
    /// `(1 - imbalance) / 2` of it (flat).
    pub imbalance: f64,
    /// A part holding the share `s` of the operands is split with the
    /// tolerance `imbalance * s^decay`, at most 1: positive decays split
    /// small parts more evenly, negative ones more freely (as cotengra's
    /// `imbalance_decay`). The flat bisection's is `imbalance`, unchanged
    /// with depth.
    pub decay: f64,
    /// Parts of at most this many tensors are ordered by greedy.
    pub cutoff: usize,
    /// Bisect with the multilevel partitioner (`multilevel.rs`) rather
    /// than one flat FM search from a grown region.
    pub multilevel: bool,
    /// With `multilevel`, each part is split into this many (rounded down
    /// to a power of two, by repeated bisection) whose results greedy
    /// joins, as cotengra's `parts`; 2 is plain recursive bisection.
    pub parts: usize,
}

/// One divisive order as `divide` says, its random choices drawn from
/// `rng`; `None` as for [`order`].
pub(crate) fn order_with<const W: usize>(
    search: &Search<'_, W>,
    divide: &Divide,
    rng: &mut SplitMix64,
) -> Option<SsaPath> {
    order_until(search, divide, rng, None)
}

/// [`order_with`], given up (`None`) once `deadline` has passed.
pub(crate) fn order_until<const W: usize>(
    search: &Search<'_, W>,
    divide: &Divide,
    rng: &mut SplitMix64,
    deadline: Option<Instant>,
) -> Option<SsaPath> {
    let n = search.inputs.len();
    let mut builder = Builder {
        search,
        path: SsaPath::with_capacity(n.saturating_sub(1)),
        sets: search.inputs.clone(),
        divide: *divide,
        deadline,
        holders: Vec::new(),
        taken: Vec::new(),
    };
    let group: Vec<usize> = (0..n).collect();
    builder.build(&group, rng)?;
    Some(builder.path)
}

/// The output as a holder of its axes, in `Builder::holders`.
const OUT: u32 = u32::MAX;

struct Builder<'s, 'a, const W: usize> {
    search: &'s Search<'a, W>,
    path: SsaPath,
    /// Axes of every tensor id so far (operands, then each result).
    sets: Vec<AxisSet<W>>,
    divide: Divide,
    /// When to give up (checked before each part is split).
    deadline: Option<Instant>,
    /// The operands holding each axis, the output counting as one more
    /// (`u32::MAX`); built on first use.
    holders: Vec<Vec<u32>>,
    /// Per axis: scratch of `outside`, zero between calls.
    taken: Vec<u32>,
}

impl<const W: usize> Builder<'_, '_, W> {
    /// Orders the operands in `group` (operand ids), appending to the path;
    /// returns the id of the group's result.
    fn build(&mut self, group: &[usize], rng: &mut SplitMix64) -> Option<usize> {
        if group.len() == 1 {
            return Some(group[0]);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let id = if group.len() <= self.divide.cutoff.max(2) {
            self.greedy(group, group)?
        } else {
            let share = group.len() as f64 / self.search.inputs.len() as f64;
            let imbalance = (self.divide.imbalance * share.powf(self.divide.decay)).min(1.0);
            if self.divide.multilevel {
                let mut parts = Vec::new();
                split(
                    self.search,
                    group,
                    self.divide.parts.max(2),
                    imbalance,
                    rng,
                    &mut parts,
                );
                let mut ids = Vec::with_capacity(parts.len());
                for part in &parts {
                    ids.push(self.build(part, rng)?);
                }
                if let [a, b] = ids[..] {
                    self.contract(a, b, group)
                } else {
                    // The parts' results, joined by greedy.
                    self.greedy(&ids, group)?
                }
            } else {
                let (left, right) = bisect(self.search, group, imbalance, rng);
                let a = self.build(&left, rng)?;
                let b = self.build(&right, rng)?;
                self.contract(a, b, group)
            }
        };
        // A part's result is an intermediate unless the part is everything.
        let whole = group.len() == self.search.inputs.len();
        (whole || self.sets[id].size(self.search.sizes) <= self.search.limit).then_some(id)
    }

    /// Contracts tensors `a` and `b`, which together hold the operands of
    /// `group`: the result keeps the output's axes and those any operand
    /// outside `group` holds.
    fn contract(&mut self, a: usize, b: usize, group: &[usize]) -> usize {
        let keep = self.outside(group);
        let result = self.sets[a].union(&self.sets[b]).intersection(&keep);
        self.sets.push(result);
        self.path.push((a, b));
        self.sets.len() - 1
    }

    /// The axes of `group`'s operands that the output or an operand not
    /// in `group` holds (what the group's result keeps). Linear in the
    /// group, not in the network: each axis's holders are counted once per
    /// order, and the group's own count against them.
    fn outside(&mut self, group: &[usize]) -> AxisSet<W> {
        self.count_holders();
        let inputs = &self.search.inputs;
        let mut union = AxisSet::<W>::default();
        for &t in group {
            for axis in inputs[t].iter() {
                self.taken[axis] += 1;
            }
            union = union.union(&inputs[t]);
        }
        let mut keep = AxisSet::<W>::default();
        for axis in union.iter() {
            if (self.taken[axis] as usize) < self.holders[axis].len() {
                keep.insert(axis);
            }
            self.taken[axis] = 0;
        }
        keep
    }

    /// Fills `holders` (and sizes the scratch) on first use.
    fn count_holders(&mut self) {
        if !self.holders.is_empty() || self.search.sizes.is_empty() {
            return;
        }
        let search = self.search;
        self.holders = vec![Vec::new(); search.sizes.len()];
        for (t, set) in search.inputs.iter().enumerate() {
            for axis in set.iter() {
                self.holders[axis].push(t as u32);
            }
        }
        for axis in search.output.iter() {
            self.holders[axis].push(OUT);
        }
        self.taken = vec![0; search.sizes.len()];
    }

    /// Greedy's order of the tensors `tensors` (ids), which together hold
    /// the operands of `group`, as a subproblem whose output is what the
    /// group shares with the rest.
    fn greedy(&mut self, tensors: &[usize], group: &[usize]) -> Option<usize> {
        let sub = Search::new(
            tensors.iter().map(|&t| self.sets[t]).collect(),
            self.outside(group),
            self.search.sizes,
            self.search.limit,
            self.search.objective,
        );
        let local = greedy::search(&sub, None)?;
        // Local ids: `0..m` are the tensors, then each result.
        let mut ids: Vec<usize> = tensors.to_vec();
        let mut live = vec![true; tensors.len()];
        for (a, b) in local {
            live[a] = false;
            live[b] = false;
            let others = ids
                .iter()
                .zip(&live)
                .filter(|(_, live)| **live)
                .fold(sub.output, |acc, (&g, _)| acc.union(&self.sets[g]));
            let result = self.sets[ids[a]]
                .union(&self.sets[ids[b]])
                .intersection(&others);
            self.sets.push(result);
            self.path.push((ids[a], ids[b]));
            ids.push(self.sets.len() - 1);
            live.push(true);
        }
        ids.last().copied()
    }
}

/// Splits `group` into `parts` parts (fewer when a part has one tensor
/// left) by repeated multilevel bisection, appended to `out`.
fn split<const W: usize>(
    search: &Search<'_, W>,
    group: &[usize],
    parts: usize,
    imbalance: f64,
    rng: &mut SplitMix64,
    out: &mut Vec<Vec<usize>>,
) {
    if parts < 2 || group.len() < 2 {
        out.push(group.to_vec());
        return;
    }
    let (left, right) = bisect_multilevel(search, group, imbalance, rng);
    split(search, &left, parts / 2, imbalance, rng, out);
    split(search, &right, parts / 2, imbalance, rng, out);
}

/// Splits `group` in two by the multilevel partitioner, each part at most
/// `(1 + imbalance) / 2` of it, minimising the `log2` sizes of the axes
/// crossing between the parts (an axis held by several tensors of the
/// group is one hyperedge).
fn bisect_multilevel<const W: usize>(
    search: &Search<'_, W>,
    group: &[usize],
    imbalance: f64,
    rng: &mut SplitMix64,
) -> (Vec<usize>, Vec<usize>) {
    // Each axis of the group, in order of first appearance, with its
    // holders (only the group's axes are touched: linear in the group).
    const NONE: u32 = u32::MAX;
    let mut slot = vec![NONE; search.sizes.len()];
    let mut axes: Vec<usize> = Vec::new();
    let mut holders: Vec<Vec<u32>> = Vec::new();
    for (v, &t) in group.iter().enumerate() {
        for axis in search.inputs[t].iter() {
            if slot[axis] == NONE {
                slot[axis] = holders.len() as u32;
                holders.push(Vec::new());
                axes.push(axis);
            }
            holders[slot[axis] as usize].push(v as u32);
        }
    }
    // Edges in axis order, as the hypergraph was always built.
    let mut order: Vec<usize> = (0..axes.len()).collect();
    order.sort_unstable_by_key(|&i| axes[i]);
    let mut h = Hypergraph {
        weight: vec![1; group.len()],
        ..Hypergraph::default()
    };
    for i in order {
        let pins = std::mem::take(&mut holders[i]);
        if pins.len() >= 2 {
            h.edge_weight
                .push((search.sizes[axes[i]].max(1) as f64).log2().max(1e-3));
            h.pins.push(pins);
        }
    }
    let side = multilevel::bisect(&h, imbalance, rng);
    let mut parts = (Vec::new(), Vec::new());
    for (v, &t) in group.iter().enumerate() {
        if side[v] == 0 {
            parts.0.push(t);
        } else {
            parts.1.push(t);
        }
    }
    if parts.0.is_empty() || parts.1.is_empty() {
        // Only a group of one has a side empty, and groups of one are not
        // split; kept safe all the same.
        let all = [parts.0, parts.1].concat();
        let half = all.len() / 2;
        return (all[..half].to_vec(), all[half..].to_vec());
    }
    parts
}

/// A tensor that may move in the flat FM search: by gain, then the lowest
/// index first.
#[derive(Clone, Copy, PartialEq)]
struct Candidate(f64, usize);

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Gains are never NaN; 0.0 and -0.0 tie, as `>` has them.
        self.0
            .partial_cmp(&other.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(other.1.cmp(&self.1))
    }
}

/// Splits `group` in two, each at least `(1 - imbalance) / 2` of it,
/// minimising the `log2` sizes of the axes crossing between the parts.
fn bisect<const W: usize>(
    search: &Search<'_, W>,
    group: &[usize],
    imbalance: f64,
    rng: &mut SplitMix64,
) -> (Vec<usize>, Vec<usize>) {
    let n = group.len();
    // Edges: axes held by at least two tensors of the group, in axis
    // order; found from the group's own axes (linear in the group).
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut found: Vec<(usize, Vec<usize>)> = Vec::new();
    for (v, &t) in group.iter().enumerate() {
        for axis in search.inputs[t].iter() {
            let i = *slot.entry(axis).or_insert_with(|| {
                found.push((axis, Vec::new()));
                found.len() - 1
            });
            found[i].1.push(v);
        }
    }
    found.sort_unstable_by_key(|(axis, _)| *axis);
    let mut pins_of: Vec<Vec<usize>> = Vec::new();
    let mut weight: Vec<f64> = Vec::new();
    let mut edges_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (axis, pins) in found {
        if pins.len() < 2 {
            continue;
        }
        let e = pins_of.len();
        for &v in &pins {
            edges_of[v].push(e);
        }
        pins_of.push(pins);
        weight.push((search.sizes[axis].max(1) as f64).log2().max(1e-3));
    }

    let min_side = (((1.0 - imbalance) * n as f64 / 2.0).floor() as usize).max(1);
    let max_side = n - min_side;

    // Start: a region grown breadth-first from a random tensor to half.
    let mut side = vec![1u8; n];
    let mut queue = std::collections::VecDeque::new();
    let start = (rng.next_u64() % n as u64) as usize;
    let mut taken = 0;
    let target = n / 2;
    let mut seen = vec![false; n];
    let mut next_unseen = 0;
    queue.push_back(start);
    seen[start] = true;
    while taken < target {
        let v = match queue.pop_front() {
            Some(v) => v,
            None => {
                // Disconnected: continue from any tensor not yet reached.
                while seen[next_unseen] {
                    next_unseen += 1;
                }
                seen[next_unseen] = true;
                next_unseen
            }
        };
        side[v] = 0;
        taken += 1;
        for &e in &edges_of[v] {
            for &u in &pins_of[e] {
                if !seen[u] {
                    seen[u] = true;
                    queue.push_back(u);
                }
            }
        }
    }

    // Fiduccia–Mattheyses passes.
    let mut count = vec![[0u32; 2]; pins_of.len()];
    for (e, pins) in pins_of.iter().enumerate() {
        for &v in pins {
            count[e][side[v] as usize] += 1;
        }
    }
    let mut size0 = side.iter().filter(|&&s| s == 0).count();
    let gain = |v: usize, side: &[u8], count: &[[u32; 2]]| -> f64 {
        let s = side[v] as usize;
        edges_of[v]
            .iter()
            .map(|&e| {
                let (same, other) = (count[e][s], count[e][1 - s]);
                if same == 1 && other > 0 {
                    weight[e]
                } else if other == 0 {
                    -weight[e]
                } else {
                    0.0
                }
            })
            .sum()
    };
    // Each tensor's gain, kept up to date: a move changes only the gains of
    // tensors sharing an edge with the one moved.
    let mut gains: Vec<f64> = (0..n).map(|v| gain(v, &side, &count)).collect();
    let flip = |v: usize,
                side: &mut [u8],
                count: &mut [[u32; 2]],
                gains: &mut [f64],
                heap: &mut [BinaryHeap<Candidate>; 2]| {
        let s = side[v] as usize;
        for &e in &edges_of[v] {
            count[e][s] -= 1;
            count[e][1 - s] += 1;
        }
        side[v] = 1 - side[v];
        let mut update = |u: usize, side: &[u8], count: &[[u32; 2]]| {
            let g = gain(u, side, count);
            if g != gains[u] {
                gains[u] = g;
                heap[side[u] as usize].push(Candidate(g, u));
            }
        };
        for &e in &edges_of[v] {
            for &u in &pins_of[e] {
                update(u, side, count);
            }
        }
        update(v, side, count);
    };
    // Each move takes the unlocked tensor of highest gain (the lowest
    // index on a tie) whose side may shrink: a heap per side, whose stale
    // entries (locked, moved, or gain since changed) are dropped as they
    // surface, so a pass is `O(n log n)` rather than `O(n^2)`.
    let mut locked = vec![false; n];
    let mut moves = Vec::with_capacity(n);
    let mut heap: [BinaryHeap<Candidate>; 2] = [BinaryHeap::new(), BinaryHeap::new()];
    for _ in 0..PASSES {
        locked.fill(false);
        moves.clear();
        heap[0].clear();
        heap[1].clear();
        for v in 0..n {
            heap[side[v] as usize].push(Candidate(gains[v], v));
        }
        let mut total = 0.0;
        let mut best = 0.0;
        let mut best_len = 0;
        for _ in 0..n {
            let mut pick: Option<(f64, usize)> = None;
            for (from, heap) in heap.iter_mut().enumerate() {
                let new0 = if from == 0 {
                    size0.wrapping_sub(1)
                } else {
                    size0 + 1
                };
                if (from == 0 && size0 == 0) || new0 < min_side || new0 > max_side {
                    continue;
                }
                while let Some(&Candidate(g, v)) = heap.peek() {
                    if locked[v] || side[v] as usize != from || g != gains[v] {
                        heap.pop();
                        continue;
                    }
                    if pick.is_none_or(|(best, bv)| g > best || g == best && v < bv) {
                        pick = Some((g, v));
                    }
                    break;
                }
            }
            let Some((g, v)) = pick else { break };
            heap[side[v] as usize].pop();
            size0 = if side[v] == 0 { size0 - 1 } else { size0 + 1 };
            flip(v, &mut side, &mut count, &mut gains, &mut heap);
            locked[v] = true;
            moves.push(v);
            total += g;
            if total > best + 1e-9 {
                best = total;
                best_len = moves.len();
            }
        }
        // Undo the moves after the best prefix.
        for &v in moves[best_len..].iter().rev() {
            size0 = if side[v] == 0 { size0 - 1 } else { size0 + 1 };
            flip(v, &mut side, &mut count, &mut gains, &mut heap);
        }
        if best_len == 0 {
            break;
        }
    }
    let left = (0..n).filter(|&v| side[v] == 0).map(|v| group[v]).collect();
    let right = (0..n).filter(|&v| side[v] == 1).map(|v| group[v]).collect();
    (left, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Cost;
    use crate::order::tests::search_of;
    use crate::order::{ContractionTree, Optimize};

    /// An `l x l` square lattice with bonds of size `bond`, operands in a
    /// scrambled order, closed (scalar output).
    fn lattice(l: usize, bond: usize) -> (Vec<Vec<usize>>, Vec<usize>) {
        let mut inputs = vec![Vec::new(); l * l];
        let mut sizes = Vec::new();
        for r in 0..l {
            for c in 0..l {
                let here = r * l + c;
                for there in [(r + 1 < l).then(|| here + l), (c + 1 < l).then(|| here + 1)]
                    .into_iter()
                    .flatten()
                {
                    inputs[here].push(sizes.len());
                    inputs[there].push(sizes.len());
                    sizes.push(bond);
                }
            }
        }
        // A fixed scramble: stride 7 through the sites.
        let order: Vec<usize> = (0..l * l).map(|k| k * 7 % (l * l)).collect();
        (order.iter().map(|&k| inputs[k].clone()).collect(), sizes)
    }

    #[test]
    fn bisection_orders_are_complete_and_beat_greedy_on_a_lattice() {
        let (inputs, sizes) = lattice(6, 4);
        let search = search_of(&inputs, &[], &sizes, None);
        let greedy = search
            .score(&greedy::search(&search, None).unwrap())
            .unwrap()
            .0;
        let mut rng = SplitMix64(1);
        let mut best = Cost::MAX;
        for _ in 0..4 {
            let path = order(&search, &mut rng).expect("no memory limit");
            assert_eq!(path.len(), inputs.len() - 1);
            best = best.min(search.score(&path).expect("a complete order").0);
        }
        // On a 6x6 lattice of bond 4 the cuts of a bisection are 6 bonds
        // wide where greedy's fronts grow ragged.
        assert!(best < greedy, "bisection {best} vs greedy {greedy}");
        let reconfigured = search.run(&Optimize::Auto).unwrap().path();
        assert!(search.score(&reconfigured).unwrap().0 <= best.min(greedy));
    }

    #[test]
    fn bisection_respects_the_balance() {
        let (inputs, sizes) = lattice(5, 2);
        let search = search_of(&inputs, &[], &sizes, None);
        let group: Vec<usize> = (0..inputs.len()).collect();
        let mut rng = SplitMix64(9);
        for imbalance in [0.02, 0.2, 0.5] {
            let (left, right) = bisect(&search, &group, imbalance, &mut rng);
            let min = ((1.0 - imbalance) * 25.0 / 2.0).floor() as usize;
            assert!(
                left.len() >= min && right.len() >= min,
                "{imbalance}: {left:?} {right:?}"
            );
            let mut all: Vec<usize> = left.iter().chain(&right).copied().collect();
            all.sort();
            assert_eq!(all, group);
        }
    }
}
