//! Inner sums: pairwise accumulation, as numpy's sum loops do, so sums over
//! long axes stay accurate (error growing with log n, not n).
//!
//! The halving is scalar control code; the blocks of at most [`PER_LANE`] x lanes
//! elements at its leaves are the loops that move the data, in the version
//! for this CPU's vector instructions ([`super::isa`]).

use super::isa::{self, versions};
use crate::element::{Element, MAX_LANES};

/// Elements summed by one leaf's accumulators before halving kicks in, per
/// accumulator.
const PER_LANE: usize = 16;

/// A dot leaf: `dot_block` in one instruction set's version.
type DotLeaf<T> = unsafe fn(*const T, isize, *const T, isize, usize) -> Acc<T>;
/// A sum leaf: `sum_block` in one instruction set's version.
type SumLeaf<T> = unsafe fn(*const T, isize, usize) -> Acc<T>;
/// An exact type's dot leaf (its accumulator is itself).
type ExactDotLeaf<T> = unsafe fn(*const T, isize, *const T, isize, usize) -> T;
/// An exact type's sum leaf.
type ExactSumLeaf<T> = unsafe fn(*const T, isize, usize) -> T;

/// What `T`'s sums accumulate in (`f32` for `f16`, else `T`).
pub(crate) type Acc<T> = <T as crate::element::sealed::Sealed>::Acc;

versions!(dot_leaf, dot_block, DotLeaf<T>, (a: *const T, sa: isize, b: *const T, sb: isize, n: usize) -> Acc<T>);
versions!(sum_leaf, sum_block, SumLeaf<T>, (a: *const T, sa: isize, n: usize) -> Acc<T>);
versions!(dot_exact_leaf, dot_exact, ExactDotLeaf<T>, (a: *const T, sa: isize, b: *const T, sb: isize, n: usize) -> T);
versions!(sum_exact_leaf, sum_exact, ExactSumLeaf<T>, (a: *const T, sa: isize, n: usize) -> T);

/// `sum(a[i*sa] * b[i*sb] for i < n)`, pairwise, in `T`'s accumulator
/// type (callers round it back with `T::narrow` where they store it).
///
/// # Safety
/// Every `a.offset(i * sa)` and `b.offset(i * sb)` for `i < n` must be a
/// valid element.
pub(crate) unsafe fn dot<T: Element>(
    a: *const T,
    sa: isize,
    b: *const T,
    sb: isize,
    n: usize,
) -> Acc<T> {
    if n > 0 && (sa == 0 || sb == 0) {
        // One side is one element (a broadcast operand): that element
        // times the other side's sum, as numpy's stride-0 loops compute it
        // (a strided walk re-reading one element ran 4x slower).
        let (one, rest, stride) = if sa == 0 { (a, b, sb) } else { (b, a, sa) };
        // SAFETY: `n > 0`, so element 0 of the stride-0 side is valid; the
        // other side is the caller's `n` elements.
        return unsafe { (*one).widen().mul(sum(rest, stride, n)) };
    }
    let isa = isa::detected();
    if T::EXACT {
        // SAFETY: the caller's contract; the version is this CPU's.
        return unsafe { dot_exact_leaf::<T>(isa)(a, sa, b, sb, n) }.widen();
    }
    // SAFETY: the caller's contract; the leaf is this CPU's version.
    unsafe { dot_tree(a, sa, b, sb, n, dot_leaf::<T>(isa)) }
}

/// [`dot`] with its blocks summed by `leaf`.
///
/// # Safety
/// As [`dot`], and `leaf` runs on this CPU.
unsafe fn dot_tree<T: Element>(
    a: *const T,
    sa: isize,
    b: *const T,
    sb: isize,
    n: usize,
    leaf: DotLeaf<T>,
) -> Acc<T> {
    if n > PER_LANE * T::LANES {
        let half = (n / 2) & !(T::LANES - 1);
        // SAFETY: both halves index within the caller's `n` elements.
        return unsafe {
            dot_tree(a, sa, b, sb, half, leaf).add(dot_tree(
                a.offset(sa * half as isize),
                sa,
                b.offset(sb * half as isize),
                sb,
                n - half,
                leaf,
            ))
        };
    }
    // SAFETY: the caller's contract, for at most `PER_LANE * T::LANES` elements.
    unsafe { leaf(a, sa, b, sb, n) }
}

