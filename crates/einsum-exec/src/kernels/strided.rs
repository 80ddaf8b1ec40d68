//! The strided loop engine: any step, one or two inputs, any strides.
//!
//! It runs copies, sums, elementwise and outer products, dots and
//! matrix-vector products, and every step without a better kernel, in the
//! loop order the fitted plan chose (`einsum_plan::fit::Order`) by where
//! memory is contiguous:
//!
//! - **inner sum** when the cheapest axis to walk is summed: each result
//!   element is a pairwise-accumulated dot or sum (`ij,ij->i`, `ij,j->i`);
//! - **accumulate** when it is a result axis: the result is zeroed, then
//!   rows are added into it with unit-stride loops the compiler vectorises
//!   (`ij->j`, `ij,i->j`, elementwise and outer products).
//!
//! Above a size threshold the outermost result dimension is split across
//! rayon tasks (disjoint outputs); a full reduction to one element splits
//! its outermost summed dimension into partial sums, added in a fixed order.

use rayon::prelude::*;

use einsum_plan::fit::{Loops, Order, TILE};

use super::isa::{self, versions};
use super::reduce::{Acc, dot, sum};
use super::{Dim, Shared, for_each_offset};
use crate::element::Element;
use crate::par::Accum;

/// Points (loop iterations) below which a step runs on one thread.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// A step's base pointers.
#[derive(Clone, Copy)]
pub(crate) struct Bases<T> {
    /// Left input.
    pub a: *const T,
    /// Right input, if the step has two.
    pub b: Option<*const T>,
    /// Result.
    pub out: *mut T,
}

/// Runs a step.
///
/// # Safety
/// Every offset `loops` reaches from each base must be a valid element:
/// inputs readable, result writable and touched by no other thread or
/// reference, distinct result indices distinct elements.
pub(crate) unsafe fn run<T: Element>(loops: &Loops, bases: Bases<T>, accum: Accum, threads: usize) {
    if loops.kept.iter().any(|d| d.extent == 0) {
        return;
    }
    if loops.summed.iter().any(|d| d.extent == 0) {
        if accum == Accum::Replace {
            // SAFETY: the caller's contract covers the result's offsets.
            unsafe { fill_zero(&loops.kept, bases.out) };
        }
        return;
    }
    let points: usize = loops
        .kept
        .iter()
        .chain(&loops.summed)
        .map(|d| d.extent)
        .product();
    let threads = if points >= PARALLEL_THRESHOLD {
        threads
    } else {
        1
    };
    let split = split_dim(loops);
    // Tasks that would cut the rows the loops stream along (the innermost
    // result dimension, when it is the one split) into pieces shorter than
    // `MIN_ROW_PIECE` take fewer, longer pieces: `ji,j->i` on 1024x1024
    // ran slower on two threads than on one with the rows cut in eight.
    let max_chunks = if split + 1 == loops.kept.len() && loops.order != Order::InnerSum {
        loops.kept[split].extent / MIN_ROW_PIECE
    } else {
        usize::MAX
    };
    if threads > 1 && !loops.kept.is_empty() && loops.kept[split].extent > 1 && max_chunks >= 2 {
        let outer = loops.kept[split];
        let chunks = (threads * 4).min(outer.extent).min(max_chunks);
        let shared = Shared(bases);
        (0..chunks).into_par_iter().for_each(|c| {
            let start = outer.extent * c / chunks;
            let end = outer.extent * (c + 1) / chunks;
            // This task's loops, on the stack (a run allocates nothing).
            let mut part: Dims = Dims::from_slice(&loops.kept);
            part[split].extent = end - start;
            let s = start as isize;
            let bases = shared.get();
            // SAFETY: this task's range of a result dimension is its own;
            // the offsets are a subset of the caller's.
            unsafe {
                let bases = Bases {
                    a: bases.a.offset(outer.a * s),
                    b: bases.b.map(|b| b.offset(outer.b * s)),
                    out: bases.out.offset(outer.out * s),
                };
                serial(&part, &loops.summed, loops.order, bases, accum);
            }
        });
    } else if threads > 1
        && loops.kept.is_empty()
        && !loops.summed.is_empty()
        && loops.summed[0].extent > 1
    {
        // A full reduction: partial sums over chunks of the outermost summed
        // dimension, added in chunk order.
        let outer = loops.summed[0];
        let chunks = (threads * 4).min(outer.extent).min(MAX_PARTIALS);
        let shared = Shared(bases);
        let chunk_sum = |c: usize| -> Acc<T> {
            let start = outer.extent * c / chunks;
            let end = outer.extent * (c + 1) / chunks;
            let mut part: Dims = Dims::from_slice(&loops.summed);
            part[0].extent = end - start;
            let s = start as isize;
            let bases = shared.get();
            // SAFETY: a subset of the caller's input offsets; nothing is written.
            unsafe {
                reduce_all(
                    &part,
                    bases.a.offset(outer.a * s),
                    bases.b.map(|b| b.offset(outer.b * s)),
                )
            }
        };
        let mut partials = [Acc::<T>::ZERO; MAX_PARTIALS];
        // A sum that saturates (bool's) mostly ends within its first
        // elements: the first chunk runs here before other threads wake
        // (a random bool dot of 4M elements took 47 µs on two threads and
        // 4 µs on one).
        let first = if T::SATURATES {
            partials[0] = chunk_sum(0);
            if T::narrow(partials[0]).saturated() {
                // SAFETY: a scalar result: its base is its one element.
                unsafe { write_acc(bases.out, partials[0], accum) };
                return;
            }
            1
        } else {
            0
        };
        partials[first..chunks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, partial)| *partial = chunk_sum(first + c));
        let total = partials[..chunks]
            .iter()
            .fold(Acc::<T>::ZERO, |t, &p| t.add(p));
        // SAFETY: a scalar result: its base is its one element.
        unsafe { write_acc(bases.out, total, accum) };
    } else {
        // SAFETY: the caller's contract.
        unsafe { serial(&loops.kept, &loops.summed, loops.order, bases, accum) };
    }
}

