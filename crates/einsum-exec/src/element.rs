//! The element types the executor runs on.

use half::f16;
use num_complex::Complex;
use sealed::Sealed as _;

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
        /// The type sums of this one accumulate in: itself, except for
        /// `f16`, whose dots and sums run in `f32` and are rounded once
        /// at the end, as numpy's half loops do.
        type Acc: super::Element;

        /// `self` as an accumulator.
        fn widen(self) -> Self::Acc;

        /// An accumulated value rounded back to this type.
        fn narrow(acc: Self::Acc) -> Self;

        /// The GEMM kernel for this type, if there is one.
        fn gemm_kernel() -> Option<GemmKernel<Self>>;

        /// Whether a sum's order cannot change its result (integers wrap,
        /// `bool` sums as `or`): sums and dots then run as one plain
        /// reduction, which the compiler vectorises at any width, instead
        /// of pairwise blocks of explicit accumulators (what keeps float
        /// sums accurate, and what it failed to vectorise for 8-bit
        /// types: `int8` sums ran 6x slower than numpy's).
        const EXACT: bool = false;

        /// Runs `f` with scratch memory for packing this type's matrix
        /// panels ([`crate::kernels::igemm`]): the thread's own, kept
        /// between calls so a compiled expression's repeated runs do not
        /// allocate it again (as the `gemm` crate keeps its own), or a
        /// fresh one in a call nested on the same thread (a rayon task
        /// stolen while the thread waits inside a product).
        fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
            f(&mut Vec::new())
        }

        /// Whether a sum can reach a value no further term changes
        /// ([`saturated`](Sealed::saturated)): `bool`'s `or` once true.
        /// Exact sums of such a type stop there.
        const SATURATES: bool = false;

        /// Whether adding anything to `self` leaves it as it is.
        #[inline(always)]
        fn saturated(&self) -> bool {
            false
        }

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

/// A number type einsum can run on: `f16` (`half::f16`), `f32`, `f64`,
/// `Complex<f32>`, `Complex<f64>`, the signed and unsigned integers of 8 to
/// 64 bits, and `bool`. Sealed: the kernels are written for these.
///
/// Integers wrap on overflow in their own width, as numpy's do; `bool`
/// computes as numpy's does (a product is `and`, a sum is `or`). `f16`
/// computes as numpy's half loops do: each product and each addition to a
/// stored element in `f32`, rounded to half; a dot or sum along an axis
/// accumulates in `f32` and is rounded once. Matrix products run on the
/// `gemm` crate's kernels for floats and complex numbers (its `f16` kernel
/// packs to `f32` and accumulates there) and on this crate's own blocked
/// kernel for integers and `bool`.
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

/// `Sealed`'s accumulator items for a type that accumulates in itself.
macro_rules! own_accumulator {
    () => {
        type Acc = Self;
        #[inline(always)]
        fn widen(self) -> Self {
            self
        }
        #[inline(always)]
        fn narrow(acc: Self) -> Self {
            acc
        }
    };
}

/// `Sealed::with_scratch` from a vector of `$t` each thread keeps.
macro_rules! thread_scratch {
    ($t:ty) => {
        fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
            thread_local! {
                static SCRATCH: std::cell::RefCell<Vec<$t>> =
                    const { std::cell::RefCell::new(Vec::new()) };
            }
            SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut mine) => f(&mut mine),
                Err(_) => f(&mut Vec::new()),
            })
        }
    };
}

macro_rules! float {
    ($t:ty, $name:literal, $zero:expr, $one:expr) => {
        impl sealed::Sealed for $t {
            own_accumulator!();
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
            own_accumulator!();
            fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
                Some(crate::kernels::igemm::kernel::<$t, $mr, $nr>())
            }
            const EXACT: bool = true;
            thread_scratch!($t);
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

impl sealed::Sealed for f16 {
    type Acc = f32;
    #[inline(always)]
    fn widen(self) -> f32 {
        half_bits::widen(self.to_bits())
    }
    #[inline(always)]
    fn narrow(acc: f32) -> Self {
        f16::from_bits(half_bits::narrow(acc))
    }
    fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
        Some(gemm::gemm::<f16>)
    }
}
impl Element for f16 {
    const ZERO: Self = f16::ZERO;
    const ONE: Self = f16::ONE;
    const NAME: &'static str = "float16";
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        f16::narrow(self.widen() + other.widen())
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        f16::narrow(self.widen() * other.widen())
    }
}

/// Conversions between half and single precision in plain integer and
/// float arithmetic with no branches a loop could not turn into selects,
/// so the kernels' loops over halves vectorise (the `half` crate's
/// conversions check for F16C on every call, which kept them scalar: a
/// half dot ran no faster than numpy's scalar loop). Exact: every half
/// widens to the same `f32` as `half`'s, and `narrow` rounds to nearest,
/// ties to even, as `half` and numpy do (tested against `half` below).
mod half_bits {
    /// The `f32` of the half with bits `h`.
    #[inline(always)]
    pub(super) fn widen(h: u16) -> f32 {
        let h = u32::from(h);
        let sign = (h & 0x8000) << 16;
        let magnitude = (h & 0x7fff) << 13; // exponent and significand, in f32's place
        let exponent = magnitude & (0x7c00 << 13);
        // Normal numbers: rebias the exponent (127 - 15).
        let normal = magnitude + (112 << 23);
        // Infinities and NaNs: the largest exponent.
        let special = normal + (128 << 23) - (16 << 23);
        // Zeros and subnormals: the significand as a multiple of 2^-24,
        // made exact by one subtraction of the implied leading one.
        let tiny = (f32::from_bits(magnitude + (113 << 23)) - f32::from_bits(113 << 23)).to_bits();
        let bits = if exponent == 0x7c00 << 13 {
            special
        } else if exponent == 0 {
            tiny
        } else {
            normal
        };
        f32::from_bits(bits | sign)
    }

