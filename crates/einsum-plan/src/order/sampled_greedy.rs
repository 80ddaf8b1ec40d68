//! Greedy with knobs, for the hyper-optimizer's diverse starts (the three
//! cotengra samples for its greedy trials, implemented our own way):
//!
//! - `costmod`: a candidate's cost is `|ab| - costmod (|a| + |b|)`, the
//!   memory the contraction adds when `costmod` is 1 (plain greedy's rule);
//!   below 1 it leans towards small results, above towards removing large
//!   tensors early;
//! - `temperature`: Gumbel noise of that scale is added to each
//!   candidate's key (a signed log2 of its cost), so candidates within a
//!   factor of about `2^temperature` of each other trade places at random;
//! - `jitter`: each axis's log2 size is scaled by a random factor in
//!   `1 ± jitter` before anything is costed (the real sizes score the
//!   order afterwards).
//!
//! Everything is in log space (`f64` log2 sizes), so no network is too
//! large to rank. Pairs sharing an axis are candidates, as in plain greedy
//! (a pair's result never changes while both tensors live); what is left
//! unconnected is joined by outer products, smallest first.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::random_greedy::SplitMix64;
use super::{Search, SsaPath};
use crate::axis_set::AxisSet;

/// The knobs of one sampled greedy run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Knobs {
    pub costmod: f64,
    pub temperature: f64,
    pub jitter: f64,
}

/// A heap key: the noisy cost, then the pair (for determinism).
#[derive(Clone, Copy, PartialEq)]
struct Key(f64, usize, usize);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then(self.1.cmp(&other.1))
            .then(self.2.cmp(&other.2))
    }
}

/// One greedy order under `knobs`, its random draws from `rng`; `None`
/// when it cannot keep within the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    knobs: Knobs,
    rng: &mut SplitMix64,
) -> Option<SsaPath> {
    let n = search.inputs.len();
    let axes = search.sizes.len();
    let log_size: Vec<f64> = search
        .sizes
        .iter()
        .map(|&s| {
            let l = (s.max(1) as f64).log2();
            l * (1.0 + knobs.jitter * (2.0 * rng.next_f64() - 1.0))
        })
        .collect();
    let log_of = |set: &AxisSet<W>| -> f64 { set.iter().map(|a| log_size[a]).sum() };

    let mut live: Vec<Option<AxisSet<W>>> = search.inputs.iter().copied().map(Some).collect();
    let mut logs: Vec<f64> = search.inputs.iter().map(&log_of).collect();
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); axes];
    let mut counts = vec![0u32; axes];
    for (t, set) in search.inputs.iter().enumerate() {
        for axis in set.iter() {
            holders[axis].push(t);
            counts[axis] += 1;
        }
    }
    let mut alive = n;
    let mut path = SsaPath::with_capacity(n.saturating_sub(1));

    let keep = |a: &AxisSet<W>, b: &AxisSet<W>, counts: &[u32]| -> AxisSet<W> {
        let mut keep = search.output;
        for axis in a.union(b).iter() {
            let own = u32::from(a.contains(axis)) + u32::from(b.contains(axis));
            if counts[axis] > own {
                keep.insert(axis);
            }
        }
        keep
    };
    let mut key =
        |a: usize, b: usize, live: &[Option<AxisSet<W>>], logs: &[f64], counts: &[u32]| {
            let (sa, sb) = (live[a].unwrap_or_default(), live[b].unwrap_or_default());
            let result = sa.union(&sb).intersection(&keep(&sa, &sb, counts));
            let cost = signed_log(log_of(&result), logs[a], logs[b], knobs.costmod);
            let noise = if knobs.temperature > 0.0 {
                // A standard Gumbel draw.
                let u = rng.next_f64().max(1e-300);
                -(-u.ln()).ln()
            } else {
                0.0
            };
            Reverse(Key(cost - knobs.temperature * noise, a.min(b), a.max(b)))
        };

    let mut heap = BinaryHeap::new();
    for (axis, h) in holders.iter().enumerate() {
        for (i, &a) in h.iter().enumerate() {
            for &b in &h[i + 1..] {
                // Each pair once: from the smallest axis they share.
                let shared = search.inputs[a].intersection(&search.inputs[b]);
                if shared.iter().next() == Some(axis) {
                    heap.push(key(a, b, &live, &logs, &counts));
                }
            }
        }
    }

    let contract = |a: usize,
                    b: usize,
                    live: &mut Vec<Option<AxisSet<W>>>,
                    logs: &mut Vec<f64>,
                    holders: &mut [Vec<usize>],
                    counts: &mut [u32],
                    alive: &mut usize,
                    path: &mut SsaPath|
     -> Option<usize> {
        let (sa, sb) = (live[a]?, live[b]?);
        let result = sa.union(&sb).intersection(&keep(&sa, &sb, counts));
        if *alive > 2 && result.size(search.sizes) > search.limit {
            return None;
        }
        for axis in sa.iter().chain(sb.iter()) {
            counts[axis] -= 1;
        }
        let new = live.len();
        for axis in result.iter() {
            counts[axis] += 1;
            holders[axis].push(new);
        }
        live[a] = None;
        live[b] = None;
        live.push(Some(result));
        logs.push(log_of(&result));
        *alive -= 1;
        path.push((a, b));
        Some(new)
    };

    while alive > 1 {
        let Some(Reverse(Key(_, a, b))) = heap.pop() else {
            break;
        };
        if live[a].is_none() || live[b].is_none() {
            continue;
        }
        let Some(new) = contract(
            a,
            b,
            &mut live,
            &mut logs,
            &mut holders,
            &mut counts,
            &mut alive,
            &mut path,
        ) else {
            // Over the memory limit: this pair is never taken.
            continue;
        };
        let result = live[new].expect("just made");
        let mut seen: Vec<usize> = Vec::new();
        for axis in result.iter() {
            for &t in &holders[axis] {
                if t != new && live[t].is_some() && !seen.contains(&t) {
                    seen.push(t);
                }
            }
        }
        for t in seen {
            heap.push(key(t, new, &live, &logs, &counts));
        }
    }
    // What is left shares no axis (or only pairs over the limit): outer
    // products, smallest first.
    while alive > 1 {
        let mut rest: Vec<usize> = (0..live.len()).filter(|&t| live[t].is_some()).collect();
        rest.sort_by(|&x, &y| logs[x].total_cmp(&logs[y]).then(x.cmp(&y)));
        contract(
            rest[0],
            rest[1],
            &mut live,
            &mut logs,
            &mut holders,
            &mut counts,
            &mut alive,
            &mut path,
        )?;
    }
    Some(path)
}

