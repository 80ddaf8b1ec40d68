//! Parses an einsum expression and shows what the compiler understood.
//!
//! `cargo run --example explain -- 'ij,ij->i'`
//!
//! Prints the canonical text, the lowered form (labels interned, the output
//! made explicit) and, per term, each label with its id. A bad expression
//! prints the rendered error to stderr and exits with status 2. This grows
//! into `einsum-explain` once the planner and executor land.

use std::process::ExitCode;

fn main() -> ExitCode {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ij,ij->i".to_owned());
    let tree = match einsum::syntax::parse(&text) {
        Ok(tree) => tree,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let expr = tree.lower();
    println!("expression  {text:?}");
    println!("canonical   {tree}");
    println!(
        "lowered     {expr}{}",
        if expr.is_implicit() {
            "  (implicit output)"
        } else {
            ""
        }
    );
    let describe = |seq: &einsum::syntax::LabelSeq| {
        let mut parts: Vec<String> = seq
            .ids()
            .iter()
            .map(|&id| format!("{}#{}", expr.label(id), id.index()))
            .collect();
        if let Some(ellipsis) = seq.ellipsis() {
            parts.insert(ellipsis.position, "...".to_owned());
        }
        if parts.is_empty() {
            "(scalar)".to_owned()
        } else {
            parts.join(" ")
        }
    };
    for (k, seq) in expr.inputs().iter().enumerate() {
        println!("operand {k:<3} {}", describe(seq));
    }
    println!("output      {}", describe(expr.output()));
    ExitCode::SUCCESS
}
