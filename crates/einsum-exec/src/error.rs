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
    /// A view's shape and strides differ in length, or a program was given
    /// stride lists that are not one per dimension of each operand and of
    /// the output.
    #[error("shape {shape:?} and strides {strides:?} differ in length")]
    RankMismatch {
        /// The shape.
        shape: Vec<usize>,
        /// The strides.
        strides: Vec<isize>,
    },
    /// A view reaches outside its data (or its offsets overflow the address
    /// space).
    #[error(
        "shape {shape:?} with strides {strides:?} from offset {offset} reaches outside the data's {len} elements"
    )]
    ViewOutOfBounds {
        /// The view's shape.
        shape: Vec<usize>,
        /// Its element strides.
        strides: Vec<isize>,
        /// Its first element's offset into the data.
        offset: usize,
        /// Elements in the data.
        len: usize,
    },
    /// An output view reaches some element through two indices.
    #[error("an output's shape {shape:?} with strides {strides:?} writes some elements twice")]
    OutputAliased {
        /// The output's shape.
        shape: Vec<usize>,
        /// Its strides.
        strides: Vec<isize>,
    },
    /// Arrays passed to a program have other strides than it was fitted to.
    #[error("the arrays' strides are not those the program was fitted to")]
    StridesMismatch,
    /// An array's shape is too large to exist, whatever its data: the
    /// product of its non-zero extents, in bytes, exceeds `isize::MAX`
    /// (numpy's "array is too big").
    #[error("{what} would have shape {shape:?}: too large for one array, whatever its data")]
    ShapeTooLarge {
        /// The shape.
        shape: Vec<usize>,
        /// Which array.
        what: crate::memory::Allocation,
    },
    /// A buffer is larger than this machine's memory (or than one
    /// allocation may be), or the allocator refused it.
    #[error("cannot allocate {} for {what}: this machine has {} of memory and swap", bytes.map_or_else(|| "more than 2^128 bytes".to_owned(), crate::memory::show_bytes), crate::memory::show_bytes(*machine))]
    OutOfMemory {
        /// Bytes asked for (`None`: more than `u128::MAX`).
        bytes: Option<u128>,
        /// What the buffer is for.
        what: crate::memory::Allocation,
        /// Bytes of memory and swap on this machine.
        machine: u128,
    },
}
