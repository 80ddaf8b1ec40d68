//! The executor's error.

/// Why a plan could not run on the given arrays.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The number of operands differs from the plan's.
    #[error("the plan takes {expected} operand{} but {got} {} given", if *expected == 1 { "" } else { "s" }, if *got == 1 { "was" } else { "were" })]
    OperandCountMismatch {
        /// Operands the plan was made for.
        expected: usize,
        /// Operands passed.
        got: usize,
    },
    /// An operand's shape differs from the one the plan was made for.
    #[error("operand {operand} has shape {got:?} but the plan was made for {expected:?}")]
    OperandShapeMismatch {
        /// The operand.
        operand: usize,
        /// The planned shape.
        expected: Vec<usize>,
        /// The shape passed.
        got: Vec<usize>,
    },
    /// The output's shape differs from the plan's result.
    #[error("the output has shape {got:?} but the result has shape {expected:?}")]
    OutputShapeMismatch {
        /// The result's shape.
        expected: Vec<usize>,
        /// The output passed.
        got: Vec<usize>,
    },
    /// A view's strides reach outside its data, or its shape and strides
    /// differ in length.
    #[error("{0}")]
    ViewInvalid(String),
    /// The workspace for temporaries would not fit in memory.
    #[error("the plan needs a workspace of {elements} elements, which cannot be allocated")]
    WorkspaceTooLarge {
        /// Elements needed.
        elements: usize,
    },
}
