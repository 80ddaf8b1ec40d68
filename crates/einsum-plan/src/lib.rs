//! The einsum planner: the second stage of the pipeline
//! (syntax → **plan** → exec → entry points).
//!
//! It takes the lowered [`einsum_syntax::Expr`] and one shape per operand, and
//! knows nothing of arrays: shapes are integers.
//!
//! - [`bind`] → [`Bound`]: every label an [`AxisId`] with one size; `...`
//!   expanded into broadcast axes; numpy's broadcasting rules checked, every
//!   violation a [`PlanError`] with carets under the labels concerned.
//!
//! ```
//! let expr = einsum_syntax::parse("bhqd,bhkd->bhqk").unwrap().lower();
//! let bound = einsum_plan::bind(&expr, &[&[4, 8, 512, 64][..], &[4, 8, 512, 64]])?;
//! assert_eq!(bound.output_shape(), vec![4, 8, 512, 512]);
//! # Ok::<(), einsum_plan::PlanError>(())
//! ```
#![forbid(unsafe_code)]

mod axis;
mod axis_set;
mod bind;
mod cost;
mod error;
mod kernel;
pub mod order;
mod plan;

pub use axis::{Axis, AxisId, AxisOrigin};
pub use bind::{Bound, Dim, bind, checked_product};
pub use cost::{Objective, naive_flops};
pub use error::{PlanError, PlanErrorKind};
pub use kernel::{Kernel, Repack, Role, Side};
pub use order::{Optimize, Path};
pub use plan::{Arg, Plan, PlanOptions, Slot, Step, plan};
