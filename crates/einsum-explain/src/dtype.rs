//! Element types on the command line, numpy's promotion between them, and
//! arrays of any of them.

use anyhow::{Result, bail};
use einsum::f16;
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex;

/// One of the seven element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DType {
    /// `int32`
    I32,
    /// `int64`
    I64,
    /// `float16`
    F16,
    /// `float32`
    F32,
    /// `float64`
    F64,
    /// `complex64`
    C64,
    /// `complex128`
    C128,
}

impl DType {
    /// From `--dtype`: `f16`, `f32`, `f64`, `c64`, `c128`, `i32`, `i64`
    /// (numpy's names are accepted too).
    pub fn parse(text: &str) -> Result<DType> {
        Ok(match text {
            "f16" | "float16" => DType::F16,
            "f32" | "float32" => DType::F32,
            "f64" | "float64" => DType::F64,
            "c64" | "complex64" => DType::C64,
            "c128" | "complex128" => DType::C128,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            _ => bail!("unknown dtype '{text}' (f16, f32, f64, c64, c128, i32, i64)"),
        })
    }

    /// numpy's name for the type, e.g. `float64`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
            DType::I32 => "int32",
            DType::I64 => "int64",
        }
    }

    /// The size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// What a plan is fitted for on this type (GEMM kernels or not): the
    /// executor's answer for the Rust type.
    pub fn target(self) -> einsum::plan::fit::Target {
        use einsum::exec::target;
        match self {
            DType::F16 => target::<f16>(),
            DType::F32 => target::<f32>(),
            DType::F64 => target::<f64>(),
            DType::C64 => target::<Complex<f32>>(),
            DType::C128 => target::<Complex<f64>>(),
            DType::I32 => target::<i32>(),
            DType::I64 => target::<i64>(),
        }
    }

    /// numpy's result type for two operand types.
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        let (a, b) = (self.min(other), self.max(other));
        match (a, b) {
            (x, y) if x == y => x,
            (I32, I64) => I64,
            (I32 | I64, F16 | F32) => F64,
            (F16, F32) => F32,
            (_, F64) => F64,
            (F16 | F32, C64) => C64,
            (_, C64) => C128,
            (_, C128) => C128,
            _ => b,
        }
    }
}

/// An array of one of the seven types.
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    /// `float16`
    F16(ArrayD<f16>),
    /// `float32`
    F32(ArrayD<f32>),
    /// `float64`
    F64(ArrayD<f64>),
    /// `complex64`
    C64(ArrayD<Complex<f32>>),
    /// `complex128`
    C128(ArrayD<Complex<f64>>),
    /// `int32`
    I32(ArrayD<i32>),
    /// `int64`
    I64(ArrayD<i64>),
}

