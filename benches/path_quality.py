#!/usr/bin/env python3
"""Path quality: our planner's contraction orders against opt_einsum and cotengra.

Our planner is judged on FLOPs alone (no timing of ours: the JSON of
`einsum-explain` does not report planning time), on ~100 tensor networks of
nine families, against the best paths that opt_einsum and cotengra find. All
FLOP counts are in opt_einsum's convention: a peer's path (linear format) is
given back to `opt_einsum.contract_path(eq, *shapes, shapes=True,
optimize=path)` and its `opt_cost` is the count (cotengra's own
`total_flops` counts differently and is never used). Ratios are ours / theirs:
below 1 we are better.

Three steps, each its own command, run from anywhere (paths are relative to
the repository root):

1. `python3 benches/path_quality.py --make-networks` writes
   benches/quality_networks.txt, deterministically (fixed seeds, no third-party
   generator: opt_einsum's and cotengra's random equations are ported here).
   One line per network: `<family> <n> <subscripts> <shape> <shape> ...`;
   labels are ASCII letters then CJK ideographs from U+4E00, one character
   each, as benches/make_networks.py writes them. Families:
   - `rr3-bond2`: random 3-regular graphs, every bond 2 (quantum-circuit-like),
     2 open indices on two distinct tensors;
   - `rr3-d2to4`: random 3-regular, sizes in 2..4 (as make_networks.py);
   - `rr4-d2to3`: random 4-regular, sizes in 2..3, 2 open indices;
   - `lattice2d`: LxL open-boundary square lattices, bonds in 2..4, 1 or 2
     open indices, operands shuffled (the row-major order is not given);
   - `randeq`: opt_einsum.testing.rand_equation (ported, same numpy
     RandomState draws), some with sizes up to 8-10, one with `global_dim`;
   - `randeq-hyper`: cotengra.utils.rand_equation (ported, same
     random.Random draws) with inner and outer hyperedges (an index on 3 to n
     tensors);
   - `mps-norm`: <psi|psi> of an open MPS, physical 2, bond min(chi, 2^k),
     chi 16-64, operands shuffled; `mps-mpo`: <psi|H|psi> with an MPO of bond
     4; `tree`: random trees, sizes 2..10, 2 open indices.
   The `n` column is the number of operands.

2. `PYTHONHASHSEED=0 /tmp/venv-quality/bin/python benches/path_quality.py
   --peers` (a venv with numpy, opt_einsum 3.4.0, cotengra 0.8.x, and
   kahypar/optuna/cmaes when they install) writes benches/quality_peers.json,
   a committed cache, so step 3 takes seconds. Per network, one subprocess
   (PYTHONHASHSEED=0) runs every peer in turn, each call stopped by
   SIGALRM after its time limit (recorded as null, "timeout"):
   - opt_einsum `contract_path(..., optimize=X)` for X in greedy, auto,
     auto-hq, RandomGreedy(max_repeats=128) (trial r is seeded with r, but its
     sets iterate in hash order: hence PYTHONHASHSEED=0), and dp when n <= 30;
   - cotengra `HyperOptimizer(max_repeats=128, minimize='flops',
     parallel=False, methods=M, reconf_opts=None)` (`ctg`: no refinement) and
     the same with `reconf_opts={}` (`ctg-reconf`: subtree reconfiguration of
     every trial, cotengra's default), with M = greedy plus kahypar when it
     imports (else cotengra's `labels`), the default optlib (optuna if
     installed, seeded with sampler_opts={'seed': 0}), and `random`/numpy
     seeded with 0 before each call. A cotengra call that reaches
     --ctg-max-time stops early by cotengra's own `max_time` and keeps its best
     tree; the trials it made are recorded.
   For each (network, peer): path, FLOPs, planning time (wall and CPU seconds
   of the search call alone, the recount excluded). Progress goes to stderr.
   `--jobs 2` runs two networks at once (CPU time stays meaningful, wall time
   less so; the committed cache took 40 min so on 2 cores, 8 of them the
   cotengra calls cut by max_time=60 s); `--resume` keeps entries already in
   the file for unchanged networks.

3. `python3 benches/path_quality.py [--explain PATH] > report.md` runs our
   planner (`einsum-explain <subscripts> <shapes...> --optimize <name> --format
   json`, for auto, greedy, random-greedy, when n <= 30 dp, and reconfigure
   when the binary's --help lists it; unless --explain names a binary, the
   script first runs `cargo build --release -p einsum-explain` and uses
   target/release/einsum-explain, so the report is of the tree it names),
   takes our linear `path` from the JSON, counts it with opt_einsum as above
   and checks it against the JSON's own `optimized_flops` (a mismatch is
   listed; should our path not be valid for the original operands, the JSON's
   count is used and the row is marked). It needs only opt_einsum, not
   cotengra. It prints a Markdown report: per family a table (our FLOPs, each
   peer's FLOPs, ours-auto / best peer, / oe-greedy, / cotengra — the better
   of ctg and ctg-reconf), then geometric means of those ratios per family and
   overall and of ours-auto / best peer by family and size (n <= 30, 31-100,
   > 100), how many networks our auto loses by more than 10% to each peer,
   and the 10 worst cases. About 2.5 min on 2 cores, most of it our dp at
   n = 20-30 (a call is stopped after --our-timeout, 60 s).

Options: --networks/--peers-file to use other files; --only FAMILY (repeatable)
to restrict any step; --optimizers to change our list (`hyper:1s` runs
`--optimize hyper --time-budget 1s`; any budget the CLI takes).
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = os.path.join(ROOT, "benches", "quality_networks.txt")
PEERS = os.path.join(ROOT, "benches", "quality_peers.json")
EXPLAIN = os.path.join(ROOT, "target", "release", "einsum-explain")
BUILD_CMD = ["cargo", "build", "--release", "-p", "einsum-explain"]

ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FAMILIES = ["rr3-bond2", "rr3-d2to4", "rr4-d2to3", "lattice2d", "randeq", "randeq-hyper", "mps-norm",
            "mps-mpo", "tree"]
DP_LIMIT = 20  # dp (ours and opt_einsum's) only for n <= this
PEER_NAMES = ["oe-greedy", "oe-auto", "oe-auto-hq", "oe-rg128", "oe-dp", "ctg", "ctg-reconf"]
OURS = ["auto", "greedy", "random-greedy", "dp"]
REPEATS = 128


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ networks


def label(k):
    return ASCII[k] if k < len(ASCII) else chr(0x4E00 + k - len(ASCII))


def emit(family, terms, out, sizes):
    """A network line; index ids are relabelled in order of first appearance."""
    names = {}
    for ix in [i for t in terms for i in t] + list(out):
        if ix not in names:
            names[ix] = label(len(names))
    for t in terms:
        assert t and len(set(t)) == len(t), "no empty term, no repeated index in a term"
    subscripts = ",".join("".join(names[i] for i in t) for t in terms) + "->" + "".join(names[i] for i in out)
    shapes = ["x".join(str(sizes[i]) for i in t) for t in terms]
    return f"{family} {len(terms)} {subscripts} {' '.join(shapes)}"


def regular_graph(n, degree, rng):
    """Configuration model, retried until simple (no self-loop or double edge)."""
    while True:
        stubs = [v for v in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        edges = [tuple(sorted(stubs[i:i + 2])) for i in range(0, len(stubs), 2)]
        if all(a != b for a, b in edges) and len(set(edges)) == len(edges):
            return edges


def graph_network(family, n, edges, size_fn, n_open, rng, shuffle=False):
    terms = [[] for _ in range(n)]
    sizes = {}
    for k, (a, b) in enumerate(edges):
        terms[a].append(k)
        terms[b].append(k)
        sizes[k] = size_fn()
    out = []
    for t in rng.sample(range(n), n_open):
        k = len(sizes)
        terms[t].append(k)
        sizes[k] = size_fn()
        out.append(k)
    if shuffle:
        rng.shuffle(terms)
    return emit(family, terms, out, sizes)


def regular_network(family, n, degree, lo, hi, seed):
    """n is rounded up to even when n * degree is odd (75 -> 76 for 3-regular)."""
    n += (n * degree) % 2
    rng = random.Random(seed)
    edges = regular_graph(n, degree, rng)
    return graph_network(family, n, edges, lambda: rng.randint(lo, hi), 2, rng)


def lattice_network(side, n_open, seed):
    rng = random.Random(seed)
    site = lambda i, j: i * side + j  # noqa: E731
    edges = [(site(i, j), site(i, j + 1)) for i in range(side) for j in range(side - 1)]
    edges += [(site(i, j), site(i + 1, j)) for i in range(side - 1) for j in range(side)]
    return graph_network("lattice2d", side * side, edges, lambda: rng.randint(2, 4), n_open, rng, shuffle=True)


def oe_rand_equation(n, regularity, n_out, d_min, d_max, seed, global_dim=False):
    """opt_einsum.testing.rand_equation (3.4.0), same draws (it imports pytest)."""
    import numpy as np

    rs = np.random.RandomState(seed)
    num_inds = n * regularity // 2 + n_out
    sizes = {i: int(rs.randint(d_min, d_max + 1)) for i in range(num_inds)}
    inputs = [[] for _ in range(n)]
    output = []

    def gen():
        for i in sizes:
            if i < n_out:
                output.append(i)
                yield i
            else:
                yield i
                yield i

    for i, ix in enumerate(rs.permutation(list(gen()))):
        ix = int(ix)
        if i < n:
            inputs[i].append(ix)
        else:
            where = rs.randint(0, n)
            while ix in inputs[where]:
                where = rs.randint(0, n)
            inputs[where].append(ix)
    if global_dim:
        g = num_inds
        sizes[g] = int(rs.randint(d_min, d_max + 1))
        for t in inputs:
            t.append(g)
        output.append(g)
    output = [int(x) for x in rs.permutation(output)]
    return inputs, output, sizes


def ctg_rand_equation(n, reg, n_out=0, n_hyper_in=0, n_hyper_out=0, d_min=2, d_max=3, seed=None):
    """cotengra.utils.rand_equation (0.8.x), same random.Random draws."""
    rng = random.Random(seed)
    num_inds = max((n * reg) // 2, n_hyper_out + n_hyper_in + n_out)
    sizes = {i: rng.randint(d_min, d_max) for i in range(num_inds)}
    inds = iter(sizes)
    positions = list(range(n))
    inputs = [[] for _ in range(n)]
    output = []
    for _ in range(n_hyper_out):
        ind = next(inds)
        output.append(ind)
        for i in rng.sample(positions, rng.randint(3, n)):
            inputs[i].append(ind)
    for _ in range(n_hyper_in):
        ind = next(inds)
        for i in rng.sample(positions, rng.randint(3, n)):
            inputs[i].append(ind)
    for _ in range(n_out):
        ind = next(inds)
        output.append(ind)
        for i in rng.sample(positions, 1):
            inputs[i].append(ind)
    for ind in inds:
        for i in rng.sample(positions, 2):
            inputs[i].append(ind)
    rng.shuffle(output)
    return inputs, output, sizes


def mps_network(family, sites, chi, mpo_bond, seed):
    """<psi|psi> (mpo_bond None) or <psi|H|psi>; bonds min(chi, 2^k, 2^(L-k))."""
    rng = random.Random(seed)
    sizes = {}
    fresh = iter(range(10**9))

    def new(size):
        k = next(fresh)
        sizes[k] = size
        return k

    bond = [min(chi, 2 ** (k + 1), 2 ** (sites - k - 1)) for k in range(sites - 1)]
    ket_b = [new(d) for d in bond]
    bra_b = [new(d) for d in bond]
    ket_p = [new(2) for _ in range(sites)]
    bra_p = [new(2) for _ in range(sites)] if mpo_bond else ket_p
    mpo_b = [new(mpo_bond) for _ in range(sites - 1)] if mpo_bond else None

    def chain(bonds, k, phys):
        return ([bonds[k - 1]] if k > 0 else []) + phys + ([bonds[k]] if k < sites - 1 else [])

    terms = []
    for k in range(sites):
        terms.append(chain(ket_b, k, [ket_p[k]]))
        terms.append(chain(bra_b, k, [bra_p[k]]))
        if mpo_bond:
            terms.append(chain(mpo_b, k, [ket_p[k], bra_p[k]]))
    rng.shuffle(terms)
    return emit(family, terms, [], sizes)


def tree_network(n, d_max, seed):
    rng = random.Random(seed)
    edges = [(rng.randrange(v), v) for v in range(1, n)]
    return graph_network("tree", n, edges, lambda: rng.randint(2, d_max), 2, rng, shuffle=True)


def make_networks():
    lines = []
    for n in [10, 16, 20, 30, 40, 50, 75, 100, 150, 200, 300]:
        for s in range(3 if n <= 30 else 1 if n == 300 else 2):
            lines.append(regular_network("rr3-bond2", n, 3, 2, 2, 1000 * n + s))
    for n in [10, 20, 30, 50, 75, 100, 150, 200, 300]:
        for s in range(1 if n == 300 else 2):
            lines.append(regular_network("rr3-d2to4", n, 3, 2, 4, 2000 * n + s))
    for n in [10, 20, 30, 50, 75, 100, 150, 200]:
        for s in range(2 if n <= 50 else 1):
            lines.append(regular_network("rr4-d2to3", n, 4, 2, 3, 3000 * n + s))
    for side in range(4, 13):
        for s in range(2 if side in (6, 8, 10) else 1):
            lines.append(lattice_network(side, 1 + (side + s) % 2, 4000 + 10 * side + s))
    # (n, regularity, n_out, d_min, d_max, global_dim)
    for k, (n, reg, n_out, lo, hi, glob) in enumerate([
        (10, 3, 2, 2, 4, False), (20, 3, 2, 2, 4, False), (30, 4, 0, 2, 4, False), (50, 3, 2, 2, 4, False),
        (100, 3, 2, 2, 3, False), (150, 3, 2, 2, 3, False), (10, 4, 2, 2, 9, False), (20, 3, 0, 2, 9, False),
        (30, 3, 2, 2, 10, False), (40, 4, 2, 2, 5, False), (50, 3, 2, 2, 8, False), (75, 3, 1, 2, 6, False),
        (20, 3, 2, 2, 4, True),
    ]):
        inputs, output, sizes = oe_rand_equation(n, reg, n_out, lo, hi, 5000 + k, glob)
        lines.append(emit("randeq", inputs, output, sizes))
    # (n, reg, n_out, n_hyper_in, n_hyper_out, d_max)
    for k, (n, reg, n_out, h_in, h_out, hi) in enumerate([
        (10, 3, 2, 1, 0, 3), (16, 3, 2, 1, 1, 3), (20, 3, 0, 2, 0, 3), (30, 3, 2, 2, 1, 3), (50, 3, 2, 2, 0, 3),
        (75, 3, 1, 3, 1, 3), (100, 3, 2, 2, 1, 3), (150, 3, 2, 3, 0, 2), (200, 3, 2, 2, 1, 2),
    ]):
        seed = 6000 + 100 * k
        while True:  # skip seeds that leave a tensor with no index
            inputs, output, sizes = ctg_rand_equation(n, reg, n_out, h_in, h_out, 2, hi, seed)
            if all(inputs):
                break
            seed += 1
        lines.append(emit("randeq-hyper", inputs, output, sizes))
    for k, (sites, chi) in enumerate([(8, 16), (15, 32), (25, 64), (50, 32), (100, 64)]):
        lines.append(mps_network("mps-norm", sites, chi, None, 7000 + k))
    for k, (sites, chi) in enumerate([(10, 16), (25, 32), (50, 64)]):
        lines.append(mps_network("mps-mpo", sites, chi, 4, 7100 + k))
    for k, n in enumerate([20, 50, 100, 200]):
        lines.append(tree_network(n, 10, 8000 + k))
    with open(NETWORKS, "w", encoding="utf-8") as f:
        f.write("# Generated by benches/path_quality.py --make-networks: family, n, subscripts, shapes. "
                "Do not edit.\n")
        for line in lines:
            f.write(line + "\n")
    log(f"wrote {len(lines)} networks to {os.path.relpath(NETWORKS, ROOT)}")


def networks(path=None, only=None):
    """[(id, family, n, subscripts, shapes)]; id is `<family>/<n>/<k>`."""
    nets, seen = [], {}
    with open(path or NETWORKS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            family, n, subscripts, *shapes = line.split()
            k = seen[(family, n)] = seen.get((family, n), -1) + 1
            if only and family not in only:
                continue
            nets.append((f"{family}/{n}/{k}", family, int(n), subscripts, shapes))
    return nets


def shape_tuple(text):
    return tuple(int(d) for d in text.split("x"))


def digest(subscripts, shapes):
    return hashlib.sha256((subscripts + " " + " ".join(shapes)).encode()).hexdigest()[:16]


def oe_cost(subscripts, shapes, path):
    """opt_einsum's opt_cost of a linear path (the common FLOP convention)."""
    import opt_einsum

    info = opt_einsum.contract_path(subscripts, *[shape_tuple(s) for s in shapes], shapes=True,
                                    optimize=[tuple(p) for p in path])[1]
    return int(info.opt_cost)


