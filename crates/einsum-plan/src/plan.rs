//! The plan: an ordered list of steps over slots, with its costs.

use std::fmt;

use crate::axis::AxisId;
use crate::bind::{Bound, Dim};
use crate::cost::Objective;
use crate::count::Count;
use crate::fit::{self, Fitted, GemmPolicy, Target};
use crate::kernel::Kernel;
use crate::order::{Optimize, Path};

/// How to plan: the optimizer, a memory limit, the objective.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlanOptions {
    pub(crate) optimize: Optimize,
    pub(crate) memory_limit: Option<usize>,
    pub(crate) slicing: Slicing,
    pub(crate) objective: Objective,
    pub(crate) gemm: GemmPolicy,
    /// The memory order blocks for the cache are chosen for (the plan's
    /// own: C; its variant for Fortran-order arrays: F).
    pub(crate) blocks_for: crate::order::MemoryOrder,
}

impl PlanOptions {
    /// The defaults: `Optimize::Auto`, no memory limit, minimise FLOPs.
    pub fn new() -> Self {
        Self::default()
    }

    /// The order search to use.
    pub fn optimize(mut self, optimize: Optimize) -> Self {
        self.optimize = optimize;
        self
    }

    /// The largest temporary allowed, in elements (`None`: no limit). The
    /// output is not a temporary and is never limited. When no order keeps
    /// every temporary within it, the plan is sliced (see [`Slicing`]).
    pub fn memory_limit(mut self, elements: Option<usize>) -> Self {
        self.memory_limit = elements;
        self
    }

    /// The memory limit in bytes, for elements of `element_bytes` bytes
    /// each: `bytes / element_bytes` elements (`None`: no limit).
    pub fn memory_limit_bytes(self, bytes: Option<usize>, element_bytes: usize) -> Self {
        self.memory_limit(bytes.map(|b| b / element_bytes.max(1)))
    }

    /// Whether a memory limit may be met by slicing.
    pub fn slicing(mut self, slicing: Slicing) -> Self {
        self.slicing = slicing;
        self
    }

    /// What the order search minimises.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Which matrix-product steps run on GEMM kernels when the plan is
    /// fitted ([`fit`](crate::fit::fit)); the rest run on strided loops.
    pub fn gemm(mut self, gemm: GemmPolicy) -> Self {
        self.gemm = gemm;
        self
    }
}

/// What a plan does when no order keeps every temporary within the memory
/// limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Slicing {
    /// Slice: fix some axes to one chunk of indices at a time, so that each slice's
    /// temporaries fit, and sum (or stack) the slices. The plan minimises
    /// the slices' total FLOPs, and an order that fits unsliced competes on
    /// the same total.
    #[default]
    WhenNeeded,
    /// Never slice: find an order within the limit or fail with
    /// [`MemoryLimitExceeded`](crate::PlanErrorKind::MemoryLimitExceeded)
    /// (numpy's and opt_einsum's notion of a path under a limit). With no
    /// limit, not even in [blocks](Plan::blocks) for the cache.
    Never,
    /// Slice these axes, by label (the order is the optimizer's, with no
    /// limit): a plan made elsewhere, made again exactly (what a worker of
    /// a distributed run does with its client's order and slices). A label
    /// the expression does not have is a
    /// [`PathInvalid`](crate::PlanErrorKind::PathInvalid) error.
    Given(Vec<char>),
}

/// How a plan is sliced: the axes fixed, a chunk of consecutive indices
/// at a time, in each slice. Every slice runs the plan's steps, over [`Slices::bound`]; the
/// slices' results are summed over the sliced axes the output does not
/// hold and stacked along those it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slices {
    pub(crate) axes: Vec<AxisId>,
    /// Per sliced axis: how many of its indices one slice takes (a divisor
    /// of its size).
    pub(crate) chunks: Vec<usize>,
    /// The problem one slice computes: the sliced axes at their chunks.
    pub(crate) bound: Bound,
    /// How many slices: the product over the sliced axes of size / chunk.
    pub(crate) count: Count,
    pub(crate) unsliced_flops: Count,
    /// The memory limit it was sliced for, in elements (for blocks: the
    /// size each temporary is cut to).
    pub(crate) limit: usize,
    /// Cut for the cache, with no memory limit ([`Plan::blocks`]), not for
    /// memory ([`Plan::slices`]).
    pub(crate) for_cache: bool,
}

/// Most partial sums a sliced run keeps (see [`Slices::groups`]).
const SUM_GROUPS: usize = 16;

