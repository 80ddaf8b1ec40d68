//! einsum: an Einstein-summation expression compiler.
//!
//! Write an expression such as `"ij,jk->ik"`; the compiler parses it once,
//! plans the contraction order, lowers every step to a kernel (a view, a
//! reduction, a strided loop or a GEMM fed by strides) and runs it over
//! strided arrays on every core.
//!
//! Most code wants [`einsum!`](macro@einsum): the subscripts are checked
//! while your crate compiles (a typo is a compile error with carets), the
//! plan is cached at the call site, and the result's rank is in its type.
//!
//! ```
//! use einsum::einsum;
//! use ndarray::{Array1, array};
//!
//! // The seed example: Euclidean distances between row pairs.
//! let p = array![[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]];
//! let q = array![[3.0, 4.0], [1.0, 1.0], [-1.0, 1.0]];
//! let d = &p - &q;
//! let distances: Array1<f64> = einsum!("ij,ij->i", d, d).mapv(f64::sqrt);
//! assert_eq!(distances, array![5.0, 0.0, 5.0]);
//! ```
//!
//! Subscripts known only at run time go through [`einsum()`] (once) or a
//! compiled [`Einsum`] (parsed once, planned once per shapes, run many
//! times), configured by [`Options`] ([`Optimize`] for the contraction
//! order, a memory limit, [`Par`] for threads); [`einsum_into()`] and
//! [`Einsum::run_into`] write into an array you own, replacing or adding
//! ([`Accum`]). Element types are the sealed [`Element`] set: `f32`, `f64`,
//! `Complex<f32>`, `Complex<f64>`, `i8` to `i64`, `u8` to `u64` and `bool`.
//!
//! ```
//! use ndarray::array;
//!
//! let a = array![[1.0, 2.0], [3.0, 4.0]];
//! let b = array![[5.0, 6.0], [7.0, 8.0]];
//! let c = einsum::einsum("ij,jk->ik", &[&a, &b])?;
//! assert_eq!(c, a.dot(&b).into_dyn());
//!
//! // Operands of one type from a Vec.
//! let stack = vec![a.clone(), b.clone(), a.clone()];
//! let chain = einsum::einsum("ij,jk,kl->il", &einsum::operands(&stack))?;
//! assert_eq!(chain, a.dot(&b).dot(&a).into_dyn());
//! # Ok::<(), einsum::Error>(())
//! ```
//!
//! [`explain`] gives the plan for text and shapes without running it: its
//! `Display` is the report `einsum-explain` prints.
//!
//! The pipeline's stages are crates of their own, re-exported here:
//!
//! - [`syntax`] (`einsum-syntax`): the subscript language, its tree, the
//!   lowered [`syntax::Expr`] and typed parse errors with spans.
//! - [`mod@plan`] (`einsum-plan`): binding shapes, the contraction order, the
//!   kernel of every step ([`Plan`], [`PlanOptions`]).
//! - [`exec`] (`einsum-exec`): running a plan over strided arrays.
//!
//! [`Error`] is the one error type over every stage; its `Display` is the
//! stage's rendering, carets and all:
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

pub use api::{Einsum, Operand, Options, einsum, einsum_into, operands, plans_made};
#[doc(inline)] // the stage's own docs as a module here, so links to it resolve
pub use einsum_exec as exec;
pub use einsum_exec::{Accum, Element, GemmPolicy, Par, RunOptions, f16};
pub use einsum_macros::{einsum, einsum_into, try_einsum, try_einsum_into};
#[doc(inline)] // the stage's own docs as a module here, so links to it resolve
pub use einsum_plan as plan;
pub use einsum_plan::{Optimize, Plan, PlanOptions, Slices, Slicing};
#[doc(inline)] // the stage's own docs as a module here, so links to it resolve
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
    pub use crate::macros::{
        Site, SiteEinsum, expr, memory_limit, run_dyn, run_fixed, run_into, run_scalar, seq, unwrap,
    };
    pub use einsum_syntax::Expr;
    pub use ndarray;
}

// The README's Rust examples run as doctests, so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
