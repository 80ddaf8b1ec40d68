#!/usr/bin/env python3
"""Planning time and path quality: our planner against opt_einsum.contract_path.

One command, run from anywhere (it changes to the repository root):

    python3 benches/compare_planning.py > report.md

It runs, one after the other (never in parallel, so timings don't compete):

1. `cargo bench --bench plan -- plan_network` with criterion's settings as
   benches/plan.rs sets them, then reads each median from
   target/criterion/plan_network/<optimizer>/<n>/new/estimates.json. Every
   file must have been written by this run (checked by mtime).
2. `cargo run -q --release -p einsum-explain -- <subscripts> <shapes>
   --optimize <name>` for every (network, optimizer): our path's FLOP count.
   The printed `Optimized FLOP count` has 4 significant digits, so the count
   is summed exactly from the printed steps (`ab,bc->ac` each) with
   opt_einsum's cost function (size of all indices of the step x (terms - 1,
   at least 1, + 1 if an index is summed away)) and must round to the
   printed total. (`--format json` gives exact integers too since its u128
   counts are serialized with arbitrary precision; the text is kept because
   this check was written against it.)
3. opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=X) on
   the same networks our bench covers for that optimizer, in a subprocess per
   (network, optimizer) with a per-call timeout: median of 7 repeats
   (timeit-style loops for fast calls), or of 3 calls when one call takes over
   2 s. Also timed: opt_einsum's path function alone, without parsing and
   without building the PathInfo (what is closest to our `plan(&bound)`,
   which starts from an already bound expression). Timing runs with
   PYTHONHASHSEED=0.
4. opt_einsum's FLOPs (`info.opt_cost`) once per PYTHONHASHSEED in 0..10, each
   in a fresh process: its random-greedy's path changes with Python's string
   hashing (PYTHONHASHSEED), even though it seeds each trial.
   The table gives the median and the range; our planner is deterministic.

The Markdown report goes to stdout; cargo's and criterion's output and the
progress lines go to stderr.

Options: --timeout S (per-call limit for opt_einsum, default 120);
--skip-bench (reuse the criterion results already in target/: for working on
this script only, the report says so).
"""
import argparse
import datetime
import functools
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = os.path.join(ROOT, "benches", "networks.txt")
CRITERION = os.path.join(ROOT, "target", "criterion", "plan_network")

BENCH_CMD = ["cargo", "bench", "--bench", "plan", "--", "plan_network"]
BUILD_CMD = ["cargo", "build", "--release", "-p", "einsum-explain"]
EXPLAIN_CMD = ["cargo", "run", "-q", "--release", "-p", "einsum-explain", "--"]
VERSION_CMD = ["python3", "-c", "import opt_einsum; print(opt_einsum.__version__)"]

# (our criterion id, our explain name, opt_einsum optimize name); the order of
# the table. `random-greedy` is run as a fresh opt_einsum.RandomGreedy(
# max_repeats=32) per call; `auto` is each library's own automatic choice;
# our highest-quality search (reconfigure, 8 starts) is set against
# opt_einsum's (`auto-hq`: dp up to 20 operands, 128 random greedy runs
# beyond).
OPTIMIZERS = [
    ("greedy", "greedy", "greedy"),
    ("random-greedy-32", "random-greedy", "random-greedy"),
    ("branch-2", "branch", "branch-2"),
    ("dp", "dp", "dp"),
    ("optimal", "optimal", "optimal"),
    ("reconfigure-8", "reconfigure", "auto-hq"),
    ("auto", "auto", "auto"),
]
RANDOM_GREEDY_REPEATS = 32
HASH_SEEDS = range(11)


def covered(bench_id, n):
    """The sizes benches/plan.rs `optimizers(n)` times each optimizer at."""
    limit = {"branch-2": 20, "dp": 20, "optimal": 10}.get(bench_id)
    return limit is None or n <= limit


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def shell(cmd):
    return " ".join(a if re.fullmatch(r"[\w./=:-]+", a) else "'" + a + "'" for a in cmd)


