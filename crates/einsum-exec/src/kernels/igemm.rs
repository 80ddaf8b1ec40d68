//! Matrix products of integers and `bool`: the `gemm` crate multiplies
//! floating-point numbers only, so GEMM steps on the other element types run
//! here, behind the same signature ([`GemmKernel`]).
//!
//! Blocked as BLAS libraries block a product: a `KC`×`NC` block of the right
//! matrix is packed into panels `NR` columns wide, an `MC`×`KC` block of the
//! left into panels `MR` rows tall (both zero-padded to whole panels, so the
//! micro-kernel has no edge cases), and the micro-kernel keeps an `MR`×`NR`
//! tile of the result in registers over a `KC`-long sum, reading both
//! panels with unit stride. The micro-kernel is plain Rust over fixed-size
//! arrays, which the compiler vectorises along `NR`; like the memory-bound
//! leaves it is compiled twice, for the baseline and for AVX2
//! ([`super::isa`]). Packing reads the operands at any strides, so
//! transposed and reversed operands cost nothing extra.
//!
//! Integer arithmetic wraps (and `bool`'s `or`/`and` are exact), so the
//! order of the sum cannot change the result: every blocking and every
//! thread count gives the bits numpy's loops give.

use gemm::Parallelism;
use rayon::prelude::*;

use super::Shared;
use super::isa::{self, Isa};
use crate::element::Element;
use crate::element::sealed::GemmKernel;

/// Length of the sum one packed block covers: `KC`×`NR` elements of the
/// right matrix's panel (16 KiB for 8-byte integers) stay in the L1 cache
/// while a tile is summed.
const KC: usize = 256;
/// Rows of the left matrix packed at once, in panels of `MR` (about
/// `MC`×`KC` elements for the L2 cache).
const MC: usize = 96;
/// Columns of the right matrix packed at once (the L3 cache's share).
const NC: usize = 1024;

/// Columns below which a product is a few matrix-vector products (`n`
/// dots of length `k` per row) rather than worth packing.
const SKINNY_N: usize = 4;

/// The integer GEMM for `T` with `MR`×`NR` register tiles, as a
/// [`GemmKernel`] (the element types' choice of tile is in
/// [`crate::element`]).
pub(crate) fn kernel<T: Element, const MR: usize, const NR: usize>() -> GemmKernel<T> {
    gemm_tiled::<T, MR, NR>
}

/// A matrix in memory: element `(i, j)` at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy)]
struct Mat<P> {
    ptr: P,
    rs: isize,
    cs: isize,
}

/// `dst = alpha*dst + beta*(lhs·rhs)` when `read`, else
/// `dst = beta*(lhs·rhs)`, for an `m`×`k` left and a `k`×`n` right matrix;
/// `gemm::gemm`'s argument order (column stride before row stride). The
/// conjugation flags mean nothing for these types. With
/// `Parallelism::Rayon(t)`, `t` tasks (0: the pool's threads) split the
/// tiles.
///
/// # Safety
/// Every `lhs + i*lhs_rs + p*lhs_cs` (`i < m`, `p < k`), every
/// `rhs + p*rhs_rs + j*rhs_cs` (`j < n`) is a valid element; every
/// `dst + i*dst_rs + j*dst_cs` is a valid element that nothing else reads or
/// writes during the call, distinct `(i, j)` distinct elements.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_tiled<T: Element, const MR: usize, const NR: usize>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
    _conj_dst: bool,
    _conj_lhs: bool,
    _conj_rhs: bool,
    par: Parallelism,
) {
    let dst = Mat {
        ptr: dst,
        rs: dst_rs,
        cs: dst_cs,
    };
    let lhs = Mat {
        ptr: lhs,
        rs: lhs_rs,
        cs: lhs_cs,
    };
    let rhs = Mat {
        ptr: rhs,
        rs: rhs_rs,
        cs: rhs_cs,
    };
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // SAFETY: the caller's contract covers every (i, j) of `dst`.
        unsafe { scale(m, n, dst, read, alpha) };
        return;
    }
    if alpha == T::ONE && beta == T::ONE && (m < MR || n < SKINNY_N) {
        // SAFETY: the caller's contract.
        unsafe { skinny(m, n, k, dst, read, lhs, rhs) };
        return;
    }
    let tasks = match par {
        Parallelism::Rayon(0) => rayon::current_num_threads(),
        Parallelism::Rayon(t) => t,
        _ => 1,
    }
    .max(1);
    let kc_max = k.min(KC);
    let nc_max = n.min(NC).next_multiple_of(NR);
    let mc_max = m.min(MC).next_multiple_of(MR);
    let (b_len, a_len) = (kc_max * nc_max, tasks * kc_max * mc_max);
    T::with_scratch(|scratch| {
        let Some(buffers) = scratch_prefix(scratch, b_len + a_len) else {
            // No memory for the panels: the plain triple loop needs none.
            // SAFETY: the caller's contract.
            unsafe { naive(m, n, k, dst, read, lhs, rhs, alpha, beta) };
            return;
        };
        let (b_pack, a_packs) = buffers.split_at_mut(b_len);
        // SAFETY: the caller's contract; the buffers are as `blocks` needs.
        unsafe {
            blocks::<T, MR, NR>(
                (m, n, k),
                dst,
                read,
                lhs,
                rhs,
                (alpha, beta),
                tasks,
                b_pack,
                a_packs,
            )
        };
    });
}

