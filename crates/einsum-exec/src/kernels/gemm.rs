//! Matrix products through the `gemm` crate, fed straight from strides.
//!
//! The fitted step says which loops are GEMM's m, n and k (with whatever
//! signed strides they have: transposed and reversed operands cost no copy),
//! which loops go around the call (`outer`) and which K loops the calls
//! accumulate over (`k_rest`). Here only the threading is decided: many
//! small products run as a parallel loop over the outer indices; a few
//! large ones use gemm's own threads.

use einsum_plan::fit::Gemm;
use rayon::prelude::*;

use super::strided::Bases;
use super::{Dim, Shared};
use crate::element::Element;
use crate::element::sealed::GemmKernel;
use crate::par::Accum;

/// m·n·k below which a product is small: batches of those run in parallel,
/// each product on one thread. Larger products also run one per thread when
/// there are many of them (at least four per thread): whole products
/// balance better than gemm's split of one 64x64x64 block.
const SMALL: usize = 1 << 18;

/// Runs a GEMM step.
///
/// # Safety
/// As [`super::strided::run`], for the offsets `step`'s loops reach: the
/// left input along m, k, `outer` and `k_rest`, the right along k, n,
/// `outer` and `k_rest`, the result along m, n and `outer`, distinct result
/// indices distinct elements; `bases.b` is `Some`.
pub(crate) unsafe fn run<T: Element>(
    step: &Gemm,
    bases: Bases<T>,
    accum: Accum,
    threads: usize,
    kernel: GemmKernel<T>,
) {
    let Some(b) = bases.b else { return };
    let (m, n, k) = (step.m, step.n, step.k);
    let kept = || [m, n].into_iter().chain(step.outer.iter().copied());
    if kept().any(|d| d.extent == 0) {
        return;
    }
    if k.extent == 0 || step.k_rest.iter().any(|d| d.extent == 0) {
        if accum == Accum::Replace {
            let dims: smallvec::SmallVec<[Dim; 8]> = kept().collect();
            // SAFETY: the caller's contract covers the result's offsets.
            unsafe { super::strided::fill_zero(&dims, bases.out) };
        }
        return;
    }
    let work = m.extent.saturating_mul(n.extent).saturating_mul(k.extent);
    let count: usize = step
        .outer
        .iter()
        .fold(1usize, |c, d| c.saturating_mul(d.extent));
    let ctx = Shared((bases, b));
    let call = |oa: isize, ob: isize, oo: isize, par: gemm::Parallelism| {
        let (bases, b) = ctx.get();
        let mut first = true;
        super::for_each_offset(&step.k_rest, |ka, kb, _| {
            let read = accum == Accum::Add || !first;
            first = false;
            // SAFETY: every offset is one the loops reach, within the
            // caller's contract; gemm reads m×k of the left, k×n of the
            // right and writes m×n of the result at the given strides.
            unsafe {
                kernel(
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
        // Each product writes its own block of the result. Tasks split the
        // longest outer loop; each walks the others (on the stack: a run
        // allocates nothing).
        let split = (0..step.outer.len())
            .max_by_key(|&j| step.outer[j].extent)
            .unwrap_or(0);
        let along = step.outer[split];
        let others: smallvec::SmallVec<[Dim; 8]> = step
            .outer
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != split)
            .map(|(_, d)| *d)
            .collect();
        (0..along.extent).into_par_iter().for_each(|i| {
            let i = i as isize;
            let (ba, bb, bo) = (along.a * i, along.b * i, along.out * i);
            super::for_each_offset(&others, |oa, ob, oo| {
                call(ba + oa, bb + ob, bo + oo, gemm::Parallelism::None)
            });
        });
    } else {
        let par = if threads > 1 && work >= SMALL {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        super::for_each_offset(&step.outer, |oa, ob, oo| call(oa, ob, oo, par));
    }
}
