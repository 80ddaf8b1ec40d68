//! Kernel choice: what each step becomes, from its axes' roles.

use std::fmt;

use crate::axis::AxisId;

/// The role of an axis in a pairwise step (BLAS vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// In both inputs and the output: a batch of independent products.
    Batch,
    /// In the left input and the output only: GEMM's rows.
    M,
    /// In the right input and the output only: GEMM's columns.
    N,
    /// In both inputs, not the output: summed over, GEMM's inner dimension.
    K,
    /// In one input only and not the output: summed within that input.
    Sum,
}

/// What a step does, with the dimensions the executor needs.
///
/// Every count is a product of axis sizes; the executor can always fall back
/// to its strided loop, so a kernel is a promise of structure, not of a
/// particular implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// One operand copied into the output: a permutation, a diagonal or a
    /// broadcast, read through strides.
    Copy {
        /// Elements written.
        len: usize,
    },
    /// One operand summed over some axes.
    Reduce {
        /// Elements written.
        len: usize,
        /// Elements summed into each.
        sum: usize,
    },
    /// An elementwise product, possibly broadcasting one side: no axis summed.
    Elementwise {
        /// Elements written.
        len: usize,
    },
    /// An outer product: every element of one input times every element of
    /// the other, nothing shared.
    Outer {
        /// Left elements.
        m: usize,
        /// Right elements.
        n: usize,
    },
    /// Dot products of length `k`, `batch` of them.
    Dot {
        /// Independent dots.
        batch: usize,
        /// Length of each.
        k: usize,
    },
    /// Matrix-vector products: an `m x k` matrix times a `k` vector.
    Gemv {
        /// Independent products.
        batch: usize,
        /// Rows of the matrix (output length).
        m: usize,
        /// Inner dimension.
        k: usize,
        /// Which input is the matrix.
        matrix: Side,
    },
    /// Matrix products: `m x k` times `k x n`.
    Gemm {
        /// Independent products (1: a single GEMM).
        batch: usize,
        /// Rows.
        m: usize,
        /// Columns.
        n: usize,
        /// Inner dimension.
        k: usize,
    },
}

/// The left or right input of a pairwise step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first input.
    Left,
    /// The second input.
    Right,
}

/// Classifies the axes of a pairwise step and picks its kernel.
///
/// `left`, `right`, `out` are the distinct axes each side holds (after
/// diagonals and broadcasts are taken as views).
pub(crate) fn pairwise(
    left: &[AxisId],
    right: &[AxisId],
    out: &[AxisId],
    size: impl Fn(AxisId) -> usize,
) -> Kernel {
    // One pass over the distinct axes: the product and presence of each role.
    let (mut batch, mut m, mut n, mut k) = (1usize, 1usize, 1usize, 1usize);
    let (mut has_batch, mut has_m, mut has_n, mut has_k) = (false, false, false, false);
    let right_only = right.iter().filter(|a| !left.contains(a));
    for &axis in left.iter().chain(right_only) {
        let s = size(axis);
        match classify(axis, left, right, out) {
            Role::Batch => (batch, has_batch) = (batch.saturating_mul(s), true),
            Role::M => (m, has_m) = (m.saturating_mul(s), true),
            Role::N => (n, has_n) = (n.saturating_mul(s), true),
            Role::K => (k, has_k) = (k.saturating_mul(s), true),
            Role::Sum => {}
        }
    }
    match (has_k, has_m, has_n) {
        (false, false, false) => Kernel::Elementwise { len: batch },
        (false, true, true) if !has_batch => Kernel::Outer { m, n },
        (false, _, _) => Kernel::Elementwise {
            len: batch.saturating_mul(m).saturating_mul(n),
        },
        (true, false, false) => Kernel::Dot { batch, k },
        (true, true, false) => Kernel::Gemv {
            batch,
            m,
            k,
            matrix: Side::Left,
        },
        (true, false, true) => Kernel::Gemv {
            batch,
            m: n,
            k,
            matrix: Side::Right,
        },
        (true, true, true) => Kernel::Gemm { batch, m, n, k },
    }
}

