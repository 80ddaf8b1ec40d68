//! Byte ranges into the subscripts text.

/// A half-open byte range `start..end` into the subscripts text.
///
/// Spans are byte offsets (so they slice the text directly); the error
/// renderer turns them into display columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    ///
    /// # Panics
    /// If `end < start`.
    #[track_caller]
    pub fn new(start: usize, end: usize) -> Span {
        assert!(start <= end, "span end {end} before start {start}");
        Span { start, end }
    }

    /// An empty span at `at`, for things that are absent from the text
    /// (an empty term, an implicit output).
    pub fn empty(at: usize) -> Span {
        Span { start: at, end: at }
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}
