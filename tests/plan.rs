//! The planner against its corpus: a snapshot of every plan, binding errors
//! rendered, and every optimizer on every corpus line.

mod support;

use std::sync::Arc;

use einsum::exec::{Program, Workspace};
use einsum::plan::{Optimize, PlanOptions};
use support::{corpus, strategies};

#[test]
fn every_corpus_plan_matches_its_snapshot() {
    let cases = corpus::read_shaped("plans.txt");
    assert!(
        cases.len() >= 60,
        "plans.txt has only {} cases",
        cases.len()
    );
    let mut report = String::new();
    for case in &cases {
        let plan = einsum::explain(&case.text, &case.shapes, &PlanOptions::new())
            .unwrap_or_else(|e| panic!("plans.txt:{}:\n{e}", case.line));
        report.push_str(&format!("# {}\n{plan}\n", case.comment));
    }
    insta::assert_snapshot!("plans", report);
}

#[test]
fn the_reported_workspace_is_what_the_executor_allocates() {
    // On C-order arrays the plan's own report is what runs: the workspace
    // it prints is what a fresh workspace grows to, for every corpus plan.
    for case in corpus::read_shaped("plans.txt") {
        let plan = einsum::explain(&case.text, &case.shapes, &PlanOptions::new())
            .unwrap_or_else(|e| panic!("plans.txt:{}:\n{e}", case.line));
        let c = |shape: &[usize]| -> Vec<isize> {
            let mut strides = vec![0isize; shape.len()];
            let mut next = 1isize;
            for (s, &e) in strides.iter_mut().zip(shape).rev() {
                *s = next;
                next *= e as isize;
            }
            strides
        };
        let strides: Vec<Vec<isize>> = case.shapes.iter().map(|s| c(s)).collect();
        let strides: Vec<&[isize]> = strides.iter().map(Vec::as_slice).collect();
        let out = c(&plan.output_shape());
        let program = Program::new::<f64>(Arc::new(plan.clone()), &strides, &out)
            .unwrap_or_else(|e| panic!("plans.txt:{}: {e}", case.line));
        assert_eq!(program.fitted(), plan.c_order(), "plans.txt:{}", case.line);
        let mut workspace = Workspace::<f64>::new();
        workspace.reserve(&program).unwrap();
        assert_eq!(
            workspace.len(),
            plan.workspace_elements(),
            "plans.txt:{}:\n{plan}",
            case.line
        );
        assert_eq!(
            plan.report().workspace_elements.to_string(),
            workspace.len().to_string()
        );
    }
}

#[test]
fn every_optimizer_plans_every_corpus_line_no_cheaper_than_optimal() {
    let optimizers = strategies::optimizers();
    for case in corpus::read_shaped("plans.txt") {
        let optimal = einsum::explain(
            &case.text,
            &case.shapes,
            &PlanOptions::new().optimize(Optimize::Optimal),
        )
        .unwrap_or_else(|e| panic!("plans.txt:{}:\n{e}", case.line));
        for optimize in &optimizers {
            let plan = einsum::explain(
                &case.text,
                &case.shapes,
                &PlanOptions::new().optimize(optimize.clone()),
            )
            .unwrap_or_else(|e| panic!("plans.txt:{} {optimize:?}:\n{e}", case.line));
            assert!(
                plan.optimized_flops() >= optimal.optimized_flops(),
                "plans.txt:{} {optimize:?} beat optimal:\n{plan}\n{optimal}",
                case.line
            );
            assert_eq!(plan.output_shape(), optimal.output_shape());
            // The plan's own path, given back, reproduces its cost.
            let again = einsum::explain(
                &case.text,
                &case.shapes,
                &PlanOptions::new().optimize(Optimize::Path(plan.path().clone())),
            )
            .unwrap_or_else(|e| panic!("plans.txt:{} path of {optimize:?}:\n{e}", case.line));
            assert_eq!(
                again.optimized_flops(),
                plan.optimized_flops(),
                "plans.txt:{}",
                case.line
            );
        }
    }
}

#[test]
fn every_binding_error_kind_renders_with_carets() {
    let cases = corpus::read_shaped("bind_errors.txt");
    let mut report = String::new();
    for case in &cases {
        let expected = case
            .fields
            .first()
            .unwrap_or_else(|| panic!("bind_errors.txt:{}: no kind", case.line));
        let err = match einsum::explain(&case.text, &case.shapes, &PlanOptions::new()) {
            Ok(plan) => panic!("bind_errors.txt:{}: planned:\n{plan}", case.line),
            Err(einsum::Error::Plan(err)) => err,
            Err(other) => panic!("bind_errors.txt:{}: not a plan error: {other}", case.line),
        };
        let name = support::variant_name(err.kind());
        assert_eq!(&name, expected, "bind_errors.txt:{}:\n{err}", case.line);
        report.push_str(&format!("# {}  {}\n{err}\n\n", case.text, case.comment));
    }
    insta::assert_snapshot!("bind_errors", report);
}

