//! The element types the executor runs on.

use num_complex::Complex;

pub(crate) mod sealed {
    /// `gemm::gemm`'s signature: sizes, then the destination, left and right
    /// matrices as pointer and column/row strides, `alpha`, `beta`, the
    /// conjugation flags and the parallelism.
    pub(crate) type GemmKernel<T> = unsafe fn(
        usize,
        usize,
        usize,
        *mut T,
        isize,
        isize,
        bool,
        *const T,
        isize,
        isize,
        *const T,
        isize,
        isize,
        T,
        T,
        bool,
        bool,
        bool,
        gemm::Parallelism,
    );

    /// What the executor needs of an element type beyond arithmetic, out of
    /// users' reach.
    pub trait Sealed: Sized {
        /// The GEMM kernel for this type, if there is one.
        fn gemm_kernel() -> Option<GemmKernel<Self>>;

        /// Whether a sum's order cannot change its result (integers wrap,
        /// `bool` sums as `or`): sums and dots then run as one plain
        /// reduction, which the compiler vectorises at any width, instead
        /// of pairwise blocks of explicit accumulators (what keeps float
        /// sums accurate, and what it failed to vectorise for 8-bit
        /// types: `int8` sums ran 6x slower than numpy's).
        const EXACT: bool = false;

        /// Independent accumulators in the leaves of pairwise sums and
        /// dots: 128 bytes of them (four 256-bit vectors, so four additions
        /// are in flight at once), at least 8 and at most
        /// [`MAX_LANES`](super::MAX_LANES). A power of two. (Measured with
        /// `einsum-explain 'ij,ij->i' --analyze`: 16 float64 lanes run the
        /// seed 30% faster than 8; 32 float32 lanes ran slower than 16.)
        const LANES: usize = {
            let lanes = 128 / std::mem::size_of::<Self>();
            if lanes < 8 {
                8
            } else if lanes > super::MAX_LANES {
                super::MAX_LANES
            } else {
                lanes
            }
        };
    }
}

/// The most accumulators any element type's sum leaves keep.
pub(crate) const MAX_LANES: usize = 16;

/// A number type einsum can run on: `f32`, `f64`, `Complex<f32>`,
/// `Complex<f64>`, the signed and unsigned integers of 8 to 64 bits, and
/// `bool`. Sealed: the kernels are written for these.
///
/// Integers wrap on overflow in their own width, as numpy's do; `bool`
/// computes as numpy's does (a product is `and`, a sum is `or`). Matrix
/// products run on the `gemm` crate's kernels for floats and complex
/// numbers and on this crate's own blocked kernel for integers and `bool`.
pub trait Element:
    Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static + sealed::Sealed
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// numpy's name for the type (`float64`, `complex64`, `int32`).
    const NAME: &'static str;
    /// `self + other` (wrapping for integers).
    fn add(self, other: Self) -> Self;
    /// `self * other` (wrapping for integers).
    fn mul(self, other: Self) -> Self;
}

/// What a plan is fitted for when it runs on `T`: GEMM steps only where `T`
/// has a GEMM kernel.
pub fn target<T: Element>() -> einsum_plan::fit::Target {
    einsum_plan::fit::Target {
        blas: T::gemm_kernel().is_some(),
    }
}

macro_rules! float {
    ($t:ty, $name:literal, $zero:expr, $one:expr) => {
        impl sealed::Sealed for $t {
            fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
                Some(gemm::gemm::<$t>)
            }
        }
        impl Element for $t {
            const ZERO: Self = $zero;
            const ONE: Self = $one;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self * other
            }
        }
    };
}

/// An integer type, with the register tile (`$mr` rows by `$nr` columns)
/// of its GEMM kernel ([`crate::kernels::igemm`]): two 256-bit vectors a
/// row, and as many rows as leave the 16 vector registers room for the
/// operands (fewer where the multiply needs scratch registers: 8-bit
/// products go through 16 bits, and AVX2 has no 64-bit multiply).
macro_rules! integer {
    ($t:ty, $name:literal, $mr:literal, $nr:literal) => {
        impl sealed::Sealed for $t {
            fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
                Some(crate::kernels::igemm::kernel::<$t, $mr, $nr>())
            }
            const EXACT: bool = true;
        }
        impl Element for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
        }
    };
}

float!(f32, "float32", 0.0, 1.0);
float!(f64, "float64", 0.0, 1.0);
float!(
    Complex<f32>,
    "complex64",
    Complex::new(0.0, 0.0),
    Complex::new(1.0, 0.0)
);
float!(
    Complex<f64>,
    "complex128",
    Complex::new(0.0, 0.0),
    Complex::new(1.0, 0.0)
);
integer!(i8, "int8", 4, 64);
integer!(i16, "int16", 6, 32);
integer!(i32, "int32", 6, 16);
integer!(i64, "int64", 4, 8);
integer!(u8, "uint8", 4, 64);
integer!(u16, "uint16", 6, 32);
integer!(u32, "uint32", 6, 16);
integer!(u64, "uint64", 4, 8);

impl sealed::Sealed for bool {
    fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
        Some(crate::kernels::igemm::kernel::<bool, 4, 64>())
    }
    const EXACT: bool = true;
}
impl Element for bool {
    const ZERO: Self = false;
    const ONE: Self = true;
    const NAME: &'static str = "bool";
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self | other
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        self & other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_wrap_like_numpy() {
        assert_eq!(i32::MAX.add(1), i32::MIN);
        assert_eq!(Element::mul(i64::MAX, 2), -2);
        assert_eq!(Element::add(250u8, 10), 4);
        assert_eq!(Element::mul(-128i8, -1), -128);
        assert_eq!(Element::add(0u64, u64::MAX).add(1), 0);
    }

    #[test]
    fn booleans_sum_as_or_and_multiply_as_and() {
        assert!(true.add(true));
        assert!(!false.add(false));
        assert!(!true.mul(false));
        assert!(Element::mul(true, true));
    }

    #[test]
    fn complex_multiplies() {
        let i = Complex::new(0.0f64, 1.0);
        assert_eq!(i.mul(i), Complex::new(-1.0, 0.0));
    }
}
