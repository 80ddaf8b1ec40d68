//! Fuzz target for `einsum_syntax::parse`.
//!
//! For every valid UTF-8 input:
//! - `Ok(tree)`: the canonical text re-parses to an equal tree, printing is
//!   idempotent, `lower()` does not panic and its `Display` re-parses;
//! - `Err(err)`: rendering the error does not panic and its span lies within
//!   the text.
//!
//! Any panic inside the parser itself is a finding too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match einsum_syntax::parse(text) {
        Ok(tree) => {
            let printed = tree.to_string();
            let reparsed = einsum_syntax::parse(&printed).unwrap_or_else(|err| {
                panic!("canonical text {printed:?} of {text:?} does not re-parse:\n{err}")
            });
            assert_eq!(
                reparsed, tree,
                "canonical text {printed:?} of {text:?} re-parses to a different tree"
            );
            let reprinted = reparsed.to_string();
            assert_eq!(
                reprinted, printed,
                "printing is not idempotent for {text:?}"
            );

            let expr = tree.lower();
            let lowered = expr.to_string();
            if let Err(err) = einsum_syntax::parse(&lowered) {
                panic!("lowered form {lowered:?} of {text:?} does not re-parse:\n{err}");
            }
        }
        Err(err) => {
            let _rendered = err.to_string();
            let span = err.span();
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "error span {span:?} out of bounds for {text:?} (len {})",
                text.len()
            );
        }
    }
});
