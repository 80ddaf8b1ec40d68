"""Compares our einsum results with numpy.einsum.

Reads the manifest written by tests/numpy_oracle.rs (one JSON object per
line: subscripts, input .npy paths, our result's .npy path, dtype), evaluates
numpy.einsum(subscripts, *inputs) (optimize=False, numpy's C loop) and
compares: integers exactly, floats and complex within a tolerance scaled by
the sum of the products' magnitudes (computed by numpy too, on |inputs|).
Prints one line per mismatch and a summary; exits 1 on any mismatch.
"""
import json
import sys

import numpy as np

EPS = {"float32": np.finfo(np.float32).eps, "complex64": np.finfo(np.float32).eps,
       "float64": np.finfo(np.float64).eps, "complex128": np.finfo(np.float64).eps}


def main(manifest):
    cases = mismatches = 0
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            ops = [np.load(p) for p in case["inputs"]]
            ours = np.load(case["output"])
            want = np.einsum(case["subscripts"], *ops)
            cases += 1
            if np.shape(want) != ours.shape:
                mismatches += 1
                print(f"{case['subscripts']} {case['dtype']}: shape {ours.shape} != numpy's {np.shape(want)}")
                continue
            if case["dtype"].startswith("int"):
                ok = np.array_equal(ours, want)
            else:
                scale = np.einsum(case["subscripts"], *[np.abs(o).astype(np.float64) for o in ops])
                tol = 64 * EPS[case["dtype"]] * (scale + np.abs(want)) + np.finfo(np.float64).tiny
                ok = bool(np.all(np.abs(ours.astype(np.complex128) - want.astype(np.complex128)) <= tol * 2))
            if not ok:
                mismatches += 1
                print(f"{case['subscripts']} {case['dtype']}: differs from numpy (max abs diff "
                      f"{np.max(np.abs(ours.astype(np.complex128) - want.astype(np.complex128)))})")
    print(f"{cases} results compared with numpy.einsum {np.__version__}: {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
