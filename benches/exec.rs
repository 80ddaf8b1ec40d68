//! Execution time: every workload of `../shared/workloads.toml`, on one and
//! on two threads, plus the per-call overhead of a tiny product (the
//! machine's limits are `einsum-explain --limits`'s).
//!
//! Run: `cargo bench --bench exec` (about 5.5 minutes on the 2-core machine).
//! `benches/compare_exec.py` runs this, times numpy and opt_einsum on the
//! same workloads and writes the comparison into docs/performance.md.
//!
//! Groups (criterion ids `<group>/<id>`):
//!
//! - `exec_1t/<workload>`, `exec_2t/<workload>`: a compiled
//!   `einsum::Einsum` with `Par::Seq` or `Par::Rayon(2)`, one warm-up call
//!   (plans, sizes the workspace), then `run_into` a preallocated output:
//!   the kernels, not the output's allocation.
//! - `small_overhead/run_4x4`: `Einsum::run` (returning a new array) on
//!   4x4 `ij,jk->ik`, `Par::Seq`: the whole per-call cost of a compiled
//!   expression.
//!
//! Environment:
//!
//! - `EINSUM_BENCH_FILTER=name[,name]`: only these workloads (exact names;
//!   the `small_overhead` group always runs). Criterion's
//!   own filter (`cargo bench --bench exec -- exec_1t/dot_10M`) works too;
//!   operands are made only for workloads that run.
//! - `EINSUM_BENCH_QUICK=1`: short warm-up and measurement, 10 samples
//!   (smoke tests; the figures are noisy).
//!
//! Operands are as workloads.toml says: seeded standard-normal floats
//! (splitmix64 and Box-Muller), integers in [-100, 100). Operands and
//! outputs are allocated as numpy allocates its arrays: fresh memory
//! advised for transparent huge pages (`einsum::exec::advise_huge_pages`)
//! before it is written; numpy does this for every array of 4 MiB or more,
//! and without it strided workloads (trace, diagonal) measured up to 2x
//! slower from TLB misses alone.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use einsum::exec::{Accum, Element, Par};
use einsum::{Einsum, Operand, Options};
use ndarray::{ArrayD, IxDyn};

/// splitmix64: a small, well-mixed deterministic generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so the logarithm below is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Seeded standard-normal floats (Box-Muller, both outputs used) and
/// integers in [-100, 100).
struct Random {
    rng: SplitMix64,
    spare: Option<f64>,
}

impl Random {
    fn new(seed: u64) -> Self {
        Random {
            rng: SplitMix64(seed),
            spare: None,
        }
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.rng.unit().ln()).sqrt();
        let theta = std::f64::consts::TAU * self.rng.unit();
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    fn integer(&mut self) -> i64 {
        (self.rng.next_u64() % 200) as i64 - 100
    }
}

/// The element types the workloads use, and how to draw one.
trait Draw: Element {
    fn draw(random: &mut Random) -> Self;
}

impl Draw for f32 {
    fn draw(random: &mut Random) -> Self {
        random.normal() as f32
    }
}

impl Draw for f64 {
    fn draw(random: &mut Random) -> Self {
        random.normal()
    }
}

impl Draw for i64 {
    fn draw(random: &mut Random) -> Self {
        random.integer()
    }
}

/// Operand `k` of workload `index`: its own seed, so operands differ.
fn operand<T: Draw>(index: usize, k: usize, shape: &[usize]) -> ArrayD<T> {
    let seed = 0x5EED_0000_0000_0000 ^ ((index as u64) << 8) ^ k as u64;
    let mut random = Random::new(seed);
    // Fresh zeroed memory, advised for huge pages before it is written, as
    // numpy allocates its arrays (docs/performance.md says why).
    let mut array = ArrayD::from_elem(IxDyn(shape), T::ZERO);
    einsum::exec::advise_huge_pages(array.as_slice_mut().expect("a new array is contiguous"));
    array.iter_mut().for_each(|x| *x = T::draw(&mut random));
    array
}

