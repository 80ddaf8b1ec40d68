//! Fitting a plan to strides: how every step runs, decided once, here.
//!
//! A [`Plan`] is made from shapes. [`fit`] takes it with the element strides
//! of the operands and the output and decides everything the executor does:
//! per step, the strided loops (sorted, fused, and the order to walk them)
//! or a GEMM call (which loops are m, n and k, which go around the call, and
//! which tensors are first copied so that every role is one stride), and
//! which buffer every temporary and every copy lives in, temporaries sharing
//! buffers once dead. The executor runs exactly this, checking every offset
//! it will touch before it runs; the reports print exactly this.
//!
//! ```
//! use einsum_plan::fit::{Lowered, Target, fit};
//!
//! let expr = einsum_syntax::parse("ij,jk->ik").unwrap().lower();
//! let bound = einsum_plan::bind(&expr, &[&[64, 64][..], &[64, 64]])?;
//! let plan = einsum_plan::plan(&bound, &Default::default())?;
//! // Both operands transposed (Fortran order): GEMM still reads them in place.
//! let f = [1isize, 64];
//! let fitted = fit(&plan, &[&f, &f], &[64, 1], Target::BLAS).unwrap();
//! let Lowered::Gemm(gemm) = &fitted.steps()[0].lowered else { panic!() };
//! assert!(gemm.repacks.is_empty());
//! assert_eq!((gemm.m.extent, gemm.n.extent, gemm.k.extent), (64, 64, 64));
//! assert_eq!(fitted.workspace_elements(), 0);
//! # Ok::<(), einsum_plan::PlanError>(())
//! ```

pub(crate) mod buffers;
mod gemm;
mod loops;

use std::fmt;

use crate::bind::Bound;
use crate::count::Count;
use crate::kernel::{Kernel, Role};
use crate::plan::{self, Plan, Step};

pub use gemm::Tensor;
pub(crate) use loops::c_strides;

/// C-order element strides of a new array of `shape`, as ndarray and numpy
/// give them (all zero for an empty array, whose strides are a convention:
/// nothing is read or written): what callers fit a plan to for arrays they
/// allocate themselves.
///
/// ```
/// use einsum_plan::fit::c_order_strides;
/// assert_eq!(c_order_strides(&[2, 3, 4]), vec![12, 4, 1]);
/// assert_eq!(c_order_strides(&[2, 0]), vec![0, 0]);
/// ```
pub fn c_order_strides(shape: &[usize]) -> Vec<isize> {
    if shape.contains(&0) {
        return vec![0; shape.len()];
    }
    c_strides(shape.iter().copied())
}
pub use loops::{Loop, Loops, Order, TILE};

/// Which matrix-product steps run on the GEMM kernels (the rest run on the
/// strided loops, which give the same results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GemmPolicy {
    /// Those of more than 16³ multiply-adds, where the GEMM kernels' set-up
    /// (packing, dispatch) costs less than the arithmetic (a 4x4 product
    /// takes 0.8 µs through `gemm`, 0.3 µs looped).
    #[default]
    Auto,
    /// None: strided loops only (for testing and comparison).
    Never,
    /// Those of at least `n` multiply-adds (0: every one, even tiny ones;
    /// tests use it to cover the kernel on small shapes).
    MinWork(usize),
}

impl GemmPolicy {
    /// Whether a matrix-product step of `points` multiply-adds uses GEMM.
    pub fn uses_gemm(self, points: usize) -> bool {
        match self {
            GemmPolicy::Auto => points > TINY_GEMM,
            GemmPolicy::Never => false,
            GemmPolicy::MinWork(n) => points >= n,
        }
    }
}

/// Multiply-adds up to which [`GemmPolicy::Auto`] keeps a product on the
/// strided loops.
const TINY_GEMM: usize = 16 * 16 * 16;

/// What the plan is fitted for, beyond strides: whether the element type has
/// GEMM kernels (every type the executor runs on has one today: the
/// `gemm` crate's for floats and complex numbers, the executor's own for
/// integers and `bool`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// GEMM kernels exist for the element type.
    pub blas: bool,
}

