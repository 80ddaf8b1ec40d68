//! The Python literal a `.npy` header holds, read the way numpy reads it.
//!
//! numpy evaluates the header with Python's `ast.literal_eval`, so a header
//! is any Python literal expression, not just the dict numpy writes. This
//! is a tokenizer and recursive-descent parser for the part of Python's
//! grammar a header can use, with Python's rules where they decide what is
//! accepted: quotes, string prefixes and implicit concatenation; integers in
//! every base, with underscores, no leading zeros; the `L` suffix numpy still
//! strips from format 1.0 and 2.0 headers written by Python 2; signs;
//! comments, line continuations and blank lines; the indentation of the
//! first line; 200 levels of brackets, the tokenizer's limit.
//!
//! Values that can never make a valid header are still parsed (floats,
//! complex numbers, bytes, lists, sets, nested dicts, `None`, `...`),
//! because a later duplicate key may replace them and numpy then accepts
//! the file. What is knowingly left out, each rejected although Python
//! accepts it: escape sequences in strings (a backslash in any string,
//! except before a line end, which joins the lines), `set()` spelled with
//! brackets around `set`. No valid dtype or key needs either. Nor does any
//! header numpy writes use the fallback described at [`parse`], whose
//! contrived layouts we may refuse where numpy does not.

use std::cell::Cell;
use std::fmt::Write as _;

/// A Python literal value, as far as a header needs to tell values apart.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Bytes,
    /// An integer, saturated to the `i128` range (Python's are unbounded;
    /// any beyond `i64` is rejected as a dimension anyway).
    Int(i128),
    Float,
    Complex,
    Bool(bool),
    None,
    Ellipsis,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Set,
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
    /// Python's name for the value's type, for error messages.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Literal::Str(_) => "a string",
            Literal::Bytes => "bytes",
            Literal::Int(_) => "an integer",
            Literal::Float => "a float",
            Literal::Complex => "a complex number",
            Literal::Bool(_) => "a bool",
            Literal::None => "None",
            Literal::Ellipsis => "an ellipsis",
            Literal::Tuple(_) => "a tuple",
            Literal::List(_) => "a list",
            Literal::Set => "a set",
            Literal::Dict(_) => "a dict",
        }
    }

    /// Whether Python can hash the value: a set element or dict key that
    /// cannot be hashed is a `TypeError` inside `literal_eval`.
    fn hashable(&self) -> bool {
        match self {
            Literal::Tuple(items) => items.iter().all(Literal::hashable),
            Literal::List(_) | Literal::Set | Literal::Dict(_) => false,
            _ => true,
        }
    }
}

/// Python's tokenizer refuses brackets nested deeper than this.
const MAX_NESTING: usize = 200;