macro_rules! each {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            Array::F16($a) => $body,
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
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Array::F16(_) => DType::F16,
            Array::F32(_) => DType::F32,
            Array::F64(_) => DType::F64,
            Array::C64(_) => DType::C64,
            Array::C128(_) => DType::C128,
            Array::I32(_) => DType::I32,
            Array::I64(_) => DType::I64,
        }
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        each!(self, a => a.shape())
    }

    /// The array's element strides.
    pub fn strides(&self) -> Vec<isize> {
        each!(self, a => a.strides().to_vec())
    }

    /// Converts to a wider type (numpy's casting on promotion), into a new
    /// C-order array allocated fallibly.
    ///
    /// # Errors
    /// When the new array cannot be allocated.
    pub fn cast(self, to: DType) -> Result<Array> {
        fn c(x: f64) -> Complex<f64> {
            Complex::new(x, 0.0)
        }
        fn map<A: Copy, B: einsum::Element>(
            a: &ArrayD<A>,
            f: impl Fn(A) -> B,
        ) -> Result<ArrayD<B>> {
            use einsum::exec::{Allocation, try_zeroed};
            let mut data =
                try_zeroed::<B>(a.len(), Allocation::Run).map_err(einsum::Error::from)?;
            for (x, &y) in data.iter_mut().zip(a.iter()) {
                *x = f(y);
            }
            Ok(ArrayD::from_shape_vec(a.raw_dim(), data)?)
        }
        Ok(match (self, to) {
            (a, t) if a.dtype() == t => a,
            (Array::I32(a), DType::I64) => Array::I64(map(&a, i64::from)?),
            (Array::I32(a), DType::F64) => Array::F64(map(&a, f64::from)?),
            (Array::I64(a), DType::F64) => Array::F64(map(&a, |x| x as f64)?),
            (Array::F16(a), DType::F32) => Array::F32(map(&a, f32::from)?),
            (Array::F16(a), DType::F64) => Array::F64(map(&a, f64::from)?),
            (Array::F16(a), DType::C64) => Array::C64(map(&a, |x| Complex::new(x.into(), 0.0))?),
            (Array::F16(a), DType::C128) => Array::C128(map(&a, |x| c(x.into()))?),
            (Array::F32(a), DType::F64) => Array::F64(map(&a, f64::from)?),
            (Array::F32(a), DType::C64) => Array::C64(map(&a, |x| Complex::new(x, 0.0))?),
            (Array::I32(a), DType::C128) => Array::C128(map(&a, |x| c(f64::from(x)))?),
            (Array::I64(a), DType::C128) => Array::C128(map(&a, |x| c(x as f64))?),
            (Array::F32(a), DType::C128) => Array::C128(map(&a, |x| c(f64::from(x)))?),
            (Array::F64(a), DType::C128) => Array::C128(map(&a, c)?),
            (Array::C64(a), DType::C128) => {
                Array::C128(map(&a, |z| Complex::new(f64::from(z.re), f64::from(z.im)))?)
            }
            (a, t) => bail!("{} does not widen to {}", a.dtype().name(), t.name()),
        })
    }

    /// Seeded random data: standard-normal floats (complex: both parts),
    /// integers in [-100, 100), as the public workloads specify.
    ///
    /// Element `i` depends only on the seed and `i` (a counter-based
    /// generator), so the data is filled in parallel chunks and is the same
    /// whatever the thread count. The buffer is allocated fallibly.
    ///
    /// # Errors
    /// When the array cannot be allocated (its size in bytes is checked
    /// first).
    pub fn random(dtype: DType, shape: &[usize], seed: u64) -> Result<Array> {
        let key = mix(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        // Box-Muller turns two uniforms into two independent normals.
        let pair = move |j: usize| -> (f64, f64) {
            let u1 = ((mix(key ^ (2 * j as u64)) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (mix(key ^ (2 * j as u64 + 1)) >> 11) as f64 / (1u64 << 53) as f64;
            let r = (-2.0 * u1.ln()).sqrt();
            let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
            (r * cos, r * sin)
        };
        // Reals take the two normals of pair `j` as elements 2j and 2j + 1.
        fn reals<T: einsum::Element>(
            pair: impl Fn(usize) -> (f64, f64) + Sync,
            cast: impl Fn(f64) -> T + Sync,
        ) -> impl Fn(usize, &mut [T]) + Sync {
            move |start, chunk| {
                for (p, two) in chunk.chunks_mut(2).enumerate() {
                    let (a, b) = pair(start / 2 + p);
                    two[0] = cast(a);
                    if let Some(second) = two.get_mut(1) {
                        *second = cast(b);
                    }
                }
            }
        }
        fn each<T>(f: impl Fn(usize) -> T + Sync) -> impl Fn(usize, &mut [T]) + Sync {
            move |start, chunk| {
                for (k, x) in chunk.iter_mut().enumerate() {
                    *x = f(start + k);
                }
            }
        }
        let integer = move |i: usize| (mix(key ^ i as u64) % 200) as i64 - 100;
        Ok(match dtype {
            DType::F16 => Array::F16(filled(shape, reals(pair, f16::from_f64))?),
            DType::F32 => Array::F32(filled(shape, reals(pair, |x| x as f32))?),
            DType::F64 => Array::F64(filled(shape, reals(pair, |x| x))?),
            DType::C64 => Array::C64(filled(
                shape,
                each(move |i| {
                    let (re, im) = pair(i);
                    Complex::new(re as f32, im as f32)
                }),
            )?),
            DType::C128 => Array::C128(filled(
                shape,
                each(move |i| {
                    let (re, im) = pair(i);
                    Complex::new(re, im)
                }),
            )?),
            DType::I32 => Array::I32(filled(shape, each(move |i| integer(i) as i32))?),
            DType::I64 => Array::I64(filled(shape, each(integer))?),
        })
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit value from a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A C-order array of `shape`, allocated fallibly and filled in parallel
/// chunks by `fill(start, chunk)` (`start`, the chunk's first index, is
/// even).
fn filled<T: einsum::Element>(
    shape: &[usize],
    fill: impl Fn(usize, &mut [T]) + Sync,
) -> Result<ArrayD<T>> {
    use einsum::exec::{Allocation, check_shape, try_zeroed};
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    let len = check_shape(shape, std::mem::size_of::<T>(), Allocation::Run)
        .map_err(einsum::Error::from)?;
    let mut data = try_zeroed::<T>(len, Allocation::Run).map_err(einsum::Error::from)?;
    data.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| fill(c * CHUNK, chunk));
    Ok(ArrayD::from_shape_vec(IxDyn(shape), data)?)
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
        let Array::I64(a) = Array::random(DType::I64, &[1000], 1).unwrap() else {
            panic!()
        };
        assert!(a.iter().all(|&x| (-100..100).contains(&x)));
        assert!(a.iter().any(|&x| x < 0) && a.iter().any(|&x| x > 0));
    }

    #[test]
    fn random_floats_look_standard_normal_and_do_not_depend_on_threads() {
        let Array::F64(a) = Array::random(DType::F64, &[100_000], 7).unwrap() else {
            panic!()
        };
        let n = a.len() as f64;
        let mean = a.sum() / n;
        let var = a.mapv(|x| (x - mean) * (x - mean)).sum() / n;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let serial = one.install(|| Array::random(DType::F64, &[100_000], 7).unwrap());
        assert_eq!(serial, Array::F64(a));
        assert_ne!(
            Array::random(DType::F64, &[10], 8).unwrap(),
            Array::random(DType::F64, &[10], 7).unwrap()
        );
    }
}
