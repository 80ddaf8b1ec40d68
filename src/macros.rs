//! What `einsum!` expands to: a per-call-site `static` [`Site`] holding the
//! lowered expression and its plan cache, and thin calls into [`Einsum`].
//!
//! Everything here is public only for the macro's expansion (re-exported as
//! the hidden `einsum::__private`); it is not an API.

use std::sync::OnceLock;

use einsum_exec::{Accum, Element};
use einsum_syntax::{Ellipsis, Expr, LabelId, LabelSeq, Span};
use ndarray::{Array, ArrayD, ArrayViewMut, Dimension};

use crate::{Einsum, Error, Operand, Options};

/// One `einsum!` call site: the expression, compiled on first use.
pub struct Site {
    build: fn() -> Expr,
    einsum: OnceLock<Einsum>,
}

impl Site {
    /// A call site whose lowered expression `build` writes out.
    pub const fn new(build: fn() -> Expr) -> Site {
        Site {
            build,
            einsum: OnceLock::new(),
        }
    }

    /// The compiled expression, with the call site's plan cache.
    pub fn einsum(&self) -> &Einsum {
        self.einsum.get_or_init(|| {
            let expr = (self.build)();
            // The macro lowered this text at compile time; a debug build
            // checks that the parts it wrote out are what lowering gives.
            debug_assert_eq!(
                crate::parse(expr.text()).ok().as_ref(),
                Some(&expr),
                "einsum! expansion out of step with einsum-syntax"
            );
            Einsum::from_expr(expr, Options::new())
        })
    }
}

/// The lowered expression from the parts the macro wrote out.
pub fn expr(
    text: &str,
    labels: &[char],
    inputs: Vec<LabelSeq>,
    output: LabelSeq,
    implicit: bool,
) -> Expr {
    Expr::from_parts(text, labels.to_vec(), inputs, output, implicit)
}

/// One term from the parts the macro wrote out.
pub fn seq(
    ids: &[usize],
    spans: &[(usize, usize)],
    ellipsis: Option<(usize, (usize, usize))>,
    span: (usize, usize),
) -> LabelSeq {
    let span_of = |(start, end): (usize, usize)| Span::new(start, end);
    LabelSeq::from_parts(
        ids.iter().map(|&i| LabelId::new(i)).collect(),
        spans.iter().map(|&s| span_of(s)).collect(),
        ellipsis.map(|(position, span)| Ellipsis {
            position,
            span: span_of(span),
        }),
        span_of(span),
    )
}

/// An output whose rank the text fixes: `Array<T, D>`.
pub fn run_fixed<T: Element, D: Dimension>(
    site: &Site,
    operands: &[&dyn Operand<T>],
) -> Result<Array<T, D>, Error> {
    let out = site.einsum().run(operands)?;
    Ok(out
        .into_dimensionality::<D>()
        .expect("the output rank is fixed by the subscripts"))
}

/// A full reduction: the scalar.
pub fn run_scalar<T: Element>(site: &Site, operands: &[&dyn Operand<T>]) -> Result<T, Error> {
    let out = site.einsum().run(operands)?;
    Ok(*out.first().expect("a 0-d array holds one element"))
}

/// An output with `...`: rank known at run time.
pub fn run_dyn<T: Element>(site: &Site, operands: &[&dyn Operand<T>]) -> Result<ArrayD<T>, Error> {
    site.einsum().run(operands)
}

/// `einsum_into!`.
pub fn run_into<T: Element, D: Dimension>(
    site: &Site,
    operands: &[&dyn Operand<T>],
    out: ArrayViewMut<'_, T, D>,
    accum: Accum,
) -> Result<(), Error> {
    site.einsum().run_into(operands, out, accum)
}

/// `einsum!`'s panic on a run-time error, at the caller's line.
#[track_caller]
pub fn unwrap<R>(result: Result<R, Error>) -> R {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}
