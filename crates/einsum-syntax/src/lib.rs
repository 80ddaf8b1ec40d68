//! The einsum subscript language: the first stage of the pipeline
//! (syntax → plan → exec → entry points).
//!
//! This crate turns text such as `"bhqd,bhkd->bhqk"` into
//!
//! - a [`Subscripts`] syntax tree, faithful to the text, with a [`Span`] on
//!   every node; its `Display` prints canonical text back, and
//!   `parse(&tree.to_string()) == tree`;
//! - an [`Expr`], the lowered form the planner reads: labels interned to dense
//!   [`LabelId`]s, each term a [`LabelSeq`] with its ellipsis position, the
//!   output explicit even in implicit mode;
//! - or a [`ParseError`] with a typed [`ParseErrorKind`] and spans, rendered
//!   with carets under the offending characters.
//!
//! The language is numpy's (`numpy.einsum`'s C parser is the reference) plus
//! non-ASCII letters as labels; `grammar/subscripts.ebnf` in the repository is
//! the normative grammar. The parser never panics on any `&str`. Nothing here
//! knows about shapes: operand counts, ranks and sizes are checked by the
//! planner when it binds the expression.
//!
//! ```
//! use einsum_syntax::parse;
//!
//! let tree = parse("bhqd, bhkd -> bhqk")?;
//! assert_eq!(tree.to_string(), "bhqd,bhkd->bhqk");
//!
//! let expr = tree.lower();
//! assert_eq!(expr.inputs().len(), 2);
//! assert_eq!(expr.labels(), &['b', 'h', 'q', 'd', 'k']);
//!
//! let err = parse("ij,jk->ii").unwrap_err();
//! assert_eq!(err.to_string(), "\
//! error: output label 'i' appears more than once
//!   ij,jk->ii
//!          ^^");
//! # Ok::<(), einsum_syntax::ParseError>(())
//! ```
#![forbid(unsafe_code)]

mod ast;
mod error;
mod label;
mod lower;
mod parse;
mod print;
mod render;
mod span;

pub use ast::{Item, Output, Subscripts, Term};
pub use error::{ParseError, ParseErrorKind};
pub use label::is_label;
pub use lower::{Ellipsis, Expr, LabelId, LabelSeq};
pub use parse::parse;
pub use render::write_diagnostic;
pub use span::Span;
