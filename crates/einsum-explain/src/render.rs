//! The three renderings of a plan fitted to its arrays: text, JSON and
//! Graphviz, with the measured times of an analyzed run. The command line
//! tool and the Python package (`einsumc.explain`) print the same reports.

use std::fmt::Write;
use std::time::Duration;

use einsum::exec::limits::Level;
use einsum::exec::{
    Element, ExecError, Program, RunOptions, StridedView, StridedViewMut, Workspace,
};
use einsum::plan::fit::{Fitted, Lowered};
use einsum::plan::{Dest, Plan, Source, Step};
use ndarray::ArrayD;
use serde_json::json;

/// Measured times: per step and in total, over the timed runs.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Timed runs (after one warm-up).
    pub repeat: usize,
    /// Each timed run's total.
    pub totals: Vec<Duration>,
    /// Per step, its time in each timed run.
    pub steps: Vec<Vec<Duration>>,
    /// Threads the runs used.
    pub threads: usize,
    /// Elements each step copied in the first run, as the executor counted.
    pub copied: Vec<usize>,
    /// Elements of workspace the runs allocated.
    pub workspace: usize,
    /// How many slices or blocks ran at once (1 for a plan not cut).
    pub lanes: usize,
    /// The machine's limits for this element type and thread count, when
    /// known: each step's rate is then also a fraction of them.
    pub roof: Option<Roof>,
}

/// Runs `program` once (the result, and the warm-up), then `repeat` times
/// timed step by step, into `out`: what `--analyze` and
/// `einsumc.explain(analyze=True)` measure.
///
/// # Errors
/// As [`Program::run_profiled`].
pub fn time_runs<T: Element>(
    program: &Program,
    inputs: &[StridedView<'_, T>],
    out: &mut ArrayD<T>,
    run: &RunOptions,
    repeat: usize,
) -> Result<Analysis, ExecError> {
    let mut workspace = Workspace::new();
    let mut analysis = Analysis {
        repeat,
        steps: vec![Vec::new(); program.plan().steps().len()],
        threads: run.threads(),
        ..Analysis::default()
    };
    for i in 0..=repeat {
        let mut view = StridedViewMut::try_from(out.view_mut())?;
        let profile = program.run_profiled(inputs, &mut view, run, &mut workspace)?;
        if i == 0 {
            analysis.copied = profile.copied;
            analysis.workspace = workspace.len();
            analysis.lanes = profile.lanes;
        } else {
            analysis.totals.push(profile.times.iter().sum());
            for (step, t) in analysis.steps.iter_mut().zip(profile.times) {
                step.push(t);
            }
        }
    }
    Ok(analysis)
}

/// The machine's limits a step's rate is compared with (a roofline).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roof {
    /// GFLOP/s of fused multiply-adds for the element type (none for
    /// integers and `bool`: their steps are compared with the bandwidth
    /// alone).
    pub peak_gflops: Option<f64>,
    /// The read bandwidth of each level data can live at, nearest first.
    pub levels: [RoofLevel; 3],
}

/// One level of memory in a [`Roof`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoofLevel {
    /// Which.
    pub level: Level,
    /// Bytes of data up to which a step's data stays there.
    pub capacity: u128,
    /// GB/s of reading data there.
    pub read_gbs: f64,
}

impl Roof {
    /// The level a step that moves `bytes` reads from: the nearest that
    /// holds them all (repeated runs find the data there).
    pub fn level(&self, bytes: u128) -> RoofLevel {
        self.levels
            .into_iter()
            .find(|l| bytes <= l.capacity)
            .unwrap_or(self.levels[2])
    }

