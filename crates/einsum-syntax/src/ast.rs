//! The syntax tree: faithful to the text, with a span on every node.

use std::sync::Arc;

use crate::Span;

/// A parsed subscripts string: the input terms and, in explicit mode, the output.
///
/// Equality is structural: two trees are equal when they say the same thing,
/// whatever the whitespace and therefore the spans. That is what makes
/// `parse(&tree.to_string()) == tree` hold for every valid tree.
///
/// `Display` prints the canonical text: no whitespace, `,` between terms,
/// `->` only in explicit mode.
#[derive(Clone, Debug)]
pub struct Subscripts {
    pub(crate) text: Arc<str>,
    pub(crate) inputs: Vec<Term>,
    pub(crate) output: Option<Output>,
}

/// The explicit output: the `->` and the term after it.
#[derive(Clone, Debug)]
pub struct Output {
    pub(crate) arrow: Span,
    pub(crate) term: Term,
}

/// One term: the labels and at most one ellipsis between two separators.
#[derive(Clone, Debug)]
pub struct Term {
    pub(crate) items: Vec<Item>,
    pub(crate) span: Span,
}

/// One element of a term.
#[derive(Clone, Copy, Debug)]
pub enum Item {
    /// A label: one alphabetic character.
    Label {
        /// The character.
        label: char,
        /// Where it stands in the text.
        span: Span,
    },
    /// `...`: zero or more broadcast dimensions.
    Ellipsis {
        /// Where it stands in the text.
        span: Span,
    },
}

impl Subscripts {
    /// The text this tree was parsed from; every span indexes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The input terms, one per operand, in order.
    pub fn inputs(&self) -> &[Term] {
        &self.inputs
    }

    /// The explicit output, or `None` in implicit mode (no `->`).
    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    /// Whether the text has no `->`, so the output is implied.
    pub fn is_implicit(&self) -> bool {
        self.output.is_none()
    }
}

impl Output {
    /// Where the `->` stands.
    pub fn arrow(&self) -> Span {
        self.arrow
    }

    /// The output term.
    pub fn term(&self) -> &Term {
        &self.term
    }
}

impl Term {
    /// The labels and ellipsis, in text order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// From the first item to the last; an empty span where the term is empty.
    pub fn span(&self) -> Span {
        self.span
    }

    /// The labels in text order, without the ellipsis.
    pub fn labels(&self) -> impl Iterator<Item = (char, Span)> + '_ {
        self.items.iter().filter_map(|item| match *item {
            Item::Label { label, span } => Some((label, span)),
            Item::Ellipsis { .. } => None,
        })
    }

    /// Where the ellipsis stands, if the term has one.
    pub fn ellipsis(&self) -> Option<Span> {
        self.items.iter().find_map(|item| match *item {
            Item::Ellipsis { span } => Some(span),
            Item::Label { .. } => None,
        })
    }
}

impl Item {
    /// Where the item stands in the text.
    pub fn span(&self) -> Span {
        match *self {
            Item::Label { span, .. } | Item::Ellipsis { span } => span,
        }
    }
}

impl PartialEq for Subscripts {
    fn eq(&self, other: &Self) -> bool {
        self.inputs == other.inputs && self.output == other.output
    }
}
impl Eq for Subscripts {}

impl PartialEq for Output {
    fn eq(&self, other: &Self) -> bool {
        self.term == other.term
    }
}
impl Eq for Output {}

impl PartialEq for Term {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}
impl Eq for Term {}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Item::Label { label: a, .. }, Item::Label { label: b, .. }) => a == b,
            (Item::Ellipsis { .. }, Item::Ellipsis { .. }) => true,
            _ => false,
        }
    }
}
impl Eq for Item {}
