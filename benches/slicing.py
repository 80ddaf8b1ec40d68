#!/usr/bin/env python3
"""Slicing overhead: our slices against cotengra's, at one memory target.

For each network of benches/quality_networks.txt that is picked (by default
up to --per-family networks of 20 to --max-n tensors of each family), the
target size is our unsliced order's largest intermediate divided by
--factor (16: the contraction must run in 16x less memory). Then:

- ours, same order: einsumc.contract_expression(eq, *shapes,
  optimize=<our unsliced path>, memory_limit=target): the order is kept,
  only the slices are chosen;
- ours, auto: the same with optimize='auto': slices chosen with the order
  re-planned (our default), its overhead over our best unsliced order;
- cotengra SliceFinder on the same order (ContractionTree.from_path, then
  SliceFinder(tree, target_size).search(), its best overhead);
- cotengra slice_and_reconfigure on the same order (slices and subtree
  reconfiguration, its default method).

Each overhead is sliced FLOPs / unsliced FLOPs of the same starting order,
each tool counting in its own convention (a ratio, so the conventions mostly
cancel). Below 1.5 for "ours / ctg" is the target of the slicing issue.

With --speed it instead times sliced contractions (rings of matrices, one
cut) with einsumc on 1 and 2 threads against numpy.einsum(optimize=True)
unsliced, best of 5: the 2-thread speedup of running slices at once (it
needs only einsumc and numpy: `.venv/bin/python benches/slicing.py --speed`).

With --dask it runs sliced rings on a LocalCluster of two worker processes
(einsumc.distributed) and prints the result check, time per slice and the
scheduler's overhead beside the in-process time (needs distributed:
`.venv/bin/python benches/slicing.py --dask`).

Needs a Python with einsumc and cotengra (and numpy), e.g.

    python3 -m venv /tmp/venv-ctg
    /tmp/venv-ctg/bin/pip install numpy opt_einsum cotengra
    .venv/bin/maturin build --release -m crates/einsum-py/Cargo.toml -o /tmp/wheels -i /tmp/venv-ctg/bin/python
    /tmp/venv-ctg/bin/pip install /tmp/wheels/einsumc-*.whl
    /tmp/venv-ctg/bin/python benches/slicing.py > slicing.md
"""
import argparse
import math
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = os.path.join(ROOT, "benches", "quality_networks.txt")