/// Elements of a streamed row below which parallel tasks do not cut it.
const MIN_ROW_PIECE: usize = 1024;

/// Loops of one task, inline.
type Dims = smallvec::SmallVec<[Dim; 8]>;

/// At most this many partial sums in a parallel full reduction (inline).
const MAX_PARTIALS: usize = 64;

/// Which result dimension parallel tasks split: the outermost, except for
/// a transposing copy, which splits a dimension its tiles do not cover (the
/// outermost would hand each task a narrow slice of every input row, and
/// two threads ran slower than one).
fn split_dim(loops: &Loops) -> usize {
    let Order::Transpose { x, inner } = loops.order else {
        return 0;
    };
    (0..loops.kept.len())
        .filter(|&k| k != x && k != inner && loops.kept[k].extent > 1)
        .max_by_key(|&k| loops.kept[k].extent)
        .unwrap_or(0)
}

/// Runs a step on this thread.
///
/// # Safety
/// As [`run`].
unsafe fn serial<T: Element>(
    kept: &[Dim],
    summed: &[Dim],
    order: Order,
    bases: Bases<T>,
    accum: Accum,
) {
    if order == Order::InnerSum {
        for_each_offset(kept, |oa, ob, oo| {
            // SAFETY: offsets within the caller's contract.
            unsafe {
                let value = reduce_all(summed, bases.a.offset(oa), bases.b.map(|b| b.offset(ob)));
                write_acc(bases.out.offset(oo), value, accum);
            }
        });
        return;
    }
    if let Order::Transpose { x, inner } = order
        && bases.b.is_none()
    {
        // SAFETY: the caller's contract.
        unsafe { transpose(kept, x, inner, bases.a, bases.out, accum) };
        return;
    }
    // Accumulate: rows along the innermost result dimension, the summed
    // dimensions outermost. A replaced result is assigned by the first
    // summed point (every result row is written once there) and added to
    // by the rest, so it is never zeroed first.
    let (inner, outer_kept) = match kept.split_last() {
        Some((inner, rest)) => (*inner, rest),
        None => (Dim::ONE, &[][..]),
    };
    let row = row_version::<T>(isa::detected());
    let rows = |sa: isize, sb: isize, assign: bool| {
        for_each_offset(outer_kept, |oa, ob, oo| {
            // SAFETY: offsets within the caller's contract (a summed point's
            // offsets plus a result row's); the row stays inside the
            // result's innermost dimension; `row` is the version
            // `isa::detected` chose for this CPU.
            unsafe {
                row(
                    bases.out.offset(oo),
                    inner.out,
                    bases.a.offset(sa + oa),
                    inner.a,
                    bases.b.map(|b| (b.offset(sb + ob), inner.b)),
                    inner.extent,
                    assign,
                )
            };
        });
    };
    let mut first = accum == Accum::Replace;
    // `run` returned early for an empty summed dimension, so the first
    // summed point exists.
    let Some((pair_dim, outer_summed)) = summed.split_last() else {
        rows(0, 0, first);
        return;
    };
    // Neighbouring summed points along the innermost summed loop are added
    // two at a time (each result element takes them in the same order, so
    // the same bits; half the passes over the result, two input streams).
    let row2 = row2_version::<T>(isa::detected());
    let rows2 = |sa: isize, sb: isize, assign: bool| {
        for_each_offset(outer_kept, |oa, ob, oo| {
            let a0 = bases.a.wrapping_offset(sa + oa);
            let b = bases.b.map(|b| {
                let b0 = b.wrapping_offset(sb + ob);
                ([b0, b0.wrapping_offset(pair_dim.b)], inner.b)
            });
            // SAFETY: as for `rows`, at two neighbouring summed points, both
            // within the caller's contract (`rows2` is only called with a
            // next point); `row2` is the version `isa::detected` chose.
            unsafe {
                row2(
                    bases.out.offset(oo),
                    inner.out,
                    [a0, a0.wrapping_offset(pair_dim.a)],
                    inner.a,
                    b,
                    inner.extent,
                    assign,
                )
            };
        });
    };
    for_each_offset(outer_summed, |sa, sb, _| {
        let mut j = 0;
        while j + 2 <= pair_dim.extent {
            let jj = j as isize;
            rows2(sa + pair_dim.a * jj, sb + pair_dim.b * jj, first);
            first = false;
            j += 2;
        }
        if j < pair_dim.extent {
            let jj = j as isize;
            rows(sa + pair_dim.a * jj, sb + pair_dim.b * jj, first);
            first = false;
        }
    });
}

