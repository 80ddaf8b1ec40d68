//! Reading the grammar corpus files `grammar/valid.txt` and `grammar/invalid.txt`.
//!
//! Format (see `grammar/README.md`): `#` comments and blank lines are skipped;
//! each line starts with the expression between double quotes (escapes `\\`,
//! `\"`, `\t`, `\n`, `\r`, `\0`, `\u{HEX}`), then for invalid lines the
//! expected error kind and the 0-based character column of the caret, then
//! `# comment`.

use std::path::Path;

/// One line of a corpus file.
#[derive(Debug)]
pub struct Case {
    /// 1-based line number in the file.
    pub line: usize,
    /// The expression, unescaped.
    pub text: String,
    /// Columns after the expression, before the comment.
    pub fields: Vec<String>,
    /// The comment, without `#`.
    pub comment: String,
}

/// Reads a corpus file from the repository's `grammar/` folder.
pub fn read(name: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("grammar")
        .join(name);
    let content = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            let mut case = parse_line(l).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
            case.line = i + 1;
            case
        })
        .collect()
}

/// One line of a shaped corpus (`tests/corpus/*.txt`): subscripts, shapes,
/// any further fields, a comment.
#[derive(Debug)]
pub struct ShapedCase {
    /// 1-based line number.
    pub line: usize,
    /// The subscripts.
    pub text: String,
    /// One shape per operand.
    pub shapes: Vec<Vec<usize>>,
    /// Fields after the shapes (an expected error kind).
    pub fields: Vec<String>,
    /// The comment, without `#`.
    pub comment: String,
}

/// Reads `tests/corpus/<name>`: `<subscripts>  <shape>...  [fields]  # comment`,
/// where a shape is `3x4x5`, `7` or `scalar`, and fields start with a letter.
pub fn read_shaped(name: &str) -> Vec<ShapedCase> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let content = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut cases = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (body, comment) = line.split_once('#').unwrap_or((line, ""));
        let mut words = body.split_whitespace();
        let text = words
            .next()
            .unwrap_or_else(|| panic!("{name}:{line_no}: no subscripts"))
            .to_owned();
        let mut shapes = Vec::new();
        let mut fields = Vec::new();
        for word in words {
            if word == "scalar" {
                shapes.push(Vec::new());
            } else if word.starts_with(|c: char| c.is_ascii_digit()) {
                let shape = word
                    .split('x')
                    .map(|d| {
                        d.parse()
                            .unwrap_or_else(|_| panic!("{name}:{line_no}: bad shape {word}"))
                    })
                    .collect();
                shapes.push(shape);
            } else {
                fields.push(word.to_owned());
            }
        }
        cases.push(ShapedCase {
            line: line_no,
            text,
            shapes,
            fields,
            comment: comment.trim().to_owned(),
        });
    }
    cases
}

fn parse_line(line: &str) -> Result<Case, String> {
    let rest = line
        .strip_prefix('"')
        .ok_or("a case starts with a double-quoted expression")?;
    let mut text = String::new();
    let mut chars = rest.char_indices();
    let after = loop {
        let (at, ch) = chars.next().ok_or("unterminated expression")?;
        match ch {
            '"' => break &rest[at + 1..],
            '\\' => {
                let (_, esc) = chars.next().ok_or("dangling backslash")?;
                text.push(match esc {
                    '\\' => '\\',
                    '"' => '"',
                    't' => '\t',
                    'n' => '\n',
                    'r' => '\r',
                    '0' => '\0',
                    'u' => {
                        let hex: String = chars
                            .by_ref()
                            .map(|(_, c)| c)
                            .skip_while(|&c| c == '{')
                            .take_while(|&c| c != '}')
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        char::from_u32(code).ok_or("not a char")?
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                });
            }
            ch => text.push(ch),
        }
    };
    let (fields, comment) = match after.split_once('#') {
        Some((fields, comment)) => (fields, comment.trim()),
        None => (after, ""),
    };
    Ok(Case {
        line: 0,
        text,
        fields: fields.split_whitespace().map(str::to_owned).collect(),
        comment: comment.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_and_splits() {
        let case = parse_line(r#""i\tj\u{a0}\"\\"  DotStray  3  # a comment"#).unwrap();
        assert_eq!(case.text, "i\tj\u{a0}\"\\");
        assert_eq!(case.fields, ["DotStray", "3"]);
        assert_eq!(case.comment, "a comment");
    }
}
