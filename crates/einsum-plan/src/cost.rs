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

/// FLOPs of a pairwise step over index set of size `points`, summing or not.
pub(crate) fn pair_flops(points: u128, sums: bool) -> u128 {
    points.saturating_mul(if sums { 2 } else { 1 })
}

/// numpy's naive FLOP count: all `terms` at once over `points` index points.
pub fn naive_flops(points: u128, terms: usize, sums: bool) -> u128 {
    let factor = terms.saturating_sub(1).max(1) as u128 + u128::from(sums);
    points.saturating_mul(factor)
}

impl Objective {
    /// The score of two independent sub-orders taken together.
    pub(crate) fn join(self, a: u128, b: u128) -> u128 {
        match self {
            Objective::Flops | Objective::Combined => a.saturating_add(b),
            Objective::Size => a.max(b),
        }
    }

    /// The score of a path so far after one more step of `flops` writing an
    /// intermediate of `size` elements. Monotone: a step never lowers it, so
    /// a partial score bounds the complete one (branch-and-bound relies on it).
    pub(crate) fn add(self, score: u128, flops: u128, size: u128) -> u128 {
        match self {
            Objective::Flops => score.saturating_add(flops),
            Objective::Size => score.max(size),
            Objective::Combined => score
                .saturating_add(flops)
                .saturating_add(size.saturating_mul(64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_convention() {
        // ij,jk,kl,lm->im with 1000,1000,10,1000,1000: numpy says 4.000e+13.
        assert_eq!(
            naive_flops(1000 * 1000 * 10 * 1000 * 1000, 4, true),
            4e13 as u128
        );
        // A matrix product sums: two FLOPs a point; a Hadamard product one.
        assert_eq!(pair_flops(8, true), 16);
        assert_eq!(pair_flops(8, false), 8);
        // One term that sums: numpy's max(1, 0) + 1.
        assert_eq!(naive_flops(10, 1, true), 20);
    }

    #[test]
    fn objectives_are_monotone() {
        for objective in [Objective::Flops, Objective::Size, Objective::Combined] {
            assert!(objective.add(100, 5, 7) >= 100);
        }
        assert_eq!(Objective::Size.add(10, 1000, 3), 10);
    }
}
