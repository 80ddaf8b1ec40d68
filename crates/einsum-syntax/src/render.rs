//! Rendering a message with the subscripts text and a caret line under spans.
//!
//! Every stage renders its errors through [`write_diagnostic`], so all of them
//! look alike:
//!
//! ```text
//! error: label 'j' has size 3 in operand 0 but size 4 in operand 1
//!   ij,jk->ik
//!    ^  ^
//! ```

use std::fmt::{self, Display, Write};

use unicode_width::UnicodeWidthChar;

use crate::Span;

/// Whether `ch` would not show as itself in a terminal: control characters,
/// whitespace other than `' '`, zero-width and bidi format characters, and
/// combining marks (which would fuse with the character before them).
fn invisible(ch: char) -> bool {
    ch.is_control()
        || ch.is_whitespace()
        || ch.width().is_none_or(|w| w == 0)
        || matches!(ch,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Writes `error: {message}`, then the text indented by two spaces, then a
/// line of carets under each span.
///
/// Control characters, whitespace other than `' '`, invisible format
/// characters and combining marks are shown escaped (a tab as `\t`) so the
/// caret line stays aligned and on one line. Columns count display cells,
/// not bytes or characters: a CJK label is two cells wide and gets two
/// carets. A span that covers nothing (a missing output, an empty term)
/// still gets one caret. Spans that fall outside the text or off a character
/// boundary are clamped, never a panic.
pub fn write_diagnostic(
    out: &mut dyn Write,
    message: &dyn Display,
    text: &str,
    spans: &[Span],
) -> fmt::Result {
    writeln!(out, "error: {message}")?;
    let mut shown = String::with_capacity(text.len());
    // Display column at each char boundary, indexed by byte offset.
    let mut columns = vec![0usize; text.len() + 1];
    let mut column = 0;
    for (offset, ch) in text.char_indices() {
        columns[offset..offset + ch.len_utf8()].fill(column);
        if ch == ' ' || !invisible(ch) {
            shown.push(ch);
            column += ch.width().unwrap_or(1);
        } else {
            for escaped in ch.escape_default() {
                shown.push(escaped);
                column += 1;
            }
        }
    }
    columns[text.len()] = column;

    write!(out, "  {shown}")?;
    if spans.is_empty() {
        return Ok(());
    }
    let mut carets: Vec<u8> = Vec::new();
    for span in spans {
        let start = columns[span.start.min(text.len())];
        let end = columns[span.end.min(text.len())].max(start + 1);
        if carets.len() < end {
            carets.resize(end, b' ');
        }
        carets[start..end].fill(b'^');
    }
    out.write_str("\n  ")?;
    // Only ' ' and '^' were written, so the bytes are ASCII.
    out.write_str(std::str::from_utf8(&carets).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, spans: &[Span]) -> String {
        let mut out = String::new();
        write_diagnostic(&mut out, &"msg", text, spans).unwrap();
        out
    }

    #[test]
    fn carets_under_each_span() {
        assert_eq!(
            render("ij,jk->ik", &[Span::new(1, 2), Span::new(3, 4)]),
            "error: msg\n  ij,jk->ik\n   ^ ^"
        );
    }

    #[test]
    fn empty_span_at_end_gets_one_caret() {
        assert_eq!(render("ij", &[Span::empty(2)]), "error: msg\n  ij\n    ^");
    }

    #[test]
    fn tabs_are_escaped_and_columns_follow() {
        assert_eq!(
            render("i\tj#", &[Span::new(3, 4)]),
            "error: msg\n  i\\tj#\n      ^"
        );
    }

    #[test]
    fn invisible_characters_are_escaped() {
        assert_eq!(
            render("i\u{301}\u{feff}", &[Span::new(1, 3)]),
            "error: msg\n  i\\u{301}\\u{feff}\n   ^^^^^^^"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        // 'α' is two bytes but one column.
        assert_eq!(
            render("αβ#", &[Span::new(4, 5)]),
            "error: msg\n  αβ#\n    ^"
        );
    }

    #[test]
    fn columns_count_display_cells() {
        // CJK characters take two cells in a terminal: the carets under 'i'
        // stand four cells in, and a wide label gets two carets.
        assert_eq!(
            render("漢字ij,jk->ik", &[Span::new(6, 7)]),
            "error: msg\n  漢字ij,jk->ik\n      ^"
        );
        assert_eq!(
            render("i漢#", &[Span::new(1, 4)]),
            "error: msg\n  i漢#\n   ^^"
        );
    }

    #[test]
    fn out_of_range_spans_are_clamped() {
        assert_eq!(render("ij", &[Span::new(7, 9)]), "error: msg\n  ij\n    ^");
    }
}
