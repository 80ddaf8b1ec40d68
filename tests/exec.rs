//! The executor against the reference evaluator: one corpus, every dtype,
//! every layout, every strategy.

mod support;

use std::sync::Arc;

use einsum::exec::{
    Accum, Element, GemmPolicy, Par, Program, RunOptions, StridedView, StridedViewMut, Workspace,
};
use einsum::plan::{Optimize, PlanOptions};
use einsum::{Einsum, Options};
use ndarray::{ArrayViewD, Axis, IxDyn, ShapeBuilder, Slice};
use num_complex::Complex;
use proptest::prelude::*;
use support::corpus::{self, ShapedCase};
use support::reference::{self, Magnitude};
use support::strategies;

/// How an operand is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    C,
    F,
    /// Every dimension taken with step 2 from a larger C array.
    Stepped,
    /// C order read backwards: every stride negative.
    Reversed,
    /// The first dimension of extent > 1 has stride 0 (a broadcast view).
    ZeroStride,
}

const LAYOUTS: [Layout; 5] = [
    Layout::C,
    Layout::F,
    Layout::Stepped,
    Layout::Reversed,
    Layout::ZeroStride,
];

/// `(buffer length, offset, strides)` for `shape` in `layout`.
fn lay_out(shape: &[usize], layout: Layout) -> (usize, usize, Vec<isize>) {
    let c = |shape: &[usize]| -> Vec<isize> {
        let mut s = vec![0isize; shape.len()];
        let mut next = 1isize;
        for (d, &e) in shape.iter().enumerate().rev() {
            s[d] = next;
            next *= e.max(1) as isize;
        }
        s
    };
    let len: usize = shape.iter().product::<usize>().max(1);
    match layout {
        Layout::C => (len, 0, c(shape)),
        Layout::F => {
            let mut s = vec![0isize; shape.len()];
            let mut next = 1isize;
            for (d, &e) in shape.iter().enumerate() {
                s[d] = next;
                next *= e.max(1) as isize;
            }
            (len, 0, s)
        }
        Layout::Stepped => {
            let big: Vec<usize> = shape.iter().map(|&e| 2 * e.max(1)).collect();
            let s = c(&big).iter().map(|s| s * 2).collect();
            (big.iter().product::<usize>().max(1), 0, s)
        }
        Layout::Reversed => {
            let s: Vec<isize> = c(shape).iter().map(|s| -s).collect();
            (len, if shape.contains(&0) { 0 } else { len - 1 }, s)
        }
        Layout::ZeroStride => {
            let mut s = c(shape);
            if let Some(d) = shape.iter().position(|&e| e > 1) {
                s[d] = 0;
            }
            (len, 0, s)
        }
    }
}

/// Deterministic values: floats in [-1, 1), integers in [-10, 10).
trait Sample: Element + Magnitude {
    fn sample(seed: u64) -> Self;
}

fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64) -> f64 {
    (mix(seed) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

impl Sample for f32 {
    fn sample(seed: u64) -> Self {
        unit(seed) as f32
    }
}
impl Sample for f64 {
    fn sample(seed: u64) -> Self {
        unit(seed)
    }
}
impl Sample for i32 {
    fn sample(seed: u64) -> Self {
        (mix(seed) % 20) as i32 - 10
    }
}
impl Sample for i64 {
    fn sample(seed: u64) -> Self {
        (mix(seed) % 20) as i64 - 10
    }
}
macro_rules! small_integer {
    ($($t:ty: $lo:expr),*) => {$(
        impl Sample for $t {
            fn sample(seed: u64) -> Self {
                // Signed types in [-10, 10), unsigned in [0, 20).
                ((mix(seed) % 20) as i64 + $lo) as $t
            }
        }
    )*};
}
small_integer!(i8: -10, i16: -10, u8: 0, u16: 0, u32: 0, u64: 0);

impl Sample for einsum::f16 {
    fn sample(seed: u64) -> Self {
        einsum::f16::from_f64(unit(seed))
    }
}

impl Sample for bool {
    fn sample(seed: u64) -> Self {
        mix(seed) % 2 == 1
    }
}

impl Sample for Complex<f32> {
    fn sample(seed: u64) -> Self {
        Complex::new(unit(seed) as f32, unit(seed ^ 0xABCD) as f32)
    }
}
impl Sample for Complex<f64> {
    fn sample(seed: u64) -> Self {
        Complex::new(unit(seed), unit(seed ^ 0xABCD))
    }
}

/// One configuration to run a case under.
#[derive(Clone, Debug)]
struct Config {
    layout: Layout,
    optimize: Optimize,
    gemm: GemmPolicy,
    options: RunOptions,
    out_reversed: bool,
    /// A memory limit, in elements: tight ones slice every contraction
    /// that has temporaries.
    memory_limit: Option<usize>,
}

/// Each operand's data laid out as `layout` lays out its shape: (buffer,
/// offset, strides), with deterministic values.
fn operand_buffers<T: Sample>(
    case: &ShapedCase,
    layout: Layout,
) -> Vec<(Vec<T>, usize, Vec<isize>)> {
    case.shapes
        .iter()
        .enumerate()
        .map(|(k, shape)| {
            let (len, offset, strides) = lay_out(shape, layout);
            let data = (0..len)
                .map(|i| T::sample((k as u64) << 32 | i as u64))
                .collect();
            (data, offset, strides)
        })
        .collect()
}

/// Those buffers as the reference evaluator reads them.
fn reference_operands<'a, T>(
    case: &ShapedCase,
    buffers: &'a [(Vec<T>, usize, Vec<isize>)],
) -> Vec<reference::Operand<'a, T>> {
    buffers
        .iter()
        .zip(&case.shapes)
        .map(|((data, offset, strides), shape)| reference::Operand {
            data,
            offset: *offset,
            shape: shape.clone(),
            strides: strides.clone(),
        })
        .collect()
}