/// The first `len` elements of a thread's packing scratch, grown (zeroed)
/// if it is shorter; `None` when the memory is not there.
fn scratch_prefix<T: Element>(scratch: &mut Vec<T>, len: usize) -> Option<&mut [T]> {
    if scratch.len() < len {
        scratch.try_reserve_exact(len - scratch.len()).ok()?;
        scratch.resize(len, T::ZERO);
    }
    scratch.get_mut(..len)
}

/// The blocked product: panels of the right matrix packed into `b_pack`
/// (`min(k, KC)` × `min(n, NC)` rounded up to `NR`), each task's panels of
/// the left into its share of `a_packs` (`tasks` shares of `min(k, KC)` ×
/// `min(m, MC)` rounded up to `MR`).
///
/// # Safety
/// As [`gemm_tiled`], with `m`, `n` and `k` nonzero.
#[allow(clippy::too_many_arguments)]
unsafe fn blocks<T: Element, const MR: usize, const NR: usize>(
    (m, n, k): (usize, usize, usize),
    dst: Mat<*mut T>,
    read: bool,
    lhs: Mat<*const T>,
    rhs: Mat<*const T>,
    (alpha, beta): (T, T),
    tasks: usize,
    b_pack: &mut [T],
    a_packs: &mut [T],
) {
    let share = a_packs.len() / tasks;
    let block = block_version::<T, MR, NR>(isa::detected());
    let m_blocks = m.div_ceil(MC);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let panels = nc.div_ceil(NR);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let b = &mut b_pack[..kc * panels * NR];
            // SAFETY: rows pc..pc+kc and columns jc..jc+nc of the right
            // matrix are within the caller's k×n.
            unsafe { pack::<T, NR>(b, offset(rhs, pc, jc).ptr, rhs.rs, rhs.cs, kc, nc) };
            let b: &[T] = b;
            let first = pc == 0;
            let shared = Shared((lhs, dst));
            // Task t's share: its own row blocks when there are enough of
            // them, else its own column panels of every row block.
            let task = |t: usize, a: &mut [T]| {
                let (lhs, dst) = shared.get();
                let (rows, cols) = if m_blocks >= tasks {
                    (part(m_blocks, tasks, t), 0..panels)
                } else {
                    (0..m_blocks, part(panels, tasks, t))
                };
                if cols.is_empty() {
                    return;
                }
                for ib in rows {
                    let ic = ib * MC;
                    let mc = MC.min(m - ic);
                    let a = &mut a[..kc * mc.next_multiple_of(MR)];
                    // SAFETY: rows ic..ic+mc and columns pc..pc+kc of the
                    // left matrix are within the caller's m×k.
                    unsafe { pack::<T, MR>(a, offset(lhs, ic, pc).ptr, lhs.cs, lhs.rs, kc, mc) };
                    let tile = Tile {
                        dst: offset(dst, ic, jc),
                        rows: mc,
                        cols: nc,
                        first,
                        read,
                        alpha,
                        beta,
                    };
                    // SAFETY: `block` is this CPU's version; the tile's
                    // result rows ic..ic+mc and columns jc..jc+nc are the
                    // caller's, and the panels `cols` select are this
                    // task's alone (the row blocks when they are split).
                    unsafe { block(kc, a, b, cols.clone(), tile) };
                }
            };
            if tasks == 1 {
                task(0, a_packs);
            } else {
                a_packs
                    .par_chunks_mut(share)
                    .enumerate()
                    .for_each(|(t, a)| task(t, a));
            }
        }
    }
}

