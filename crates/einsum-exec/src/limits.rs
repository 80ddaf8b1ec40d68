//! The machine's limits, measured: how fast this CPU can multiply-add and
//! how fast its memory streams, so a run's speed can be reported as a
//! fraction of what the machine can do (a roofline).
//!
//! - **FMA peak** ([`fma_peak`]): fused multiply-adds on independent
//!   vector accumulators, with the widest instructions the kernels use on
//!   this CPU (AVX2+FMA where reported, else the baseline's multiply and
//!   add), on `threads` threads at once; in GFLOP/s (a multiply-add is 2).
//! - **Bandwidth** ([`read_bandwidth`], [`copy_bandwidth`]) of each
//!   [`Level`] data can live at (L2, L3, main memory): a wrapping sum over
//!   a buffer of half the level's size (far larger than any cache for main
//!   memory), and a copy between two; in GB/s of bytes read (and written,
//!   for the copy). Buffers are advised for huge pages, as numpy's arrays
//!   and our benchmarks' operands are.
//!
//! Each figure is the best of a few short runs (other work only ever
//! slows a run down). Measuring all of them takes a few seconds.
//!
//! ```
//! let peak = einsum_exec::limits::fma_peak(einsum_exec::limits::Precision::F64, 1);
//! assert!(peak > 0.0);
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::error::ExecError;
use crate::kernels::isa;
use crate::kernels::peak::{fma_f32, fma_f64, wrapping_sum};
use crate::memory::{Allocation, try_zeroed};

/// The floating-point width of an FMA peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `f32` (and `Complex<f32>`).
    F32,
    /// `f64` (and `Complex<f64>`).
    F64,
}

impl Precision {
    /// The FMA width whose peak bounds an element type, by numpy's name
    /// (`float32` and `complex64`: [`F32`](Self::F32); `float64` and
    /// `complex128`: [`F64`](Self::F64)); `None` for the types no FMA
    /// computes (integers, `bool`; `float16` computes in `float32`).
    ///
    /// ```
    /// use einsum_exec::limits::Precision;
    /// assert_eq!(Precision::of_dtype("complex64"), Some(Precision::F32));
    /// assert_eq!(Precision::of_dtype("int64"), None);
    /// ```
    pub fn of_dtype(name: &str) -> Option<Precision> {
        match name {
            "float16" | "float32" | "complex64" => Some(Precision::F32),
            "float64" | "complex128" => Some(Precision::F64),
            _ => None,
        }
    }
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

/// Where data lives, for a bandwidth: a core's L2 cache, the shared L3
/// cache, or main memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// The core's own L2 cache.
    L2,
    /// The last-level cache every core shares.
    L3,
    /// Main memory.
    Dram,
}

impl Level {
    /// Every level, nearest first.
    pub const ALL: [Level; 3] = [Level::L2, Level::L3, Level::Dram];

    /// Its short name: `L2`, `L3`, `DRAM`.
    pub fn name(self) -> &'static str {
        match self {
            Level::L2 => "L2",
            Level::L3 => "L3",
            Level::Dram => "DRAM",
        }
    }

    /// Bytes each of `threads` threads streams to measure this level: half
    /// of its share of the cache (so the data stays there), and 512 MB in
    /// all for main memory.
    pub fn bytes_per_thread(self, caches: Caches, threads: usize) -> usize {
        let threads = threads.max(1);
        match self {
            Level::L2 => caches.l2 / 2,
            // At least twice the L2 each thread has, so the L2 holds none
            // of it.
            Level::L3 => (caches.l3 / 2 / threads).max(caches.l2 * 2),
            Level::Dram => DRAM_BYTES.max(caches.l3 * 8) / threads,
        }
    }

    /// Bytes of data (all threads' together) up to which a step's data can
    /// stay at this level: the whole cache (the L2 is per core); main
    /// memory holds anything.
    pub fn capacity(self, caches: Caches, threads: usize) -> u128 {
        match self {
            Level::L2 => caches.l2 as u128 * threads.max(1) as u128,
            Level::L3 => caches.l3 as u128,
            Level::Dram => u128::MAX,
        }
    }
}

/// Bytes the main-memory measurements stream: far beyond any cache.
const DRAM_BYTES: usize = 512 << 20;

/// Bytes every measurement streams in all (repeating a cache-sized buffer),
/// so each takes long enough to time.
const PASS_BYTES: usize = 512 << 20;

/// `u64`s between a copy's source and target offsets within a page.
const SKEW: usize = 128;

/// The sizes of this CPU's caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caches {
    /// Bytes of one core's L2 cache.
    pub l2: usize,
    /// Bytes of the last-level (L3) cache.
    pub l3: usize,
}