/// Parses a whole header: one literal, with the blank lines, comments and
/// indentation Python allows around it.
///
/// `legacy` is true for format versions 1.0 and 2.0. When Python refuses
/// such a header, numpy tries again on the header rebuilt from the tokens of
/// Python's `tokenize` module without the `L` suffixes Python 2 wrote
/// (`(2L, 3L)`). The rebuilt text also loses the spaces before the first
/// token and an unterminated last line of spaces; it differs from the
/// original in other ways too (`tokenize` knows only `\n` as a line end,
/// and rebuilds indentation with spaces), so when the second attempt is
/// needed the text around the value must also be plain: no lone `\r`, and
/// no indentation before a value that starts on a later line. That is
/// stricter than numpy in a few contrived layouts, never looser.
pub(super) fn parse(text: &[char], legacy: bool) -> Result<Literal, String> {
    // Python refuses source with a NUL anywhere, even in a comment.
    if let Some(at) = text.iter().position(|&c| c == '\0') {
        return Err(format!("header has a NUL character at position {at}"));
    }
    let mut parser = Parser {
        lexer: Lexer {
            text,
            pos: 0,
            depth: 0,
            legacy,
            second_attempt: Cell::new(false),
        },
        peeked: None,
    };
    parser.lexer.leading_trivia()?;
    let start = parser.lexer.pos;
    let (value, _) = parser.value()?;
    // From the end of the value's last token: a token peeked after it
    // (looking for a `+` or another string) was not consumed.
    let end = parser.lexer.pos;
    parser.lexer.trailing_trivia()?;
    if parser.lexer.second_attempt.get() {
        let before = text.get(..start).unwrap_or_default();
        let after = text.get(end..).unwrap_or_default();
        let lone_cr = |part: &[char]| {
            part.iter()
                .enumerate()
                .any(|(i, &c)| c == '\r' && part.get(i + 1) != Some(&'\n'))
        };
        let indented = before.contains(&'\n') && matches!(before.last(), Some(' ' | '\t' | '\x0c'));
        if lone_cr(before) || lone_cr(after) || indented {
            return Err(
                "header needs numpy's Python 2 fallback, which cannot read its layout".to_owned(),
            );
        }
    }
    Ok(value)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bracket {
    Paren,
    Square,
    Brace,
}

impl Bracket {
    fn open(self) -> char {
        match self {
            Bracket::Paren => '(',
            Bracket::Square => '[',
            Bracket::Brace => '{',
        }
    }

    fn close(self) -> char {
        match self {
            Bracket::Paren => ')',
            Bracket::Square => ']',
            Bracket::Brace => '}',
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Open(Bracket),
    Close(Bracket),
    Colon,
    Comma,
    Plus,
    Minus,
    Str {
        bytes: bool,
        text: String,
    },
    Int(i128),
    Float,
    Complex,
    Name(String),
    Ellipsis,
    /// The end of the text or, outside brackets, of the logical line.
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Open(b) => format!("'{}'", b.open()),
            Tok::Close(b) => format!("'{}'", b.close()),
            Tok::Colon => "':'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Plus => "'+'".to_owned(),
            Tok::Minus => "'-'".to_owned(),
            Tok::Str { bytes: false, .. } => "a string".to_owned(),
            Tok::Str { bytes: true, .. } => "bytes".to_owned(),
            Tok::Int(_) | Tok::Float | Tok::Complex => "a number".to_owned(),
            Tok::Name(name) => format!("name '{name}'"),
            Tok::Ellipsis => "'...'".to_owned(),
            Tok::End => "end of header".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

struct Lexer<'t> {
    text: &'t [char],
    /// Just after the last token consumed.
    pos: usize,
    /// Brackets open at `pos`.
    depth: usize,
    legacy: bool,
    /// Whether Python's first attempt would fail where numpy's second,
    /// for a legacy header, succeeds (see [`parse`]).
    second_attempt: Cell<bool>,
}

fn is_newline(c: Option<char>) -> bool {
    matches!(c, Some('\n' | '\r'))
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.text.get(i).copied()
    }

    /// The position after the newline at `i` (`\r\n` counts as one).
    fn after_newline(&self, i: usize) -> usize {
        if self.at(i) == Some('\r') && self.at(i + 1) == Some('\n') {
            i + 2
        } else {
            i + 1
        }
    }

    /// The position of the line end (or text end) of a comment at `i`.
    fn comment_end(&self, mut i: usize) -> usize {
        while let Some(c) = self.at(i) {
            if c == '\n' || c == '\r' {
                break;
            }
            i += 1;
        }
        i
    }

    /// Before the value: `literal_eval` strips leading spaces and tabs;
    /// blank and comment-only lines follow, then the value's line, which
    /// must not be indented (a form feed resets the column, and a line that
    /// is only a continuation carries its column over, as in CPython's
    /// tokenizer).
    fn leading_trivia(&mut self) -> Result<(), String> {
        let mut i = 0;
        while matches!(self.at(i), Some(' ' | '\t')) {
            i += 1;
        }
        let mut first_line = true;
        let mut column = 0usize;
        // The column as Python's first attempt sees it.
        let mut first_column = 0usize;
        loop {
            match self.at(i) {
                Some(c @ (' ' | '\t' | '\x0c')) => {
                    // numpy's second attempt at a legacy header rebuilds
                    // the source from tokens, dropping the spaces before
                    // the first token of the first line.
                    if !(self.legacy && first_line) {
                        column = indent(column, c);
                    }
                    first_column = indent(first_column, c);
                }
                Some('\\') if is_newline(self.at(i + 1)) => {
                    i = self.after_newline(i + 1);
                    first_line = false;
                    continue;
                }
                Some('#') => {
                    i = self.comment_end(i);
                    continue;
                }
                Some('\n' | '\r') => {
                    i = self.after_newline(i);
                    column = 0;
                    first_column = 0;
                    first_line = false;
                    continue;
                }
                None => return Err("header is empty".to_owned()),
                Some(_) if column != 0 => {
                    return Err(format!("header is indented at position {i}"));
                }
                Some(_) => {
                    if first_column != 0 {
                        self.second_attempt.set(true);
                    }
                    self.pos = i;
                    return Ok(());
                }
            }
            i += 1;
        }
    }

    /// After the value: the rest of its line (spaces, a comment,
    /// continuations that are not the last thing in the text), then blank
    /// and comment-only lines. The last line, if it has no line end, must
    /// not be indented: CPython takes it for the start of a statement.
    fn trailing_trivia(&mut self) -> Result<(), String> {
        let mut i = self.pos;
        let unexpected = |i: usize, c: char| {
            Err(format!(
                "unexpected '{}' after the header's value at position {i}",
                c.escape_debug()
            ))
        };
        let end_continued = "header ends with a line continuation".to_owned();
        // The value's line.
        loop {
            match self.at(i) {
                None => return Ok(()),
                Some(' ' | '\t' | '\x0c') => i += 1,
                Some('#') => i = self.comment_end(i),
                Some('\\') if is_newline(self.at(i + 1)) => {
                    i = self.after_newline(i + 1);
                    if self.at(i).is_none() {
                        return Err(end_continued);
                    }
                }
                Some('\n' | '\r') => {
                    i = self.after_newline(i);
                    break;
                }
                Some(c) => return unexpected(i, c),
            }
        }
        // Blank and comment-only lines.
        let mut column = 0usize;
        // Whether the last line break was a `\n` (or `\r\n`), the only one
        // the tokenizer of numpy's second attempt knows.
        let mut line_feed = self.at(i.wrapping_sub(1)) == Some('\n');
        loop {
            match self.at(i) {
                None if column == 0 => return Ok(()),
                // numpy's second attempt at a 1.0/2.0 header drops an
                // unterminated last line of spaces after a line feed.
                None if self.legacy && line_feed => {
                    self.second_attempt.set(true);
                    return Ok(());
                }
                None => return Err("header ends with an indented line".to_owned()),
                Some(c @ (' ' | '\t' | '\x0c')) => column = indent(column, c),
                Some('\\') if is_newline(self.at(i + 1)) => {
                    i = self.after_newline(i + 1);
                    if self.at(i).is_none() {
                        return Err(end_continued);
                    }
                    line_feed = false;
                    continue;
                }
                Some('#') => {
                    i = self.comment_end(i);
                    column = 0;
                    continue;
                }
                Some('\n' | '\r') => {
                    i = self.after_newline(i);
                    column = 0;
                    line_feed = self.at(i.wrapping_sub(1)) == Some('\n');
                    continue;
                }
                Some(c) => return unexpected(i, c),
            }
            i += 1;
        }
    }

    /// Skips what separates tokens. Inside brackets that is spaces,
    /// newlines, comments and continuations; outside, a newline or comment
    /// ends the logical line, which `Tok::End` reports.
    fn skip(&self, mut i: usize) -> Result<usize, String> {
        loop {
            match self.at(i) {
                Some(' ' | '\t' | '\x0c') => i += 1,
                Some('\\') => {
                    if !is_newline(self.at(i + 1)) {
                        return Err(format!(
                            "a backslash outside a string must end its line (position {i})"
                        ));
                    }
                    i = self.after_newline(i + 1);
                }
                Some('\n' | '\r') if self.depth > 0 => i = self.after_newline(i),
                Some('#') if self.depth > 0 => i = self.comment_end(i),
                _ => return Ok(i),
            }
        }
    }

    /// The token after `self.pos`, without consuming it.
    fn lex(&self) -> Result<Token, String> {
        let start = self.skip(self.pos)?;
        let Some(c) = self.at(start) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                end: start,
            });
        };
        let single = |tok| {
            Ok(Token {
                tok,
                start,
                end: start + 1,
            })
        };
        match c {
            '\n' | '\r' | '#' => Ok(Token {
                tok: Tok::End,
                start,
                end: start,
            }),
            '(' => single(Tok::Open(Bracket::Paren)),
            '[' => single(Tok::Open(Bracket::Square)),
            '{' => single(Tok::Open(Bracket::Brace)),
            ')' => single(Tok::Close(Bracket::Paren)),
            ']' => single(Tok::Close(Bracket::Square)),
            '}' => single(Tok::Close(Bracket::Brace)),
            ':' => single(Tok::Colon),
            ',' => single(Tok::Comma),
            '+' => single(Tok::Plus),
            '-' => single(Tok::Minus),
            '\'' | '"' => self.string(start, start, false, false),
            '.' if self.at(start + 1) == Some('.') && self.at(start + 2) == Some('.') => {
                Ok(Token {
                    tok: Tok::Ellipsis,
                    start,
                    end: start + 3,
                })
            }
            '.' if self.at(start + 1).is_some_and(|d| d.is_ascii_digit()) => self.number(start),
            '0'..='9' => self.number(start),
            c if is_ident_start(c) => self.name(start),
            c => Err(format!(
                "unexpected '{}' at position {start}",
                c.escape_debug()
            )),
        }
    }

    fn name(&self, start: usize) -> Result<Token, String> {
        let mut end = start;
        while self.at(end).is_some_and(is_ident) {
            end += 1;
        }
        let name: String = self
            .text
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .collect();
        if matches!(self.at(end), Some('\'' | '"')) {
            let prefix = name.to_ascii_lowercase();
            return match prefix.as_str() {
                "u" | "r" => self.string(start, end, prefix == "r", false),
                "b" | "br" | "rb" => self.string(start, end, prefix != "b", true),
                "f" | "fr" | "rf" => {
                    Err(format!("an f-string is not a literal (position {start})"))
                }
                _ => Err(format!(
                    "unexpected string after name '{name}' at position {start}"
                )),
            };
        }
        if self.at(end).is_some_and(|c| !c.is_ascii()) {
            return Err(format!("unexpected name at position {start}"));
        }
        Ok(Token {
            tok: Tok::Name(name),
            start,
            end,
        })
    }

    /// A string literal whose quote is at `quote` (after any prefix).
    fn string(&self, start: usize, quote: usize, raw: bool, bytes: bool) -> Result<Token, String> {
        let q = self.at(quote).unwrap_or('\'');
        let triple = self.at(quote + 1) == Some(q) && self.at(quote + 2) == Some(q);
        let mut i = quote + if triple { 3 } else { 1 };
        let mut text = String::new();
        loop {
            let Some(c) = self.at(i) else {
                return Err(format!("unterminated string at position {start}"));
            };
            if c == q {
                if !triple {
                    i += 1;
                    break;
                }
                if self.at(i + 1) == Some(q) && self.at(i + 2) == Some(q) {
                    i += 3;
                    break;
                }
            }
            if c == '\\' && !raw && is_newline(self.at(i + 1)) {
                // A backslash before a line end joins the lines.
                i = self.after_newline(i + 1);
                continue;
            }
            if c == '\\' {
                // Not decoded: no key or dtype needs one (see the module
                // docs); in a raw string it would be a literal backslash,
                // which no valid key or dtype holds either, but it changes
                // where the string ends, so it is refused too.
                let kind = if raw {
                    "a backslash"
                } else {
                    "escape sequences"
                };
                return Err(format!(
                    "{kind} in header strings not supported (position {i})"
                ));
            }
            if bytes && !c.is_ascii() {
                return Err(format!(
                    "bytes can only hold ASCII characters (position {i})"
                ));
            }
            if c == '\n' || c == '\r' {
                if !triple {
                    return Err(format!("unterminated string at position {start}"));
                }
                // Python reads any line end in source as '\n'.
                text.push('\n');
                i = self.after_newline(i);
                continue;
            }
            text.push(c);
            i += 1;
        }
        Ok(Token {
            tok: Tok::Str { bytes, text },
            start,
            end: i,
        })
    }

    /// A run of digits in `radix` with single underscores between them;
    /// returns the end, or `None` when there is not one digit or an
    /// underscore is misplaced.
    fn digits(&self, mut i: usize, radix: u32, value: &mut u128) -> Option<usize> {
        let mut any = false;
        loop {
            match self.at(i) {
                Some('_') if any && self.at(i + 1).is_some_and(|c| c.is_digit(radix)) => i += 1,
                Some(c) if c.is_digit(radix) => {
                    let d = u128::from(c.to_digit(radix).unwrap_or(0));
                    *value = value.saturating_mul(u128::from(radix)).saturating_add(d);
                    any = true;
                    i += 1;
                }
                _ => return any.then_some(i),
            }
        }
    }

    fn number(&self, start: usize) -> Result<Token, String> {
        let bad = || format!("invalid number at position {start}");
        let radix = match (self.at(start), self.at(start + 1)) {
            (Some('0'), Some('x' | 'X')) => Some(16),
            (Some('0'), Some('o' | 'O')) => Some(8),
            (Some('0'), Some('b' | 'B')) => Some(2),
            _ => None,
        };
        let mut value = 0u128;
        let (tok, mut end) = if let Some(radix) = radix {
            // Python allows one underscore right after the base prefix.
            let mut i = start + 2;
            if self.at(i) == Some('_') {
                i += 1;
            }
            let end = self.digits(i, radix, &mut value).ok_or_else(bad)?;
            (Tok::Int(saturate(value)), end)
        } else {
            let mut i = start;
            let mut float = false;
            if self.at(i) != Some('.') {
                i = self.digits(i, 10, &mut value).ok_or_else(bad)?;
            }
            let int_end = i;
            if self.at(i) == Some('.') {
                float = true;
                i += 1;
                if self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                    i = self.digits(i, 10, &mut 0).ok_or_else(bad)?;
                }
            }
            if matches!(self.at(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(self.at(j), Some('+' | '-')) {
                    j += 1;
                }
                if self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                    i = self.digits(j, 10, &mut 0).ok_or_else(bad)?;
                    float = true;
                }
            }
            if matches!(self.at(i), Some('j' | 'J')) {
                (Tok::Complex, i + 1)
            } else if float {
                (Tok::Float, i)
            } else {
                // Leading zeros are a syntax error unless every digit is 0.
                let digits = self.text.get(start..int_end).unwrap_or_default();
                if digits.first() == Some(&'0') && digits.iter().any(|&c| c != '0' && c != '_') {
                    return Err(format!(
                        "leading zeros in an integer are not allowed (position {start})"
                    ));
                }
                (Tok::Int(saturate(value)), i)
            }
        };
        if self.legacy {
            let suffixed = self.skip_long_suffixes(end);
            if suffixed != end {
                self.second_attempt.set(true);
                end = suffixed;
            }
        }
        // Python refuses a number running straight into a name (`2x`).
        if self.at(end).is_some_and(|c| is_ident(c) || !c.is_ascii()) {
            return Err(bad());
        }
        Ok(Token { tok, start, end })
    }

    /// numpy's fallback for Python 2 headers drops every name token `L`
    /// that follows a number with only spaces or continuations between
    /// (a newline or comment token in between stops it).
    fn skip_long_suffixes(&self, mut end: usize) -> usize {
        loop {
            let mut i = end;
            loop {
                match self.at(i) {
                    Some(' ' | '\t' | '\x0c') => i += 1,
                    Some('\\') if is_newline(self.at(i + 1)) => i = self.after_newline(i + 1),
                    _ => break,
                }
            }
            if self.at(i) == Some('L')
                && !self.at(i + 1).is_some_and(|c| is_ident(c) || !c.is_ascii())
            {
                end = i + 1;
            } else {
                return end;
            }
        }
    }
}

