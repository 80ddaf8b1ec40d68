//! Running a plan: check the arrays against it, then run its steps.

use std::sync::Arc;

use einsum_plan::{Kernel, Plan, Slot, Step};
use smallvec::SmallVec;

use crate::element::Element;
use crate::error::ExecError;
use crate::kernels::{self, strided::Bases};
use crate::par::{Accum, GemmPolicy, Par};
use crate::repack::{self, Repacked, Tensor};
use crate::step::Loops;
use crate::step::{axis_strides, c_strides, loops, present};
use crate::view::{Dims, StridedView, StridedViewMut};
use crate::workspace::Workspace;

/// How to run: parallelism, whether to add into the output, and which
/// kernels may be used (all by default; tests force the strided loops to
/// check the GEMM path against them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RunOptions {
    par: Par,
    accum: Accum,
    gemm: GemmPolicy,
}

impl RunOptions {
    /// The defaults: all threads, replace the output, GEMM where it applies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parallelism.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// Replace the output or add into it.
    pub fn accum(mut self, accum: Accum) -> Self {
        self.accum = accum;
        self
    }

    /// Which matrix-product steps run on the GEMM kernels.
    pub fn gemm(mut self, gemm: GemmPolicy) -> Self {
        self.gemm = gemm;
        self
    }
}

/// Runs `plan` on `inputs`, writing (or adding) the result into `out`.
///
/// The arrays must have the shapes the plan was made for. Temporaries live
/// in `workspace`, which is grown once and reused by later runs.
pub fn run<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<(), ExecError> {
    run_observed(plan, inputs, out, options, workspace, |_| {})
}

/// As [`run`], and returns how long each step took, in plan order: for
/// `einsum-explain --analyze`. Only the steps are timed, not the checks.
pub fn run_profiled<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<Vec<std::time::Duration>, ExecError> {
    let mut times = Vec::with_capacity(plan.steps().len());
    let mut started = None;
    run_observed(plan, inputs, out, options, workspace, |event| match event {
        Event::Start => started = Some(std::time::Instant::now()),
        Event::End => times.push(started.map_or(std::time::Duration::ZERO, |t| t.elapsed())),
    })?;
    Ok(times)
}

/// Around each step, for profiling.
enum Event {
    Start,
    End,
}

/// A plan fitted to the strides of its operands and output: every step's
/// loops (strides per axis, sorted and fused) worked out once, so running it
/// again on arrays with the same strides does no set-up work and allocates
/// nothing. What a compiled expression keeps between calls.
///
/// ```
/// use std::sync::Arc;
/// use einsum_exec::{Program, RunOptions, StridedView, StridedViewMut, Workspace};
///
/// let expr = einsum_syntax::parse("ij->j").unwrap().lower();
/// let bound = einsum_plan::bind(&expr, &[&[2, 3][..]]).unwrap();
/// let plan = Arc::new(einsum_plan::plan(&bound, &Default::default()).unwrap());
///
/// let a = [1, 2, 3, 4, 5, 6];
/// let mut c = [0; 3];
/// let input = StridedView::new(&a, 0, vec![2, 3], vec![3, 1])?;
/// let mut out = StridedViewMut::new(&mut c, 0, vec![3], vec![1])?;
/// let program = Program::new(plan, &[input.strides()], out.strides())?;
/// let mut workspace = Workspace::new();
/// for _ in 0..2 {
///     program.run(&[input.clone()], &mut out, &RunOptions::new(), &mut workspace)?;
/// }
/// assert_eq!(c, [5, 7, 9]);
/// # Ok::<(), einsum_exec::ExecError>(())
/// ```
#[derive(Debug)]
pub struct Program {
    plan: Arc<Plan>,
    fitted: Fitted,
}

/// A plan's steps fitted to strides; only ever run with that plan.
#[derive(Debug)]
struct Fitted {
    input_strides: Vec<Dims<isize>>,
    out_strides: Dims<isize>,
    steps: Vec<StepLoops>,
    /// Scratch each GEMM step's copies need (left, right, result).
    scratch: [usize; 3],
}

