#!/usr/bin/env python3
"""Execution time: our executor against numpy.einsum and opt_einsum.

One command, run from anywhere (it changes to the repository root):

    python3 benches/compare_exec.py

It needs only python3 (3.11 or later) and cargo. A full run takes about
10 minutes on the 2-core machine (5.5 for the bench, 4.5 for the peers;
`--quick` about 4.5). In one run, one phase after the other (never in
parallel, so timings don't compete):

1. Python environment: creates (or reuses) the venv `.venv-bench/` in the
   repository root and `pip install numpy opt_einsum` into it; every numpy
   and opt_einsum timing runs with that venv's python. (The venv holds a
   `.gitignore` of `*`, so git ignores it.)
2. Ours: `cargo bench --bench exec` (release; CARGO_TARGET_DIR is honoured),
   then criterion's median from
   `<target>/criterion/<group>/<id>/new/estimates.json` for the groups
   `exec_1t`, `exec_2t` (a compiled `einsum::Einsum`, `Par::Seq` or
   `Par::Rayon(2)`, `run_into` a preallocated output) and
   `small_overhead`. Every file must have been written by this run. Then
   the machine's limits, measured afresh in this run by
   `einsum-explain --limits --format json` (FMA peaks for f32 and f64;
   read and copy bandwidth of the L2 cache, the L3 cache and DRAM).
3. Peers, for 1 and then 2 threads (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
   MKL_NUM_THREADS set in the environment of a fresh process, before numpy
   is imported): `numpy.einsum(optimize=False)`, `numpy.einsum(optimize=True)`
   and `opt_einsum.contract` on every workload of ../shared/workloads.toml,
   same subscripts, shapes and dtypes, operands made as the file says
   (seeded standard-normal floats, integers in [-100, 100)). Where the
   workload's note says numpy returns a view, each method is followed by
   `np.ascontiguousarray`. One process per (threads, workload, method):
   one warm-up call, then timeit-style repeats (loops of at least 0.1 s;
   20 ms with --quick) for up to a time budget (2 s; 0.3 s with --quick),
   at most 15 (5) repeats and at least 3 where they fit, the median. A call
   still running after the call limit (20 s; 10 s with --quick) is killed
   and reported as not finishing (numpy's optimize=False on chain4/chain5
   loops over all 1e13 to 4e14 index points at once).
   numpy.einsum(optimize=False) never uses threads, so at 2 threads it is
   only re-run where it was within 2x of the best peer at 1 thread. Also
   timed: numpy's `a @ b` for 1024 and 2048 float64 and 2048 float32 (the
   BLAS reference for GEMM-shaped workloads), before and after each thread
   count's workloads; the faster of the two medians is the reference.
4. The report: a Markdown table to stdout, also written into
   docs/performance.md between `<!-- compare_exec:begin -->` and
   `<!-- compare_exec:end -->` (the section is added at the end if absent;
   nothing else in the file changes).

Per workload: our time, the best peer's time (and which) and the ratio
best peer / ours (above 1: we are faster), for 1 and 2 threads; the
geometric mean of the ratios per thread count. Memory-bound workloads
(FLOPs per element moved at most 4: row dots, dot, sums, Hadamard,
transposes, trace, diag, outer) get their achieved GB/s (bytes read and
written once, see `moved_bytes`) as a fraction of the measured bandwidth
of the nearest level that holds them all (read when the result is under
10% of the bytes, copy otherwise; same thread count); compute-bound
(GEMM-shaped) workloads their GFLOP/s (opt_einsum's FLOP count of the best
order) as a fraction of the measured FMA peak for the dtype and of numpy
`a @ b`'s of the same dtype at the nearest size, same thread count.
Problems moving under 64 KB measure call overhead and get no fraction.

Options:
  --quick           short criterion times and small peer budgets (smoke test;
                    the report says so)
  --only NAME[,..]  only these workloads (the limits and the overhead bench
                    still run)
  --no-cargo        reuse the criterion results already in <target>/criterion
  --no-write        print the report only; leave docs/performance.md alone
Progress goes to stderr.
"""
import argparse
import datetime
import json
import math
import os
import platform
import queue
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.normpath(os.path.join(ROOT, "..", "shared", "workloads.toml"))
VENV = os.path.join(ROOT, ".venv-bench")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN = "<!-- compare_exec:begin -->"
END = "<!-- compare_exec:end -->"
COMMAND = "python3 benches/compare_exec.py"
BENCH_CMD = ["cargo", "bench", "--bench", "exec"]