/// Two row updates in one pass: `row2` in one instruction set's version.
type Row2Fn<T> =
    unsafe fn(*mut T, isize, [*const T; 2], isize, Option<([*const T; 2], isize)>, usize, bool);

versions!(row2_version, row2, Row2Fn<T>, (out: *mut T, so: isize, a: [*const T; 2], sa: isize, b: Option<([*const T; 2], isize)>, n: usize, assign: bool) -> ());

/// `row(out, a[0], b[0])` then `row(out, a[1], b[1])` (the second adding),
/// in one pass over `out`: each element takes the same two operations in
/// the same order.
///
/// # Safety
/// As [`row`], for both inputs.
#[inline(always)]
unsafe fn row2<T: Element>(
    out: *mut T,
    so: isize,
    a: [*const T; 2],
    sa: isize,
    b: Option<([*const T; 2], isize)>,
    n: usize,
    assign: bool,
) {
    let first = |o: T, v: T| if assign { v } else { o.add(v) };
    match b {
        Some((b, 0)) if so == 1 && sa == 1 => {
            // Two rows scaled by two scalars (a matrix-vector product whose
            // summed axis leads).
            // SAFETY: unit strides: the caller's contract makes these
            // slices; the result is exclusive; `b`'s are one element each.
            let (o, x0, x1, y0, y1) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a[0], n),
                    std::slice::from_raw_parts(a[1], n),
                    *b[0],
                    *b[1],
                )
            };
            if assign {
                for ((o, x0), x1) in o.iter_mut().zip(x0).zip(x1) {
                    *o = x0.mul(y0).add(x1.mul(y1));
                }
            } else {
                for ((o, x0), x1) in o.iter_mut().zip(x0).zip(x1) {
                    *o = o.add(x0.mul(y0)).add(x1.mul(y1));
                }
            }
        }
        Some((b, 1)) if so == 1 && sa == 1 => {
            // SAFETY: unit strides, as above.
            let (o, x0, x1, y0, y1) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a[0], n),
                    std::slice::from_raw_parts(a[1], n),
                    std::slice::from_raw_parts(b[0], n),
                    std::slice::from_raw_parts(b[1], n),
                )
            };
            for i in 0..n {
                o[i] = first(o[i], x0[i].mul(y0[i])).add(x1[i].mul(y1[i]));
            }
        }
        Some((b, 1)) if so == 1 && sa == 0 => {
            // SAFETY: as above; `a`'s are one element each.
            let (o, x0, x1, y0, y1) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    *a[0],
                    *a[1],
                    std::slice::from_raw_parts(b[0], n),
                    std::slice::from_raw_parts(b[1], n),
                )
            };
            for i in 0..n {
                o[i] = first(o[i], x0.mul(y0[i])).add(x1.mul(y1[i]));
            }
        }
        None if so == 1 && sa == 1 => {
            // Two rows added (a sum over the leading axis).
            // SAFETY: unit strides, as above.
            let (o, x0, x1) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a[0], n),
                    std::slice::from_raw_parts(a[1], n),
                )
            };
            for i in 0..n {
                o[i] = first(o[i], x0[i]).add(x1[i]);
            }
        }
        Some((b, sb)) => {
            for i in 0..n as isize {
                // SAFETY: `i < n`, per the caller's contract.
                unsafe {
                    let o = out.offset(so * i);
                    let v0 = (*a[0].offset(sa * i)).mul(*b[0].offset(sb * i));
                    let v1 = (*a[1].offset(sa * i)).mul(*b[1].offset(sb * i));
                    *o = first(*o, v0).add(v1);
                }
            }
        }
        None => {
            for i in 0..n as isize {
                // SAFETY: `i < n`, per the caller's contract.
                unsafe {
                    let o = out.offset(so * i);
                    *o = first(*o, *a[0].offset(sa * i)).add(*a[1].offset(sa * i));
                }
            }
        }
    }
}