/// The role of `axis` in a step reading `left` and `right` into `out`.
pub(crate) fn classify(axis: AxisId, left: &[AxisId], right: &[AxisId], out: &[AxisId]) -> Role {
    match (
        left.contains(&axis),
        right.contains(&axis),
        out.contains(&axis),
    ) {
        (true, true, true) => Role::Batch,
        (true, true, false) => Role::K,
        (true, false, true) => Role::M,
        (false, true, true) => Role::N,
        _ => Role::Sum,
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let times = |f: &mut fmt::Formatter<'_>, batch: usize, what: &str| {
            if batch == 1 {
                Ok(())
            } else {
                write!(f, " (x{batch} {what})")
            }
        };
        match *self {
            Kernel::Copy { len } => write!(f, "copy n={len}"),
            Kernel::Reduce { len, sum } => {
                write!(f, "sum n={sum}")?;
                times(f, len, "outputs")
            }
            Kernel::Elementwise { len } => write!(f, "elementwise n={len}"),
            Kernel::Outer { m, n } => write!(f, "outer m={m} n={n}"),
            Kernel::Dot { batch, k } => {
                write!(f, "dot n={k}")?;
                times(f, batch, "rows")
            }
            Kernel::Gemv {
                batch,
                m,
                k,
                matrix,
            } => {
                let side = match matrix {
                    Side::Left => "",
                    Side::Right => " (matrix on the right)",
                };
                if batch == 1 {
                    write!(f, "gemv m={m} k={k}{side}")
                } else {
                    write!(f, "batched gemv b={batch} m={m} k={k}{side}")
                }
            }
            Kernel::Gemm { batch, m, n, k } => {
                if batch == 1 {
                    write!(f, "gemm m={m} n={n} k={k}")
                } else {
                    write!(f, "batched gemm b={batch} m={m} n={n} k={k}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[usize]) -> Vec<AxisId> {
        v.iter().map(|&i| AxisId::new(i)).collect()
    }

    fn kernel(l: &[usize], r: &[usize], o: &[usize]) -> Kernel {
        pairwise(&ids(l), &ids(r), &ids(o), |a| [2, 3, 5, 7][a.index()])
    }

    #[test]
    fn roles_pick_kernels() {
        // i=0 (2), j=1 (3), k=2 (5), b=3 (7)
        assert_eq!(
            kernel(&[0, 1], &[1, 2], &[0, 2]),
            Kernel::Gemm {
                batch: 1,
                m: 2,
                n: 5,
                k: 3
            }
        );
        assert_eq!(
            kernel(&[3, 0, 1], &[3, 1, 2], &[3, 0, 2]),
            Kernel::Gemm {
                batch: 7,
                m: 2,
                n: 5,
                k: 3
            }
        );
        assert_eq!(
            kernel(&[0, 1], &[0, 1], &[0]),
            Kernel::Dot { batch: 2, k: 3 }
        );
        assert_eq!(kernel(&[0], &[0], &[]), Kernel::Dot { batch: 1, k: 2 });
        assert_eq!(
            kernel(&[0, 1], &[1], &[0]),
            Kernel::Gemv {
                batch: 1,
                m: 2,
                k: 3,
                matrix: Side::Left
            }
        );
        assert_eq!(
            kernel(&[1], &[0, 1], &[0]),
            Kernel::Gemv {
                batch: 1,
                m: 2,
                k: 3,
                matrix: Side::Right
            }
        );
        assert_eq!(kernel(&[0], &[1], &[0, 1]), Kernel::Outer { m: 2, n: 3 });
        assert_eq!(
            kernel(&[0, 1], &[0, 1], &[0, 1]),
            Kernel::Elementwise { len: 6 }
        );
        assert_eq!(
            kernel(&[0, 1], &[1], &[0, 1]),
            Kernel::Elementwise { len: 6 }
        );
    }

    #[test]
    fn kernels_print_their_dimensions() {
        assert_eq!(
            Kernel::Gemm {
                batch: 1,
                m: 1000,
                n: 1000,
                k: 10
            }
            .to_string(),
            "gemm m=1000 n=1000 k=10"
        );
        assert_eq!(
            Kernel::Gemm {
                batch: 256,
                m: 64,
                n: 64,
                k: 64
            }
            .to_string(),
            "batched gemm b=256 m=64 n=64 k=64"
        );
        assert_eq!(
            Kernel::Dot {
                batch: 1000,
                k: 1000
            }
            .to_string(),
            "dot n=1000 (x1000 rows)"
        );
    }
}
