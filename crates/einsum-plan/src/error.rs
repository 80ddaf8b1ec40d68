//! The planner's error: a typed kind, the subscripts text, and where in it.

use std::fmt;
use std::sync::Arc;

use einsum_syntax::{Span, write_diagnostic};

use crate::count::Count;

/// Why an expression could not be bound to its shapes or planned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanErrorKind {
    /// The number of operands differs from the number of input terms.
    #[error("the subscripts have {terms} input term{} but {operands} operand{} {} given", plural(*terms), plural(*operands), if *operands == 1 { "was" } else { "were" })]
    OperandCountMismatch {
        /// Input terms in the text.
        terms: usize,
        /// Operands passed.
        operands: usize,
    },
    /// An operand's rank cannot match its term's labels.
    #[error("operand {operand} has {rank} dimension{} but its term has {labels} label{}{}", plural(*rank), plural(*labels), rank_hint(*rank, *labels, *ellipsis))]
    RankMismatch {
        /// The operand's position.
        operand: usize,
        /// Its number of dimensions.
        rank: usize,
        /// Labels in its term, not counting `...`.
        labels: usize,
        /// Whether the term has `...`.
        ellipsis: bool,
    },
    /// A label has sizes in two operands that neither equal nor broadcast.
    #[error(
        "label '{label}' has size {size} in operand {operand} but size {other_size} in operand {other_operand}"
    )]
    DimensionMismatch {
        /// The label.
        label: char,
        /// Size in the first operand (the primary span).
        size: usize,
        /// That operand.
        operand: usize,
        /// Size in the second operand (the secondary span).
        other_size: usize,
        /// That operand.
        other_operand: usize,
    },
    /// A label repeated within one operand spans dimensions of different sizes.
    #[error(
        "label '{label}' repeats in operand {operand} over dimensions of sizes {size} and {other_size}; a diagonal needs equal sizes"
    )]
    DiagonalMismatch {
        /// The repeated label.
        label: char,
        /// The operand.
        operand: usize,
        /// Size at the first occurrence.
        size: usize,
        /// Size at the repeated occurrence.
        other_size: usize,
    },
    /// Broadcast (`...`) dimensions of two operands that do not broadcast.
    #[error(
        "'...' has shape {shape:?} in operand {operand} but {other_shape:?} in operand {other_operand}, which do not broadcast"
    )]
    BroadcastMismatch {
        /// Broadcast shape of the first operand.
        shape: Vec<usize>,
        /// That operand.
        operand: usize,
        /// Broadcast shape of the second operand.
        other_shape: Vec<usize>,
        /// That operand.
        other_operand: usize,
    },
    /// An explicit output without `...` while inputs carry broadcast dimensions.
    #[error("operand {operand} has {dims} broadcast dimension{} under '...' but the output has no '...' to put {}", plural(*dims), if *dims == 1 { "it" } else { "them" })]
    OutputEllipsisMissing {
        /// An operand whose `...` stands for dimensions.
        operand: usize,
        /// How many dimensions the output lacks.
        dims: usize,
    },
    /// A product of sizes does not fit in memory addresses.
    #[error("the {what} would have shape {dims:?}, more elements than memory can address")]
    SizeOverflow {
        /// What was being sized.
        what: &'static str,
        /// Its dimensions.
        dims: Vec<usize>,
    },
    /// Every contraction order needs an intermediate larger than the limit.
    #[error("every contraction order needs an intermediate larger than the memory limit of {limit} elements{}", needed.as_ref().map(|n| format!(" (the smallest possible largest intermediate has {n})")).unwrap_or_default())]
    MemoryLimitExceeded {
        /// The limit, in elements.
        limit: u128,
        /// The smallest largest-intermediate any order needs, when known.
        needed: Option<Count>,
    },
    /// A user-given contraction path that does not fit the operands.
    #[error("invalid contraction path: {reason}")]
    PathInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// More distinct axes than the order search supports.
    #[error("{axes} distinct axes; the order search supports at most 4096")]
    AxesTooMany {
        /// How many there are.
        axes: usize,
    },
    /// More operands than an exponential optimizer takes, refused before searching.
    #[error(
        "{operands} operands are too many for the {optimizer} optimizer, which takes at most {limit} (auto picks an optimizer by size)"
    )]
    OperandsTooMany {
        /// The optimizer, as the report names it (`optimal`, `branch-2`).
        optimizer: String,
        /// Operands in the expression.
        operands: usize,
        /// The most it takes.
        limit: usize,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn rank_hint(rank: usize, labels: usize, ellipsis: bool) -> &'static str {
    match (ellipsis, rank > labels) {
        (false, true) => "; add '...' to broadcast the extra dimensions",
        (true, false) => "; '...' can stand for dimensions but not remove labels",
        _ => "",
    }
}

/// A binding or planning failure: what went wrong and where in the text.
///
/// `Display` renders the subscripts with carets under the labels concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    kind: PlanErrorKind,
    text: Arc<str>,
    spans: Vec<Span>,
}

impl PlanError {
    pub(crate) fn new(kind: PlanErrorKind, text: &str, spans: Vec<Span>) -> Self {
        PlanError {
            kind,
            text: text.into(),
            spans,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &PlanErrorKind {
        &self.kind
    }

    /// The subscripts text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where: the primary span first, then any that explain it.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_diagnostic(f, &self.kind, &self.text, &self.spans)
    }
}

impl std::error::Error for PlanError {}