# --------------------------------------------------------------------- peers


class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout()


def peer_list(n):
    return [p for p in PEER_NAMES if p != "oe-dp" or n <= DP_LIMIT]


def available():
    """What the peers' Python has: versions, or None."""
    import importlib
    import importlib.metadata

    have = {}
    for dist, mod in [("numpy", "numpy"), ("opt_einsum", "opt_einsum"), ("cotengra", "cotengra"),
                      ("kahypar", "kahypar"), ("optuna", "optuna"), ("cmaes", "cmaes"),
                      ("cotengrust", "cotengrust"), ("networkx", "networkx")]:
        try:
            importlib.import_module(mod)
            have[dist] = importlib.metadata.version(dist)
        except Exception:  # noqa: BLE001 - not installed or does not import
            have[dist] = None
    return have


def ctg_methods():
    import importlib.util

    return ["greedy", "kahypar"] if importlib.util.find_spec("kahypar") else ["greedy", "labels"]


def ctg_optlib():
    from cotengra.hyperoptimizers.hyper import get_default_optlib

    return get_default_optlib()


def peer_worker(net_id, timeout, dp_timeout, ctg_max_time, networks_path):
    """Runs every peer on one network; one JSON line per peer on stdout."""
    import numpy as np
    import opt_einsum

    _, family, n, subscripts, shapes = next(x for x in networks(networks_path) if x[0] == net_id)
    shp = [shape_tuple(s) for s in shapes]
    lhs, output = subscripts.split("->")
    inputs = [list(t) for t in lhs.split(",")]
    sizes = {}
    for t, s in zip(inputs, shp):
        sizes.update(zip(t, s))
    signal.signal(signal.SIGALRM, _alarm)

    for peer in peer_list(n):
        random.seed(0)
        np.random.seed(0)
        extra = {}
        limit = dp_timeout if peer == "oe-dp" else timeout
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                w0, c0 = time.perf_counter(), time.process_time()
                if peer.startswith("oe-"):
                    opt = {"oe-greedy": "greedy", "oe-auto": "auto", "oe-auto-hq": "auto-hq", "oe-dp": "dp"}.get(peer)
                    if opt is None:
                        opt = opt_einsum.RandomGreedy(max_repeats=REPEATS)
                    path, info = opt_einsum.contract_path(subscripts, *shp, shapes=True, optimize=opt)
                    own = int(info.opt_cost)
                else:
                    import cotengra

                    opt = cotengra.HyperOptimizer(
                        max_repeats=REPEATS, minimize="flops", parallel=False, methods=ctg_methods(),
                        reconf_opts={} if peer == "ctg-reconf" else None, max_time=ctg_max_time,
                        optlib_opts={"sampler_opts": {"seed": 0}} if ctg_optlib() == "optuna" else None,
                        progbar=False)
                    tree = opt.search(inputs, list(output), sizes)
                    path = tree.get_path()
                    own = None
                    extra = {"trials": len(opt.scores), "ctg_flops": float(tree.total_flops())}
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            path = [[int(a) for a in p] for p in path]
            flops = oe_cost(subscripts, shapes, path)
            if own is not None and own != flops:
                extra["own_opt_cost"] = own
            rec = {"peer": peer, "flops": flops, "seconds": wall, "cpu_seconds": cpu, "path": path, **extra}
        except CallTimeout:
            rec = {"peer": peer, "flops": None, "timeout": limit}
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            rec = {"peer": peer, "flops": None, "error": f"{type(e).__name__}: {e}"[:300]}
        print(json.dumps(rec), flush=True)


