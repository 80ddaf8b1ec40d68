//! The element types `einsumc` runs, as one table: numpy's dtype on one
//! side, the executor's element on the other.

use einsum::Element;
use num_complex::Complex;
use numpy::{PyArrayDescr, PyArrayDescrMethods};
use pyo3::prelude::*;

/// What a caller of [`Elem::with`] does with the element type chosen.
pub(crate) trait WithElem {
    /// The result.
    type Out;
    /// Runs with `T`, the element type of the table row matched.
    fn call<T: Element + numpy::Element + Send + Sync>(self) -> Self::Out;
}

/// The table: one line per element type, `Variant: RustType, numpy kind,
/// item size in bytes, numpy's name`. Adding a dtype the executor supports
/// is one line here.
macro_rules! elements {
    ($($variant:ident: $ty:ty, $kind:literal, $size:literal, $name:literal;)*) => {
        /// A supported element type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Elem {
            $(
                #[doc = $name]
                $variant,
            )*
        }

        /// numpy's names of the supported dtypes, in table order.
        pub(crate) const NAMES: &[&str] = &[$($name),*];

        impl Elem {
            /// The row of `dtype` (by kind and size: byte order is checked
            /// where arrays are viewed), if the executor supports it.
            pub(crate) fn of(dtype: &Bound<'_, PyArrayDescr>) -> Option<Elem> {
                let (kind, size) = (dtype.kind(), dtype.itemsize());
                $(
                    if kind == $kind && size == $size {
                        return Some(Elem::$variant);
                    }
                )*
                None
            }

            /// numpy's name of this row's dtype.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Elem::$variant => $name,)*
                }
            }

            /// Calls `with` with this row's Rust type.
            pub(crate) fn with<W: WithElem>(self, with: W) -> W::Out {
                match self {
                    $(Elem::$variant => with.call::<$ty>(),)*
                }
            }
        }
    };
}

elements! {
    F16: half::f16, b'f', 2, "float16";
    F32: f32, b'f', 4, "float32";
    F64: f64, b'f', 8, "float64";
    C64: Complex<f32>, b'c', 8, "complex64";
    C128: Complex<f64>, b'c', 16, "complex128";
    I32: i32, b'i', 4, "int32";
    I64: i64, b'i', 8, "int64";
    I8: i8, b'i', 1, "int8";
    I16: i16, b'i', 2, "int16";
    U8: u8, b'u', 1, "uint8";
    U16: u16, b'u', 2, "uint16";
    U32: u32, b'u', 4, "uint32";
    U64: u64, b'u', 8, "uint64";
    Bool: bool, b'b', 1, "bool";
}

/// The `TypeError` for a dtype outside the table, naming it.
pub(crate) fn unsupported(dtype: &Bound<'_, PyArrayDescr>) -> PyErr {
    let name = dtype
        .str()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    pyo3::exceptions::PyTypeError::new_err(format!(
        "einsumc does not support dtype {name} (supported: {})",
        NAMES.join(", ")
    ))
}