    /// The fraction of the roofline a step reached: its GFLOP/s over the
    /// lower of the FMA peak and what the bandwidth of its data's level
    /// can feed at its arithmetic intensity, or for a step without
    /// arithmetic (or of integers), its GB/s over that bandwidth.
    pub fn fraction(&self, flops: u128, bytes: u128, seconds: f64) -> Option<f64> {
        if seconds <= 0.0 || bytes == 0 && flops == 0 {
            return None;
        }
        let bandwidth = self.level(bytes).read_gbs;
        let gflops = flops as f64 / seconds / 1e9;
        let gbs = bytes as f64 / seconds / 1e9;
        match self.peak_gflops {
            Some(peak) if flops > 0 => {
                let fed = if bytes > 0 {
                    bandwidth * flops as f64 / bytes as f64
                } else {
                    f64::INFINITY
                };
                Some(gflops / peak.min(fed))
            }
            _ => (bytes > 0).then(|| gbs / bandwidth),
        }
    }
}

/// The element type a report is for: numpy's name and its size in bytes.
#[derive(Clone, Copy, Debug)]
pub struct ElementType<'a> {
    /// numpy's name (`float64`).
    pub name: &'a str,
    /// Bytes per element.
    pub size: usize,
}

fn median(times: &[Duration]) -> f64 {
    let mut s: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn minimum(times: &[Duration]) -> f64 {
    times
        .iter()
        .map(Duration::as_secs_f64)
        .fold(f64::INFINITY, f64::min)
}

/// Elements a step reads (each input through its distinct, non-broadcast
/// axes) and writes, over every slice or block it runs for (its time is
/// theirs together): the planner's own figure, so a rate measures what
/// the report predicts, and a product of sizes can never overflow here
/// (it saturates at `u128::MAX`, which no run reaches).
/// In a plan cut into blocks for the cache, the temporaries' traffic stays
/// in cache: only the operands' and the result's count.
fn elements_moved(plan: &Plan, step: &Step) -> u128 {
    let from_memory = if plan.blocks().is_some() {
        step.moved.saturating_sub(temporary_elements(plan, step))
    } else {
        step.moved
    };
    from_memory.saturating_mul(runs_of_steps(plan))
}

/// Elements of temporaries a step reads and writes (one slice's).
fn temporary_elements(plan: &Plan, step: &Step) -> u128 {
    let bound = plan.step_bound();
    let len = |axes: &[einsum::plan::AxisId]| {
        axes.iter()
            .fold(1u128, |n, &a| n.saturating_mul(bound.axis(a).size as u128))
    };
    let read: u128 = step
        .args
        .iter()
        .filter_map(|arg| match arg.source {
            Source::Temp(t) => plan.temps().get(t.0).map(|axes| len(axes)),
            Source::Operand(_) => None,
        })
        .sum();
    let written = match step.out {
        Dest::Temp(_) => len(&step.out_axes),
        Dest::Output => 0,
    };
    read.saturating_add(written)
}

/// A step's FLOPs over every slice or block it runs for.
fn step_flops(plan: &Plan, step: &Step) -> u128 {
    step.flops.saturating_mul(runs_of_steps(plan))
}

/// How many times the steps run: once per slice or block.
fn runs_of_steps(plan: &Plan) -> u128 {
    plan.partition().map_or(1, |s| s.count())
}

fn per_second(amount: u128, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount as f64 / seconds / 1e9
    } else {
        0.0
    }
}

fn human(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.3} s")
    } else if seconds >= 1e-3 {
        format!("{:.3} ms", seconds * 1e3)
    } else {
        format!("{:.3} µs", seconds * 1e6)
    }
}