/// Runs `case` under `config` and compares with the reference; the error
/// says what differs.
fn check<T: Sample>(case: &ShapedCase, config: &Config) -> Result<(), String> {
    let expr = einsum::parse(&case.text).map_err(|e| e.to_string())?;
    let plan = einsum::explain(
        &case.text,
        &case.shapes,
        &PlanOptions::new()
            .optimize(config.optimize.clone())
            .gemm(config.gemm)
            .memory_limit(config.memory_limit),
    )
    .map_err(|e| e.to_string())?;
    if let Some(limit) = config.memory_limit
        && plan.largest_temporary() > limit
    {
        return Err(format!(
            "a temporary of {} elements over the limit of {limit}:\n{plan}",
            plan.largest_temporary()
        ));
    }
    let buffers = operand_buffers::<T>(case, config.layout);
    let reference = reference::evaluate(&expr, &reference_operands(case, &buffers));
    let shape = reference.shape.clone();
    assert_eq!(
        shape,
        plan.output_shape(),
        "the reference and the plan disagree on the output shape"
    );

    let views: Vec<StridedView<'_, T>> = buffers
        .iter()
        .zip(&case.shapes)
        .map(|((data, offset, strides), shape)| {
            StridedView::new(data, *offset, shape.clone(), strides.clone()).unwrap()
        })
        .collect();
    let len: usize = shape.iter().product();
    let prefill: Vec<T> = (0..len)
        .map(|i| T::sample(0xFFFF_0000 + i as u64))
        .collect();
    let mut got = prefill.clone();
    let (offset, strides) = if config.out_reversed {
        let (_, offset, strides) = lay_out(&shape, Layout::Reversed);
        (offset, strides)
    } else {
        (0, lay_out(&shape, Layout::C).2)
    };
    let mut out = StridedViewMut::new(&mut got, offset, shape.clone(), strides).unwrap();
    let plan = Arc::new(plan);
    let program = Program::for_arrays(plan.clone(), &views, &out).map_err(|e| e.to_string())?;
    let mut workspace = Workspace::new();
    let profile = program
        .run_profiled(&views, &mut out, &config.options, &mut workspace)
        .map_err(|e| e.to_string())?;
    // What the report of this fit prints is what ran: the workspace
    // allocated (per slice, for each slice run at once) and every copy
    // made.
    let report = plan.report_fitted(program.fitted());
    let per_lane: usize = report.workspace_elements.to_string().parse().unwrap();
    if workspace.len() != per_lane * profile.lanes {
        return Err(format!(
            "allocated {} elements, the report says {per_lane} for each of {} lanes",
            workspace.len(),
            profile.lanes
        ));
    }
    let printed: Vec<usize> = report
        .steps
        .iter()
        .map(|s| s.copies.iter().map(|c| c.elements).sum())
        .collect();
    if profile.copied != printed {
        return Err(format!(
            "copied {:?} elements per step, the report says {printed:?}",
            profile.copied
        ));
    }
    // On C-order arrays of a type with GEMM kernels, that is the plan's own
    // report. (Empty arrays have no one C order: their strides are a
    // convention, and nothing is read.)
    let empty = case.shapes.iter().flatten().any(|&e| e == 0);
    let c_order = config.layout == Layout::C && !config.out_reversed && !empty;
    if c_order && einsum::exec::target::<T>().blas && program.fitted() != plan.c_order() {
        return Err(format!(
            "the plan's report is not what runs on C-order arrays:\n{plan}\n{}",
            plan.display_fitted(program.fitted())
        ));
    }

    let adds = config.options == config.options.accum(Accum::Add);
    let view_strides = if config.out_reversed {
        lay_out(&shape, Layout::Reversed).2
    } else {
        lay_out(&shape, Layout::C).2
    };
    let values: Vec<(T, Option<T>)> = (0..len)
        .map(|i| {
            // The C-order index i, and where the output view put it.
            let mut rest = i;
            let mut at = offset as isize;
            for d in (0..shape.len()).rev() {
                at += (rest % shape[d]) as isize * view_strides[d];
                rest /= shape[d];
            }
            (got[at as usize], adds.then(|| prefill[at as usize]))
        })
        .collect();
    compare(&values, &reference)
}

/// Each result element in C order (with what it was added to, if the run
/// added) against the reference: integers exactly, floats within a few ulps
/// of the summed magnitudes.
fn compare<T: Sample>(
    values: &[(T, Option<T>)],
    reference: &reference::Reference<T>,
) -> Result<(), String> {
    let shape = &reference.shape;
    for (i, &(value, prefill)) in values.iter().enumerate() {
        if T::EPSILON == 0.0 {
            // Integers: exact, wrapping like numpy's.
            let mut expected = reference.exact[i];
            if let Some(p) = prefill {
                expected = p.add(expected);
            }
            if value != expected {
                return Err(format!(
                    "element {i} of {shape:?}: got {value:?}, want {expected:?}"
                ));
            }
        } else {
            let (mut re, mut im) = reference.precise[i];
            let mut scale = reference.magnitude[i];
            if let Some(p) = prefill {
                let (pr, pi) = p.parts();
                re += pr;
                im += pi;
                scale += p.magnitude();
            }
            let (vr, vi) = value.parts();
            let error = (vr - re).abs() + (vi - im).abs();
            // Rounding in T of the products and of any order of summation:
            // a few ulps of the summed magnitudes (pairwise keeps it small).
            // Halves: 8 ulps (0.8%), so a kernel that loses a bit shows.
            let ulps = if T::EPSILON > 1e-4 { 8.0 } else { 64.0 };
            let tolerance = ulps * T::EPSILON * scale + f64::MIN_POSITIVE;
            if error > tolerance {
                return Err(format!(
                    "element {i} of {shape:?}: got {value:?}, want ({re}, {im}), error {error:e} > {tolerance:e}"
                ));
            }
        }
    }
    Ok(())
}

