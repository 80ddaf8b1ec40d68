//! Strided views: a pointer, a shape and signed element strides.
//!
//! Other array libraries hand their memory to the executor through these.
//! The safe constructors check once that every index the shape allows lands
//! inside the data (and, for outputs, that no two indices land on the same
//! element); the kernels then index without checks.

use std::marker::PhantomData;

use smallvec::SmallVec;

use crate::error::ExecError;

/// Extents or strides: inline up to six dimensions, so converting an
/// ndarray view allocates nothing.
pub(crate) type Dims<T> = SmallVec<[T; 6]>;

/// A read-only strided view of `T`s. Negative and zero strides are allowed.
#[derive(Clone, Debug)]
pub struct StridedView<'a, T> {
    ptr: *const T,
    shape: Dims<usize>,
    strides: Dims<isize>,
    _data: PhantomData<&'a [T]>,
}

/// A writable strided view of `T`s: no two indices alias one element.
#[derive(Debug)]
pub struct StridedViewMut<'a, T> {
    ptr: *mut T,
    shape: Dims<usize>,
    strides: Dims<isize>,
    _data: PhantomData<&'a mut [T]>,
}

// SAFETY (Send/Sync): the views are borrows of `[T]` with the borrow's own
// thread-safety: shared for `StridedView`, exclusive for `StridedViewMut`.
unsafe impl<T: Sync> Send for StridedView<'_, T> {}
// SAFETY: as above; a shared view only reads.
unsafe impl<T: Sync> Sync for StridedView<'_, T> {}
// SAFETY: an exclusive view is like `&mut [T]`, which is `Send` when `T` is.
unsafe impl<T: Send> Send for StridedViewMut<'_, T> {}

/// The lowest and highest element offsets a shape and strides reach from
/// the base: `Ok(None)` when the shape is empty (some extent is 0), `Err`
/// when the arithmetic overflows.
fn reach(shape: &[usize], strides: &[isize]) -> Result<Option<(isize, isize)>, Overflow> {
    if shape.contains(&0) {
        return Ok(None);
    }
    let overflow = || Overflow;
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&extent, &stride) in shape.iter().zip(strides) {
        let last = isize::try_from(extent - 1).map_err(|_| overflow())?;
        let span = stride.checked_mul(last).ok_or_else(overflow)?;
        if span < 0 {
            lo = lo.checked_add(span).ok_or_else(overflow)?;
        } else {
            hi = hi.checked_add(span).ok_or_else(overflow)?;
        }
    }
    Ok(Some((lo, hi)))
}

/// Offsets that overflow the address space.
struct Overflow;

fn check(len: usize, offset: usize, shape: &[usize], strides: &[isize]) -> Result<(), ExecError> {
    if shape.len() != strides.len() {
        return Err(ExecError::RankMismatch {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
        });
    }
    let outside = || ExecError::ViewOutOfBounds {
        shape: shape.to_vec(),
        strides: strides.to_vec(),
        offset,
        len,
    };
    let Some((lo, hi)) = reach(shape, strides).map_err(|Overflow| outside())? else {
        return if offset <= len {
            Ok(())
        } else {
            Err(outside())
        };
    };
    let base = isize::try_from(offset).map_err(|_| outside())?;
    match (base.checked_add(lo), base.checked_add(hi)) {
        (Some(first), Some(last)) if first >= 0 && (last as usize) < len => Ok(()),
        _ => Err(outside()),
    }
}

/// Whether distinct indices always land on distinct elements: sorted by
/// stride, each stride exceeds the reach of all smaller ones.
fn unaliased(shape: &[usize], strides: &[isize]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut dims: Dims<(usize, usize)> = shape
        .iter()
        .zip(strides)
        .filter(|(e, _)| **e > 1)
        .map(|(&e, &s)| (s.unsigned_abs(), e))
        .collect();
    dims.sort_unstable();
    let mut reach = 0usize;
    for (stride, extent) in dims {
        if stride <= reach {
            return false;
        }
        match stride
            .checked_mul(extent - 1)
            .and_then(|s| s.checked_add(reach))
        {
            Some(r) => reach = r,
            None => return false,
        }
    }
    true
}