/// The sum over `dims` of `a * b` (or of `a`), in `T`'s accumulator type.
///
/// # Safety
/// Every offset `dims` reaches from `a` and `b` is a valid element.
unsafe fn reduce_all<T: Element>(dims: &[Dim], a: *const T, b: Option<*const T>) -> Acc<T> {
    let Some((inner, outer)) = dims.split_last() else {
        // SAFETY: no dims: the one element at each base.
        return unsafe { b.map_or((*a).widen(), |b| (*a).widen().mul((*b).widen())) };
    };
    let mut total = Acc::<T>::ZERO;
    for_each_offset(outer, |oa, ob, _| {
        // SAFETY: offsets within the caller's contract.
        let part = unsafe {
            match b {
                Some(b) => dot(a.offset(oa), inner.a, b.offset(ob), inner.b, inner.extent),
                None => sum(a.offset(oa), inner.a, inner.extent),
            }
        };
        total = total.add(part);
    });
    total
}

/// A row update: `row` in one instruction set's version.
type RowFn<T> = unsafe fn(*mut T, isize, *const T, isize, Option<(*const T, isize)>, usize, bool);

versions!(row_version, row, RowFn<T>, (out: *mut T, so: isize, a: *const T, sa: isize, b: Option<(*const T, isize)>, n: usize, assign: bool) -> ());

