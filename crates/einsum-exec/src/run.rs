//! Running a plan: fit it to the arrays' strides, check the fit, run it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use einsum_plan::Plan;
use einsum_plan::fit::{FitError, Fitted, fit};
use smallvec::SmallVec;

use crate::check::Checked;
use crate::element::{Element, target};
use crate::error::ExecError;
use crate::kernels::{self, Event};
use crate::par::{Accum, Par};
use crate::slices::{SliceLayout, SliceRun};
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

    /// How many threads a run with these options may use at most.
    pub fn threads(&self) -> usize {
        self.par.threads()
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
    run_checked(&checked, inputs, out, options, workspace, None, |_| Ok(()))?;
    Ok(())
}

/// Runs slice `slice` of a sliced `plan` alone, writing (or adding) its
/// result into `out`, whose shape is one slice's result:
/// [`Slices::bound`](einsum_plan::Slices::bound)'s output shape (the
/// output's, with extent 1 along each sliced axis the output holds). What
/// a distributed run sends each worker; [`slice_position`] says where the
/// result goes, and results of slices at the same position are summed.
///
/// # Errors
/// If the plan is not sliced or `slice` is past its slices (there is then
/// nothing to split: run the whole), and as [`run`].
pub fn run_slice<T: Element>(
    plan: &Plan,
    slice: usize,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<(), ExecError> {
    let Some(slices) = plan.slices() else {
        return Err(ExecError::SliceOutOfRange { slice, slices: 1 });
    };
    check_inputs(plan, inputs)?;
    let expected = slices.bound().output_shape();
    if out.shape() != expected.as_slice() {
        return Err(ExecError::OutputShapeMismatch {
            expected,
            got: out.shape().to_vec(),
        });
    }
    let strides: SmallVec<[&[isize]; 4]> = inputs.iter().map(|v| v.strides()).collect();
    let fitted = fit(plan, &strides, out.strides(), target::<T>()).map_err(fit_error)?;
    let checked = Checked::new(plan, fitted)?;
    let layout = checked
        .slices()
        .expect("a sliced plan's program has slices");
    layout.run_one(
        &checked,
        slice,
        inputs,
        out,
        (options.accum, options.par.threads()),
        workspace,
    )
}

/// Where slice `slice` of a sliced `plan` lies in the output: its start
/// index per output dimension (0 but along the sliced axes the output
/// holds); `None` when the plan is not sliced or has no such slice.
pub fn slice_position(plan: &Plan, slice: usize) -> Option<Vec<usize>> {
    // Blocks for the cache are not slices to run apart.
    plan.slices()?;
    let layout = SliceLayout::for_positions(plan)?;
    (slice < layout.count()).then(|| layout.out_position(slice))
}

/// What a profiled run measured, per step in plan order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// How long each step took (only the steps are timed, not the checks),
    /// summed over the slices or blocks of a cut plan; when they run
    /// several at once, each step's share of the run's wall time (its time
    /// on every lane, scaled to the wall time the run took).
    pub times: Vec<Duration>,
    /// Elements each step copied into or out of workspace buffers (GEMM
    /// steps whose roles are not one stride): counted as the copies run.
    pub copied: Vec<usize>,
    /// How many slices (or blocks) ran at once, each with its own
    /// workspace of the plan's per-slice size; 1 for a plan not cut.
    pub lanes: usize,
}