impl<'a, T> StridedView<'a, T> {
    /// A view of `data` starting at `offset`, checked: every index the shape
    /// allows must land inside `data`.
    ///
    /// ```
    /// use einsum_exec::StridedView;
    /// let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// // The transpose of a 2x3 C-order matrix, read backwards along rows.
    /// let v = StridedView::new(&data, 2, vec![3, 2], vec![-1, 3]).unwrap();
    /// assert_eq!(v.shape(), &[3, 2]);
    /// assert!(StridedView::new(&data, 0, vec![3, 3], vec![3, 1]).is_err());
    /// ```
    pub fn new(
        data: &'a [T],
        offset: usize,
        shape: Vec<usize>,
        strides: Vec<isize>,
    ) -> Result<Self, ExecError> {
        check(data.len(), offset, &shape, &strides)?;
        // `wrapping_add`: the offset is within (or one past) `data`, checked above.
        Ok(StridedView {
            ptr: data.as_ptr().wrapping_add(offset),
            shape: shape.into(),
            strides: strides.into(),
            _data: PhantomData,
        })
    }

    /// A view from raw parts, for array libraries with their own checks.
    ///
    /// # Safety
    /// For the lifetime `'a`, every offset `sum(i[d] * strides[d])` with
    /// `i[d] < shape[d]` from `ptr` must be a valid, initialised `T` that
    /// nothing writes to, and `shape` and `strides` must have equal length.
    pub unsafe fn from_raw_parts(ptr: *const T, shape: Vec<usize>, strides: Vec<isize>) -> Self {
        StridedView {
            ptr,
            shape: shape.into(),
            strides: strides.into(),
            _data: PhantomData,
        }
    }

    /// The extents.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element strides.
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    pub(crate) fn ptr(&self) -> *const T {
        self.ptr
    }

    /// The part of this view from index `start` with extents `shape`, the
    /// same strides: what one slice of a sliced plan reads. Every index of
    /// the window is an index of this view (checked), so it inherits this
    /// view's guarantee that each lands in the data.
    ///
    /// # Panics
    /// If `start` or `shape` is not one entry per dimension, or the window
    /// leaves this view.
    #[track_caller]
    pub(crate) fn window(&self, start: &[usize], shape: &[usize]) -> StridedView<'a, T> {
        StridedView {
            ptr: self
                .ptr
                .wrapping_offset(window_offset(&self.shape, &self.strides, start, shape)),
            shape: shape.into(),
            strides: self.strides.clone(),
            _data: PhantomData,
        }
    }
}

/// The element offset of index `start`, after checking that a window of
/// `shape` from there lies inside a view of `extents` (an empty window
/// anywhere up to the end).
#[track_caller]
fn window_offset(extents: &[usize], strides: &[isize], start: &[usize], shape: &[usize]) -> isize {
    assert!(
        start.len() == extents.len() && shape.len() == extents.len(),
        "a window has one start and one extent per dimension"
    );
    let mut offset = 0isize;
    for (((&e, &s), &at), &len) in extents.iter().zip(strides).zip(start).zip(shape) {
        assert!(
            at.checked_add(len).is_some_and(|end| end <= e) && (len == 0 || at < e),
            "the window leaves the view"
        );
        // In range: `at < e`, and the view's offsets did not overflow.
        offset += s * at as isize;
    }
    offset
}

impl<'a, T> StridedViewMut<'a, T> {
    /// A writable view of `data` starting at `offset`, checked: every index
    /// lands inside `data`, and no two indices land on the same element.
    pub fn new(
        data: &'a mut [T],
        offset: usize,
        shape: Vec<usize>,
        strides: Vec<isize>,
    ) -> Result<Self, ExecError> {
        check(data.len(), offset, &shape, &strides)?;
        if !unaliased(&shape, &strides) {
            return Err(ExecError::OutputAliased {
                shape: shape.to_vec(),
                strides: strides.to_vec(),
            });
        }
        Ok(StridedViewMut {
            ptr: data.as_mut_ptr().wrapping_add(offset),
            shape: shape.into(),
            strides: strides.into(),
            _data: PhantomData,
        })
    }

