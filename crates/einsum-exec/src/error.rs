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
    /// The caller's check between steps asked the run to stop before this
    /// step ([`Program::run_interruptible`](crate::Program::run_interruptible));
    /// the output holds whatever the steps before it wrote.
    #[error("interrupted before step {step}")]
    Interrupted {
        /// The step that did not run.
        step: usize,
    },
    /// A sliced plan has more slices than this machine's `usize` counts.
    #[error("the plan has {slices} slices, more than this machine can count")]
    SlicesTooMany {
        /// How many slices, in decimal.
        slices: String,
    },
    /// A slice number past a sliced plan's slices (or a slice asked of a
    /// plan that is not sliced: it has one slice, the whole).
    #[error("slice {slice} of a plan of {slices} slices")]
    SliceOutOfRange {
        /// The slice asked for.
        slice: usize,
        /// How many there are.
        slices: usize,
    },
    /// Arrays passed to a program have other strides than it was fitted to.
    #[error("the arrays' strides are not those the program was fitted to")]
    StridesMismatch,
    /// A workspace given to a program holds fewer or shorter buffers than
    /// the program's fit says (a workspace prepared for another program).
    #[error("the workspace's buffers are smaller than the program needs")]
    WorkspaceTooSmall,
    /// A program fitted for an element type with GEMM kernels was run on
    /// one without (or the other way round).
    #[error("the program was fitted for another element type than {element}")]
    ElementMismatch {
        /// The element type it was run on.
        element: &'static str,
    },
    /// A fitted plan that would touch memory it must not: refused before
    /// anything runs (a planner bug, or a hand-made program).
    #[error("step {step} of the fitted plan is invalid: {problem}")]
    ProgramInvalid {
        /// The step.
        step: usize,
        /// What is wrong with it.
        problem: ProgramProblem,
    },
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

/// What is wrong with a fitted step ([`ExecError::ProgramInvalid`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramProblem {
    /// It reads no input, more than two, or one where GEMM needs two.
    #[error("it reads {0} inputs")]
    InputCount(usize),
    /// It names an operand the plan does not have.
    #[error("it reads operand {0}, which does not exist")]
    NoSuchOperand(usize),
    /// It names a workspace buffer the program does not have.
    #[error("it uses buffer b{0}, which does not exist")]
    NoSuchBuffer(usize),
    /// It writes a buffer it also reads (or two of its copies share one).
    #[error("it writes buffer b{0}, which it also reads or writes otherwise")]
    BufferShared(usize),
    /// Its loops reach outside a tensor it reads or writes.
    #[error("its loops reach offsets {lo}..={hi} of {tensor}, which holds {holds}")]
    ReachesOutside {
        /// Which tensor (`operand 1`, `buffer b0`, `the output`).
        tensor: String,
        /// Lowest offset reached.
        lo: i128,
        /// Highest offset reached.
        hi: i128,
        /// What the tensor holds (`offsets -3..=5`, `nothing`).
        holds: String,
    },
    /// Two of its loop indices write the same element of a tensor.
    #[error("it writes some element of {0} twice")]
    WritesTwice(String),
    /// Its tiled-transpose loops are not two distinct kept loops of a
    /// one-input copy.
    #[error("its transpose loops are not two kept loops of a one-input copy")]
    TransposeLoops,
}
