//! The lowered form the planner reads: labels interned to dense ids, the
//! output made explicit.

use std::fmt::{self, Display, Formatter, Write};
use std::sync::Arc;

use crate::Span;
use crate::ast::{Item, Subscripts, Term};

/// A label interned to a dense id: `LabelId(i)` is `expr.labels()[i]`.
///
/// Ids are given in order of first appearance in the inputs, so the same
/// text always lowers to the same ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelId(u32);

impl LabelId {
    /// The id with index `index`.
    ///
    /// # Panics
    /// If `index` does not fit in 32 bits.
    #[track_caller]
    pub fn new(index: usize) -> LabelId {
        LabelId(u32::try_from(index).expect("label index fits in u32"))
    }

    /// The dense index, for indexing per-label tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A lowered subscripts expression: what the planner binds to shapes.
///
/// Every input and the output are a [`LabelSeq`]; in implicit mode the output
/// is resolved here as numpy does it (see [`Expr::is_implicit`]). The spans
/// still index [`Expr::text`], so later stages can point at labels.
///
/// `Display` prints the explicit canonical form, e.g. `ij,jk->ik` for `ij,jk`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    text: Arc<str>,
    labels: Vec<char>,
    inputs: Vec<LabelSeq>,
    output: LabelSeq,
    implicit: bool,
}

/// One term as label ids, with the position of its ellipsis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSeq {
    ids: Vec<LabelId>,
    spans: Vec<Span>,
    ellipsis: Option<Ellipsis>,
    span: Span,
}

/// Where a term's `...` stands: after `position` labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ellipsis {
    /// How many labels come before it.
    pub position: usize,
    /// Where it is in the text (for an implicit output: the first input
    /// ellipsis).
    pub span: Span,
}

impl Subscripts {
    /// Lowers the tree: interns labels and makes the output explicit.
    ///
    /// Implicit mode (no `->`) follows numpy: the output is every label that
    /// appears exactly once across all inputs, ordered by code point (so
    /// `A-Z` before `a-z`), with the broadcast dimensions first when any
    /// input has an ellipsis.
    ///
    /// ```
    /// let expr = einsum_syntax::parse("jb,ij").unwrap().lower();
    /// assert_eq!(expr.to_string(), "jb,ij->bi");
    /// ```
    pub fn lower(&self) -> Expr {
        let mut interner = Interner::default();
        let inputs: Vec<LabelSeq> = self
            .inputs
            .iter()
            .map(|term| lower_term(term, &mut interner))
            .collect();
        let (output, implicit) = match &self.output {
            Some(output) => (lower_term(&output.term, &mut interner), false),
            None => (
                implicit_output(&inputs, &interner.labels, self.text.len()),
                true,
            ),
        };
        Expr {
            text: self.text.clone(),
            labels: interner.labels,
            inputs,
            output,
            implicit,
        }
    }
}

fn lower_term(term: &Term, interner: &mut Interner) -> LabelSeq {
    let mut seq = LabelSeq {
        ids: Vec::with_capacity(term.items.len()),
        spans: Vec::with_capacity(term.items.len()),
        ellipsis: None,
        span: term.span,
    };
    for item in &term.items {
        match *item {
            Item::Label { label, span } => {
                seq.ids.push(interner.intern(label));
                seq.spans.push(span);
            }
            Item::Ellipsis { span } => {
                seq.ellipsis = Some(Ellipsis {
                    position: seq.ids.len(),
                    span,
                });
            }
        }
    }
    seq
}

fn implicit_output(inputs: &[LabelSeq], labels: &[char], text_len: usize) -> LabelSeq {
    let mut counts = vec![0usize; labels.len()];
    let mut first_span = vec![Span::empty(text_len); labels.len()];
    for seq in inputs {
        for (&id, &span) in seq.ids.iter().zip(&seq.spans) {
            if counts[id.index()] == 0 {
                first_span[id.index()] = span;
            }
            counts[id.index()] += 1;
        }
    }
    let mut ids: Vec<LabelId> = (0..labels.len())
        .filter(|&i| counts[i] == 1)
        .map(LabelId::new)
        .collect();
    ids.sort_by_key(|id| labels[id.index()]);
    let spans = ids.iter().map(|id| first_span[id.index()]).collect();
    let ellipsis = inputs
        .iter()
        .find_map(|seq| seq.ellipsis)
        .map(|first| Ellipsis {
            position: 0,
            span: first.span,
        });
    LabelSeq {
        ids,
        spans,
        ellipsis,
        span: Span::empty(text_len),
    }
}