/// The column after an indentation character, as CPython counts it: tabs
/// to the next multiple of 8, a form feed back to 0.
fn indent(column: usize, c: char) -> usize {
    match c {
        ' ' => column.saturating_add(1),
        '\t' => (column / 8).saturating_add(1).saturating_mul(8),
        _ => 0,
    }
}

fn saturate(value: u128) -> i128 {
    i128::try_from(value).unwrap_or(i128::MAX)
}

/// What kind of expression produced a value: `literal_eval` accepts a sign
/// only on a bare number, and `+`/`-` only between a real and an
/// imaginary number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Constant,
    Signed,
    Other,
}

struct Parser<'t> {
    lexer: Lexer<'t>,
    peeked: Option<Token>,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Tok, String> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.lex()?);
        }
        match &self.peeked {
            Some(token) => Ok(&token.tok),
            None => Err("internal error: no token".to_owned()),
        }
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lexer.lex()?,
        };
        self.lexer.pos = token.end;
        match token.tok {
            Tok::Open(_) => {
                if self.lexer.depth >= MAX_NESTING {
                    return Err(format!(
                        "brackets nested more than {MAX_NESTING} deep (position {})",
                        token.start
                    ));
                }
                self.lexer.depth += 1;
            }
            Tok::Close(_) => self.lexer.depth = self.lexer.depth.saturating_sub(1),
            _ => {}
        }
        Ok(token)
    }

    fn expect_close(&mut self, bracket: Bracket) -> Result<(), String> {
        let token = self.next()?;
        if token.tok == Tok::Close(bracket) {
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at position {}, found {}",
                bracket.close(),
                token.start,
                token.tok.describe()
            ))
        }
    }

    /// A value, with `literal_eval`'s one binary operation: a real number
    /// plus or minus an imaginary one.
    fn value(&mut self) -> Result<(Literal, Node), String> {
        let left = self.term()?;
        if matches!(self.peek()?, Tok::Plus | Tok::Minus) {
            let op = self.next()?;
            let right = self.term()?;
            let real = matches!(
                left,
                (
                    Literal::Int(_) | Literal::Float,
                    Node::Constant | Node::Signed
                )
            );
            let imaginary = matches!(right, (Literal::Complex, Node::Constant));
            if !(real && imaginary) {
                return Err(format!(
                    "arithmetic is not a literal (position {})",
                    op.start
                ));
            }
            return Ok((Literal::Complex, Node::Other));
        }
        Ok(left)
    }

    /// A value with an optional sign, which applies to a number only.
    fn term(&mut self) -> Result<(Literal, Node), String> {
        if !matches!(self.peek()?, Tok::Plus | Tok::Minus) {
            return self.atom();
        }
        let sign = self.next()?;
        let value = match self.atom()? {
            (Literal::Int(v), Node::Constant) => Literal::Int(if sign.tok == Tok::Minus {
                v.saturating_neg()
            } else {
                v
            }),
            (value @ (Literal::Float | Literal::Complex), Node::Constant) => value,
            _ => {
                return Err(format!(
                    "a sign applies to a number only (position {})",
                    sign.start
                ));
            }
        };
        Ok((value, Node::Signed))
    }

    fn atom(&mut self) -> Result<(Literal, Node), String> {
        let token = self.next()?;
        let value = match token.tok {
            Tok::Str { bytes, mut text } => {
                // Adjacent strings are one literal; bytes and text do not mix.
                while let Tok::Str { bytes: more, .. } = self.peek()? {
                    if *more != bytes {
                        return Err(format!(
                            "bytes and text strings cannot be joined (position {})",
                            token.start
                        ));
                    }
                    if let Tok::Str { text: next, .. } = self.next()?.tok {
                        text.push_str(&next);
                    }
                }
                if bytes {
                    Literal::Bytes
                } else {
                    Literal::Str(text)
                }
            }
            Tok::Int(v) => Literal::Int(v),
            Tok::Float => Literal::Float,
            Tok::Complex => Literal::Complex,
            Tok::Ellipsis => Literal::Ellipsis,
            Tok::Name(name) => match name.as_str() {
                "True" => Literal::Bool(true),
                "False" => Literal::Bool(false),
                "None" => Literal::None,
                // `set()` is how Python writes an empty set.
                "set" if self.peek()? == &Tok::Open(Bracket::Paren) => {
                    self.next()?;
                    self.expect_close(Bracket::Paren)?;
                    return Ok((Literal::Set, Node::Other));
                }
                _ => {
                    return Err(format!(
                        "name '{name}' is not a literal (position {})",
                        token.start
                    ));
                }
            },
            Tok::Open(Bracket::Paren) => return self.paren(),
            Tok::Open(Bracket::Square) => {
                let items = self.items(Bracket::Square, Vec::new())?;
                return Ok((Literal::List(items), Node::Other));
            }
            Tok::Open(Bracket::Brace) => return self.brace(),
            tok => {
                return Err(format!(
                    "unexpected {} at position {}",
                    tok.describe(),
                    token.start
                ));
            }
        };
        Ok((value, Node::Constant))
    }

    /// After `(`: a tuple, or one value in grouping parentheses (which keep
    /// the kind of expression inside).
    fn paren(&mut self) -> Result<(Literal, Node), String> {
        if self.peek()? == &Tok::Close(Bracket::Paren) {
            self.next()?;
            return Ok((Literal::Tuple(Vec::new()), Node::Other));
        }
        let first = self.value()?;
        if self.peek()? == &Tok::Close(Bracket::Paren) {
            self.next()?;
            return Ok(first);
        }
        self.expect_comma()?;
        let items = self.items(Bracket::Paren, vec![first.0])?;
        Ok((Literal::Tuple(items), Node::Other))
    }

    fn expect_comma(&mut self) -> Result<(), String> {
        let token = self.next()?;
        if token.tok == Tok::Comma {
            Ok(())
        } else {
            Err(format!(
                "expected ',' at position {}, found {}",
                token.start,
                token.tok.describe()
            ))
        }
    }

    /// The rest of a comma-separated sequence up to `close`, after `items`
    /// (and their comma, if any): a trailing comma is allowed, an empty
    /// element is not.
    fn items(&mut self, close: Bracket, mut items: Vec<Literal>) -> Result<Vec<Literal>, String> {
        loop {
            if self.peek()? == &Tok::Close(close) {
                self.next()?;
                return Ok(items);
            }
            items.push(self.value()?.0);
            if self.peek()? == &Tok::Close(close) {
                self.next()?;
                return Ok(items);
            }
            self.expect_comma()?;
        }
    }

    /// After `{`: a dict or a set.
    fn brace(&mut self) -> Result<(Literal, Node), String> {
        if self.peek()? == &Tok::Close(Bracket::Brace) {
            self.next()?;
            return Ok((Literal::Dict(Vec::new()), Node::Other));
        }
        let first = self.value()?.0;
        if self.peek()? != &Tok::Colon {
            // A set: every element must be hashable.
            let mut items = vec![first];
            if self.peek()? != &Tok::Close(Bracket::Brace) {
                self.expect_comma()?;
            }
            items = self.items(Bracket::Brace, items)?;
            if !items.iter().all(Literal::hashable) {
                return Err("a set element cannot be hashed".to_owned());
            }
            return Ok((Literal::Set, Node::Other));
        }
        let mut entries = Vec::new();
        let mut key = first;
        loop {
            let colon = self.next()?;
            if colon.tok != Tok::Colon {
                return Err(format!(
                    "expected ':' at position {}, found {}",
                    colon.start,
                    colon.tok.describe()
                ));
            }
            if !key.hashable() {
                return Err(format!(
                    "a dict key cannot be {} (position {})",
                    key.type_name(),
                    colon.start
                ));
            }
            let value = self.value()?.0;
            entries.push((key, value));
            if self.peek()? == &Tok::Close(Bracket::Brace) {
                self.next()?;
                break;
            }
            self.expect_comma()?;
            if self.peek()? == &Tok::Close(Bracket::Brace) {
                self.next()?;
                break;
            }
            key = self.value()?.0;
        }
        Ok((Literal::Dict(entries), Node::Other))
    }
}