impl Target {
    /// An element type with GEMM kernels (what a plan's own report assumes).
    pub const BLAS: Target = Target { blas: true };
    /// An element type without (every step on the strided loops).
    pub const LOOPS: Target = Target { blas: false };
}

/// A buffer of the workspace, by index into [`Fitted::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufferId(pub usize);

impl fmt::Display for BufferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

/// Where a fitted step reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Operand `k`, as the caller passed it.
    Operand(usize),
    /// A workspace buffer, in C order.
    Buffer(BufferId),
}

/// Where a fitted step writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    /// The caller's output.
    Output,
    /// A workspace buffer, in C order.
    Buffer(BufferId),
}

/// A copy a GEMM step makes into (inputs) or out of (result) a buffer, so
/// that every role is one stride.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repack {
    /// Which tensor is copied.
    pub tensor: Tensor,
    /// The copy's loops: for an input, its strides as `a` and the buffer's
    /// as `out`; for the result, the buffer's as `a` and the result's as
    /// `out`.
    pub loops: Loops,
    /// The buffer.
    pub buffer: BufferId,
    /// Elements copied.
    pub elements: usize,
    /// The role groups that are not one stride in this tensor as it is.
    pub because: Vec<Role>,
}

/// A step run as GEMM calls: `m x k` times `k x n`, once per index of the
/// `outer` loops, accumulating over the `k_rest` loops. Strides are those of
/// the tensors as read: a repacked tensor's are its buffer's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gemm {
    /// Copies made first (inputs) and last (the result), in that order.
    pub repacks: Vec<Repack>,
    /// GEMM's rows (the left input and the result).
    pub m: Loop,
    /// GEMM's columns (the right input and the result).
    pub n: Loop,
    /// GEMM's inner dimension (both inputs).
    pub k: Loop,
    /// Loops around the calls: batch, and M and N loops beyond `m` and `n`.
    pub outer: Vec<Loop>,
    /// K loops beyond `k`: the calls accumulate over them.
    pub k_rest: Vec<Loop>,
}

impl Gemm {
    /// GEMM calls per run of the step.
    pub fn calls(&self) -> usize {
        self.outer
            .iter()
            .chain(&self.k_rest)
            .fold(1usize, |n, d| n.saturating_mul(d.extent))
    }
}

/// How a step runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Lowered {
    /// The strided loop engine.
    Loops(Loops),
    /// GEMM calls.
    Gemm(Gemm),
}

/// One step of a fitted plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FitStep {
    /// What it reads: one or two sources.
    pub inputs: Vec<Source>,
    /// Where it writes.
    pub output: Dest,
    /// How it runs.
    pub lowered: Lowered,
}

/// A plan fitted to strides: every step's lowering and the workspace's
/// buffers. Made by [`fit`]; the executor checks it before running it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fitted {
    input_strides: Vec<Vec<isize>>,
    out_strides: Vec<isize>,
    target: Target,
    steps: Vec<FitStep>,
    buffers: Vec<usize>,
    /// The buffers' lengths summed, exactly (`buffers` saturate: a plan too
    /// large to run is fitted too, for its report).
    workspace: Count,
}

impl Fitted {
    /// Assembles a fitted plan from its parts, for tests that hand the
    /// executor a deliberately wrong one (it must refuse it with an error).
    /// [`fit`] is the way to make a right one.
    pub fn from_parts(
        input_strides: Vec<Vec<isize>>,
        out_strides: Vec<isize>,
        target: Target,
        steps: Vec<FitStep>,
        buffers: Vec<usize>,
    ) -> Fitted {
        let workspace = buffers.iter().map(|&b| Count::from(b)).sum();
        Fitted {
            input_strides,
            out_strides,
            target,
            steps,
            buffers,
            workspace,
        }
    }

    /// The steps, in execution order.
    pub fn steps(&self) -> &[FitStep] {
        &self.steps
    }

    /// Each workspace buffer's length in elements.
    pub fn buffers(&self) -> &[usize] {
        &self.buffers
    }