/// `out[i] = a[i] * b[i]` (`assign`) or `out[i] += a[i] * b[i]`, over `n`.
///
/// # Safety
/// The `n` strided elements from each pointer are valid; `out`'s are
/// writable and distinct.
#[inline(always)]
unsafe fn row<T: Element>(
    out: *mut T,
    so: isize,
    a: *const T,
    sa: isize,
    b: Option<(*const T, isize)>,
    n: usize,
    assign: bool,
) {
    match b {
        Some((b, sb)) if so == 1 && sa == 1 && sb == 1 => {
            // SAFETY: unit strides: the caller's contract makes these slices,
            // and the result does not overlap the inputs (it is exclusive).
            let (o, x, y) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a, n),
                    std::slice::from_raw_parts(b, n),
                )
            };
            if assign {
                for ((o, x), y) in o.iter_mut().zip(x).zip(y) {
                    *o = x.mul(*y);
                }
            } else {
                for ((o, x), y) in o.iter_mut().zip(x).zip(y) {
                    *o = o.add(x.mul(*y));
                }
            }
        }
        Some((b, sb)) if so == 1 && sb == 1 && sa == 0 => {
            // A scalar times a row: `out += x * b` (axpy).
            // SAFETY: as above; `a` is one element.
            let (o, x, y) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    *a,
                    std::slice::from_raw_parts(b, n),
                )
            };
            if assign {
                for (o, y) in o.iter_mut().zip(y) {
                    *o = x.mul(*y);
                }
            } else {
                for (o, y) in o.iter_mut().zip(y) {
                    *o = o.add(x.mul(*y));
                }
            }
        }
        Some((b, sb)) if so == 1 && sa == 1 && sb == 0 => {
            // SAFETY: as above; `b` is one element.
            let (o, x, y) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a, n),
                    *b,
                )
            };
            if assign {
                for (o, x) in o.iter_mut().zip(x) {
                    *o = x.mul(y);
                }
            } else {
                for (o, x) in o.iter_mut().zip(x) {
                    *o = o.add(x.mul(y));
                }
            }
        }
        Some((b, sb)) => {
            for i in 0..n as isize {
                // SAFETY: `i < n`, per the caller's contract.
                unsafe {
                    let v = (*a.offset(sa * i)).mul(*b.offset(sb * i));
                    let o = out.offset(so * i);
                    *o = if assign { v } else { (*o).add(v) };
                }
            }
        }
        None if so == 1 && sa == 1 => {
            // SAFETY: unit strides, as above.
            let (o, x) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out, n),
                    std::slice::from_raw_parts(a, n),
                )
            };
            if assign {
                o.copy_from_slice(x);
            } else {
                for (o, x) in o.iter_mut().zip(x) {
                    *o = o.add(*x);
                }
            }
        }
        None => {
            for i in 0..n as isize {
                // SAFETY: `i < n`, per the caller's contract.
                unsafe {
                    let v = *a.offset(sa * i);
                    let o = out.offset(so * i);
                    *o = if assign { v } else { (*o).add(v) };
                }
            }
        }
    }
}

/// Copies (or adds) a one-input step whose input and result run along
/// different dimensions, through square tiles of those two dimensions, so
/// both sides touch whole cache lines (a plain loop reads one element per
/// line, or per page, on one side).
///
/// # Safety
/// As [`serial`]: every offset `kept` reaches from `a` and `out` is valid,
/// `out`'s exclusive.
unsafe fn transpose<T: Element>(
    kept: &[Dim],
    x: usize,
    inner: usize,
    a: *const T,
    out: *mut T,
    accum: Accum,
) {
    let (dx, di) = (kept[x], kept[inner]);
    let rest: smallvec::SmallVec<[Dim; 8]> = kept
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != x && k != inner)
        .map(|(_, d)| *d)
        .collect();
    // Each tile goes through a buffer: read in bursts along the input's
    // contiguous dimension, written in bursts along the result's. With
    // power-of-two strides the tile's lines share cache sets, so a line
    // must be used whole the moment it is touched.
    let mut buf = [T::ZERO; TILE * TILE];
    for_each_offset(&rest, |oa, _, oo| {
        for x0 in (0..dx.extent).step_by(TILE) {
            let nx = (x0 + TILE).min(dx.extent) - x0;
            for i0 in (0..di.extent).step_by(TILE) {
                let ni = (i0 + TILE).min(di.extent) - i0;
                let (ta, to) = (
                    oa + x0 as isize * dx.a + i0 as isize * di.a,
                    oo + x0 as isize * dx.out + i0 as isize * di.out,
                );
                if dx.a == 1 && di.out == 1 && accum == Accum::Replace {
                    // The common case: the input contiguous along x and the
                    // result along i, replaced: whole rows in, whole rows
                    // out, no per-element branch.
                    for i in 0..ni {
                        // SAFETY: the `nx` elements from this row's start
                        // are `x0..x0 + nx` along x, within the extent;
                        // the other offsets are indices of the checked
                        // shapes (`for_each_offset`).
                        let src = unsafe {
                            std::slice::from_raw_parts(a.offset(ta + i as isize * di.a), nx)
                        };
                        buf[i * TILE..i * TILE + nx].copy_from_slice(src);
                    }
                    for x in 0..nx {
                        // SAFETY: as above, for the result's `ni` elements
                        // along i; the result is exclusive and its distinct
                        // indices are distinct elements.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(out.offset(to + x as isize * dx.out), ni)
                        };
                        for (i, d) in dst.iter_mut().enumerate() {
                            *d = buf[i * TILE + x];
                        }
                    }
                    continue;
                }
                for i in 0..ni {
                    let row = ta + i as isize * di.a;
                    for x in 0..nx {
                        // SAFETY: `x0 + x` and `i0 + i` are within their
                        // extents; the other dimensions' offsets come from
                        // `for_each_offset`: indices of the checked shapes.
                        buf[i * TILE + x] = unsafe { *a.offset(row + x as isize * dx.a) };
                    }
                }
                for x in 0..nx {
                    let row = to + x as isize * dx.out;
                    for i in 0..ni {
                        // SAFETY: as above, for the result.
                        unsafe {
                            let o = out.offset(row + i as isize * di.out);
                            let v = buf[i * TILE + x];
                            *o = match accum {
                                Accum::Replace => v,
                                Accum::Add => (*o).add(v),
                            };
                        }
                    }
                }
            }
        }
    });
}