/// The plan report for the arrays it runs on (`fitted`), then the
/// measurements when there are any.
pub fn text(
    plan: &Plan,
    fitted: &Fitted,
    analysis: Option<&Analysis>,
    dtype: ElementType<'_>,
) -> String {
    let elem_size = dtype.size;
    // The element type goes under the plan's shapes (the planner itself is
    // not generic over it).
    let mut out = String::new();
    for line in plan
        .display_fitted(fitted)
        .to_string()
        .split_inclusive('\n')
    {
        out.push_str(line);
        if line.trim_start().starts_with("Shapes:") {
            let _ = writeln!(out, "          Element type:  {}", dtype.name);
        }
    }
    let Some(a) = analysis else { return out };
    let at_once = match (a.lanes, plan.blocks().is_some()) {
        (0 | 1, _) => String::new(),
        (n, true) => format!(" ({n} blocks at once)"),
        (n, false) => format!(" ({n} slices at once)"),
    };
    let _ = writeln!(
        out,
        "\nMeasured: median of {} run{} after one warm-up, {} thread{}{at_once}, {}",
        a.repeat,
        if a.repeat == 1 { "" } else { "s" },
        a.threads,
        if a.threads == 1 { "" } else { "s" },
        dtype.name
    );
    let _ = writeln!(
        out,
        "{:>5} {:>12} {:>12} {:>10} {:>10}{}",
        "step",
        "median",
        "min",
        "GFLOP/s",
        "GB/s",
        if a.roof.is_some() { "   roof" } else { "" }
    );
    for (i, (step, times)) in plan.steps().iter().zip(&a.steps).enumerate() {
        let m = median(times);
        let bytes = elements_moved(plan, step).saturating_mul(elem_size as u128);
        let roof = a.roof.map_or(String::new(), |r| {
            let level = r.level(bytes).level.name();
            r.fraction(step_flops(plan, step), bytes, m)
                .map_or(String::new(), |f| format!(" {:>5.0}% {level}", f * 100.0))
        });
        let _ = writeln!(
            out,
            "{i:>5} {:>12} {:>12} {:>10.2} {:>10.2}{roof}",
            human(m),
            human(minimum(times)),
            per_second(step_flops(plan, step), m),
            per_second(bytes, m),
        );
    }
    let m = median(&a.totals);
    let _ = writeln!(
        out,
        "{:>5} {:>12} {:>12} {:>10.2}",
        "total",
        human(m),
        human(minimum(&a.totals)),
        per_second(plan.optimized_flops(), m)
    );
    if let Some(roof) = a.roof {
        let levels: Vec<String> = roof
            .levels
            .iter()
            .map(|l| format!("{} {:.1}", l.level.name(), l.read_gbs))
            .collect();
        let _ = writeln!(
            out,
            "roof: the step's rate as a fraction of this machine's limit at {} thread{} \
             ({}GB/s read from {}: the nearest level that holds the step's data, named \
             after the fraction; measured once, cached in {})",
            a.threads,
            if a.threads == 1 { "" } else { "s" },
            roof.peak_gflops
                .map_or(String::new(), |p| format!("FMA peak {p:.1} GFLOP/s, ")),
            levels.join(", "),
            crate::limits::cache_path().map_or("no file".to_owned(), |p| p.display().to_string())
        );
    }
    out
}