/// `data` laid out as [`lay_out`] lays out `shape`, as an ndarray view: the
/// same memory, reached through ndarray's safe constructors.
fn ndarray_view<'a, T>(data: &'a [T], shape: &[usize], layout: Layout) -> ArrayViewD<'a, T> {
    let c = |shape: &[usize]| {
        ArrayViewD::from_shape(IxDyn(shape), &data[..shape.iter().product::<usize>()]).unwrap()
    };
    match layout {
        Layout::C => c(shape),
        Layout::F => {
            ArrayViewD::from_shape(IxDyn(shape).f(), &data[..shape.iter().product::<usize>()])
                .unwrap()
        }
        Layout::Stepped => {
            let big: Vec<usize> = shape.iter().map(|&e| 2 * e.max(1)).collect();
            let mut v = c(&big);
            for (k, &e) in shape.iter().enumerate() {
                v = v.slice_axis_move(Axis(k), Slice::new(0, Some(2 * e as isize), 2));
            }
            v
        }
        Layout::Reversed => {
            let mut v = c(shape);
            for axis in 0..shape.len() {
                v.invert_axis(Axis(axis));
            }
            v
        }
        Layout::ZeroStride => match shape.iter().position(|&e| e > 1) {
            Some(d) => {
                let (_, _, strides) = lay_out(shape, Layout::ZeroStride);
                debug_assert_eq!(strides[d], 0);
                let strides: Vec<usize> = strides.iter().map(|&s| s as usize).collect();
                // Read-only views may repeat elements: ndarray accepts it.
                ArrayViewD::from_shape(IxDyn(shape).strides(IxDyn(&strides)), data).unwrap()
            }
            None => c(shape),
        },
    }
}