fn quick() -> bool {
    std::env::var("EINSUM_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Criterion settings from an estimate of one call (from the plan's FLOPs
/// and the bytes the operands and the result hold; no call is made, so
/// workloads criterion's filter skips cost nothing). From a millisecond on,
/// 10 samples of flat sampling (criterion's linear sampling would run 55
/// calls): a workload then costs about warm-up + max(measurement,
/// 10 calls); sum_all_100M and the 2048 products take the latter
/// (criterion says so with a warning, which is expected).
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, estimate: Duration) {
    let (warm_up, measure) = if quick() {
        (Duration::from_millis(300), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(4))
    };
    group.warm_up_time(warm_up);
    group.measurement_time(measure);
    if estimate >= Duration::from_millis(1) {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
    } else {
        group.sample_size(if quick() { 10 } else { 50 });
        group.sampling_mode(SamplingMode::Auto);
    }
}

/// A rough guess of one single-threaded call: 20 GFLOP/s, 10 GB/s.
fn estimate<T>(flops: u128, shapes: &[Vec<usize>], output: &[usize]) -> Duration {
    let elements: usize = shapes
        .iter()
        .map(|s| s.iter().product::<usize>())
        .sum::<usize>()
        + output.iter().product::<usize>();
    let bytes = (elements * std::mem::size_of::<T>()) as f64;
    Duration::from_secs_f64(flops as f64 / 20e9 + bytes / 10e9)
}

/// Times one workload on one and on two threads. The operands are made on
/// first use (only if criterion's filter selects the workload) and shared
/// by both groups; each group's first sample makes one untimed warm-up call
/// (plans, sizes the workspace) and allocates the output.
fn workload<T: Draw>(c: &mut Criterion, index: usize, w: &support::Workload) {
    let mut operands: Option<Vec<ArrayD<T>>> = None;
    for (group_name, par) in [("exec_1t", Par::Seq), ("exec_2t", Par::Rayon(2))] {
        let einsum = Einsum::with_options(&w.subscripts, Options::new().par(par))
            .expect("workload compiles");
        let plan = einsum.plan(&w.shapes).expect("workload plans");
        let output = plan.output_shape();
        let mut out: Option<ArrayD<T>> = None;
        let mut group = c.benchmark_group(group_name);
        configure(
            &mut group,
            estimate::<T>(plan.optimized_flops(), &w.shapes, &output),
        );
        group.bench_function(&w.name, |b| {
            let ops = operands.get_or_insert_with(|| {
                w.shapes
                    .iter()
                    .enumerate()
                    .map(|(k, shape)| operand::<T>(index, k, shape))
                    .collect()
            });
            let refs: Vec<&dyn Operand<T>> = ops.iter().map(|a| a as &dyn Operand<T>).collect();
            let out = out.get_or_insert_with(|| {
                let mut out = ArrayD::<T>::from_elem(IxDyn(&output), T::ZERO);
                einsum::exec::advise_huge_pages(out.as_slice_mut().expect("contiguous"));
                einsum
                    .run_into(&refs, out.view_mut(), Accum::Replace)
                    .expect("workload runs");
                out
            });
            b.iter(|| {
                einsum
                    .run_into(black_box(&refs), out.view_mut(), Accum::Replace)
                    .unwrap()
            })
        });
        group.finish();
    }
}

fn exec(c: &mut Criterion) {
    let all = support::workloads();
    let only: Option<Vec<String>> = std::env::var("EINSUM_BENCH_FILTER")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    if let Some(names) = &only {
        for name in names {
            assert!(
                all.iter().any(|w| &w.name == name),
                "EINSUM_BENCH_FILTER: no workload named {name:?} in workloads.toml"
            );
        }
    }
    for (index, w) in all.iter().enumerate() {
        if only.as_ref().is_some_and(|names| !names.contains(&w.name)) {
            continue;
        }
        match w.dtype.as_str() {
            "float32" => workload::<f32>(c, index, w),
            "float64" => workload::<f64>(c, index, w),
            "int64" => workload::<i64>(c, index, w),
            other => panic!("workload {}: dtype {other} is not benchmarked", w.name),
        }
    }
}

/// The whole cost of one call on a tiny product: plan lookup, views,
/// output allocation, the kernel.
fn small_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("small_overhead");
    if quick() {
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
    } else {
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
    }
    let einsum = Einsum::with_options("ij,jk->ik", Options::new().par(Par::Seq))
        .expect("ij,jk->ik compiles");
    let a = operand::<f64>(1000, 0, &[4, 4]);
    let b = operand::<f64>(1000, 1, &[4, 4]);
    einsum.run(&[&a, &b]).expect("runs");
    group.bench_function("run_4x4", |bench| {
        bench.iter(|| einsum.run(black_box(&[&a, &b])).unwrap())
    });
    group.finish();
}

criterion_group!(benches, exec, small_overhead);
criterion_main!(benches);
