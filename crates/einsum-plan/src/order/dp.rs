//! Dynamic programming over connected subsets, after Pfeifer, Haegeman and
//! Verstraete (2014) and opt_einsum's `dp`.
//!
//! The best order for every subset of `n` operands is found by combining the
//! best orders for disjoint subsets of sizes `m` and `n - m`, for `n` from 2
//! up. Only subsets whose score stays under a cap are kept; the cap starts at
//! the size of the output and grows by the smallest axis size until the whole
//! set fits.
//!
//! Up to [`EXACT_OPERANDS`] operands every pair of subsets is combined,
//! outer products included, so the result is the true optimum (an outer
//! product of two small operands before meeting a large one can be the
//! cheapest step: `a,b,abc->c` with `a = b = 2`). Beyond that, as opt_einsum's
//! default does, only subsets connected through a summed axis are combined,
//! operands split into components that share no summed axis, and the
//! components are joined smallest first: exact among orders without
//! intermediate outer products, and tractable for far larger networks.

use std::collections::HashMap;

use super::{Search, SsaPath, greedy};
use crate::axis_set::AxisSet;
use crate::cost::Cost;

/// Most operands a subset bitmask holds.
const MAX_OPERANDS: usize = 128;

/// Up to this many operands, outer products are searched too (exact).
pub(crate) const EXACT_OPERANDS: usize = 12;

/// `None` when every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(search: &Search<'_, W>) -> Option<SsaPath> {
    let n = search.inputs.len();
    if n > MAX_OPERANDS {
        return greedy::search(search, None);
    }
    // Which operands hold each axis.
    let mut holders = vec![0u128; search.sizes.len()];
    for (t, set) in search.inputs.iter().enumerate() {
        for axis in set.iter() {
            holders[axis] |= 1 << t;
        }
    }
    let outer = n <= EXACT_OPERANDS;
    let components = if outer {
        vec![(1u128 << n) - 1]
    } else {
        components(search, &holders)
    };
    let only = components.len() == 1;
    // Each component's best order, then the components joined smallest
    // first.
    let mut path = SsaPath::new();
    let mut next = n;
    let mut roots: Vec<(usize, AxisSet<W>)> = Vec::with_capacity(components.len());
    for &g in &components {
        roots.push(solve(
            search, &holders, g, only, outer, &mut path, &mut next,
        )?);
    }
    while roots.len() > 1 {
        roots.sort_by_key(|&(id, set)| (set.size(search.sizes), id));
        let (a, sa) = roots.remove(0);
        let (b, sb) = roots.remove(0);
        let keep = roots.iter().fold(search.output, |acc, (_, s)| acc.union(s));
        let pair = search.pair(&sa, &sb, &keep);
        if !roots.is_empty() && pair.size > search.limit {
            return None;
        }
        path.push((a, b));
        roots.push((next, pair.result));
        next += 1;
    }
    Some(path)
}

/// Components of operands connected through summed (non-output) axes, as
/// bitmasks, in order of their smallest operand.
fn components<const W: usize>(search: &Search<'_, W>, holders: &[u128]) -> Vec<u128> {
    let n = search.inputs.len();
    let mut seen = 0u128;
    let mut out = Vec::new();
    for start in 0..n {
        if seen >> start & 1 == 1 {
            continue;
        }
        let mut group = 1u128 << start;
        let mut frontier = group;
        while frontier != 0 {
            let t = frontier.trailing_zeros() as usize;
            frontier &= frontier - 1;
            for axis in search.inputs[t].difference(&search.output).iter() {
                let new = holders[axis] & !group;
                group |= new;
                frontier |= new;
            }
        }
        seen |= group;
        out.push(group);
    }
    out
}

struct Entry<const W: usize> {
    set: AxisSet<W>,
    score: Cost,
    split: Option<(u128, u128)>,
}