/// Writes or adds one result element from an accumulator, rounding once.
///
/// # Safety
/// `out` is a valid, exclusive element.
unsafe fn write_acc<T: Element>(out: *mut T, value: Acc<T>, accum: Accum) {
    // SAFETY: the caller's contract.
    unsafe {
        *out = T::narrow(match accum {
            Accum::Replace => value,
            Accum::Add => (*out).widen().add(value),
        })
    }
}

/// Sets every element `dims` reaches from `out` to zero.
///
/// # Safety
/// Those elements are valid and exclusive.
pub(crate) unsafe fn fill_zero<T: Element>(dims: &[Dim], out: *mut T) {
    for_each_offset(dims, |_, _, oo| {
        // SAFETY: the caller's contract.
        unsafe { *out.offset(oo) = T::ZERO };
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sum(a[i, j] * b[i, j])` over a 64 x 1024 block on `threads`
    /// threads: a full reduction, split across tasks when `threads > 1`.
    fn full<T: Element>(a: &[T], b: &[T], threads: usize) -> T {
        let loops = Loops {
            kept: Vec::new(),
            summed: vec![
                Dim {
                    extent: 64,
                    a: 1024,
                    b: 1024,
                    ..Dim::ONE
                },
                Dim {
                    extent: 1024,
                    a: 1,
                    b: 1,
                    ..Dim::ONE
                },
            ],
            order: Order::InnerSum,
        };
        let mut out = [T::ZERO];
        let bases = Bases {
            a: a.as_ptr(),
            b: Some(b.as_ptr()),
            out: out.as_mut_ptr(),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let shared = Shared(bases);
        // SAFETY: both inputs hold 64 x 1024 elements at these strides; the
        // result is one element of our own.
        pool.install(|| unsafe { run(&loops, shared.get(), Accum::Replace, threads) });
        out[0]
    }

    #[test]
    #[cfg_attr(miri, ignore = "65,536 elements on a thread pool: slow under Miri")]
    fn full_reductions_agree_on_one_and_two_threads() {
        let n = 64 * 1024;
        // bool: true in the first task's chunk, in the last only, nowhere.
        let ones = vec![true; n];
        for at in [Some(3), Some(n - 1), None] {
            let mut xs = vec![false; n];
            if let Some(k) = at {
                xs[k] = true;
            }
            for threads in [1, 2] {
                assert_eq!(
                    full(&xs, &ones, threads),
                    at.is_some(),
                    "{at:?} on {threads}"
                );
            }
        }
        let xs: Vec<i64> = (0..n as i64).map(|i| i % 7 - 3).collect();
        let want: i64 = xs.iter().map(|x| x * x).sum();
        assert_eq!(full(&xs, &xs, 1), want);
        assert_eq!(full(&xs, &xs, 2), want);
    }
}