    /// A writable view from raw parts.
    ///
    /// # Safety
    /// As [`StridedView::from_raw_parts`], and for `'a` nothing else reads or
    /// writes those elements, and distinct indices reach distinct elements.
    pub unsafe fn from_raw_parts(ptr: *mut T, shape: Vec<usize>, strides: Vec<isize>) -> Self {
        StridedViewMut {
            ptr,
            shape: shape.into(),
            strides: strides.into(),
            _data: PhantomData,
        }
    }

    /// The extents.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element strides.
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    pub(crate) fn ptr(&mut self) -> *mut T {
        self.ptr
    }

    /// The part of this view from index `start` with extents `shape`, the
    /// same strides, borrowed exclusively: see [`StridedView::window`].
    ///
    /// # Panics
    /// As [`StridedView::window`].
    #[track_caller]
    pub(crate) fn window_mut(&mut self, start: &[usize], shape: &[usize]) -> StridedViewMut<'_, T> {
        self.window_at(start, shape)
    }

    /// A window of any lifetime: callers hand windows out only while they
    /// borrow `self` exclusively for as long (`window_mut`, `windows_mut`).
    #[track_caller]
    fn window_at<'w>(&self, start: &[usize], shape: &[usize]) -> StridedViewMut<'w, T> {
        StridedViewMut {
            ptr: self
                .ptr
                .wrapping_offset(window_offset(&self.shape, &self.strides, start, shape)),
            shape: shape.into(),
            strides: self.strides.clone(),
            _data: PhantomData,
        }
    }

    /// Several windows at once, each from one of `starts` with extents
    /// `shape`, borrowed exclusively together: slices of a sliced plan that
    /// run in parallel write their own blocks of the output.
    ///
    /// The windows are disjoint because this view maps distinct indices to
    /// distinct elements (checked when it was made) and the windows hold
    /// distinct indices: checked here, as the starts are distinct and,
    /// along every dimension, differ from the first window's by a multiple
    /// of the extent there (so two windows whose starts differ along a
    /// dimension hold disjoint runs of indices along it).
    ///
    /// # Panics
    /// As [`StridedView::window`], and if two windows could share an index.
    #[track_caller]
    pub(crate) fn windows_mut(
        &mut self,
        starts: &[Vec<usize>],
        shape: &[usize],
    ) -> Vec<StridedViewMut<'_, T>> {
        if let Some(first) = starts.first() {
            for start in starts {
                let apart = start
                    .iter()
                    .zip(first)
                    .zip(shape)
                    .all(|((&x, &y), &len)| x == y || (len > 0 && x.abs_diff(y) % len == 0));
                assert!(apart, "windows may overlap");
            }
            let mut sorted: Vec<&Vec<usize>> = starts.iter().collect();
            sorted.sort_unstable();
            assert!(
                sorted.windows(2).all(|w| w[0] != w[1]),
                "two windows start alike"
            );
        }
        starts
            .iter()
            .map(|start| self.window_at(start, shape))
            .collect()
    }
}

impl<'a, T, D: ndarray::Dimension> From<ndarray::ArrayView<'a, T, D>> for StridedView<'a, T> {
    /// The same memory, no copy.
    fn from(view: ndarray::ArrayView<'a, T, D>) -> Self {
        // An ndarray view guarantees every index within its shape, at its
        // strides from its pointer, is a valid element for `'a`, and the
        // shared borrow keeps writers away for `'a`.
        StridedView {
            ptr: view.as_ptr(),
            shape: Dims::from_slice(view.shape()),
            strides: Dims::from_slice(view.strides()),
            _data: PhantomData,
        }
    }
}

