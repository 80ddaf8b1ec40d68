#!/usr/bin/env python3
"""Why this instead of numpy.einsum, opt_einsum or ndarray-einsum: the
README's short measured table.

One command, run from anywhere:

    python3 benches/why.py

It needs python3 (3.11 or later) and cargo; a run takes about 4 minutes on
the 2-core machine, plus a first build of the harness (about 4 more).
In one run, one step after the other (never in parallel):

1. The Python environment of `benches/compare_exec.py` (`.venv-bench/`, numpy
   and opt_einsum), plus threadpoolctl to name the OpenBLAS kernel numpy runs.
2. `cargo build --release` of `benches/peers/ndarray_einsum/`, a separate
   cargo project (its own workspace and lock file) that depends on our
   `einsum` and on the `ndarray-einsum` crate and times either on the same
   arrays; CARGO_TARGET_DIR is `<target>/peers`.
3. For each workload of WORKLOADS (names from ../shared/workloads.toml,
   which is read, never copied), every column, each in a fresh process:
   ours compiled (`einsum::Einsum`, `Par::Seq`, `run` returning a new array),
   ours per call (`einsum::einsum`: parse, plan, run), numpy.einsum with
   optimize=True and with optimize=False, opt_einsum.contract,
   ndarray_einsum::einsum, and last ours compiled on all threads. All but
   the last at 1 thread: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
   MKL_NUM_THREADS and RAYON_NUM_THREADS are 1; OPENBLAS_CORETYPE is
   removed, so OpenBLAS picks its kernel for this CPU. numpy and opt_einsum
   are timed by compare_exec.py's own worker (`run_worker`), the Rust
   columns by the harness with the same method: one warm-up call, loops of
   at least 0.1 s for up to 2 s, at most 15, the median per call. A call
   over 20 s is killed and reported as "> 20 s". Three rounds of all of
   this, one after the other; each cell keeps its lowest median (other
   processes on the machine only ever add time), and a cell that timed out
   or failed is not run again.
4. The report: a Markdown table on stdout, also written into README.md
   between `<!-- why:begin -->` and `<!-- why:end -->` (nothing else in the
   file changes; the markers must be there).

Options:
  --only NAME[,..]  these workloads instead of WORKLOADS
  --quick           short budgets (smoke test; the report says so)
  --no-write        print the report only; leave README.md alone
  --rounds N        passes over every cell (default 3)
Progress goes to stderr.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_exec as cx  # noqa: E402 - the numpy/opt_einsum worker, venv and helpers

ROOT = cx.ROOT
README = os.path.join(ROOT, "README.md")
BEGIN = "<!-- why:begin -->"
END = "<!-- why:end -->"
HARNESS = os.path.join(ROOT, "benches", "peers", "ndarray_einsum")
BINARY = "einsum-peer-ndarray-einsum"
COMMAND = "python3 benches/why.py"

# The story in six workloads: the seed example, a GEMM, a chain whose order
# matters, attention, a 4-d contraction, and per-call overhead.
WORKLOADS = ["seed_rowdot_f64", "gemm_1024_f64", "chain4", "attention_f32", "tensor4_abcd_cdef", "small_gemm_4"]

# (key, header, who runs it); the harness's method names and compare_exec's.
COLUMNS = [
    ("ours-compiled-seq", "ours, `Einsum` compiled", "harness"),
    ("ours-per-call", "ours, `einsum::einsum`", "harness"),
    ("einsum_opt", "`np.einsum` optimize=True", "numpy"),
    ("einsum", "`np.einsum` optimize=False", "numpy"),
    ("opt_einsum", "`opt_einsum.contract`", "numpy"),
    ("ndarray-einsum", "`ndarray_einsum::einsum`", "harness"),
    ("ours-compiled-all", "ours, `Einsum`, all threads", "harness"),
]
PEERS = {"einsum_opt", "einsum", "opt_einsum", "ndarray-einsum"}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}

INFO = """
import json, numpy, opt_einsum, threadpoolctl
numpy.ones((2, 2)) @ numpy.ones((2, 2))
blas = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
print(json.dumps({"numpy": numpy.__version__, "opt_einsum": opt_einsum.__version__, "blas": blas}))
"""


def ensure_venv():
    """compare_exec's venv, plus threadpoolctl."""
    cx.ensure_venv()
    if subprocess.run([cx.VENV_PYTHON, "-c", "import threadpoolctl"], capture_output=True).returncode != 0:
        pip = [cx.VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "threadpoolctl"]
        cx.log(f"$ {cx.shell(pip)}")
        subprocess.run(pip, check=True, stdout=sys.stderr)


