#!/usr/bin/env bash
# The whole test suite, on a fresh machine: the project's Python environment,
# lint gates, then every test. This is the README's test command, and all that
# .ci/run does.
#
# Python comes from the project's own virtual environment (.venv, made here
# from whatever `python3` is first on PATH, with scripts/requirements-test.txt
# installed), named by absolute path: cargo runs each crate's tests from that
# crate's folder, and the system Python's packages are never relied on. If the
# environment cannot be made, the suite fails: a skipped oracle is not a pass.
#
# It ends with one line, `summary: N passed, M failed`, over every test and
# gate it ran, and exits non-zero if anything failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export INSTA_UPDATE=no # snapshots are reviewed by eye (cargo insta review), never written by a test run
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/scripts/requirements-test.txt"
LOG="$(mktemp -d)"
trap 'rm -rf "$LOG"' EXIT
passed=0
failed=0

say() { echo "==> $*" >&2; }

# A gate (setup, fmt, clippy) counts as one check.
gate() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    say "FAILED: $name"
    failed=$((failed + 1))
  fi
}

# The venv is (re)made when missing or when the requirements changed since it
# was last filled (a stamp file holds the requirements it was made from).
python_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "making the Python environment $VENV (from $(command -v python3))"
    python3 -m venv "$VENV" || return 1
  fi
  if ! cmp -s "$REQUIREMENTS" "$VENV/.requirements-installed"; then
    say "installing the test requirements into $VENV (numpy; a minute on a fresh machine)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" || return 1
    cp "$REQUIREMENTS" "$VENV/.requirements-installed"
  fi
  "$VENV/bin/python" -c 'import numpy' || return 1
}

gate "python environment" python_env
export EINSUM_PYTHON="$VENV/bin/python" EINSUM_REQUIRE_NUMPY=1

# The Python package einsumc (crates/einsum-py): one release build by maturin
# (through pip, with the maturin pinned in the requirements) into the venv,
# then three pytest runs, each in its own process: einsumc's own tests
# (numpy.einsum as the oracle), numpy's test_einsum.py and opt_einsum's tests
# (from the installed packages, with numpy.einsum or opt_einsum.contract*
# replaced by einsumc's, so they cannot share a process with the oracle).
say "building einsumc (release, a few minutes cold) into $VENV"
# maturin's build backend runs the `maturin` command: the venv's bin goes
# first on PATH (the venv is used by absolute path, never activated).
gate "einsumc build" env PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pip install --quiet \
  --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$ROOT/crates/einsum-py"

# pytest's last line is `N passed, M failed, K xfailed, ... in Ts`: passed
# and failed (errors counted as failures) go into the summary; a run that
# fails with no such count (a collection error, no tests) counts as one.
pytest_run() {
  local name=$1
  shift
  say "pytest: $name"
  (cd "$ROOT/crates/einsum-py" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rfE "$@") 2>&1 | tee "$LOG/pytest.log"
  local status=${PIPESTATUS[0]}
  local last
  last=$(grep -E '^=*.* in [0-9.]+s' "$LOG/pytest.log" | tail -n 1)
  local p f e
  p=$(echo "$last" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
  f=$(echo "$last" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
  e=$(echo "$last" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || true)
  p=${p:-0} f=${f:-0} e=${e:-0}
  passed=$((passed + p))
  failed=$((failed + f + e))
  if [ "$status" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
    say "FAILED: pytest $name exited with status $status"
    failed=$((failed + 1))
  fi
}
pytest_run "einsumc's tests" tests
pytest_run "numpy's test_einsum.py against einsumc" tests/upstream/numpy
pytest_run "opt_einsum's tests against einsumc" tests/upstream/opt_einsum

say "cargo fmt --check"
gate "cargo fmt" cargo fmt --all -- --check
say "cargo clippy (every target, warnings are errors)"
gate "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo test --workspace (builds the tests first; tests/macro_errors.rs then compiles einsum! failure cases with trybuild, a few silent minutes)"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$LOG/cargo-test.log"
status=${PIPESTATUS[0]}
# Every test binary and doctest run ends with `test result: ... N passed; M failed; ...`.
read -r tp tf < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed;?$/) p += $(i - 1)
      if ($(i) ~ /^failed;?$/) f += $(i - 1)
    }
  } END { print p + 0, f + 0 }' "$LOG/cargo-test.log")
passed=$((passed + tp))
failed=$((failed + tf))
if [ "$status" -ne 0 ] && [ "$tf" -eq 0 ]; then
  # A build error or a crashed test binary: no result line says so.
  say "FAILED: cargo test exited with status $status"
  failed=$((failed + 1))
fi

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