impl<'a, T, D: ndarray::Dimension> TryFrom<ndarray::ArrayViewMut<'a, T, D>>
    for StridedViewMut<'a, T>
{
    type Error = ExecError;

    /// The same memory, no copy; checked that no element is reachable twice
    /// (ndarray allows such views only through its own unsafe constructors).
    fn try_from(mut view: ndarray::ArrayViewMut<'a, T, D>) -> Result<Self, ExecError> {
        let shape = Dims::from_slice(view.shape());
        let strides = Dims::from_slice(view.strides());
        if !unaliased(&shape, &strides) {
            return Err(ExecError::OutputAliased {
                shape: shape.to_vec(),
                strides: strides.to_vec(),
            });
        }
        // An ndarray mutable view guarantees every index is a valid element,
        // exclusively borrowed for `'a`; distinct indices reach distinct
        // elements (checked just above).
        Ok(StridedViewMut {
            ptr: view.as_mut_ptr(),
            shape,
            strides,
            _data: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_bounds_with_negative_and_zero_strides() {
        let data = [0u8; 12];
        assert!(StridedView::new(&data, 0, vec![3, 4], vec![4, 1]).is_ok());
        assert!(StridedView::new(&data, 11, vec![3, 4], vec![-4, -1]).is_ok());
        assert!(StridedView::new(&data, 10, vec![3, 4], vec![-4, -1]).is_err());
        assert!(StridedView::new(&data, 0, vec![100], vec![0]).is_ok());
        assert!(StridedView::new(&data, 12, vec![0, 5], vec![1, 1]).is_ok());
        assert!(StridedView::new(&data, 13, vec![0], vec![1]).is_err());
        assert!(StridedView::new(&data, 0, vec![2], vec![isize::MAX]).is_err());
        assert!(StridedView::new(&data, 0, vec![2, 2], vec![1]).is_err());
    }

    #[test]
    fn ndarray_views_convert_without_copying() {
        let a = ndarray::Array2::<f64>::zeros((3, 4));
        let t = a.t();
        let v = StridedView::from(t.view());
        assert_eq!((v.shape(), v.strides()), (&[4, 3][..], &[1, 4][..]));
        assert_eq!(v.ptr(), a.as_ptr());
        let mut b = ndarray::Array2::<f64>::zeros((3, 4));
        let reversed = b.slice_mut(ndarray::s![..;-1, ..]);
        let w = StridedViewMut::try_from(reversed).unwrap();
        assert_eq!(w.strides(), &[-4, 1]);
    }

    #[test]
    fn outputs_must_not_alias() {
        let mut data = [0u8; 12];
        assert!(StridedViewMut::new(&mut data, 0, vec![3, 4], vec![1, 3]).is_ok());
        assert!(StridedViewMut::new(&mut data, 0, vec![3, 4], vec![0, 1]).is_err());
        assert!(StridedViewMut::new(&mut data, 0, vec![3, 4], vec![2, 1]).is_err());
        assert!(StridedViewMut::new(&mut data, 0, vec![1, 4], vec![0, 1]).is_ok());
    }

    #[test]
    fn windows_of_chunks_are_disjoint_or_refused() {
        let mut data = [0u8; 24];
        let mut v = StridedViewMut::new(&mut data, 0, vec![6, 4], vec![4, 1]).unwrap();
        let base = v.ptr() as usize;
        // Chunks of 2 rows, all the columns: disjoint.
        let starts = vec![vec![0, 0], vec![2, 0], vec![4, 0]];
        for (k, w) in v.windows_mut(&starts, &[2, 4]).iter_mut().enumerate() {
            assert_eq!(w.shape(), &[2, 4]);
            assert_eq!(w.ptr() as usize - base, 8 * k);
        }
        let mut v = StridedViewMut::new(&mut data, 0, vec![6, 4], vec![4, 1]).unwrap();
        let overlapping = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            v.windows_mut(&[vec![0, 0], vec![1, 0]], &[2, 4]).len()
        }));
        assert!(overlapping.is_err(), "rows 0-1 and 1-2 share row 1");
    }
}
