//! Compile-time einsum: `einsum!("ij,ij->i", d, d)`.
//!
//! This crate is an entry point of the pipeline (syntax → plan → exec →
//! entry points). Its macros parse the subscripts with `einsum-syntax` while
//! your crate compiles, so a typo or a wrong operand count is a compile
//! error at the string, with the same message and carets the run-time error
//! would show. The expansion hands the already-lowered expression to the
//! `einsum` facade (a hidden module), together with a `static` plan cache
//! for the call site: the text is never parsed at run time, and a loop that
//! calls the same `einsum!` with the same shapes plans once.
//!
//! Use the macros through the facade, which re-exports them:
//! [`einsum!`](macro@einsum), [`try_einsum!`](macro@try_einsum),
//! [`einsum_into!`](macro@einsum_into), [`try_einsum_into!`](macro@try_einsum_into).
//!
//! ```
//! use einsum::einsum;
//! use ndarray::array;
//!
//! let a = array![[1.0, 2.0], [3.0, 4.0]];
//! let b = array![[0.0, 1.0], [1.0, 0.0]];
//! let c = einsum!("ij,jk->ik", a, b); // an Array2<f64>
//! assert_eq!(c, a.dot(&b));
//! ```
#![forbid(unsafe_code)]

mod expand;
mod input;

use proc_macro::TokenStream;
use syn::parse_macro_input;

use crate::expand::Failure;
use crate::input::{Call, IntoCall};

/// Evaluates an einsum whose subscripts are checked at compile time.
///
/// `einsum!("subscripts", a, b, ...)` takes the subscripts as a string
/// literal and one operand per input term: any ndarray array or view of the
/// element type (f32, f64, `Complex<f32>`, `Complex<f64>`, i32, i64),
/// owned or borrowed, mixed freely. The macro borrows its operands, so an
/// owned array can be passed twice and stays usable afterwards.
///
/// **At compile time** the subscripts are parsed: an invalid expression or a
/// number of operands that differs from the number of input terms is a
/// compile error at the string literal.
///
/// **The result** has its rank in the type where the text fixes it:
/// `Array1<T>` for `"ij,ij->i"`, `Array2<T>` for `"ij,jk"`, up to `Array6`;
/// a full reduction (`"i,i->"`, `"ii"`) returns the scalar `T` itself, as
/// numpy returns a scalar; an output with `...` (and an output of more than
/// six axes) is an `ArrayD<T>`.
///
/// **Each call site** keeps its own plan cache keyed by the operand shapes
/// (thread-safe): calling it again with the same shapes runs the cached plan
/// without parsing or planning.
///
/// **A memory limit** follows the operands after a `;`:
/// `memory_limit = 4096` (elements, any `usize` expression),
/// `memory_limit = "512MiB"` (bytes of the element type; the text is read
/// at compile time, so a bad unit is a compile error), or any
/// `einsum::plan::MemoryLimit`. A contraction that no order fits within
/// it is sliced: every temporary stays within the limit, and the result is
/// the same. Each limit has its own plan cache at the call site.
///
/// ```
/// use einsum::einsum;
/// use ndarray::Array2;
///
/// let m = Array2::from_shape_fn((64, 64), |(i, j)| ((i + 2 * j) % 7) as f64);
/// // Every order's first temporary has 64x64 elements; 2 KiB holds 256.
/// let ring: f64 = einsum!("ab,bc,cd,da->", m, m, m, m; memory_limit = "2KiB");
/// assert_eq!(ring, einsum!("ab,bc,cd,da->", m, m, m, m));
/// ```
///
/// # Panics
/// If the operands do not fit the expression at run time (a rank or size
/// mismatch), with the rendered error, as indexing out of bounds panics. Use
/// [`try_einsum!`](macro@try_einsum) to get the error as a `Result` instead.
///
/// # Examples
///
/// The seed example, Euclidean distances between row pairs:
///
/// ```
/// use einsum::einsum;
/// use ndarray::array;
///
/// let p = array![[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]];
/// let q = array![[3.0, 4.0], [1.0, 1.0], [-1.0, 1.0]];
/// let d = &p - &q;
/// let distances = einsum!("ij,ij->i", d, d).mapv(f64::sqrt);
/// assert_eq!(distances, array![5.0, 0.0, 5.0]);
/// ```
///
/// Scalars, views and implicit output:
///
/// ```
/// use einsum::einsum;
/// use ndarray::{Array2, array};
///
/// let a = array![[1, 2], [3, 4]];
/// let trace: i64 = einsum!("ii", a);
/// assert_eq!(trace, 5);
///
/// let transposed: Array2<i64> = einsum!("ij->ji", a.view());
/// assert_eq!(transposed, a.t());
///
/// let gram = einsum!("ki,kj", &a, a.view()); // implicit output "ij"
/// assert_eq!(gram, a.t().dot(&a));
/// ```
///
/// A mistake in the subscripts does not compile:
///
/// ```compile_fail
/// # let d = ndarray::array![[1.0]];
/// let n = einsum::einsum!("ij,ij->k", d, d); // error: output label 'k' appears in no input
/// ```
#[proc_macro]
pub fn einsum(input: TokenStream) -> TokenStream {
    let call = parse_macro_input!(input as Call);
    expand::einsum(&call, Failure::Panic).into()
}