impl Caches {
    /// This CPU's, from Linux's sysfs (cpu0's unified caches of levels 2
    /// and 3); a level it does not report is taken as 512 KiB (L2) or
    /// 16 MiB (L3).
    pub fn of_this_cpu() -> Caches {
        let mut caches = Caches {
            l2: 512 << 10,
            l3: 16 << 20,
        };
        let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
            return caches;
        };
        for entry in dir.flatten() {
            let read = |name: &str| std::fs::read_to_string(entry.path().join(name)).ok();
            let (Some(level), Some(size)) =
                (read("level"), read("size").and_then(|s| parse_size(&s)))
            else {
                continue;
            };
            if read("type").is_some_and(|t| t.trim() == "Instruction") {
                continue;
            }
            match level.trim() {
                "2" => caches.l2 = size,
                "3" => caches.l3 = size,
                _ => {}
            }
        }
        caches
    }
}

/// sysfs's cache size (`512K`, `32768K`, `32M`) in bytes.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// A buffer of `bytes` of `u64`s per thread, advised for huge pages as
/// numpy's arrays are (without them the prefetchers stop at every 4 KiB
/// page and a read measured 40% slower than our own sums), and written so
/// every page is really mapped (a zeroed allocation reads the shared zero
/// page).
fn buffers(threads: usize, bytes: usize) -> Result<Vec<Vec<u64>>, ExecError> {
    (0..threads)
        .map(|t| {
            let mut data: Vec<u64> = try_zeroed((bytes / 8).max(8), Allocation::Workspace)?;
            crate::advise_huge_pages(&mut data);
            for (i, x) in data.iter_mut().enumerate() {
                *x = (i ^ t) as u64;
            }
            Ok(data)
        })
        .collect()
}

/// GB/s of reading data that lives at `level`, on `threads` threads: each
/// thread sums its own buffer ([`Level::bytes_per_thread`]) with wrapping
/// additions, again and again, 512 MB in all.
///
/// # Errors
/// If the buffers cannot be allocated.
pub fn read_bandwidth(level: Level, threads: usize) -> Result<f64, ExecError> {
    let threads = threads.max(1);
    let bytes = level.bytes_per_thread(Caches::of_this_cpu(), threads);
    let data = buffers(threads, bytes)?;
    let bytes = data[0].len() * 8;
    let isa = isa::detected();
    let passes = (PASS_BYTES / threads / bytes).max(1);
    let rate = best_rate(threads, 3, (passes * bytes * threads) as f64, |t| {
        for _ in 0..passes {
            black_box(wrapping_sum(isa, black_box(&data[t])));
        }
    });
    Ok(rate / 1e9)
}

/// GB/s of copying data that lives at `level` on `threads` threads: bytes
/// read plus bytes written, as STREAM counts a copy; each thread copies its
/// own buffer (half of [`Level::bytes_per_thread`] each way) again and
/// again, 512 MB in all.
///
/// # Errors
/// If the buffers cannot be allocated.
pub fn copy_bandwidth(level: Level, threads: usize) -> Result<f64, ExecError> {
    let threads = threads.max(1);
    let bytes = level.bytes_per_thread(Caches::of_this_cpu(), threads) / 2;
    let sources = buffers(threads, bytes)?;
    let len = sources[0].len();
    // The targets start 1 KiB further into their page than the sources:
    // a copy whose source and target share their offset within a 4 KiB
    // page (as two fresh allocations do) measured 5 GB/s in the L2 cache
    // on the Zen 3 machine, where 1 KiB apart runs at 100 GB/s and more.
    let targets: Vec<std::sync::Mutex<Vec<u64>>> = buffers(threads, bytes + SKEW * 8)?
        .into_iter()
        .map(std::sync::Mutex::new)
        .collect();
    let moved = len * 16;
    let passes = (PASS_BYTES / threads / moved).max(1);
    let rate = best_rate(threads, 3, (passes * moved * threads) as f64, |t| {
        let mut to = targets[t].lock().unwrap_or_else(|p| p.into_inner());
        let to = &mut to[SKEW..SKEW + len];
        for _ in 0..passes {
            to.copy_from_slice(black_box(&sources[t]));
            black_box(&mut *to);
        }
    });
    Ok(rate / 1e9)
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
    fn cache_sizes_read_as_sysfs_writes_them() {
        assert_eq!(parse_size("512K\n"), Some(512 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("3T"), None);
        let caches = Caches::of_this_cpu();
        assert!(caches.l2 > 0 && caches.l3 > 0);
        // Each level's measurement stays out of the nearer ones.
        for threads in [1, 2, 8] {
            assert!(Level::L3.bytes_per_thread(caches, threads) >= 2 * caches.l2);
            assert!(Level::Dram.bytes_per_thread(caches, threads) * threads >= 8 * caches.l3);
        }
    }

    #[test]
    fn the_wrapping_sum_is_the_sum() {
        let xs: Vec<u64> = (0..1003).collect();
        for isa in [isa::Isa::Baseline, isa::best()] {
            assert_eq!(wrapping_sum(isa, &xs), 1003 * 1002 / 2);
            assert_eq!(wrapping_sum(isa, &[u64::MAX, 2]), 1);
        }
    }
}
