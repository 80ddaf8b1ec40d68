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
    run_script_with(python, script, &[])
}

fn run_script_with(python: &str, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(python)
        .arg(root.join(script))
        .args(args)
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

/// Writes every exec-corpus case's inputs and our result for each dtype,
/// then has numpy.einsum recompute and compare them.
#[test]
fn results_agree_with_numpy_einsum() {
    use einsum::exec::Element;
    use support::npy::{self, NpyElement};

    fn cases<T: Element + NpyElement>(
        dir: &Path,
        sample: impl Fn(u64) -> T,
        manifest: &mut String,
    ) {
        for case in support::corpus::read_shaped("exec.txt") {
            let arrays: Vec<ndarray::ArrayD<T>> = case
                .shapes
                .iter()
                .enumerate()
                .map(|(k, shape)| {
                    let len: usize = shape.iter().product();
                    let data = (0..len)
                        .map(|i| sample((k as u64) << 32 | i as u64))
                        .collect();
                    ndarray::ArrayD::from_shape_vec(shape.clone(), data).expect("shape")
                })
                .collect();
            let operands: Vec<&dyn einsum::Operand<T>> = arrays
                .iter()
                .map(|a| a as &dyn einsum::Operand<T>)
                .collect();
            let result = einsum::einsum(&case.text, &operands)
                .unwrap_or_else(|e| panic!("exec.txt:{}: {e}", case.line));
            let stem = format!("{}-{}", case.line, T::NAME);
            let mut inputs = Vec::new();
            for (k, a) in arrays.iter().enumerate() {
                let path = dir.join(format!("{stem}-in{k}.npy"));
                npy::write(&path, a.shape(), a.as_slice().expect("C order")).expect("write");
                inputs.push(path.display().to_string());
            }
            let path = dir.join(format!("{stem}-out.npy"));
            let standard = result.as_standard_layout();
            npy::write(&path, result.shape(), standard.as_slice().expect("C order"))
                .expect("write");
            let line = serde_json::json!({
                "subscripts": case.text,
                "inputs": inputs,
                "output": path.display().to_string(),
                "dtype": T::NAME,
            });
            manifest.push_str(&format!("{line}\n"));
        }
    }

    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("einsum-numpy-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unit = |seed: u64| {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut manifest = String::new();
    cases::<f64>(&dir, unit, &mut manifest);
    cases::<f32>(&dir, |s| unit(s) as f32, &mut manifest);
    cases::<num_complex::Complex<f64>>(
        &dir,
        |s| num_complex::Complex::new(unit(s), unit(!s)),
        &mut manifest,
    );
    cases::<num_complex::Complex<f32>>(
        &dir,
        |s| num_complex::Complex::new(unit(s) as f32, unit(!s) as f32),
        &mut manifest,
    );
    cases::<i64>(&dir, |s| (unit(s) * 10.0) as i64, &mut manifest);
    cases::<i32>(&dir, |s| (unit(s) * 10.0) as i32, &mut manifest);
    let manifest_path = dir.join("manifest.jsonl");
    std::fs::write(&manifest_path, manifest).expect("manifest");
    let out = run_script_with(
        &python,
        "tests/corpus/numpy_results.py",
        &[manifest_path.as_os_str()],
    );
    eprintln!("{out}");
    std::fs::remove_dir_all(&dir).ok();
}