def write_peers(path, data):
    """Indented JSON, but each path on one line (the file is committed)."""
    paths = []

    def strip(obj):
        if not isinstance(obj, dict):
            return obj
        out = {}
        for k, v in obj.items():
            if k == "path":
                out[k] = f"@PATH{len(paths)}@"
                paths.append(v)
            else:
                out[k] = strip(v)
        return out

    text = json.dumps(strip(data), indent=1, ensure_ascii=False)
    text = re.sub(r'"@PATH(\d+)@"', lambda m: json.dumps(paths[int(m.group(1))], separators=(",", ":")), text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def run_peers(args):
    started = time.time()
    nets = networks(args.networks, args.only)
    old = {}
    if args.resume and os.path.exists(args.peers_file):
        with open(args.peers_file, encoding="utf-8") as f:
            old = json.load(f).get("networks", {})
    have = available()
    if not have.get("cotengra"):
        sys.exit("cotengra does not import: run with the venv's python (see the docstring)")
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "PYTHONHASHSEED=0 " + " ".join([sys.executable] + sys.argv),
        "python": platform.python_version(),
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED"),
        "machine": f"{platform.system()} {platform.release()}, nproc {os.cpu_count()}",
        "packages": have,
        "ctg_methods": ctg_methods(),
        "ctg_optlib": ctg_optlib(),
        "ctg_max_time": args.ctg_max_time,
        "timeout": args.timeout,
        "dp_timeout": args.dp_timeout,
        "jobs": args.jobs,
        "repeats": REPEATS,
        "peers": {
            "oe-greedy": "opt_einsum.contract_path(eq, *shapes, shapes=True, optimize='greedy')",
            "oe-auto": "optimize='auto'",
            "oe-auto-hq": "optimize='auto-hq'",
            "oe-rg128": f"optimize=opt_einsum.RandomGreedy(max_repeats={REPEATS})",
            "oe-dp": f"optimize='dp', only n <= {DP_LIMIT}",
            "ctg": f"cotengra.HyperOptimizer(max_repeats={REPEATS}, minimize='flops', parallel=False, "
                   f"methods={ctg_methods()}, reconf_opts=None, max_time={args.ctg_max_time}), "
                   f"optlib {ctg_optlib()}",
            "ctg-reconf": "the same with reconf_opts={} (subtree reconfiguration)",
        },
    }
    if os.environ.get("PYTHONHASHSEED") != "0":
        log("warning: PYTHONHASHSEED is not 0 here; the workers run with PYTHONHASHSEED=0 anyway")
    results = {}
    todo = []
    for net in nets:
        net_id, _, n, subscripts, shapes = net
        prev = old.get(net_id)
        if prev and prev.get("digest") == digest(subscripts, shapes) and \
                all(p in prev["peers"] for p in peer_list(n)):
            results[net_id] = prev
        else:
            todo.append(net)
    log(f"{len(nets)} networks, {len(todo)} to run, jobs={args.jobs}")

    def one(net):
        net_id, family, n, subscripts, shapes = net
        peers = peer_list(n)
        backstop = sum(args.dp_timeout if p == "oe-dp" else args.timeout for p in peers) + 120
        cmd = [sys.executable, os.path.abspath(__file__), "--peer-worker", net_id, "--timeout", str(args.timeout),
               "--dp-timeout", str(args.dp_timeout), "--ctg-max-time", str(args.ctg_max_time),
               "--networks", args.networks]
        env = dict(os.environ, PYTHONHASHSEED="0")
        t0 = time.time()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=backstop, env=env).stdout
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        recs = {}
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                recs[r.pop("peer")] = r
        for p in peers:
            recs.setdefault(p, {"flops": None, "error": "worker stopped (backstop)"})
        entry = {"family": family, "n": n, "digest": digest(subscripts, shapes), "peers": recs,
                 "worker_seconds": time.time() - t0}
        summary = " ".join(f"{p}={'%.3g' % r['flops'] if r['flops'] is not None else 'null'}"
                           f"({r.get('seconds', 0):.1f}s)" for p, r in recs.items())
        log(f"[{time.time() - started:6.0f} s] {net_id}: {summary}")
        return net_id, entry

    def save():
        ordered = {x[0]: results[x[0]] for x in networks(args.networks) if x[0] in results}
        meta["wall_seconds"] = time.time() - started
        write_peers(args.peers_file, {"meta": meta, "networks": ordered})

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for net_id, entry in pool.map(one, todo):
            results[net_id] = entry
            save()
    save()
    log(f"peers done in {(time.time() - started) / 60:.1f} min -> {os.path.relpath(args.peers_file, ROOT)}")