/// Label to id, in order of first appearance.
#[derive(Default)]
struct Interner {
    labels: Vec<char>,
    ascii: Vec<Option<LabelId>>,
    other: Vec<(char, LabelId)>,
}

impl Interner {
    fn intern(&mut self, label: char) -> LabelId {
        let next = LabelId::new(self.labels.len());
        if label.is_ascii() {
            if self.ascii.is_empty() {
                self.ascii = vec![None; 128];
            }
            let slot = &mut self.ascii[label as usize];
            if let Some(id) = *slot {
                return id;
            }
            *slot = Some(next);
        } else {
            match self.other.binary_search_by_key(&label, |&(c, _)| c) {
                Ok(at) => return self.other[at].1,
                Err(at) => self.other.insert(at, (label, next)),
            }
        }
        self.labels.push(label);
        next
    }
}

impl Expr {
    /// Rebuilds a lowered expression from its parts, as [`Expr`]'s getters
    /// return them: what `einsum!` emits so that a call site never parses at
    /// run time. Build the parts from a lowered expression (`parse(text)?.lower()`)
    /// of the same `text`; nothing else is a meaningful expression.
    ///
    /// ```
    /// use einsum_syntax::{Expr, parse};
    ///
    /// let expr = parse("ij,jk").unwrap().lower();
    /// let again = Expr::from_parts(
    ///     expr.text(),
    ///     expr.labels().to_vec(),
    ///     expr.inputs().to_vec(),
    ///     expr.output().clone(),
    ///     expr.is_implicit(),
    /// );
    /// assert_eq!(again, expr);
    /// ```
    ///
    /// # Panics
    /// If the parts are inconsistent: a repeated or invalid label, an id
    /// past the labels, a span outside the text or off a character boundary,
    /// an ellipsis position past its term's labels.
    #[track_caller]
    pub fn from_parts(
        text: &str,
        labels: Vec<char>,
        inputs: Vec<LabelSeq>,
        output: LabelSeq,
        implicit: bool,
    ) -> Expr {
        for (i, &c) in labels.iter().enumerate() {
            assert!(crate::is_label(c), "{c:?} is not a label");
            assert!(!labels[..i].contains(&c), "label {c:?} repeated");
        }
        let span_ok = |s: Span| {
            s.end <= text.len() && text.is_char_boundary(s.start) && text.is_char_boundary(s.end)
        };
        for seq in inputs.iter().chain(std::iter::once(&output)) {
            assert!(
                seq.ids.iter().all(|id| id.index() < labels.len()),
                "label id out of range"
            );
            assert!(
                seq.spans.len() == seq.ids.len()
                    && seq.spans.iter().all(|&s| span_ok(s))
                    && span_ok(seq.span),
                "spans do not fit the text"
            );
            if let Some(e) = seq.ellipsis {
                assert!(
                    e.position <= seq.ids.len() && span_ok(e.span),
                    "ellipsis out of place"
                );
            }
        }
        Expr {
            text: text.into(),
            labels,
            inputs,
            output,
            implicit,
        }
    }

    /// The text this expression was parsed from; every span indexes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The distinct labels, indexed by [`LabelId::index`].
    pub fn labels(&self) -> &[char] {
        &self.labels
    }

    /// The character of a label id.
    ///
    /// # Panics
    /// If `id` is not from this expression.
    #[track_caller]
    pub fn label(&self, id: LabelId) -> char {
        self.labels[id.index()]
    }

    /// The input terms, one per operand.
    pub fn inputs(&self) -> &[LabelSeq] {
        &self.inputs
    }

    /// The output term, explicit even in implicit mode.
    pub fn output(&self) -> &LabelSeq {
        &self.output
    }

