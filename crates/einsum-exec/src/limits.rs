//! The machine's limits, measured: how fast this CPU can multiply-add and
//! how fast its memory streams, so a run's speed can be reported as a
//! fraction of what the machine can do (a roofline).
//!
//! - **FMA peak** ([`fma_peak`]): fused multiply-adds on independent
//!   vector accumulators, with the widest instructions the kernels use on
//!   this CPU (AVX2+FMA where reported, else the baseline's multiply and
//!   add), on `threads` threads at once; in GFLOP/s (a multiply-add is 2).
//! - **Bandwidth** ([`read_bandwidth`], [`copy_bandwidth`]): a wrapping sum
//!   over a buffer far larger than any cache, and a copy between two; in
//!   GB/s of bytes read (and written, for the copy).
//!
//! Each figure is the best of a few short runs (other work only ever
//! slows a run down). Measuring all of them takes about two seconds.
//!
//! ```
//! let peak = einsum_exec::limits::fma_peak(einsum_exec::limits::Precision::F64, 1);
//! assert!(peak > 0.0);
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::error::ExecError;
use crate::kernels::isa;
use crate::kernels::peak::{fma_f32, fma_f64};
use crate::memory::{Allocation, try_zeroed};

/// The floating-point width of an FMA peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `f32` (and `Complex<f32>`).
    F32,
    /// `f64` (and `Complex<f64>`).
    F64,
}

/// Runs `work` on `threads` threads at once, `rounds` times, and returns
/// the best rate: `amount` (what one call of `work` does, summed over the
/// threads) per second.
fn best_rate(threads: usize, rounds: usize, amount: f64, work: impl Fn(usize) + Sync) -> f64 {
    let threads = threads.max(1);
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 1..threads {
                let work = &work;
                s.spawn(move || work(t));
            }
            work(0);
        });
        best = best.min(start.elapsed());
    }
    amount / best.as_secs_f64().max(1e-9)
}

/// Multiply-add rounds per call of the microkernel.
const FMA_ROUNDS: usize = 1 << 22;

/// GFLOP/s of fused multiply-adds at `precision` on `threads` threads.
pub fn fma_peak(precision: Precision, threads: usize) -> f64 {
    let isa = isa::detected();
    // 12 independent accumulators of 256 bits: enough multiply-adds in
    // flight to cover the latency of two FMA units.
    let flops_per_round = match precision {
        Precision::F32 => 12 * 8 * 2,
        Precision::F64 => 12 * 4 * 2,
    };
    let per_thread = (FMA_ROUNDS * flops_per_round) as f64;
    best_rate(
        threads,
        3,
        per_thread * threads.max(1) as f64,
        |_| match precision {
            Precision::F32 => {
                black_box(fma_f32(isa, FMA_ROUNDS));
            }
            Precision::F64 => {
                black_box(fma_f64(isa, FMA_ROUNDS));
            }
        },
    ) / 1e9
}

/// Bytes the bandwidth measurements stream: far beyond any cache.
const STREAM_BYTES: usize = 512 << 20;

/// GB/s of reading memory on `threads` threads (a wrapping sum over 512 MB
/// of `u64`, split between the threads).
///
/// # Errors
/// If the 512 MB cannot be allocated.
pub fn read_bandwidth(threads: usize) -> Result<f64, ExecError> {
    let threads = threads.max(1);
    let n = STREAM_BYTES / 8;
    let mut data: Vec<u64> = try_zeroed(n, Allocation::Workspace)?;
    // Written first, so every page is really mapped (a zeroed allocation
    // reads the shared zero page).
    for (i, x) in data.iter_mut().enumerate() {
        *x = i as u64;
    }
    let part = n.div_ceil(threads);
    let rate = best_rate(threads, 3, STREAM_BYTES as f64, |t| {
        let chunk = data.chunks(part).nth(t).unwrap_or(&[]);
        black_box(wrapping_sum(black_box(chunk)));
    });
    Ok(rate / 1e9)
}

/// GB/s of copying memory on `threads` threads: bytes read plus bytes
/// written (256 MB each way), as STREAM counts a copy.
///
/// # Errors
/// If the 512 MB cannot be allocated.
pub fn copy_bandwidth(threads: usize) -> Result<f64, ExecError> {
    let threads = threads.max(1);
    let n = STREAM_BYTES / 16;
    let mut source: Vec<u64> = try_zeroed(n, Allocation::Workspace)?;
    for (i, x) in source.iter_mut().enumerate() {
        *x = i as u64;
    }
    let mut target: Vec<u64> = try_zeroed(n, Allocation::Workspace)?;
    target.fill(1);
    let part = n.div_ceil(threads);
    let targets: Vec<std::sync::Mutex<&mut [u64]>> =
        target.chunks_mut(part).map(std::sync::Mutex::new).collect();
    let rate = best_rate(threads, 3, STREAM_BYTES as f64, |t| {
        if let (Some(from), Some(to)) = (source.chunks(part).nth(t), targets.get(t)) {
            let mut to = to.lock().unwrap_or_else(|p| p.into_inner());
            to.copy_from_slice(black_box(from));
        }
    });
    Ok(rate / 1e9)
}

/// The wrapping sum of `xs`, eight lanes at a time (the compiler keeps the
/// lanes in vector registers).
fn wrapping_sum(xs: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] = acc[l].wrapping_add(c[l]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0u64, |t, &x| t.wrapping_add(x));
    acc.iter().fold(tail, |t, &x| t.wrapping_add(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)] // billions of operations
    fn fma_peaks_are_finite_and_positive() {
        for precision in [Precision::F32, Precision::F64] {
            let peak = fma_peak(precision, 1);
            // Any machine this runs on does more than 0.1 GFLOP/s.
            assert!(peak.is_finite() && peak > 0.1, "{precision:?}: {peak}");
        }
    }

    #[test]
    fn the_wrapping_sum_is_the_sum() {
        let xs: Vec<u64> = (0..1003).collect();
        assert_eq!(wrapping_sum(&xs), 1003 * 1002 / 2);
        assert_eq!(wrapping_sum(&[u64::MAX, 2]), 1);
    }
}
