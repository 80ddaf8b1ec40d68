//! numpy as the oracle: runs the Python checkers beside the corpora.
//!
//! Uses the interpreter in `EINSUM_PYTHON` (default `python3`). When it has no
//! numpy the test prints that it skipped, unless `EINSUM_REQUIRE_NUMPY` is
//! set (as `scripts/test.sh` does once numpy is installed), in which case a
//! missing numpy fails the test.

mod support;

use std::path::Path;
use std::process::Command;

fn python() -> Option<String> {
    let python = std::env::var("EINSUM_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let has_numpy = Command::new(&python)
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if has_numpy {
        return Some(python);
    }
    assert!(
        std::env::var_os("EINSUM_REQUIRE_NUMPY").is_none(),
        "EINSUM_REQUIRE_NUMPY is set but {python} cannot import numpy"
    );
    eprintln!("skipped: {python} cannot import numpy");
    None
}

fn run_script(python: &str, script: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(python)
        .arg(root.join(script))
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{text}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn grammar_corpus_agrees_with_numpy() {
    if let Some(python) = python() {
        eprintln!("{}", run_script(&python, "grammar/check_numpy.py"));
    }
}

/// Our `optimal` never costs more than numpy's `einsum_path(optimize='optimal')`:
/// against numpy's printed figure (4 significant digits, so within rounding),
/// and exactly against numpy's own order priced by our cost model.
#[test]
fn optimal_flops_never_exceed_numpys() {
    use einsum::plan::{Optimize, Path, PlanOptions};
    let Some(python) = python() else { return };
    let out = run_script(&python, "tests/corpus/numpy_paths.py");
    let cases = support::corpus::read_shaped("plans.txt");
    let mut compared = 0;
    for line in out.lines() {
        let mut words = line.splitn(3, ' ');
        let number: usize = words
            .next()
            .and_then(|w| w.parse().ok())
            .expect("line number");
        let numpy_flops: f64 = words.next().and_then(|w| w.parse().ok()).expect("flops");
        let path = words.next().expect("path");
        let case = cases
            .iter()
            .find(|c| c.line == number)
            .expect("corpus line");
        let ours = einsum::explain(
            &case.text,
            &case.shapes,
            &PlanOptions::new().optimize(Optimize::Optimal),
        )
        .unwrap_or_else(|e| panic!("plans.txt:{number}:\n{e}"));
        let ours_flops = ours.optimized_flops() as f64;
        assert!(
            ours_flops <= numpy_flops * (1.0 + 5e-4),
            "plans.txt:{number}: our optimal {ours_flops} > numpy's {numpy_flops}\n{ours}"
        );
        if path != "null" {
            let pairs: Vec<(usize, usize)> = path
                .trim_matches(|c| c == '[' || c == ']')
                .split("], [")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (a, b) = p.split_once(", ").expect("pair");
                    (a.parse().expect("index"), b.parse().expect("index"))
                })
                .collect();
            let theirs = einsum::explain(
                &case.text,
                &case.shapes,
                &PlanOptions::new().optimize(Optimize::Path(Path(pairs))),
            )
            .unwrap_or_else(|e| panic!("plans.txt:{number}: numpy's path:\n{e}"));
            assert!(
                ours.optimized_flops() <= theirs.optimized_flops(),
                "plans.txt:{number}: numpy's order is cheaper\n{theirs}\n{ours}"
            );
        }
        compared += 1;
    }
    assert_eq!(
        compared,
        cases.len(),
        "numpy answered for every corpus line"
    );
    eprintln!("optimal <= numpy's optimal on all {compared} corpus lines");
}
