//! The expansion: check the subscripts, then call into the facade's hidden
//! `__private` module with the lowered expression written out as data.

use einsum_plan::MemoryLimit;
use einsum_syntax::{Ellipsis, Expr as Lowered, LabelSeq, Span};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit};

use crate::input::{Call, IntoCall};

/// Whether the expansion panics on a run-time error or returns it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `einsum!`: panic with the rendered error.
    Panic,
    /// `try_einsum!`: a `Result`.
    Return,
}

/// `einsum!` / `try_einsum!`.
pub(crate) fn einsum(call: &Call, failure: Failure) -> TokenStream {
    let (site, lowered) = match site(call) {
        Ok(done) => done,
        Err(error) => return error.to_compile_error(),
    };
    let operands = operand_list(call);
    let limit = match memory_limit(call) {
        Ok(limit) => limit,
        Err(error) => return error.to_compile_error(),
    };
    let result = if lowered.output().ellipsis().is_some() {
        // The rank depends on the operands' ranks: only known at run time.
        quote! { ::einsum::__private::run_dyn(&__EINSUM_SITE, #operands, #limit) }
    } else {
        match lowered.output().len() {
            0 => quote! { ::einsum::__private::run_scalar(&__EINSUM_SITE, #operands, #limit) },
            rank @ 1..=6 => {
                let dim = quote::format_ident!("Ix{}", rank);
                quote! {
                    ::einsum::__private::run_fixed::<_, ::einsum::__private::ndarray::#dim>(
                        &__EINSUM_SITE, #operands, #limit)
                }
            }
            _ => quote! { ::einsum::__private::run_dyn(&__EINSUM_SITE, #operands, #limit) },
        }
    };
    finish(site, result, failure)
}

/// `einsum_into!` / `try_einsum_into!`.
pub(crate) fn einsum_into(call: &IntoCall, failure: Failure) -> TokenStream {
    let (site, _) = match site(&call.call) {
        Ok(done) => done,
        Err(error) => return error.to_compile_error(),
    };
    let operands = operand_list(&call.call);
    let limit = match memory_limit(&call.call) {
        Ok(limit) => limit,
        Err(error) => return error.to_compile_error(),
    };
    let out = &call.out;
    let accum = if call.add {
        quote! { Add }
    } else {
        quote! { Replace }
    };
    // `.view_mut()` borrows an owned array or a `&mut` to one, and reborrows
    // a mutable view, so all three work as the output.
    let out = quote_spanned! {out.span()=> (#out).view_mut() };
    let result = quote! {
        ::einsum::__private::run_into(
            &__EINSUM_SITE, #operands, #out, ::einsum::exec::Accum::#accum, #limit)
    };
    finish(site, result, failure)
}

/// The call site's static: its lowered expression and plan cache.
fn site(call: &Call) -> syn::Result<(TokenStream, Lowered)> {
    let text = call.subscripts.value();
    let lowered = match einsum_syntax::parse(&text) {
        Ok(tree) => tree.lower(),
        Err(error) => {
            return Err(syn::Error::new(
                call.subscripts.span(),
                compile_message(&error.to_string()),
            ));
        }
    };
    let terms = lowered.inputs().len();
    let given = call.operands.len();
    if terms != given {
        // Point at the first operand too many, or at the subscripts when
        // operands are missing.
        let span = call
            .operands
            .get(terms)
            .map_or(call.subscripts.span(), |extra| extra.span());
        // The text and carets the run-time error (binding) would show.
        let terms_list = lowered.inputs();
        let caret = if given > terms {
            Span::empty(terms_list.last().map_or(0, |t| t.span().end))
        } else {
            terms_list[given].span()
        };
        let message = format!(
            "the subscripts have {terms} input term{} but {given} operand{} {} given",
            plural(terms),
            plural(given),
            if given == 1 { "was" } else { "were" },
        );
        let mut rendered = String::new();
        einsum_syntax::write_diagnostic(&mut rendered, &message, &text, &[caret])
            .expect("writing to a String cannot fail");
        return Err(syn::Error::new(span, compile_message(&rendered)));
    }
    let build = build_expr(&lowered);
    let site = quote! {
        static __EINSUM_SITE: ::einsum::__private::Site =
            ::einsum::__private::Site::new(|| #build);
    };
    Ok((site, lowered))
}

/// rustc prints `error: ` itself; the rest is the run-time error's text.
fn compile_message(rendered: &str) -> String {
    rendered
        .strip_prefix("error: ")
        .unwrap_or(rendered)
        .to_owned()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `&[&a, &b]`: every operand borrowed, so owned arrays stay usable and the
/// same array can be passed twice.
fn operand_list(call: &Call) -> TokenStream {
    let operands = call
        .operands
        .iter()
        .map(|op| quote_spanned! {op.span()=> &(#op) });
    quote! { &[#(#operands),*] }
}

/// The `memory_limit` setting as an `Option<MemoryLimit>` expression: a
/// string literal (`"8GiB"`) is read now, so a bad unit is a compile error
/// at the literal; any other expression converts at run time (a `usize` is
/// elements).
fn memory_limit(call: &Call) -> syn::Result<TokenStream> {
    let Some(expr) = &call.settings.memory_limit else {
        return Ok(quote! { ::std::option::Option::None });
    };
    let mut inner = expr;
    while let Expr::Group(group) = inner {
        inner = &group.expr;
    }
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = inner
    {
        let limit = match text.value().parse::<MemoryLimit>() {
            Ok(MemoryLimit::Elements(n)) => quote! { Elements(#n) },
            Ok(MemoryLimit::Bytes(b)) => quote! { Bytes(#b) },
            Err(error) => {
                return Err(syn::Error::new(
                    text.span(),
                    format!("memory_limit: {error}"),
                ));
            }
        };
        return Ok(quote! {
            ::std::option::Option::Some(::einsum::plan::MemoryLimit::#limit)
        });
    }
    Ok(quote_spanned! {expr.span()=> ::einsum::__private::memory_limit(#expr) })
}

fn finish(site: TokenStream, result: TokenStream, failure: Failure) -> TokenStream {
    let result = match failure {
        Failure::Panic => quote! { ::einsum::__private::unwrap(#result) },
        Failure::Return => result,
    };
    quote! {
        {
            #site
            #result
        }
    }
}

/// Code that rebuilds `expr` with `Expr::from_parts`: no parsing at run time.
fn build_expr(expr: &Lowered) -> TokenStream {
    let text = expr.text();
    let labels = expr.labels();
    let inputs = expr.inputs().iter().map(build_seq);
    let output = build_seq(expr.output());
    let implicit = expr.is_implicit();
    quote! {
        ::einsum::__private::expr(#text, &[#(#labels),*], ::std::vec![#(#inputs),*], #output, #implicit)
    }
}

fn build_seq(seq: &LabelSeq) -> TokenStream {
    let ids = seq.ids().iter().map(|id| id.index());
    let spans = seq.spans().iter().map(|&s| span(s));
    let ellipsis = match seq.ellipsis() {
        Some(Ellipsis { position, span: s }) => {
            let s = span(s);
            quote! { ::std::option::Option::Some((#position, #s)) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let whole = span(seq.span());
    quote! {
        ::einsum::__private::seq(&[#(#ids),*], &[#(#spans),*], #ellipsis, #whole)
    }
}

fn span(span: Span) -> TokenStream {
    let (start, end) = (span.start, span.end);
    quote! { (#start, #end) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(tokens: TokenStream) -> String {
        einsum(&syn::parse2(tokens).unwrap(), Failure::Panic).to_string()
    }

    #[test]
    fn output_rank_picks_the_return_type() {
        assert!(expand(quote! { "ij,ij->i", d, d }).contains("Ix1"));
        assert!(expand(quote! { "ij,jk", a, b }).contains("Ix2"));
        assert!(expand(quote! { "i,i->", a, b }).contains("run_scalar"));
        assert!(expand(quote! { "...ij->...", a }).contains("run_dyn"));
        assert!(expand(quote! { "abcdefg->abcdefg", a }).contains("run_dyn"));
    }

    #[test]
    fn operands_are_borrowed() {
        let out = expand(quote! { "ij,ij->i", d, d });
        assert!(out.contains("& [& (d) , & (d)]"), "{out}");
    }

    #[test]
    fn memory_limits_are_read_at_compile_time_when_literal() {
        let out = expand(quote! { "ab,bc->ac", a, b; memory_limit = "1KiB" });
        assert!(out.contains("MemoryLimit :: Bytes (1024u128)"), "{out}");
        let out = expand(quote! { "ab,bc->ac", a, b; memory_limit = "64" });
        assert!(out.contains("MemoryLimit :: Elements (64usize)"), "{out}");
        let out = expand(quote! { "ab,bc->ac", a, b, ; memory_limit = n * 2, });
        assert!(out.contains("memory_limit (n * 2)"), "{out}");
        assert!(out.contains("& [& (a) , & (b)]"), "{out}");
        let out = expand(quote! { "ab,bc->ac", a, b; memory_limit = "8 parsecs" });
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown unit 'parsecs'"), "{out}");
    }

    #[test]
    fn settings_are_checked() {
        let parse = |tokens: TokenStream| syn::parse2::<Call>(tokens).err().map(|e| e.to_string());
        assert_eq!(
            parse(quote! { "ab->", a; limit = 3 }).as_deref(),
            Some("unknown setting 'limit': the settings are memory_limit")
        );
        assert_eq!(
            parse(quote! { "ab->", a; memory_limit = 3, memory_limit = 4 }).as_deref(),
            Some("'memory_limit' is set twice")
        );
        assert!(parse(quote! { "ab->" a }).is_some());
        assert!(parse(quote! { "ab->", a; }).is_none());
    }

    #[test]
    fn errors_carry_the_runtime_text() {
        let out = expand(quote! { "ij,ij->k", d, d });
        assert!(out.contains("compile_error"), "{out}");
        assert!(
            out.contains("output label 'k' appears in no input"),
            "{out}"
        );
        let out = expand(quote! { "ij,jk->ik", a });
        assert!(
            out.contains("the subscripts have 2 input terms but 1 operand was given"),
            "{out}"
        );
    }
}
