#!/usr/bin/env python3
"""The kernel sweep: every kind of step we lower to, on several layouts,
element types and operand counts, at sizes in the L2 cache, the L3 cache and
main memory, against numpy.einsum and opt_einsum, from Python.

One command, run from anywhere (it changes to the repository root):

    python3 benches/sweep.py

It needs python3 (3.11 or later), pip's access to PyPI and cargo. A full run
takes about 25 minutes on the 2-core machine (`--quick`: about 10). In one
run, one step after the other (never in parallel, so timings don't compete):

1. The environment: compare_python.py's (`.venv-bench/` with numpy,
   opt_einsum and threadpoolctl; einsumc built from this checkout, release,
   and installed into it). OPENBLAS_CORETYPE is removed so OpenBLAS picks
   its best kernel for this CPU; threadpoolctl's report of that kernel is
   recorded.
2. The machine's limits, measured afresh in this run:
   `cargo run --release -p einsum-explain -- --limits --format json` (FMA
   peaks for f32 and f64; read and copy bandwidth of data in the L2 cache,
   the L3 cache and main memory; at 1 thread and at every core).
3. The cases (`cases()`), each in a fresh process per thread count (1, 2)
   with OMP/OPENBLAS/MKL_NUM_THREADS set and einsumc.set_num_threads:
   numpy.einsum(optimize=False), numpy.einsum(optimize=True),
   opt_einsum.contract and opt_einsum.contract_expression (the peers),
   einsumc.einsum (ours, what a numpy user calls) and
   einsumc.contract_expression. Each method: one warm-up call, then
   timeit-style loops (at least 50 ms; 10 ms with --quick) for up to a
   budget (0.4 s; 0.1 s), the median; a first call over 10 s (5 s) is
   timed once, and a process still running after 120 s (60 s) is stopped,
   losing the figures of the methods it had not finished. The order within
   a process: numpy's answer (untimed, the reference every result is
   checked against), a 0.3 s pause (OpenBLAS's threads spin for about
   0.1 s after a call: on two cores they took a core from our second
   thread), ours, then the peers, numpy's optimize=False last.
   Every call allocates its result, on both sides.
4. The report, on stdout and in docs/performance.md between
   `<!-- sweep:begin -->` and `<!-- sweep:end -->`: per case, ours and the
   best peer at 1 and 2 threads, the ratio best peer / ours (above 1: we
   are faster) and the fraction of the machine's limit achieved; geometric
   means per axis and per kind; every case slower than the best peer.

The cases, three axes around one centre (float64, C order, data in the L3
cache), each kind of step on each:

- size: the data (operands and result) in the L2 cache (about a quarter of
  it), in the L3 cache (about a quarter), in main memory (over 4x the L3);
  products whose FLOPs grow faster than their data (GEMM-shaped kinds) are
  capped at 2048x2048 operands (the three-matrix chain at 256x256, since
  numpy's optimize=False runs it as one loop over four indices);
- dtype: float32, complex128, complex64, float16, int64, int32, int16, int8,
  uint8, bool;
- layout of every operand of two or more axes: F order (every axis
  transposed), strided (every other element along the last axis), reversed
  (the first axis backwards: negative strides), broadcast (the first
  operand's leading axis of stride 0).

The fraction achieved: for kinds that do at most a few operations per
element (everything but matrix products), GB/s over the bytes of the
operands and the result, each read or written once (a broadcast operand
counted at its stored size), as a fraction of the measured read bandwidth
of the level that holds all of them (by size); for matrix products of
floating-point types, GFLOP/s (2 per multiply-add, 8 per complex one) as a
fraction of the FMA peak for the type's precision (float16 computes in
float32). Integer and bool products get none (no FMA peak bounds them).

Options:
  --quick            small budgets (smoke test; the report says so)
  --kinds K[,K]      only these kinds
  --axes A[,A]       only these axes (size, dtype, layout)
  --no-write         print the report only; leave docs/performance.md alone
Progress goes to stderr.
"""
import argparse
import datetime
import json
import math
import os
import platform
import queue
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_exec as cx  # noqa: E402 - the venv, formatting, doc writing
import compare_python as cp  # noqa: E402 - einsumc built into the venv

