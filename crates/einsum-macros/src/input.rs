//! The macros' arguments: the subscripts literal, the operands, the
//! settings after a `;` and, for the `_into` forms, the output.

use syn::parse::{Parse, ParseStream};
use syn::{BinOp, Expr, ExprBinary, ExprLit, Ident, Lit, LitStr, Token};

/// `einsum!("subscripts", a, b, ...)`.
pub(crate) struct Call {
    /// The subscripts literal.
    pub(crate) subscripts: LitStr,
    /// The operand expressions, in order.
    pub(crate) operands: Vec<Expr>,
    /// `; memory_limit = ...`.
    pub(crate) settings: Settings,
}

/// What may follow the operands after a `;`.
#[derive(Default)]
pub(crate) struct Settings {
    /// `memory_limit = expr`: elements (a `usize`), a
    /// `MemoryLimit`, or a string literal such as `"8GiB"` read at compile
    /// time.
    pub(crate) memory_limit: Option<Expr>,
}

/// The setting names, as the error for an unknown one lists them.
const SETTINGS: &str = "memory_limit";

/// `einsum_into!(out, "subscripts", a, ...)` or `einsum_into!(out += "subscripts", a, ...)`.
pub(crate) struct IntoCall {
    /// Where the result goes.
    pub(crate) out: Expr,
    /// Whether the result is added to `out` (`+=`) instead of replacing it.
    pub(crate) add: bool,
    /// The subscripts and operands.
    pub(crate) call: Call,
}

impl Parse for Call {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let subscripts = subscripts(input.parse()?)?;
        let (operands, settings) = operands(input)?;
        Ok(Call {
            subscripts,
            operands,
            settings,
        })
    }
}

impl Parse for IntoCall {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let first: Expr = input.parse()?;
        let (out, add, subscripts) = match first {
            // `out += "ij,jk->ik"` parses as one compound-assignment expression.
            Expr::Binary(ExprBinary {
                left,
                op: BinOp::AddAssign(_),
                right,
                ..
            }) => (*left, true, subscripts(*right)?),
            out => {
                input.parse::<Token![,]>()?;
                (out, false, subscripts(input.parse()?)?)
            }
        };
        let (operands, settings) = operands(input)?;
        Ok(IntoCall {
            out,
            add,
            call: Call {
                subscripts,
                operands,
                settings,
            },
        })
    }
}

/// The subscripts must be a string literal: that is what can be checked at
/// compile time.
fn subscripts(expr: Expr) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        // A literal passed through a `macro_rules!` fragment arrives wrapped
        // in an invisible group.
        Expr::Group(group) => subscripts(*group.expr),
        other => Err(syn::Error::new_spanned(
            other,
            "the subscripts must be a string literal, so they can be checked at compile time; \
             for subscripts known only at run time, use `einsum::einsum` or `einsum::Einsum`",
        )),
    }
}

/// `, a, b, ...` (trailing comma allowed), then optionally `; name = value, ...`.
fn operands(input: ParseStream<'_>) -> syn::Result<(Vec<Expr>, Settings)> {
    let mut operands = Vec::new();
    while !input.is_empty() && !input.peek(Token![;]) {
        input.parse::<Token![,]>()?;
        if input.is_empty() || input.peek(Token![;]) {
            break;
        }
        operands.push(input.parse()?);
    }
    let mut settings = Settings::default();
    if input.parse::<Option<Token![;]>>()?.is_some() {
        while !input.is_empty() {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            let slot = match name.to_string().as_str() {
                "memory_limit" => &mut settings.memory_limit,
                other => {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("unknown setting '{other}': the settings are {SETTINGS}"),
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(syn::Error::new(
                    name.span(),
                    format!("'{name}' is set twice"),
                ));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
    }
    Ok((operands, settings))
}
