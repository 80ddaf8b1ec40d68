//! The cost model: FLOPs in numpy's convention, sizes of intermediates, and
//! the objective an order search minimises.
//!
//! numpy (`numpy.einsum_path`) and opt_einsum count a contraction of `n` terms
//! over the index set `U` as `|U| * (max(1, n - 1) + inner)`, where `|U|` is
//! the product of the sizes in `U` and `inner` is 1 when some index is summed.
//! So a pairwise product that sums costs `2|U|` (a multiply and an add per
//! point), one that does not (Hadamard, outer) costs `|U|`. We count pairwise
//! steps and the naive figure exactly so, line for line comparable with theirs.
//!
//! One deliberate difference: a single-operand sum (`ij->i`) costs one
//! addition per input element here, where numpy's formula, written for
//! products, counts two. Views (permutations, diagonals, broadcasts) cost
//! nothing: no arithmetic happens.

use crate::count::Count;

/// What an order search minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Objective {
    /// Total FLOPs (numpy's and opt_einsum's default).
    #[default]
    Flops,
    /// The largest intermediate, in elements.
    Size,
    /// FLOPs plus 64 times the elements written, step by step (opt_einsum's
    /// `combo`): prefers orders that move less memory when FLOPs tie.
    Combined,
}

/// A cost or a size in the order search: exact below 2^127, beyond it a
/// base-2 logarithm, so it never saturates.
///
/// Why not a `u128` that saturates: on a large network every order can need
/// more than 2^128 FLOPs, and a saturated score ranks them all equal, so a
/// search returns whatever it found first. Why not a big integer: the search
/// compares and adds scores in its innermost loops, and a large order is
/// already approximate in what it models. So both forms share one `u128`
/// that orders as an integer: an exact value is itself; a larger one is
/// `2^127` plus the bits of its log2 (at least 127), and positive floats'
/// bits order as the floats do. Comparison stays one integer comparison;
/// every large value ranks above every exact one, and large values rank by
/// magnitude to about 12 significant digits (a log2 near 4096 in an `f64`).
/// Arithmetic is exact while the result fits and in log space beyond, so
/// the exact optimizers (`optimal`, `dp`) stay exact wherever the costs fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Cost(u128);

/// The first value kept as a logarithm.
const LARGE: u128 = 1 << 127;

impl Cost {
    pub(crate) const ZERO: Cost = Cost(0);

    /// Above every value: "no limit", or infinitely costly.
    pub(crate) const MAX: Cost = Cost(u128::MAX);

    /// `value`, exact.
    pub(crate) const fn small(value: u64) -> Cost {
        Cost(value as u128)
    }

    /// `value`, exact below 2^127.
    #[inline]
    pub(crate) fn new(value: u128) -> Cost {
        if value < LARGE {
            Cost(value)
        } else {
            Cost::large(value)
        }
    }

    /// A value of at least 2^127, as its logarithm. Out of line, as every
    /// path into logarithms: the exact paths are the searches' inner loops
    /// and must stay small enough to inline.
    #[cold]
    #[inline(never)]
    fn large(value: u128) -> Cost {
        Cost::from_log2((value as f64).log2())
    }

    /// The value `2^log2`, which is at least 2^127 (rounding may have left
    /// `log2` a hair below: the value it stands for is not exact).
    fn from_log2(log2: f64) -> Cost {
        if log2 == f64::NEG_INFINITY {
            Cost::ZERO
        } else if log2.is_nan() || log2 == f64::INFINITY {
            Cost::MAX
        } else {
            Cost(LARGE | u128::from(log2.max(127.0).to_bits()))
        }
    }