/// As [`run`], and returns what each step took: for
/// `einsum-explain --analyze`.
pub fn run_profiled<T: Element>(
    plan: &Plan,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<Profile, ExecError> {
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
    // Blocks that would cut across these arrays' memory: the plan's
    // variant for them.
    let plan = plan
        .for_layout(&strides, out.strides())
        .map_or(plan, |variant| &**variant);
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
    check_inputs(plan, inputs)?;
    let expected = plan.output_shape();
    if out.shape() != expected.as_slice() {
        return Err(ExecError::OutputShapeMismatch {
            expected,
            got: out.shape().to_vec(),
        });
    }
    Ok(())
}

/// The operands have the plan's count and shapes.
fn check_inputs<T>(plan: &Plan, inputs: &[StridedView<'_, T>]) -> Result<(), ExecError> {
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
    Ok(())
}

fn profiled<T: Element>(
    checked: &Checked,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
) -> Result<Profile, ExecError> {
    // Every slice of a sliced plan runs the same steps: each step's figures
    // are summed over the slices. Slices run at once as they would unprofiled
    // (the lanes time their own steps).
    let steps = checked.fitted().steps().len();
    let mut clock = StepClock::new(steps);
    let lanes = Mutex::new(StepClock::new(steps));
    let started = Instant::now();
    let ran_at_once = run_checked(
        checked,
        inputs,
        out,
        options,
        workspace,
        Some(&lanes),
        |event| {
            clock.observe(event);
            Ok(())
        },
    )?;
    let wall = started.elapsed();
    clock.merge(&lanes.into_inner().unwrap_or_else(|p| p.into_inner()));
    // Lanes overlap: their steps' summed thread time is more than the run
    // took; each step is given its share of the run's wall time.
    let busy: Duration = clock.times.iter().sum();
    if busy > wall {
        let scale = wall.as_secs_f64() / busy.as_secs_f64();
        for t in &mut clock.times {
            *t = t.mul_f64(scale);
        }
    }
    Ok(Profile {
        times: clock.times,
        copied: clock.copied,
        lanes: ran_at_once,
    })
}

/// Per-step times and copies from the events of one thread's steps: the
/// `k`-th step a thread starts is step `k % steps` of the program (every
/// slice runs all of them, in order).
#[derive(Clone, Debug)]
pub(crate) struct StepClock {
    times: Vec<Duration>,
    copied: Vec<usize>,
    count: usize,
    current: usize,
    started: Option<Instant>,
}

impl StepClock {
    /// A clock for a program of `steps` steps.
    pub(crate) fn new(steps: usize) -> StepClock {
        StepClock {
            times: vec![Duration::ZERO; steps],
            copied: vec![0; steps],
            count: 0,
            current: 0,
            started: None,
        }
    }

    /// Takes one event of this thread's steps.
    pub(crate) fn observe(&mut self, event: Event) {
        match event {
            Event::Start => {
                self.current = self.count % self.times.len().max(1);
                self.count += 1;
                self.started = Some(Instant::now());
            }
            Event::Copied(n) => {
                if let Some(c) = self.copied.get_mut(self.current) {
                    *c += n;
                }
            }
            Event::End => {
                if let Some(t) = self.times.get_mut(self.current) {
                    *t += self.started.map_or(Duration::ZERO, |t| t.elapsed());
                }
            }
            Event::Check => {}
        }
    }

    /// Adds another thread's figures.
    pub(crate) fn merge(&mut self, other: &StepClock) {
        for (t, o) in self.times.iter_mut().zip(&other.times) {
            *t += *o;
        }
        for (c, o) in self.copied.iter_mut().zip(&other.copied) {
            *c += o;
        }
    }
}

fn run_checked<T: Element>(
    checked: &Checked,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    options: &RunOptions,
    workspace: &mut Workspace<T>,
    lane_clock: Option<&Mutex<StepClock>>,
    observe: impl FnMut(Event) -> Result<(), ExecError>,
) -> Result<usize, ExecError> {
    if checked.fitted().target() != target::<T>() {
        return Err(ExecError::ElementMismatch { element: T::NAME });
    }
    let threads = options.par.threads();
    if let Some(layout) = checked.slices() {
        let lanes = layout.lanes(threads, checked.fitted().workspace_elements());
        let run = SliceRun {
            program: checked,
            layout,
            inputs,
            accum: options.accum,
            threads,
            clock: lane_clock,
        };
        run.run(out, workspace, lanes, observe)?;
        return Ok(lanes);
    }
    workspace.prepare(checked.fitted().buffers())?;
    kernels::execute(
        checked,
        inputs,
        out,
        workspace.buffers_mut(),
        options.accum,
        threads,
        observe,
    )?;
    Ok(1)
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
    /// element strides, and checks the fit. A plan in blocks whose blocks
    /// would cut across these strides runs its variant for them
    /// ([`Plan::for_layout`]): [`plan`](Program::plan) says which.
    ///
    /// # Errors
    /// If there is not one stride list per operand, of the operand's rank,
    /// and one stride per output dimension.
    pub fn new<T: Element>(
        plan: Arc<Plan>,
        input_strides: &[&[isize]],
        out_strides: &[isize],
    ) -> Result<Program, ExecError> {
        let plan = plan
            .for_layout(input_strides, out_strides)
            .cloned()
            .unwrap_or(plan);
        let fitted = fit(&plan, input_strides, out_strides, target::<T>()).map_err(fit_error)?;
        Program::from_fitted(plan, fitted)
    }

    /// Fits `plan` to these arrays (their shapes checked first, so a wrong
    /// shape is reported as one) and checks the fit: what a caller holding
    /// the arrays uses. As [`Program::new`], a plan in blocks that would
    /// cut across these arrays' memory runs its variant for them.
    ///
    /// # Errors
    /// If the arrays do not have the plan's shapes.
    pub fn for_arrays<T: Element>(
        plan: Arc<Plan>,
        inputs: &[StridedView<'_, T>],
        out: &StridedViewMut<'_, T>,
    ) -> Result<Program, ExecError> {
        let strides: SmallVec<[&[isize]; 4]> = inputs.iter().map(|v| v.strides()).collect();
        let plan = plan
            .for_layout(&strides, out.strides())
            .cloned()
            .unwrap_or(plan);
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

    /// Elements of workspace a run on `threads` threads holds at its peak:
    /// the fit's buffers ([`Fitted::workspace_elements`]); for a sliced
    /// plan, those of every slice running at once, and the partial sums
    /// ([`einsum_plan::Slices::groups`]) being filled. What a fresh
    /// workspace grows to, besides the result.
    pub fn run_workspace_elements(&self, threads: usize) -> usize {
        let workspace = self.fitted().workspace_elements();
        match self.checked.slices() {
            Some(layout) => layout.peak_elements(threads, workspace),
            None => workspace,
        }
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
        run_checked(&self.checked, inputs, out, options, workspace, None, |_| {
            Ok(())
        })?;
        Ok(())
    }

    /// As [`Program::run`], asking `proceed(step)` before each step: when
    /// it returns `false` the run stops there with
    /// [`ExecError::Interrupted`] (what a caller that must answer Ctrl-C
    /// between the steps of a long contraction runs). The output then
    /// holds what the earlier steps wrote.
    ///
    /// # Errors
    /// As [`Program::run`], and `Interrupted`.
    pub fn run_interruptible<T: Element>(
        &self,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
        mut proceed: impl FnMut(usize) -> bool,
    ) -> Result<(), ExecError> {
        let mut step = 0;
        run_checked(
            &self.checked,
            inputs,
            out,
            options,
            workspace,
            None,
            |event| {
                if let Event::Start | Event::Check = event {
                    if !proceed(step) {
                        return Err(ExecError::Interrupted { step });
                    }
                    step += 1;
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    /// As [`Program::run`], and returns what each step took.
    pub fn run_profiled<T: Element>(
        &self,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        options: &RunOptions,
        workspace: &mut Workspace<T>,
    ) -> Result<Profile, ExecError> {
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

#[cfg(test)]
mod tests {
    //! Small programs, sized for Miri (`cargo +nightly miri test -p
    //! einsum-exec --lib`, see README): every kernel path against a brute-
    //! force sum over all indices, and deliberately corrupted fits.

    use einsum_plan::fit::{self, BufferId, Dest, FitStep, Lowered, Source, Target};
    use einsum_plan::{GemmPolicy, Plan, PlanOptions};

    use super::*;
    use crate::error::ProgramProblem;

    fn plan(text: &str, shapes: &[&[usize]], gemm: GemmPolicy) -> Plan {
        let expr = einsum_syntax::parse(text).unwrap().lower();
        let bound = einsum_plan::bind(&expr, shapes).unwrap();
        einsum_plan::plan(&bound, &PlanOptions::new().gemm(gemm)).unwrap()
    }

    fn c_strides(shape: &[usize]) -> Vec<isize> {
        let mut strides = vec![0isize; shape.len()];
        let mut next = 1isize;
        for (s, &e) in strides.iter_mut().zip(shape).rev() {
            *s = next;
            next *= e.max(1) as isize;
        }
        strides
    }

    /// The einsum by brute force over every index of every axis, operands
    /// in C order.
    fn brute_force(plan: &Plan, data: &[Vec<f64>]) -> Vec<f64> {
        let bound = plan.bound();
        let sizes: Vec<usize> = bound.axes().iter().map(|a| a.size).collect();
        let out_shape = plan.output_shape();
        let mut out = vec![0.0; out_shape.iter().product()];
        let mut index = vec![0usize; sizes.len()];
        if sizes.contains(&0) {
            return out;
        }
        loop {
            let mut term = 1.0;
            for (dims, values) in bound.operands().iter().zip(data) {
                let mut at = 0;
                for d in dims {
                    at = at * d.extent
                        + if d.extent == 1 {
                            0
                        } else {
                            index[d.axis.index()]
                        };
                }
                term *= values[at];
            }
            let at = bound
                .output()
                .iter()
                .fold(0, |at, &a| at * sizes[a.index()] + index[a.index()]);
            out[at] += term;
            let mut k = sizes.len();
            loop {
                if k == 0 {
                    return out;
                }
                k -= 1;
                index[k] += 1;
                if index[k] < sizes[k] {
                    break;
                }
                index[k] = 0;
            }
        }
    }

    /// Runs `text` on small integer-valued data, in C order and with every
    /// operand reversed, and compares with the brute-force sum.
    fn check(text: &str, shapes: &[&[usize]], gemm: GemmPolicy) {
        check_plan(text, shapes, plan(text, shapes, gemm));
    }

    fn check_plan(text: &str, shapes: &[&[usize]], plan: Plan) {
        let data: Vec<Vec<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let n: usize = s.iter().product();
                (0..n).map(|i| ((i * 7 + k * 3) % 5) as f64 - 2.0).collect()
            })
            .collect();
        let want = brute_force(&plan, &data);
        let out_shape = plan.output_shape();
        for reversed in [false, true] {
            let views: Vec<StridedView<'_, f64>> = data
                .iter()
                .zip(shapes)
                .map(|(d, s)| {
                    let strides = c_strides(s);
                    if reversed && !d.is_empty() {
                        // Every stride negated, from the last element: the
                        // same logical array with every axis reversed, so
                        // reverse the data to keep its values.
                        let back: Vec<isize> = strides.iter().map(|x| -x).collect();
                        StridedView::new(d, d.len() - 1, s.to_vec(), back).unwrap()
                    } else {
                        StridedView::new(d, 0, s.to_vec(), strides).unwrap()
                    }
                })
                .collect();
            if reversed {
                // Reversed views read the data backwards: compare with the
                // brute force on reversed data.
                let flipped: Vec<Vec<f64>> = data
                    .iter()
                    .map(|d| d.iter().rev().copied().collect())
                    .collect();
                let want = brute_force(&plan, &flipped);
                let mut got = vec![f64::NAN; want.len()];
                let mut out =
                    StridedViewMut::new(&mut got, 0, out_shape.clone(), c_strides(&out_shape))
                        .unwrap();
                let program = Program::for_arrays(Arc::new(plan.clone()), &views, &out).unwrap();
                let mut workspace = Workspace::new();
                program
                    .run(
                        &views,
                        &mut out,
                        &RunOptions::new().par(Par::Seq),
                        &mut workspace,
                    )
                    .unwrap();
                assert_eq!(got, want, "{text} reversed");
                assert_eq!(workspace.len(), program.fitted().workspace_elements());
            } else {
                let mut got = vec![f64::NAN; want.len()];
                let mut out =
                    StridedViewMut::new(&mut got, 0, out_shape.clone(), c_strides(&out_shape))
                        .unwrap();
                run(
                    &plan,
                    &views,
                    &mut out,
                    &RunOptions::new().par(Par::Rayon(2)),
                    &mut Workspace::new(),
                )
                .unwrap();
                assert_eq!(got, want, "{text}");
            }
        }
    }

    #[test]
    fn every_kernel_path_matches_a_brute_force_sum() {
        let every = GemmPolicy::MinWork(0);
        check("ij,ij->i", &[&[3, 4], &[3, 4]], every); // inner sum
        check("ij->j", &[&[3, 4]], every); // accumulate rows
        check("ij->ji", &[&[9, 10]], every); // tiled transpose
        check("ii->i", &[&[3, 3]], every); // diagonal
        check("i,j->ij", &[&[3], &[2]], every); // outer
        check("ij,jk->ik", &[&[3, 4], &[4, 2]], every); // gemm
        check("ij,jk->ik", &[&[3, 4], &[4, 2]], GemmPolicy::Never);
        check("bij,bjk->bik", &[&[2, 3, 4], &[2, 4, 2]], every); // batched
        // K in opposite orders: large enough that copying pays.
        check("abcd,dcfe->abef", &[&[4, 4, 4, 4], &[4, 4, 4, 4]], every);
        check("aijb,jk->aikb", &[&[2, 3, 8, 3], &[8, 8]], every); // M split
        check("ij,jk,kl->il", &[&[2, 3], &[3, 4], &[4, 2]], every); // temporaries
        check("ij,jk->ik", &[&[2, 0], &[0, 3]], every); // empty sum
        check("ij,j->i", &[&[5, 4], &[4]], GemmPolicy::Never);
        check("ji,j->i", &[&[5, 4], &[5]], GemmPolicy::Never); // two rows added at a time
        check("ji,ji->i", &[&[5, 4], &[5, 4]], GemmPolicy::Never);
        check("ij->j", &[&[5, 4]], every);
    }

    /// A sliced plan: the same sums, slice by slice, through windows of
    /// the arrays (reversed ones too), summed or stacked.
    fn check_sliced(text: &str, shapes: &[&[usize]], limit: usize) {
        let expr = einsum_syntax::parse(text).unwrap().lower();
        let bound = einsum_plan::bind(&expr, shapes).unwrap();
        let options = PlanOptions::new()
            .gemm(GemmPolicy::MinWork(0))
            .memory_limit(Some(limit));
        let plan = einsum_plan::plan(&bound, &options).unwrap();
        assert!(plan.slices().is_some(), "{text} is sliced at {limit}");
        assert!(plan.largest_temporary() <= limit, "{text}");
        check_plan(text, shapes, plan);
    }

    #[test]
    fn sliced_plans_match_a_brute_force_sum() {
        // Summed axes sliced: the slices add into the result.
        check_sliced("ij,jk,kl->il", &[&[2, 6], &[6, 5], &[5, 3]], 3);
        // The result's axes sliced: the slices are stacked.
        check_sliced("ij,jk,kl->ijl", &[&[4, 3], &[3, 5], &[5, 2]], 4);
        // A broadcast operand, a diagonal and an axis only one operand has.
        check_sliced("ij,jk,kk,k->i", &[&[3, 4], &[1, 5], &[5, 5], &[5]], 2);
        check_sliced("ab,bc,cd,da->", &[&[3, 4], &[4, 5], &[5, 3], &[3, 3]], 4);
    }

    /// A sliced run whose slices run two at a time on two threads adds
    /// them in the plan's order: the same bits as on one thread, summed
    /// (partial sums) or stacked (blocks apart).
    #[test]
    #[cfg_attr(miri, ignore)] // thousands of slices: too slow under Miri
    fn sliced_runs_give_the_same_bits_on_one_thread_and_two() {
        // A ring: every order's first temporary is 32x32, over the limit;
        // a slice's are 32 long, so two slices' workspaces fit at once.
        let ring = [
            &[32usize, 32][..],
            &[32, 32][..],
            &[32, 32][..],
            &[32, 32][..],
        ];
        for (text, shapes, limit) in [("ab,bc,cd,da->", ring, 512), ("ab,bc,cd,da->a", ring, 512)] {
            let expr = einsum_syntax::parse(text).unwrap().lower();
            let bound = einsum_plan::bind(&expr, &shapes).unwrap();
            let options = PlanOptions::new().memory_limit(Some(limit));
            let plan = Arc::new(einsum_plan::plan(&bound, &options).unwrap());
            assert!(plan.slices().is_some(), "{text}");
            let data: Vec<Vec<f64>> = shapes
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let n: usize = s.iter().product();
                    (0..n)
                        .map(|i| ((i * 37 + k * 11) % 101) as f64 / 7.0 - 6.3)
                        .collect()
                })
                .collect();
            let views: Vec<StridedView<'_, f64>> = data
                .iter()
                .zip(&shapes)
                .map(|(d, s)| StridedView::new(d, 0, s.to_vec(), c_strides(s)).unwrap())
                .collect();
            let out_shape = plan.output_shape();
            let len: usize = out_shape.iter().product();
            let mut results = Vec::new();
            for par in [Par::Seq, Par::Rayon(2)] {
                let mut got = vec![f64::NAN; len];
                let mut out =
                    StridedViewMut::new(&mut got, 0, out_shape.clone(), c_strides(&out_shape))
                        .unwrap();
                let program = Program::for_arrays(plan.clone(), &views, &out).unwrap();
                let layout = program.checked.slices().unwrap();
                let lanes = layout.lanes(par.threads(), program.fitted().workspace_elements());
                assert_eq!(lanes, par.threads(), "{text}: slices run {lanes} at a time");
                let mut workspace = Workspace::new();
                program
                    .run(
                        &views,
                        &mut out,
                        &RunOptions::new().par(par),
                        &mut workspace,
                    )
                    .unwrap();
                results.push(got);
            }
            assert_eq!(results[0], results[1], "{text}");
            let unsliced = einsum_plan::plan(&bound, &PlanOptions::new()).unwrap();
            let mut want = vec![f64::NAN; len];
            let mut out =
                StridedViewMut::new(&mut want, 0, out_shape.clone(), c_strides(&out_shape))
                    .unwrap();
            run(
                &unsliced,
                &views,
                &mut out,
                &RunOptions::new(),
                &mut Workspace::new(),
            )
            .unwrap();
            for (g, w) in results[0].iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{text}: {g} against {w}"
                );
            }
        }
    }

    /// Floats whose sums round: the result's bits must not depend on how
    /// many threads split it, or on which results are paired.
    #[test]
    #[cfg_attr(miri, ignore)] // 90,000 points: too slow under Miri
    fn the_same_bits_on_one_thread_and_two() {
        for (text, shapes) in [
            ("ij,j->i", [&[301usize, 300][..], &[300][..]]),
            ("ji,j->i", [&[300, 301][..], &[300][..]]),
            ("ij,ij->i", [&[301, 300][..], &[301, 300][..]]),
            ("ji,ji->i", [&[300, 301][..], &[300, 301][..]]),
        ] {
            let plan = Arc::new(plan(text, &shapes, GemmPolicy::Never));
            let data: Vec<Vec<f64>> = shapes
                .iter()
                .map(|s| {
                    let n: usize = s.iter().product();
                    (0..n)
                        .map(|i| ((i * 7919 % 1013) as f64 - 506.0) * 1.37e-3 + (i as f64).sin())
                        .collect()
                })
                .collect();
            let views: Vec<StridedView<'_, f64>> = data
                .iter()
                .zip(&shapes)
                .map(|(d, s)| StridedView::new(d, 0, s.to_vec(), c_strides(s)).unwrap())
                .collect();
            let out_shape = plan.output_shape();
            let results: Vec<Vec<u64>> = [Par::Seq, Par::Rayon(2)]
                .into_iter()
                .map(|par| {
                    let mut got = vec![0.0; out_shape.iter().product()];
                    let mut out =
                        StridedViewMut::new(&mut got, 0, out_shape.clone(), c_strides(&out_shape))
                            .unwrap();
                    run(
                        &plan,
                        &views,
                        &mut out,
                        &RunOptions::new().par(par),
                        &mut Workspace::new(),
                    )
                    .unwrap();
                    got.iter().map(|x| x.to_bits()).collect()
                })
                .collect();
            assert_eq!(results[0], results[1], "{text}");
        }
    }

    #[test]
    fn a_repacking_fit_copies_what_it_says() {
        // abcd,dcfe->abef at 8: the right operand is copied in C order.
        let plan = plan(
            "abcd,dcfe->abef",
            &[&[8, 8, 8, 8], &[8, 8, 8, 8]],
            GemmPolicy::Auto,
        );
        let Lowered::Gemm(g) = &plan.c_order().steps()[0].lowered else {
            panic!("{plan}")
        };
        assert_eq!(g.repacks.len(), 1, "{plan}");
        assert_eq!(plan.workspace_elements(), 8 * 8 * 8 * 8);
    }

    /// `ij,jk->ik` at 3x4 and 4x5, fitted in C order, with `corrupt`
    /// applied to its one step.
    fn corrupted(corrupt: impl Fn(&mut FitStep)) -> Result<Program, ExecError> {
        let plan = plan("ij,jk->ik", &[&[3, 4], &[4, 5]], GemmPolicy::MinWork(0));
        let good = fit::fit(&plan, &[&[4, 1], &[5, 1]], &[5, 1], Target::BLAS).unwrap();
        let mut steps = good.steps().to_vec();
        corrupt(&mut steps[0]);
        let bad = fit::Fitted::from_parts(
            good.input_strides().to_vec(),
            good.out_strides().to_vec(),
            good.target(),
            steps,
            good.buffers().to_vec(),
        );
        Program::from_fitted(Arc::new(plan), bad)
    }

    fn problem(result: Result<Program, ExecError>) -> ProgramProblem {
        match result {
            Err(ExecError::ProgramInvalid { step: 0, problem }) => problem,
            other => panic!("not refused: {other:?}"),
        }
    }

    fn gemm(step: &mut FitStep) -> &mut fit::Gemm {
        match &mut step.lowered {
            Lowered::Gemm(g) => g,
            Lowered::Loops(_) => panic!("a GEMM step"),
        }
    }

    #[test]
    fn a_corrupted_fit_is_an_error_not_a_crash() {
        assert!(corrupted(|_| {}).is_ok());
        // GEMM rows past the left operand's end.
        let p = problem(corrupted(|s| gemm(s).m.extent = 4));
        assert!(matches!(p, ProgramProblem::ReachesOutside { .. }), "{p}");
        // A stride that leaves the right operand.
        let p = problem(corrupted(|s| gemm(s).k.b = 50));
        assert!(matches!(p, ProgramProblem::ReachesOutside { .. }), "{p}");
        // Two rows of the result written to one place.
        let p = problem(corrupted(|s| gemm(s).m.out = 0));
        assert!(matches!(p, ProgramProblem::WritesTwice(_)), "{p}");
        // Operands and buffers that do not exist.
        let p = problem(corrupted(|s| s.inputs[1] = Source::Operand(7)));
        assert_eq!(p, ProgramProblem::NoSuchOperand(7));
        let p = problem(corrupted(|s| s.output = Dest::Buffer(BufferId(3))));
        assert_eq!(p, ProgramProblem::NoSuchBuffer(3));
        // One input for a GEMM.
        let p = problem(corrupted(|s| {
            s.inputs.pop();
        }));
        assert_eq!(p, ProgramProblem::InputCount(1));
        // The strided engine, past the end.
        let p = problem(corrupted(|s| {
            let g = gemm(s).clone();
            s.lowered = Lowered::Loops(einsum_plan::fit::Loops {
                kept: vec![g.m, g.n],
                summed: vec![fit::Loop { extent: 9, ..g.k }],
                order: fit::Order::InnerSum,
            });
        }));
        assert!(matches!(p, ProgramProblem::ReachesOutside { .. }), "{p}");
    }

    #[test]
    fn a_step_writing_the_buffer_it_reads_is_refused() {
        let plan = plan(
            "ij,jk,kl->il",
            &[&[2, 3], &[3, 4], &[4, 2]],
            GemmPolicy::Never,
        );
        let good = plan.c_order().clone();
        let mut steps = good.steps().to_vec();
        let last = steps.len() - 1;
        let Some(&Source::Buffer(read)) = steps[last]
            .inputs
            .iter()
            .find(|s| matches!(s, Source::Buffer(_)))
        else {
            panic!("{plan}")
        };
        steps[last].output = Dest::Buffer(read);
        let bad = fit::Fitted::from_parts(
            good.input_strides().to_vec(),
            good.out_strides().to_vec(),
            good.target(),
            steps,
            good.buffers().to_vec(),
        );
        match Program::from_fitted(Arc::new(plan), bad) {
            Err(ExecError::ProgramInvalid { problem, .. }) => {
                assert_eq!(problem, ProgramProblem::BufferShared(read.0))
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_program_runs_only_on_its_strides() {
        let plan = Arc::new(plan(
            "ij,jk->ik",
            &[&[3, 4], &[4, 5]],
            GemmPolicy::MinWork(0),
        ));
        let program = Program::new::<f64>(plan, &[&[4, 1], &[5, 1]], &[5, 1]).unwrap();
        // Every element type has a GEMM kernel today, so a program fitted
        // on f64 runs on i64 too (a type without one would be refused
        // with `ElementMismatch`).
        let (a, b) = (vec![1i64; 12], vec![1i64; 20]);
        let mut c = vec![0i64; 15];
        let inputs = [
            StridedView::new(&a, 0, vec![3, 4], vec![4, 1]).unwrap(),
            StridedView::new(&b, 0, vec![4, 5], vec![5, 1]).unwrap(),
        ];
        let mut out = StridedViewMut::new(&mut c, 0, vec![3, 5], vec![5, 1]).unwrap();
        assert_eq!(target::<i64>(), target::<f64>());
        program
            .run(&inputs, &mut out, &RunOptions::new(), &mut Workspace::new())
            .unwrap();
        assert_eq!(c, vec![4i64; 15]);
        let (a, b) = (vec![1.0f64; 12], vec![1.0f64; 20]);
        let mut c = vec![0.0f64; 15];
        let inputs = [
            StridedView::new(&a, 0, vec![3, 4], vec![1, 3]).unwrap(),
            StridedView::new(&b, 0, vec![4, 5], vec![5, 1]).unwrap(),
        ];
        let mut out = StridedViewMut::new(&mut c, 0, vec![3, 5], vec![5, 1]).unwrap();
        let err = program
            .run(&inputs, &mut out, &RunOptions::new(), &mut Workspace::new())
            .unwrap_err();
        assert_eq!(err, ExecError::StridesMismatch);
    }
}
