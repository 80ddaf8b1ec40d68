//! The planner against its corpus: a snapshot of every plan, binding errors
//! rendered, and every optimizer on every corpus line.

mod support;

use einsum::plan::{Optimize, PlanOptions};
use support::corpus;

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
fn every_optimizer_plans_every_corpus_line_no_cheaper_than_optimal() {
    let optimizers = [
        Optimize::Auto,
        Optimize::Optimal,
        Optimize::Dp,
        Optimize::Greedy,
        Optimize::Branch(0),
        Optimize::Branch(1),
        Optimize::RandomGreedy { trials: 8, seed: 1 },
        Optimize::Naive,
    ];
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
        &PlanOptions::new().memory_limit(Some(100)),
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
    let shapes: [&[usize]; 4] = [&[1000, 1000], &[1000, 10], &[10, 1000], &[1000, 1000]];
    let plan = einsum::explain("ij,jk,kl,lm->im", &shapes, &PlanOptions::new()).expect("plans");
    assert_eq!(shown, plan.to_string());
}
