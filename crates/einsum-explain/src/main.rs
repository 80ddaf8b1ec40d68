//! `einsum-explain`: shows, runs and times an einsum plan.
//!
//! EXPLAIN and EXPLAIN ANALYZE for contractions: the plan's figures and its
//! steps as text, JSON or a Graphviz picture; with `--analyze`, measured
//! time per step next to the prediction; with `-o`, the result as `.npy`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use einsum::exec::{Element, Par, Program, RunOptions, StridedView};
use einsum::plan::fit::Fitted;
use einsum::plan::{Budget, MemoryLimit, Optimize, Plan, PlanOptions, Slicing};
use ndarray::{ArrayD, IxDyn};

use einsum::exec::limits::Precision;
use einsum_explain::dtype::{Array, DType};
use einsum_explain::npy;
use einsum_explain::render::{self, Analysis, ElementType};

const EXAMPLES: &str = "\
Examples:
  einsum-explain 'ij,jk,kl,lm->im' 1000x1000 1000x10 10x1000 1000x1000
  einsum-explain 'ij,ij->i' 1000x1000 1000x1000 --analyze --repeat 10
  einsum-explain 'bhqd,bhkd->bhqk' 4x8x512x64 4x8x512x64 --dtype f32 --format json
  einsum-explain 'ij,jk->ik' a.npy b.npy -o c.npy
  einsum-explain 'abcd,dcfe->abef' 24x24x24x24 24x24x24x24 --format dot | dot -Tsvg > plan.svg

Exit status: 0 on success; 2 for a bad expression, shape, file or flag (the
error, with carets under the offending labels, goes to stderr).";

/// Show, run and time the plan of an einsum expression.
#[derive(Parser, Debug)]
#[command(name = "einsum-explain", version, about, after_help = EXAMPLES)]
struct Args {
    /// The subscripts, e.g. 'ij,jk->ik' (may start with '-': '->' is valid).
    #[arg(allow_hyphen_values = true, required_unless_present = "limits")]
    subscripts: Option<String>,
    /// One per input term: a shape (3x4x5, 7, or scalar for 0-d) or a .npy file.
    operands: Vec<String>,
    /// How to choose the contraction order.
    ///
    /// auto (the default) picks by size: optimal up to 5 operands, an exact
    /// subset DP up to 10, dp up to 16, reconfigure with 3 starts beyond,
    /// then, when the contraction is expected to take over 2 s, hyper for
    /// 1% of that time (at most 1 s).
    /// The exponential searches refuse, with an error rather than a wait of
    /// minutes, more operands than they finish in seconds: optimal at most
    /// 11, dp at most 20, branch at most 10 with --branch-width 0, 24 with
    /// width 2, 15 with width 3 (width 1 has no limit). reconfigure tries
    /// every subtree size up to --subtree and keeps the cheapest order, so
    /// a larger --subtree never gives a costlier one. hyper refines many
    /// diverse starts (multilevel bisections, greedy variants) until
    /// --time-budget is spent, or for exactly --trials trials.
    #[arg(long, value_enum, default_value_t = OptimizeArg::Auto)]
    optimize: OptimizeArg,
    /// Greedy runs for random-greedy (default 32) and reconfigure (default
    /// 8); for hyper, a number of trials instead of a time budget (the same
    /// seed then gives the same order on any machine).
    #[arg(long, value_name = "N")]
    trials: Option<usize>,
    /// Search time of hyper, e.g. 1s, 250ms, 0.5s (default 1s).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    time_budget: Option<Duration>,
    /// Largest subtree reconfigure re-solves exactly, 3 to 10 operands.
    #[arg(long, value_name = "K", default_value_t = 8)]
    subtree: usize,
    /// Width of branch-and-bound: candidates explored per step, 0 for all.
    #[arg(long, value_name = "N", default_value_t = 2)]
    branch_width: usize,
    /// Seed of random-greedy, reconfigure and hyper.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Largest temporary allowed: elements (`1000000`), or bytes of
    /// the run's elements with a unit (`512MB`, `8GiB`). A contraction
    /// that no order fits is sliced.
    #[arg(long, value_name = "N|SIZE")]
    memory_limit: Option<MemoryLimit>,
    /// With --memory-limit: fail when no order fits, instead of slicing.
    #[arg(long, requires = "memory_limit")]
    no_slice: bool,
    /// Run a chain of memory-bound steps whole, not in blocks for the
    /// cache (to compare the two; a memory limit turns blocks off anyway).
    #[arg(long)]
    no_blocks: bool,
    /// Element type for shape operands.
    #[arg(long, default_value = "f64", value_parser = ["f16", "f32", "f64", "c64", "c128", "i32", "i64"])]
    dtype: String,
    /// Threads to run with (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Run the plan and write the result here (every operand must be a .npy file).
    #[arg(short = 'o', long, value_name = "FILE.npy")]
    output: Option<PathBuf>,
    /// Run the plan and report measured time per step next to the
    /// prediction, and as a fraction of this machine's limits (FMA peak,
    /// memory bandwidth: measured on first use, cached in
    /// ~/.cache/einsum/limits.json, or $XDG_CACHE_HOME or $EINSUM_LIMITS_CACHE).
    #[arg(long)]
    analyze: bool,
    /// With --analyze: timed runs after one warm-up (median and minimum reported).
    #[arg(long, value_name = "N")]
    repeat: Option<usize>,
    /// Measure this machine's limits afresh (FMA peaks; read and copy
    /// bandwidth of the L2 cache, the L3 cache and main memory; at one
    /// thread and at every core), cache them for --analyze and print them
    /// (text, or --format json). Takes no expression.
    #[arg(long, conflicts_with_all = ["subscripts", "operands", "analyze", "output"])]
    limits: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizeArg {
    Auto,
    Optimal,
    Dp,
    Greedy,
    Branch,
    RandomGreedy,
    Reconfigure,
    Hyper,
    Naive,
}

/// A duration written as a number and a unit (`s`, `ms`, `us`, `µs`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit (s, ms or us)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{number:?} is not a number"))?;
    let seconds = match unit {
        "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        _ => return Err(format!("unknown unit {unit:?}: s, ms or us")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match explain(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            // Our typed errors render as `error: ...` with carets already.
            let text = format!("{err:#}");
            if text.starts_with("error: ") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::from(2)
        }
    }
}

