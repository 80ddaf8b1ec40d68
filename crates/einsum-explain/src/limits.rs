//! The machine's limits `--analyze` compares each step with (a roofline):
//! FMA peaks for `f32` and `f64` and memory bandwidth (read and copy),
//! measured by [`einsum::exec::limits`] at one thread and at every core,
//! once per machine, and cached as JSON.
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
use einsum::exec::limits::{Precision, copy_bandwidth, fma_peak, read_bandwidth};
use serde_json::{Value, json};

/// What the cache's format is; a file of another version is measured again.
const VERSION: u64 = 1;

/// The measured limits, per thread count.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The CPU's model name.
    pub cpu: String,
    /// Cores (hardware threads) the measurement saw.
    pub cores: usize,
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
    /// GB/s read.
    pub read: f64,
    /// GB/s read plus written by a copy.
    pub copy: f64,
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
                    read: read_bandwidth(threads)?,
                    copy: copy_bandwidth(threads)?,
                },
            );
        }
        Ok(Limits {
            cpu: cpu_model(),
            cores,
            at,
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
        let limits = Limits::measure()?;
        if let Some(path) = &path {
            // A cache that cannot be written only costs the next run a
            // measurement.
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
                           "read_gbytes_per_second": a.read, "copy_gbytes_per_second": a.copy}),
                )
            })
            .collect();
        let value =
            json!({"version": VERSION, "cpu": self.cpu, "cores": self.cores, "threads": at});
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
                    read: f("read_gbytes_per_second")?,
                    copy: f("copy_gbytes_per_second")?,
                },
            );
        }
        Some(Limits {
            cpu: value.get("cpu")?.as_str()?.to_owned(),
            cores: usize::try_from(value.get("cores")?.as_u64()?).ok()?,
            at,
        })
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
            read: 20.0,
            copy: 15.0,
        };
        let limits = Limits {
            cpu: "Some CPU".into(),
            cores: 4,
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