ROOT = cx.ROOT
BEGIN = "<!-- sweep:begin -->"
END = "<!-- sweep:end -->"
COMMAND = "python3 benches/sweep.py"

PEERS = [
    ("np_einsum", "np.einsum"),
    ("np_einsum_opt", "np.einsum(optimize=True)"),
    ("oe_contract", "opt_einsum.contract"),
    ("oe_expression", "opt_einsum.contract_expression"),
]
OURS = [("einsumc", "einsumc.einsum"), ("einsumc_expression", "einsumc.contract_expression")]
# The order a worker times them in (see `worker`).
ORDER = ["einsumc", "einsumc_expression", "np_einsum_opt", "oe_contract", "oe_expression", "np_einsum"]
ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "complex128": 16, "complex64": 8, "int64": 8,
            "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1}
PRECISION = {"float64": "f64", "complex128": "f64", "float32": "f32", "complex64": "f32", "float16": "f32"}
DTYPES = ["float32", "complex128", "complex64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
LAYOUTS = ["F", "strided", "reversed", "broadcast"]
# Bytes of all the data (operands and result) per size class, from the
# machine's cache sizes: a quarter of the L2, a quarter of the L3, 4x the L3.
SIZES = ["L2", "L3", "DRAM"]
GEMM_SIDE_MAX = 2048


def isqrt(x):
    return max(1, int(math.isqrt(max(1, int(x)))))


def icbrt(x):
    r = max(1, round(max(1.0, x) ** (1 / 3)))
    return r


# The kinds of step: (name, subscripts, shapes(n) for n elements of data in
# all, matrix product?). Each shapes function spreads about n elements over
# the operands and the result.
KINDS = [
    ("sum_all", "i->", lambda n: [(n,)], False),
    ("sum_2d", "ij->", lambda n: [(isqrt(n), isqrt(n))], False),
    ("sum_leading", "ij->j", lambda n: [(isqrt(n), isqrt(n))], False),
    ("sum_trailing", "ij->i", lambda n: [(isqrt(n), isqrt(n))], False),
    ("dot", "i,i->", lambda n: [(n // 2,), (n // 2,)], False),
    ("rowdot", "ij,ij->i", lambda n: [(isqrt(n // 2),) * 2] * 2, False),
    ("coldot", "ij,ij->j", lambda n: [(isqrt(n // 2),) * 2] * 2, False),
    ("hadamard", "ij,ij->ij", lambda n: [(isqrt(n // 3),) * 2] * 2, False),
    ("scale_rows", "ij,j->ij", lambda n: [(isqrt(n // 2),) * 2, (isqrt(n // 2),)], False),
    ("outer", "i,j->ij", lambda n: [(isqrt(n),), (isqrt(n),)], False),
    ("trace", "ii->", lambda n: [(isqrt(n),) * 2], False),
    ("diag", "ii->i", lambda n: [(isqrt(n),) * 2], False),
    ("transpose", "ij->ji", lambda n: [(isqrt(n // 2),) * 2], False),
    ("permute3", "ijk->kji", lambda n: [(icbrt(n // 2),) * 3], False),
    ("gemv", "ij,j->i", lambda n: [(isqrt(n),) * 2, (isqrt(n),)], False),
    ("gemv_t", "ji,j->i", lambda n: [(isqrt(n),) * 2, (isqrt(n),)], False),
    ("gemm", "ik,kj->ij", lambda n: [(min(GEMM_SIDE_MAX, isqrt(n // 3)),) * 2] * 2, True),
    ("gemm_tn", "ki,kj->ij", lambda n: [(min(GEMM_SIDE_MAX, isqrt(n // 3)),) * 2] * 2, True),
    ("batched", "bij,bjk->bik",
     lambda n: [(16,) + (min(GEMM_SIDE_MAX // 4, isqrt(n // 48)),) * 2] * 2, True),
    ("dot3", "i,i,i->", lambda n: [(n // 3,)] * 3, False),
    ("rowdot3", "ij,ij,ij->i", lambda n: [(isqrt(n // 3),) * 2] * 3, False),
    ("bilinear", "i,ij,j->", lambda n: [(isqrt(n),), (isqrt(n),) * 2, (isqrt(n),)], False),
    # numpy's optimize=False runs a chain as one loop over all four
    # indices: capped at 256 (4e9 points, seconds), whatever the size.
    ("chain3", "ij,jk,kl->il", lambda n: [(min(256, isqrt(n // 4)),) * 2] * 3, True),
]


def cases(caches, kinds, axes, dtypes=None, layouts=None):
    l2, l3 = caches
    total = {"L2": l2 // 4, "L3": l3 // 4, "DRAM": l3 * 4}
    out = []

    def case(kind, size, dtype, layout):
        name, subscripts, shapes, product = kind
        n = max(16, total[size] // ITEMSIZE[dtype])
        return dict(kind=name, subscripts=subscripts, shapes=[list(s) for s in shapes(n)], product=product,
                    size=size, dtype=dtype, layout=layout)

    for kind in KINDS:
        if kinds and kind[0] not in kinds:
            continue
        if "size" in axes:
            for size in SIZES:
                out.append(("size", case(kind, size, "float64", "C")))
        if "dtype" in axes:
            for dtype in DTYPES:
                if dtypes and dtype not in dtypes:
                    continue
                out.append(("dtype", case(kind, "L3", dtype, "C")))
        if "layout" in axes:
            for layout in LAYOUTS:
                if layouts and layout not in layouts:
                    continue
                if layout in ("F", "strided", "reversed") and all(len(s) < 2 for s in kind[2](64)):
                    continue  # only vectors: no other layout to give them
                out.append(("layout", case(kind, "L3", "float64", layout)))
    return out


# ------------------------------------------------------------------- worker


def make_operands(spec):
    """The case's operands: seeded values (standard normal floats, integers
    in [-100, 100), [0, 100) unsigned, bools), in the case's layout."""
    import numpy as np

    rng = np.random.default_rng(0)
    dtype = np.dtype(spec["dtype"])

    def values(shape):
        if dtype.kind == "b":
            return rng.random(shape) < 0.5
        if dtype.kind == "i":
            return rng.integers(-100, 100, size=shape).astype(dtype)
        if dtype.kind == "u":
            return rng.integers(0, 100, size=shape).astype(dtype)
        if dtype.kind == "c":
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)

    layout = spec["layout"]
    ops = []
    for k, shape in enumerate(spec["shapes"]):
        shape = tuple(shape)
        if layout == "broadcast" and k == 0:
            ops.append(np.broadcast_to(values((1,) + shape[1:]), shape))
        elif len(shape) < 2 or layout == "C" or layout == "broadcast":
            ops.append(values(shape))
        elif layout == "F":
            ops.append(np.asfortranarray(values(shape)))
        elif layout == "strided":
            ops.append(values(shape[:-1] + (2 * shape[-1],))[..., ::2])
        elif layout == "reversed":
            ops.append(values(shape)[::-1])
        else:
            raise SystemExit(f"unknown layout {layout}")
    return ops


def worker(spec):
    import numpy as np
    import opt_einsum

    import einsumc

    einsumc.set_num_threads(spec["threads"])
    ops = make_operands(spec)
    sub = spec["subscripts"]
    shapes = [a.shape for a in ops]
    calls = {
        "np_einsum": lambda: np.einsum(sub, *ops, optimize=False),
        "np_einsum_opt": lambda: np.einsum(sub, *ops, optimize=True),
        "oe_contract": lambda: opt_einsum.contract(sub, *ops),
        "einsumc": lambda: einsumc.einsum(sub, *ops),
    }
    oe_expr = opt_einsum.contract_expression(sub, *shapes)
    calls["oe_expression"] = lambda: oe_expr(*ops)
    our_expr = einsumc.contract_expression(sub, *shapes)
    calls["einsumc_expression"] = lambda: our_expr(*ops)
    # The reference answer, numpy's, first and untimed; then a pause, so
    # OpenBLAS's threads (which spin for about 0.1 s after a call) are
    # asleep before ours run: on two cores their spinning took a core
    # from our second thread. Ours run next, then the peers, numpy's
    # optimize=False last (the one whose naive loop can run for minutes:
    # when the process is stopped, only its figure is lost).
    want = np.asarray(np.einsum(sub, *ops, optimize=True))
    time.sleep(0.3)
    for method in ORDER:
        call = calls[method]
        start = time.perf_counter()
        result = np.asarray(call())
        first = time.perf_counter() - start
        # Every method's answer is checked against numpy's: a fast wrong
        # answer is no result.
        if not check(np, result, want, spec["dtype"]):
            print(json.dumps({"method": method, "error": "result differs from np.einsum"}), flush=True)
            continue
        runs = [first]
        if first < spec["call_limit"]:
            number = max(1, math.ceil(spec["min_loop"] / max(first, 1e-9)))
            repeats = max(1, min(15, int(spec["budget"] // (number * max(first, 1e-9)))))
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(number):
                    call()
                runs.append((time.perf_counter() - start) / number)
        print(json.dumps({"method": method, "seconds": statistics.median(runs), "repeats": len(runs)}),
              flush=True)


def check(np, got, want, dtype):
    if got.shape != want.shape:
        return False
    if np.dtype(dtype).kind in "biu":
        return bool(np.array_equal(got, want))
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    tol = {"float16": 5e-2, "float32": 1e-3, "complex64": 1e-3}.get(dtype, 1e-9)
    return bool(np.allclose(got, want, rtol=tol, atol=tol * max(scale, 1.0)))


def run_case(spec, threads, limit):
    """Every method's time on one case at `threads` threads, in a fresh
    process stopped after `limit` seconds (the methods it finished by then
    are kept)."""
    proc, _, lines = cx.spawn_worker(dict(spec, threads=threads), threads, script=__file__)
    got = {}
    deadline = time.time() + limit
    try:
        while True:
            msg = lines.get(timeout=max(0.1, deadline - time.time()))
            if msg is None:
                break
            got[msg["method"]] = msg.get("seconds", msg.get("error"))
    except queue.Empty:
        proc.kill()
    proc.wait()
    return got


# ------------------------------------------------------------------- report


def data_bytes(spec):
    """Bytes of the operands as stored (a broadcast operand at its stored
    size) and of the result, each once."""
    size = ITEMSIZE[spec["dtype"]]
    inputs, output = spec["subscripts"].split("->")
    dims = {}
    total = 0
    for k, (term, shape) in enumerate(zip(inputs.split(","), spec["shapes"])):
        for label, d in zip(term, shape):
            dims[label] = d
        stored = math.prod(shape[1:]) if spec["layout"] == "broadcast" and k == 0 else math.prod(shape)
        total += stored * size
    return total + math.prod(dims[c] for c in output) * size


def product_flops(spec):
    """FLOPs of a matrix-product case (2 per multiply-add; 8 per complex
    one), in its cheapest pairwise order for the chain."""
    inputs, output = spec["subscripts"].split("->")
    terms = inputs.split(",")
    dims = {}
    for term, shape in zip(terms, spec["shapes"]):
        dims.update(zip(term, shape))
    per = 8 if spec["dtype"].startswith("complex") else 2
    if len(terms) == 2:
        return per * math.prod(dims.values())
    i, j, k, l = (dims[c] for c in "ijkl")
    return per * min(i * j * k + i * k * l, j * k * l + i * j * l)


def achieved(spec, seconds, limits, threads):
    at = cx.limits_at(limits, threads)
    if spec["product"]:
        precision = PRECISION.get(spec["dtype"])
        if precision is None:
            return None, None
        gflops = product_flops(spec) / seconds / 1e9
        return gflops / at[f"fma_{precision}_gflops"], f"{gflops:.1f} GFLOP/s"
    nbytes = data_bytes(spec)
    level = cx.level_of(nbytes, limits, threads)
    gbs = nbytes / seconds / 1e9
    return gbs / at["read_gbytes_per_second"][level], f"{gbs:.1f} GB/s {level}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kinds")
    parser.add_argument("--axes", default="size,dtype,layout")
    parser.add_argument("--dtypes", help="only these dtypes on the dtype axis (comma-separated)")
    parser.add_argument("--layouts", help="only these layouts on the layout axis (comma-separated)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.chdir(ROOT)
    started = time.time()
    kinds = set(args.kinds.split(",")) if args.kinds else None
    if kinds and kinds - {k[0] for k in KINDS}:
        sys.exit(f"--kinds: unknown {', '.join(sorted(kinds - {k[0] for k in KINDS}))}")
    axes = set(args.axes.split(","))
    dtypes = set(args.dtypes.split(",")) if args.dtypes else None
    layouts = set(args.layouts.split(",")) if args.layouts else None
    for given, known, flag in [(dtypes, DTYPES, "--dtypes"), (layouts, LAYOUTS, "--layouts")]:
        if given and given - set(known):
            sys.exit(f"{flag}: unknown {', '.join(sorted(given - set(known)))}")
    budget, min_loop, call_limit = (0.1, 0.01, 5.0) if args.quick else (0.4, 0.05, 10.0)

    cp.ensure_environment()
    info = json.loads(subprocess.run([cx.VENV_PYTHON, os.path.abspath(cp.__file__), "--info"],
                                     capture_output=True, text=True, check=True).stdout)
    limits = cx.machine_limits()
    caches = (limits["l2_bytes"], limits["l3_bytes"])
    todo = cases(caches, kinds, axes, dtypes, layouts)
    cx.log(f"{len(todo)} cases x 2 thread counts")
    load_start = os.getloadavg()[0]
    other = cx.OtherLoad()
    rows = []
    for index, (axis, spec) in enumerate(todo):
        row = dict(axis=axis, spec=spec, times={})
        for threads in cx.THREADS:
            spec_t = dict(spec, budget=budget, min_loop=min_loop, call_limit=call_limit)
            got = run_case(spec_t, threads, limit=12 * call_limit)
            row["times"][threads] = got
            ours = got.get("einsumc")
            peers = {m: got.get(m) for m, _ in PEERS}
            best = min(((t, m) for m, t in peers.items() if isinstance(t, float)), default=None)
            cx.log(f"[{index + 1}/{len(todo)}] {threads}t {axis} {spec['kind']} {spec['dtype']} {spec['layout']} "
                   f"{spec['size']}: ours {fmt(ours)}, best peer {fmt(best and best[0])}")
        rows.append(row)
    report = render(rows, limits, caches, info, args, started, load_start, other.cores())
    print(report)
    if not args.no_write:
        cx.write_doc(report, BEGIN, END, "## The kernel sweep\n\n{block}\n")


def fmt(t):
    return cx.fmt_time(t) if isinstance(t, float) else str(t)


def render(rows, limits, caches, info, args, started, load_start, other_cores):
    label = dict(PEERS + OURS)
    out = []
    src = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    pools = "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})"
                      for p in info["threadpools"])
    flags = (" --quick" if args.quick else "") + (f" --kinds {args.kinds}" if args.kinds else "") \
        + (f" --axes {args.axes}" if args.axes != "size,dtype,layout" else "") \
        + (f" --dtypes {args.dtypes}" if args.dtypes else "") + (f" --layouts {args.layouts}" if args.layouts else "")
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    out.append(f"- Command: `{COMMAND}{flags}`" + (" (quick: small budgets, noisy figures)" if args.quick else ""))
    out.append(f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; source: commit {src}"
               + (" with uncommitted changes" if dirty else ""))
    out.append(f"- CPU: {limits['cpu']}; `nproc` = {limits['cores']}; L2 {caches[0] >> 10} KiB per core, "
               f"L3 {caches[1] >> 20} MiB; Linux {platform.release()}")
    out.append(f"- numpy {info['numpy']} ({info['blas']}; threadpoolctl: {pools}), opt_einsum {info['opt_einsum']}, "
               f"Python {info['python']}")
    lim = []
    for t, at in sorted(limits["threads"].items()):
        r = at["read_gbytes_per_second"]
        lim.append(f"{t}t: FMA f64 {at['fma_f64_gflops']:.1f} / f32 {at['fma_f32_gflops']:.1f} GFLOP/s, "
                   f"read L2 {r['L2']:.1f} / L3 {r['L3']:.1f} / DRAM {r['DRAM']:.1f} GB/s")
    out.append("- Limits (`einsum-explain --limits`, this run): " + "; ".join(lim))
    out.append(f"- Wall time {(time.time() - started) / 60:.1f} min; load average at the start {load_start:.2f}; "
               f"other processes' CPU during the run {other_cores:.2f} cores")
    out.append("")
    out.append("Ratio = best peer's time / einsumc.einsum's (above 1: ours faster); peers: "
               + ", ".join(label[m] for m, _ in PEERS) + ". Achieved: ours against the machine's limit (see the "
               "script's docstring). Every result was checked against np.einsum's.")
    out.append("")

    def ratio(row, threads):
        got = row["times"][threads]
        ours = got.get("einsumc")
        peers = [(got.get(m), m) for m, _ in PEERS if isinstance(got.get(m), float)]
        if not isinstance(ours, float) or not peers:
            return None, None, ours
        best = min(peers)
        return best[0] / ours, best, ours

    # Summaries.
    out.append("| axis | cases | geomean ratio 1t | geomean ratio 2t | slower than best peer (1t / 2t) |")
    out.append("|---|---:|---:|---:|---:|")
    for axis in ["size", "dtype", "layout", "all"]:
        sel = [r for r in rows if axis == "all" or r["axis"] == axis]
        if not sel:
            continue
        r1 = [x for x in (ratio(r, 1)[0] for r in sel) if x]
        r2 = [x for x in (ratio(r, 2)[0] for r in sel) if x]
        out.append(f"| {axis} | {len(sel)} | {cx.geomean(r1) or 0:.2f} | {cx.geomean(r2) or 0:.2f} | "
                   f"{sum(x < 1 for x in r1)} / {sum(x < 1 for x in r2)} |")
    out.append("")
    out.append("| kind | subscripts | geomean ratio 1t | geomean ratio 2t | worst 1t | worst 2t |")
    out.append("|---|---|---:|---:|---:|---:|")
    for name, sub, _, _ in KINDS:
        sel = [r for r in rows if r["spec"]["kind"] == name]
        if not sel:
            continue
        r1 = [(x, r) for r in sel for x in [ratio(r, 1)[0]] if x]
        r2 = [(x, r) for r in sel for x in [ratio(r, 2)[0]] if x]

        def worst(rs):
            if not rs:
                return "-"
            x, r = min(rs, key=lambda p: p[0])
            s = r["spec"]
            return f"{x:.2f} ({s['dtype']}, {s['layout']}, {s['size']})"

        out.append(f"| {name} | `{sub}` | {cx.geomean([x for x, _ in r1]) or 0:.2f} | "
                   f"{cx.geomean([x for x, _ in r2]) or 0:.2f} | {worst(r1)} | {worst(r2)} |")
    out.append("")
    out.append("<details><summary>Every case</summary>")
    out.append("")
    out.append("| axis | kind | dtype | layout | size | shapes | ours 1t | best peer 1t | ratio 1t | achieved 1t "
               "| ours 2t | best peer 2t | ratio 2t | achieved 2t |")
    out.append("|---|---|---|---|---|---|---:|---|---:|---|---:|---|---:|---|")
    for row in rows:
        s = row["spec"]
        cells = [row["axis"], s["kind"], s["dtype"], s["layout"], s["size"],
                 " ".join("x".join(map(str, sh)) for sh in s["shapes"])]
        for threads in cx.THREADS:
            x, best, ours = ratio(row, threads)
            frac, what = (achieved(s, ours, limits, threads) if isinstance(ours, float) else (None, None))
            cells += [fmt(ours), f"{fmt(best[0])} ({label[best[1]]})" if best else "-",
                      f"{x:.2f}" if x else "-",
                      f"{what} = {frac * 100:.0f}%" if frac is not None else (what or "-")]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("</details>")
    errors = [(r, t, m) for r in rows for t in cx.THREADS for m, v in r["times"][t].items() if isinstance(v, str)]
    for r, t, m in errors:
        s = r["spec"]
        out.append(f"- {t}t {s['kind']} {s['dtype']} {s['layout']} {s['size']}: {label[m]}: "
                   f"{r['times'][t][m]}")
    return "\n".join(out)


if __name__ == "__main__":
    main()
