//! The machine's limits `--analyze` compares each step with (a roofline):
//! FMA peaks for `f32` and `f64` and the bandwidth (read and copy) of data
//! in the L2 cache, the L3 cache and main memory, measured by
//! [`einsum::exec::limits`] at one thread and at every core, once per
//! machine, and cached as JSON; `einsum-explain --limits` measures them
//! afresh and prints them.
//!
//! The cache is `$EINSUM_LIMITS_CACHE` if set, else
//! `$XDG_CACHE_HOME/einsum/limits.json`, else `~/.cache/einsum/limits.json`.
//! It is keyed by the CPU's model name and core count: on another machine
//! (or a VM resized) the limits are measured again. Measuring takes a few
//! seconds; the file is written whole (a temporary file renamed into
//! place), never half.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use einsum::exec::limits::{Caches, Level, Precision, copy_bandwidth, fma_peak, read_bandwidth};
use serde_json::{Value, json};

/// What the cache's format is; a file of another version is measured again.
const VERSION: u64 = 2;

/// The measured limits, per thread count.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The CPU's model name.
    pub cpu: String,
    /// Cores (hardware threads) the measurement saw.
    pub cores: usize,
    /// The cache sizes the levels were measured with.
    pub caches: Caches,
    /// Per thread count: GFLOP/s of `f32` and `f64` multiply-adds, GB/s of
    /// reading and of copying.
    pub at: BTreeMap<usize, AtThreads>,
}

/// The limits at one thread count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtThreads {
    /// GFLOP/s of `f32` fused multiply-adds.
    pub fma_f32: f64,
    /// GFLOP/s of `f64` fused multiply-adds.
    pub fma_f64: f64,
    /// GB/s read, per level.
    pub read: PerLevel,
    /// GB/s read plus written by a copy, per level.
    pub copy: PerLevel,
}

/// A bandwidth at each [`Level`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerLevel {
    /// Data in one core's L2 cache.
    pub l2: f64,
    /// Data in the shared L3 cache.
    pub l3: f64,
    /// Data in main memory.
    pub dram: f64,
}

impl PerLevel {
    /// Measures `f` at every level.
    fn measure(f: impl Fn(Level) -> Result<f64>) -> Result<PerLevel> {
        Ok(PerLevel {
            l2: f(Level::L2)?,
            l3: f(Level::L3)?,
            dram: f(Level::Dram)?,
        })
    }

    /// The bandwidth at `level`.
    pub fn at(&self, level: Level) -> f64 {
        match level {
            Level::L2 => self.l2,
            Level::L3 => self.l3,
            Level::Dram => self.dram,
        }
    }

    fn to_json(self) -> Value {
        json!({"L2": self.l2, "L3": self.l3, "DRAM": self.dram})
    }

    fn from_json(value: &Value) -> Option<PerLevel> {
        let f = |key: &str| value.get(key).and_then(Value::as_f64).filter(|x| *x > 0.0);
        Some(PerLevel {
            l2: f("L2")?,
            l3: f("L3")?,
            dram: f("DRAM")?,
        })
    }
}

impl Limits {
    /// Measures this machine at one thread and at every core.
    pub fn measure() -> Result<Limits> {
        let cores = cores();
        let mut at = BTreeMap::new();
        for threads in [1, cores] {
            if at.contains_key(&threads) {
                continue;
            }
            at.insert(
                threads,
                AtThreads {
                    fma_f32: fma_peak(Precision::F32, threads),
                    fma_f64: fma_peak(Precision::F64, threads),
                    read: PerLevel::measure(|l| Ok(read_bandwidth(l, threads)?))?,
                    copy: PerLevel::measure(|l| Ok(copy_bandwidth(l, threads)?))?,
                },
            );
        }
        Ok(Limits {
            cpu: cpu_model(),
            cores,
            caches: Caches::of_this_cpu(),
            at,
        })
    }

    /// The roofline for a run on `threads` threads in `precision` (`None`:
    /// integers and `bool`, compared with the bandwidth alone).
    pub fn roof(
        &self,
        threads: usize,
        precision: Option<Precision>,
    ) -> Option<crate::render::Roof> {
        let at = self.for_threads(threads)?;
        Some(crate::render::Roof {
            peak_gflops: precision.map(|p| match p {
                Precision::F32 => at.fma_f32,
                Precision::F64 => at.fma_f64,
            }),
            levels: Level::ALL.map(|level| crate::render::RoofLevel {
                level,
                capacity: level.capacity(self.caches, threads),
                read_gbs: at.read.at(level),
            }),
        })
    }

    /// The cached limits of this machine, measured (and cached) if there
    /// are none.
    pub fn cached() -> Result<Limits> {
        let path = cache_path();
        if let Some(path) = &path
            && let Ok(text) = std::fs::read_to_string(path)
            && let Some(limits) = Limits::from_json(&text)
            && limits.cpu == cpu_model()
            && limits.cores == cores()
        {
            return Ok(limits);
        }
        Limits::measure_and_cache()
    }

