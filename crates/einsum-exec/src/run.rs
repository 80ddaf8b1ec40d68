//! Running a plan: check the arrays against it, then run its steps.

use einsum_plan::{Kernel, Plan, Slot};

use crate::element::Element;
use crate::error::ExecError;
use crate::kernels::{self, strided::Bases};
use crate::par::{Accum, Par};
use crate::step::{axis_strides, c_strides, loops, present};
use crate::view::{StridedView, StridedViewMut};
use crate::workspace::Workspace;

/// How to run: parallelism, whether to add into the output, and which
/// kernels may be used (all by default; tests force the strided loops to
/// check the GEMM path against them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunOptions {
    par: Par,
    accum: Accum,
    gemm: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            par: Par::Auto,
            accum: Accum::Replace,
            gemm: true,
        }
    }
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

    /// Whether GEMM steps may call the GEMM kernels (`false`: strided loops).
    pub fn gemm(mut self, gemm: bool) -> Self {
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

fn run_observed<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
    mut observe: impl FnMut(Event),
) -> Result<(), ExecError> {
    let bound = plan.bound();
    if inputs.len() != bound.operands().len() {
        return Err(ExecError::OperandCountMismatch {
            expected: bound.operands().len(),
            got: inputs.len(),
        });
    }
    for (k, (view, dims)) in inputs.iter().zip(bound.operands()).enumerate() {
        let expected: Vec<usize> = dims.iter().map(|d| d.extent).collect();
        if view.shape() != expected.as_slice() {
            return Err(ExecError::OperandShapeMismatch {
                operand: k,
                expected,
                got: view.shape().to_vec(),
            });
        }
    }
    let expected = plan.output_shape();
    if out.shape() != expected.as_slice() {
        return Err(ExecError::OutputShapeMismatch {
            expected,
            got: out.shape().to_vec(),
        });
    }
    workspace.prepare(plan)?;
    let threads = options.par.threads();
    let out_ptr = out.ptr();
    let out_strides = out.strides().to_vec();

    for step in plan.steps() {
        // Each input's base and per-axis strides.
        let mut tensors: Vec<(*const T, Vec<isize>)> = Vec::with_capacity(2);
        for arg in &step.args {
            let (ptr, strides) = match arg.slot {
                Slot::Operand(k) => (inputs[k].ptr(), inputs[k].strides().to_vec()),
                Slot::Temp(t) => {
                    let strides = c_strides(arg.dims.iter().map(|d| d.extent));
                    (workspace.buffer(t).as_ptr(), strides)
                }
                Slot::Output => unreachable!("no step reads the output"),
            };
            tensors.push((ptr, axis_strides(bound, arg, &strides)));
        }
        let (dst, dst_axis_strides) = match step.out {
            Slot::Output => {
                let mut per_axis = vec![0isize; bound.axes().len()];
                for (&axis, &stride) in bound.output().iter().zip(&out_strides) {
                    per_axis[axis.index()] = stride;
                }
                (out_ptr, per_axis)
            }
            Slot::Temp(t) => {
                let strides = c_strides(step.out_axes.iter().map(|&a| bound.axis(a).size));
                let mut per_axis = vec![0isize; bound.axes().len()];
                for (&axis, &stride) in step.out_axes.iter().zip(&strides) {
                    per_axis[axis.index()] = stride;
                }
                (workspace.buffer(t).as_mut_ptr(), per_axis)
            }
            Slot::Operand(_) => unreachable!("no step writes an operand"),
        };
        let accum = if step.out == Slot::Output {
            options.accum
        } else {
            Accum::Replace
        };
        let b = tensors.get(1);
        let present = present(bound, &step.args, &step.out_axes);
        let step_loops = loops(
            bound,
            &present,
            &tensors[0].1,
            b.map(|t| t.1.as_slice()),
            &dst_axis_strides,
            &step.out_axes,
        );
        let bases = Bases {
            a: tensors[0].0,
            b: b.map(|t| t.0),
            out: dst,
        };
        let use_gemm =
            options.gemm && T::GEMM && matches!(step.kernel, Kernel::Gemm { .. }) && b.is_some();
        observe(Event::Start);
        // SAFETY: every base and stride comes from a view checked at
        // construction (operands, output) or from a workspace buffer sized
        // for the temporary's C-order layout (`Workspace::prepare`), and the
        // loops reach exactly the indices of those shapes. The output is an
        // exclusive, unaliased view; temporaries are distinct buffers, and no
        // step reads the slot it writes.
        unsafe {
            if use_gemm {
                kernels::gemm::run(&step_loops, bases, accum, threads);
            } else {
                kernels::strided::run(&step_loops, bases, accum, threads);
            }
        }
        observe(Event::End);
    }
    Ok(())
}
