"""einsum-explain SUBSCRIPTS a.npy b.npy -o out.npy against numpy.einsum.

Usage: numpy_cli.py <path to einsum-explain>

Runs the binary the way an outside corpus would: numpy writes the operands
with np.save (C or Fortran order, all seven dtypes, some mixed), the binary
writes the result, numpy compares it with numpy.einsum: same shape, same
dtype, integers exactly, floats within a tolerance scaled by the summed
magnitudes. Cases: every line of tests/corpus/exec.txt and every ASCII line
of grammar/valid.txt; and every line of grammar/invalid.txt must exit with
status 2 and write nothing. Prints a summary; exits 1 on any mismatch.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "grammar"))
import check_numpy as grammar  # noqa: E402  (the corpus reader and shape builder)

DTYPES = [np.float64, np.float32, np.complex128, np.complex64, np.int64, np.int32, np.float16]
EPS = {np.dtype(np.float16): np.finfo(np.float16).eps, np.dtype(np.float32): np.finfo(np.float32).eps, np.dtype(np.complex64): np.finfo(np.float32).eps,
       np.dtype(np.float64): np.finfo(np.float64).eps, np.dtype(np.complex128): np.finfo(np.float64).eps}


def sample(rng, shape, dtype):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-10, 10, size=shape).astype(dtype)
    if np.issubdtype(dtype, np.complexfloating):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def run(binary, subscripts, arrays, tmp, fortran):
    paths = []
    for k, a in enumerate(arrays):
        path = os.path.join(tmp, f"in{k}.npy")
        # copy(order=...) keeps 0-d arrays 0-d (ascontiguousarray would not).
        np.save(path, a.copy(order="F" if fortran else "C"))
        paths.append(path)
    out = os.path.join(tmp, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    proc = subprocess.run([binary, subscripts, *paths, "-o", out], capture_output=True, text=True)
    return proc, (np.load(out) if os.path.exists(out) else None)


def compare(subscripts, arrays, ours):
    want = np.einsum(subscripts, *arrays)
    if ours.shape != np.shape(want):
        return f"shape {ours.shape} != numpy's {np.shape(want)}"
    if ours.dtype != np.asarray(want).dtype:
        return f"dtype {ours.dtype} != numpy's {np.asarray(want).dtype}"
    if np.issubdtype(ours.dtype, np.integer):
        return None if np.array_equal(ours, want) else "values differ"
    scale = np.einsum(subscripts, *[np.abs(a).astype(np.float64) for a in arrays])
    tol = 128 * EPS[ours.dtype] * (scale + np.abs(want)) + np.finfo(np.float64).tiny
    err = np.abs(ours.astype(np.complex128) - np.asarray(want).astype(np.complex128))
    return None if np.all(err <= tol) else f"max error {err.max():.3e}"


def shaped_cases():
    """(subscripts, shapes) from exec.txt and the ASCII lines of valid.txt."""
    cases = []
    with open(os.path.join(ROOT, "tests", "corpus", "exec.txt"), encoding="utf-8") as f:
        for line in f:
            body = line.split("#", 1)[0].split()
            if body:
                shapes = [() if w == "scalar" else tuple(int(d) for d in w.split("x")) for w in body[1:]]
                cases.append((body[0], shapes))
    for _, text, _, _ in grammar.read_corpus("valid.txt"):
        if not text.isascii():
            continue
        ops, _ = grammar.valid_operands(text)
        cases.append((text, [op.shape for op in ops]))
    return cases


def main():
    binary = sys.argv[1]
    rng = np.random.default_rng(20261122)
    failures = []
    compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (subscripts, shapes) in enumerate(shaped_cases()):
            # Each case in one dtype (cycling), C order; every third also in
            # Fortran order; every fifth with mixed operand dtypes.
            variants = [([DTYPES[n % len(DTYPES)]] * len(shapes), n % 3 == 0)]
            if n % 5 == 0 and len(shapes) > 1:
                variants.append(([DTYPES[(n + k) % len(DTYPES)] for k in range(len(shapes))], False))
            for dtypes, fortran in variants:
                arrays = [sample(rng, s, d) for s, d in zip(shapes, dtypes)]
                proc, ours = run(binary, subscripts, arrays, tmp, fortran)
                compared += 1
                if proc.returncode != 0 or ours is None:
                    failures.append(f"{subscripts!r} {[a.dtype.name for a in arrays]}: exit {proc.returncode}: {proc.stderr.strip()}")
                    continue
                problem = compare(subscripts, arrays, ours)
                if problem:
                    failures.append(f"{subscripts!r} {[a.dtype.name for a in arrays]} fortran={fortran}: {problem}")
        rejected = 0
        for _, text, _, _ in grammar.read_corpus("invalid.txt"):
            if "\0" in text:
                continue  # a NUL cannot be passed as a command-line argument
            ops = grammar.invalid_operand_sets(text)[0]
            proc, ours = run(binary, text, ops, tmp, False)
            if proc.returncode != 2 or ours is not None or proc.stdout:
                failures.append(f"invalid {text!r}: exit {proc.returncode}, output written: {ours is not None}")
            else:
                rejected += 1
    for f in failures:
        print(f)
    print(f"{compared} einsum-explain -o results compared with numpy.einsum {np.__version__}, "
          f"{rejected} invalid expressions rejected with status 2: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
