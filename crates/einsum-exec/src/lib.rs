//! The einsum executor: the third stage of the pipeline
//! (syntax → plan → **exec** → entry points).
//!
//! It runs an [`einsum_plan::Plan`] over strided arrays and never sees the
//! subscripts text: its API takes a plan.
//!
//! - [`StridedView`] / [`StridedViewMut`]: a pointer, a shape and signed
//!   element strides, checked once in a safe constructor (negative and zero
//!   strides allowed on inputs; an output may not write an element twice).
//!   ndarray views, or any other library's arrays, convert without copying.
//! - [`Element`]: the sealed set of element types (`f32`, `f64`,
//!   `Complex<f32>`, `Complex<f64>`, the integers `i8` to `i64` and `u8` to
//!   `u64`, and `bool`).
//! - [`run`] with [`RunOptions`] ([`Par`], [`Accum`]) and a reusable
//!   [`Workspace`] for temporaries; [`Program`], a plan fitted once to its
//!   arrays' strides, for callers that run it again and again (what a
//!   compiled expression keeps: its second call allocates nothing).
//! - [`try_zeroed`]: fallible, size-checked allocation of zeroed buffers
//!   (results, temporaries), an [`ExecError::OutOfMemory`] instead of an
//!   abort; [`advise_huge_pages`]: numpy's transparent-huge-page advice for
//!   large buffers.
//!
//! It decides nothing about how a step runs: [`einsum_plan::fit`] does, and
//! [`Program`] runs that fit after checking it (`check.rs`: every offset any
//! step touches lies inside its tensor, no element is written twice, no step
//! writes what it reads), so a planner bug is an [`ExecError`], never
//! undefined behaviour. The kernels (under `kernels/`, the only place with
//! `unsafe`, entered through one function that takes a checked program): a
//! strided loop engine for copies, sums, elementwise and outer products,
//! dots and matrix-vector products, with pairwise summation and tiled
//! transposing copies; GEMM through the `gemm` crate, fed straight from
//! strides; and the copies a fit asks for where a GEMM role is not one
//! stride.
//!
//! ```
//! use einsum_exec::{RunOptions, StridedView, StridedViewMut, Workspace, run};
//!
//! let expr = einsum_syntax::parse("ij,jk->ik").unwrap().lower();
//! let bound = einsum_plan::bind(&expr, &[&[2, 3][..], &[3, 2]]).unwrap();
//! let plan = einsum_plan::plan(&bound, &Default::default()).unwrap();
//!
//! let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
//! let mut c = [0.0; 4];
//! let inputs = [
//!     StridedView::new(&a, 0, vec![2, 3], vec![3, 1])?,
//!     StridedView::new(&b, 0, vec![3, 2], vec![2, 1])?,
//! ];
//! let mut out = StridedViewMut::new(&mut c, 0, vec![2, 2], vec![2, 1])?;
//! run(&plan, &inputs, &mut out, &RunOptions::new(), &mut Workspace::new())?;
//! assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
//! # Ok::<(), einsum_exec::ExecError>(())
//! ```
#![deny(unsafe_code)]

mod check;
mod element;
mod error;
#[allow(unsafe_code)] // the kernels dereference the checked views' pointers
mod kernels;
pub mod limits;
#[allow(unsafe_code)] // madvise (a hint that never touches the data), zeroed allocation, sysinfo
mod memory;
mod par;
mod run;
mod slices;
#[allow(unsafe_code)] // raw-parts constructors and Send/Sync for the views
mod view;
mod workspace;

pub use einsum_plan::GemmPolicy;
pub use element::{Element, target};
pub use error::{ExecError, ProgramProblem};
/// numpy's `float16`, as the `half` crate defines it (one of the [`Element`] types).
pub use half::f16;
pub use memory::{
    Allocation, advise_huge_pages, bytes_of, check_bytes, check_shape, machine_bytes, try_zeroed,
};
pub use par::{Accum, Par};
pub use run::{Profile, Program, RunOptions, run, run_profiled, run_slice, slice_position};
pub use view::{StridedView, StridedViewMut};
pub use workspace::{Workspace, Workspaces, bytes_needed};