fn explain(args: &Args) -> Result<String> {
    let Some(subscripts) = &args.subscripts else {
        let limits = einsum_explain::limits::Limits::measure_and_cache()?;
        return Ok(match args.format {
            Format::Json => limits.to_json(),
            _ => limits.to_string(),
        });
    };
    let optimize = match args.optimize {
        OptimizeArg::Auto => Optimize::Auto,
        OptimizeArg::Optimal => Optimize::Optimal,
        OptimizeArg::Dp => Optimize::Dp,
        OptimizeArg::Greedy => Optimize::Greedy,
        OptimizeArg::Branch => Optimize::Branch(args.branch_width),
        OptimizeArg::RandomGreedy => Optimize::RandomGreedy {
            trials: args.trials.unwrap_or(32),
            seed: args.seed,
        },
        OptimizeArg::Reconfigure => Optimize::Reconfigure {
            trials: args.trials.unwrap_or(8),
            subtree: args.subtree,
            seed: args.seed,
        },
        OptimizeArg::Hyper => Optimize::Hyper {
            budget: match (args.trials, args.time_budget) {
                (Some(_), Some(_)) => bail!("hyper takes --trials or --time-budget, not both"),
                (Some(n), None) => Budget::Trials(n),
                (None, time) => Budget::Time(time.unwrap_or(Duration::from_secs(1))),
            },
            seed: args.seed,
        },
        OptimizeArg::Naive => Optimize::Naive,
    };
    if args.time_budget.is_some() && !matches!(args.optimize, OptimizeArg::Hyper) {
        bail!("--time-budget is for --optimize hyper");
    }
    if !(3..=10).contains(&args.subtree) {
        bail!("--subtree must be between 3 and 10");
    }
    if args.trials == Some(0) {
        bail!("--trials must be at least 1");
    }
    let repeat = match (args.repeat, args.analyze) {
        (Some(0), _) => bail!("--repeat must be at least 1"),
        (Some(_), false) => bail!("--repeat times runs: it needs --analyze"),
        (Some(n), true) => n,
        (None, _) => 1,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_threads = MAX_THREADS_PER_CORE * cores;
    let threads = match args.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) if n > max_threads => bail!(
            "--threads {n} is more than {max_threads} ({MAX_THREADS_PER_CORE} per core on this machine's {cores}): more threads than that only wait for each other"
        ),
        Some(n) => n,
        None => cores,
    };
    let operands: Vec<Operand> = args
        .operands
        .iter()
        .map(|text| Operand::parse(text))
        .collect::<Result<_>>()?;
    let shapes: Vec<&[usize]> = operands.iter().map(Operand::shape).collect();
    // The type that runs: the files' promoted, else `--dtype`'s; a limit
    // in bytes counts its elements.
    let file_dtype = operands
        .iter()
        .filter_map(|o| o.dtype())
        .reduce(DType::promote);
    let dtype = match file_dtype {
        Some(d) => d,
        None => DType::parse(&args.dtype)?,
    };
    let memory_limit = args.memory_limit.map(|limit| limit.elements(dtype.size()));
    let options = PlanOptions::new()
        .optimize(optimize)
        .memory_limit(memory_limit)
        .slicing(
            if args.no_slice || args.no_blocks && memory_limit.is_none() {
                Slicing::Never
            } else {
                Slicing::WhenNeeded
            },
        );
    let plan = einsum::explain(subscripts, &shapes, &options)
        .map_err(|err| name_files(err, &args.operands, &operands))?;

    if args.output.is_some() && operands.iter().any(|o| matches!(o, Operand::Shape(_))) {
        bail!("-o writes a result computed from data: every operand must be a .npy file");
    }
    let run_needed = args.analyze || args.output.is_some();
    let mut analysis = None;
    // How each step runs on the arrays this run has: those it makes are in
    // C order, files keep their own order unless cast.
    let strides: Vec<Vec<isize>> = operands.iter().map(|o| o.strides(dtype)).collect();
    let strides: Vec<&[isize]> = strides.iter().map(Vec::as_slice).collect();
    let out_strides = einsum::plan::fit::c_order_strides(&plan.output_shape());
    // Blocks that would cut across the files' memory: the plan's variant, as
    // the executor runs it.
    let plan = match plan.for_layout(&strides, &out_strides) {
        Some(variant) => (**variant).clone(),
        None => plan,
    };
    let fitted = einsum::plan::fit::fit(&plan, &strides, &out_strides, dtype.target())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if run_needed {
        check_memory(&plan, &fitted, &operands, dtype)?;
        let arrays: Vec<Array> = operands
            .into_iter()
            .enumerate()
            .map(|(k, o)| o.data(dtype, k as u64))
            .collect::<Result<_>>()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("cannot start threads")?;
        let (result, measured) = pool.install(|| {
            execute(
                &plan,
                &fitted,
                arrays,
                threads,
                if args.analyze { repeat } else { 0 },
            )
        })?;
        if let Some(path) = &args.output {
            npy::write(path, &result)?;
        }
        if args.analyze {
            let mut measured = measured;
            let limits = einsum_explain::limits::Limits::cached()?;
            measured.roof = limits.roof(threads, Precision::of_dtype(dtype.name()));
            analysis = Some(measured);
        }
    }
    let element = ElementType {
        name: dtype.name(),
        size: dtype.size(),
    };
    Ok(match args.format {
        Format::Text => render::text(&plan, &fitted, analysis.as_ref(), element),
        Format::Json => render::json(&plan, &fitted, analysis.as_ref(), element)?,
        Format::Dot => render::dot(&plan, &fitted),
    })
}