/// The sum of `a[i*sa] * b[i*sb]` over a leaf's elements, by `T::LANES`
/// accumulators.
///
/// # Safety
/// As [`dot`].
#[inline(always)]
unsafe fn dot_block<T: Element>(
    a: *const T,
    sa: isize,
    b: *const T,
    sb: isize,
    n: usize,
) -> Acc<T> {
    let lanes = T::LANES;
    let mut acc = [Acc::<T>::ZERO; MAX_LANES];
    if sa == 1 && sb == 1 {
        // SAFETY: with unit strides the caller's contract makes these slices.
        let (xs, ys) = unsafe {
            (
                std::slice::from_raw_parts(a, n),
                std::slice::from_raw_parts(b, n),
            )
        };
        let mut xc = xs.chunks_exact(lanes);
        let mut yc = ys.chunks_exact(lanes);
        for (x, y) in (&mut xc).zip(&mut yc) {
            for l in 0..lanes {
                acc[l] = acc[l].add(x[l].widen().mul(y[l].widen()));
            }
        }
        for (l, (x, y)) in xc.remainder().iter().zip(yc.remainder()).enumerate() {
            acc[l] = acc[l].add(x.widen().mul(y.widen()));
        }
    } else {
        // Independent loads per round, so many cache misses are in flight
        // at once (a diagonal touches a new line, or page, each time).
        let mut i = 0;
        while i + lanes <= n {
            for (l, slot) in acc.iter_mut().take(lanes).enumerate() {
                let k = (i + l) as isize;
                // SAFETY: `i + l < n`, per the caller's contract.
                let (x, y) = unsafe { (*a.offset(sa * k), *b.offset(sb * k)) };
                *slot = slot.add(x.widen().mul(y.widen()));
            }
            i += lanes;
        }
        for (l, k) in (i..n).enumerate() {
            // SAFETY: `k < n`, per the caller's contract.
            let (x, y) = unsafe { (*a.offset(sa * k as isize), *b.offset(sb * k as isize)) };
            acc[l] = acc[l].add(x.widen().mul(y.widen()));
        }
    }
    combine(acc, lanes)
}

/// `sum(a[i*sa] for i < n)`, pairwise, in `T`'s accumulator type.
///
/// # Safety
/// Every `a.offset(i * sa)` for `i < n` must be a valid element.
pub(crate) unsafe fn sum<T: Element>(a: *const T, sa: isize, n: usize) -> Acc<T> {
    let isa = isa::detected();
    if T::EXACT {
        // SAFETY: the caller's contract; the version is this CPU's.
        return unsafe { sum_exact_leaf::<T>(isa)(a, sa, n) }.widen();
    }
    // SAFETY: the caller's contract; the leaf is this CPU's version.
    unsafe { sum_tree(a, sa, n, sum_leaf::<T>(isa)) }
}

/// [`sum`] with its blocks summed by `leaf`.
///
/// # Safety
/// As [`sum`], and `leaf` runs on this CPU.
unsafe fn sum_tree<T: Element>(a: *const T, sa: isize, n: usize, leaf: SumLeaf<T>) -> Acc<T> {
    if n > PER_LANE * T::LANES {
        let half = (n / 2) & !(T::LANES - 1);
        // SAFETY: both halves index within the caller's `n` elements.
        return unsafe {
            sum_tree(a, sa, half, leaf).add(sum_tree(
                a.offset(sa * half as isize),
                sa,
                n - half,
                leaf,
            ))
        };
    }
    // SAFETY: the caller's contract, for at most `PER_LANE * T::LANES` elements.
    unsafe { leaf(a, sa, n) }
}

