//! Axes: labels after binding, each with one size.

use einsum_syntax::LabelId;

/// An axis of a bound problem, dense from 0: the labels first (axis `i` is
/// label id `i`), then the broadcast dimensions that `...` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AxisId(u32);

impl AxisId {
    /// The axis with index `index`.
    ///
    /// # Panics
    /// If `index` does not fit in 32 bits.
    #[track_caller]
    pub fn new(index: usize) -> AxisId {
        AxisId(u32::try_from(index).expect("axis index fits in u32"))
    }

    /// The dense index, for per-axis tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One axis: its size, where it came from, and the character that names it
/// in printed plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    /// The character that names it: its label, or for a broadcast dimension
    /// a letter the expression does not use.
    pub name: char,
    /// Its size (after size-1 broadcasting: the largest extent).
    pub size: usize,
    /// A label, or one dimension of `...`.
    pub origin: AxisOrigin,
}

/// Where an axis came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisOrigin {
    /// A label of the expression.
    Label(LabelId),
    /// Broadcast dimension `k` of `...`, counted from the left of the
    /// right-aligned broadcast shape.
    Broadcast(usize),
}