impl Slices {
    /// The sliced axes, ascending.
    pub fn axes(&self) -> &[AxisId] {
        &self.axes
    }

    /// Per sliced axis (as [`axes`](Self::axes)): how many consecutive
    /// indices one slice takes, a divisor of the axis's size (1: one index
    /// per slice). Slice `i` of an axis covers indices `i * chunk ..
    /// (i + 1) * chunk`.
    pub fn chunks(&self) -> &[usize] {
        &self.chunks
    }

    /// The problem one slice computes: each sliced axis has its chunk's
    /// size, and so has every dimension over it.
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// How many slices (saturating at `u128::MAX`).
    pub fn count(&self) -> u128 {
        self.count.saturating_u128()
    }

    /// How many slices, exactly.
    pub fn count_exact(&self) -> &Count {
        &self.count
    }

    /// FLOPs of the cheapest order found with no limit (saturating): what
    /// the slices' total is compared with.
    pub fn unsliced_flops(&self) -> u128 {
        self.unsliced_flops.saturating_u128()
    }

    /// The memory limit the plan was sliced for, in elements: it bounds
    /// every temporary of every slice.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// In how many partial sums the slices are added when no sliced axis is
    /// the output's: consecutive slices are summed into each (the first
    /// into the result, the others into buffers of the result's size), and
    /// the partial sums are then added into the result in order. Slices in
    /// different partial sums may run at once. The grouping is the plan's,
    /// so the result's bits do not depend on how many threads run it.
    ///
    /// 1 when the output holds a sliced axis (its blocks are written
    /// apart, and each block's slices summed in order), when there are
    /// fewer than two slices to sum, or when a buffer of the result's size
    /// would not fit the limit.
    pub fn groups(&self) -> usize {
        let stacked = self.axes.iter().any(|a| self.bound.output().contains(a));
        let out_len = Count::product(self.bound.output_shape());
        if stacked || out_len > Count::from(self.limit) {
            return 1;
        }
        self.count
            .to_u128()
            .map_or(SUM_GROUPS, |n| (n.min(SUM_GROUPS as u128)) as usize)
    }

    pub(crate) fn unsliced_count(&self) -> &Count {
        &self.unsliced_flops
    }
}

/// An operand, by position in the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperandId(pub usize);

/// A temporary: a step's result that a later step reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TempId(pub usize);

impl fmt::Display for OperandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "operand {}", self.0)
    }
}

impl fmt::Display for TempId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// What a step reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// An operand, as the caller passed it.
    Operand(OperandId),
    /// A temporary an earlier step wrote.
    Temp(TempId),
}

/// Where a step writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    /// A temporary a later step reads.
    Temp(TempId),
    /// The result.
    Output,
}

/// One input of a step: a slot read through its dimensions.
///
/// For an operand the dimensions are the operand's own, in order: a repeated
/// axis is a diagonal, a dimension whose extent is not its axis's size (1
/// against n) broadcasts. The executor takes both as views, with no copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// What is read.
    pub source: Source,
    /// Its dimensions.
    pub dims: Vec<Dim>,
}

/// One step: read one or two slots, write one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The inputs.
    pub args: Vec<Arg>,
    /// Where the result goes.
    pub out: Dest,
    /// The result's axes: a temporary's planned layout (the fit lays it
    /// out in C order of these, or, between two steps that are not
    /// GEMM-shaped, as its producer's inputs lay the axes out).
    pub out_axes: Vec<AxisId>,
    /// What the step does.
    pub kernel: Kernel,
    /// Its FLOPs (see the cost model), saturating at `u128::MAX`; the
    /// plan's [`report`](Plan::report) and `Display` give them exactly.
    pub flops: u128,
    /// Elements the step reads (each input through its distinct axes) and
    /// writes: the memory traffic that bounds memory-bound steps. Saturates
    /// at `u128::MAX`, as `flops`.
    pub moved: u128,
}