METHODS = [
    ("einsum", "np.einsum"),  # numpy.einsum(optimize=False)
    ("einsum_opt", "np.einsum(optimize=True)"),
    ("opt_einsum", "opt_einsum.contract"),
]
# numpy's a @ b, the BLAS reference: (name, n, dtype).
MATMULS = [("matmul_1024_f64", 1024, "float64"), ("matmul_2048_f64", 2048, "float64"),
           ("matmul_2048_f32", 2048, "float32")]
THREADS = [1, 2]
BYTES = {"float32": 4, "float64": 8, "int64": 8, "int32": 4, "complex64": 8, "complex128": 16}
LINE = 64  # bytes: a diagonal element costs its whole cache line
PEAK_OF = {"float64": "fma_f64_gflops", "complex128": "fma_f64_gflops", "float32": "fma_f32_gflops",
           "complex64": "fma_f32_gflops"}
MEMORY_BOUND_INTENSITY = 4.0  # FLOPs per element moved, at most
BUSY_CORES = 0.1  # other processes' average CPU use above which the report warns
TINY_BYTES = 64 * 1024  # smaller problems measure call overhead, not the memory system


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def shell(cmd):
    return " ".join(a if re.fullmatch(r"[\w./=:,-]+", a) else "'" + a + "'" for a in cmd)


def workloads():
    if not os.path.exists(WORKLOADS):
        sys.exit(f"cannot read {WORKLOADS}: the benches read the public workloads from a "
                 "`shared/` folder beside this repository's folder; put it there")
    with open(WORKLOADS, "rb") as f:
        return tomllib.load(f)["workload"]


# ------------------------------------------------------------------- worker
# Runs inside the venv, in a fresh process per measurement, with the thread
# variables already in its environment.


def make_operands(spec):
    """The workload's operands, as every worker makes them: seeded
    standard-normal floats, integers in [-100, 100)."""
    import numpy as np

    rng = np.random.default_rng(spec["seed"])
    dtype = spec["dtype"]

    def make(shape):
        if dtype == "int64":
            return rng.integers(-100, 100, size=shape, dtype=np.int64)
        return rng.standard_normal(shape, dtype=np.dtype(dtype))

    return [make(tuple(s)) for s in spec["shapes"]]