/// The best order for component `g`, appended to `path` (whose next id is
/// `next`): the id of its result and its axes.
fn solve<const W: usize>(
    search: &Search<'_, W>,
    holders: &[u128],
    g: u128,
    only: bool,
    outer: bool,
    path: &mut SsaPath,
    next: &mut usize,
) -> Option<(usize, AxisSet<W>)> {
    let members: Vec<usize> = (0..128).filter(|&t| g >> t & 1 == 1).collect();
    if members.len() == 1 {
        return Some((members[0], search.inputs[members[0]]));
    }
    let component_axes = members.iter().fold(AxisSet::<W>::default(), |acc, &t| {
        acc.union(&search.inputs[t])
    });
    let mut cap = component_axes
        .intersection(&search.output)
        .size(search.sizes)
        .max(Cost::small(1));
    let increment = component_axes
        .iter()
        .map(|a| search.sizes[a])
        .filter(|&s| s >= 2)
        .min()
        .map_or(Cost::small(2), |s| Cost::new(s as u128));

    loop {
        // levels[m]: subsets of m operands → their best entry.
        let mut levels: Vec<(Vec<u128>, HashMap<u128, Entry<W>>)> =
            Vec::with_capacity(members.len() + 1);
        levels.push((Vec::new(), HashMap::new()));
        levels.push((
            members.iter().map(|&t| 1u128 << t).collect(),
            members
                .iter()
                .map(|&t| {
                    (
                        1u128 << t,
                        Entry {
                            set: search.inputs[t],
                            score: Cost::ZERO,
                            split: None,
                        },
                    )
                })
                .collect(),
        ));
        let mut capped = false;
        for size in 2..=members.len() {
            let mut order: Vec<u128> = Vec::new();
            let mut best: HashMap<u128, Entry<W>> = HashMap::new();
            for m in 1..=size / 2 {
                let (left_keys, left) = &levels[m];
                let (right_keys, right) = &levels[size - m];
                for &s1 in left_keys {
                    let e1 = &left[&s1];
                    for &s2 in right_keys {
                        if s1 & s2 != 0 || (m == size - m && s1 >= s2) {
                            continue;
                        }
                        let e2 = &right[&s2];
                        // Unless searching outer products, only subsets
                        // connected through a summed axis are combined.
                        if !outer
                            && e1
                                .set
                                .intersection(&e2.set)
                                .difference(&search.output)
                                .is_empty()
                        {
                            continue;
                        }
                        let s = s1 | s2;
                        let union = e1.set.union(&e2.set);
                        let mut keep = search.output;
                        for axis in union.iter() {
                            if holders[axis] & g & !s != 0 {
                                keep.insert(axis);
                            }
                        }
                        let pair = search.pair(&e1.set, &e2.set, &keep);
                        let last = only && s == g;
                        if !last && pair.size > search.limit {
                            continue;
                        }
                        let score = search.objective.add(
                            search.objective.join(e1.score, e2.score),
                            pair.flops,
                            if last { Cost::ZERO } else { pair.size },
                        );
                        if score > cap {
                            capped = true;
                            continue;
                        }
                        match best.get_mut(&s) {
                            Some(entry) if entry.score <= score => {}
                            Some(entry) => {
                                *entry = Entry {
                                    set: pair.result,
                                    score,
                                    split: Some((s1, s2)),
                                };
                            }
                            None => {
                                order.push(s);
                                best.insert(
                                    s,
                                    Entry {
                                        set: pair.result,
                                        score,
                                        split: Some((s1, s2)),
                                    },
                                );
                            }
                        }
                    }
                }
            }
            levels.push((order, best));
        }
        if let Some(entry) = levels[members.len()].1.get(&g) {
            let set = entry.set;
            return Some((emit(&levels, g, path, next), set));
        }
        if !capped || cap == Cost::MAX {
            return None;
        }
        // Once the cap leaves the exact range, one last pass without it:
        // growing a logarithmic cap step by step could take thousands of
        // passes, and costs that large are ranked, not counted, anyway.
        cap = match cap.times(increment) {
            grown if grown.exact().is_some() => grown,
            _ => Cost::MAX,
        };
    }
}

/// Appends the best order of subset `s` to `path`, its splits' orders
/// first (left before right); returns the id of its result.
fn emit<const W: usize>(
    levels: &[(Vec<u128>, HashMap<u128, Entry<W>>)],
    s: u128,
    path: &mut SsaPath,
    next: &mut usize,
) -> usize {
    let entry = &levels[s.count_ones() as usize].1[&s];
    match entry.split {
        None => s.trailing_zeros() as usize,
        Some((a, b)) => {
            let a = emit(levels, a, path, next);
            let b = emit(levels, b, path, next);
            path.push((a, b));
            *next += 1;
            *next - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::order::Optimize;
    use crate::order::tests::cost;

    #[test]
    fn dp_matches_optimal_on_a_ring() {
        let sizes = [('a', 2), ('b', 3), ('c', 40), ('d', 5), ('e', 60), ('f', 7)];
        let text = "ab,bc,cd,de,ef,fa->";
        assert_eq!(
            cost(text, &sizes, &Optimize::Dp),
            cost(text, &sizes, &Optimize::Optimal)
        );
    }

    #[test]
    fn dp_contracts_operands_that_share_nothing() {
        // Shrunk from the path-quality property test: two scalars.
        assert_eq!(cost(",->", &[], &Optimize::Dp), 1);
        // The outer product of two small vectors first is cheapest here.
        let sizes = [('a', 2), ('b', 2), ('c', 100)];
        assert_eq!(cost("a,b,abc->c", &sizes, &Optimize::Dp), 4 + 800);
        assert_eq!(cost("a,b,abc->c", &sizes, &Optimize::Optimal), 4 + 800);
    }

    #[test]
    fn dp_joins_disconnected_components() {
        let sizes = [('i', 10), ('j', 20), ('k', 30), ('l', 4)];
        // ij,jk->ik and an unrelated l vector: outer product at the end.
        let text = "ij,jk,l->ikl";
        assert_eq!(cost(text, &sizes, &Optimize::Dp), 2 * 6000 + 1200);
    }
}
