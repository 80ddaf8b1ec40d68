//! Element types on the command line, numpy's promotion between them, and
//! arrays of any of them.

use anyhow::{Result, bail};
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex;

/// One of the six element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DType {
    I32,
    I64,
    F32,
    F64,
    C64,
    C128,
}

impl DType {
    /// From `--dtype`: `f32`, `f64`, `c64`, `c128`, `i32`, `i64` (numpy's
    /// names are accepted too).
    pub(crate) fn parse(text: &str) -> Result<DType> {
        Ok(match text {
            "f32" | "float32" => DType::F32,
            "f64" | "float64" => DType::F64,
            "c64" | "complex64" => DType::C64,
            "c128" | "complex128" => DType::C128,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            _ => bail!("unknown dtype '{text}' (f32, f64, c64, c128, i32, i64)"),
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
            DType::I32 => "int32",
            DType::I64 => "int64",
        }
    }

    pub(crate) fn size(self) -> usize {
        match self {
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// numpy's result type for two operand types.
    pub(crate) fn promote(self, other: DType) -> DType {
        use DType::*;
        let (a, b) = (self.min(other), self.max(other));
        match (a, b) {
            (x, y) if x == y => x,
            (I32, I64) => I64,
            (I32 | I64, F32) => F64,
            (_, F64) => F64,
            (F32, C64) => C64,
            (_, C64) => C128,
            (_, C128) => C128,
            _ => b,
        }
    }
}

/// An array of one of the six types.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Array {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    C64(ArrayD<Complex<f32>>),
    C128(ArrayD<Complex<f64>>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
}

macro_rules! each {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            Array::F32($a) => $body,
            Array::F64($a) => $body,
            Array::C64($a) => $body,
            Array::C128($a) => $body,
            Array::I32($a) => $body,
            Array::I64($a) => $body,
        }
    };
}

impl Array {
    pub(crate) fn dtype(&self) -> DType {
        match self {
            Array::F32(_) => DType::F32,
            Array::F64(_) => DType::F64,
            Array::C64(_) => DType::C64,
            Array::C128(_) => DType::C128,
            Array::I32(_) => DType::I32,
            Array::I64(_) => DType::I64,
        }
    }

    pub(crate) fn shape(&self) -> &[usize] {
        each!(self, a => a.shape())
    }

    /// Converts to a wider type (numpy's casting on promotion).
    pub(crate) fn cast(self, to: DType) -> Array {
        fn c(x: f64) -> Complex<f64> {
            Complex::new(x, 0.0)
        }
        match (self, to) {
            (a, t) if a.dtype() == t => a,
            (Array::I32(a), DType::I64) => Array::I64(a.mapv(i64::from)),
            (Array::I32(a), DType::F64) => Array::F64(a.mapv(f64::from)),
            (Array::I64(a), DType::F64) => Array::F64(a.mapv(|x| x as f64)),
            (Array::F32(a), DType::F64) => Array::F64(a.mapv(f64::from)),
            (Array::F32(a), DType::C64) => Array::C64(a.mapv(|x| Complex::new(x, 0.0))),
            (Array::I32(a), DType::C128) => Array::C128(a.mapv(|x| c(f64::from(x)))),
            (Array::I64(a), DType::C128) => Array::C128(a.mapv(|x| c(x as f64))),
            (Array::F32(a), DType::C128) => Array::C128(a.mapv(|x| c(f64::from(x)))),
            (Array::F64(a), DType::C128) => Array::C128(a.mapv(c)),
            (Array::C64(a), DType::C128) => {
                Array::C128(a.mapv(|z| Complex::new(f64::from(z.re), f64::from(z.im))))
            }
            (a, t) => unreachable!("{:?} does not widen to {t:?}", a.dtype()),
        }
    }

    /// Seeded random data: standard-normal floats (complex: both parts),
    /// integers in [-100, 100), as the public workloads specify.
    pub(crate) fn random(dtype: DType, shape: &[usize], seed: u64) -> Array {
        let mut state = seed ^ 0x5DEE_CE66_D1CE_4E5B;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut normal = move || {
            let u1 = ((next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let dims = IxDyn(shape);
        match dtype {
            DType::F32 => Array::F32(ArrayD::from_shape_simple_fn(dims, || normal() as f32)),
            DType::F64 => Array::F64(ArrayD::from_shape_simple_fn(dims, normal)),
            DType::C64 => Array::C64(ArrayD::from_shape_simple_fn(dims, || {
                Complex::new(normal() as f32, normal() as f32)
            })),
            DType::C128 => Array::C128(ArrayD::from_shape_simple_fn(dims, || {
                Complex::new(normal(), normal())
            })),
            DType::I32 => Array::I32(ArrayD::from_shape_simple_fn(dims, || {
                (normal().abs() * 1e6) as i32 % 200 - 100
            })),
            DType::I64 => Array::I64(ArrayD::from_shape_simple_fn(dims, || {
                (normal().abs() * 1e6) as i64 % 200 - 100
            })),
        }
    }

    /// The elements in C order, little-endian.
    pub(crate) fn write_le(&self, out: &mut Vec<u8>) {
        match self {
            Array::F32(a) => a
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Array::F64(a) => a
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Array::I32(a) => a
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Array::I64(a) => a
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Array::C64(a) => a.iter().for_each(|z| {
                out.extend_from_slice(&z.re.to_le_bytes());
                out.extend_from_slice(&z.im.to_le_bytes());
            }),
            Array::C128(a) => a.iter().for_each(|z| {
                out.extend_from_slice(&z.re.to_le_bytes());
                out.extend_from_slice(&z.im.to_le_bytes());
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_numpy() {
        use DType::*;
        let cases = [
            (I32, I64, I64),
            (I32, F32, F64),
            (I64, F32, F64),
            (F32, F64, F64),
            (I64, F64, F64),
            (F32, C64, C64),
            (F64, C64, C128),
            (I32, C64, C128),
            (C64, C128, C128),
            (F32, F32, F32),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.promote(b), want, "{a:?} {b:?}");
            assert_eq!(b.promote(a), want, "{b:?} {a:?}");
        }
    }

    #[test]
    fn random_integers_stay_in_range() {
        let Array::I64(a) = Array::random(DType::I64, &[1000], 1) else {
            panic!()
        };
        assert!(a.iter().all(|&x| (-100..100).contains(&x)));
        assert!(a.iter().any(|&x| x < 0) && a.iter().any(|&x| x > 0));
    }
}
