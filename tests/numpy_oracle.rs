//! numpy as the oracle: runs the Python checkers beside the corpora.
//!
//! Uses the interpreter in `EINSUM_PYTHON` (default `python3`). When it has no
//! numpy the test prints that it skipped, unless `EINSUM_REQUIRE_NUMPY` is
//! set (as `scripts/test.sh` does once numpy is installed), in which case a
//! missing numpy fails the test.

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

fn run_script(python: &str, script: &str) {
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
    eprintln!("{text}");
}

#[test]
fn grammar_corpus_agrees_with_numpy() {
    if let Some(python) = python() {
        run_script(&python, "grammar/check_numpy.py");
    }
}
