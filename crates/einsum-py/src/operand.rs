//! numpy arrays in, without copying where the executor can read them in
//! place; one copy where it cannot.
//!
//! The numpy crate's views divide byte strides by the item size and trust
//! the data pointer's alignment, so before viewing an array we check that
//! its dtype is native-endian, that numpy calls it aligned, and that every
//! byte stride is a multiple of the item size (a field of a packed
//! structured array can fail all three). An array that fails is copied once
//! by numpy into a fresh aligned, native array of the same values.

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;

use crate::element::{Elem, unsupported};

/// Whether the executor can read `array` in place as elements of its dtype.
pub(crate) fn viewable(array: &Bound<'_, PyUntypedArray>) -> bool {
    let dtype = array.dtype();
    let size = dtype.itemsize() as isize;
    dtype.is_native_byteorder() != Some(false)
        && array.is_aligned()
        && size > 0
        && array.strides().iter().all(|s| s % size == 0)
}

/// `array` as the executor can read it: itself, or a native, aligned copy.
pub(crate) fn readable<'py>(
    array: Bound<'py, PyUntypedArray>,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    if viewable(&array) {
        return Ok(array);
    }
    let py = array.py();
    let native = array
        .dtype()
        .call_method1(intern!(py, "newbyteorder"), ("=",))?;
    // `astype` always copies into a new, aligned array.
    Ok(array
        .call_method1(intern!(py, "astype"), (native,))?
        .cast_into::<PyUntypedArray>()?)
}

/// The element type of `array`, or the `TypeError` naming its dtype.
pub(crate) fn elem_of(array: &Bound<'_, PyUntypedArray>) -> PyResult<Elem> {
    let dtype = array.dtype();
    Elem::of(&dtype).ok_or_else(|| unsupported(&dtype))
}
