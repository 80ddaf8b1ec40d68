#!/usr/bin/env bash
# The whole test suite, on a fresh machine: lint gates, then every test.
# This is the README's test command, and all that .ci/run does.
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no # snapshots are reviewed by eye (cargo insta review), never written by a test run
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# numpy is the oracle for the corpus checks. Use it if python3 has it;
# otherwise install it into .venv. Only if that fails too do the numpy tests
# skip, and they say so.
if python3 -c 'import numpy' 2>/dev/null; then
  export EINSUM_PYTHON=python3 EINSUM_REQUIRE_NUMPY=1
elif { [ -x .venv/bin/python ] || python3 -m venv .venv; } \
  && .venv/bin/python -m pip install --quiet --disable-pip-version-check numpy; then
  export EINSUM_PYTHON=.venv/bin/python EINSUM_REQUIRE_NUMPY=1
else
  echo "warning: numpy could not be installed; the numpy oracle tests will skip" >&2
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