/// More threads than this per core only wait for each other (and thousands
/// of them take minutes to start).
const MAX_THREADS_PER_CORE: usize = 8;

/// Checks, before anything is allocated, that the operands this run makes
/// (random data for shapes, widened copies of files), its result and its
/// temporaries fit in this machine's memory together.
fn check_memory(plan: &Plan, fitted: &Fitted, operands: &[Operand], dtype: DType) -> Result<()> {
    use einsum::exec::{Allocation, check_shape};
    for (k, o) in operands.iter().enumerate() {
        check_shape(o.shape(), dtype.size(), Allocation::Operand(k))
            .map_err(einsum::Error::from)?;
    }
    check_shape(&plan.output_shape(), dtype.size(), Allocation::Result)
        .map_err(einsum::Error::from)?;
    let size = dtype.size() as u128;
    let made = operands.iter().try_fold(0u128, |sum, o| {
        let elements = o
            .shape()
            .iter()
            .try_fold(1u128, |n, &d| n.checked_mul(d as u128))?;
        let makes = match o {
            Operand::Shape(_) => true,
            Operand::File(a) => a.dtype() != dtype,
        };
        sum.checked_add(if makes {
            elements.checked_mul(size)?
        } else {
            0
        })
    });
    let total =
        made.and_then(|m| m.checked_add(einsum::exec::bytes_needed(plan, fitted, dtype.size())?));
    einsum::exec::check_bytes(total, einsum::exec::Allocation::Run).map_err(einsum::Error::from)?;
    Ok(())
}