def read_networks(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            family, n, eq, *shapes = line.split()
            yield family, int(n), eq, [tuple(int(d) for d in s.split("x")) if s else () for s in shapes]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default=NETWORKS)
    parser.add_argument("--factor", type=float, default=16.0)
    parser.add_argument("--per-family", type=int, default=2)
    parser.add_argument("--max-n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=16, help="SliceFinder trials")
    parser.add_argument("--speed", action="store_true", help="time sliced runs on 1 and 2 threads")
    parser.add_argument("--dask", action="store_true", help="sliced runs on a 2-process LocalCluster")
    args = parser.parse_args()
    if args.speed:
        return speed()
    if args.dask:
        return dask()

    import cotengra as ctg
    import einsumc

    picked = {}
    for family, n, eq, shapes in read_networks(args.networks):
        if 20 <= n <= args.max_n and len(picked.setdefault(family, [])) < args.per_family:
            picked[family].append((n, eq, shapes))

    rows = []
    print(f"Slicing overhead at 1/{args.factor:g} of our unsliced order's largest intermediate "
          f"(einsumc {einsumc.__name__}, cotengra {ctg.__version__}; `{' '.join(sys.argv)}`)\n")
    print("| family | n | target | ours, same order | ctg SliceFinder, same order | ours / ctg | "
          "ours, re-planned | ctg slice+reconfigure | ours slicing time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for family, nets in picked.items():
        for n, eq, shapes in nets:
            free = einsumc.contract_expression(eq, *shapes)
            path = [tuple(p) for p in free.path]
            info = free._expression.plan_info(free._shapes)
            target = max(1, int(info["largest_intermediate"] / args.factor))
            started = time.perf_counter()
            same = einsumc.contract_expression(eq, *shapes, optimize=path, memory_limit=target)
            auto = einsumc.contract_expression(eq, *shapes, memory_limit=target)
            ours_time = time.perf_counter() - started
            ours_same = (same.slicing or {}).get("overhead", 1.0)
            ours_auto = (auto.slicing or {}).get("overhead", 1.0)
            lhs, rhs = eq.split("->")
            inputs = [list(t) for t in lhs.split(",")]
            size_dict = {}
            for t, s in zip(inputs, shapes):
                for ix, d in zip(t, s):
                    size_dict[ix] = d
            tree = ctg.ContractionTree.from_path(inputs, list(rhs), size_dict, path=path)
            base = tree.total_flops()
            sf = ctg.SliceFinder(tree, target_size=target, seed=0)
            _ix, cost = sf.search(max_repeats=args.repeats)
            ctg_same = cost.overhead
            reconf = tree.slice_and_reconfigure(target_size=target)
            ctg_reconf = reconf.total_flops() / base
            ratio = ours_same / ctg_same
            rows.append((family, ratio, ours_auto / ctg_reconf))
            print(f"| {family} | {n} | {target} | {ours_same:.3f} | {ctg_same:.3f} | {ratio:.2f} | "
                  f"{ours_auto:.3f} | {ctg_reconf:.3f} | {ours_time:.2f} |", flush=True)
    if rows:
        same = [r[1] for r in rows]
        replanned = [r[2] for r in rows]
        gm = lambda xs: math.exp(statistics.fmean(math.log(x) for x in xs))
        print(f"\nours / ctg, same order: geometric mean {gm(same):.2f}, worst {max(same):.2f} "
              f"({sum(x <= 1.5 for x in same)}/{len(same)} within 1.5x)")
        print(f"ours re-planned / ctg slice+reconfigure: geometric mean {gm(replanned):.2f}, "
              f"worst {max(replanned):.2f}")


def speed():
    import timeit

    import numpy as np
    import einsumc

    rng = np.random.default_rng(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    print("| contraction | size | limit | slicing | 1 thread (ms) | 2 threads (ms) | speedup | numpy unsliced (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, size, out, limit in [(6, 128, "", 2048), (8, 64, "", 1024), (4, 256, "", 4096), (4, 256, "a", 4096),
                                (4, 512, "", 8192)]:
        eq = ",".join(letters[k] + letters[(k + 1) % n] for k in range(n)) + "->" + out
        ops = [rng.standard_normal((size, size)) for _ in range(n)]
        expr = einsumc.contract_expression(eq, *[o.shape for o in ops], memory_limit=limit)
        best = {}
        for threads in (1, 2):
            expr(*ops, threads=threads)
            best[threads] = min(timeit.repeat(lambda: expr(*ops, threads=threads), number=5, repeat=5)) / 5
        theirs = min(timeit.repeat(lambda: np.einsum(eq, *ops, optimize=True), number=3, repeat=3)) / 3
        print(f"| `{eq}` | {size} | {limit} | {expr.slicing['summary']} | {best[1] * 1e3:.2f} | "
              f"{best[2] * 1e3:.2f} | {best[1] / best[2]:.2f}x | {theirs * 1e3:.2f} |", flush=True)


def dask():
    import time

    import numpy as np
    from distributed import Client, LocalCluster

    import einsumc
    import einsumc.distributed

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    rng = np.random.default_rng(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    print("| contraction | size | limit | slicing | in-process, 1 thread (s) | cluster wall (s) | "
          "per slice (ms) | busiest worker (s) | overhead (s) | equal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, size, limit in [(6, 96, 768), (6, 512, 4096), (6, 1024, 8192)]:
        eq = ",".join(letters[k] + letters[(k + 1) % n] for k in range(n)) + "->"
        ops = [rng.standard_normal((size, size)) for _ in range(n)]
        expr = einsumc.contract_expression(eq, *[o.shape for o in ops], memory_limit=limit)
        expr(*ops, threads=1)
        started = time.perf_counter()
        want = expr(*ops, threads=1)
        local = time.perf_counter() - started
        einsumc.distributed.contract(expr, *ops, client=client)  # warm: workers plan once
        got, t = einsumc.distributed.contract_timed(expr, *ops, client=client)
        print(f"| `{eq}` | {size} | {limit} | {expr.slicing['summary']} | {local:.3f} | {t.wall:.3f} | "
              f"{t.per_slice * 1e3:.3f} | {t.busiest:.3f} | {t.overhead:.3f} | {bool(np.isclose(got, want))} |",
              flush=True)
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