    /// Elements of all buffers together: what a run allocates for
    /// temporaries and copies (saturating; the reports give it exactly).
    pub fn workspace_elements(&self) -> usize {
        self.workspace.saturating_usize()
    }

    /// The workspace's elements, exactly.
    pub(crate) fn workspace_count(&self) -> &Count {
        &self.workspace
    }

    /// The operands' element strides it was fitted to.
    pub fn input_strides(&self) -> &[Vec<isize>] {
        &self.input_strides
    }

    /// The output's element strides it was fitted to.
    pub fn out_strides(&self) -> &[isize] {
        &self.out_strides
    }

    /// What it was fitted for.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Whether arrays with these strides, for this target, run it.
    pub fn fits(&self, input_strides: &[&[isize]], out_strides: &[isize], target: Target) -> bool {
        self.target == target
            && self.out_strides == out_strides
            && self.input_strides.len() == input_strides.len()
            && self
                .input_strides
                .iter()
                .zip(input_strides)
                .all(|(mine, theirs)| mine.as_slice() == *theirs)
    }
}

/// Why a plan cannot be fitted to the strides given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// Not one stride list per operand.
    #[error("the plan has {expected} operands, but strides were given for {got}")]
    OperandCount {
        /// Operands of the plan.
        expected: usize,
        /// Stride lists given.
        got: usize,
    },
    /// A stride list's length is not its array's rank.
    #[error("{what} has shape {shape:?} but strides {strides:?} were given")]
    Rank {
        /// `operand k` or `the output`.
        what: String,
        /// The array's shape.
        shape: Vec<usize>,
        /// The strides given.
        strides: Vec<isize>,
    },
}

/// Fits `plan` to operands and an output with these element strides.
///
/// # Errors
/// If there is not one stride list per operand, of the operand's rank, and
/// one stride per output dimension.
pub fn fit(
    plan: &Plan,
    input_strides: &[&[isize]],
    out_strides: &[isize],
    target: Target,
) -> Result<Fitted, FitError> {
    let bound = plan.bound();
    if input_strides.len() != bound.operands().len() {
        return Err(FitError::OperandCount {
            expected: bound.operands().len(),
            got: input_strides.len(),
        });
    }
    for (k, (dims, strides)) in bound.operands().iter().zip(input_strides).enumerate() {
        if dims.len() != strides.len() {
            return Err(FitError::Rank {
                what: format!("operand {k}"),
                shape: dims.iter().map(|d| d.extent).collect(),
                strides: strides.to_vec(),
            });
        }
    }
    if bound.output().len() != out_strides.len() {
        return Err(FitError::Rank {
            what: "the output".into(),
            shape: bound.output_shape(),
            strides: out_strides.to_vec(),
        });
    }
    // A sliced plan's steps run on slices of the arrays: the same strides,
    // the sliced axes at extent 1.
    Ok(fit_steps(
        plan.step_bound(),
        plan.steps(),
        plan.temps(),
        plan.gemm_policy(),
        input_strides,
        out_strides,
        target,
    ))
}