/// `text` with control and non-ASCII characters escaped, for messages.
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        if c == '\'' {
            out.push_str("\\'");
        } else if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            let _ = write!(out, "{}", c.escape_unicode());
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<Literal, String> {
        parse(&text.chars().collect::<Vec<_>>(), false)
    }

    fn eval_legacy(text: &str) -> Result<Literal, String> {
        parse(&text.chars().collect::<Vec<_>>(), true)
    }

    #[test]
    fn integers_follow_python() {
        for (text, want) in [
            ("0", 0),
            ("00", 0),
            ("0_0", 0),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("0X1F", 31),
            ("0o17", 15),
            ("0b101", 5),
            ("-0", 0),
            ("+2", 2),
            ("-(3)", -3),
            ("99999999999999999999999999999999999999999999", i128::MAX),
        ] {
            assert_eq!(eval(text), Ok(Literal::Int(want)), "{text}");
        }
        for text in [
            "01", "007", "1_", "1__0", "0x", "0b12", "0o8", "2x", "--1", "-(-1)", "-True", "- 'a'",
            "1+2", "2L",
        ] {
            assert!(eval(text).is_err(), "{text} is accepted");
        }
    }

    #[test]
    fn floats_and_complex_numbers_parse() {
        for text in ["1.5", ".5", "2.", "1e5", "1.5e+3", "01.5", "1_0.5_0e1_0"] {
            assert_eq!(eval(text), Ok(Literal::Float), "{text}");
        }
        for text in ["2j", "09j", "1+2j", "-1-2.5j", "(1)+(2j)", "-2j"] {
            assert_eq!(eval(text), Ok(Literal::Complex), "{text}");
        }
        for text in ["1e", "1._5", "1j+2j", "1+-2j", "1+2j+3j", "(1+2j)+3j"] {
            assert!(eval(text).is_err(), "{text} is accepted");
        }
    }

    #[test]
    fn strings_join_and_keep_their_kind() {
        let s = |t: &str| Ok(Literal::Str(t.to_owned()));
        assert_eq!(eval("'<' \"f\" '8'"), s("<f8"));
        assert_eq!(eval("u'<f8' R''"), s("<f8"));
        assert_eq!(eval("'''<' 'f8'''"), s("<' 'f8"));
        assert_eq!(eval("'''a\r\nb'''"), s("a\nb"));
        assert_eq!(eval("('<'\n 'f8')"), s("<f8"));
        assert_eq!(eval("'<f\\\n8'"), s("<f8"));
        assert_eq!(eval("'''<f\\\r\n8'''"), s("<f8"));
        assert!(eval("r'<f\\\n8'").is_err());
        assert_eq!(eval("b'x' Rb'' bR''"), Ok(Literal::Bytes));
        for text in [
            "b'x' 'y'",
            "f'x'",
            "ur'x'",
            "'\\x3c'",
            "r'\\'",
            "'a\nb'",
            "'abc",
            "b'\u{e9}'",
            "x'a'",
            "('a') 'b'",
        ] {
            assert!(eval(text).is_err(), "{text:?} is accepted");
        }
    }

    #[test]
    fn containers_check_hashability() {
        assert_eq!(eval("{1, (2, 3)}"), Ok(Literal::Set));
        assert_eq!(eval("set ( )"), Ok(Literal::Set));
        assert!(eval("{1: [2], (1, 2): 3,}").is_ok());
        assert_eq!(eval("[1,]"), Ok(Literal::List(vec![Literal::Int(1)])));
        assert_eq!(eval("()"), Ok(Literal::Tuple(Vec::new())));
        assert_eq!(eval("(1)"), Ok(Literal::Int(1)));
        assert_eq!(eval("(1,)"), Ok(Literal::Tuple(vec![Literal::Int(1)])));
        assert_eq!(eval("..."), Ok(Literal::Ellipsis));
        for text in [
            "{[1]: 2}",
            "{(1, [1])}",
            "{,}",
            "{1: 2, 3}",
            "(,)",
            "(1,,)",
            "[,]",
            "{1 2}",
            "(1",
            "(1))",
            "{**{}}",
        ] {
            assert!(eval(text).is_err(), "{text} is accepted");
        }
    }

    #[test]
    fn nesting_stops_at_pythons_limit() {
        let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(eval(&nested(200)), Ok(Literal::Int(1)));
        assert!(eval(&nested(201)).is_err());
        // Deep input is refused without deep recursion.
        assert!(eval(&nested(5000)).is_err());
    }

    #[test]
    fn trivia_around_the_value_follows_python() {
        for text in [
            "  {}",
            "\t{}",
            "\x0c{}",
            " \x0c{}",
            "\t\x0c{}",
            "\n{}",
            "\n\x0c{}",
            "\n \x0c{}",
            "#c\n{}",
            " #c\n{}",
            "\n #c\n{}",
            "\\\n{}",
            "\\\n\\\n{}",
            "\\\n\x0c{}",
            "\r{}",
            "\n\n{}",
            "\n \n{}",
            "{}\n\n  \n",
            "{}  # c",
            "{}\\\n\n",
            "{}\\\n  ",
            "{}\\\n#c",
            "{}\\\n\\\n ",
            "{}\r\n",
            "({}\n)",
            "{\n}",
            "{ # c\n}",
            "{ \\\n}",
        ] {
            assert!(eval(text).is_ok(), "{text:?} is refused: {:?}", eval(text));
        }
        for text in [
            "",
            "  ",
            "#c",
            "\x0c {}",
            "\x0c\t{}",
            "\n {}",
            "\n\t{}",
            "\n\x0c {}",
            "#c\n {}",
            "\\\n {}",
            "\\\n \\\n{}",
            "\\ \n{}",
            "{}\\\n",
            "{}\\",
            "{} \\ \n",
            "{}\n\\\n",
            "{}\n  \\\n ",
            "{};",
            "{}{}",
            "{}\n x",
            "{}\x01",
            "{}\u{a0}",
            "\u{feff}{}",
            "{}\0",
            "{}#\0",
            "{\x0b}",
        ] {
            assert!(eval(text).is_err(), "{text:?} is accepted");
        }
        // numpy's second attempt at a 1.0/2.0 header rebuilds the first
        // line's indentation as spaces.
        assert!(eval_legacy("\x0c {}").is_ok());
        assert!(eval_legacy("\x0c \\\n{}").is_ok());
        assert!(eval_legacy("\n {}").is_err());
        // An unterminated last line must not be indented; numpy's second
        // attempt drops it when a line feed ends the line before.
        for text in ["{}\n ", "{}\n\t", "{}\n  #c\n ", "{}\r\n  "] {
            assert!(eval(text).is_err(), "{text:?} is accepted");
            assert!(eval_legacy(text).is_ok(), "{text:?} is refused");
        }
        for text in [
            "{}\n\x0c",
            "{}\n \x0c",
            "{}\n #c",
            "{}\n \\\n#c",
            "{}\n \\\n \n",
        ] {
            assert!(eval(text).is_ok(), "{text:?} is refused");
        }
        for text in ["{}\n \\\n", "{}\r ", "{}\n \\\n "] {
            assert!(eval(text).is_err(), "{text:?} is accepted");
            assert!(eval_legacy(text).is_err(), "{text:?} is accepted");
        }
    }

    #[test]
    fn legacy_headers_drop_python2_long_suffixes() {
        for text in [
            "(2L,)",
            "(2 L,)",
            "(2L L,)",
            "(2 \\\nL,)",
            "(0x2L,)",
            "(-0L,)",
            "(2L)",
        ] {
            assert!(eval_legacy(text).is_ok(), "{text:?}");
            assert!(eval(text).is_err(), "{text:?}");
        }
        for text in [
            "(2l,)",
            "(2LL,)",
            "(2\nL,)",
            "(2 # c\nL,)",
            "(2,)L",
            "((2)L,)",
            "TrueL",
        ] {
            assert!(eval_legacy(text).is_err(), "{text:?} is accepted");
        }
        // The second attempt's text must be plain around the value (numpy
        // refuses the first two; the third it accepts, we do not).
        for text in ["\r(2L,)", "\n\x0c(2L,)", "(2L,)\r"] {
            assert!(eval_legacy(text).is_err(), "{text:?} is accepted");
        }
        for text in [
            "\\\n(2L,)",
            "#c\n(2L,)",
            "(2L,\r1L)",
            "(2L,)\r\n  ",
            "(2L,)  \\\n  ",
        ] {
            assert!(eval_legacy(text).is_ok(), "{text:?} is refused");
        }
    }
}
