//! Times one method on one workload of `../shared/workloads.toml`, for
//! `benches/why.py`: our einsum (compiled or per call) or the
//! `ndarray-einsum` crate, on the same arrays (both crates take ndarray
//! 0.17, so the operands are built once, from one `Vec` each).
//!
//! ```text
//! einsum-peer-ndarray-einsum WORKLOAD METHOD [BUDGET MIN_LOOP MAX_REPEATS CALL_LIMIT]
//! ```
//!
//! METHOD is one of
//!
//! - `ours-compiled-seq`: `einsum::Einsum` with `Par::Seq`, compiled once,
//!   `run` returning a new array (as numpy returns one) on every call;
//! - `ours-compiled-all`: the same with `Par::Auto` (all of rayon's threads);
//! - `ours-per-call`: `einsum::einsum` (parse, plan, run) on every call, with
//!   the default options: run it with `RAYON_NUM_THREADS=1` for one thread;
//! - `ndarray-einsum`: `ndarray_einsum::einsum` on every call (it has no
//!   threads). Its first result is checked against ours before timing.
//!
//! Timing is the one `benches/compare_exec.py` uses for numpy, with loop
//! sizes from a second call rather than the first: one warm-up call, one
//! calibrating call, then loops of at least MIN_LOOP seconds (default 0.1),
//! as many as fit in BUDGET seconds (default 2) up to MAX_REPEATS (default
//! 15), at least 3 where they fit; the median of the loops' per-call times.
//! A first call still running after CALL_LIMIT seconds (default 20) ends the
//! process.
//!
//! Prints one line: `seconds S repeats R number N first F threads T`, or
//! `timeout`, `error MESSAGE` (the method cannot run this workload) or
//! `mismatch MESSAGE` (ndarray-einsum's result differs from ours).
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use einsum::{Einsum, Operand, Options, Par};
use ndarray::{ArrayD, IxDyn, LinalgScalar};
use ndarray_einsum::ArrayLike;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 6 {
        eprintln!(
            "usage: einsum-peer-ndarray-einsum WORKLOAD METHOD [BUDGET MIN_LOOP MAX_REPEATS CALL_LIMIT]"
        );
        std::process::exit(2);
    }
    let number = |i: usize, default: f64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let timing = Timing {
        budget: number(2, 2.0),
        min_loop: number(3, 0.1),
        max_repeats: number(4, 15.0) as usize,
        call_limit: number(5, 20.0),
    };
    let (index, workload) = find_workload(&args[0]);
    let method = args[1].as_str();
    let line = match workload.dtype.as_str() {
        "float32" => measure::<f32>(index, &workload, method, &timing),
        "float64" => measure::<f64>(index, &workload, method, &timing),
        "int64" => measure::<i64>(index, &workload, method, &timing),
        other => format!("error dtype {other} is not supported by this harness"),
    };
    println!("{line}");
}

/// One workload of `../shared/workloads.toml`.
struct Workload {
    subscripts: String,
    shapes: Vec<Vec<usize>>,
    dtype: String,
}

/// The workload named `name` and its position in the file (the seed).
fn find_workload(name: &str) -> (usize, Workload) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/workloads.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list = table["workload"].as_array().expect("[[workload]] entries");
    let (index, w) = list
        .iter()
        .enumerate()
        .find(|(_, w)| w["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no workload named {name:?} in {}", path.display()));
    let text_field = |k: &str| {
        w[k].as_str()
            .unwrap_or_else(|| panic!("workload field {k}"))
            .to_owned()
    };
    let shapes = w["shapes"]
        .as_array()
        .expect("shapes")
        .iter()
        .map(|s| {
            let dims = s.as_array().expect("shape");
            dims.iter()
                .map(|d| d.as_integer().expect("dimension") as usize)
                .collect()
        })
        .collect();
    let workload = Workload {
        subscripts: text_field("subscripts"),
        shapes,
        dtype: text_field("dtype"),
    };
    (index, workload)
}

/// The timing parameters (see the crate docs).
struct Timing {
    budget: f64,
    min_loop: f64,
    max_repeats: usize,
    call_limit: f64,
}

/// Element types both crates take, how to draw one, and how to compare.
trait Draw: einsum::Element + LinalgScalar {
    fn draw(random: &mut Random) -> Self;
    fn to_f64(self) -> f64;
    /// Relative difference allowed between two crates' results.
    const TOLERANCE: f64;
}

impl Draw for f32 {
    fn draw(random: &mut Random) -> Self {
        random.normal() as f32
    }
    fn to_f64(self) -> f64 {
        self.into()
    }
    const TOLERANCE: f64 = 1e-3;
}

impl Draw for f64 {
    fn draw(random: &mut Random) -> Self {
        random.normal()
    }
    fn to_f64(self) -> f64 {
        self
    }
    const TOLERANCE: f64 = 1e-9;
}

