//! The parser: text to [`Subscripts`], every rejection a typed [`ParseError`].
//!
//! nom does the tokenising; nothing of nom's leaves this file. The grammar
//! (see `grammar/subscripts.ebnf`) is small enough that the tokens never fail
//! softly: a term takes as many labels and ellipses as it finds, and whatever
//! stops it is classified here into the error the user needs.

use std::sync::Arc;

use nom::bytes::complete::{tag, take_while};
use nom::character::complete::{char, satisfy};
use nom::combinator::{cut, opt};
use nom::multi::{many0, separated_list1};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::Span;
use crate::ast::{Item, Output, Subscripts, Term};
use crate::error::{ParseError, ParseErrorKind};
use crate::label::{LabelSet, is_label};

/// Parses a subscripts string such as `"ij,jk->ik"` into its syntax tree.
///
/// Accepts exactly numpy's language (letters `a-zA-Z`, `...`, `,`, `->`,
/// spaces between tokens) plus, as an extension, any other Unicode alphabetic
/// character as a label. The output, when given, is checked here: each label
/// at most once and only labels that appear in some input. Checks that need
/// shapes (operand counts, ranks, sizes) belong to binding.
///
/// Never panics, whatever the input.
///
/// ```
/// let tree = einsum_syntax::parse("ij, jk -> ik").unwrap();
/// assert_eq!(tree.inputs().len(), 2);
/// assert_eq!(tree.to_string(), "ij,jk->ik");
/// ```
pub fn parse(text: &str) -> Result<Subscripts, ParseError> {
    let failure = match subscripts(text) {
        Ok(tree) => match check_output(&tree) {
            Ok(()) => return Ok(tree),
            Err(failure) => failure,
        },
        Err(failure) => failure,
    };
    Err(ParseError::new(
        failure.kind,
        text,
        failure.span,
        failure.secondary,
    ))
}

/// What went wrong inside the parser, before it becomes a [`ParseError`].
#[derive(Debug)]
struct Failure {
    kind: ParseErrorKind,
    span: Span,
    secondary: Option<Span>,
}

impl Failure {
    fn new(kind: ParseErrorKind, span: Span) -> Self {
        Failure {
            kind,
            span,
            secondary: None,
        }
    }
}

/// nom's error type for our parsers: either nom's own soft error (which never
/// escapes `subscripts`) or a committed [`Failure`] of ours.
#[derive(Debug)]
enum NomError {
    Nom,
    Ours(Failure),
}

impl<I> nom::error::ParseError<I> for NomError {
    fn from_error_kind(_: I, _: nom::error::ErrorKind) -> Self {
        NomError::Nom
    }
    fn append(_: I, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, NomError>;

/// Byte offset of `rest` in `full` (`rest` is always a suffix of `full`).
fn offset(full: &str, rest: &str) -> usize {
    full.len() - rest.len()
}

fn subscripts(text: &str) -> Result<Subscripts, Failure> {
    let full = text;
    let arrow = |i| {
        let (rest, _) = tag("->").parse(i)?;
        Ok((rest, Span::new(offset(full, i), offset(full, rest))))
    };
    let parsed: Res<'_, _> = (
        separated_list1(char(','), |i| term(full, i)),
        opt((arrow, cut(|i| term(full, i)))),
    )
        .parse(text);
    let (rest, (inputs, output)) = match parsed {
        Ok(ok) => ok,
        Err(
            nom::Err::Failure(NomError::Ours(failure)) | nom::Err::Error(NomError::Ours(failure)),
        ) => {
            return Err(failure);
        }
        // Terms accept any prefix, so nom cannot fail softly here; should it,
        // the first character is as good a place to point as any.
        Err(_) => return Err(unexpected(full, text, None)),
    };
    let output = output.map(|(arrow, term)| Output { arrow, term });
    if !rest.is_empty() {
        return Err(unexpected(full, rest, output.as_ref().map(|o| o.arrow)));
    }
    Ok(Subscripts {
        text: Arc::from(text),
        inputs,
        output,
    })
}

/// Spaces between tokens: only U+0020, as in numpy.
fn spaces(i: &str) -> Res<'_, &str> {
    take_while(|c| c == ' ').parse(i)
}

/// A term: labels and ellipses with spaces between, up to what stops it.
fn term<'a>(full: &'a str, i: &'a str) -> Res<'a, Term> {
    let (rest, items) = many0(preceded(spaces, |i| item(full, i))).parse(i)?;
    let (rest, _) = spaces(rest)?;
    let mut ellipses = items
        .iter()
        .filter(|item| matches!(item, Item::Ellipsis { .. }));
    if let (Some(first), Some(second)) = (ellipses.next(), ellipses.next()) {
        return Err(nom::Err::Failure(NomError::Ours(Failure {
            kind: ParseErrorKind::EllipsisRepeated,
            span: second.span(),
            secondary: Some(first.span()),
        })));
    }
    let span = match (items.first(), items.last()) {
        (Some(first), Some(last)) => Span::new(first.span().start, last.span().end),
        _ => Span::empty(offset(full, rest)),
    };
    Ok((rest, Term { items, span }))
}

fn item<'a>(full: &'a str, i: &'a str) -> Res<'a, Item> {
    let start = offset(full, i);
    if let Ok((rest, _)) = tag::<_, _, NomError>("...").parse(i) {
        let span = Span::new(start, offset(full, rest));
        return Ok((rest, Item::Ellipsis { span }));
    }
    let (rest, label) = satisfy(is_label).parse(i)?;
    let span = Span::new(start, offset(full, rest));
    Ok((rest, Item::Label { label, span }))
}