/// A binding error names operands by position; say which files they are.
fn name_files(err: einsum::Error, texts: &[String], operands: &[Operand]) -> anyhow::Error {
    let files: Vec<String> = texts
        .iter()
        .zip(operands)
        .enumerate()
        .filter_map(|(k, (text, o))| match o {
            Operand::File(a) => {
                let dims: Vec<String> = a.shape().iter().map(usize::to_string).collect();
                let shape = if dims.is_empty() {
                    "scalar".to_owned()
                } else {
                    dims.join("x")
                };
                Some(format!("operand {k} is '{text}' (shape {shape})"))
            }
            Operand::Shape(_) => None,
        })
        .collect();
    if files.is_empty() || !matches!(err, einsum::Error::Plan(_)) {
        return err.into();
    }
    anyhow::anyhow!("{err}\n{}", files.join("\n"))
}

/// An operand argument: a shape, or a `.npy` file already read.
enum Operand {
    Shape(Vec<usize>),
    File(Array),
}

impl Operand {
    fn parse(text: &str) -> Result<Operand> {
        if text == "scalar" {
            return Ok(Operand::Shape(Vec::new()));
        }
        let looks_like_shape = !text.is_empty()
            && text
                .split('x')
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        if looks_like_shape && !Path::new(text).exists() {
            let dims = text
                .split('x')
                .map(|d| {
                    d.parse::<usize>()
                        .with_context(|| format!("dimension '{d}' of '{text}' is too large"))
                })
                .collect::<Result<_>>()?;
            return Ok(Operand::Shape(dims));
        }
        if !text.ends_with(".npy") && !Path::new(text).exists() {
            bail!("'{text}' is neither a shape (like 3x4x5, 7 or scalar) nor a .npy file");
        }
        Ok(Operand::File(npy::read(Path::new(text))?))
    }

    fn shape(&self) -> &[usize] {
        match self {
            Operand::Shape(s) => s,
            Operand::File(a) => a.shape(),
        }
    }

    /// The element strides the array this operand becomes will have.
    fn strides(&self, dtype: DType) -> Vec<isize> {
        match self {
            Operand::File(a) if a.dtype() == dtype => a.strides(),
            _ => einsum::plan::fit::c_order_strides(self.shape()),
        }
    }

    fn dtype(&self) -> Option<DType> {
        match self {
            Operand::Shape(_) => None,
            Operand::File(a) => Some(a.dtype()),
        }
    }

    fn data(self, dtype: DType, seed: u64) -> Result<Array> {
        Ok(match self {
            Operand::Shape(s) => Array::random(dtype, &s, seed)?,
            Operand::File(a) => a.cast(dtype)?,
        })
    }
}

/// Runs the plan once (then, when `repeat > 0`, once more as warm-up and
/// `repeat` timed times), returning the result and the timings.
fn execute(
    plan: &Plan,
    fitted: &Fitted,
    arrays: Vec<Array>,
    threads: usize,
    repeat: usize,
) -> Result<(Array, Analysis)> {
    macro_rules! typed {
        ($variant:ident) => {{
            let typed: Vec<ArrayD<_>> = arrays
                .into_iter()
                .map(|a| match a {
                    Array::$variant(x) => x,
                    _ => unreachable!("operands were cast to one type"),
                })
                .collect();
            let (result, analysis) = execute_typed(plan, fitted, &typed, threads, repeat)?;
            (Array::$variant(result), analysis)
        }};
    }
    let dtype = arrays.first().map_or(DType::F64, Array::dtype);
    Ok(match dtype {
        DType::F16 => typed!(F16),
        DType::F32 => typed!(F32),
        DType::F64 => typed!(F64),
        DType::C64 => typed!(C64),
        DType::C128 => typed!(C128),
        DType::I32 => typed!(I32),
        DType::I64 => typed!(I64),
    })
}

fn execute_typed<T: Element>(
    plan: &Plan,
    fitted: &Fitted,
    arrays: &[ArrayD<T>],
    threads: usize,
    repeat: usize,
) -> Result<(ArrayD<T>, Analysis)> {
    let inputs: Vec<StridedView<'_, T>> =
        arrays.iter().map(|a| StridedView::from(a.view())).collect();
    let shape = plan.output_shape();
    let len = einsum::exec::check_shape(&shape, size_of::<T>(), einsum::exec::Allocation::Result)
        .map_err(einsum::Error::from)?;
    let data = einsum::exec::try_zeroed::<T>(len, einsum::exec::Allocation::Result)
        .map_err(einsum::Error::from)?;
    let mut out = ArrayD::from_shape_vec(IxDyn(&shape), data)?;
    let options = RunOptions::new().par(if threads > 1 {
        Par::Rayon(threads)
    } else {
        Par::Seq
    });
    // The fit the report prints is the one that runs.
    let program = Program::from_fitted(Arc::new(plan.clone()), fitted.clone())?;
    let analysis = render::time_runs(&program, &inputs, &mut out, &options, repeat)?;
    Ok((out, analysis))
}