    /// Measures this machine and writes the cache (a cache that cannot be
    /// written only costs the next run a measurement).
    pub fn measure_and_cache() -> Result<Limits> {
        let limits = Limits::measure()?;
        if let Some(path) = &cache_path() {
            let _ = write_whole(path, &limits.to_json());
        }
        Ok(limits)
    }

    /// The limits for a run on `threads` threads: those measured at the
    /// largest thread count not above it.
    pub fn for_threads(&self, threads: usize) -> Option<AtThreads> {
        self.at
            .range(..=threads.max(1))
            .next_back()
            .map(|(_, at)| *at)
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        let at: serde_json::Map<String, Value> = self
            .at
            .iter()
            .map(|(t, a)| {
                (
                    t.to_string(),
                    json!({"fma_f32_gflops": a.fma_f32, "fma_f64_gflops": a.fma_f64,
                           "read_gbytes_per_second": a.read.to_json(),
                           "copy_gbytes_per_second": a.copy.to_json()}),
                )
            })
            .collect();
        let value = json!({"version": VERSION, "cpu": self.cpu, "cores": self.cores,
                           "l2_bytes": self.caches.l2, "l3_bytes": self.caches.l3,
                           "threads": at});
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// From [`to_json`](Self::to_json)'s text; `None` if it is not that.
    pub fn from_json(text: &str) -> Option<Limits> {
        let value: Value = serde_json::from_str(text).ok()?;
        if value.get("version")?.as_u64()? != VERSION {
            return None;
        }
        let mut at = BTreeMap::new();
        for (t, a) in value.get("threads")?.as_object()? {
            let f = |key: &str| a.get(key).and_then(Value::as_f64).filter(|x| *x > 0.0);
            at.insert(
                t.parse().ok()?,
                AtThreads {
                    fma_f32: f("fma_f32_gflops")?,
                    fma_f64: f("fma_f64_gflops")?,
                    read: PerLevel::from_json(a.get("read_gbytes_per_second")?)?,
                    copy: PerLevel::from_json(a.get("copy_gbytes_per_second")?)?,
                },
            );
        }
        Some(Limits {
            cpu: value.get("cpu")?.as_str()?.to_owned(),
            cores: usize::try_from(value.get("cores")?.as_u64()?).ok()?,
            caches: Caches {
                l2: usize::try_from(value.get("l2_bytes")?.as_u64()?).ok()?,
                l3: usize::try_from(value.get("l3_bytes")?.as_u64()?).ok()?,
            },
            at,
        })
    }
}

impl std::fmt::Display for Limits {
    /// A table: per thread count, the FMA peaks and each level's read and
    /// copy bandwidth.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} ({} cores; L2 {} KiB per core, L3 {} MiB)",
            self.cpu,
            self.cores,
            self.caches.l2 >> 10,
            self.caches.l3 >> 20
        )?;
        writeln!(
            f,
            "{:>7} {:>12} {:>12}  {:>24}  {:>24}",
            "threads",
            "f32 GFLOP/s",
            "f64 GFLOP/s",
            "read GB/s (L2, L3, DRAM)",
            "copy GB/s (L2, L3, DRAM)"
        )?;
        let levels = |p: PerLevel| format!("{:.1}, {:.1}, {:.1}", p.l2, p.l3, p.dram);
        for (threads, at) in &self.at {
            writeln!(
                f,
                "{threads:>7} {:>12.1} {:>12.1}  {:>24}  {:>24}",
                at.fma_f32,
                at.fma_f64,
                levels(at.read),
                levels(at.copy)
            )?;
        }
        match cache_path() {
            Some(path) => writeln!(f, "cached in {}", path.display()),
            None => writeln!(
                f,
                "not cached (no HOME, XDG_CACHE_HOME or EINSUM_LIMITS_CACHE)"
            ),
        }
    }
}

/// Where the cache lives (see the module's documentation).
pub fn cache_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EINSUM_LIMITS_CACHE") {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("einsum").join("limits.json"))
}

fn write_whole(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU's model name (Linux's /proc/cpuinfo), or "unknown".
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip_through_json_and_pick_a_thread_count() {
        let at = |x: f64| AtThreads {
            fma_f32: 2.0 * x,
            fma_f64: x,
            read: PerLevel {
                l2: 90.0,
                l3: 40.0,
                dram: 20.0,
            },
            copy: PerLevel {
                l2: 80.0,
                l3: 35.0,
                dram: 15.0,
            },
        };
        let limits = Limits {
            cpu: "Some CPU".into(),
            cores: 4,
            caches: Caches {
                l2: 1 << 20,
                l3: 32 << 20,
            },
            at: [(1, at(50.0)), (4, at(190.0))].into_iter().collect(),
        };
        assert_eq!(Limits::from_json(&limits.to_json()), Some(limits.clone()));
        assert_eq!(limits.for_threads(1).map(|a| a.fma_f64), Some(50.0));
        assert_eq!(limits.for_threads(3).map(|a| a.fma_f64), Some(50.0));
        assert_eq!(limits.for_threads(8).map(|a| a.fma_f64), Some(190.0));
        assert_eq!(Limits::from_json("{\"version\": 0}"), None);
        assert_eq!(Limits::from_json("not json"), None);
    }
}