    /// The half nearest `x` (ties to even), as bits; infinities beyond
    /// half's range, NaN stays NaN.
    #[inline(always)]
    pub(super) fn narrow(x: f32) -> u16 {
        let bits = x.to_bits();
        let sign = (bits >> 16) & 0x8000;
        let magnitude = bits & 0x7fff_ffff;
        // At or above 65520 (half's largest finite plus half an ulp): inf;
        // NaN: a quiet NaN.
        let overflow = if magnitude > 0x7f80_0000 {
            0x7e00
        } else {
            0x7c00
        };
        // Below 2^-14: a subnormal half. Adding 0.5 shifts the significand
        // so the float unit rounds at 2^-24, ties to even.
        let sub = (f32::from_bits(magnitude) + 0.5f32)
            .to_bits()
            .wrapping_sub(0.5f32.to_bits());
        // Normal: rebias, then round the 13 dropped bits to nearest even.
        let odd = (magnitude >> 13) & 1;
        let normal = magnitude.wrapping_sub(112 << 23).wrapping_add(0xfff + odd) >> 13;
        let h = if magnitude >= 0x4780_0000 - 0x1000 {
            overflow
        } else if magnitude < 113 << 23 {
            sub
        } else {
            normal
        };
        (h | sign) as u16
    }
}

impl sealed::Sealed for bool {
    own_accumulator!();
    fn gemm_kernel() -> Option<sealed::GemmKernel<Self>> {
        Some(crate::kernels::igemm::kernel::<bool, 4, 64>())
    }
    const EXACT: bool = true;
    thread_scratch!(bool);
    const SATURATES: bool = true;
    #[inline(always)]
    fn saturated(&self) -> bool {
        *self
    }
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
    use super::sealed::Sealed;
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
    fn halves_round_each_operation_and_accumulate_in_f32() {
        let h = f16::from_f32;
        // 2048 + 1 is not a half (spacing 2 there): the addition rounds.
        assert_eq!(h(2048.0).add(h(1.0)), h(2048.0));
        // ...but an accumulator keeps it.
        let acc = h(2048.0).widen() + h(1.0).widen() + h(1.0).widen();
        assert_eq!(f16::narrow(acc), h(2050.0));
        assert_eq!(h(3.0).mul(h(0.5)), h(1.5));
        assert_eq!(f16::ZERO.to_bits(), 0, "zeroed memory reads as 0.0");
    }

    #[test]
    fn half_conversions_match_the_half_crate() {
        for h in 0..=u16::MAX {
            let x = f16::from_bits(h);
            let wide = half_bits::widen(h);
            if x.is_nan() {
                assert!(wide.is_nan(), "{h:#x}");
                assert!(f16::from_bits(half_bits::narrow(wide)).is_nan());
            } else {
                assert_eq!(wide.to_bits(), x.to_f32().to_bits(), "{h:#x}");
                assert_eq!(half_bits::narrow(wide), h, "round trip {h:#x}");
            }
        }
        // Floats between halves (ties, just off ties), around every
        // boundary: subnormals, the normal range's ends, overflow.
        let mut floats: Vec<f32> = vec![
            0.0,
            -0.0,
            65504.0,
            65519.99,
            65520.0,
            65536.0,
            1e10,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-10,
            2.98e-8,
            2.99e-8,
            5.96e-8,
            6.0e-5,
            6.1035e-5,
            6.10352e-5,
        ];
        let mut seed = 0x1234_5678u32;
        for _ in 0..200_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            floats.push(f32::from_bits(seed));
        }
        for h in (0..0x7c00u32).step_by(7) {
            let lo = f16::from_bits(h as u16).to_f32();
            let hi = f16::from_bits(h as u16 + 1).to_f32();
            let mid = (lo + hi) / 2.0;
            floats.extend([
                mid,
                f32::from_bits(mid.to_bits() + 1),
                f32::from_bits(mid.to_bits() - 1),
                -mid,
            ]);
        }
        for x in floats {
            let want = f16::from_f32(x);
            let got = half_bits::narrow(x);
            if x.is_nan() {
                assert!(f16::from_bits(got).is_nan(), "{x:e}");
            } else {
                assert_eq!(got, want.to_bits(), "{x:e} ({:#x})", x.to_bits());
            }
        }
    }

    #[test]
    fn complex_multiplies() {
        let i = Complex::new(0.0f64, 1.0);
        assert_eq!(i.mul(i), Complex::new(-1.0, 0.0));
    }
}