/// The `t`-th of `parts` near-equal ranges of `0..len`.
fn part(len: usize, parts: usize, t: usize) -> std::ops::Range<usize> {
    (len * t / parts)..(len * (t + 1) / parts)
}

/// Element `(i, j)` of `mat` as the origin of a sub-matrix.
fn offset<P: Copy + Offset>(mat: Mat<P>, i: usize, j: usize) -> Mat<P> {
    Mat {
        ptr: mat.ptr.at(i as isize * mat.rs + j as isize * mat.cs),
        ..mat
    }
}

/// Pointer arithmetic that never dereferences (`wrapping_offset`); the
/// kernels read only the elements their contracts name.
trait Offset {
    fn at(self, by: isize) -> Self;
}

impl<T> Offset for *const T {
    fn at(self, by: isize) -> Self {
        self.wrapping_offset(by)
    }
}

impl<T> Offset for *mut T {
    fn at(self, by: isize) -> Self {
        self.wrapping_offset(by)
    }
}

/// Packs `mat` into `out` as panels `W` wide: panel `q` holds indices
/// `q*W..(q+1)*W` along `across` (`len` of them in all, the last panel
/// zero-padded), each for `steps` steps along `along`, its `W` elements of
/// a step contiguous. The right matrix packs its columns across and its
/// rows along (`W` = `NR`); the left its rows across and columns along
/// (`W` = `MR`).
///
/// # Safety
/// Every `mat.ptr + a*along + c*across` with `a < steps`, `c < len` is a
/// valid element.
unsafe fn pack<T: Element, const W: usize>(
    out: &mut [T],
    ptr: *const T,
    along: isize,
    across: isize,
    steps: usize,
    len: usize,
) {
    for (q, panel) in out.chunks_exact_mut(steps * W).enumerate() {
        let c0 = q * W;
        let width = W.min(len - c0);
        for (a, step) in panel.chunks_exact_mut(W).enumerate() {
            let base = ptr.wrapping_offset(a as isize * along + c0 as isize * across);
            for (c, x) in step[..width].iter_mut().enumerate() {
                // SAFETY: (a, c0 + c) is within steps×len, as the caller
                // promises.
                *x = unsafe { *base.offset(c as isize * across) };
            }
            step[width..].fill(T::ZERO);
        }
    }
}

/// Where a block's products go.
#[derive(Clone, Copy)]
struct Tile<T> {
    /// The result's element for the block's first row and column.
    dst: Mat<*mut T>,
    /// Rows of the block (of the result).
    rows: usize,
    /// Columns of the block.
    cols: usize,
    /// The block sums the first `KC` of `k`: the result is replaced (or
    /// scaled by `alpha` when `read`), not added to.
    first: bool,
    read: bool,
    alpha: T,
    beta: T,
}

/// A packed block's tiles in one instruction set's version.
type Block<T> = unsafe fn(usize, &[T], &[T], std::ops::Range<usize>, Tile<T>);