# ---------------------------------------------------------------------- ours


def run_ours(explain, subscripts, shapes, name, timeout):
    # `hyper:1s` is `--optimize hyper --time-budget 1s`.
    optimize, _, budget = name.partition(":")
    cmd = [explain, subscripts, *shapes, "--optimize", optimize, "--format", "json"]
    if budget:
        cmd += ["--time-budget", budget]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"flops": None, "error": f"timeout {timeout} s"}
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"flops": None, "error": done.stderr.strip().splitlines()[-1][:200] if done.stderr.strip() else
                f"exit {done.returncode}"}
    js = json.loads(done.stdout)
    rec = {"json_flops": int(js["optimized_flops"]), "optimizer": js.get("optimizer"), "cli_seconds": wall}
    times = {k: v for k, v in js.items() if re.search(r"(plan|search).*(seconds|time|nanos)", k)}
    if times:
        rec["plan_time"] = times
    path = js.get("path")
    try:
        if path is None or len(path) != len(shapes) - 1:
            raise ValueError(f"path of {0 if path is None else len(path)} pairs for {len(shapes)} operands")
        rec["flops"] = oe_cost(subscripts, shapes, path)
        rec["path_checked"] = True
        if rec["flops"] != rec["json_flops"]:
            rec["mismatch"] = True
    except Exception as e:  # noqa: BLE001 - fall back to the JSON's count
        rec["flops"] = rec["json_flops"]
        rec["path_checked"] = False
        rec["path_error"] = str(e)[:200]
    return rec


