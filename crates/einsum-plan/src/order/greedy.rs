//! Greedy: contract the pair whose result removes the most memory; identical
//! operands (Hadamard and batch merges) first; outer products last, smallest
//! first.
//!
//! A candidate's cost never goes stale: while both tensors live, every axis
//! they share with a third tensor stays held by some live tensor, so the
//! result of contracting them does not change. The heap therefore needs no
//! re-scoring, only skipping of pairs whose tensors are gone.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Search, SsaPath};
use crate::axis_set::AxisSet;
use crate::cost::Cost;

/// Picks one of the best candidates: given their costs in increasing order,
/// returns an index. Plain greedy always takes 0.
pub(crate) type Chooser<'c> = &'c mut dyn FnMut(&[Removed]) -> usize;

/// Greedy's heuristic cost of a contraction: `|result| - |a| - |b|`, the
/// memory it adds (negative: removes); smaller is better.
///
/// Exact while the three sizes are below 2^125, so ties stay ties; beyond,
/// a signed logarithm, so sizes past `u128` still rank (a clamped
/// difference ranked them all equal, and greedy then chose blindly). Both
/// forms share one `i128` ordered as an integer, as `Cost` does: a value
/// below 2^126 in magnitude is itself (rounded when the sizes were not
/// exact), a larger one `2^126` plus the bits of its log2 (at least 126),
/// negated when the value is negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Removed(i128);

/// Sizes below this give an exact difference, below `LOG_BIT` in magnitude.
const EXACT_BELOW: u128 = 1 << 125;

/// Magnitudes from here on are logarithmic.
const LOG_BIT: i128 = 1 << 126;

impl Removed {
    /// `result - a - b`.
    #[inline]
    pub(crate) fn new(result: Cost, a: Cost, b: Cost) -> Removed {
        if let (Some(r), Some(x), Some(y)) = (result.exact(), a.exact(), b.exact())
            && (r | x | y) < EXACT_BELOW
        {
            return Removed(r as i128 - x as i128 - y as i128);
        }
        Removed::by_logs(result, a, b)
    }

    /// `result - a - b` when some size is at least 2^125: out of line, to
    /// keep the exact path small enough to inline into the heap's loop.
    #[cold]
    #[inline(never)]
    fn by_logs(result: Cost, a: Cost, b: Cost) -> Removed {
        // value = t * 2^m, t in [-2, 1], m the largest log2 (finite: some
        // size is at least 2^125).
        let (lr, la, lb) = (result.log2(), a.log2(), b.log2());
        let m = lr.max(la).max(lb);
        let t = (lr - m).exp2() - (la - m).exp2() - (lb - m).exp2();
        if t == 0.0 || t.is_nan() {
            return Removed(0);
        }
        let log2 = m + t.abs().log2();
        if log2 < 126.0 {
            // Rounded to an integer among the exact values: still in order.
            let magnitude = (log2.exp2() as i128).min(LOG_BIT - 1);
            return Removed(if t > 0.0 { magnitude } else { -magnitude });
        }
        let key = LOG_BIT | i128::from(log2.to_bits());
        Removed(if t > 0.0 { key } else { -key })
    }

    /// The sign (-1, 0 or 1) and the log2 of the magnitude.
    fn parts(self) -> (f64, f64) {
        let magnitude = self.0.unsigned_abs();
        let sign = self.0.signum() as f64;
        if magnitude >= LOG_BIT as u128 {
            (sign, f64::from_bits(magnitude as u64))
        } else {
            (sign, (magnitude as f64).log2())
        }
    }

    /// The value as a float (infinite beyond `f64`'s range).
    pub(crate) fn to_f64(self) -> f64 {
        let (sign, log2) = self.parts();
        if self.0.unsigned_abs() < LOG_BIT as u128 {
            self.0 as f64
        } else {
            sign * log2.exp2()
        }
    }

    /// `(self - best) / max(|best|, 1)`, by logarithms: for values beyond
    /// `f64`'s range.
    pub(crate) fn gap(self, best: Removed) -> f64 {
        let ((sc, lc), (sb, lb)) = (self.parts(), best.parts());
        let scale = lb.max(0.0);
        sc * (lc - scale).exp2() - sb * (lb - scale).exp2()
    }
}

/// How many of the best candidates a chooser sees.
pub(crate) const CHOICES: usize = 4;

/// How a greedy run breaks ties between candidates of equal cost.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ties {
    /// The pair whose older tensor is oldest.
    Older,
    /// The pair whose newer tensor is oldest (opt_einsum's rule).
    Newer,
}