def networks():
    nets = []
    with open(NETWORKS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            words = line.split()
            nets.append((int(words[0]), words[1], words[2:]))
    return nets


def shape_tuple(text):
    return tuple(int(d) for d in text.split("x"))


def size_dict(subscripts, shapes):
    sizes = {}
    for term, shape in zip(subscripts.split("->")[0].split(","), shapes):
        for label, dim in zip(term, shape_tuple(shape) if isinstance(shape, str) else shape):
            sizes[label] = dim
    return sizes


def step_flops(step, sizes):
    """opt_einsum's helpers.flop_count for one step written `ab,bc->ac`."""
    lhs, rhs = step.split("->")
    terms = lhs.split(",")
    labels = set(lhs.replace(",", ""))
    factor = max(1, len(terms) - 1) + (1 if labels - set(rhs) else 0)
    return math.prod(sizes[a] for a in labels) * factor




def sci(x):
    """`1.234e+05`, as numpy and our explain print FLOP counts."""
    mantissa, exp = f"{float(x):.3e}".split("e")
    sign = "-" if exp.startswith("-") else "+"
    return f"{mantissa}e{sign}{exp.lstrip('+-').rjust(2, '0')}"


def fmt_time(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


# ----------------------------------------------------------------- opt_einsum


class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout()


def worker(n, name, timeout, cost_only=False):
    """Times opt_einsum on network n with optimizer `name`; prints JSON."""
    import opt_einsum
    from opt_einsum import paths

    subscripts, shapes = next((s, [shape_tuple(x) for x in sh]) for m, s, sh in networks() if m == n)
    inputs, output = subscripts.split("->")
    sizes = size_dict(subscripts, shapes)
    input_sets = [frozenset(t) for t in inputs.split(",")]
    output_set = frozenset(output)

    def optimizer():
        if name == "random-greedy":
            return opt_einsum.RandomGreedy(max_repeats=RANDOM_GREEDY_REPEATS)
        return name

    def full():
        return opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=optimizer())

    def search_only():
        fn = optimizer()
        fn = fn if name == "random-greedy" else paths.get_path_fn(fn)
        return fn(input_sets, output_set, sizes, None)

    signal.signal(signal.SIGALRM, _alarm)
    if cost_only:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            print(json.dumps({"opt_cost": int(full()[1].opt_cost)}))
        except CallTimeout:
            print(json.dumps({"timeout": True}))
        return

    def timed(fn, number=1):
        signal.setitimer(signal.ITIMER_REAL, timeout * number)
        try:
            start = time.perf_counter()
            for _ in range(number):
                result = fn()
            return (time.perf_counter() - start) / number, result
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def measure(fn):
        """Median seconds per call: 7 repeats, or 3 calls when one is > 2 s."""
        first, result = timed(fn)
        if first > 2.0:
            runs = [first] + [timed(fn)[0] for _ in range(2)]
            return statistics.median(runs), len(runs), 1, result
        number = max(1, math.ceil(0.2 / max(first, 1e-9)))
        runs = [timed(fn, number)[0] for _ in range(7)]
        return statistics.median(runs), len(runs), number, result

    out = {"n": n, "optimizer": name}
    try:
        seconds, repeats, number, (path, info) = measure(full)
    except CallTimeout:
        out["timeout"] = True
        print(json.dumps(out))
        return
    recomputed = sum(step_flops(c[2], sizes) for c in info.contraction_list)
    out.update(
        seconds=seconds,
        repeats=repeats,
        number=number,
        opt_cost=int(info.opt_cost),
        recomputed_cost=recomputed,
        path=[list(p) for p in path],
    )
    try:
        seconds, repeats, number, _ = measure(search_only)
        out.update(search_seconds=seconds)
    except CallTimeout:
        out.update(search_timeout=True)
    print(json.dumps(out))


def time_opt_einsum(n, name, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), name, "--timeout", str(timeout)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    try:
        # Backstop only: the worker stops itself after `timeout` per call, and
        # makes at most 6 calls of over 2 s (3 full, 3 search-only).
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=7 * timeout + 60, check=True, env=env)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    return json.loads(done.stdout.strip().splitlines()[-1])