/// [`fit`] on a plan's parts, once its arguments are checked (the planner
/// fits each plan it makes to C order this way, for its report).
pub(crate) fn fit_steps(
    bound: &Bound,
    steps: &[Step],
    temps: &[Vec<crate::AxisId>],
    policy: GemmPolicy,
    input_strides: &[&[isize]],
    out_strides: &[isize],
    target: Target,
) -> Fitted {
    let temp_len = |t: usize| Count::product(temps[t].iter().map(|&a| bound.axis(a).size));
    let mut pool = buffers::Pool::default();
    let mut temp_buffer: Vec<Option<BufferId>> = vec![None; temps.len()];
    let mut fitted = Vec::with_capacity(steps.len());
    let mut temp_strides: Vec<Vec<isize>> = Vec::with_capacity(temps.len());
    temp_strides.resize(temps.len(), Vec::new());
    // A temporary between two memory-bound steps follows its producer's
    // inputs; one that a GEMM-shaped step writes or reads keeps the
    // planner's layout, made for GEMM (see `followed_strides`).
    let gemm_shaped = |step: &Step| matches!(step.kernel, Kernel::Gemm { .. });
    let mut read_by_gemm = vec![false; temps.len()];
    for step in steps.iter().filter(|step| gemm_shaped(step)) {
        for arg in &step.args {
            if let plan::Source::Temp(t) = arg.source {
                read_by_gemm[t.0] = true;
            }
        }
    }
    for step in steps {
        if let plan::Dest::Temp(t) = step.out {
            temp_strides[t.0] = if gemm_shaped(step) || read_by_gemm[t.0] {
                loops::c_strides(temps[t.0].iter().map(|&a| bound.axis(a).size))
            } else {
                followed_strides(bound, step, temps, &temp_strides, input_strides)
            };
        }
    }
    for step in steps {
        let loops = step_loops(
            bound,
            step,
            temps,
            &temp_strides,
            input_strides,
            out_strides,
        );
        let gemm = target.blas
            && gemm_shaped(step)
            && step.args.len() == 2
            && loops.points() > 0
            && policy.uses_gemm(loops.points());
        let output = match step.out {
            plan::Dest::Temp(t) => {
                let id = pool.take(temp_len(t.0));
                temp_buffer[t.0] = Some(id);
                Dest::Buffer(id)
            }
            plan::Dest::Output => Dest::Output,
        };
        let lowered = if gemm {
            let plan = gemm::lower(&loops);
            let repacks: Vec<Repack> = plan
                .copies
                .into_iter()
                .map(|c| Repack {
                    buffer: pool.take(Count::from(c.len)),
                    tensor: c.tensor,
                    loops: c.loops,
                    elements: c.len,
                    because: c.because,
                })
                .collect();
            for r in &repacks {
                pool.give_back(r.buffer);
            }
            Lowered::Gemm(Gemm {
                repacks,
                m: plan.m,
                n: plan.n,
                k: plan.k,
                outer: plan.outer,
                k_rest: plan.k_rest,
            })
        } else {
            Lowered::Loops(loops)
        };
        let inputs = step
            .args
            .iter()
            .map(|arg| match arg.source {
                plan::Source::Temp(t) => {
                    // The planner emits a temporary's producer before its
                    // reader, so its buffer is known here (were it not, the
                    // executor's check refuses the missing buffer).
                    let id = temp_buffer[t.0].unwrap_or(BufferId(usize::MAX));
                    pool.give_back(id);
                    Source::Buffer(id)
                }
                plan::Source::Operand(k) => Source::Operand(k.0),
            })
            .collect();
        fitted.push(FitStep {
            inputs,
            output,
            lowered,
        });
    }
    let lens = pool.into_lens();
    Fitted {
        input_strides: input_strides.iter().map(|s| s.to_vec()).collect(),
        out_strides: out_strides.to_vec(),
        target,
        steps: fitted,
        buffers: lens.iter().map(Count::saturating_usize).collect(),
        workspace: lens.into_iter().sum(),
    }
}

/// Each input's per-axis strides in a step (operands as given,
/// temporaries as laid out).
fn per_axis_strides(
    bound: &Bound,
    step: &Step,
    temps: &[Vec<crate::AxisId>],
    temp_strides: &[Vec<isize>],
    input_strides: &[&[isize]],
) -> Vec<Vec<isize>> {
    step.args
        .iter()
        .map(|arg| {
            let strides = match arg.source {
                plan::Source::Operand(k) => input_strides[k.0].to_vec(),
                plan::Source::Temp(t) => {
                    debug_assert!(
                        arg.dims
                            .iter()
                            .map(|d| d.axis)
                            .eq(temps[t.0].iter().copied()),
                        "a temporary is read in its planned axis order"
                    );
                    temp_strides[t.0].clone()
                }
            };
            loops::axis_strides(bound, arg, &strides)
        })
        .collect()
}

