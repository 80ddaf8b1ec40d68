//! The element types the executor runs on.

use num_complex::Complex;

use crate::workspace::{Workspace, Workspaces};

mod sealed {
    pub trait Sealed {}
}

/// A number type einsum can run on: `f32`, `f64`, `Complex<f32>`,
/// `Complex<f64>`, `i32`, `i64`. Sealed: the kernels are written for these.
///
/// Integers wrap on overflow, as numpy's do. Floats and complex numbers use
/// the GEMM kernels for matrix products; integers use the strided loops.
pub trait Element:
    Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static + sealed::Sealed
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// Whether the `gemm` crate has kernels for this type.
    const GEMM: bool;
    /// numpy's name for the type (`float64`, `complex64`, `int32`).
    const NAME: &'static str;
    /// `self + other` (wrapping for integers).
    fn add(self, other: Self) -> Self;
    /// `self * other` (wrapping for integers).
    fn mul(self, other: Self) -> Self;
    /// This type's workspace in a [`Workspaces`].
    #[doc(hidden)]
    fn workspace(all: &mut Workspaces) -> &mut Workspace<Self>;
}

macro_rules! float {
    ($t:ty, $name:literal, $field:ident, $zero:expr, $one:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const ZERO: Self = $zero;
            const ONE: Self = $one;
            const GEMM: bool = true;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self * other
            }
            fn workspace(all: &mut Workspaces) -> &mut Workspace<Self> {
                &mut all.$field
            }
        }
    };
}

macro_rules! integer {
    ($t:ty, $name:literal, $field:ident) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const GEMM: bool = false;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
            fn workspace(all: &mut Workspaces) -> &mut Workspace<Self> {
                &mut all.$field
            }
        }
    };
}

float!(f32, "float32", f32, 0.0, 1.0);
float!(f64, "float64", f64, 0.0, 1.0);
float!(
    Complex<f32>,
    "complex64",
    c64,
    Complex::new(0.0, 0.0),
    Complex::new(1.0, 0.0)
);
float!(
    Complex<f64>,
    "complex128",
    c128,
    Complex::new(0.0, 0.0),
    Complex::new(1.0, 0.0)
);
integer!(i32, "int32", i32);
integer!(i64, "int64", i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_wrap_like_numpy() {
        assert_eq!(i32::MAX.add(1), i32::MIN);
        assert_eq!(Element::mul(i64::MAX, 2), -2);
    }

    #[test]
    fn complex_multiplies() {
        let i = Complex::new(0.0f64, 1.0);
        assert_eq!(i.mul(i), Complex::new(-1.0, 0.0));
    }
}