impl Draw for i64 {
    fn draw(random: &mut Random) -> Self {
        (random.next_u64() % 200) as i64 - 100
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    const TOLERANCE: f64 = 0.0;
}

/// splitmix64 with Box-Muller normals: seeded, so every method of a
/// workload gets the same operands.
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1], so its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// Operand `k` of workload `index`: one `Vec`, advised for huge pages
/// before it is written (as numpy does for arrays of 4 MiB or more).
fn operand<T: Draw>(index: usize, k: usize, shape: &[usize]) -> ArrayD<T> {
    let mut random = Random(0x5EED_0000_0000_0000 ^ ((index as u64) << 8) ^ k as u64);
    let mut data = vec![T::ZERO; shape.iter().product()];
    einsum::exec::advise_huge_pages(&mut data);
    data.iter_mut().for_each(|x| *x = T::draw(&mut random));
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("the data fits the shape")
}

fn measure<T: Draw>(index: usize, w: &Workload, method: &str, timing: &Timing) -> String {
    let arrays: Vec<ArrayD<T>> = w
        .shapes
        .iter()
        .enumerate()
        .map(|(k, s)| operand(index, k, s))
        .collect();
    let ours: Vec<&dyn Operand<T>> = arrays.iter().map(|a| a as &dyn Operand<T>).collect();
    let theirs: Vec<&dyn ArrayLike<T>> = arrays.iter().map(|a| a as &dyn ArrayLike<T>).collect();
    let subscripts = w.subscripts.as_str();
    let one_line = |e: &dyn std::fmt::Display| e.to_string().replace('\n', " / ");
    match method {
        "ours-compiled-seq" | "ours-compiled-all" => {
            let par = if method.ends_with("seq") {
                Par::Seq
            } else {
                Par::Auto
            };
            let compiled = match Einsum::with_options(subscripts, Options::new().par(par)) {
                Ok(compiled) => compiled,
                Err(e) => return format!("error {}", one_line(&e)),
            };
            time(timing, par.threads(), || {
                compiled.run(&ours).map_err(|e| one_line(&e))
            })
        }
        "ours-per-call" => time(timing, Par::Auto.threads(), || {
            einsum::einsum(subscripts, &ours).map_err(|e| one_line(&e))
        }),
        "ndarray-einsum" => {
            let expected = match einsum::einsum(subscripts, &ours) {
                Ok(expected) => expected,
                Err(e) => return format!("error ours fails: {}", one_line(&e)),
            };
            let mut checked = false;
            time(timing, 1, || {
                let result =
                    ndarray_einsum::einsum(subscripts, &theirs).map_err(|e| e.to_string())?;
                if !checked {
                    checked = true;
                    compare(&expected, &result).map_err(|e| format!("mismatch {e}"))?;
                }
                Ok(result)
            })
        }
        other => format!("error unknown method {other}"),
    }
}

/// Whether `actual` equals `expected` within `T::TOLERANCE` of the largest
/// magnitude in `expected`.
fn compare<T: Draw>(expected: &ArrayD<T>, actual: &ArrayD<T>) -> Result<(), String> {
    if expected.shape() != actual.shape() {
        return Err(format!(
            "shape {:?}, ours {:?}",
            actual.shape(),
            expected.shape()
        ));
    }
    let scale = expected
        .iter()
        .fold(1.0f64, |m, &x| m.max(x.to_f64().abs()));
    let worst = expected
        .iter()
        .zip(actual)
        .fold(0.0f64, |m, (&x, &y)| m.max((x.to_f64() - y.to_f64()).abs()));
    if worst > T::TOLERANCE * scale {
        return Err(format!(
            "largest difference {worst:e} (largest magnitude {scale:e})"
        ));
    }
    Ok(())
}

/// Times `call` (see the crate docs); the result line.
fn time<T>(timing: &Timing, threads: usize, mut call: impl FnMut() -> Result<T, String>) -> String {
    // A first call over the limit ends the process from this thread.
    let done = Arc::new(AtomicBool::new(false));
    let watch = done.clone();
    let limit = Duration::from_secs_f64(timing.call_limit);
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        if !watch.load(Ordering::SeqCst) {
            println!("timeout");
            std::process::exit(0);
        }
    });
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(&mut call));
    let first = start.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    match outcome {
        Ok(Ok(result)) => drop(black_box(result)),
        Ok(Err(e)) if e.starts_with("mismatch ") => return e,
        Ok(Err(e)) => return format!("error {e}"),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            return format!("error panicked: {}", message.replace('\n', " / "));
        }
    }
    // Loop sizes from a second call: the first one plans (ours compiled)
    // and touches fresh memory, up to 100 times the steady cost on tiny
    // workloads.
    let start = Instant::now();
    black_box(call().expect("the warm-up call succeeded"));
    let per = start.elapsed().as_secs_f64().max(1e-9);
    let number = ((timing.min_loop / per).ceil() as usize).max(1);
    let mut repeats =
        ((timing.budget / (number as f64 * per)) as usize).clamp(1, timing.max_repeats.max(1));
    if per * number as f64 * 3.0 <= timing.budget * 1.5 {
        repeats = repeats.max(3);
    }
    let mut runs: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..number {
                black_box(call().expect("the warm-up call succeeded"));
            }
            start.elapsed().as_secs_f64() / number as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let median = if repeats % 2 == 1 {
        runs[repeats / 2]
    } else {
        (runs[repeats / 2 - 1] + runs[repeats / 2]) / 2.0
    };
    format!(
        "seconds {median:e} repeats {repeats} number {number} first {first:e} threads {threads}"
    )
}