/// A complete plan: the steps that compute an einsum, and what they cost.
///
/// `Display` prints a report in the shape of `numpy.einsum_path`'s, plus, per
/// step, its own einsum, its kernel and how it runs on operands and an
/// output in C order (the plan's own [fit](crate::fit), kept with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub(crate) bound: Bound,
    /// How it is sliced, when it is: then the steps compute one slice.
    pub(crate) slices: Option<Slices>,
    pub(crate) steps: Vec<Step>,
    pub(crate) temps: Vec<Vec<AxisId>>,
    pub(crate) gemm: GemmPolicy,
    /// The plan fitted to C-order operands and output, for a type with GEMM
    /// kernels: what `Display`, the report and `workspace_elements` show.
    /// Made when first asked for, so planning alone does not pay for it.
    pub(crate) c_order: LazyFit,
    pub(crate) path: Path,
    pub(crate) optimize: Optimize,
    /// What `Auto` chose (`None` when there was no order to choose).
    pub(crate) resolved: Option<Optimize>,
    /// The figures exactly, at any magnitude: the reports print these.
    pub(crate) naive_flops: Count,
    pub(crate) optimized_flops: Count,
    pub(crate) largest_intermediate: Count,
    pub(crate) largest_temporary: Count,
    /// Each step's FLOPs and elements moved.
    pub(crate) step_flops: Vec<Count>,
    pub(crate) step_moved: Vec<Count>,
    /// For a plan in blocks: the same order in blocks for Fortran-order
    /// arrays (when it has some), then run whole (no blocks), for arrays
    /// whose layout this plan's blocks would cut across.
    pub(crate) variants: Vec<std::sync::Arc<Plan>>,
}

/// A plan's fit to C order, made once when first asked for. Two plans are
/// equal whether or not theirs has been made (it follows from the rest).
#[derive(Clone, Debug, Default)]
pub(crate) struct LazyFit(pub(crate) std::sync::OnceLock<Fitted>);

impl PartialEq for LazyFit {
    fn eq(&self, _: &LazyFit) -> bool {
        true
    }
}

impl Eq for LazyFit {}

impl Plan {
    /// The bound problem: axes, operands, output.
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// How the plan is sliced for a memory limit (`None`: it is not). A
    /// sliced plan's steps, temporaries and per-step figures are those of
    /// one slice; its headline figures (`optimized_flops`,
    /// `moved_elements`) are of all slices, and its largest intermediate
    /// and temporary of one. Slices can be run apart
    /// ([`einsum_exec::run_slice`], a distributed run).
    pub fn slices(&self) -> Option<&Slices> {
        self.slices.as_ref().filter(|s| !s.for_cache)
    }

    /// How the plan is cut into blocks for the cache (`None`: it is not):
    /// with no memory limit, a chain of memory-bound steps whose
    /// temporaries would spill from the cache runs block by block along an
    /// axis every step holds, so each block's temporaries stay in cache
    /// and only the operands and the result travel to memory, as one fused
    /// loop over all the operands would (`ij,ij,ij->i` reads three
    /// matrices once, instead of writing and re-reading a fourth). No FLOP
    /// is repeated. The steps and per-step figures are one block's, as for
    /// [`slices`](Plan::slices); blocks are an execution detail, not
    /// slices to run apart.
    pub fn blocks(&self) -> Option<&Slices> {
        self.slices.as_ref().filter(|s| s.for_cache)
    }

    /// For a plan in [`blocks`](Plan::blocks): the same order for other
    /// layouts, in blocks for Fortran-order arrays (when some suit them)
    /// and run whole ([`for_layout`](Plan::for_layout) chooses); empty for
    /// a plan not in blocks.
    pub fn variants(&self) -> &[std::sync::Arc<Plan>] {
        &self.variants
    }

    /// For a plan in [`blocks`](Plan::blocks): the same order run whole,
    /// with no blocks (`None` for a plan not in blocks).
    pub fn unblocked(&self) -> Option<&std::sync::Arc<Plan>> {
        self.variants.iter().find(|v| v.blocks().is_none())
    }

    /// The plan to run on arrays of these element strides (per operand,
    /// then the output's), when it is not this one: a plan in blocks whose
    /// blocks would cut across contiguous memory (the blocked axis the
    /// innermost, smallest stride, of some operand or of the output over
    /// two or more dimensions: blocks of eight rows of a Fortran-order
    /// matrix read eight elements of every column, and ran 10x slower than
    /// the plan whole) runs its variant in blocks for Fortran order if
    /// those suit the strides, else the plan [`unblocked`](Plan::unblocked).
    /// `None`: this plan suits them.
    pub fn for_layout(&self, inputs: &[&[isize]], out: &[isize]) -> Option<&std::sync::Arc<Plan>> {
        if !self.cuts_across(inputs, out) {
            return None;
        }
        self.variants.iter().find(|v| !v.cuts_across(inputs, out))
    }

