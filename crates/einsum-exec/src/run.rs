//! Running a plan: fit it to the arrays' strides, check the fit, run it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use einsum_plan::Plan;
use einsum_plan::fit::{FitError, Fitted, fit};
use smallvec::SmallVec;

use crate::check::Checked;
use crate::element::{Element, target};
use crate::error::ExecError;
use crate::kernels::{self, Event};
use crate::par::{Accum, Par};
use crate::view::{StridedView, StridedViewMut};
use crate::workspace::Workspace;

/// How to run: parallelism, and whether to add into the output. (Which
/// steps run on GEMM is decided when the plan is fitted: see
/// [`einsum_plan::PlanOptions::gemm`].)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RunOptions {
    par: Par,
    accum: Accum,
}

impl RunOptions {
    /// The defaults: all threads, replace the output.
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
}

/// Runs `plan` on `inputs`, writing (or adding) the result into `out`.
///
/// The arrays must have the shapes the plan was made for. The plan is
/// fitted to their strides for this call (a [`Program`] keeps the fit).
/// Temporaries live in `workspace`, which is grown once and reused by later
/// runs.
pub fn run<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<(), ExecError> {
    let checked = check_for(plan, inputs, out)?;
    run_checked(&checked, inputs, out, options, workspace, |_| {})
}

/// As [`run`], and returns how long each step took, in plan order: for
/// `einsum-explain --analyze`. Only the steps are timed, not the checks.
pub fn run_profiled<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<Vec<Duration>, ExecError> {
    let checked = check_for(plan, inputs, out)?;
    profiled(&checked, inputs, out, options, workspace)
}

/// `plan` fitted to these arrays and checked, for one run.
fn check_for<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &StridedViewMut<'_, T>,
) -> Result<Checked, ExecError> {
    check_shapes(plan, inputs, out)?;
    let strides: SmallVec<[&[isize]; 4]> = inputs.iter().map(|v| v.strides()).collect();
    let fitted = fit(plan, &strides, out.strides(), target::<T>()).map_err(fit_error)?;
    Checked::new(plan, fitted)
}

/// The arrays have the plan's operand count and shapes (checked before a
/// fit to their strides, so a wrong shape is reported as one).
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
    let expected = plan.output_shape();
    if out.shape() != expected.as_slice() {
        return Err(ExecError::OutputShapeMismatch {
            expected,
            got: out.shape().to_vec(),
        });
    }
    Ok(())
}

fn profiled<T: Element>(
    checked: &Checked,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<Vec<Duration>, ExecError> {
    let mut times = Vec::with_capacity(checked.fitted().steps().len());
    let mut started = None;
    run_checked(
        checked,
        inputs,
        out,
        options,
        workspace,
        |event| match event {
            Event::Start => started = Some(Instant::now()),
            Event::End => times.push(started.map_or(Duration::ZERO, |t| t.elapsed())),
        },
    )?;
    Ok(times)
}

fn run_checked<T: Element>(
    checked: &Checked,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
    observe: impl FnMut(Event),
) -> Result<(), ExecError> {
    if checked.fitted().target() != target::<T>() {
        return Err(ExecError::ElementMismatch { element: T::NAME });
    }
    workspace.prepare(checked.fitted().buffers())?;
    kernels::execute(
        checked,
        inputs,
        out,
        workspace.buffers_mut(),
        options.accum,
        options.par.threads(),
        observe,
    )
}

/// A plan fitted to the strides of its operands and output
/// ([`einsum_plan::fit`]) and checked by the executor: running it again on
/// arrays with the same strides does no set-up work and allocates nothing.
/// What a compiled expression keeps between calls.
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
/// let program = Program::new::<i32>(plan, &[input.strides()], out.strides())?;
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
    checked: Checked,
}

impl Program {
    /// Fits `plan` to operands and an output of element type `T` with these
    /// element strides, and checks the fit.
    ///
    /// # Errors
    /// If there is not one stride list per operand, of the operand's rank,
    /// and one stride per output dimension.
    pub fn new<T: Element>(
        plan: Arc<Plan>,
        input_strides: &[&[isize]],
        out_strides: &[isize],
    ) -> Result<Program, ExecError> {
        let fitted = fit(&plan, input_strides, out_strides, target::<T>()).map_err(fit_error)?;
        Program::from_fitted(plan, fitted)
    }

    /// Fits `plan` to these arrays (their shapes checked first, so a wrong
    /// shape is reported as one) and checks the fit: what a caller holding
    /// the arrays uses.
    ///
    /// # Errors
    /// If the arrays do not have the plan's shapes.
    pub fn for_arrays<T: Element>(
        plan: Arc<Plan>,
        inputs: &[StridedView<'_, T>],
        out: &StridedViewMut<'_, T>,
    ) -> Result<Program, ExecError> {
        let checked = check_for(&plan, inputs, out)?;
        Ok(Program { plan, checked })
    }

    /// A program from a fit of `plan` made elsewhere, checked: every offset
    /// any step would touch must lie inside its tensor, or this is an
    /// [`ExecError::ProgramInvalid`] and nothing runs.
    ///
    /// # Errors
    /// As described, and if the fit's stride lists do not match the plan's
    /// operands and output.
    pub fn from_fitted(plan: Arc<Plan>, fitted: Fitted) -> Result<Program, ExecError> {
        let checked = Checked::new(&plan, fitted)?;
        Ok(Program { plan, checked })
    }

    /// The plan this program runs.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// How it runs: the fit, as the executor checked it (the plan's
    /// [`display_fitted`](Plan::display_fitted) prints it).
    pub fn fitted(&self) -> &Fitted {
        self.checked.fitted()
    }

    /// Whether arrays of element type `T` with these strides run this
    /// program.
    pub fn fits<T: Element>(&self, input_strides: &[&[isize]], out_strides: &[isize]) -> bool {
        self.fitted()
            .fits(input_strides, out_strides, target::<T>())
    }

    /// Runs on `inputs`, writing (or adding) the result into `out`.
    ///
    /// # Errors
    /// If the arrays' shapes are not the plan's or their strides not the
    /// program's, or the workspace cannot grow to the program's buffers.
    pub fn run<T: Element>(
        &self,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
    ) -> Result<(), ExecError> {
        run_checked(&self.checked, inputs, out, options, workspace, |_| {})
    }

    /// As [`Program::run`], and returns how long each step took.
    pub fn run_profiled<T: Element>(
        &self,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
    ) -> Result<Vec<Duration>, ExecError> {
        profiled(&self.checked, inputs, out, options, workspace)
    }
}

/// A fit's error as the executor's.
fn fit_error(error: FitError) -> ExecError {
    match error {
        FitError::OperandCount { expected, got } => {
            ExecError::OperandCountMismatch { expected, got }
        }
        FitError::Rank { shape, strides, .. } => ExecError::RankMismatch { shape, strides },
    }
}