def their_costs(n, name, timeout):
    """opt_einsum's opt_cost under each PYTHONHASHSEED (None: timed out)."""
    costs = []
    for seed in HASH_SEEDS:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), name, "--timeout", str(timeout),
               "--cost-only"]
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60, check=True, env=env)
            costs.append(json.loads(done.stdout.strip().splitlines()[-1]).get("opt_cost"))
        except subprocess.TimeoutExpired:
            costs.append(None)
    return costs


# ----------------------------------------------------------------------- ours


def our_flops(subscripts, shapes, name, timeout):
    """Our path's exact FLOPs, the number of steps, what auto chose; None if slow."""
    cmd = EXPLAIN_CMD + [subscripts] + shapes + ["--optimize", name]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    text = done.stdout
    printed = re.search(r"Optimized FLOP count:\s+(\S+)", text).group(1)
    chosen = re.search(r"Optimizer:\s+(.*)", text).group(1).strip()
    steps = re.findall(r"^\s*\d+\s+(\S*->\S*)\s", text, re.M)
    exact = sum(step_flops(step, size_dict(subscripts, shapes)) for step in steps)
    if sci(exact) != printed:
        sys.exit(f"n={len(shapes)} {name}: the steps sum to {exact} ({sci(exact)}) but explain prints {printed}")
    return exact, steps, chosen


def fresh_results(since):
    """(optimizer, n) of every criterion result written since `since`."""
    found = set()
    if os.path.isdir(CRITERION):
        for bench_id in os.listdir(CRITERION):
            for n in os.listdir(os.path.join(CRITERION, bench_id)):
                path = os.path.join(CRITERION, bench_id, n, "new", "estimates.json")
                if n.isdigit() and os.path.exists(path) and os.path.getmtime(path) >= since:
                    found.add((bench_id, int(n)))
    return found


def criterion_median(bench_id, n, since):
    path = os.path.join(CRITERION, bench_id, str(n), "new", "estimates.json")
    if not os.path.exists(path):
        sys.exit(f"missing {path}: did the bench run {bench_id} at n={n}?")
    if since is not None and os.path.getmtime(path) < since:
        sys.exit(f"{path} is older than this run: criterion did not rewrite it")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"], os.path.getmtime(path)


# ----------------------------------------------------------------------- main