    /// Whether this plan's blocks cut across the memory of arrays of these
    /// strides (see [`for_layout`](Plan::for_layout)); `false` when it has
    /// no blocks.
    fn cuts_across(&self, inputs: &[&[isize]], out: &[isize]) -> bool {
        let Some(blocks) = self.blocks() else {
            return false;
        };
        let bound = &self.bound;
        let out_dims: Vec<Dim> = bound
            .output()
            .iter()
            .map(|&axis| Dim {
                axis,
                extent: bound.axis(axis).size,
            })
            .collect();
        let tensors = bound
            .operands()
            .iter()
            .map(Vec::as_slice)
            .zip(inputs.iter().copied())
            .chain(std::iter::once((out_dims.as_slice(), out)));
        tensors.into_iter().any(|(dims, strides)| {
            let walked: Vec<(AxisId, usize)> = dims
                .iter()
                .zip(strides)
                .filter(|(d, s)| d.extent > 1 && d.extent == bound.axis(d.axis).size && **s != 0)
                .map(|(d, s)| (d.axis, s.unsigned_abs()))
                .collect();
            walked.len() >= 2
                && walked
                    .iter()
                    .min_by_key(|(_, s)| *s)
                    .is_some_and(|(a, _)| blocks.axes().contains(a))
        })
    }

    /// The [`slices`](Plan::slices) or [`blocks`](Plan::blocks) the steps
    /// run over, whichever the plan has: what the executor walks.
    pub fn partition(&self) -> Option<&Slices> {
        self.slices.as_ref()
    }

    /// The problem the steps compute: one slice's (or block's) when the
    /// plan is cut, else the whole [`bound`](Plan::bound) problem.
    pub fn step_bound(&self) -> &Bound {
        self.slices.as_ref().map_or(&self.bound, |s| &s.bound)
    }

    /// `sliced FLOPs / unsliced FLOPs` of a sliced plan: what the slices
    /// cost over the cheapest order found with no limit (1 unsliced).
    pub fn slicing_overhead(&self) -> f64 {
        match &self.slices {
            Some(s) if s.unsliced_flops != Count::ZERO => {
                self.optimized_flops.ratio(&s.unsliced_flops)
            }
            _ => 1.0,
        }
    }

    /// The steps, in execution order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Each temporary's axes, in memory (C) order.
    pub fn temps(&self) -> &[Vec<AxisId>] {
        &self.temps
    }

    /// The contraction order in numpy's linear format.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// FLOPs of evaluating the einsum in one go, numpy's convention.
    /// Saturates at `u128::MAX`, as do the other figures' getters: a plan
    /// over many large axes can pass it, and its [`report`](Plan::report)
    /// and `Display` give every figure exactly.
    pub fn naive_flops(&self) -> u128 {
        self.naive_flops.saturating_u128()
    }

    /// FLOPs of the plan's steps together (saturating).
    pub fn optimized_flops(&self) -> u128 {
        self.optimized_flops.saturating_u128()
    }

    /// Elements all steps read and write together (see [`Step::moved`];
    /// saturating).
    pub fn moved_elements(&self) -> u128 {
        self.moved_count().saturating_u128()
    }

    /// Over all slices.
    pub(crate) fn moved_count(&self) -> Count {
        let per_slice: Count = self.step_moved.iter().cloned().sum();
        match &self.slices {
            Some(s) => per_slice.mul(&s.count),
            None => per_slice,
        }
    }

    /// Elements of the largest result of any step, the output included:
    /// numpy's "largest intermediate" (saturating at `usize::MAX`); of one
    /// slice when the plan is sliced.
    pub fn largest_intermediate(&self) -> usize {
        self.largest_intermediate.saturating_usize()
    }

    /// Elements of the largest temporary, the output not included (0 when
    /// there is none): what the memory limit bounds (saturating); of one
    /// slice when the plan is sliced.
    pub fn largest_temporary(&self) -> usize {
        self.largest_temporary.saturating_usize()
    }

    /// Elements of the workspace a run on C-order operands and output
    /// allocates (times the element size: bytes), for temporaries and
    /// copies: the buffers of the plan's own fit, [`Plan::c_order`].
    pub fn workspace_elements(&self) -> usize {
        self.c_order().workspace_elements()
    }

    /// The plan fitted to C-order operands and output, for an element type
    /// with GEMM kernels: what `Display` and [`Plan::report`] show.
    pub fn c_order(&self) -> &Fitted {
        self.c_order.0.get_or_init(|| {
            let bound = &self.bound;
            let operand_strides: Vec<Vec<isize>> = bound
                .operands()
                .iter()
                .map(|dims| fit::c_strides(dims.iter().map(|d| d.extent)))
                .collect();
            let operand_strides: Vec<&[isize]> =
                operand_strides.iter().map(Vec::as_slice).collect();
            let out_strides = fit::c_strides(self.output_shape().into_iter());
            fit::fit_steps(
                self.step_bound(),
                &self.steps,
                &self.temps,
                self.gemm,
                &operand_strides,
                &out_strides,
                Target::BLAS,
            )
        })
    }