#[test]
fn memory_limit_errors_render() {
    let shapes: [&[usize]; 3] = [&[100, 2], &[2, 100], &[100, 100]];
    let err = einsum::explain(
        "ij,jk,kl->il",
        &shapes,
        &PlanOptions::new()
            .memory_limit(Some(100))
            .slicing(einsum::Slicing::Never),
    )
    .unwrap_err();
    insta::assert_snapshot!("memory_limit", err.to_string());
    let err = einsum::explain(
        "ij,jk,kl->il",
        &shapes,
        &PlanOptions::new().optimize(Optimize::Path(einsum::plan::Path(vec![(0, 5)]))),
    )
    .unwrap_err();
    insta::assert_snapshot!("path_invalid", err.to_string());
}

#[test]
fn exponential_optimizers_refuse_past_their_operand_limit() {
    // Rings: ab,bc,...,za-> over 2x2 operands.
    let ring = |n: usize| -> (String, Vec<Vec<usize>>) {
        let labels: Vec<char> = ('a'..='z').chain('A'..='Z').take(n).collect();
        let terms: Vec<String> = (0..n)
            .map(|k| [labels[k], labels[(k + 1) % n]].iter().collect())
            .collect();
        (format!("{}->", terms.join(",")), vec![vec![2, 2]; n])
    };
    let mut report = String::new();
    for (optimize, operands) in [
        (Optimize::Optimal, 16),
        (Optimize::Dp, 40),
        (Optimize::Branch(0), 11),
        (Optimize::Branch(2), 25),
    ] {
        let (text, shapes) = ring(operands);
        let started = std::time::Instant::now();
        let err = einsum::explain(
            &text,
            &shapes,
            &PlanOptions::new().optimize(optimize.clone()),
        )
        .expect_err("too many operands");
        // Refused before any search: a search of this size takes minutes.
        assert!(started.elapsed().as_secs_f64() < 0.5, "{optimize:?}");
        let einsum::Error::Plan(err) = err else {
            panic!("not a plan error: {err}")
        };
        assert_eq!(support::variant_name(err.kind()), "OperandsTooMany");
        report.push_str(&format!("{err}\n"));
        // Auto plans the same expression.
        einsum::explain(&text, &shapes, &PlanOptions::new()).expect("auto plans");
    }
    insta::assert_snapshot!("operands_too_many", report);
}

/// `2^k` in decimal, by doubling digits (least significant first).
fn pow2(k: u32) -> Vec<u8> {
    (0..k).fold(vec![1], |digits, _| add(&digits, &digits))
}

fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let v = a.get(i).unwrap_or(&0) + b.get(i).unwrap_or(&0) + carry;
        out.push(v % 10);
        carry = v / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

fn decimal(digits: &[u8]) -> String {
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

#[test]
fn json_reports_counts_past_u128_exactly() {
    // ij,jk,ki-> with i = k = 2^40 and j = 2^60, ij and jk first: that step
    // does 2 * 2^140 FLOPs into a temporary of 2^80 elements (past u64), the
    // next 2 * 2^80 FLOPs.
    let (i, j) = (1usize << 40, 1usize << 60);
    let shapes: [&[usize]; 3] = [&[i, j], &[j, i], &[i, i]];
    let options =
        PlanOptions::new().optimize(Optimize::Path(einsum::plan::Path(vec![(0, 1), (0, 1)])));
    let plan = einsum::explain("ij,jk,ki->", &shapes, &options).expect("plans");
    let flops = decimal(&add(&pow2(141), &pow2(81)));
    let temp = decimal(&pow2(80));
    // As a value and as text: a JSON number, every digit.
    let json = serde_json::to_value(plan.report()).expect("serializes");
    assert_eq!(json["optimized_flops"].to_string(), flops);
    assert_eq!(
        json["naive_flops"].to_string(),
        decimal(&add(&pow2(141), &pow2(140)))
    );
    assert_eq!(json["steps"][0]["flops"].to_string(), decimal(&pow2(141)));
    assert_eq!(json["largest_temporary"].to_string(), temp);
    assert_eq!(json["workspace_elements"].to_string(), temp);
    let text = serde_json::to_string(&plan.report()).expect("serializes");
    assert!(
        text.contains(&format!("\"optimized_flops\":{flops},")),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"largest_temporary\":{temp},")),
        "{text}"
    );
    // The text report prints them from the same exact figures.
    let report = plan.to_string();
    assert!(
        report.contains("  Optimized FLOP count:  2.788e+42\n"),
        "{report}"
    );
    assert!(
        report.contains(&format!("Largest temporary:  {temp} elements")),
        "{report}"
    );
}

#[test]
fn readme_main_job_output_is_current() {
    // The README shows the main job's report for chain4; it must stay true.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let command = "$ einsum-explain 'ij,jk,kl,lm->im' 1000x1000 1000x10 10x1000 1000x1000\n";
    let start = readme
        .find(command)
        .expect("the README shows the chain4 report")
        + command.len();
    let shown = &readme[start..start + readme[start..].find("```").expect("end of block")];
    // The CLI adds its element type to the plan's report; the rest is the
    // plan's own `Display`.
    let shown: String = shown
        .split_inclusive('\n')
        .filter(|line| !line.trim_start().starts_with("Element type:"))
        .collect();
    let shapes: [&[usize]; 4] = [&[1000, 1000], &[1000, 10], &[10, 1000], &[1000, 1000]];
    let plan = einsum::explain("ij,jk,kl,lm->im", &shapes, &PlanOptions::new()).expect("plans");
    assert_eq!(shown, plan.to_string());
}
