//! The parse error: a typed kind, the text, and where in it.

use std::fmt;
use std::sync::Arc;

use crate::Span;
use crate::render::write_diagnostic;

/// Why a subscripts string was rejected.
///
/// Subjects come first in the names (`DotStray`, `OutputLabelRepeated`) so the
/// kinds group by what they are about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A character that is not a label, `.`, `,`, `->` or a space.
    #[error("{}", char_invalid_message(*.ch))]
    CharInvalid {
        /// The offending character.
        ch: char,
    },
    /// A `.` (or a run of fewer than three) that is not part of an ellipsis `...`.
    #[error("'.' must be part of an ellipsis '...'")]
    DotStray,
    /// A second `...` in one term; the secondary span is the first.
    #[error("a term may hold at most one ellipsis '...'")]
    EllipsisRepeated,
    /// A second `->`; the secondary span is the first.
    #[error("'->' may appear only once")]
    ArrowRepeated,
    /// A `-` that is not followed by `>`.
    #[error("'-' must be followed by '>' to form '->'")]
    DashDangling,
    /// A `>` that does not follow `-`.
    #[error("'>' must follow '-' to form '->'")]
    GreaterDangling,
    /// A `,` after `->`: the output is a single term.
    #[error("the output is a single term: ',' after '->'")]
    OutputTermsMultiple,
    /// A label written twice in the output; the secondary span is the first.
    #[error("output label '{label}' appears more than once")]
    OutputLabelRepeated {
        /// The repeated label.
        label: char,
    },
    /// An output label that appears in no input term.
    #[error("output label '{label}' appears in no input")]
    OutputLabelUnknown {
        /// The unknown label.
        label: char,
    },
}

fn char_invalid_message(ch: char) -> String {
    if ch.is_whitespace() {
        format!("invalid whitespace {ch:?}: only ' ' may separate labels")
    } else if ch == '\u{2192}' {
        format!("invalid character {ch:?}: the output arrow is written '->'")
    } else {
        format!("invalid character {ch:?}: labels are letters")
    }
}

/// A rejected subscripts string: what went wrong, and where.
///
/// `Display` renders the text with carets under the offending characters:
///
/// ```
/// let err = einsum_syntax::parse("ij,j#->i").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "error: invalid character '#': labels are letters\n  ij,j#->i\n      ^"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    text: Arc<str>,
    span: Span,
    secondary: Option<Span>,
}

impl ParseError {
    pub(crate) fn new(
        kind: ParseErrorKind,
        text: &str,
        span: Span,
        secondary: Option<Span>,
    ) -> Self {
        ParseError {
            kind,
            text: text.into(),
            span,
            secondary,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The rejected text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where it went wrong.
    pub fn span(&self) -> Span {
        self.span
    }

    /// A second place that explains the first ("first seen here"), if any.
    pub fn secondary(&self) -> Option<Span> {
        self.secondary
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut spans = vec![self.span];
        spans.extend(self.secondary);
        write_diagnostic(f, &self.kind, &self.text, &spans)
    }
}

impl std::error::Error for ParseError {}