/// The strides of a temporary that a step not GEMM-shaped writes and
/// another not GEMM-shaped reads: C order of its axes sorted as the
/// producing step's inputs lay them out (each axis by its stride in the
/// first input that moves along it, largest first; ties keep the planned
/// order), as numpy's `order='K'` lays out a result. The planner lays
/// temporaries out for GEMM, assuming C-order operands; for memory-bound
/// steps that order made `ij,ij,ij->j` write its `ij,ij` product
/// transposed (6x slower than numpy) and cost F-order operands a
/// transposition at every step.
fn followed_strides(
    bound: &Bound,
    step: &Step,
    temps: &[Vec<crate::AxisId>],
    temp_strides: &[Vec<isize>],
    input_strides: &[&[isize]],
) -> Vec<isize> {
    let plan::Dest::Temp(t) = step.out else {
        return Vec::new();
    };
    let per_axis = per_axis_strides(bound, step, temps, temp_strides, input_strides);
    let axes = &temps[t.0];
    let walk = |a: crate::AxisId| -> usize {
        per_axis
            .iter()
            .map(|s| s[a.index()].unsigned_abs())
            .find(|&s| s != 0)
            .unwrap_or(usize::MAX)
    };
    let mut order: Vec<usize> = (0..axes.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(walk(axes[p])));
    let sorted = loops::c_strides(order.iter().map(|&p| bound.axis(axes[p]).size));
    let mut strides = vec![0isize; axes.len()];
    for (&p, &stride) in order.iter().zip(&sorted) {
        strides[p] = stride;
    }
    strides
}

/// A step's loops for the given operand and output strides, and the
/// temporaries' strides.
fn step_loops(
    bound: &Bound,
    step: &Step,
    temps: &[Vec<crate::AxisId>],
    temp_strides: &[Vec<isize>],
    input_strides: &[&[isize]],
    out_strides: &[isize],
) -> Loops {
    let per_axis = per_axis_strides(bound, step, temps, temp_strides, input_strides);
    let mut dst = vec![0isize; bound.axes().len()];
    let (axes, strides): (&[crate::AxisId], Vec<isize>) = match step.out {
        plan::Dest::Temp(t) => (&temps[t.0], temp_strides[t.0].clone()),
        plan::Dest::Output => (bound.output(), out_strides.to_vec()),
    };
    for (&axis, &stride) in axes.iter().zip(&strides) {
        dst[axis.index()] = stride;
    }
    let held: Vec<Vec<crate::AxisId>> = step
        .args
        .iter()
        .map(|arg| loops::held(bound, arg))
        .collect();
    loops::step_loops(
        bound,
        (&held[0], &per_axis[0]),
        held.get(1)
            .map(Vec::as_slice)
            .zip(per_axis.get(1).map(Vec::as_slice)),
        &dst,
        &step.out_axes,
    )
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tensor::Left => "left input",
            Tensor::Right => "right input",
            Tensor::Result => "result",
        })
    }
}

/// The role groups, as the report names them.
pub(crate) fn roles_text(roles: &[Role]) -> String {
    let names: Vec<&str> = roles
        .iter()
        .map(|r| match r {
            Role::Batch => "batch",
            Role::M => "M",
            Role::N => "N",
            Role::K => "K",
            Role::Sum => "sum",
        })
        .collect();
    names.join(", ")
}

impl fmt::Display for Repack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, dir) = if self.tensor == Tensor::Result {
            ("computed in", "then copied out")
        } else {
            ("copied to", "first")
        };
        write!(
            f,
            "{} {verb} {} ({} elements) {dir}: {} not one stride",
            self.tensor,
            self.buffer,
            self.elements,
            roles_text(&self.because)
        )
    }
}

impl fmt::Display for Lowered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lowered::Loops(loops) => {
                let order = match loops.order {
                    Order::InnerSum => "inner sum",
                    Order::Accumulate => "accumulate rows",
                    Order::Transpose { .. } => "tiled transpose",
                };
                write!(
                    f,
                    "strided loops, {order} ({} kept, {} summed)",
                    loops.kept.len(),
                    loops.summed.len()
                )
            }
            Lowered::Gemm(g) => {
                write!(f, "gemm m={} n={} k={}", g.m.extent, g.n.extent, g.k.extent)?;
                match g.calls() {
                    1 => f.write_str(", 1 call"),
                    calls => write!(f, ", {calls} calls"),
                }
            }
        }
    }
}