def their_auto_choice(n):
    from opt_einsum import paths

    fn = paths._AUTO_CHOICES.get(n, paths.greedy)
    if isinstance(fn, functools.partial):
        nbranch = fn.keywords.get("nbranch")
        return f"branch-{nbranch}" if nbranch else "branch-all"
    return fn.__name__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("N", "OPTIMIZER"), help=argparse.SUPPRESS)
    parser.add_argument("--cost-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], args.timeout, args.cost_only)
        return
    os.chdir(ROOT)
    started = time.time()
    timeout = args.timeout
    timeout_text = f"{timeout:g} s"

    import numpy
    import inspect

    from opt_einsum import path_random

    default_repeats = inspect.signature(path_random.RandomOptimizer).parameters["max_repeats"].default
    version = subprocess.run(VERSION_CMD, capture_output=True, text=True, check=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True, check=True).stdout.strip()
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
        commit = f"commit {commit}" + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "not a git checkout"
    loads = {}  # phase -> 1-minute load average as it starts: other work on the machine shows here

    nets = networks()

    # 1. Our planning time.
    loads["our bench"] = os.getloadavg()[0]
    bench_started = time.time()
    if args.skip_bench:
        log("--skip-bench: reusing the criterion results in target/")
        since = None
    else:
        log(f"$ {shell(BENCH_CMD)}")
        subprocess.run(BENCH_CMD, cwd=ROOT, stdout=sys.stderr, check=True)
        since = bench_started
    bench_seconds = time.time() - bench_started
    if since is not None:
        extra = fresh_results(since) - {(b, n) for n, _, _ in nets for b, _, _ in OPTIMIZERS if covered(b, n)}
        if extra:
            sys.exit(f"the bench ran {sorted(extra)}, which covered() leaves out: update it to match benches/plan.rs")
    ours = {}
    oldest = None
    for n, _, _ in nets:
        for bench_id, _, _ in OPTIMIZERS:
            if covered(bench_id, n):
                ours[(n, bench_id)], mtime = criterion_median(bench_id, n, since)
                oldest = mtime if oldest is None else min(oldest, mtime)

    # 2. Our FLOPs.
    loads["our FLOPs"] = os.getloadavg()[0]
    flops_started = time.time()
    log(f"$ {shell(BUILD_CMD)}")
    subprocess.run(BUILD_CMD, cwd=ROOT, stdout=sys.stderr, check=True)
    our_cost = {}
    for n, subscripts, shapes in nets:
        for bench_id, name, _ in OPTIMIZERS:
            if covered(bench_id, n):
                log(f"explain n={n} --optimize {name}")
                our_cost[(n, bench_id)] = our_flops(subscripts, shapes, name, timeout)
    flops_seconds = time.time() - flops_started

    # 3. opt_einsum.
    loads["opt_einsum"] = os.getloadavg()[0]
    theirs_started = time.time()
    theirs = {}
    for n, _, _ in nets:
        for bench_id, _, their_name in OPTIMIZERS:
            if covered(bench_id, n):
                log(f"opt_einsum n={n} optimize={their_name}")
                theirs[(n, bench_id)] = r = time_opt_einsum(n, their_name, timeout)
                log("   ", "did not finish" if r.get("timeout") else f"{r['seconds']:.6f} s, cost {r['opt_cost']}")
                if not r.get("timeout"):
                    r["costs"] = their_costs(n, their_name, timeout)
                    log("    costs over hash seeds:", r["costs"])
    theirs_seconds = time.time() - theirs_started
    total_seconds = time.time() - started
    loads["end"] = os.getloadavg()[0]

    # The report.
    p = print
    p("### Setup\n")
    p(f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    p(f"- Source: {commit}")
    p(f"- Machine: `nproc` = {nproc}{f'; {cpu}' if cpu else ''}; {platform.system()} {platform.release()}")
    p(f"- `{shell(VERSION_CMD)}` → {version}; numpy {numpy.__version__}; Python {platform.python_version()}; {rustc}")
    p("- Commands, run one after the other (the script runs nothing in parallel):")
    p("  - everything: `python3 benches/compare_planning.py`" + (" --skip-bench" if args.skip_bench else ""))
    if args.skip_bench:
        p(f"  - our planning time: criterion results REUSED from an earlier `{shell(BENCH_CMD)}` "
          f"(oldest written {datetime.datetime.fromtimestamp(oldest).strftime('%Y-%m-%d %H:%M')})")
    else:
        p(f"  - our planning time: `{shell(BENCH_CMD)}` (criterion settings of benches/plan.rs: "
          "20 samples, default 3 s warm-up and 5 s measurement), median of "
          "`target/criterion/plan_network/<optimizer>/<n>/new/estimates.json`")
    p(f"  - our FLOPs: `{shell(EXPLAIN_CMD)} <subscripts> <shapes>... --optimize <name>` per network and "
      "optimizer, summed exactly from the printed steps with opt_einsum's cost convention and checked "
      "against the printed `Optimized FLOP count` (4 digits)")
    p("  - opt_einsum: `opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=X)`, one "
      f"subprocess per row, per-call timeout {timeout_text}; median of 7 repeats (timeit-style loops "
      "of ≥ 0.2 s for fast calls), or of 3 calls when one call takes over 2 s, with PYTHONHASHSEED=0; "
      f"FLOPs are `info.opt_cost`, once per PYTHONHASHSEED in {HASH_SEEDS.start}..{HASH_SEEDS.stop - 1} "
      "(a fresh process each): median, and range when they differ")
    p(f"  - random-greedy: opt_einsum's `RandomOptimizer` default `max_repeats` is {default_repeats}; "
      f"run as a fresh `opt_einsum.RandomGreedy(max_repeats={RANDOM_GREEDY_REPEATS})` per call "
      "(trial r seeded with r), against our `RandomGreedy { trials: 32, seed: 0 }`")
    p(f"- Wall time: {total_seconds / 60:.1f} min (our bench {bench_seconds / 60:.1f} min, "
      f"our FLOPs {flops_seconds / 60:.1f} min, opt_einsum {theirs_seconds / 60:.1f} min)")
    p("- 1-minute load average as each phase starts: "
      + ", ".join(f"{phase} {load:.2f}" for phase, load in loads.items()))
    p()
    p("| n | optimizer | ours: `plan` | opt_einsum: `contract_path` | opt_einsum: path search alone "
      f"| speedup (theirs / ours) | our FLOPs | their FLOPs: median of {len(HASH_SEEDS)} hash seeds (range) "
      "| FLOP ratio (ours / their median) |")
    p("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for n, _, _ in nets:
        for bench_id, _, their_name in OPTIMIZERS:
            if not covered(bench_id, n):
                continue
            mine = ours[(n, bench_id)]
            if our_cost[(n, bench_id)] is None:
                p(f"| {n} | {bench_id} | {fmt_time(mine)} | explain did not finish in {timeout_text} "
                  "| | | | | |")
                continue
            mine_flops, steps, chosen = our_cost[(n, bench_id)]
            if len(steps) != n - 1 or any(step.count(",") != 1 for step in steps):
                notes.append(f"n={n} {bench_id}: our plan is not {n - 1} pairwise steps")
            r = theirs[(n, bench_id)]
            label = bench_id
            if bench_id == "reconfigure-8":
                label = "reconfigure-8 (theirs: auto-hq)"
            if bench_id == "auto":
                label = f"auto (ours: {chosen.removeprefix('auto (').removesuffix(')')}; theirs: {their_auto_choice(n)})"
            if r.get("timeout"):
                p(f"| {n} | {label} | {fmt_time(mine)} | did not finish in {timeout_text} | – | – "
                  f"| {sci(mine_flops)} | – | – |")
                continue
            if r["opt_cost"] != r["recomputed_cost"]:
                notes.append(f"n={n} {their_name}: info.opt_cost {r['opt_cost']} but its steps sum to "
                             f"{r['recomputed_cost']}")
            their_ns = r["seconds"] * 1e9
            search = "did not finish" if r.get("search_timeout") else fmt_time(r["search_seconds"] * 1e9)
            costs = [x for x in r["costs"] if x is not None]
            if len(costs) < len(r["costs"]):
                notes.append(f"n={n} {their_name}: {len(r['costs']) - len(costs)} of the hash-seed runs "
                             f"did not finish in {timeout_text}")
            if r["opt_cost"] != r["costs"][0]:
                notes.append(f"n={n} {their_name}: timed run cost {r['opt_cost']}, cost-only run "
                             f"{r['costs'][0]}, both with PYTHONHASHSEED=0")
            median = statistics.median(costs)
            theirs_text = sci(median)
            if min(costs) != max(costs):
                theirs_text += f" ({sci(min(costs))} – {sci(max(costs))})"
            ratio_text = "1 (equal)" if mine_flops == median else f"{mine_flops / median:.4f}"
            p(f"| {n} | {label} | {fmt_time(mine)} | {fmt_time(their_ns)} | {search} "
              f"| {their_ns / mine:.3g}× | {sci(mine_flops)} | {theirs_text} | {ratio_text} |")
    if notes:
        p()
        for note in notes:
            p(f"- {note}")
    log(f"total {total_seconds:.0f} s")


if __name__ == "__main__":
    main()