def build():
    """Builds the harness; the path of its binary."""
    target = os.path.join(cx.target_dir(), "peers")
    cmd = ["cargo", "build", "--release", "--locked", "--manifest-path", os.path.join(HARNESS, "Cargo.toml")]
    cx.log(f"$ CARGO_TARGET_DIR={target} {cx.shell(cmd)}")
    subprocess.run(cmd, env=dict(os.environ, CARGO_TARGET_DIR=target), stdout=sys.stderr, check=True)
    return os.path.join(target, "release", BINARY)


def run_harness(binary, name, method, timing):
    """One harness measurement: {"seconds", "threads"} or {"status", "message"}."""
    env = dict(os.environ, **ONE_THREAD)
    if method == "ours-compiled-all":
        env.pop("RAYON_NUM_THREADS")
    args = [binary, name, method] + [str(timing[k]) for k in ("budget", "min_loop", "max_repeats", "call_limit")]
    # The harness ends itself on a slow first call; this only guards a hang.
    limit = 300 + 3 * timing["call_limit"] + 2 * timing["budget"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=limit)
    if out.returncode != 0:
        return {"status": "error", "message": (out.stderr.strip().splitlines() or ["exit status"])[-1]}
    word, _, rest = out.stdout.strip().partition(" ")
    if word != "seconds":
        return {"status": word, "message": rest}
    fields = rest.split()
    values = dict(zip(["seconds"] + fields[1::2], [fields[0]] + fields[2::2]))
    return {"seconds": float(values["seconds"]), "threads": int(values["threads"])}


def run_numpy(w, index, method, timing):
    """One numpy/opt_einsum measurement through compare_exec's worker."""
    spec = dict(subscripts=w["subscripts"], shapes=w["shapes"], dtype=w["dtype"], method=method,
                view="returns a view" in w.get("note", ""), seed=index, **timing)
    call_limit = spec.pop("call_limit")
    try:
        r = cx.run_worker(spec, 1, call_limit)
    except RuntimeError as e:
        return {"status": "error", "message": str(e)}
    return {"status": "timeout"} if r is None else {"seconds": r["seconds"], "threads": 1}


def fmt_ratio(r):
    return f"{r:.0f}×" if r >= 10 else f"{r:.3g}×"