/// The corpus through compiled expressions (`Einsum`, with its plan and
/// program caches, as users call it): every layout, twice per expression
/// (the second call from the caches), against the reference.
fn run_corpus_compiled<T: Sample>() {
    let mut failures = Vec::new();
    for case in &corpus::read_shaped("exec.txt") {
        let expr = einsum::parse(&case.text).unwrap();
        for layout in LAYOUTS {
            for options in [
                Options::new(),
                Options::new()
                    .par(Par::Rayon(2))
                    .gemm(GemmPolicy::MinWork(0)),
            ] {
                let compiled = Einsum::with_options(&case.text, options).unwrap();
                let buffers = operand_buffers::<T>(case, layout);
                let reference = reference::evaluate(&expr, &reference_operands(case, &buffers));
                let views: Vec<ArrayViewD<'_, T>> = buffers
                    .iter()
                    .zip(&case.shapes)
                    .map(|((data, _, _), shape)| ndarray_view(data, shape, layout))
                    .collect();
                let args: Vec<&dyn einsum::Operand<T>> =
                    views.iter().map(|v| v as &dyn einsum::Operand<T>).collect();
                for call in 0..2 {
                    let outcome = compiled
                        .run(&args)
                        .map_err(|e| e.to_string())
                        .and_then(|got| {
                            let values: Vec<(T, Option<T>)> =
                                got.iter().map(|&v| (v, None)).collect();
                            compare(&values, &reference)
                        });
                    if let Err(e) = outcome {
                        failures.push(format!(
                            "exec.txt:{} {} {layout:?} call {call}: {e}",
                            case.line, case.text
                        ));
                    }
                }
                if compiled.plans_made() != 1 {
                    failures.push(format!(
                        "exec.txt:{} {}: planned {} times",
                        case.line,
                        case.text,
                        compiled.plans_made()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({}):\n{}",
        failures.len(),
        T::NAME,
        failures.join("\n")
    );
}

#[test]
fn compiled_expressions_run_the_corpus() {
    run_corpus_compiled::<f64>();
    run_corpus_compiled::<i64>();
    run_corpus_compiled::<Complex<f32>>();
}

fn configs(full: bool) -> Vec<Config> {
    let base = Config {
        layout: Layout::C,
        optimize: Optimize::Auto,
        gemm: GemmPolicy::Auto,
        options: RunOptions::new(),
        out_reversed: false,
        memory_limit: None,
    };
    if !full {
        return LAYOUTS
            .iter()
            .map(|&layout| Config {
                layout,
                ..base.clone()
            })
            .collect();
    }
    let mut list = Vec::new();
    for &layout in &LAYOUTS {
        // GEMM for every GEMM step (even tiny ones), by size (the default),
        // and never.
        for gemm in strategies::GEMM_POLICIES {
            for par in strategies::PARS {
                list.push(Config {
                    layout,
                    gemm,
                    options: RunOptions::new().par(par),
                    ..base.clone()
                });
            }
        }
    }
    for optimize in strategies::optimizers() {
        list.push(Config {
            optimize,
            ..base.clone()
        });
    }
    // Sliced: every temporary at most 1 element (every axis a temporary
    // holds is sliced), or 3; slices one at a time and two at once, into
    // an output replaced or added to.
    for &layout in &LAYOUTS {
        for (limit, par) in [(1, Par::Seq), (1, Par::Rayon(2)), (3, Par::Rayon(2))] {
            list.push(Config {
                layout,
                memory_limit: Some(limit),
                options: RunOptions::new().par(par),
                ..base.clone()
            });
        }
    }
    list.push(Config {
        memory_limit: Some(2),
        out_reversed: true,
        options: RunOptions::new().accum(Accum::Add).par(Par::Rayon(2)),
        ..base.clone()
    });
    list.push(Config {
        options: RunOptions::new().accum(Accum::Add),
        ..base.clone()
    });
    list.push(Config {
        out_reversed: true,
        ..base.clone()
    });
    list.push(Config {
        out_reversed: true,
        options: RunOptions::new().accum(Accum::Add).par(Par::Rayon(2)),
        ..base
    });
    list
}

fn run_corpus<T: Sample>(full: bool) {
    let mut failures = Vec::new();
    let cases = corpus::read_shaped("exec.txt");
    for case in &cases {
        for config in configs(full) {
            if let Err(e) = check::<T>(case, &config) {
                failures.push(format!(
                    "exec.txt:{} {} {:?}: {e}",
                    case.line, case.text, config
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({}):\n{}",
        failures.len(),
        T::NAME,
        failures.join("\n")
    );
}

#[test]
fn f64_every_layout_strategy_and_optimizer() {
    run_corpus::<f64>(true);
}

#[test]
fn f32_every_layout_strategy_and_optimizer() {
    run_corpus::<f32>(true);
}

#[test]
fn complex128_every_layout() {
    run_corpus::<Complex<f64>>(false);
}

#[test]
fn complex64_every_layout() {
    run_corpus::<Complex<f32>>(false);
}

#[test]
fn int64_every_layout_and_strategy() {
    run_corpus::<i64>(true);
}

#[test]
fn int32_every_layout() {
    run_corpus::<i32>(false);
}

/// A random einsum built by construction: up to five axes of small sizes,
/// one to four operands over them (repeated labels are diagonals, an extent
/// of 1 broadcasts), an explicit output of some of the axes in any order or
/// numpy's implicit one.
fn random_case() -> impl Strategy<Value = ShapedCase> {
    let sizes =
        proptest::collection::vec(proptest::sample::select(vec![1usize, 2, 3, 4, 7]), 1..=5);
    sizes
        .prop_flat_map(|sizes| {
            let n = sizes.len();
            let operand = proptest::collection::vec((0..n, proptest::bool::weighted(0.15)), 0..=4);
            let operands = proptest::collection::vec(operand, 1..=4);
            let output = (
                proptest::collection::vec(proptest::bool::ANY, n),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                proptest::bool::weighted(0.2),
            );
            (Just(sizes), operands, output)
        })
        .prop_map(|(sizes, operands, (keep, order, implicit))| {
            let label = |a: usize| char::from(b'a' + a as u8);
            let terms: Vec<String> = operands
                .iter()
                .map(|dims| dims.iter().map(|&(a, _)| label(a)).collect())
                .collect();
            let shapes: Vec<Vec<usize>> = operands
                .iter()
                .map(|dims| {
                    // A repeated label is a diagonal: its extents must agree, so
                    // only its first appearance may broadcast... and then all
                    // must; keep diagonals at full size.
                    dims.iter()
                        .enumerate()
                        .map(|(i, &(a, one))| {
                            let repeated =
                                dims.iter().enumerate().any(|(j, &(b, _))| j != i && b == a);
                            if one && !repeated { 1 } else { sizes[a] }
                        })
                        .collect()
                })
                .collect();
            let used: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&a| keep[a] && operands.iter().flatten().any(|&(b, _)| b == a))
                .collect();
            let text = if implicit {
                terms.join(",")
            } else {
                format!(
                    "{}->{}",
                    terms.join(","),
                    used.iter().map(|&a| label(a)).collect::<String>()
                )
            };
            ShapedCase {
                line: 0,
                text,
                shapes,
                fields: Vec::new(),
                comment: "generated".into(),
            }
        })
}

/// The corpus line a failing case becomes (`tests/corpus/exec.txt`).
fn corpus_line(case: &ShapedCase) -> String {
    let shapes: Vec<String> = case
        .shapes
        .iter()
        .map(|s| {
            if s.is_empty() {
                "scalar".to_owned()
            } else {
                s.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
            }
        })
        .collect();
    format!(
        "{}  {}  # found by the executor property test",
        case.text,
        shapes.join(" ")
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random N-ary expressions, layouts, GEMM policies and threads against
    /// the reference evaluator. A failure prints its shrunk case as a corpus
    /// line: add it to `tests/corpus/exec.txt` with a name, so it is run on
    /// every dtype, layout and strategy from then on.
    #[test]
    fn random_expressions_match_the_reference(
        case in random_case(),
        layout in proptest::sample::select(LAYOUTS.to_vec()),
        gemm in proptest::sample::select(strategies::GEMM_POLICIES.to_vec()),
        par in proptest::sample::select(strategies::PARS.to_vec()),
        optimize in proptest::sample::select(strategies::optimizers()),
        memory_limit in proptest::sample::select(vec![None, Some(1), Some(4)]),
    ) {
        // Every generated case binds today; should binding ever refuse one
        // (as numpy would), it is skipped rather than compared.
        if einsum::explain(&case.text, &case.shapes, &PlanOptions::new()).is_err() {
            return Ok(());
        }
        let config = Config {
            layout,
            optimize,
            gemm,
            options: RunOptions::new().par(par),
            out_reversed: false,
            memory_limit,
        };
        for result in [check::<f64>(&case, &config), check::<i64>(&case, &config)] {
            prop_assert!(result.is_ok(), "{}\n{:?}\n{}", corpus_line(&case), config, result.unwrap_err());
        }
    }
}

#[test]
fn small_integers_unsigned_and_booleans_every_layout() {
    // Products wrap in the type's own width, as numpy's do; booleans sum
    // as or. The reference accumulates in the type too.
    run_corpus::<i8>(false);
    run_corpus::<i16>(false);
    run_corpus::<u8>(false);
    run_corpus::<u16>(false);
    run_corpus::<u32>(false);
    run_corpus::<u64>(false);
    run_corpus::<bool>(false);
}

#[test]
fn float16_every_layout() {
    // Halves round each product and addition they store, and accumulate
    // dots and sums in f32; within a few half ulps of the precise sums.
    run_corpus::<einsum::f16>(false);
}