def measure(call, spec):
    """Times `call` as every worker does (followed by np.ascontiguousarray
    where the workload's result is a view), emitting ready, the first call's
    time, then the median of the repeats, as JSON lines."""
    import numpy as np

    fn = call
    if spec["view"]:
        def fn():
            return np.ascontiguousarray(call())

    def emit(**kw):
        print(json.dumps(kw), flush=True)

    emit(ready=True)
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    emit(first=first)
    budget, min_loop, max_repeats = spec["budget"], spec["min_loop"], spec["max_repeats"]
    number = max(1, math.ceil(min_loop / max(first, 1e-9)))
    repeats = max(1, min(max_repeats, int(budget // (number * max(first, 1e-9)))))
    if first * number * 3 <= budget * 1.5:
        repeats = max(repeats, 3)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    emit(seconds=statistics.median(runs), repeats=repeats, number=number, first=first)


def worker(spec):
    import numpy as np

    ops = make_operands(spec)
    subscripts = spec["subscripts"]
    method = spec["method"]
    if method == "einsum":
        def call():
            return np.einsum(subscripts, *ops, optimize=False)
    elif method == "einsum_opt":
        def call():
            return np.einsum(subscripts, *ops, optimize=True)
    elif method == "opt_einsum":
        import opt_einsum

        def call():
            return opt_einsum.contract(subscripts, *ops)
    elif method == "matmul":
        a, b = ops

        def call():
            return a @ b
    else:
        raise SystemExit(f"unknown method {method}")
    measure(call, spec)


def info_worker():
    """Versions, and per workload opt_einsum's FLOP count of the best order
    and the bytes moved (see `moved_bytes`)."""
    import numpy as np
    import opt_einsum

    out = {}
    for w in workloads():
        _, info = opt_einsum.contract_path(w["subscripts"], *[tuple(s) for s in w["shapes"]], shapes=True)
        moved, out_bytes = moved_bytes(info.input_subscripts.split(","), info.output_subscript, info.size_dict,
                                       BYTES[w["dtype"]])
        out[w["name"]] = {"flops": int(info.opt_cost), "moved": moved, "out_bytes": out_bytes}
    print(json.dumps({"numpy": np.__version__, "opt_einsum": opt_einsum.__version__,
                      "python": platform.python_version(), "blas": blas_name(np), "workloads": out}))


def moved_bytes(terms, output, sizes, size):
    """Bytes read and written once: every operand and the result (terms with
    the ellipsis spelled out as labels, as opt_einsum's PathInfo has them);
    an operand with a repeated label (a diagonal) costs one cache line per
    element it reads."""
    total = 0
    for term in terms:
        elements = math.prod(sizes[a] for a in set(term))
        total += elements * (max(size, LINE) if len(set(term)) < len(term) else size)
    out_bytes = math.prod(sizes[a] for a in output) * size
    return total + out_bytes, out_bytes


def blas_name(np):
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - the name is decoration only
        return "unknown"


# ------------------------------------------------------------ orchestration


def ensure_venv():
    """Creates or reuses .venv-bench with numpy and opt_einsum installed."""
    check = [VENV_PYTHON, "-c", "import numpy, opt_einsum"]
    if os.path.exists(VENV_PYTHON) and subprocess.run(check, capture_output=True).returncode == 0:
        log(f"reusing {VENV}")
        return
    if not os.path.exists(VENV_PYTHON):
        log(f"$ {shell([sys.executable, '-m', 'venv', VENV])}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True, stdout=sys.stderr)
    with open(os.path.join(VENV, ".gitignore"), "w") as f:
        f.write("*\n")
    pip = [VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "numpy", "opt_einsum"]
    log(f"$ {shell(pip)}")
    subprocess.run(pip, check=True, stdout=sys.stderr)
    subprocess.run(check, check=True)


def spawn_worker(spec, threads, python=VENV_PYTHON, script=None):
    """A fresh process of `python` running `script`'s worker (this file's by
    default) on `spec`, with the thread variables set to `threads`: the
    process, its command, and a queue of the JSON lines it prints (None
    when it ends)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [python, os.path.abspath(script or __file__), "--worker", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            lines.put(json.loads(line))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return proc, cmd, lines


def run_worker(spec, threads, call_limit, python=VENV_PYTHON, script=None):
    """One measurement in a fresh process of `python` running `script`'s
    worker (this file's by default); None if a call overran."""
    proc, cmd, lines = spawn_worker(spec, threads, python, script)
    # Making the operands (up to 100M normals), then the first call, then the
    # repeats: each with its own deadline.
    deadlines = {"ready": 300, "first": call_limit, "seconds": spec["budget"] * 2 + 2 * call_limit}
    result = {}
    try:
        for key, limit in deadlines.items():
            while key not in result:
                msg = lines.get(timeout=limit)
                if msg is None:
                    raise RuntimeError(f"worker failed: {shell(cmd)}")
                result.update(msg)
    except queue.Empty:
        proc.kill()
        proc.wait()
        return None
    proc.wait()
    return result


def machine_limits():
    """This machine's limits, measured afresh by this checkout's
    `einsum-explain --limits` (FMA peaks; read and copy bandwidth of the L2
    cache, the L3 cache and DRAM; at 1 thread and at every core), as its
    JSON."""
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "einsum-explain", "--", "--limits", "--format", "json"]
    log(f"$ {shell(cmd)}")
    return json.loads(subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def limits_at(limits, threads):
    """The limits measured at `threads` threads (else at one)."""
    return limits["threads"].get(str(threads)) or limits["threads"]["1"]


def level_of(nbytes, limits, threads):
    """The nearest level that holds `nbytes` of data: each core's L2, the
    shared L3, else DRAM (as `einsum-explain --analyze` picks it)."""
    if nbytes <= limits["l2_bytes"] * threads:
        return "L2"
    if nbytes <= limits["l3_bytes"]:
        return "L3"
    return "DRAM"


def target_dir():
    path = os.environ.get("CARGO_TARGET_DIR")
    return os.path.abspath(path) if path else os.path.join(ROOT, "target")


def criterion_median(group, bench_id, since):
    path = os.path.join(target_dir(), "criterion", group, bench_id, "new", "estimates.json")
    if not os.path.exists(path):
        sys.exit(f"missing {path}: did `cargo bench --bench exec` run {group}/{bench_id}?")
    if since is not None and os.path.getmtime(path) < since:
        sys.exit(f"{path} is older than this run: criterion did not rewrite it")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] * 1e-9, os.path.getmtime(path)


def fmt_time(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


class OtherLoad:
    """CPU time other processes used during a phase, in cores: all busy time
    of the machine (/proc/stat, steal included) less this script's and its
    waited-for children's (cargo, the bench, the workers)."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal ...
            busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            busy = None
        ours = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))
        return time.time(), busy, ours

    def cores(self):
        (t0, busy0, ours0), (t1, busy1, ours1) = self.start, self._sample()
        if busy0 is None or busy1 is None or t1 <= t0:
            return None
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (t1 - t0)


def l3_bytes():
    """The last-level cache's size (sysfs), or None."""
    try:
        base = "/sys/devices/system/cpu/cpu0/cache"
        sizes = {}
        for index in (d for d in os.listdir(base) if d.startswith("index")):
            with open(os.path.join(base, index, "level")) as f:
                level = int(f.read())
            with open(os.path.join(base, index, "size")) as f:
                text = f.read().strip()
            scale = {"K": 1024, "M": 1024 ** 2}.get(text[-1], 1)
            sizes[level] = int(text.rstrip("KM")) * scale
        return sizes[max(sizes)]
    except (OSError, ValueError, KeyError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--no-cargo", action="store_true")
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

    os.chdir(ROOT)
    started = time.time()
    loads = {}
    all_workloads = workloads()
    selected = all_workloads
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {w["name"] for w in all_workloads}
        unknown = [n for n in names if n not in known]
        if unknown:
            sys.exit(f"--only: no workload named {', '.join(unknown)} in {WORKLOADS}")
        selected = [w for w in all_workloads if w["name"] in names]
    budget, call_limit, max_repeats, min_loop = (0.3, 10.0, 5, 0.02) if args.quick else (2.0, 20.0, 15, 0.1)

    # 1. The venv.
    ensure_venv()
    info = json.loads(subprocess.run([VENV_PYTHON, os.path.abspath(__file__), "--info"], capture_output=True,
                                     text=True, check=True).stdout)

    # 2. Ours.
    loads["our bench"] = os.getloadavg()[0]
    other_bench = OtherLoad()
    bench_started = time.time()
    bench_env = dict(os.environ)
    if args.quick:
        bench_env["EINSUM_BENCH_QUICK"] = "1"
    if args.only:
        bench_env["EINSUM_BENCH_FILTER"] = ",".join(w["name"] for w in selected)
    if args.no_cargo:
        log(f"--no-cargo: reusing the criterion results in {target_dir()}/criterion")
        since = None
    else:
        log(f"$ {' '.join(f'{k}={bench_env[k]}' for k in ('EINSUM_BENCH_QUICK', 'EINSUM_BENCH_FILTER') if k in bench_env)}"
            f" {shell(BENCH_CMD)}")
        subprocess.run(BENCH_CMD, cwd=ROOT, env=bench_env, stdout=sys.stderr, check=True)
        since = bench_started
    bench_seconds = time.time() - bench_started
    ours = {}
    oldest = None
    for w in selected:
        for threads in THREADS:
            ours[(w["name"], threads)], mtime = criterion_median(f"exec_{threads}t", w["name"], since)
            oldest = mtime if oldest is None else min(oldest, mtime)
    limits = machine_limits()
    overhead, _ = criterion_median("small_overhead", "run_4x4", since)

    # 3. Peers.
    other = {"our bench": other_bench.cores()}
    loads["peers"] = os.getloadavg()[0]
    other_peers = OtherLoad()
    peers_started = time.time()
    theirs = {}  # (name, threads, method) -> seconds, or "timeout" / "skipped"
    matmul_runs = {}  # (name, threads) -> [seconds before the workloads, after]

    def time_matmuls(threads, when):
        for name, n, dtype in MATMULS:
            spec = dict(subscripts="ik,kj->ij", shapes=[[n, n], [n, n]], dtype=dtype, method="matmul",
                        view=False, seed=1000, budget=budget, min_loop=min_loop, max_repeats=max_repeats)
            log(f"{threads}t {name} ({when} the workloads)")
            r = run_worker(spec, threads, call_limit)
            if r is not None:
                matmul_runs.setdefault((name, threads), []).append(r["seconds"])
            log("   ", "did not finish" if r is None else fmt_time(r["seconds"]))

    for threads in THREADS:
        time_matmuls(threads, "before")
        for index, w in enumerate(all_workloads):
            if w not in selected:
                continue
            view = "returns a view" in w.get("note", "")
            for method, _ in METHODS:
                key = (w["name"], threads, method)
                if method == "einsum" and threads > 1:
                    # Single-threaded code: re-run only where it may be the best.
                    one = theirs.get((w["name"], 1, "einsum"))
                    best_other = min((t for m, _ in METHODS if m != "einsum"
                                      for t in [theirs.get((w["name"], 1, m))] if isinstance(t, float)),
                                     default=None)
                    if not isinstance(one, float) or (best_other is not None and one > 2 * best_other):
                        theirs[key] = "skipped"
                        continue
                spec = dict(subscripts=w["subscripts"], shapes=w["shapes"], dtype=w["dtype"], method=method,
                            view=view, seed=index, budget=budget, min_loop=min_loop, max_repeats=max_repeats)
                log(f"{threads}t {w['name']} {method}")
                r = run_worker(spec, threads, call_limit)
                theirs[key] = "timeout" if r is None else r["seconds"]
                log("   ", f"did not finish in {call_limit:g} s" if r is None
                    else f"{fmt_time(r['seconds'])} ({r['repeats']}x{r['number']})")
        time_matmuls(threads, "after")
    # The reference is what BLAS can do: the faster of the two medians.
    matmul = {key: min(runs) for key, runs in matmul_runs.items()}
    peers_seconds = time.time() - peers_started
    other["peers"] = other_peers.cores()
    loads["end"] = os.getloadavg()[0]
    total_seconds = time.time() - started

    # 4. The report.
    out = []
    p = out.append
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
        commit = f"commit {commit}" + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "not a git checkout"
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    command = COMMAND + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "") \
        + (" --no-cargo" if args.no_cargo else "")
    if args.quick:
        p("**Smoke test (`--quick`): short measurements; the figures are noisy and not for comparison.**\n")
    p(f"- Command: `{command}`")
    p(f"- Date: {now}; source: {commit}")
    l3 = l3_bytes()
    p(f"- CPU: {cpu_model()}; `nproc` = {os.cpu_count()}"
      + (f"; last-level cache {l3 // 1024 ** 2} MiB" if l3 else "") + f"; {platform.system()} {platform.release()}")
    p(f"- numpy {info['numpy']} ({info['blas']}), opt_einsum {info['opt_einsum']}, Python {info['python']}; "
      f"{rustc}")
    if args.no_cargo:
        p(f"- Ours: criterion results REUSED from an earlier `{shell(BENCH_CMD)}` (oldest written "
          f"{datetime.datetime.fromtimestamp(oldest).strftime('%Y-%m-%d %H:%M')})")
    else:
        p(f"- Ours: `{shell(BENCH_CMD)}`" + (" with EINSUM_BENCH_QUICK=1" if args.quick else "")
          + ", criterion's median; `Par::Seq` (1t) and `Par::Rayon(2)` (2t), `run_into` a preallocated output "
          "after one warm-up call")
    p(f"- Peers: median of timeit-style repeats after one warm-up call, budget {budget:g} s per "
      f"(workload, method, threads), a call over {call_limit:g} s is killed; a fresh process per measurement "
      "with OMP/OPENBLAS/MKL_NUM_THREADS set; numpy and opt_einsum plan on every call, ours once per "
      "compiled expression")
    p(f"- Wall time: {total_seconds / 60:.1f} min (our bench {bench_seconds / 60:.1f} min, peers "
      f"{peers_seconds / 60:.1f} min); 1-minute load average as each phase starts: "
      + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()))
    if all(v is not None for v in other.values()):
        p("- CPU used by other processes (machine busy time less this run's own), average over the phase: "
          + ", ".join(f"{k} {v:.2f} cores" for k, v in other.items()))
        if max(other.values()) > BUSY_CORES:
            p(f"- **Warning: the machine was not quiet (other processes above {BUSY_CORES} cores on average in a "
              "phase): the figures are noisy, 2-thread ones most of all.**")
    p("")
    p("Ratio = best peer's time / ours: above 1, ours is faster. Achieved = ours against the machine: "
      "GB/s over the bytes read and written once, as a fraction of the measured bandwidth (read or copy, "
      "same threads) of the nearest level that holds them (L2, L3, DRAM), for memory-bound workloads; "
      "GFLOP/s (opt_einsum's count for the best order) as a fraction of the measured FMA peak and of numpy "
      "`a @ b`'s (same dtype, nearest size, same threads) for GEMM-shaped ones.")
    p("")
    p("| workload | subscripts | dtype | ours 1t | best peer 1t | ratio 1t | ours 2t | best peer 2t | ratio 2t "
      "| achieved 1t | achieved 2t |")
    p("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    ratios = {t: [] for t in THREADS}
    slower = []
    short = dict(METHODS)
    for w in selected:
        name = w["name"]
        flops, moved, out_bytes = (info["workloads"][name][k] for k in ("flops", "moved", "out_bytes"))
        intensity = flops / (moved / BYTES[w["dtype"]])
        cells = [name, f"`{w['subscripts']}`", w["dtype"]]
        achieved = []
        for threads in THREADS:
            mine = ours[(name, threads)]
            times = {m: theirs.get((name, threads, m)) for m, _ in METHODS}
            measured = {m: t for m, t in times.items() if isinstance(t, float)}
            if measured:
                best_method = min(measured, key=measured.get)
                best = measured[best_method]
                ratio = best / mine
                ratios[threads].append(ratio)
                cells += [fmt_time(mine), f"{fmt_time(best)} ({short[best_method]})", f"{ratio:.2f}"]
                if ratio < 1:
                    slower.append((name, threads, ratio, short[best_method], mine, best))
            else:
                cells += [fmt_time(mine), "—", "—"]
            if moved < TINY_BYTES:
                achieved.append(f"overhead-bound ({fmt_time(mine)}/call)")
            elif intensity <= MEMORY_BOUND_INTENSITY:
                kind = "read" if out_bytes < 0.1 * moved else "copy"
                level = level_of(moved, limits, threads)
                limit = limits_at(limits, threads)[f"{kind}_gbytes_per_second"][level] * 1e9
                gbs = moved / mine
                achieved.append(f"{gbs / 1e9:.1f} GB/s = {gbs / limit:.0%} of {level} {kind}")
            else:
                refs = [(n_, n, d) for n_, n, d in MATMULS if d == w["dtype"] and matmul.get((n_, threads))]
                if refs:
                    ref, n, _ = min(refs, key=lambda r: abs(math.log(flops / (2 * r[1] ** 3))))
                    ref_rate = 2 * n ** 3 / matmul[(ref, threads)]
                    rate = flops / mine
                    peak = PEAK_OF.get(w["dtype"])
                    peak_text = (f" = {rate / 1e9 / limits_at(limits, threads)[peak]:.0%} of FMA peak"
                                 if peak else "")
                    achieved.append(f"{rate / 1e9:.1f} GFLOP/s{peak_text}, {rate / ref_rate:.0%} of `@` {n}")
                else:
                    achieved.append(f"{flops / mine / 1e9:.1f} GFLOP/s")
        cells += achieved
        p("| " + " | ".join(cells) + " |")
    p("")
    p("Geometric mean of the ratios: "
      + "; ".join(f"{t} thread{'s' if t > 1 else ''} {geomean(ratios[t]):.2f} (over {len(ratios[t])})"
                  for t in THREADS if ratios[t]))
    p("")
    if slower:
        p("Slower than the best peer: " + "; ".join(
            f"{n} {t}t ({r:.2f}: {fmt_time(m)} against {meth} {fmt_time(b)})" for n, t, r, meth, m, b in slower))
        p("")

    def levels(at, kind):
        return " / ".join(f"{lv} {at[f'{kind}_gbytes_per_second'][lv]:.1f}" for lv in ("L2", "L3", "DRAM"))

    p("References (same run): machine limits by `einsum-explain --limits` (L2 "
      f"{limits['l2_bytes'] >> 10} KiB per core, L3 {limits['l3_bytes'] >> 20} MiB): "
      + "; ".join(f"{t}t FMA f64 {limits_at(limits, t)['fma_f64_gflops']:.1f} / f32 "
                  f"{limits_at(limits, t)['fma_f32_gflops']:.1f} GFLOP/s, read GB/s {levels(limits_at(limits, t), 'read')}, "
                  f"copy GB/s {levels(limits_at(limits, t), 'copy')}" for t in THREADS)
      + "; numpy `a @ b`, timed before and after each thread count's "
        "workloads, the faster median used: "
      + "; ".join(f"{n_} {t}t {' / '.join(fmt_time(x) for x in matmul_runs[(n_, t)])} = "
                  f"{2 * n ** 3 / matmul[(n_, t)] / 1e9:.1f} GFLOP/s"
                  for t in THREADS for n_, n, _ in MATMULS if (n_, t) in matmul)
      + f"; our per-call overhead, `Einsum::run` returning a new 4x4 `ij,jk->ik` (`Par::Seq`): "
        f"{fmt_time(overhead)} (`small_overhead/run_4x4`).")
    p("")
    p("Every peer's time:")
    p("")
    p("| workload | " + " | ".join(f"{label} {t}t" for t in THREADS for _, label in METHODS) + " |")
    p("|---|" + "---:|" * (len(THREADS) * len(METHODS)))
    for w in selected:
        cells = [w["name"]]
        for t in THREADS:
            for m, _ in METHODS:
                v = theirs.get((w["name"], t, m))
                cells.append(fmt_time(v) if isinstance(v, float) else
                             f"> {call_limit:g} s (killed)" if v == "timeout" else
                             "not re-run" if v == "skipped" else "—")
        p("| " + " | ".join(cells) + " |")
    p("")
    p("\"not re-run\": `np.einsum` (optimize=False) is single-threaded; at 2 threads it runs only where its "
      "1-thread time was within 2x of the best peer's.")

    report = "\n".join(out)
    print(report)
    if not args.no_write:
        write_doc(report)
        log(f"wrote {DOC}")
    log(f"total {total_seconds:.0f} s")


def write_doc(report, begin=BEGIN, end=END, section=None):
    """Puts `report` into docs/performance.md between the markers `begin`
    and `end` (appended at the end, under `section`'s text, if they are not
    there); the file is written whole (a temporary renamed into place)."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    block = f"{begin}\n{report.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + (section or SECTION).format(block=block)
    tmp = DOC + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, DOC)
    log(f"wrote {DOC}")


SECTION = """## Execution against numpy and opt_einsum

`python3 benches/compare_exec.py` (from anywhere; it sets up its own venv,
`.venv-bench/`, with numpy and opt_einsum): `cargo bench --bench exec`, then
numpy.einsum (optimize=False and True) and opt_einsum.contract on every
workload at 1 and 2 threads, numpy's `a @ b` and the machine's limits
(`einsum-explain --limits`) as references; the block below is its output, rewritten by each run
(`--quick` for a smoke test, `--only NAME[,NAME]`, `--no-cargo` to reuse
criterion's results; see the script's docstring for the method). A full
run takes about 10 minutes on the 2-core machine.

{block}
"""


if __name__ == "__main__":
    main()