def cpu():
    """/proc/cpuinfo's model name, family and model (a VM's model name can
    be as short as "AMD EPYC")."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown CPU"
    return f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')}, " \
           f"model {fields.get('model', '?')})"


def table(selected, results, call_limit):
    """The Markdown table and its footnotes."""
    threads_all = max((r.get("threads", 0) for (_, key), r in results.items() if key == "ours-compiled-all"),
                      default=os.cpu_count())
    headers = [h.replace("all threads", f"{threads_all} threads") for _, h, _ in COLUMNS]
    lines = ["| workload | subscripts | " + " | ".join(headers) + " |",
             "|---|---|" + "---:|" * len(COLUMNS)]
    notes = []
    for w in selected:
        row = {key: results[(w["name"], key)] for key, _, _ in COLUMNS}
        peers = {k: r["seconds"] for k, r in row.items() if k in PEERS and "seconds" in r}
        best = min(peers.values(), default=None)
        cells = [w["name"], f"`{w['subscripts']}`"]
        for key, header, _ in COLUMNS:
            r = row[key]
            if "seconds" in r:
                cell = cx.fmt_time(r["seconds"]) + (f" ({fmt_ratio(r['seconds'] / best)})" if best else "")
                cells.append(f"**{cell}**" if key in PEERS and r["seconds"] == best else cell)
            elif r["status"] == "timeout":
                cells.append(f"> {call_limit:g} s")
            else:
                cells.append("fails" if r["status"] == "error" else "wrong result")
                notes.append(f"{header} on {w['name']}: {r['status']} {r.get('message', '')}".strip())
        lines.append("| " + " | ".join(cells) + " |")
    return lines, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="passes over every cell; the fastest median is kept")
    args = parser.parse_args()
    os.chdir(ROOT)
    if not args.no_write:
        with open(README, encoding="utf-8") as f:
            if BEGIN not in f.read():
                sys.exit(f"{README} has no {BEGIN} ... {END} block to write into")
    all_workloads = cx.workloads()
    names = [n.strip() for n in args.only.split(",")] if args.only else WORKLOADS
    known = {w["name"]: (i, w) for i, w in enumerate(all_workloads)}
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"no workload named {', '.join(unknown)} in {cx.WORKLOADS}")
    if args.quick:
        timing = dict(budget=0.3, min_loop=0.02, max_repeats=5, call_limit=10.0)
    else:
        timing = dict(budget=2.0, min_loop=0.1, max_repeats=15, call_limit=20.0)
    coretype = os.environ.pop("OPENBLAS_CORETYPE", None)  # let OpenBLAS pick the kernel for this CPU
    if coretype:
        cx.log(f"removed OPENBLAS_CORETYPE={coretype} from the environment")
    os.environ.update({k: v for k, v in ONE_THREAD.items() if k != "RAYON_NUM_THREADS"})

    started = datetime.datetime.now(datetime.timezone.utc)
    ensure_venv()
    binary = build()
    info = json.loads(subprocess.run([cx.VENV_PYTHON, "-c", INFO], capture_output=True, text=True,
                                     check=True).stdout)

    load_start = os.getloadavg()[0]
    other = cx.OtherLoad()
    measured = datetime.datetime.now(datetime.timezone.utc)
    results = {}
    for round_ in range(1, args.rounds + 1):
        for name in names:
            index, w = known[name]
            for key, header, who in COLUMNS:
                previous = results.get((name, key))
                if previous is not None and "seconds" not in previous:
                    continue  # a timeout or a failure is not retried
                cx.log(f"round {round_}/{args.rounds} {name}: {header}")
                if who == "harness":
                    r = run_harness(binary, name, key, timing)
                else:
                    r = run_numpy(w, index, key, timing)
                cx.log("   ", cx.fmt_time(r["seconds"]) if "seconds" in r else f"{r['status']} {r.get('message', '')}")
                # Other processes only ever add time: keep the least disturbed round.
                if previous is None or "seconds" not in r or r["seconds"] < previous["seconds"]:
                    results[(name, key)] = r
    other_cores = other.cores()
    minutes = (datetime.datetime.now(datetime.timezone.utc) - measured).total_seconds() / 60

    selected = [known[n][1] for n in names]
    lines, notes = table(selected, results, timing["call_limit"])
    with open(os.path.join(HARNESS, "Cargo.lock"), encoding="utf-8") as f:
        theirs = re.search(r'name = "ndarray-einsum"\nversion = "([^"]+)"', f.read()).group(1)
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.split("(")[0].strip()
    blas = info["blas"][0] if info["blas"] else {}
    kernel = (f"{blas.get('internal_api', '?')} {blas.get('version', '')}, "
              f"kernel {blas.get('architecture', '?')}, {blas.get('num_threads', '?')} thread") if blas else "no BLAS found"
    out = []
    if args.quick:
        out += ["**Smoke test (`--quick`): short measurements, not for comparison.**", ""]
    out += lines
    out += ["",
            f"Median time per call (the lowest of {args.rounds} rounds' medians); in brackets, that time as a "
            "multiple of the fastest peer's (in bold; below 1× is faster than every peer). One thread in every "
            "column but the last.",
            "",
            f"Measured {measured:%Y-%m-%d} with `{COMMAND}"
            + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "")
            + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
            + f"` ({minutes:.1f} min) on {cpu()}, {os.cpu_count()} cores, {platform.system()}: "
            f"numpy {info['numpy']} ({kernel}), opt_einsum {info['opt_einsum']}, ndarray-einsum {theirs}, "
            f"{rustc}; OMP/OPENBLAS/MKL/RAYON_NUM_THREADS=1, OPENBLAS_CORETYPE unset. Each cell of each round "
            "is a fresh process: one warm-up call, then loops of at least "
            f"{timing['min_loop']:g} s for up to {timing['budget']:g} s, the median; a call over "
            f"{timing['call_limit']:g} s is killed. The shapes are in `../shared/workloads.toml`. "
            f"Load average at the start {load_start:.2f}"
            + (f"; other processes used {other_cores:.2f} cores on average while measuring" if other_cores is not None
               else "") + "."]
    if other_cores is not None and other_cores > cx.BUSY_CORES:
        out += ["", "**Warning: the machine was not quiet; the figures are noisy.**"]
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    report = "\n".join(out)
    print(report)
    if not args.no_write:
        with open(README, encoding="utf-8") as f:
            text = f.read()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(README, "w", encoding="utf-8") as f:
            f.write(f"{head}{BEGIN}\n{report}\n{END}{tail}")
        cx.log(f"wrote {README}")
    cx.log(f"total {(datetime.datetime.now(datetime.timezone.utc) - started).total_seconds():.0f} s")


if __name__ == "__main__":
    main()
