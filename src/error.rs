//! The one error type over every stage.

/// Anything that can go wrong between the subscripts text and a result.
///
/// Each variant wraps its stage's typed error; `Display` is the stage's
/// rendering, carets and all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The subscripts text is not a valid expression.
    #[error(transparent)]
    Parse(#[from] einsum_syntax::ParseError),
    /// The operands do not fit the expression, or no plan fits the options.
    #[error(transparent)]
    Plan(#[from] einsum_plan::PlanError),
    /// The arrays do not fit the plan, or memory for the run cannot be had.
    #[error("error: {0}")]
    Exec(einsum_exec::ExecError),
}

// By hand rather than `#[from]`, which would also make the executor's error
// this one's `source()`: reports that print the chain (anyhow's `{:#}`)
// would then say everything twice.
impl From<einsum_exec::ExecError> for Error {
    fn from(err: einsum_exec::ExecError) -> Self {
        Error::Exec(err)
    }
}
