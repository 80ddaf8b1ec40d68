//! Inner sums: pairwise accumulation, as numpy's sum loops do, so sums over
//! long axes stay accurate (error growing with log n, not n).

use crate::element::Element;

/// Elements summed by eight accumulators before halving kicks in.
const BLOCK: usize = 128;

/// `sum(a[i*sa] * b[i*sb] for i < n)`, pairwise.
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
) -> T {
    if n > BLOCK {
        let half = (n / 2) & !7;
        // SAFETY: both halves index within the caller's `n` elements.
        return unsafe {
            dot(a, sa, b, sb, half).add(dot(
                a.offset(sa * half as isize),
                sa,
                b.offset(sb * half as isize),
                sb,
                n - half,
            ))
        };
    }
    let mut acc = [T::ZERO; 8];
    if sa == 1 && sb == 1 {
        // SAFETY: with unit strides the caller's contract makes these slices.
        let (xs, ys) = unsafe {
            (
                std::slice::from_raw_parts(a, n),
                std::slice::from_raw_parts(b, n),
            )
        };
        let mut xc = xs.chunks_exact(8);
        let mut yc = ys.chunks_exact(8);
        for (x, y) in (&mut xc).zip(&mut yc) {
            for l in 0..8 {
                acc[l] = acc[l].add(x[l].mul(y[l]));
            }
        }
        for (l, (x, y)) in xc.remainder().iter().zip(yc.remainder()).enumerate() {
            acc[l] = acc[l].add(x.mul(*y));
        }
    } else {
        // Eight independent loads per round, so many cache misses are in
        // flight at once (a diagonal touches a new line, or page, each time).
        let mut i = 0;
        while i + 8 <= n {
            for (l, slot) in acc.iter_mut().enumerate() {
                let k = (i + l) as isize;
                // SAFETY: `i + l < n`, per the caller's contract.
                let (x, y) = unsafe { (*a.offset(sa * k), *b.offset(sb * k)) };
                *slot = slot.add(x.mul(y));
            }
            i += 8;
        }
        for (l, k) in (i..n).enumerate() {
            // SAFETY: `k < n`, per the caller's contract.
            let (x, y) = unsafe { (*a.offset(sa * k as isize), *b.offset(sb * k as isize)) };
            acc[l] = acc[l].add(x.mul(y));
        }
    }
    combine(acc)
}

/// `sum(a[i*sa] for i < n)`, pairwise.
///
/// # Safety
/// Every `a.offset(i * sa)` for `i < n` must be a valid element.
pub(crate) unsafe fn sum<T: Element>(a: *const T, sa: isize, n: usize) -> T {
    if n > BLOCK {
        let half = (n / 2) & !7;
        // SAFETY: both halves index within the caller's `n` elements.
        return unsafe { sum(a, sa, half).add(sum(a.offset(sa * half as isize), sa, n - half)) };
    }
    let mut acc = [T::ZERO; 8];
    if sa == 1 {
        // SAFETY: with a unit stride the caller's contract makes this a slice.
        let xs = unsafe { std::slice::from_raw_parts(a, n) };
        let mut xc = xs.chunks_exact(8);
        for x in &mut xc {
            for l in 0..8 {
                acc[l] = acc[l].add(x[l]);
            }
        }
        for (l, x) in xc.remainder().iter().enumerate() {
            acc[l] = acc[l].add(*x);
        }
    } else {
        // As in `dot`: eight independent loads per round.
        let mut i = 0;
        while i + 8 <= n {
            for (l, slot) in acc.iter_mut().enumerate() {
                // SAFETY: `i + l < n`, per the caller's contract.
                *slot = slot.add(unsafe { *a.offset(sa * (i + l) as isize) });
            }
            i += 8;
        }
        for (l, k) in (i..n).enumerate() {
            // SAFETY: `k < n`, per the caller's contract.
            acc[l] = acc[l].add(unsafe { *a.offset(sa * k as isize) });
        }
    }
    combine(acc)
}

fn combine<T: Element>(acc: [T; 8]) -> T {
    let a = acc[0].add(acc[1]).add(acc[2].add(acc[3]));
    let b = acc[4].add(acc[5]).add(acc[6].add(acc[7]));
    a.add(b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