/// One step, ready to run.
#[derive(Debug)]
struct StepLoops {
    /// Where each input is read from.
    args: SmallVec<[Slot; 2]>,
    /// Where the result goes.
    out: Slot,
    /// The loops over the step's axes.
    loops: Loops,
    /// Whether the plan chose GEMM for it (used when the element type and
    /// the options allow).
    gemm: bool,
    /// Its multiply-adds (saturating).
    points: usize,
    /// Copies that make it one GEMM, when the GEMM kernel runs it.
    repack: Option<Repacked>,
}

impl Program {
    /// Fits `plan` to operands and an output with these element strides.
    ///
    /// # Errors
    /// If there is not one stride list per operand, of the operand's rank,
    /// and one stride per output dimension.
    pub fn new(
        plan: Arc<Plan>,
        input_strides: &[&[isize]],
        out_strides: &[isize],
    ) -> Result<Program, ExecError> {
        let fitted = Fitted::new(&plan, input_strides, out_strides)?;
        Ok(Program { plan, fitted })
    }

    /// The plan this program runs.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Whether arrays with these strides can run this program.
    pub fn fits(&self, input_strides: &[&[isize]], out_strides: &[isize]) -> bool {
        self.fitted.fits(input_strides, out_strides)
    }

    /// Runs on `inputs`, writing (or adding) the result into `out`.
    ///
    /// # Errors
    /// If the arrays' shapes are not the plan's or their strides not the
    /// program's, or the workspace cannot grow to the plan's temporaries.
    pub fn run<T: Element>(
        &self,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
    ) -> Result<(), ExecError> {
        self.fitted
            .run_observed(&self.plan, inputs, out, options, workspace, |_| {})
    }
}

impl Fitted {
    fn new(
        plan: &Plan,
        input_strides: &[&[isize]],
        out_strides: &[isize],
    ) -> Result<Fitted, ExecError> {
        let bound = plan.bound();
        if input_strides.len() != bound.operands().len() {
            return Err(ExecError::OperandCountMismatch {
                expected: bound.operands().len(),
                got: input_strides.len(),
            });
        }
        let shapes = bound
            .operands()
            .iter()
            .map(|dims| dims.iter().map(|d| d.extent).collect::<Vec<_>>())
            .chain([plan.output_shape()]);
        let strides = input_strides.iter().copied().chain([out_strides]);
        for (shape, strides) in shapes.zip(strides) {
            if shape.len() != strides.len() {
                return Err(ExecError::RankMismatch {
                    shape,
                    strides: strides.to_vec(),
                });
            }
        }
        let steps = plan
            .steps()
            .iter()
            .map(|step| fit_step(plan, step, input_strides, out_strides))
            .collect::<Vec<_>>();
        let mut scratch = [0usize; 3];
        for step in &steps {
            for (tensor, _, len) in step.repack.iter().flat_map(|r| &r.copies) {
                let slot = &mut scratch[*tensor as usize];
                *slot = (*slot).max(*len);
            }
        }
        Ok(Fitted {
            input_strides: input_strides.iter().map(|s| Dims::from_slice(s)).collect(),
            out_strides: Dims::from_slice(out_strides),
            steps,
            scratch,
        })
    }

    fn fits(&self, input_strides: &[&[isize]], out_strides: &[isize]) -> bool {
        self.out_strides.as_slice() == out_strides
            && self.input_strides.len() == input_strides.len()
            && self
                .input_strides
                .iter()
                .zip(input_strides)
                .all(|(mine, theirs)| mine.as_slice() == *theirs)
    }

