#!/usr/bin/env python3
"""einsumc from Python against numpy.einsum and opt_einsum, end to end.

One command, run from anywhere:

    python3 benches/compare_python.py

It needs python3 (3.11 or later), pip's access to PyPI and cargo. A full
run takes about 20 minutes on the 2-core machine (`--quick`: about 6). In
one run, one step after the other (never in parallel):

1. The environment: compare_exec.py's venv (`.venv-bench/`, numpy and
   opt_einsum) plus threadpoolctl, and einsumc built from this checkout
   (release) and installed into it, every run, so the figures are this
   commit's.
2. For 1 and then 2 threads, for every workload of ../shared/workloads.toml
   (read, never copied) and every method, a fresh process: numpy.einsum
   with optimize=False and optimize=True, opt_einsum.contract,
   opt_einsum.contract_expression (built before timing), einsumc.einsum and
   einsumc.contract_expression (built before timing). Timed end to end
   from Python, call overhead and the result's allocation included, by
   compare_exec.py's worker method (one warm-up call, loops of at least
   0.1 s for up to 2 s, at most 15, the median). OMP_NUM_THREADS,
   OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are the thread count, and
   einsumc.set_num_threads sets ours; OPENBLAS_CORETYPE is removed so
   OpenBLAS picks its best kernel for this CPU, and threadpoolctl's report
   of that kernel is recorded. numpy.einsum(optimize=False) is
   single-threaded code: at 2 threads it is re-run only where it was within
   2x of the best peer at 1 thread. A call over 20 s is killed.
3. The report: a Markdown table on stdout, also written into
   docs/performance.md between `<!-- compare_python:begin -->` and
   `<!-- compare_python:end -->` (added at the end if absent; nothing else
   in the file changes). Per workload and thread count: einsumc.einsum's
   time, the best peer's (of all four) and the ratio best peer / ours
   (above 1: we are faster); einsumc.contract_expression's time and its
   ratio to the best peer. Geometric means per thread count.

Options:
  --quick        short budgets (smoke test; the report says so)
  --only NAMES   comma-separated workload names
  --no-write     print the report only
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_exec as cx  # noqa: E402 - the venv, operands, timing loop and worker runner

ROOT = cx.ROOT
BEGIN = "<!-- compare_python:begin -->"
END = "<!-- compare_python:end -->"
COMMAND = "python3 benches/compare_python.py"
PACKAGE = os.path.join(ROOT, "crates", "einsum-py")

# (key, label, ours?)
METHODS = [
    ("np_einsum", "np.einsum(optimize=False)", False),
    ("np_einsum_opt", "np.einsum(optimize=True)", False),
    ("oe_contract", "opt_einsum.contract", False),
    ("oe_expression", "opt_einsum.contract_expression", False),
    ("einsumc", "einsumc.einsum", True),
    ("einsumc_expression", "einsumc.contract_expression", True),
]


def worker(spec):
    import numpy as np

    ops = cx.make_operands(spec)
    subscripts = spec["subscripts"]
    method = spec["method"]
    shapes = [a.shape for a in ops]
    if method == "np_einsum":
        def call():
            return np.einsum(subscripts, *ops, optimize=False)
    elif method == "np_einsum_opt":
        def call():
            return np.einsum(subscripts, *ops, optimize=True)
    elif method == "oe_contract":
        import opt_einsum

        def call():
            return opt_einsum.contract(subscripts, *ops)
    elif method == "oe_expression":
        import opt_einsum

        expr = opt_einsum.contract_expression(subscripts, *shapes)

        def call():
            return expr(*ops)
    elif method in ("einsumc", "einsumc_expression"):
        import einsumc

        einsumc.set_num_threads(spec["threads"])
        if method == "einsumc":
            def call():
                return einsumc.einsum(subscripts, *ops)
        else:
            expr = einsumc.contract_expression(subscripts, *shapes)

            def call():
                return expr(*ops)
    else:
        raise SystemExit(f"unknown method {method}")
    cx.measure(call, spec)


def info_worker():
    import numpy as np
    import opt_einsum
    import threadpoolctl

    import einsumc

    pools = [
        {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
        for p in threadpoolctl.threadpool_info()
    ]
    print(json.dumps({"numpy": np.__version__, "opt_einsum": opt_einsum.__version__,
                      "einsumc": einsumc.__file__, "python": platform.python_version(),
                      "blas": cx.blas_name(np), "threadpools": pools}))


def ensure_environment():
    cx.ensure_venv()
    pip = [cx.VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    cx.log(f"$ {cx.shell(pip + ['threadpoolctl', 'maturin'])}")
    subprocess.run(pip + ["threadpoolctl", "maturin"], check=True, stdout=sys.stderr)
    # This checkout's einsumc, release, every run (maturin from the venv).
    build = pip + ["--no-build-isolation", "--no-deps", "--force-reinstall", PACKAGE]
    cx.log(f"$ {cx.shell(build)}")
    env = dict(os.environ, PATH=os.path.join(cx.VENV, "bin") + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(build, check=True, stdout=sys.stderr, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--info", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.info:
        info_worker()
        return

    os.environ.pop("OPENBLAS_CORETYPE", None)  # OpenBLAS picks its kernel for this CPU
    os.chdir(ROOT)
    started = time.time()
    all_workloads = cx.workloads()
    selected = all_workloads
    if args.only:
        names = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = names - {w["name"] for w in all_workloads}
        if unknown:
            sys.exit(f"--only: no workload named {', '.join(sorted(unknown))} in {cx.WORKLOADS}")
        selected = [w for w in all_workloads if w["name"] in names]
    budget, call_limit, max_repeats, min_loop = (0.3, 10.0, 5, 0.02) if args.quick else (2.0, 20.0, 15, 0.1)

    ensure_environment()
    info = json.loads(subprocess.run([cx.VENV_PYTHON, os.path.abspath(__file__), "--info"], capture_output=True,
                                     text=True, check=True).stdout)
    load_start = os.getloadavg()[0]
    other = cx.OtherLoad()
    times = {}  # (workload, threads, method) -> seconds | "timeout" | "skipped"
    for threads in cx.THREADS:
        for index, w in enumerate(all_workloads):
            if w not in selected:
                continue
            view = "returns a view" in w.get("note", "")
            for method, _, _ in METHODS:
                key = (w["name"], threads, method)
                if method == "np_einsum" and threads > 1:
                    one = times.get((w["name"], 1, method))
                    best = min((t for m, _, ours in METHODS if not ours and m != method
                                for t in [times.get((w["name"], 1, m))] if isinstance(t, float)), default=None)
                    if not isinstance(one, float) or (best is not None and one > 2 * best):
                        times[key] = "skipped"
                        continue
                spec = dict(subscripts=w["subscripts"], shapes=w["shapes"], dtype=w["dtype"], method=method,
                            view=view, seed=index, budget=budget, min_loop=min_loop, max_repeats=max_repeats,
                            threads=threads)
                cx.log(f"{threads}t {w['name']} {method}")
                r = cx.run_worker(spec, threads, call_limit, script=__file__)
                times[key] = "timeout" if r is None else r["seconds"]
                cx.log("   ", f"did not finish in {call_limit:g} s" if r is None
                       else f"{cx.fmt_time(r['seconds'])} ({r['repeats']}x{r['number']})")
    other_cores = other.cores()
    total = time.time() - started

    report = render(selected, times, info, args.quick, total, load_start, other_cores)
    print(report)
    if not args.no_write:
        cx.write_doc(report, BEGIN, END, SECTION + "{block}\n")


def render(selected, times, info, quick, total, load_start, other_cores):
    out = []
    p = out.append
    kernels = ", ".join(f"{t['internal_api']} {t['version']} kernel {t['architecture']}"
                        for t in info["threadpools"] if t.get("internal_api")) or "none reported"
    p(f"Measured {datetime.date.today()} with `{COMMAND}`{' --quick (short budgets: a smoke test)' if quick else ''}"
      f" in {total / 60:.1f} min on {cx.cpu_model()}, {os.cpu_count()} cores: Python {info['python']}, "
      f"numpy {info['numpy']} ({info['blas']}; threadpoolctl: {kernels}), opt_einsum {info['opt_einsum']}; "
      f"OPENBLAS_CORETYPE unset. Load average at the start {load_start:.2f}"
      + (f"; other processes used {other_cores:.2f} cores on average while measuring." if other_cores is not None
         else "."))
    p("")
    p("Each cell is a fresh process timing one call from Python, end to end (argument handling, planning "
      "cache lookup, the result's allocation): the median of loops of at least 0.1 s. Ratio: the best of the "
      "four peers (numpy.einsum optimize=False/True, opt_einsum.contract, opt_einsum.contract_expression) over "
      "ours; above 1 we are faster. `expr`: einsumc.contract_expression's call against the same best peer.")
    p("")
    short = {"np_einsum": "np", "np_einsum_opt": "np opt", "oe_contract": "oe", "oe_expression": "oe expr"}
    header = "| workload |"
    rule = "|---|"
    for threads in cx.THREADS:
        header += f" einsumc {threads}t | best peer {threads}t | ratio | expr | ratio |"
        rule += "---:|---|---:|---:|---:|"
    p(header)
    p(rule)
    ratios = {(t, k): [] for t in cx.THREADS for k in ("einsumc", "einsumc_expression")}
    for w in selected:
        row = f"| {w['name']} |"
        for threads in cx.THREADS:
            peers = [(times.get((w["name"], threads, m)), m) for m, _, ours in METHODS if not ours]
            peers = [(t, m) for t, m in peers if isinstance(t, float)]
            best = min(peers, default=None)
            cells = []
            for key in ("einsumc", "einsumc_expression"):
                t = times.get((w["name"], threads, key))
                if isinstance(t, float) and best:
                    ratio = best[0] / t
                    ratios[(threads, key)].append(ratio)
                    cells.append((cx.fmt_time(t), f"{ratio:.2f}"))
                else:
                    cells.append((str(t), "—"))
            best_text = f"{cx.fmt_time(best[0])} ({short[best[1]]})" if best else "—"
            row += f" {cells[0][0]} | {best_text} | {cells[0][1]} | {cells[1][0]} | {cells[1][1]} |"
        p(row)
    p("")
    for threads in cx.THREADS:
        g1 = cx.geomean(ratios[(threads, "einsumc")])
        g2 = cx.geomean(ratios[(threads, "einsumc_expression")])
        behind = [w["name"] for w in selected
                  if isinstance(times.get((w["name"], threads, "einsumc")), float)
                  and any(isinstance(t, float) and t < times[(w["name"], threads, "einsumc")]
                          for m, _, ours in METHODS if not ours
                          for t in [times.get((w["name"], threads, m))])]
        p(f"- {threads} thread{'s' if threads > 1 else ''}: geometric mean of the ratio "
          f"{g1:.2f} (einsumc.einsum), {g2:.2f} (contract_expression); einsumc.einsum behind the best peer on "
          f"{len(behind)} of {len(selected)}" + (f": {', '.join(behind)}" if behind else "") + ".")
    return "\n".join(out) + "\n"


SECTION = """## einsumc from Python against numpy and opt_einsum

"""


if __name__ == "__main__":
    main()
