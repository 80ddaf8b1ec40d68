//! The printer: a tree back to canonical text.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{Item, Subscripts, Term};

impl Display for Subscripts {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, term) in self.inputs.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            term.fmt(f)?;
        }
        if let Some(output) = &self.output {
            f.write_str("->")?;
            output.term.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.items.iter().try_for_each(|item| item.fmt(f))
    }
}

impl Display for Item {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Item::Label { label, .. } => f.write_char(label),
            Item::Ellipsis { .. } => f.write_str("..."),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn canonical_text_drops_whitespace_and_keeps_mode() {
        let cases = [
            (" i j , j k -> i k ", "ij,jk->ik"),
            ("ij,jk", "ij,jk"),
            ("... ij", "...ij"),
            ("->", "->"),
            ("", ""),
            (" , ", ","),
            ("a...b->...", "a...b->..."),
        ];
        for (text, canonical) in cases {
            assert_eq!(parse(text).unwrap().to_string(), canonical, "{text:?}");
        }
    }
}