/// The sum of `a[i*sa]` over a leaf's elements, by `T::LANES` accumulators.
///
/// # Safety
/// As [`sum`].
#[inline(always)]
unsafe fn sum_block<T: Element>(a: *const T, sa: isize, n: usize) -> Acc<T> {
    let lanes = T::LANES;
    let mut acc = [Acc::<T>::ZERO; MAX_LANES];
    if sa == 1 {
        // SAFETY: with a unit stride the caller's contract makes this a slice.
        let xs = unsafe { std::slice::from_raw_parts(a, n) };
        let mut xc = xs.chunks_exact(lanes);
        for x in &mut xc {
            for l in 0..lanes {
                acc[l] = acc[l].add(x[l].widen());
            }
        }
        for (l, x) in xc.remainder().iter().enumerate() {
            acc[l] = acc[l].add(x.widen());
        }
    } else {
        // As in `dot_block`: independent loads per round.
        let mut i = 0;
        while i + lanes <= n {
            for (l, slot) in acc.iter_mut().take(lanes).enumerate() {
                // SAFETY: `i + l < n`, per the caller's contract.
                *slot = slot.add(unsafe { *a.offset(sa * (i + l) as isize) }.widen());
            }
            i += lanes;
        }
        for (l, k) in (i..n).enumerate() {
            // SAFETY: `k < n`, per the caller's contract.
            acc[l] = acc[l].add(unsafe { *a.offset(sa * k as isize) }.widen());
        }
    }
    combine(acc, lanes)
}

/// [`dot`] for a type whose sums are exact in any order ([`Element`]'s
/// `EXACT`): with unit strides one plain reduction the compiler vectorises
/// as it likes; strided, [`dot_block`]'s independent loads over the whole
/// length.
///
/// # Safety
/// As [`dot`].
#[inline(always)]
unsafe fn dot_exact<T: Element>(a: *const T, sa: isize, b: *const T, sb: isize, n: usize) -> T {
    if !T::SATURATES {
        // SAFETY: the caller's contract.
        return unsafe { dot_exact_whole(a, sa, b, sb, n) };
    }
    // A sum that saturates (bool's `or` once true) stops there, checked
    // after each chunk: numpy's bool dot stops at the first true product,
    // and ran 6-10x faster than a full pass on random data.
    let mut acc = T::ZERO;
    let (mut i, mut chunk) = (0, FIRST_CHUNK);
    while i < n {
        let len = (n - i).min(chunk);
        chunk = (2 * chunk).min(SATURATION_CHUNK);
        let at = i as isize;
        // SAFETY: elements `i..i + len` of the caller's `n`.
        acc =
            acc.add(unsafe { dot_exact_whole(a.offset(sa * at), sa, b.offset(sb * at), sb, len) });
        if acc.saturated() {
            break;
        }
        i += len;
    }
    acc
}

/// Elements a saturating sum takes between checks: `FIRST_CHUNK`, then
/// twice as many each time up to `SATURATION_CHUNK` (random bool rows
/// saturate within a few elements; all-false ones pay a check per 512).
const SATURATION_CHUNK: usize = 512;
/// The first check's chunk.
const FIRST_CHUNK: usize = 16;

/// [`dot_exact`] over all `n` elements.
///
/// # Safety
/// As [`dot`].
#[inline(always)]
unsafe fn dot_exact_whole<T: Element>(
    a: *const T,
    sa: isize,
    b: *const T,
    sb: isize,
    n: usize,
) -> T {
    if sa == 1 && sb == 1 {
        // SAFETY: with unit strides the caller's contract makes these slices.
        let (xs, ys) = unsafe {
            (
                std::slice::from_raw_parts(a, n),
                std::slice::from_raw_parts(b, n),
            )
        };
        return xs
            .iter()
            .zip(ys)
            .fold(T::ZERO, |acc, (x, y)| acc.add(x.mul(*y)));
    }
    // SAFETY: the caller's contract.
    T::narrow(unsafe { dot_block(a, sa, b, sb, n) })
}

/// [`sum`] for a type whose sums are exact in any order, as [`dot_exact`].
///
/// # Safety
/// As [`sum`].
#[inline(always)]
unsafe fn sum_exact<T: Element>(a: *const T, sa: isize, n: usize) -> T {
    if !T::SATURATES {
        // SAFETY: the caller's contract.
        return unsafe { sum_exact_whole(a, sa, n) };
    }
    // As in `dot_exact`: stop once saturated.
    let mut acc = T::ZERO;
    let (mut i, mut chunk) = (0, FIRST_CHUNK);
    while i < n {
        let len = (n - i).min(chunk);
        chunk = (2 * chunk).min(SATURATION_CHUNK);
        // SAFETY: elements `i..i + len` of the caller's `n`.
        acc = acc.add(unsafe { sum_exact_whole(a.offset(sa * i as isize), sa, len) });
        if acc.saturated() {
            break;
        }
        i += len;
    }
    acc
}