/// `2^ab - costmod (2^a + 2^b)` as a signed `log2(1 + |value|)`: monotone
/// in the value, finite for any log sizes.
fn signed_log(ab: f64, a: f64, b: f64, costmod: f64) -> f64 {
    let m = ab.max(a).max(b);
    let t = (ab - m).exp2() - costmod * ((a - m).exp2() + (b - m).exp2());
    if t == 0.0 || !t.is_finite() {
        return 0.0;
    }
    let lg = m + t.abs().log2();
    let magnitude = if lg > 60.0 {
        lg
    } else {
        lg.exp2().ln_1p() / std::f64::consts::LN_2
    };
    magnitude.copysign(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{random_regular, wide_search_of};

    #[test]
    fn the_key_is_monotone_in_the_cost() {
        // |ab| - (|a| + |b|) for growing |ab|.
        let mut last = f64::NEG_INFINITY;
        for ab in [0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 10.0, 100.0, 5000.0] {
            let k = signed_log(ab, 2.0, 2.0, 1.0);
            assert!(
                k > last || (k == 0.0 && last <= 0.0),
                "{ab}: {k} after {last}"
            );
            last = k;
        }
        assert!(signed_log(2.0, 4.0, 4.0, 1.0) < 0.0);
        assert!(signed_log(9000.0, 1.0, 1.0, 1.0).is_finite());
    }

    #[test]
    fn orders_are_complete_for_every_knob() {
        let (inputs, sizes) = random_regular(60, 3, 2, |rng| 2 + (rng.next_u64() % 3) as usize);
        let search = wide_search_of::<4>(&inputs, &[], &sizes, None);
        let mut rng = SplitMix64(4);
        for costmod in [0.0, 0.5, 1.0, 3.0] {
            for temperature in [0.0, 0.1, 1.0] {
                let knobs = Knobs {
                    costmod,
                    temperature,
                    jitter: 0.2,
                };
                let path = super::search(&search, knobs, &mut rng).unwrap();
                assert_eq!(path.len(), 59);
                assert!(search.score(&path).is_some());
            }
        }
    }
}
