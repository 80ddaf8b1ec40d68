//! The einsum planner: the second stage of the pipeline
//! (syntax → **plan** → exec → entry points).
//!
//! It takes the lowered [`einsum_syntax::Expr`] and one shape per operand, and
//! knows nothing of arrays: shapes are integers. Three steps:
//!
//! 1. [`bind`] → [`Bound`]: every label an [`AxisId`] with one size; `...`
//!    expanded into broadcast axes; numpy's broadcasting rules checked, every
//!    violation a [`PlanError`] with carets under the labels concerned.
//! 2. [`plan`] with [`PlanOptions`] → [`Plan`]: diagonals and size-1
//!    broadcasts become views of the step that reads them; axes only one
//!    operand holds are summed first; an [`Optimize`] strategy (optimal, dp,
//!    greedy, branch, random-greedy, reconfigure, naive, a given [`Path`], or
//!    auto) orders
//!    the pairwise contractions under an [`Objective`] and an optional memory
//!    limit, with FLOPs counted in numpy's convention.
//! 3. Each [`Step`] is classified as a [`Kernel`] (copy, sum, elementwise,
//!    outer, dot, gemv, gemm, batched or not) from the axis [`Role`]s behind
//!    it, with temporaries laid out for the step that reads them.
//! 4. [`fit::fit`] fits the plan to the arrays' strides: the one place that
//!    decides how each step runs (strided loops and their order, or GEMM
//!    calls with their role loops and any copies), and which workspace
//!    buffer each temporary and copy uses. Every plan keeps its fit to C
//!    order ([`Plan::c_order`]) for its report.
//!
//! `Display` of a [`Plan`] is the explain report: `numpy.einsum_path`'s
//! headline figures, then every step's own einsum, kernel and FLOPs, each
//! figure exact at any magnitude ([`Count`]; [`Plan::report`] as data).
//! Planning is deterministic: no hash-map order reaches a plan.
//!
//! ```
//! use einsum_plan::{Kernel, PlanOptions, bind, plan};
//!
//! let expr = einsum_syntax::parse("bhqd,bhkd->bhqk").unwrap().lower();
//! let bound = bind(&expr, &[&[4, 8, 512, 64][..], &[4, 8, 512, 64]])?;
//! assert_eq!(bound.output_shape(), vec![4, 8, 512, 512]);
//!
//! let plan = plan(&bound, &PlanOptions::new())?;
//! assert_eq!(plan.steps()[0].kernel, Kernel::Gemm { batch: 32, m: 512, n: 512, k: 64 });
//! assert_eq!(plan.optimized_flops(), 2 * 32 * 512 * 512 * 64);
//! # Ok::<(), einsum_plan::PlanError>(())
//! ```
#![forbid(unsafe_code)]

mod axis;
mod axis_set;
mod bind;
mod build;
mod cost;
mod count;
mod error;
pub mod fit;
mod kernel;
mod limit;
pub mod order;
mod plan;
mod report;

pub use axis::{Axis, AxisId, AxisOrigin};
pub use bind::{Bound, Dim, bind, checked_product};
pub use build::plan;
pub use cost::{Objective, naive_flops};
pub use count::Count;
pub use error::{PlanError, PlanErrorKind};
pub use fit::GemmPolicy;
pub use kernel::{Kernel, Role, Side};
pub use limit::{MemoryLimit, MemoryLimitError};
pub use order::{Budget, Optimize, Path};
pub use plan::{Arg, Dest, OperandId, Plan, PlanOptions, Slices, Slicing, Source, Step, TempId};
pub use report::FittedReport;
pub use report::{CopyReport, PlanReport, SlicingReport, StepReport};