/// As [`einsum!`](macro@einsum), returning `Result<_, einsum::Error>`
/// instead of panicking when the operands do not fit the expression.
///
/// ```
/// use einsum::try_einsum;
/// use ndarray::array;
///
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let v = array![1.0, 2.0, 3.0];
/// let err = try_einsum!("ij,j->i", a, v).unwrap_err();
/// assert_eq!(err.to_string(), "\
/// error: label 'j' has size 2 in operand 0 but size 3 in operand 1
///   ij,j->i
///    ^ ^");
/// ```
#[proc_macro]
pub fn try_einsum(input: TokenStream) -> TokenStream {
    let call = parse_macro_input!(input as Call);
    expand::einsum(&call, Failure::Return).into()
}

/// Writes an einsum into an existing array: `einsum_into!(out, "ij,jk->ik", a, b)`
/// replaces `out`'s contents; `einsum_into!(out += "ij,jk->ik", a, b)` adds
/// the result to them.
///
/// `out` is an owned array (borrowed mutably by the macro), a `&mut` to one,
/// or an `ArrayViewMut`, of the result's shape. Checked and cached as
/// [`einsum!`](macro@einsum), and takes the same settings after a `;`
/// (`; memory_limit = "1GiB"`).
///
/// # Panics
/// If the operands or `out` do not fit the expression, with the rendered
/// error; [`try_einsum_into!`](macro@try_einsum_into) returns it instead.
///
/// ```
/// use einsum::einsum_into;
/// use ndarray::{Array2, array};
///
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let mut c = Array2::zeros((2, 2));
/// einsum_into!(c, "ij,jk->ik", a, a);
/// einsum_into!(c += "ij->ji", a);
/// assert_eq!(c, a.dot(&a) + a.t());
/// ```
#[proc_macro]
pub fn einsum_into(input: TokenStream) -> TokenStream {
    let call = parse_macro_input!(input as IntoCall);
    expand::einsum_into(&call, Failure::Panic).into()
}

/// As [`einsum_into!`](macro@einsum_into), returning
/// `Result<(), einsum::Error>` instead of panicking.
///
/// ```
/// use einsum::try_einsum_into;
/// use ndarray::{Array1, array};
///
/// let a = array![[1, 2], [3, 4]];
/// let mut wrong = Array1::zeros(3);
/// let err = try_einsum_into!(wrong, "ij->i", a).unwrap_err();
/// assert!(err.to_string().contains("shape"), "{err}");
/// ```
#[proc_macro]
pub fn try_einsum_into(input: TokenStream) -> TokenStream {
    let call = parse_macro_input!(input as IntoCall);
    expand::einsum_into(&call, Failure::Return).into()
}