/// [`block`] compiled for `isa`.
fn block_version<T: Element, const MR: usize, const NR: usize>(isa: Isa) -> Block<T> {
    unsafe fn baseline<T: Element, const MR: usize, const NR: usize>(
        kc: usize,
        a: &[T],
        b: &[T],
        cols: std::ops::Range<usize>,
        tile: Tile<T>,
    ) {
        // SAFETY: the caller's contract is `block`'s.
        unsafe { block::<T, MR, NR>(kc, a, b, cols, tile) }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2<T: Element, const MR: usize, const NR: usize>(
        kc: usize,
        a: &[T],
        b: &[T],
        cols: std::ops::Range<usize>,
        tile: Tile<T>,
    ) {
        // SAFETY: the caller's contract is `block`'s (this version is only
        // handed out for a CPU with AVX2 and FMA).
        unsafe { block::<T, MR, NR>(kc, a, b, cols, tile) }
    }
    match isa {
        Isa::Baseline => baseline::<T, MR, NR>,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => avx2::<T, MR, NR>,
    }
}

/// The products of the packed left block `a` (panels of `MR` rows) and the
/// right panels `cols` of `b`, written to `tile`.
///
/// # Safety
/// `tile.rows`×`tile.cols` elements of `tile.dst` are valid and this call's
/// alone; `a` holds `tile.rows` rows and `b` `tile.cols` columns, packed
/// over `kc`.
#[inline(always)]
unsafe fn block<T: Element, const MR: usize, const NR: usize>(
    kc: usize,
    a: &[T],
    b: &[T],
    cols: std::ops::Range<usize>,
    tile: Tile<T>,
) {
    for q in cols {
        let j0 = q * NR;
        let bp = &b[q * kc * NR..(q + 1) * kc * NR];
        for (r, ap) in a.chunks_exact(kc * MR).enumerate() {
            let i0 = r * MR;
            let acc = micro::<T, MR, NR>(ap, bp);
            let height = MR.min(tile.rows - i0);
            let width = NR.min(tile.cols - j0);
            for (i, row) in acc.iter().enumerate().take(height) {
                let base = tile
                    .dst
                    .ptr
                    .wrapping_offset((i0 + i) as isize * tile.dst.rs + j0 as isize * tile.dst.cs);
                for (j, &x) in row.iter().enumerate().take(width) {
                    // SAFETY: (i0 + i, j0 + j) is within the tile, which is
                    // this call's alone.
                    let d = unsafe { &mut *base.offset(j as isize * tile.dst.cs) };
                    let x = tile.beta.mul(x);
                    *d = match (tile.first, tile.read) {
                        (true, false) => x,
                        (true, true) => tile.alpha.mul(*d).add(x),
                        (false, _) => d.add(x),
                    };
                }
            }
        }
    }
}

/// An `MR`×`NR` tile of products summed over a packed left panel (`MR`
/// elements per step of the sum) and right panel (`NR` per step).
#[inline(always)]
fn micro<T: Element, const MR: usize, const NR: usize>(a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, &x) in acc.iter_mut().zip(ap) {
            for (c, &y) in row.iter_mut().zip(bp) {
                *c = c.add(x.mul(y));
            }
        }
    }
    acc
}

/// `dst (+)= lhs·rhs` for a product too thin to pay for packing (fewer rows
/// than a register tile, or a few columns), without scratch memory: each
/// result row as row updates `dst[i, :] += lhs[i, p] * rhs[p, :]`, or each
/// element as a dot product, by the strided loops' vectorised leaves.
///
/// # Safety
/// As [`gemm_tiled`].
#[allow(clippy::too_many_arguments)]
unsafe fn skinny<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: Mat<*mut T>,
    read: bool,
    lhs: Mat<*const T>,
    rhs: Mat<*const T>,
) {
    if n < SKINNY_N {
        for i in 0..m {
            for j in 0..n {
                // SAFETY: row i of the left matrix and column j of the right
                // are k elements each, within the caller's contract; (i, j)
                // is a result element.
                unsafe {
                    let sum = T::narrow(super::reduce::dot(
                        offset(lhs, i, 0).ptr,
                        lhs.cs,
                        offset(rhs, 0, j).ptr,
                        rhs.rs,
                        k,
                    ));
                    let d = offset(dst, i, j).ptr;
                    *d = if read { (*d).add(sum) } else { sum };
                }
            }
        }
        return;
    }
    let row = super::strided::row_version::<T>(isa::detected());
    for i in 0..m {
        for p in 0..k {
            // SAFETY: result row i and right row p are n elements each,
            // and (i, p) one element of the left matrix (stride 0: the
            // same scalar times each element of the row), within the
            // caller's contract; the result's elements are distinct and
            // the caller's alone. `row` is this CPU's version.
            unsafe {
                row(
                    offset(dst, i, 0).ptr,
                    dst.cs,
                    offset(lhs, i, p).ptr,
                    0,
                    Some((offset(rhs, p, 0).ptr, rhs.cs)),
                    n,
                    p == 0 && !read,
                )
            };
        }
    }
}