/// Classifies the character that stopped the parse at `rest` (non-empty).
/// `arrow` is the `->` already seen, if the parse is in the output.
fn unexpected(full: &str, rest: &str, arrow: Option<Span>) -> Failure {
    let at = offset(full, rest);
    let Some(ch) = rest.chars().next() else {
        return Failure::new(ParseErrorKind::CharInvalid { ch: '\0' }, Span::empty(at));
    };
    let one = Span::new(at, at + ch.len_utf8());
    match ch {
        '.' => {
            let dots = rest.bytes().take_while(|&b| b == b'.').count();
            Failure::new(ParseErrorKind::DotStray, Span::new(at, at + dots))
        }
        '-' if rest[1..].starts_with('>') => Failure {
            kind: ParseErrorKind::ArrowRepeated,
            span: Span::new(at, at + 2),
            secondary: arrow,
        },
        '-' => Failure::new(ParseErrorKind::DashDangling, one),
        '>' => Failure::new(ParseErrorKind::GreaterDangling, one),
        ',' if arrow.is_some() => Failure::new(ParseErrorKind::OutputTermsMultiple, one),
        ch => Failure::new(ParseErrorKind::CharInvalid { ch }, one),
    }
}

/// The output's labels: each at most once, each in some input.
fn check_output(tree: &Subscripts) -> Result<(), Failure> {
    let Some(output) = &tree.output else {
        return Ok(());
    };
    let mut in_inputs = LabelSet::default();
    for term in &tree.inputs {
        for (label, _) in term.labels() {
            in_inputs.insert(label);
        }
    }
    let mut seen = LabelSet::default();
    for (label, span) in output.term.labels() {
        if !seen.insert(label) {
            let first = output
                .term
                .labels()
                .find(|&(l, _)| l == label)
                .map(|(_, s)| s);
            return Err(Failure {
                kind: ParseErrorKind::OutputLabelRepeated { label },
                span,
                secondary: first,
            });
        }
        if !in_inputs.contains(label) {
            return Err(Failure::new(
                ParseErrorKind::OutputLabelUnknown { label },
                span,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> ParseErrorKind {
        parse(text).unwrap_err().kind().clone()
    }

    fn span(text: &str) -> (usize, usize) {
        let s = parse(text).unwrap_err().span();
        (s.start, s.end)
    }

    #[test]
    fn accepts_numpy_forms() {
        for text in [
            "ij,jk->ik",
            "ij,jk",
            "ii",
            "ii->i",
            "iii->i",
            "...ij,...jk->...ik",
            "i...j",
            "...",
            "->",
            "",
            ",",
            ",->",
            "i,->i",
            "ij->...ij",
            " i j -> j i ",
            "Aa,aB->AB",
        ] {
            assert!(
                parse(text).is_ok(),
                "{text:?} rejected: {}",
                parse(text).unwrap_err()
            );
        }
    }

    #[test]
    fn accepts_unicode_letters_as_an_extension() {
        let tree = parse("αβ,βγ->αγ").unwrap();
        assert_eq!(tree.to_string(), "αβ,βγ->αγ");
    }

    #[test]
    fn rejects_with_the_right_kind_and_place() {
        use ParseErrorKind::*;
        assert_eq!(kind("ij,j1"), CharInvalid { ch: '1' });
        assert_eq!(span("ij,j1"), (4, 5));
        assert_eq!(kind("i\tj"), CharInvalid { ch: '\t' });
        assert_eq!(kind("i.j"), DotStray);
        assert_eq!(span("ij..k"), (2, 4));
        assert_eq!(kind("...."), DotStray);
        assert_eq!(span("...."), (3, 4));
        assert_eq!(kind("...i...->i"), EllipsisRepeated);
        assert_eq!(span("...i...->i"), (4, 7));
        assert_eq!(kind("ij->i->j"), ArrowRepeated);
        assert_eq!(span("ij->i->j"), (5, 7));
        assert_eq!(kind("ij-i"), DashDangling);
        assert_eq!(kind("ij- >i"), DashDangling);
        assert_eq!(kind("ij>i"), GreaterDangling);
        assert_eq!(kind("ij->i,j"), OutputTermsMultiple);
        assert_eq!(kind("ij->ii"), OutputLabelRepeated { label: 'i' });
        assert_eq!(span("ij->ii"), (5, 6));
        assert_eq!(kind("ij->k"), OutputLabelUnknown { label: 'k' });
    }

    #[test]
    fn secondary_spans_point_at_the_first_occurrence() {
        let err = parse("ab->b a b").unwrap_err();
        assert_eq!(err.secondary(), Some(Span::new(4, 5)));
        let err = parse("ij->i->j").unwrap_err();
        assert_eq!(err.secondary(), Some(Span::new(2, 4)));
    }

    #[test]
    fn spans_index_the_original_text() {
        let tree = parse(" ij , ...k ->k").unwrap();
        assert_eq!(tree.inputs()[0].span(), Span::new(1, 3));
        assert_eq!(tree.inputs()[1].ellipsis(), Some(Span::new(6, 9)));
        assert_eq!(tree.output().unwrap().arrow(), Span::new(11, 13));
        assert_eq!(tree.inputs()[1].span(), Span::new(6, 10));
    }

    #[test]
    fn empty_terms_get_empty_spans_where_they_stand() {
        let tree = parse("i, ->i").unwrap();
        assert_eq!(tree.inputs()[1].span(), Span::empty(3));
    }
}
