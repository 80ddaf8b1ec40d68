//! Shows what the compiler makes of an einsum expression.
//!
//! `cargo run --example explain -- 'ij,jk->ik' 100x200 200x300 [--optimize greedy]`
//!
//! With shapes (`3x4x5`, `7`, or `scalar` for a 0-d operand), prints the plan:
//! numpy-style headline figures and every step with its kernel. Without
//! shapes, prints how the text was understood: canonical text, the lowered
//! form with label ids. A bad expression or shape prints the rendered error
//! to stderr and exits with status 2. This grows into `einsum-explain`.

use std::process::ExitCode;

use einsum::plan::{Optimize, PlanOptions};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = PlanOptions::new();
    if let Some(at) = args.iter().position(|a| a == "--optimize") {
        let Some(name) = args.get(at + 1).cloned() else {
            eprintln!("error: --optimize needs a value");
            return ExitCode::from(2);
        };
        let optimize = match name.as_str() {
            "auto" => Optimize::Auto,
            "optimal" => Optimize::Optimal,
            "dp" => Optimize::Dp,
            "greedy" => Optimize::Greedy,
            "branch" => Optimize::Branch(2),
            "random-greedy" => Optimize::RandomGreedy {
                trials: 32,
                seed: 0,
            },
            "naive" => Optimize::Naive,
            other => {
                eprintln!("error: unknown optimizer '{other}'");
                return ExitCode::from(2);
            }
        };
        options = options.optimize(optimize);
        args.drain(at..at + 2);
    }
    let text = args
        .first()
        .cloned()
        .unwrap_or_else(|| "ij,ij->i".to_owned());
    let shapes: Result<Vec<Vec<usize>>, String> =
        args.iter().skip(1).map(|s| parse_shape(s)).collect();
    let shapes = match shapes {
        Ok(shapes) => shapes,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    if shapes.is_empty() {
        return show_syntax(&text);
    }
    match einsum::explain(&text, &shapes, &options) {
        Ok(plan) => {
            print!("{plan}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(2)
        }
    }
}

fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    if text == "scalar" {
        return Ok(Vec::new());
    }
    text.split('x')
        .map(|d| {
            d.parse()
                .map_err(|_| format!("'{text}' is not a shape like 3x4x5, 7 or scalar"))
        })
        .collect()
}

fn show_syntax(text: &str) -> ExitCode {
    let tree = match einsum::syntax::parse(text) {
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