    /// Runs `plan`, which must be the plan this was fitted for.
    fn run_observed<T: Element>(
        &self,
        plan: &Plan,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
        mut observe: impl FnMut(Event),
    ) -> Result<(), ExecError> {
        check_shapes(plan, inputs, out)?;
        let strides_fit = self.out_strides.as_slice() == out.strides()
            && self
                .input_strides
                .iter()
                .zip(inputs)
                .all(|(mine, view)| mine.as_slice() == view.strides());
        if !strides_fit {
            return Err(ExecError::StridesMismatch);
        }
        workspace.prepare(plan)?;
        if options.gemm != GemmPolicy::Never && T::GEMM {
            workspace.prepare_scratch(self.scratch)?;
        }
        let threads = options.par.threads();
        let out_ptr = out.ptr();
        for step in &self.steps {
            let base = |slot: Slot, workspace: &mut Workspace<T>| match slot {
                Slot::Operand(k) => inputs[k].ptr(),
                Slot::Temp(t) => workspace.buffer(t).as_ptr(),
                Slot::Output => unreachable!("no step reads the output"),
            };
            let a = base(step.args[0], workspace);
            let b = step.args.get(1).map(|&slot| base(slot, workspace));
            let (dst, accum) = match step.out {
                Slot::Output => (out_ptr, options.accum),
                Slot::Temp(t) => (workspace.buffer(t).as_mut_ptr(), Accum::Replace),
                Slot::Operand(_) => unreachable!("no step writes an operand"),
            };
            let bases = Bases { a, b, out: dst };
            let use_gemm = T::GEMM && step.gemm && options.gemm.uses_gemm(step.points);
            observe(Event::Start);
            match (&step.repack, use_gemm) {
                (Some(repack), true) => {
                    let scratch: [*mut T; 3] =
                        std::array::from_fn(|i| workspace.scratch(i).as_mut_ptr());
                    // SAFETY: as below; each copy reads its tensor at the
                    // strides it was fitted to and writes a scratch buffer of
                    // at least its size (`prepare_scratch` with the sizes
                    // `Fitted::new` collected), in C order; the GEMM then
                    // reads and writes the buffers at those C-order strides.
                    unsafe { run_repacked(repack, bases, scratch, accum, threads) };
                }
                // SAFETY: every base and stride comes from a view checked at
                // construction (operands, output; their shapes and strides
                // are the ones this program was fitted to, checked above) or
                // from a workspace buffer sized for the temporary's C-order
                // layout (`Workspace::prepare`), and the loops reach exactly
                // the indices of those shapes. The output is an exclusive,
                // unaliased view; temporaries are distinct buffers, and no
                // step reads the slot it writes.
                (_, true) => unsafe { kernels::gemm::run(&step.loops, bases, accum, threads) },
                // SAFETY: as above.
                (_, false) => unsafe { kernels::strided::run(&step.loops, bases, accum, threads) },
            }
            observe(Event::End);
        }
        Ok(())
    }
}

/// A GEMM step through copies: inputs into scratch buffers, one GEMM, the
/// result out of its buffer.
///
/// # Safety
/// `bases` as for the kernels; each scratch buffer holds at least the
/// elements its copy writes.
unsafe fn run_repacked<T: Element>(
    repack: &Repacked,
    bases: Bases<T>,
    scratch: [*mut T; 3],
    accum: Accum,
    threads: usize,
) {
    let mut gemm_bases = bases;
    let mut out_copy = None;
    for (tensor, loops, _) in &repack.copies {
        let buffer = scratch[*tensor as usize];
        match tensor {
            Tensor::Left | Tensor::Right => {
                let src = if *tensor == Tensor::Left {
                    bases.a
                } else {
                    bases.b.expect("a GEMM step has two inputs")
                };
                let copy = Bases {
                    a: src,
                    b: None,
                    out: buffer,
                };
                // SAFETY: the caller's contract.
                unsafe { kernels::strided::run(loops, copy, Accum::Replace, threads) };
                if *tensor == Tensor::Left {
                    gemm_bases.a = buffer;
                } else {
                    gemm_bases.b = Some(buffer);
                }
            }
            Tensor::Out => {
                gemm_bases.out = buffer;
                out_copy = Some((loops, buffer));
            }
        }
    }
    let gemm_accum = if out_copy.is_some() {
        Accum::Replace
    } else {
        accum
    };
    // SAFETY: the caller's contract.
    unsafe { kernels::gemm::run(&repack.gemm, gemm_bases, gemm_accum, threads) };
    if let Some((loops, buffer)) = out_copy {
        let copy = Bases {
            a: buffer.cast_const(),
            b: None,
            out: bases.out,
        };
        // SAFETY: the caller's contract.
        unsafe { kernels::strided::run(loops, copy, accum, threads) };
    }
}