    /// Which matrix-product steps run on GEMM when fitted.
    pub fn gemm_policy(&self) -> GemmPolicy {
        self.gemm
    }

    /// The exact figures, for the reports; the workspace is `fitted`'s.
    pub(crate) fn counts(&self, fitted: &Fitted) -> Counts<'_> {
        Counts {
            naive_flops: &self.naive_flops,
            optimized_flops: &self.optimized_flops,
            largest_intermediate: &self.largest_intermediate,
            largest_temporary: &self.largest_temporary,
            workspace: fitted.workspace_count().clone(),
            moved: self.moved_count(),
            step_flops: &self.step_flops,
            step_moved: &self.step_moved,
        }
    }

    /// `naive_flops / optimized_flops` (1 when nothing is computed).
    pub(crate) fn speedup(&self) -> f64 {
        if self.optimized_flops == Count::ZERO {
            1.0
        } else {
            self.naive_flops.ratio(&self.optimized_flops)
        }
    }

    /// The output's shape.
    pub fn output_shape(&self) -> Vec<usize> {
        self.bound.output_shape()
    }

    /// The einsum a step computes, in the plan's axis names.
    pub fn step_subscripts(&self, step: &Step) -> String {
        let name = |a: AxisId| self.bound.axis(a).name;
        let args: Vec<String> = step
            .args
            .iter()
            .map(|arg| arg.dims.iter().map(|d| name(d.axis)).collect())
            .collect();
        let out: String = step.out_axes.iter().map(|&a| name(a)).collect();
        format!("{}->{out}", args.join(","))
    }

    /// The optimizer asked for, with what `auto` chose: `auto (dp)`.
    pub fn optimizer_name(&self) -> String {
        match (&self.optimize, &self.resolved) {
            (Optimize::Auto, Some(chosen)) => format!("auto ({})", optimize_name(chosen)),
            (Optimize::Auto, None) => "auto (one operand: no order to choose)".to_owned(),
            (given, _) => optimize_name(given),
        }
    }

    pub(crate) fn scaling(&self) -> (usize, usize) {
        let naive = self.bound.axes().len();
        let optimized = self
            .steps
            .iter()
            .map(|s| {
                let mut axes: Vec<AxisId> = s
                    .args
                    .iter()
                    .flat_map(|a| a.dims.iter().map(|d| d.axis))
                    .collect();
                axes.sort_unstable();
                axes.dedup();
                axes.len()
            })
            .max()
            .unwrap_or(0);
        (naive, optimized)
    }
}

/// A plan's figures, exact.
pub(crate) struct Counts<'a> {
    pub naive_flops: &'a Count,
    pub optimized_flops: &'a Count,
    pub largest_intermediate: &'a Count,
    pub largest_temporary: &'a Count,
    pub workspace: Count,
    pub moved: Count,
    /// Per step, in step order.
    pub step_flops: &'a [Count],
    pub step_moved: &'a [Count],
}

pub(crate) fn optimize_name(optimize: &Optimize) -> String {
    match optimize {
        Optimize::Auto => "auto".into(),
        Optimize::Optimal => "optimal".into(),
        Optimize::Dp => "dp".into(),
        Optimize::Greedy => "greedy".into(),
        Optimize::Branch(0) => "branch-all".into(),
        Optimize::Branch(n) => format!("branch-{n}"),
        Optimize::RandomGreedy { trials, seed } => {
            format!("random-greedy ({trials} trials, seed {seed})")
        }
        Optimize::Reconfigure {
            trials,
            subtree,
            seed,
        } => {
            let starts = if *trials == 1 { "start" } else { "starts" };
            let seed = if *seed == 0 {
                String::new()
            } else {
                format!(", seed {seed}")
            };
            format!("reconfigure ({trials} {starts}, subtrees of {subtree}{seed})")
        }
        Optimize::Hyper { budget, seed } => {
            let budget = match budget {
                crate::order::Budget::Time(t) => format!("{t:?}"),
                crate::order::Budget::Trials(n) => format!("{n} trials"),
                crate::order::Budget::Scaled => {
                    "3 reconfigured starts, more time if the contraction is long".into()
                }
            };
            let seed = if *seed == 0 {
                String::new()
            } else {
                format!(", seed {seed}")
            };
            format!("hyper ({budget}{seed})")
        }
        Optimize::Naive => "naive".into(),
        Optimize::Path(p) => format!("path {:?}", p.0),
    }
}
