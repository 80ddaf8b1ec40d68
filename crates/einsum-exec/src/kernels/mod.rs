//! The kernels: the only code that dereferences the views' pointers.
//!
//! Every kernel takes base pointers and loop dimensions whose offsets were
//! validated when the views were built ([`crate::StridedView::new`] checks
//! that every index lands in the data) or when the workspace was sized (a
//! temporary's C-order strides cover exactly its buffer). Each `unsafe` block
//! names that validation.

pub(crate) mod gemm;
pub(crate) mod reduce;
pub(crate) mod strided;

use crate::step::Dim;

/// A pointer that may cross to rayon's threads.
///
/// Threads either only read through it, or write through it to disjoint
/// elements (each task owns a distinct range of the result's outermost
/// dimension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shared<P>(pub P);

// SAFETY: `Shared` is used only as documented above: shared reads of inputs
// that nothing writes during a step, and writes to disjoint output elements.
unsafe impl<P> Send for Shared<P> {}
// SAFETY: as above.
unsafe impl<P> Sync for Shared<P> {}

impl<P: Copy> Shared<P> {
    /// The pointer(s). A method, so closures capture the whole `Shared`
    /// (closures capture disjoint fields, which would capture the raw
    /// pointer itself).
    pub(crate) fn get(&self) -> P {
        self.0
    }
}

/// Calls `f(a, b, out)` with the element offsets of every index of `dims`
/// (outermost first), in order. Nothing when some extent is 0.
pub(crate) fn for_each_offset(dims: &[Dim], mut f: impl FnMut(isize, isize, isize)) {
    if dims.iter().any(|d| d.extent == 0) {
        return;
    }
    let mut index: smallvec::SmallVec<[usize; 8]> = smallvec::smallvec![0; dims.len()];
    let (mut a, mut b, mut out) = (0isize, 0isize, 0isize);
    loop {
        f(a, b, out);
        let mut k = dims.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            let d = dims[k];
            index[k] += 1;
            a = a.wrapping_add(d.a);
            b = b.wrapping_add(d.b);
            out = out.wrapping_add(d.out);
            if index[k] < d.extent {
                break;
            }
            let back = d.extent as isize;
            a = a.wrapping_sub(d.a.wrapping_mul(back));
            b = b.wrapping_sub(d.b.wrapping_mul(back));
            out = out.wrapping_sub(d.out.wrapping_mul(back));
            index[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_walk_in_c_order() {
        let dims = [
            Dim {
                extent: 2,
                a: 3,
                b: 0,
                out: 10,
            },
            Dim {
                extent: 3,
                a: 1,
                b: 5,
                out: 1,
            },
        ];
        let mut seen = Vec::new();
        for_each_offset(&dims, |a, b, o| seen.push((a, b, o)));
        assert_eq!(
            seen,
            [
                (0, 0, 0),
                (1, 5, 1),
                (2, 10, 2),
                (3, 0, 10),
                (4, 5, 11),
                (5, 10, 12)
            ]
        );
        let mut count = 0;
        for_each_offset(&[], |_, _, _| count += 1);
        assert_eq!(count, 1);
        for_each_offset(
            &[Dim {
                extent: 0,
                a: 1,
                b: 1,
                out: 1,
            }],
            |_, _, _| count += 1,
        );
        assert_eq!(count, 1);
    }
}
