//! The microkernels [`crate::limits`] times. The FMA ones ([`crate::limits::fma_peak`]): multiply-adds on
//! twelve independent vector accumulators (enough in flight to cover two
//! FMA units' latency), nothing read from memory. With AVX2+FMA they are
//! written with the intrinsics (the compiler did not keep a plain loop's
//! `f64` accumulators in vector registers); on other CPUs a plain multiply
//! and add. The read one ([`crate::limits::read_bandwidth`]): a wrapping
//! sum of `u64`s, in the widest version this CPU has, so the sum is never
//! what limits the reads (in the baseline's 128-bit vectors it can be, for
//! data in the L2 cache).

use std::hint::black_box;

use super::isa::Isa;

/// Accumulators: twelve vectors of 256 bits.
const VECTORS: usize = 12;

macro_rules! fma_kernel {
    ($name:ident, $t:ty, $lanes:literal, $set1:ident, $setzero:ident, $fmadd:ident, $add:ident, $store:ident) => {
        /// `rounds` rounds of multiply-adds on twelve vectors of `$t`
        /// (`2 * 12 * lanes` FLOPs a round); returns their sum, so nothing
        /// is optimised away.
        pub(crate) fn $name(isa: Isa, rounds: usize) -> $t {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2(rounds: usize) -> $t {
                use std::arch::x86_64::*;
                let x = $set1(black_box(1.000_000_1));
                let y = $set1(black_box(0.999_999_9));
                let mut acc = [$setzero(); VECTORS];
                for _ in 0..rounds {
                    for a in acc.iter_mut() {
                        *a = $fmadd(*a, x, y);
                    }
                }
                let total = acc.iter().fold($setzero(), |t, &a| $add(t, a));
                let mut lanes = [0.0 as $t; $lanes];
                // SAFETY: `lanes` holds one vector's worth of elements, and
                // the unaligned store needs no alignment.
                unsafe { $store(lanes.as_mut_ptr(), total) };
                lanes.iter().sum()
            }
            fn baseline(rounds: usize) -> $t {
                let x: $t = black_box(1.000_000_1);
                let y: $t = black_box(0.999_999_9);
                let mut acc = [0.0 as $t; VECTORS * $lanes];
                for _ in 0..rounds {
                    for a in acc.iter_mut() {
                        *a = *a * x + y;
                    }
                }
                acc.iter().sum()
            }
            match isa {
                Isa::Baseline => baseline(rounds),
                // SAFETY: `Isa::Avx2` is only chosen on a CPU that reports
                // AVX2 and FMA (`isa::best`).
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { avx2(rounds) },
            }
        }
    };
}

fma_kernel!(
    fma_f32,
    f32,
    8,
    _mm256_set1_ps,
    _mm256_setzero_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps
);
fma_kernel!(
    fma_f64,
    f64,
    4,
    _mm256_set1_pd,
    _mm256_setzero_pd,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    _mm256_storeu_pd
);

/// The wrapping sum of `xs`, in `isa`'s version: eight lanes at a time, so
/// the compiler keeps them in two (AVX2) or four (baseline) vector
/// registers.
pub(crate) fn wrapping_sum(isa: Isa, xs: &[u64]) -> u64 {
    #[inline(always)]
    fn sum(xs: &[u64]) -> u64 {
        let mut acc = [0u64; 8];
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a = a.wrapping_add(x);
            }
        }
        let tail = chunks
            .remainder()
            .iter()
            .fold(0u64, |t, &x| t.wrapping_add(x));
        acc.iter().fold(tail, |t, &x| t.wrapping_add(x))
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn avx2(xs: &[u64]) -> u64 {
        sum(xs)
    }
    match isa {
        Isa::Baseline => sum(xs),
        // SAFETY: `Isa::Avx2` is only chosen on a CPU that reports AVX2 and
        // FMA (`isa::best`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(xs) },
    }
}
