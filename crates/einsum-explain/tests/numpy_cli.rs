//! The binary against numpy.einsum, as an outside corpus would run it:
//! `.npy` files in, `-o out.npy` out (see `numpy_cli.py`).
//!
//! Uses `EINSUM_PYTHON` (default `python3`); skips, saying so, when it has
//! no numpy, unless `EINSUM_REQUIRE_NUMPY` is set.

use std::process::Command;

#[test]
fn npy_results_agree_with_numpy_einsum() {
    let python = std::env::var("EINSUM_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let has_numpy = Command::new(&python)
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_numpy {
        assert!(
            std::env::var_os("EINSUM_REQUIRE_NUMPY").is_none(),
            "{python} cannot import numpy"
        );
        eprintln!("skipped: {python} cannot import numpy");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/numpy_cli.py");
    let out = Command::new(&python)
        .args([script, env!("CARGO_BIN_EXE_einsum-explain")])
        .output()
        .expect("python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
}
