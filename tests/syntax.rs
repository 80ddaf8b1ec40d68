//! The subscript language against its corpus (`grammar/*.txt`) and random input.

mod support;

use einsum::syntax::{Item, ParseErrorKind, Subscripts, parse};
use proptest::prelude::*;
use support::corpus;

#[test]
fn every_valid_line_parses_round_trips_and_lowers() {
    let cases = corpus::read("valid.txt");
    assert!(
        cases.len() >= 80,
        "valid.txt has only {} cases",
        cases.len()
    );
    let mut report = String::new();
    for case in &cases {
        let tree =
            parse(&case.text).unwrap_or_else(|e| panic!("valid.txt:{} rejected:\n{e}", case.line));
        let printed = tree.to_string();
        let again = parse(&printed)
            .unwrap_or_else(|e| panic!("valid.txt:{}: canonical text rejected:\n{e}", case.line));
        assert_eq!(
            again, tree,
            "valid.txt:{}: round trip changed the tree",
            case.line
        );
        assert_eq!(
            again.to_string(),
            printed,
            "valid.txt:{}: printing not idempotent",
            case.line
        );
        report.push_str(&format!(
            "{:?}\n  canonical {printed}\n  lowered   {}\n",
            case.text,
            tree.lower()
        ));
    }
    insta::assert_snapshot!("valid_corpus", report);
}

#[test]
fn every_invalid_line_fails_with_its_kind_at_its_column() {
    let cases = corpus::read("invalid.txt");
    assert!(
        cases.len() >= 60,
        "invalid.txt has only {} cases",
        cases.len()
    );
    let mut report = String::new();
    for case in &cases {
        let [kind, column] = case.fields.as_slice() else {
            panic!(
                "invalid.txt:{}: expected `\"expr\"  Kind  column`",
                case.line
            );
        };
        let err = match parse(&case.text) {
            Ok(tree) => panic!("invalid.txt:{}: accepted as {tree}", case.line),
            Err(err) => err,
        };
        assert_eq!(
            &support::variant_name(err.kind()),
            kind,
            "invalid.txt:{}:\n{err}",
            case.line
        );
        let char_column = case.text[..err.span().start].chars().count();
        assert_eq!(
            char_column.to_string(),
            *column,
            "invalid.txt:{}: caret column\n{err}",
            case.line
        );
        report.push_str(&format!("{:?}\n{err}\n\n", case.text));
    }
    insta::assert_snapshot!("invalid_corpus", report);
}

#[test]
fn every_error_kind_is_in_the_corpus() {
    let cases = corpus::read("invalid.txt");
    let kinds = [
        ParseErrorKind::CharInvalid { ch: 'x' },
        ParseErrorKind::DotStray,
        ParseErrorKind::EllipsisRepeated,
        ParseErrorKind::ArrowRepeated,
        ParseErrorKind::DashDangling,
        ParseErrorKind::GreaterDangling,
        ParseErrorKind::OutputTermsMultiple,
        ParseErrorKind::OutputLabelRepeated { label: 'x' },
        ParseErrorKind::OutputLabelUnknown { label: 'x' },
    ];
    for kind in kinds {
        let name = support::variant_name(&kind);
        let count = cases
            .iter()
            .filter(|c| c.fields.first() == Some(&name))
            .count();
        assert!(
            count >= 2,
            "{name} has {count} corpus lines; want at least 2"
        );
    }
}

/// A valid expression built by construction, and the tree it must parse to.
fn valid_expression() -> impl Strategy<Value = (String, Vec<Vec<char>>, Option<Vec<char>>)> {
    // '.' stands for an ellipsis in the generated terms.
    let label = prop::sample::select(vec!['a', 'b', 'c', 'd', 'i', 'j', 'A', 'Z', 'α', 'ж', '.']);
    let term = prop::collection::vec(label, 0..6).prop_map(|mut items| {
        // At most one ellipsis per term: keep the first.
        let mut seen = false;
        items.retain(|&c| c != '.' || !std::mem::replace(&mut seen, true));
        items
    });
    let inputs = prop::collection::vec(term, 1..5);
    (
        inputs,
        any::<bool>(),
        any::<u64>(),
        prop::collection::vec(0usize..3, 64),
    )
        .prop_map(|(inputs, explicit, pick, spaces)| {
            let mut pool: Vec<char> = inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&c| c != '.')
                .collect();
            pool.sort_unstable();
            pool.dedup();
            let output = explicit.then(|| {
                let mut out: Vec<char> = pool
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| pick >> (i % 64) & 1 == 1)
                    .map(|(_, &c)| c)
                    .collect();
                if pick & (1 << 63) != 0 {
                    out.insert(out.len() / 2, '.');
                }
                out
            });
            // Render with random runs of spaces between tokens.
            let mut gap = spaces.into_iter().cycle();
            let mut text = String::new();
            let mut pad =
                |text: &mut String| text.extend(std::iter::repeat_n(' ', gap.next().unwrap_or(0)));
            for (i, term) in inputs.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                for &c in term {
                    pad(&mut text);
                    push_item(&mut text, c);
                }
                pad(&mut text);
            }
            if let Some(out) = &output {
                text.push_str("->");
                for &c in out {
                    pad(&mut text);
                    push_item(&mut text, c);
                }
                pad(&mut text);
            }
            (text, inputs, output)
        })
}

/// Writes a generated item: '.' stands for an ellipsis.
fn push_item(text: &mut String, c: char) {
    if c == '.' {
        text.push_str("...");
    } else {
        text.push(c);
    }
}

fn items_as_chars(tree: &Subscripts) -> (Vec<Vec<char>>, Option<Vec<char>>) {
    let chars = |items: &[Item]| {
        items
            .iter()
            .map(|item| match *item {
                Item::Label { label, .. } => label,
                Item::Ellipsis { .. } => '.',
            })
            .collect::<Vec<_>>()
    };
    (
        tree.inputs().iter().map(|t| chars(t.items())).collect(),
        tree.output().map(|o| chars(o.term().items())),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        if let Err(err) = parse(&text) {
            let span = err.span();
            prop_assert!(span.start <= span.end && span.end <= text.len());
            let _ = err.to_string();
        }
    }

    #[test]
    fn token_soup_never_panics(text in "[ij.,\\->> \tαA1]{0,24}") {
        match parse(&text) {
            Ok(tree) => {
                let again = parse(&tree.to_string()).expect("canonical text parses");
                prop_assert_eq!(again, tree);
            }
            Err(err) => {
                prop_assert!(err.span().end <= text.len());
                let _ = err.to_string();
            }
        }
    }

    #[test]
    fn valid_expressions_parse_to_what_was_built((text, inputs, output) in valid_expression()) {
        let tree = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(items_as_chars(&tree), (inputs, output));
        let printed = tree.to_string();
        let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&again, &tree);
        prop_assert_eq!(again.to_string(), printed);
        // Lowering resolves implicit mode; its explicit text means the same.
        let lowered = tree.lower();
        let relowered = parse(&lowered.to_string()).map_err(|e| TestCaseError::fail(format!("{e}")))?.lower();
        prop_assert_eq!(relowered.to_string(), lowered.to_string());
    }
}
