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

/// A copy a BLAS-fed step makes so that every role group of an input (or
/// of its result) is one stride: the input is repacked into a fresh buffer
/// in group order, or the result is computed into one and copied out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repack {
    /// The left input, this many elements.
    Left(usize),
    /// The right input, this many elements.
    Right(usize),
    /// The result, this many elements.
    Result(usize),
}

impl fmt::Display for Repack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repack::Left(n) => write!(f, "repack left ({n})"),
            Repack::Right(n) => write!(f, "repack right ({n})"),
            Repack::Result(n) => write!(f, "repack result ({n})"),
        }
    }
}

/// A tensor of a step as memory: each axis's element stride (a diagonal's
/// strides summed; broadcast dimensions left out) and its element count.
pub(crate) struct Layout {
    pub strides: Vec<(AxisId, isize)>,
    pub len: usize,
}

impl Layout {
    fn stride(&self, axis: AxisId) -> Option<isize> {
        self.strides
            .iter()
            .find(|(a, _)| *a == axis)
            .map(|&(_, s)| s)
    }

    /// Whether `group`, in this order, is one stride here: each axis's stride
    /// is the next one's times its size (axes of size 1 fit anywhere).
    fn fuses(&self, group: &[AxisId], size: &impl Fn(AxisId) -> usize) -> bool {
        let axes: Vec<AxisId> = group.iter().copied().filter(|&a| size(a) != 1).collect();
        axes.windows(2)
            .all(|w| match (self.stride(w[0]), self.stride(w[1])) {
                // Sizes and strides near isize::MAX must not overflow here:
                // a product past it cannot equal a stride anyway.
                (Some(s0), Some(s1)) => {
                    isize::try_from(size(w[1]))
                        .ok()
                        .and_then(|n| s1.checked_mul(n))
                        == Some(s0)
                }
                _ => false,
            })
    }

    /// The group's axes in this tensor's memory order (largest stride first).
    fn order(&self, group: &[AxisId]) -> Vec<AxisId> {
        let mut axes = group.to_vec();
        axes.sort_by_key(|&a| std::cmp::Reverse(self.stride(a).map_or(0, |s| s.unsigned_abs())));
        axes
    }
}

/// How a BLAS-fed step reads its tensors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Lowering {
    /// Tensors copied so that every role group has one axis order in all
    /// tensors holding it.
    pub repacks: Vec<Repack>,
    /// Whether some group, though in one order everywhere, is not one stride
    /// in some tensor: the kernel then loops over the group's contiguous runs.
    pub split: bool,
}

/// The copies a BLAS-fed kernel needs so each role group has the same axis
/// order in every tensor that holds it, and whether any group still spans
/// more than one stride. Per group, the order leaving the least memory to
/// copy wins, counting tensors already copied for an earlier group as free
/// and preferring the result's order on ties; K goes last so it can follow
/// the copies the other groups forced.
pub(crate) fn lower(
    kernel: &Kernel,
    left: &Layout,
    right: &Layout,
    out: &Layout,
    roles: &[(AxisId, Role)],
    size: impl Fn(AxisId) -> usize,
) -> Lowering {
    if !matches!(
        kernel,
        Kernel::Dot { .. } | Kernel::Gemv { .. } | Kernel::Gemm { .. }
    ) {
        return Lowering::default();
    }
    let group = |role: Role| -> Vec<AxisId> {
        roles
            .iter()
            .filter(|&&(a, r)| r == role && size(a) != 1)
            .map(|&(a, _)| a)
            .collect()
    };
    let tensors = [left, right, out];
    let mut copy = [false; 3];
    let mut split = false;
    for (role, holders) in [
        (Role::Batch, [true, true, true]),
        (Role::M, [true, false, true]),
        (Role::N, [false, true, true]),
        (Role::K, [true, true, false]),
    ] {
        let g = group(role);
        if g.len() < 2 {
            continue;
        }
        let holding: Vec<usize> = (0..3).rev().filter(|&t| holders[t]).collect();
        let orders: Vec<Vec<AxisId>> = holding.iter().map(|&t| tensors[t].order(&g)).collect();
        let mut best: Option<(usize, usize)> = None;
        for (i, order) in orders.iter().enumerate() {
            let cost: usize = holding
                .iter()
                .zip(&orders)
                .filter(|&(&h, o)| !copy[h] && o != order)
                .map(|(&h, _)| tensors[h].len)
                .fold(0usize, usize::saturating_add);
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, i));
            }
        }
        let Some((_, chosen)) = best else { continue };
        let order = &orders[chosen];
        for (&h, o) in holding.iter().zip(&orders) {
            if o != order {
                copy[h] = true;
            } else if !copy[h] && !tensors[h].fuses(order, &size) {
                split = true;
            }
        }
    }
    let mut repacks = Vec::new();
    if copy[0] {
        repacks.push(Repack::Left(left.len));
    }
    if copy[1] {
        repacks.push(Repack::Right(right.len));
    }
    if copy[2] {
        repacks.push(Repack::Result(out.len));
    }
    Lowering { repacks, split }
}