    /// The product of `sizes`, exact while it fits.
    #[inline(always)]
    pub(crate) fn product(sizes: impl IntoIterator<Item = usize>) -> Cost {
        let mut sizes = sizes.into_iter();
        let mut exact = 1u128;
        while let Some(s) = sizes.next() {
            if let Ok(small) = u64::try_from(exact) {
                // One 64-by-64-bit multiply, which cannot overflow: the
                // common case, kept cheap for the searches' inner loops.
                exact = u128::from(small) * s as u128;
            } else {
                match exact.checked_mul(s as u128) {
                    Some(p) => exact = p,
                    None => return Cost::product_of_logs(exact, s, sizes),
                }
            }
        }
        Cost::new(exact)
    }

    /// `exact * next * rest`, past a `u128`: multiplied as floats (one
    /// logarithm per 2^900 or so rather than one per size: left-to-right
    /// orders of large networks have intermediates of hundreds of axes).
    #[cold]
    #[inline(never)]
    fn product_of_logs(exact: u128, next: usize, rest: impl Iterator<Item = usize>) -> Cost {
        const FOLD: f64 = 8.452712498170644e270; // 2^900
        let mut log2 = 0.0;
        let mut run = exact as f64 * next as f64;
        for s in rest {
            if s == 0 {
                return Cost::ZERO;
            }
            // Below 2^900 times a size below 2^64: far from f64::MAX.
            run *= s as f64;
            if run > FOLD {
                log2 += run.log2();
                run = 1.0;
            }
        }
        Cost::from_log2(log2 + run.log2())
    }

    /// The value, when it is exact.
    pub(crate) fn exact(self) -> Option<u128> {
        (self.0 < LARGE).then_some(self.0)
    }

    /// The base-2 logarithm (minus infinity for 0, infinity for `MAX`).
    pub(crate) fn log2(self) -> f64 {
        if self.0 < LARGE {
            (self.0 as f64).log2()
        } else if self == Cost::MAX {
            f64::INFINITY
        } else {
            f64::from_bits(self.0 as u64)
        }
    }

    /// `self + other`.
    #[must_use]
    #[inline]
    pub(crate) fn plus(self, other: Cost) -> Cost {
        if (self.0 | other.0) < LARGE {
            // Both below 2^127: the sum fits in a u128.
            Cost::new(self.0 + other.0)
        } else {
            self.plus_logs(other)
        }
    }

    #[cold]
    #[inline(never)]
    fn plus_logs(self, other: Cost) -> Cost {
        let (a, b) = (self.log2(), other.log2());
        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
        if hi == f64::INFINITY {
            return Cost::MAX;
        }
        Cost::from_log2(hi + (lo - hi).exp2().ln_1p() * std::f64::consts::LOG2_E)
    }

    /// `self * other`.
    #[must_use]
    #[inline]
    pub(crate) fn times(self, other: Cost) -> Cost {
        if (self.0 | other.0) < LARGE
            && let Some(p) = self.0.checked_mul(other.0)
        {
            Cost::new(p)
        } else {
            self.times_logs(other)
        }
    }

    #[cold]
    #[inline(never)]
    fn times_logs(self, other: Cost) -> Cost {
        if self.0 == 0 || other.0 == 0 {
            return Cost::ZERO;
        }
        Cost::from_log2(self.log2() + other.log2())
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.exact() {
            Some(v) => write!(f, "{v}"),
            None => write!(f, "2^{:.3}", self.log2()),
        }
    }
}

/// FLOPs of a pairwise step over an index set of `points` points, summing
/// or not.
#[inline]
pub(crate) fn pair_flops(points: Cost, sums: bool) -> Cost {
    // Doubling as a sum: cheaper than a checked multiply.
    if sums { points.plus(points) } else { points }
}

/// [`pair_flops`], exactly: what the plan reports.
pub(crate) fn pair_flops_exact(points: Count, sums: bool) -> Count {
    if sums { points.times(2) } else { points }
}

/// numpy's naive FLOP count: all `terms` at once over `points` index points.
pub fn naive_flops(points: Count, terms: usize, sums: bool) -> Count {
    let factor = terms.saturating_sub(1).max(1) as u64 + u64::from(sums);
    points.times(factor)
}