    /// Whether the output was implied (no `->` in the text).
    ///
    /// Binding needs to know: an explicit output without `...` rejects
    /// inputs that carry broadcast dimensions, an implicit one puts them first.
    pub fn is_implicit(&self) -> bool {
        self.implicit
    }
}

impl LabelSeq {
    /// A term from its parts, as [`LabelSeq`]'s getters return them (see
    /// [`Expr::from_parts`], which checks them against the text).
    pub fn from_parts(
        ids: Vec<LabelId>,
        spans: Vec<Span>,
        ellipsis: Option<Ellipsis>,
        span: Span,
    ) -> LabelSeq {
        LabelSeq {
            ids,
            spans,
            ellipsis,
            span,
        }
    }

    /// The label ids in order, without the ellipsis.
    pub fn ids(&self) -> &[LabelId] {
        &self.ids
    }

    /// The span of each label, parallel to [`LabelSeq::ids`].
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The ellipsis, if the term has one.
    pub fn ellipsis(&self) -> Option<Ellipsis> {
        self.ellipsis
    }

    /// The whole term's span (empty for an empty or implied term).
    pub fn span(&self) -> Span {
        self.span
    }

    /// Number of labels, not counting the ellipsis.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the term has no labels (it may still have an ellipsis).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, seq) in self.inputs.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            self.write_seq(f, seq)?;
        }
        f.write_str("->")?;
        self.write_seq(f, &self.output)
    }
}

impl Expr {
    fn write_seq(&self, f: &mut Formatter<'_>, seq: &LabelSeq) -> fmt::Result {
        for (i, &id) in seq.ids.iter().enumerate() {
            if seq.ellipsis.is_some_and(|e| e.position == i) {
                f.write_str("...")?;
            }
            f.write_char(self.label(id))?;
        }
        if seq.ellipsis.is_some_and(|e| e.position == seq.ids.len()) {
            f.write_str("...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn lowered(text: &str) -> String {
        parse(text).unwrap().lower().to_string()
    }

    #[test]
    fn implicit_output_follows_numpy() {
        assert_eq!(lowered("ij,jk"), "ij,jk->ik");
        assert_eq!(lowered("ba"), "ba->ab");
        assert_eq!(lowered("ii"), "ii->");
        assert_eq!(lowered("bA,Ab"), "bA,Ab->");
        assert_eq!(lowered("aB,c"), "aB,c->Bac");
        assert_eq!(lowered("...ij,jk"), "...ij,jk->...ik");
        assert_eq!(lowered("i...,i"), "i...,i->...");
        assert_eq!(lowered(""), "->");
        assert_eq!(lowered("βα,γ"), "βα,γ->αβγ");
    }

    #[test]
    fn explicit_output_is_kept() {
        assert_eq!(lowered("ij,jk->ki"), "ij,jk->ki");
        assert_eq!(lowered("i->...i"), "i->...i");
        assert_eq!(lowered("i j -> j i"), "ij->ji");
    }

    #[test]
    fn ids_are_dense_in_order_of_first_appearance() {
        let expr = parse("ba,ac->bc").unwrap().lower();
        assert_eq!(expr.labels(), &['b', 'a', 'c']);
        let ids: Vec<usize> = expr.inputs()[1].ids().iter().map(|id| id.index()).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(
            expr.output()
                .ids()
                .iter()
                .map(|id| id.index())
                .collect::<Vec<_>>(),
            [0, 2]
        );
    }

    #[test]
    fn ellipsis_position_counts_labels_before_it() {
        let expr = parse("a...bc,...->...").unwrap().lower();
        assert_eq!(expr.inputs()[0].ellipsis().unwrap().position, 1);
        assert_eq!(expr.inputs()[1].ellipsis().unwrap().position, 0);
        assert_eq!(expr.output().ellipsis().unwrap().position, 0);
    }

    #[test]
    fn implicit_output_spans_point_at_the_input_label() {
        let expr = parse("ij,jk").unwrap().lower();
        let spans: Vec<_> = expr
            .output()
            .spans()
            .iter()
            .map(|s| (s.start, s.end))
            .collect();
        assert_eq!(spans, [(0, 1), (4, 5)]);
    }
}
