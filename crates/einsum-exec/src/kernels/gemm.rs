//! Matrix products through the `gemm` crate, fed straight from strides.
//!
//! Each loop dimension of the step gets its BLAS role from where it has a
//! stride: in both inputs and the result (batch), the left and the result
//! (M), the right and the result (N), both inputs only (K). The longest M, N
//! and K dimensions become the GEMM's m, n and k, with whatever strides they
//! have (gemm takes any signed strides, so transposed and reversed operands
//! cost no copy); every other dimension is a loop around the call, the K
//! ones accumulating. Many small products run as a parallel loop over the
//! batch; a few large ones use gemm's own threads.

use rayon::prelude::*;

use super::Shared;
use super::strided::Bases;
use crate::element::Element;
use crate::par::Accum;
use crate::step::{Dim, Loops};

/// m·n·k below which a product is small: batches of those run in parallel,
/// each product on one thread. Larger products also run one per thread when
/// there are many of them (at least four per thread): whole products
/// balance better than gemm's split of one 64x64x64 block.
const SMALL: usize = 1 << 18;

/// A few loop dimensions, inline (a step runs without allocating).
type DimList = smallvec::SmallVec<[Dim; 8]>;

/// Runs a two-input step as GEMM calls.
///
/// # Safety
/// As [`super::strided::run`]; `T::GEMM` must hold and `bases.b` be `Some`.
pub(crate) unsafe fn run<T: Element>(loops: &Loops, bases: Bases<T>, accum: Accum, threads: usize) {
    assert!(
        T::GEMM,
        "gemm kernels exist for floats and complex numbers only"
    );
    let b = bases.b.expect("a matrix product has two inputs");
    if loops.kept.iter().any(|d| d.extent == 0) {
        return;
    }
    if loops.summed.iter().any(|d| d.extent == 0) {
        if accum == Accum::Replace {
            // SAFETY: the caller's contract covers the result's offsets.
            unsafe { super::strided::fill_zero(&loops.kept, bases.out) };
        }
        return;
    }
    let longest = |dims: DimList| -> (Dim, DimList) {
        let Some(best) = (0..dims.len()).max_by_key(|&i| (dims[i].extent, std::cmp::Reverse(i)))
        else {
            return (
                Dim {
                    extent: 1,
                    a: 0,
                    b: 0,
                    out: 0,
                },
                dims,
            );
        };
        let mut rest = dims;
        let chosen = rest.remove(best);
        (chosen, rest)
    };
    let m_dims: DimList = loops
        .kept
        .iter()
        .copied()
        .filter(|d| d.a != 0 && d.b == 0)
        .collect();
    let n_dims: DimList = loops
        .kept
        .iter()
        .copied()
        .filter(|d| d.a == 0 && d.b != 0)
        .collect();
    let batch: DimList = loops
        .kept
        .iter()
        .copied()
        .filter(|d| (d.a == 0) == (d.b == 0))
        .collect();
    let (m, m_rest) = longest(m_dims);
    let (n, n_rest) = longest(n_dims);
    let (k, k_rest) = longest(DimList::from_slice(&loops.summed));
    let mut outer = batch;
    outer.extend(m_rest);
    outer.extend(n_rest);

    let work = m.extent.saturating_mul(n.extent).saturating_mul(k.extent);
    let count: usize = outer.iter().map(|d| d.extent).product();
    let ctx = Shared((bases, b));
    let call = |oa: isize, ob: isize, oo: isize, par: gemm::Parallelism| {
        let (bases, b) = ctx.get();
        let mut first = true;
        super::for_each_offset(&k_rest, |ka, kb, _| {
            let read = accum == Accum::Add || !first;
            first = false;
            // SAFETY: every offset is one the loops reach, within the
            // caller's contract; gemm reads m×k of the left, k×n of the
            // right and writes m×n of the result at the given strides.
            unsafe {
                gemm::gemm(
                    m.extent,
                    n.extent,
                    k.extent,
                    bases.out.offset(oo),
                    n.out,
                    m.out,
                    read,
                    bases.a.offset(oa + ka),
                    k.a,
                    m.a,
                    b.offset(ob + kb),
                    n.b,
                    k.b,
                    T::ONE,
                    T::ONE,
                    false,
                    false,
                    false,
                    par,
                )
            };
        });
    };
    if threads > 1 && count >= threads && (work < SMALL || count >= 4 * threads) {
        // Each product writes its own block of the result.
        offsets(&outer)
            .par_iter()
            .for_each(|&(oa, ob, oo)| call(oa, ob, oo, gemm::Parallelism::None));
    } else {
        let par = if threads > 1 && work >= SMALL {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        super::for_each_offset(&outer, |oa, ob, oo| call(oa, ob, oo, par));
    }
}

fn offsets(dims: &[Dim]) -> Vec<(isize, isize, isize)> {
    let mut out = Vec::new();
    super::for_each_offset(dims, |a, b, o| out.push((a, b, o)));
    out
}