/// The plan report as JSON, with `analyze` when measured. FLOP counts are
/// exact integers, also beyond 2^64 (serde_json's arbitrary precision).
pub fn json(
    plan: &Plan,
    fitted: &Fitted,
    analysis: Option<&Analysis>,
    dtype: ElementType<'_>,
) -> serde_json::Result<String> {
    let elem_size = dtype.size;
    let mut value = serde_json::to_value(plan.report_fitted(fitted))?;
    if let Some(map) = value.as_object_mut() {
        map.insert("dtype".into(), json!(dtype.name));
    }
    if let (Some(a), Some(map)) = (analysis, value.as_object_mut()) {
        let steps: Vec<_> = plan
            .steps()
            .iter()
            .zip(&a.steps)
            .enumerate()
            .map(|(i, (step, times))| {
                let m = median(times);
                let bytes =
                    |step: &Step| elements_moved(plan, step).saturating_mul(elem_size as u128);
                json!({
                    "copied_elements": a.copied.get(i).copied().unwrap_or(0),
                    "median_seconds": m,
                    "min_seconds": minimum(times),
                    "gflops_per_second": per_second(step_flops(plan, step), m),
                    "gbytes_per_second": per_second(bytes(step), m),
                    "roof_fraction": a
                        .roof
                        .and_then(|r| r.fraction(step_flops(plan, step), bytes(step), m)),
                    "roof_level": a.roof.map(|r| r.level(bytes(step)).level.name()),
                })
            })
            .collect();
        map.insert(
            "analyze".into(),
            json!({
                "repeat": a.repeat,
                "threads": a.threads,
                "lanes": a.lanes,
                "workspace_elements": a.workspace,
                "limits": a.roof.map(|r| json!({
                    "fma_peak_gflops": r.peak_gflops,
                    "read_gbytes_per_second": r.levels.iter()
                        .map(|l| (l.level.name().to_owned(), json!(l.read_gbs)))
                        .collect::<serde_json::Map<_, _>>(),
                })),
                "median_seconds": median(&a.totals),
                "min_seconds": minimum(&a.totals),
                "steps": steps,
            }),
        );
    }
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// A Graphviz picture of the contraction tree: operands at the bottom, each
/// step a node with its einsum, kernel and result shape.
pub fn dot(plan: &Plan, fitted: &Fitted) -> String {
    let bound = plan.bound();
    // Temporaries are one slice's when the plan is sliced.
    let step_bound = plan.step_bound();
    let shape = |axes: &[einsum::plan::AxisId]| -> String {
        if axes.is_empty() {
            "scalar".into()
        } else {
            axes.iter()
                .map(|&a| step_bound.axis(a).size.to_string())
                .collect::<Vec<_>>()
                .join("x")
        }
    };
    let source = |s: Source| match s {
        Source::Operand(k) => format!("operand{}", k.0),
        Source::Temp(t) => t.to_string(),
    };
    let dest = |d: Dest| match d {
        Dest::Temp(t) => t.to_string(),
        Dest::Output => "out".to_owned(),
    };
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from(
        "digraph einsum {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    let cut = match (plan.slicing_summary(), plan.blocks_summary()) {
        (Some(slicing), _) => Some(format!("sliced: {slicing}")),
        (None, Some(blocks)) => Some(format!("blocked: {blocks}")),
        (None, None) => None,
    };
    let label = match cut {
        Some(cut) => format!("{}\\n{}", escape(&bound.expr().to_string()), escape(&cut)),
        None => escape(&bound.expr().to_string()),
    };
    let _ = writeln!(out, "  label=\"{label}\";");
    for (k, dims) in bound.operands().iter().enumerate() {
        let term: String = dims.iter().map(|d| bound.axis(d.axis).name).collect();
        let extents: Vec<String> = dims.iter().map(|d| d.extent.to_string()).collect();
        let shape = if extents.is_empty() {
            "scalar".into()
        } else {
            extents.join("x")
        };
        let _ = writeln!(
            out,
            "  operand{k} [label=\"operand {k}\\n{}\\n{shape}\", style=rounded];",
            escape(&term)
        );
    }
    for (step, fit) in plan.steps().iter().zip(fitted.steps()) {
        let target = dest(step.out);
        let mut label = format!(
            "{} = {}\\n{}\\n{}",
            target,
            escape(&plan.step_subscripts(step)),
            escape(&step.kernel.to_string()),
            shape(&step.out_axes)
        );
        let _ = write!(label, "\\nruns as {}", escape(&fit.lowered.to_string()));
        if let Lowered::Gemm(gemm) = &fit.lowered {
            for repack in &gemm.repacks {
                let _ = write!(label, "\\n+ {}", escape(&repack.to_string()));
            }
        }
        let _ = writeln!(
            out,
            "  {target} [label=\"{label}\"{}];",
            if step.out == Dest::Output {
                ", penwidth=2"
            } else {
                ""
            }
        );
        for arg in &step.args {
            let _ = writeln!(out, "  {} -> {target};", source(arg.source));
        }
    }
    out.push_str("}\n");
    out
}