/// Greedy's order, or left to right when that is cheaper (rare, but the
/// heuristic has no guarantee and the check costs one pass): `None` when
/// every order needs an intermediate above the memory limit.
///
/// Plain greedy (no chooser) runs twice, once per tie-breaking rule, and
/// keeps the cheaper order: networks with equal index sizes are full of
/// ties, and which rule wins varies by network by large factors (on the
/// 3-regular networks of `benches/networks.txt` at 50, 100 and 200 tensors
/// each rule alone was 1.7x, 0.13x and 3.9x, or 0.99x, 0.02x and 1137x, of
/// opt_einsum's greedy FLOPs).
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    chooser: Option<Chooser<'_>>,
) -> Option<SsaPath> {
    let own = match chooser {
        Some(choose) => run(search, Some(choose), Ties::Older),
        None => {
            let older = run(search, None, Ties::Older);
            let newer = run(search, None, Ties::Newer);
            match (older, newer) {
                (Some(o), Some(n)) => Some(if n.1 < o.1 { n } else { o }),
                (o, n) => o.or(n),
            }
        }
    };
    let naive = search.naive_below(own.as_ref().map(|(_, g)| *g));
    match (own, naive) {
        (Some((_, g)), Some((path, n))) if *n < g => Some(path.clone()),
        (None, Some((path, _))) => Some(path.clone()),
        (own, _) => own.map(|(path, _)| path),
    }
}

/// Greedy's own order and its score.
fn run<const W: usize>(
    search: &Search<'_, W>,
    mut chooser: Option<Chooser<'_>>,
    ties: Ties,
) -> Option<(SsaPath, Cost)> {
    let mut state = State::new(search, ties);

    // Operands with identical axes first: an elementwise product (with any
    // sum over axes no one else holds) never grows anything. Each operand
    // pairs with the first live one before it with the same axes, found by
    // hashing (comparing every pair was quadratic).
    let mut first: std::collections::HashMap<AxisSet<W>, usize> = std::collections::HashMap::new();
    for b in 0..search.inputs.len() {
        let set = state.set(b);
        match first.get(&set) {
            Some(&a) if state.alive > 1 => {
                first.remove(&set);
                state.contract(a, b)?;
            }
            Some(_) => {}
            None => {
                first.insert(set, b);
            }
        }
    }

    // Pairs that share an axis, by memory removed.
    let mut heap = BinaryHeap::new();
    for axis in 0..search.sizes.len() {
        let holders: Vec<usize> = state.holders[axis]
            .iter()
            .copied()
            .filter(|&t| state.live[t].is_some())
            .collect();
        for (i, &a) in holders.iter().enumerate() {
            for &b in &holders[i + 1..] {
                // Push each pair once: from the smallest axis they share.
                let shared = state.set(a).intersection(&state.set(b));
                if shared.iter().next() == Some(axis) {
                    heap.push(Reverse(state.candidate(a, b)));
                }
            }
        }
    }

    let mut picked = Vec::with_capacity(CHOICES);
    while state.alive > 1 {
        // The best few live candidates; the chooser takes one, the rest go back.
        picked.clear();
        while picked.len() < chooser.as_ref().map_or(1, |_| CHOICES) {
            let Some(Reverse(candidate)) = heap.pop() else {
                break;
            };
            let (_, a, b) = candidate;
            if state.live[a].is_some() && state.live[b].is_some() && state.fits(a, b) {
                picked.push(candidate);
            }
        }
        if picked.is_empty() {
            break;
        }
        let costs: Vec<Removed> = picked.iter().map(|c| c.0).collect();
        let choice = chooser
            .as_mut()
            .map_or(0, |choose| choose(&costs).min(picked.len() - 1));
        let (_, a, b) = picked[choice];
        for (k, &other) in picked.iter().enumerate() {
            if k != choice {
                heap.push(Reverse(other));
            }
        }
        let new = state.contract(a, b)?;
        let result = state.set(new);
        let mut seen = Vec::new();
        for axis in result.iter() {
            // Dead holders dropped as they are met, so an axis that many
            // contractions carry (an output axis) is not rescanned whole
            // at each step.
            let mut holders = std::mem::take(&mut state.holders[axis]);
            holders.retain(|&t| state.live[t].is_some());
            for &t in &holders {
                if t != new && !seen.contains(&t) {
                    seen.push(t);
                    heap.push(Reverse(state.candidate(t, new)));
                }
            }
            state.holders[axis] = holders;
        }
    }

    // What is left shares no axis: outer products, smallest first.
    while state.alive > 1 {
        let mut rest: Vec<usize> = (0..state.live.len())
            .filter(|&t| state.live[t].is_some())
            .collect();
        rest.sort_by_key(|&t| (state.sizes[t], t));
        state.contract(rest[0], rest[1])?;
    }
    Some((state.path, state.score))
}