/// The arrays have the plan's operand count and shapes.
fn check_shapes<T>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &StridedViewMut<'_, T>,
) -> Result<(), ExecError> {
    let bound = plan.bound();
    if inputs.len() != bound.operands().len() {
        return Err(ExecError::OperandCountMismatch {
            expected: bound.operands().len(),
            got: inputs.len(),
        });
    }
    for (k, (view, dims)) in inputs.iter().zip(bound.operands()).enumerate() {
        let fits = view.shape().len() == dims.len()
            && view.shape().iter().zip(dims).all(|(&e, d)| e == d.extent);
        if !fits {
            return Err(ExecError::OperandShapeMismatch {
                operand: k,
                expected: dims.iter().map(|d| d.extent).collect(),
                got: view.shape().to_vec(),
            });
        }
    }
    let output = bound.output();
    let fits = out.shape().len() == output.len()
        && out
            .shape()
            .iter()
            .zip(output)
            .all(|(&e, &axis)| e == bound.axis(axis).size);
    if !fits {
        return Err(ExecError::OutputShapeMismatch {
            expected: plan.output_shape(),
            got: out.shape().to_vec(),
        });
    }
    Ok(())
}

/// Loop iterations of a step (saturating).
fn points(loops: &Loops) -> usize {
    loops
        .kept
        .iter()
        .chain(&loops.summed)
        .fold(1usize, |n, d| n.saturating_mul(d.extent))
}

/// A step's loops for the given operand and output strides.
fn fit_step(
    plan: &Plan,
    step: &Step,
    input_strides: &[&[isize]],
    out_strides: &[isize],
) -> StepLoops {
    let bound = plan.bound();
    let per_axis: Vec<Vec<isize>> = step
        .args
        .iter()
        .map(|arg| {
            let strides = match arg.slot {
                Slot::Operand(k) => input_strides[k].to_vec(),
                Slot::Temp(_) => c_strides(arg.dims.iter().map(|d| d.extent)),
                Slot::Output => unreachable!("no step reads the output"),
            };
            axis_strides(bound, arg, &strides)
        })
        .collect();
    let mut dst = vec![0isize; bound.axes().len()];
    match step.out {
        Slot::Output => {
            for (&axis, &stride) in bound.output().iter().zip(out_strides) {
                dst[axis.index()] = stride;
            }
        }
        Slot::Temp(_) => {
            let strides = c_strides(step.out_axes.iter().map(|&a| bound.axis(a).size));
            for (&axis, &stride) in step.out_axes.iter().zip(&strides) {
                dst[axis.index()] = stride;
            }
        }
        Slot::Operand(_) => unreachable!("no step writes an operand"),
    }
    let present = present(bound, &step.args, &step.out_axes);
    let loops = loops(
        bound,
        &present,
        &per_axis[0],
        per_axis.get(1).map(Vec::as_slice),
        &dst,
        &step.out_axes,
    );
    let gemm = matches!(step.kernel, Kernel::Gemm { .. }) && step.args.len() == 2;
    StepLoops {
        args: step.args.iter().map(|arg| arg.slot).collect(),
        out: step.out,
        gemm,
        points: points(&loops),
        repack: if gemm { repack::plan(&loops) } else { None },
        loops,
    }
}

fn run_observed<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
    observe: impl FnMut(Event),
) -> Result<(), ExecError> {
    check_shapes(plan, inputs, out)?;
    let input_strides: SmallVec<[&[isize]; 4]> = inputs.iter().map(|v| v.strides()).collect();
    // Fitted for this call only: `run` is for callers that keep no program.
    let fitted = Fitted::new(plan, &input_strides, out.strides())?;
    fitted.run_observed(plan, inputs, out, options, workspace, observe)
}
