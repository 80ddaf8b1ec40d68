//! einsum: an Einstein-summation expression compiler.
//!
//! ```
//! use ndarray::array;
//!
//! let a = array![[1.0, 2.0], [3.0, 4.0]];
//! let b = array![[5.0, 6.0], [7.0, 8.0]];
//! let c = einsum::einsum("ij,jk->ik", &[&a, &b])?;
//! assert_eq!(c, a.dot(&b).into_dyn());
//! # Ok::<(), einsum::Error>(())
//! ```
//!
//! Write an expression such as `"ij,jk->ik"`; the compiler parses it once,
//! plans the contraction order and lowers every step to a kernel. This crate is
//! the small public face over the pipeline crates:
//!
//! - [`syntax`] (`einsum-syntax`): the subscript language, its tree, the
//!   lowered [`syntax::Expr`] and typed parse errors with spans.
//! - [`plan`] (`einsum-plan`): binding shapes, the contraction order, the
//!   kernel of every step; [`explain`] gives the plan for text and shapes.
//!
//! - [`exec`] (`einsum-exec`): running a plan over strided arrays.
//!
//! [`Error`] is the one error type over every stage.
//!
//! ```
//! let expr = einsum::parse("ij,ij->i")?;
//! assert_eq!(expr.to_string(), "ij,ij->i");
//!
//! let err = einsum::parse("ij,ij->k").unwrap_err();
//! assert_eq!(err.to_string(), "\
//! error: output label 'k' appears in no input
//!   ij,ij->k
//!          ^");
//! # Ok::<(), einsum::Error>(())
//! ```
#![forbid(unsafe_code)]

mod api;
mod error;
mod macros;

pub use api::{Einsum, Operand, Options, einsum, einsum_into, plans_made};
pub use einsum_exec as exec;
pub use einsum_macros::{einsum, einsum_into, try_einsum, try_einsum_into};
pub use einsum_plan as plan;
pub use einsum_syntax as syntax;
pub use error::Error;

/// Parses and lowers a subscripts string: the first step of every einsum.
///
/// See [`syntax::parse`] for the language and [`syntax::Subscripts::lower`]
/// for what lowering resolves.
pub fn parse(subscripts: &str) -> Result<syntax::Expr, Error> {
    Ok(syntax::parse(subscripts)?.lower())
}

/// Plans `subscripts` for operands of the given shapes: parse, bind, order,
/// kernels. `Display` of the result is the explain report.
///
/// ```
/// let shapes: [&[usize]; 2] = [&[1000, 1000], &[1000, 1000]];
/// let plan = einsum::explain("ij,ij->i", &shapes, &einsum::plan::PlanOptions::new())?;
/// assert_eq!(plan.steps()[0].kernel.to_string(), "dot n=1000 (x1000 rows)");
/// # Ok::<(), einsum::Error>(())
/// ```
pub fn explain<S: AsRef<[usize]>>(
    subscripts: &str,
    shapes: &[S],
    options: &plan::PlanOptions,
) -> Result<plan::Plan, Error> {
    let expr = parse(subscripts)?;
    let bound = plan::bind(&expr, shapes)?;
    Ok(plan::plan(&bound, options)?)
}

/// What `einsum!`'s expansion calls; not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macros::{Site, expr, run_dyn, run_fixed, run_into, run_scalar, seq, unwrap};
    pub use einsum_syntax::Expr;
    pub use ndarray;
}

// The README's Rust examples run as doctests, so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