/// The greedy's working state: live tensors, who holds each axis, the path.
struct State<'s, 'a, const W: usize> {
    search: &'s Search<'a, W>,
    live: Vec<Option<AxisSet<W>>>,
    /// Each tensor's element count, computed once.
    sizes: Vec<Cost>,
    /// Tensors holding each axis, in creation order (dead ones among
    /// them until the axis is next scanned).
    holders: Vec<Vec<usize>>,
    /// Live tensors holding each axis.
    counts: Vec<u32>,
    alive: usize,
    path: SsaPath,
    /// The objective's score of `path` so far.
    score: Cost,
    ties: Ties,
}

impl<'s, 'a, const W: usize> State<'s, 'a, W> {
    fn new(search: &'s Search<'a, W>, ties: Ties) -> Self {
        let mut holders = vec![Vec::new(); search.sizes.len()];
        let mut counts = vec![0u32; search.sizes.len()];
        for (t, set) in search.inputs.iter().enumerate() {
            for axis in set.iter() {
                holders[axis].push(t);
                counts[axis] += 1;
            }
        }
        State {
            search,
            live: search.inputs.iter().copied().map(Some).collect(),
            sizes: search.inputs.iter().map(|s| s.size(search.sizes)).collect(),
            holders,
            counts,
            alive: search.inputs.len(),
            path: Vec::new(),
            score: Cost::ZERO,
            ties,
        }
    }

    fn set(&self, t: usize) -> AxisSet<W> {
        self.live[t].unwrap_or_default()
    }

    /// The axes the pair's result keeps: the output's and those another live
    /// tensor holds.
    fn keep(&self, a: &AxisSet<W>, b: &AxisSet<W>) -> AxisSet<W> {
        let mut keep = self.search.output;
        for axis in a.union(b).iter() {
            let own = u32::from(a.contains(axis)) + u32::from(b.contains(axis));
            if self.counts[axis] > own {
                keep.insert(axis);
            }
        }
        keep
    }

    /// `(memory removed, a, b)` (`a`, `b` ordered by the tie rule): the heap
    /// key; smaller is better.
    fn candidate(&self, a: usize, b: usize) -> (Removed, usize, usize) {
        let (sa, sb) = (self.set(a), self.set(b));
        let result = sa.union(&sb).intersection(&self.keep(&sa, &sb));
        let removed = Removed::new(result.size(self.search.sizes), self.sizes[a], self.sizes[b]);
        match self.ties {
            Ties::Older => (removed, a.min(b), a.max(b)),
            Ties::Newer => (removed, a.max(b), a.min(b)),
        }
    }

    /// Whether contracting `a` and `b` stays within the memory limit (the
    /// last contraction makes the output, which is exempt).
    fn fits(&self, a: usize, b: usize) -> bool {
        if self.alive == 2 {
            return true;
        }
        let (sa, sb) = (self.set(a), self.set(b));
        self.keep(&sa, &sb)
            .intersection(&sa.union(&sb))
            .size(self.search.sizes)
            <= self.search.limit
    }

    /// Contracts `a` and `b`; `None` if that breaks the memory limit.
    fn contract(&mut self, a: usize, b: usize) -> Option<usize> {
        if !self.fits(a, b) {
            return None;
        }
        let (sa, sb) = (self.set(a), self.set(b));
        let pair = self.search.pair(&sa, &sb, &self.keep(&sa, &sb));
        let result = pair.result;
        let last = self.alive == 2;
        let written = if last { Cost::ZERO } else { pair.size };
        self.score = self.search.objective.add(self.score, pair.flops, written);
        let new = self.live.len();
        for axis in sa.iter() {
            self.counts[axis] -= 1;
        }
        for axis in sb.iter() {
            self.counts[axis] -= 1;
        }
        for axis in result.iter() {
            self.counts[axis] += 1;
            self.holders[axis].push(new);
        }
        self.live[a] = None;
        self.live[b] = None;
        self.live.push(Some(result));
        self.sizes.push(pair.size);
        self.alive -= 1;
        self.path.push((a, b));
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use crate::cost::Cost;
    use crate::order::Optimize;
    use crate::order::tests::{cost, score};

    #[test]
    fn greedy_takes_hadamard_first_and_outer_last() {
        let sizes = [('i', 10), ('j', 20), ('k', 30)];
        // ij,ij->ij then with jk: 200 + 2*6000.
        assert_eq!(
            cost("ij,jk,ij->ik", &sizes, &Optimize::Greedy),
            200 + 12_000
        );
        // Outer product of three vectors: smallest first.
        assert_eq!(cost("i,j,k->ijk", &sizes, &Optimize::Greedy), 200 + 6000);
    }

    #[test]
    fn saturated_sizes_do_not_overflow_the_score() {
        // Found by review: three sizes near 2^127 once overflowed i128.
        let big = 1usize << 63;
        let sizes = [('a', big + 1), ('b', big), ('c', big)];
        assert!(score("ab,bc->", &sizes, &Optimize::Greedy) > Cost::ZERO);
    }
}
