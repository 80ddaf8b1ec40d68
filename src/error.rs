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
    /// The arrays do not fit the plan.
    #[error("error: {0}")]
    Exec(#[from] einsum_exec::ExecError),
}
