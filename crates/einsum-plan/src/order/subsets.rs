//! The subset DP of subtree reconfiguration: the cheapest way to contract
//! a frontier of up to [`MAX_SUBTREE`] tensors down to its root's axes, by
//! dynamic programming over the `2^k` subsets of the frontier (`3^k`
//! splits), outer products included unless the frontier is sparse.
//!
//! A subproblem's axes are renumbered into one `u128`, so its set algebra
//! is a few instructions; its scores are floats ([`Domain`]: the values
//! themselves, or their logarithms past `f64`'s range), re-scored exactly by
//! the caller before a result may replace anything. Knows nothing of the
//! tree: `reconfigure` fills the frontier's sets into [`Scratch`] and reads
//! the best splits back.

use crate::axis_set::AxisSet;
use crate::cost::{Cost, Objective};

/// Largest frontier re-solved: `3^k` subset splits each time.
pub(super) const MAX_SUBTREE: usize = 10;

/// Buffers reused across subproblems. Axis sets of the subproblem are
/// bitmasks over `axes`, its axes in increasing order.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) frontier: Vec<usize>,
    pub(super) inside: Vec<usize>,
    pub(super) axes: Vec<usize>,
    pub(super) union: Vec<u128>,
    pub(super) result: Vec<u128>,
    pub(super) score: Vec<f64>,
    pub(super) split: Vec<usize>,
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
pub(super) fn connected(mask: usize, neighbours: &[u32; MAX_SUBTREE]) -> bool {
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
pub(super) fn global<const W: usize>(mask: u128, axes: &[usize]) -> AxisSet<W> {
    AxisSet::from_indices(
        (0..axes.len())
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| axes[i]),
    )
}

/// The sizes of the subproblem's axes, for products over local masks.
pub(super) struct LocalSizes {
    sizes: Vec<usize>,
}

impl LocalSizes {
    pub(super) fn new(sizes: impl Iterator<Item = usize>) -> Self {
        LocalSizes {
            sizes: sizes.collect(),
        }
    }

    /// The product of the sizes in `mask`, as `AxisSet::size`.
    pub(super) fn of(&self, mask: u128) -> Cost {
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

/// The subset DP of one subproblem, given the frontier's result sets in
/// the scratch buffers.
pub(super) struct Subsets<'a> {
    pub(super) objective: Objective,
    pub(super) limit: Cost,
    /// Whether the subproblem's root is the whole order's (its result is
    /// the output, not an intermediate).
    pub(super) is_root: bool,
    /// Whether subsets that are not connected are skipped.
    pub(super) sparse: bool,
    pub(super) neighbours: &'a [u32; MAX_SUBTREE],
    pub(super) sizes: &'a LocalSizes,
}

impl Subsets<'_> {
    /// Fills `s.score` and `s.split` for every subset of the frontier, in
    /// plain floats when they suffice, else in logarithms.
    pub(super) fn solve(&self, s: &mut Scratch) {
        if self.sizes.log2_all() < PLAIN_BITS {
            self.solve_in::<Plain>(s);
        } else {
            self.solve_in::<Log2>(s);
        }
    }

    /// [`solve`](Self::solve) in the domain `D`.
    fn solve_in<D: Domain>(&self, s: &mut Scratch) {
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