# -------------------------------------------------------------------- report


def sci(x):
    if x is None:
        return "–"
    mantissa, exp = f"{float(x):.2e}".split("e")
    return f"{mantissa}e{int(exp)}"


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r):
    if r is None:
        return "–"
    text = f"{r:.3f}"
    return f"**{text}**" if r > 1.1 else text


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def best_of(peers, names):
    vals = [(peers[p]["flops"], p) for p in names if p in peers and peers[p].get("flops") is not None]
    return min(vals) if vals else (None, None)


def report(args):
    started = time.time()
    nets = networks(args.networks, args.only)
    with open(args.peers_file, encoding="utf-8") as f:
        cache = json.load(f)
    meta, peers_all = cache["meta"], cache["networks"]
    if not os.path.exists(args.explain):
        sys.exit(f"{args.explain} not found")
    version = subprocess.run([args.explain, "--version"], capture_output=True, text=True).stdout.strip()
    import opt_einsum

    rows = []
    for net_id, family, n, subscripts, shapes in nets:
        entry = peers_all.get(net_id)
        if entry is None or entry["digest"] != digest(subscripts, shapes):
            log(f"{net_id}: no peer results for this network in {args.peers_file} (rerun --peers)")
            entry = {"peers": {}}
        ours = {}
        for name in args.optimizers:
            if name == "dp" and n > DP_LIMIT:
                continue
            ours[name] = run_ours(args.explain, subscripts, shapes, name, args.our_timeout)
        log(f"{net_id}: " + " ".join(f"{k}={sci(v['flops'])}" for k, v in ours.items()))
        rows.append((net_id, family, n, ours, entry["peers"]))

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " with uncommitted changes" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "not a git checkout"

    p = print
    pk = meta["packages"]
    p("### Path quality against opt_einsum and cotengra\n")
    p(f"- Ours: {version} (`{args.explain}`), source {commit}; "
      f"report {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
      f"opt_einsum {opt_einsum.__version__} for the counts")
    p(f"- Peers (cache {os.path.relpath(args.peers_file, ROOT)}, {meta['date']}, "
      f"{meta['wall_seconds'] / 60:.1f} min, jobs {meta['jobs']}): Python {meta['python']}, "
      + ", ".join(f"{k} {v}" for k, v in pk.items() if v) + "; not available: "
      + (", ".join(k for k, v in pk.items() if not v) or "none")
      + f"; PYTHONHASHSEED={meta['PYTHONHASHSEED']}")
    for name, text in meta["peers"].items():
        p(f"  - `{name}`: `{text}`")
    p(f"  - per-call limit {meta['timeout']} s (dp {meta['dp_timeout']} s); `–` = timed out, failed or not run")
    p("- All FLOPs are opt_einsum's `opt_cost` of each path. Ratios are ours-auto / peer (< 1: ours better); "
      "`best` = the best peer, `ctg` = the better of ctg and ctg-reconf. Bold: worse by > 10%.")
    p()

    def auto_of(ours):
        return ours.get("auto", {}).get("flops")

    per_family = {}
    for family in FAMILIES:
        frows = [r for r in rows if r[1] == family]
        if not frows:
            continue
        p(f"#### {family}\n")
        ocols = [o for o in args.optimizers if any(o in r[3] for r in frows)]
        pcols = [c for c in PEER_NAMES if any(c in r[4] for r in frows)]
        p("| n | " + " | ".join(f"ours {o}" for o in ocols) + " | " + " | ".join(pcols)
          + " | auto/best | auto/oe-greedy | auto/ctg |")
        p("|---:|" + "---:|" * (len(ocols) + len(pcols) + 3))
        for net_id, _, n, ours, peers in frows:
            a = auto_of(ours)
            best, _ = best_of(peers, PEER_NAMES)
            ctg, _ = best_of(peers, ["ctg", "ctg-reconf"])
            cells = [sci(ours[o]["flops"]) if o in ours else "" for o in ocols]
            cells += [sci(peers[c]["flops"]) if c in peers else "" for c in pcols]
            r = [ratio(a, best), ratio(a, peers.get("oe-greedy", {}).get("flops")), ratio(a, ctg)]
            per_family.setdefault(family, []).append(r)
            p(f"| {n} | " + " | ".join(cells) + " | " + " | ".join(fmt_ratio(x) for x in r) + " |")
        p()

    p("#### Summary\n")
    p("Geometric means of ours-auto / peer:\n")
    p("| family | networks | auto/best | auto/oe-greedy | auto/ctg |")
    p("|---|---:|---:|---:|---:|")
    for family, rs in per_family.items():
        p(f"| {family} | {len(rs)} | " + " | ".join(fmt_ratio(geomean([r[i] for r in rs])) for i in range(3)) + " |")
    allr = [r for rs in per_family.values() for r in rs]
    p(f"| **all** | {len(allr)} | " + " | ".join(fmt_ratio(geomean([r[i] for r in allr])) for i in range(3)) + " |")
    p()
    p("Each of ours against cotengra (`ctg`: the better of ctg and ctg-reconf), per family: geometric mean of "
      "ours / ctg over the networks both finished, the worst ratio, and wins/losses (ratio < 1 / > 1):\n")
    p("| family | networks | " + " | ".join(f"{o}/ctg (worst; wins/losses)" for o in args.optimizers) + " |")
    p("|---|---:|" + "---:|" * len(args.optimizers))
    def vs_ctg(sel):
        cells = []
        for o in args.optimizers:
            rs = []
            for r in sel:
                ctg, _ = best_of(r[4], ["ctg", "ctg-reconf"])
                rs.append(ratio(r[3].get(o, {}).get("flops"), ctg))
            rs = [x for x in rs if x]
            cells.append(f"{fmt_ratio(geomean(rs))} ({fmt_ratio(max(rs))}; {sum(x < 1 for x in rs)}/{sum(x > 1 for x in rs)})"
                         if rs else "–")
        return cells
    for family in per_family:
        sel = [r for r in rows if r[1] == family]
        p(f"| {family} | {len(sel)} | " + " | ".join(vs_ctg(sel)) + " |")
    p(f"| **all** | {len(rows)} | " + " | ".join(vs_ctg(rows)) + " |")
    big = [r for r in rows if r[2] > 30]
    p(f"| **all, n > 30** | {len(big)} | " + " | ".join(vs_ctg(big)) + " |")
    p()
    buckets = [(0, 30), (31, 100), (101, 10**9)]
    p("Geometric mean of ours-auto / best peer by size (networks in brackets):\n")
    p("| family | " + " | ".join(f"n {lo}-{hi}" if hi < 10**9 else f"n > {lo - 1}" for lo, hi in buckets) + " |")
    p("|---|" + "---:|" * len(buckets))
    for family in per_family:
        cells = []
        for lo, hi in buckets:
            rs = [ratio(auto_of(r[3]), best_of(r[4], PEER_NAMES)[0]) for r in rows
                  if r[1] == family and lo <= r[2] <= hi]
            cells.append(f"{fmt_ratio(geomean(rs))} ({len(rs)})" if rs else "")
        p(f"| {family} | " + " | ".join(cells) + " |")
    p()
    p("Networks where ours-auto is worse than the peer by more than 10% (of those the peer finished):\n")
    p("| peer | worse > 10% | worse at all | better | finished |")
    p("|---|---:|---:|---:|---:|")
    for peer in PEER_NAMES + ["ctg (best of both)", "best peer"]:
        worse = worse_any = better = finished = 0
        for _, _, _, ours, peers in rows:
            a = auto_of(ours)
            if peer == "best peer":
                theirs, _ = best_of(peers, PEER_NAMES)
            elif peer.startswith("ctg ("):
                theirs, _ = best_of(peers, ["ctg", "ctg-reconf"])
            else:
                theirs = peers.get(peer, {}).get("flops")
            if a is None or theirs is None:
                continue
            finished += 1
            worse += a > 1.1 * theirs
            worse_any += a > theirs
            better += a < theirs
        p(f"| {peer} | {worse} | {worse_any} | {better} | {finished} |")
    p()
    p("Worst 10 by ours-auto / best peer:\n")
    p("| network | ours auto | what auto ran | ours best (which) | best peer (which) | auto/best | ours-best/best |")
    p("|---|---:|---|---:|---:|---:|---:|")
    scored = []
    for net_id, _, _, ours, peers in rows:
        best, who = best_of(peers, PEER_NAMES)
        a = auto_of(ours)
        if a is not None and best:
            ob = min((v["flops"], k) for k, v in ours.items() if v.get("flops") is not None)
            scored.append((a / best, net_id, a, ours["auto"].get("optimizer"), ob, best, who))
    for r, net_id, a, chosen, ob, best, who in sorted(scored, reverse=True)[:10]:
        p(f"| {net_id} | {sci(a)} | {chosen} | {sci(ob[0])} ({ob[1]}) | {sci(best)} ({who}) | {fmt_ratio(r)} "
          f"| {fmt_ratio(ob[0] / best)} |")
    p()
    notes = []
    for net_id, _, _, ours, _ in rows:
        for name, rec in ours.items():
            if rec.get("flops") is None:
                notes.append(f"{net_id} ours {name}: {rec.get('error')}")
            elif rec.get("mismatch"):
                notes.append(f"{net_id} ours {name}: opt_einsum counts our path at {rec['flops']}, "
                             f"our JSON says {rec['json_flops']}")
            elif not rec.get("path_checked"):
                notes.append(f"{net_id} ours {name}: path not usable by opt_einsum ({rec.get('path_error')}); "
                             "the JSON's count is used")
    checked = sum(1 for r in rows for rec in r[3].values() if rec.get("path_checked"))
    p(f"- Our paths recounted by opt_einsum: {checked}; equal to our JSON's `optimized_flops`: "
      f"{sum(1 for r in rows for rec in r[3].values() if rec.get('path_checked') and not rec.get('mismatch'))}.")
    times = [rec["plan_time"] for r in rows for rec in r[3].values() if rec.get("plan_time")]
    def by_name(column, key):
        """{name: [rec[key], ...]} over every row's records in `column`."""
        out = {}
        for r in rows:
            for name, rec in r[column].items():
                if rec.get(key) is not None:
                    out.setdefault(name, []).append(rec[key])
        return out

    if not times:
        cli = by_name(3, "cli_seconds")
        p("- Our planning time: not in the JSON, not reported. For scale only, the whole `einsum-explain` call "
          "(process start, parse, plan, JSON; s: total / median / max): "
          + "; ".join(f"{k} {sum(v):.1f}/{statistics.median(v):.2g}/{max(v):.3g}" for k, v in cli.items()))
    peer_time = by_name(4, "seconds")
    p("- Peer planning time (wall s of the search call: total / median / max): "
      + "; ".join(f"{k} {sum(v):.0f}/{statistics.median(v):.2g}/{max(v):.3g}" for k, v in peer_time.items()))
    fails = [f"{r[0]} {k}: {'timeout' if 'timeout' in v else v.get('error')}" for r in rows
             for k, v in r[4].items() if v.get("flops") is None]
    if fails:
        p(f"- Peer calls without a result ({len(fails)}): " + "; ".join(fails))
    early = [f"{r[0]} {k} ({v['trials']} trials)" for r in rows for k, v in r[4].items()
             if v.get("trials") is not None and v["trials"] < REPEATS]
    if early:
        p(f"- cotengra calls stopped by max_time={meta['ctg_max_time']} s before {REPEATS} trials: "
          + "; ".join(early))
    for note in notes:
        p(f"- {note}")
    log(f"report done in {time.time() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--make-networks", action="store_true", help="write benches/quality_networks.txt")
    parser.add_argument("--peers", action="store_true", help="compute benches/quality_peers.json (slow)")
    parser.add_argument("--explain", default=None,
                        help=f"our einsum-explain binary (default: build it, then {EXPLAIN})")
    parser.add_argument("--networks", default=NETWORKS)
    parser.add_argument("--peers-file", default=PEERS)
    parser.add_argument("--only", action="append", choices=FAMILIES, help="only this family (repeatable)")
    parser.add_argument("--optimizers", default=",".join(OURS), help="ours, comma-separated (dp only n <= 30)")
    parser.add_argument("--our-timeout", type=float, default=60.0, help="our call limit, s")
    parser.add_argument("--timeout", type=float, default=150.0, help="peer call limit, s")
    parser.add_argument("--dp-timeout", type=float, default=60.0, help="opt_einsum dp call limit, s")
    parser.add_argument("--ctg-max-time", type=float, default=60.0, help="cotengra max_time, s")
    parser.add_argument("--jobs", type=int, default=1, help="networks at once for --peers")
    parser.add_argument("--resume", action="store_true", help="--peers: keep finished networks")
    parser.add_argument("--peer-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.optimizers = [o for o in args.optimizers.split(",") if o]
    reporting = not (args.peer_worker or args.make_networks or args.peers)
    if reporting and args.explain is None:
        print(f"$ {' '.join(BUILD_CMD)}", file=sys.stderr, flush=True)
        subprocess.run(BUILD_CMD, cwd=ROOT, stdout=sys.stderr, check=True)
    if args.explain is None:
        args.explain = EXPLAIN
    if not args.peer_worker and not args.make_networks and not args.peers and args.optimizers == OURS \
            and os.path.exists(args.explain):
        # The default list grows by `reconfigure` and `hyper` (1 s) when this
        # binary has them.
        usage = subprocess.run([args.explain, "--help"], capture_output=True, text=True).stdout
        for name, column in [("reconfigure", "reconfigure"), ("hyper", "hyper:1s")]:
            if re.search(rf"possible values:[^\]]*\b{name}\b", usage):
                args.optimizers = args.optimizers + [column]
    if args.peer_worker:
        peer_worker(args.peer_worker, args.timeout, args.dp_timeout, args.ctg_max_time, args.networks)
    elif args.make_networks:
        make_networks()
    elif args.peers:
        run_peers(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