impl Objective {
    /// The score of two independent sub-orders taken together.
    pub(crate) fn join(self, a: Cost, b: Cost) -> Cost {
        match self {
            Objective::Flops | Objective::Combined => a.plus(b),
            Objective::Size => a.max(b),
        }
    }

    /// The score of a path so far after one more step of `flops` writing an
    /// intermediate of `size` elements. Monotone: a step never lowers it, so
    /// a partial score bounds the complete one (branch-and-bound relies on it).
    pub(crate) fn add(self, score: Cost, flops: Cost, size: Cost) -> Cost {
        match self {
            Objective::Flops => score.plus(flops),
            Objective::Size => score.max(size),
            Objective::Combined => score.plus(flops).plus(size.times(Cost::small(64))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_convention() {
        // ij,jk,kl,lm->im with 1000,1000,10,1000,1000: numpy says 4.000e+13.
        let points = Count::product([1000, 1000, 10, 1000, 1000]);
        assert_eq!(naive_flops(points, 4, true), 40_000_000_000_000);
        // A matrix product sums: two FLOPs a point; a Hadamard product one.
        assert_eq!(pair_flops(Cost::new(8), true), Cost::new(16));
        assert_eq!(pair_flops(Cost::new(8), false), Cost::new(8));
        assert_eq!(pair_flops_exact(Count::from(8u8), true), 16);
        // One term that sums: numpy's max(1, 0) + 1.
        assert_eq!(naive_flops(Count::from(10u8), 1, true), 20);
    }

    #[test]
    fn objectives_are_monotone() {
        let c = Cost::new;
        for objective in [Objective::Flops, Objective::Size, Objective::Combined] {
            assert!(objective.add(c(100), c(5), c(7)) >= c(100));
            let big = Cost::product([usize::MAX; 3]);
            assert!(objective.add(big, c(5), c(7)) >= big);
        }
        assert_eq!(Objective::Size.add(c(10), c(1000), c(3)), c(10));
    }

    #[test]
    fn costs_are_exact_while_they_fit_and_rank_beyond() {
        let c = Cost::new;
        assert_eq!(c(3).plus(c(4)), c(7));
        assert_eq!(c(3).times(c(4)), c(12));
        let near = c((1 << 127) - 1);
        assert_eq!(near.exact(), Some((1 << 127) - 1));
        // Past 2^127: above every exact value, ordered by magnitude.
        let over = near.plus(c(1));
        assert_eq!(over.exact(), None);
        assert!(over > near);
        assert!((over.log2() - 127.0).abs() < 1e-12);
        let p = |k: u32| Cost::product(std::iter::repeat_n(2, k as usize));
        assert_eq!(p(126).exact(), Some(1 << 126));
        for k in [128, 129, 200, 1000, 4000, 260_000] {
            assert!(p(k) > p(k - 1), "2^{k}");
            assert!(
                (p(k).log2() - f64::from(k)).abs() < 1e-6 * f64::from(k),
                "2^{k}"
            );
        }
        // Sums and products in log space: 2^200 + 2^200 = 2^201, and a
        // small addend still counts against a near-equal large one.
        assert!((p(200).plus(p(200)).log2() - 201.0).abs() < 1e-9);
        assert_eq!(p(200).plus(c(1)), p(200), "below the log's resolution");
        assert!(p(200).plus(p(190)) > p(200));
        assert!((p(150).times(p(150)).log2() - 300.0).abs() < 1e-9);
        assert_eq!(p(300).times(Cost::ZERO), Cost::ZERO);
        assert_eq!(Cost::product([usize::MAX, usize::MAX, 0]), Cost::ZERO);
        assert_eq!(Cost::MAX.plus(c(1)), Cost::MAX);
        assert!(p(260_000) < Cost::MAX);
        assert_eq!(format!("{} {}", c(5), p(200)), "5 2^200.000");
    }
}
