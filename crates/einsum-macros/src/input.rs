//! The macros' arguments: the subscripts literal, the operands and, for the
//! `_into` forms, the output.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{BinOp, Expr, ExprBinary, ExprLit, Lit, LitStr, Token};

/// `einsum!("subscripts", a, b, ...)`.
pub(crate) struct Call {
    /// The subscripts literal.
    pub(crate) subscripts: LitStr,
    /// The operand expressions, in order.
    pub(crate) operands: Vec<Expr>,
}

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
        let operands = operands(input)?;
        Ok(Call {
            subscripts,
            operands,
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
        let operands = operands(input)?;
        Ok(IntoCall {
            out,
            add,
            call: Call {
                subscripts,
                operands,
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

/// `, a, b, ...` (trailing comma allowed).
fn operands(input: ParseStream<'_>) -> syn::Result<Vec<Expr>> {
    if input.is_empty() {
        return Ok(Vec::new());
    }
    input.parse::<Token![,]>()?;
    let list = Punctuated::<Expr, Token![,]>::parse_terminated(input)?;
    Ok(list.into_iter().collect())
}