#[cfg(test)]
mod repack_tests {
    use super::*;

    fn layout(axes: &[(usize, isize)], len: usize) -> Layout {
        Layout {
            strides: axes.iter().map(|&(a, s)| (AxisId::new(a), s)).collect(),
            len,
        }
    }

    #[test]
    fn opposite_k_orders_need_one_copy_of_the_cheaper_side() {
        // abcd,dcfe->abef, all 24: a=0 b=1 c=2 d=3 e=4 f=5.
        let n = 24isize;
        let left = layout(
            &[(0, n * n * n), (1, n * n), (2, n), (3, 1)],
            24usize.pow(4),
        );
        let right = layout(
            &[(3, n * n * n), (2, n * n), (5, n), (4, 1)],
            24usize.pow(4),
        );
        let out = layout(
            &[(0, n * n * n), (1, n * n), (4, n), (5, 1)],
            24usize.pow(4),
        );
        let roles = [
            (0, Role::M),
            (1, Role::M),
            (2, Role::K),
            (3, Role::K),
            (4, Role::N),
            (5, Role::N),
        ]
        .map(|(a, r)| (AxisId::new(a), r));
        let kernel = Kernel::Gemm {
            batch: 1,
            m: 576,
            n: 576,
            k: 576,
        };
        let lowering = lower(&kernel, &left, &right, &out, &roles, |_| 24);
        // K is c,d in the left but d,c in the right; N is f,e in the right
        // but e,f in the result: repacking the right fixes both.
        assert_eq!(lowering.repacks, vec![Repack::Right(24usize.pow(4))]);
        assert!(!lowering.split);
    }

    #[test]
    fn matching_orders_need_no_copy() {
        let left = layout(&[(0, 12), (1, 4), (2, 1)], 24);
        let right = layout(&[(1, 20), (2, 5), (3, 1)], 60);
        let out = layout(&[(0, 5), (3, 1)], 10);
        let roles = [(0, Role::M), (1, Role::K), (2, Role::K), (3, Role::N)]
            .map(|(a, r)| (AxisId::new(a), r));
        let kernel = Kernel::Gemm {
            batch: 1,
            m: 2,
            n: 5,
            k: 12,
        };
        let sizes = [2usize, 3, 4, 5];
        assert_eq!(
            lower(&kernel, &left, &right, &out, &roles, |a| sizes[a.index()]),
            Lowering::default()
        );
    }

    #[test]
    fn a_group_in_one_order_but_not_contiguous_is_looped_not_copied() {
        // aijb,jk->aikb: M = a,i,b in the same order in the left and the
        // result, but j (left) and k (result) sit between i and b.
        let (a, i, j, b, k) = (0, 1, 2, 3, 4);
        let left = layout(
            &[(a, 64 * 128 * 16), (i, 128 * 16), (j, 16), (b, 1)],
            16 * 64 * 128 * 16,
        );
        let right = layout(&[(j, 64), (k, 1)], 128 * 64);
        let out = layout(
            &[(a, 64 * 64 * 16), (i, 64 * 16), (k, 16), (b, 1)],
            16 * 64 * 64 * 16,
        );
        let roles = [
            (a, Role::M),
            (i, Role::M),
            (j, Role::K),
            (b, Role::M),
            (k, Role::N),
        ]
        .map(|(x, r)| (AxisId::new(x), r));
        let kernel = Kernel::Gemm {
            batch: 1,
            m: 16 * 64 * 16,
            n: 64,
            k: 128,
        };
        let sizes = [16usize, 64, 128, 16, 64];
        let lowering = lower(&kernel, &left, &right, &out, &roles, |x| sizes[x.index()]);
        assert!(lowering.repacks.is_empty());
        assert!(lowering.split);
    }
}