/// [`sum_exact`] over all `n` elements.
///
/// # Safety
/// As [`sum`].
#[inline(always)]
unsafe fn sum_exact_whole<T: Element>(a: *const T, sa: isize, n: usize) -> T {
    if sa == 1 {
        // SAFETY: with a unit stride the caller's contract makes this a slice.
        let xs = unsafe { std::slice::from_raw_parts(a, n) };
        return xs.iter().fold(T::ZERO, |acc, x| acc.add(*x));
    }
    // SAFETY: the caller's contract.
    T::narrow(unsafe { sum_block(a, sa, n) })
}

/// The first `lanes` accumulators (a power of two) added pairwise: each
/// with the one `lanes / 2` further, then halving again.
#[inline(always)]
fn combine<T: Element>(mut acc: [T; MAX_LANES], lanes: usize) -> T {
    let mut width = lanes;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] = acc[l].add(acc[l + width]);
        }
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_gives_the_same_bits() {
        // The AVX2 leaves against the baseline ones (where the CPU has
        // AVX2; on others both are the baseline): floats of mixed signs and
        // magnitudes, unit, wide and negative strides, ragged lengths.
        let xs: Vec<f64> = (0..3000)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) * 1.37e-3 + (i as f64).sin())
            .collect();
        let ys: Vec<f32> = (0..3000)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.731)
            .collect();
        let best = isa::best();
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 1499] {
            for (start, stride) in [(0usize, 1isize), (0, 2), (2999, -2), (5, 1)] {
                // SAFETY: `n <= 1499` steps of at most 2 from `start` stay in 3000.
                unsafe {
                    let a = xs.as_ptr().add(start);
                    let b = ys.as_ptr().add(start);
                    let dots = [isa::Isa::Baseline, best]
                        .map(|v| dot_tree(a, stride, a, stride, n, dot_leaf::<f64>(v)).to_bits());
                    assert_eq!(dots[0], dots[1], "dot n={n} stride={stride}");
                    let sums = [isa::Isa::Baseline, best]
                        .map(|v| sum_tree(b, stride, n, sum_leaf::<f32>(v)).to_bits());
                    assert_eq!(sums[0], sums[1], "sum n={n} stride={stride}");
                }
            }
        }
    }

    #[test]
    fn sums_match_naive_sums_exactly_on_integers() {
        let xs: Vec<i64> = (0..1000).map(|i| i * 7 - 300).collect();
        let ys: Vec<i64> = (0..1000).map(|i| 5 - i).collect();
        let naive_dot: i64 = xs.iter().zip(&ys).map(|(x, y)| x * y).sum();
        // SAFETY: 1000 elements, unit and stride-2 walks stay inside.
        unsafe {
            assert_eq!(dot(xs.as_ptr(), 1, ys.as_ptr(), 1, 1000), naive_dot);
            assert_eq!(sum(xs.as_ptr(), 1, 1000), xs.iter().sum::<i64>());
            assert_eq!(sum(xs.as_ptr(), 2, 500), xs.iter().step_by(2).sum::<i64>());
            assert_eq!(
                dot(xs.as_ptr().add(999), -1, ys.as_ptr(), 1, 1000),
                xs.iter().rev().zip(&ys).map(|(x, y)| x * y).sum::<i64>()
            );
        }
    }

    #[test]
    fn exact_types_reduce_in_one_pass_in_every_version() {
        // 8-bit integers wrap many times over 5000 elements; bools sum as
        // `or`. Both versions, unit and strided walks, against folds.
        let xs: Vec<i8> = (0..5000).map(|i| (i * 37 % 251) as i8).collect();
        let ys: Vec<u8> = (0..5000).map(|i| (i * 91 % 253) as u8).collect();
        let bs: Vec<bool> = (0..5000).map(|i| i % 997 == 996).collect();
        for isa in [isa::Isa::Baseline, isa::best()] {
            for (stride, n) in [(1isize, 5000usize), (3, 1666), (1, 995)] {
                let walk = |k: usize| k * stride as usize;
                // SAFETY: `n` steps of `stride` stay inside 5000 elements.
                unsafe {
                    let d = dot_exact_leaf::<i8>(isa)(xs.as_ptr(), stride, xs.as_ptr(), stride, n);
                    let want = (0..n).fold(0i8, |a, k| {
                        a.wrapping_add(xs[walk(k)].wrapping_mul(xs[walk(k)]))
                    });
                    assert_eq!(d, want, "{isa:?} i8 dot stride {stride}");
                    let s = sum_exact_leaf::<u8>(isa)(ys.as_ptr(), stride, n);
                    let want = (0..n).fold(0u8, |a, k| a.wrapping_add(ys[walk(k)]));
                    assert_eq!(s, want, "{isa:?} u8 sum stride {stride}");
                    let any =
                        dot_exact_leaf::<bool>(isa)(bs.as_ptr(), stride, bs.as_ptr(), stride, n);
                    assert_eq!(
                        any,
                        (0..n).any(|k| bs[walk(k)]),
                        "{isa:?} bool stride {stride}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_broadcast_side_multiplies_the_other_sides_sum() {
        let xs: Vec<i64> = (0..1000).map(|i| i * 7 - 300).collect();
        let two = [3i64];
        let fs: Vec<f64> = xs.iter().map(|&x| x as f64 * 0.25).collect();
        // SAFETY: stride 0 reads element 0 only; 1000 elements otherwise.
        unsafe {
            let want: i64 = xs.iter().map(|x| 3 * x).sum();
            assert_eq!(dot(two.as_ptr(), 0, xs.as_ptr(), 1, 1000), want);
            assert_eq!(dot(xs.as_ptr(), 1, two.as_ptr(), 0, 1000), want);
            assert_eq!(dot(two.as_ptr(), 0, two.as_ptr(), 0, 5), 45);
            assert_eq!(dot(two.as_ptr(), 0, xs.as_ptr(), 1, 0), 0);
            let want: f64 = fs.iter().map(|x| -2.0 * x).sum();
            assert_eq!(dot([-2.0f64].as_ptr(), 0, fs.as_ptr(), 1, 1000), want);
            let bs = [false, false, true];
            assert!(dot([true].as_ptr(), 0, bs.as_ptr(), 1, 3));
            assert!(!dot([false].as_ptr(), 0, bs.as_ptr(), 1, 3));
        }
    }

    #[test]
    fn bool_sums_stop_at_the_first_true_chunk_and_not_before() {
        // One true element at each side of a chunk boundary, at the end,
        // or none; unit and strided walks, dots and sums.
        let n = 3 * SATURATION_CHUNK + 5;
        for at in [
            None,
            Some(0),
            Some(SATURATION_CHUNK - 1),
            Some(SATURATION_CHUNK),
            Some(n - 1),
        ] {
            let mut xs = vec![false; 2 * n];
            if let Some(k) = at {
                xs[k] = true;
                xs[2 * k] = true;
            }
            let ones = vec![true; 2 * n];
            for (stride, len) in [(1isize, n), (2, n)] {
                let want = (0..len).any(|k| xs[k * stride as usize]);
                // SAFETY: `len` steps of `stride` stay inside `2n` elements.
                unsafe {
                    assert_eq!(
                        dot(xs.as_ptr(), stride, ones.as_ptr(), 1, len),
                        want,
                        "{at:?} {stride}"
                    );
                    assert_eq!(sum(xs.as_ptr(), stride, len), want, "{at:?} {stride}");
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "10^7 elements: hours under Miri")]
    fn pairwise_beats_sequential_on_a_long_float_sum() {
        // 10^7 copies of 0.1 in f32: sequential summation drifts far off.
        let n = 10_000_000;
        let xs = vec![0.1f32; n];
        // SAFETY: n elements, unit stride.
        let pairwise = unsafe { sum(xs.as_ptr(), 1, n) } as f64;
        let sequential = xs.iter().fold(0.0f32, |a, &x| a + x) as f64;
        let exact = 0.1f32 as f64 * n as f64;
        assert!((pairwise - exact).abs() / exact < 1e-5, "{pairwise}");
        assert!((sequential - exact).abs() / exact > 1e-2, "{sequential}");
    }
}
