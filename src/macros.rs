//! What `einsum!` expands to: a per-call-site `static` [`Site`] holding the
//! lowered expression and its plan cache, and thin calls into [`Einsum`].
//!
//! Everything here is public only for the macro's expansion (re-exported as
//! the hidden `einsum::__private`); it is not an API.

use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use einsum_exec::{Accum, Element};
use einsum_plan::MemoryLimit;
use einsum_syntax::{Ellipsis, Expr, LabelId, LabelSeq, Span};
use ndarray::{Array, ArrayD, ArrayViewMut, Dimension};

use crate::{Einsum, Error, Operand, Options};

/// One `einsum!` call site: the expression, compiled on first use.
pub struct Site {
    build: fn() -> Expr,
    einsum: OnceLock<Einsum>,
    /// With `memory_limit = ...`: one compiled expression (and plan cache)
    /// per limit in elements, most recent last.
    limited: Mutex<Vec<(usize, Arc<Einsum>)>>,
}

/// How many distinct memory limits a call site keeps compiled expressions
/// for (a limit computed at run time may vary).
const LIMITS_KEPT: usize = 4;

/// The compiled expression a call runs: the site's own, or the one for its
/// memory limit.
pub enum SiteEinsum<'a> {
    /// No memory limit.
    Plain(&'a Einsum),
    /// The compiled expression for one memory limit.
    Limited(Arc<Einsum>),
}

impl Deref for SiteEinsum<'_> {
    type Target = Einsum;

    fn deref(&self) -> &Einsum {
        match self {
            SiteEinsum::Plain(einsum) => einsum,
            SiteEinsum::Limited(einsum) => einsum,
        }
    }
}

impl Site {
    /// A call site whose lowered expression `build` writes out.
    pub const fn new(build: fn() -> Expr) -> Site {
        Site {
            build,
            einsum: OnceLock::new(),
            limited: Mutex::new(Vec::new()),
        }
    }

    fn expr(&self) -> Expr {
        let expr = (self.build)();
        // The macro lowered this text at compile time; a debug build
        // checks that the parts it wrote out are what lowering gives.
        debug_assert_eq!(
            crate::parse(expr.text()).ok().as_ref(),
            Some(&expr),
            "einsum! expansion out of step with einsum-syntax"
        );
        expr
    }

    /// The compiled expression for elements of type `T` under `limit`
    /// (`None`: the site's own, unlimited).
    pub fn einsum_for<T: Element>(&self, limit: Option<MemoryLimit>) -> SiteEinsum<'_> {
        let Some(limit) = limit else {
            return SiteEinsum::Plain(self.einsum());
        };
        let elements = limit.elements(std::mem::size_of::<T>());
        let mut limited = self
            .limited
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(i) = limited.iter().position(|(e, _)| *e == elements) {
            let entry = limited.remove(i);
            let einsum = entry.1.clone();
            limited.push(entry);
            return SiteEinsum::Limited(einsum);
        }
        let einsum = Arc::new(Einsum::from_expr(
            self.expr(),
            Options::new().memory_limit(Some(elements)),
        ));
        if limited.len() == LIMITS_KEPT {
            limited.remove(0);
        }
        limited.push((elements, einsum.clone()));
        SiteEinsum::Limited(einsum)
    }

    /// The compiled expression, with the call site's plan cache.
    pub fn einsum(&self) -> &Einsum {
        self.einsum
            .get_or_init(|| Einsum::from_expr(self.expr(), Options::new()))
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

/// A `memory_limit = expr` setting: elements (`usize`) or a [`MemoryLimit`].
pub fn memory_limit(limit: impl Into<MemoryLimit>) -> Option<MemoryLimit> {
    Some(limit.into())
}

/// An output whose rank the text fixes: `Array<T, D>`.
pub fn run_fixed<T: Element, D: Dimension>(
    site: &Site,
    operands: &[&dyn Operand<T>],
    limit: Option<MemoryLimit>,
) -> Result<Array<T, D>, Error> {
    let out = site.einsum_for::<T>(limit).run(operands)?;
    Ok(out
        .into_dimensionality::<D>()
        .expect("the output rank is fixed by the subscripts"))
}

/// A full reduction: the scalar.
pub fn run_scalar<T: Element>(
    site: &Site,
    operands: &[&dyn Operand<T>],
    limit: Option<MemoryLimit>,
) -> Result<T, Error> {
    let out = site.einsum_for::<T>(limit).run(operands)?;
    Ok(*out.first().expect("a 0-d array holds one element"))
}

/// An output with `...`: rank known at run time.
pub fn run_dyn<T: Element>(
    site: &Site,
    operands: &[&dyn Operand<T>],
    limit: Option<MemoryLimit>,
) -> Result<ArrayD<T>, Error> {
    site.einsum_for::<T>(limit).run(operands)
}

/// `einsum_into!`.
pub fn run_into<T: Element, D: Dimension>(
    site: &Site,
    operands: &[&dyn Operand<T>],
    out: ArrayViewMut<'_, T, D>,
    accum: Accum,
    limit: Option<MemoryLimit>,
) -> Result<(), Error> {
    site.einsum_for::<T>(limit).run_into(operands, out, accum)
}

/// `einsum!`'s panic on a run-time error, at the caller's line.
#[track_caller]
pub fn unwrap<R>(result: Result<R, Error>) -> R {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}