/// `dst = alpha*dst` when `read`, else zero (a product over no `k`).
///
/// # Safety
/// As [`gemm_tiled`]'s for `dst`.
unsafe fn scale<T: Element>(m: usize, n: usize, dst: Mat<*mut T>, read: bool, alpha: T) {
    for i in 0..m {
        for j in 0..n {
            // SAFETY: (i, j) is within m×n, as the caller promises.
            let d = unsafe { &mut *dst.ptr.offset(i as isize * dst.rs + j as isize * dst.cs) };
            *d = if read { alpha.mul(*d) } else { T::ZERO };
        }
    }
}

/// The product by the plain triple loop, for when the packing buffers
/// cannot be had.
///
/// # Safety
/// As [`gemm_tiled`].
#[allow(clippy::too_many_arguments)]
unsafe fn naive<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: Mat<*mut T>,
    read: bool,
    lhs: Mat<*const T>,
    rhs: Mat<*const T>,
    alpha: T,
    beta: T,
) {
    for i in 0..m {
        for j in 0..n {
            let mut sum = T::ZERO;
            for p in 0..k {
                // SAFETY: (i, p) and (p, j) are within m×k and k×n.
                let (x, y) = unsafe {
                    (
                        *lhs.ptr.offset(i as isize * lhs.rs + p as isize * lhs.cs),
                        *rhs.ptr.offset(p as isize * rhs.rs + j as isize * rhs.cs),
                    )
                };
                sum = sum.add(x.mul(y));
            }
            // SAFETY: (i, j) is within m×n.
            let d = unsafe { &mut *dst.ptr.offset(i as isize * dst.rs + j as isize * dst.cs) };
            let x = beta.mul(sum);
            *d = if read { alpha.mul(*d).add(x) } else { x };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), values in -50..50.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> i64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % 100) as i64 - 50
        }
    }

    /// A `rows`×`cols` matrix with a gap after each row (or, when
    /// `transposed`, column), its rows backwards when `reversed`: the
    /// storage's length, the offset of element (0, 0), and the row and
    /// column strides.
    fn layout(
        rows: usize,
        cols: usize,
        transposed: bool,
        reversed: bool,
    ) -> (usize, isize, isize, isize) {
        let (rs, cs) = if transposed {
            (1isize, rows as isize + 3)
        } else {
            (cols as isize + 2, 1isize)
        };
        let len = (rows as isize * rs + cols as isize * cs) as usize + 4;
        if reversed {
            (len, rows.saturating_sub(1) as isize * rs, -rs, cs)
        } else {
            (len, 0, rs, cs)
        }
    }

    /// Checks `gemm_tiled` against the triple loop on `T`, for one shape and
    /// set of layouts.
    #[allow(clippy::too_many_arguments)]
    fn check<T: Element, const MR: usize, const NR: usize>(
        (m, n, k): (usize, usize, usize),
        layouts: [(bool, bool); 3],
        read: bool,
        alpha: T,
        beta: T,
        par: Parallelism,
        cast: impl Fn(i64) -> T,
        g: &mut Gen,
    ) {
        let make = |rows: usize, cols: usize, (t, r): (bool, bool), g: &mut Gen| {
            let (len, start, rs, cs) = layout(rows, cols, t, r);
            let data: Vec<T> = (0..len).map(|_| cast(g.next())).collect();
            (data, start, rs, cs)
        };
        let (a, a0, ars, acs) = make(m, k, layouts[0], g);
        let (b, b0, brs, bcs) = make(k, n, layouts[1], g);
        let (d, d0, drs, dcs) = make(m, n, layouts[2], g);
        let mut got = d.clone();
        let mut want = d;
        // SAFETY: the layouts hold every element their strides reach from
        // their starts (`layout` sizes them so), and the result's rows and
        // columns are distinct elements.
        unsafe {
            gemm_tiled::<T, MR, NR>(
                m,
                n,
                k,
                got.as_mut_ptr().offset(d0),
                dcs,
                drs,
                read,
                a.as_ptr().offset(a0),
                acs,
                ars,
                b.as_ptr().offset(b0),
                bcs,
                brs,
                alpha,
                beta,
                false,
                false,
                false,
                par,
            );
            naive(
                m,
                n,
                k,
                Mat {
                    ptr: want.as_mut_ptr().offset(d0),
                    rs: drs,
                    cs: dcs,
                },
                read,
                Mat {
                    ptr: a.as_ptr().offset(a0),
                    rs: ars,
                    cs: acs,
                },
                Mat {
                    ptr: b.as_ptr().offset(b0),
                    rs: brs,
                    cs: bcs,
                },
                alpha,
                beta,
            );
        }
        assert_eq!(
            got,
            want,
            "{} {m}x{n}x{k} {layouts:?} read {read} {par:?}",
            T::NAME
        );
    }

    /// Shapes around every blocking edge: single elements, partial
    /// register tiles, more than one `KC`, `MC` and `NC` block.
    #[cfg(not(miri))]
    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (1, 7, 3),
        (5, 1, 9),
        (3, 300, 40),
        (40, 3, 300),
        (7, 9, 0),
        (13, 17, 5),
        (97, 33, 257),
        (200, 1030, 20),
        (6, 2100, 300),
    ];
    /// Under Miri (which checks every pointer the kernel follows, a
    /// thousand times slower): each path (thin rows, thin columns, no
    /// `k`, packed with partial tiles) on every layout, for one type (five
    /// types with a second `KC` block ran over 20 minutes there).
    #[cfg(miri)]
    const SHAPES: &[(usize, usize, usize)] = &[(1, 7, 3), (5, 1, 9), (7, 9, 0), (13, 17, 5)];

    fn every_case<T: Element, const MR: usize, const NR: usize>(cast: impl Fn(i64) -> T + Copy) {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for &shape in SHAPES {
            for case in 0..4usize {
                let layouts = [
                    (case & 1 != 0, case == 3),
                    (case & 2 != 0, case == 1),
                    (case == 2, case == 3),
                ];
                let read = case % 2 == 0;
                // Scaled products always pack; unscaled thin ones (fewer
                // rows than MR, or columns than SKINNY_N) take the path
                // without scratch.
                for (alpha, beta) in [(1, 1), (3, -2)] {
                    for par in [
                        Parallelism::None,
                        Parallelism::Rayon(2),
                        Parallelism::Rayon(3),
                    ] {
                        check::<T, MR, NR>(
                            shape,
                            layouts,
                            read,
                            cast(alpha),
                            cast(beta),
                            par,
                            cast,
                            &mut g,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn products_equal_the_triple_loop_on_every_layout_and_blocking() {
        every_case::<i64, 4, 8>(|x| x);
        if cfg!(miri) {
            // One type is enough for the pointer checks (the others only
            // change the tile and the arithmetic).
            return;
        }
        every_case::<i32, 6, 16>(|x| x as i32);
        every_case::<u8, 4, 64>(|x| x as u8);
        every_case::<i16, 6, 32>(|x| x as i16);
        every_case::<bool, 4, 64>(|x| x > 0);
    }

    #[test]
    fn products_wrap_in_their_width() {
        let a = [i32::MAX, 2];
        let b = [2, i32::MAX];
        let mut d = [0i32];
        // SAFETY: a 1×2 times 2×1 product into one element.
        unsafe {
            gemm_tiled::<i32, 6, 16>(
                1,
                1,
                2,
                d.as_mut_ptr(),
                1,
                1,
                false,
                a.as_ptr(),
                1,
                2,
                b.as_ptr(),
                1,
                1,
                1,
                1,
                false,
                false,
                false,
                Parallelism::None,
            )
        };
        assert_eq!(d[0], i32::MAX.wrapping_mul(2).wrapping_mul(2));
    }

    #[test]
    fn both_instruction_sets_give_the_same_bits() {
        let best = isa::best();
        let mut g = Gen(7);
        let kc = 37;
        let a: Vec<i64> = (0..kc * 8).map(|_| g.next() * 1_000_000_007).collect();
        let b: Vec<i64> = (0..kc * 16).map(|_| g.next() * 998_244_353).collect();
        let run = |isa: Isa| {
            let mut out = vec![0i64; 8 * 16];
            let tile = Tile {
                dst: Mat {
                    ptr: out.as_mut_ptr(),
                    rs: 16,
                    cs: 1,
                },
                rows: 8,
                cols: 16,
                first: true,
                read: false,
                alpha: 1,
                beta: 1,
            };
            // SAFETY: `isa` runs on this CPU (`best`); the tile is `out`'s
            // 8×16 elements and the panels hold 8 rows and 16 columns.
            unsafe { block_version::<i64, 4, 8>(isa)(kc, &a, &b, 0..2, tile) };
            out
        };
        assert_eq!(run(Isa::Baseline), run(best));
    }
}
