"""Sliced contractions on a Dask cluster.

A contraction compiled with a memory limit it cannot meet unsliced is cut
into slices (``ContractExpression.num_slices``): each fixes some axes to one
index, runs within the limit, and the slices' results add up (along the
output's sliced axes, they are stacked). Slices are independent, so they run
anywhere: here, one task per batch of slices on the workers of a
``dask.distributed.Client``, each task running our Rust kernels with the GIL
released. The operands are scattered to the workers once; each batch's sum
stays on its worker; the batches are summed in a tree on the cluster, and
only the result comes back.

    from dask.distributed import Client
    import einsumc, einsumc.distributed

    client = Client("scheduler-address:8786")      # or Client(LocalCluster())
    expr = einsumc.contract_expression("ab,bc,cd,da->", *shapes, memory_limit=2**20)
    result = einsumc.distributed.contract(expr, *arrays, client=client)

A worker makes the expression again from the client's order and slices
(how a sliced expression pickles) and checks that its slices are the
client's before it runs.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from . import _einsumc
from ._numpy import _as_arrays, _element_bytes
from ._opt_einsum import ContractExpression, contract_expression

__all__ = ["Timing", "contract", "contract_timed"]


@dataclass(frozen=True)
class Timing:
    """What a distributed run took: ``wall`` seconds in all; ``compute``,
    the tasks' own seconds summed over every worker; ``per_slice``, the mean
    seconds of one slice inside a task; ``busiest``, the seconds of the
    worker that computed longest; ``overhead``, ``wall - busiest``: what
    scheduling, transfers and the summation tree cost beyond it."""

    slices: int
    tasks: int
    workers: int
    wall: float
    compute: float
    per_slice: float
    busiest: float
    overhead: float


def contract(expression, *arrays, client, batch=None, threads=1, memory_limit=None):
    """The contraction, its slices run on ``client``'s workers.

    ``expression`` is a ``ContractExpression`` (from
    ``einsumc.contract_expression(..., memory_limit=...)``) called with
    ``arrays``, or a subscripts string, then sliced for ``memory_limit``
    elements. ``batch`` slices run per task (default: about four tasks per
    worker thread); ``threads`` is each task's thread count."""
    return contract_timed(
        expression, *arrays, client=client, batch=batch, threads=threads, memory_limit=memory_limit
    )[0]


def contract_timed(expression, *arrays, client, batch=None, threads=1, memory_limit=None):
    """As ``contract``, and the run's ``Timing``."""
    started = time.perf_counter()
    if isinstance(expression, str):
        arrays = _as_arrays(arrays)
        shapes = [a.shape for a in arrays]
        if memory_limit is not None:
            # A size in bytes counts elements of the type these arrays
            # compute in.
            compute = np.result_type(*arrays)
            memory_limit = _einsumc.memory_limit_elements(memory_limit, _element_bytes(compute))
        expression = contract_expression(expression, *shapes, memory_limit=memory_limit)
    elif memory_limit is not None:
        raise TypeError("memory_limit= goes with a subscripts string; an expression has its own")
    if not isinstance(expression, ContractExpression):
        raise TypeError(f"expected a ContractExpression or a subscripts string, got {type(expression).__name__}")
    arrays = expression._full_arrays(arrays)
    n = expression.num_slices
    info = expression.slicing
    out_shape = tuple(expression._expression.output_shape(expression._shapes))
    dtype = np.result_type(*arrays)
    # Slices by where their results go: one block of the output each.
    blocks = {}
    for i in range(n):
        key = tuple((s.start, s.stop) for s in expression.slice_index(i))
        blocks.setdefault(key, []).append(i)
    workers = client.scheduler_info(n_workers=-1)["workers"]
    lanes = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
    if batch is None:
        batch = max(1, math.ceil(n / (4 * lanes)))
    remote_expression = client.scatter(expression, broadcast=True, hash=False)
    remote_arrays = client.scatter([_Aligned(a) for a in arrays], broadcast=True, hash=False)
    expected = _slices_of(info)
    sums = {}
    tasks = []
    for key, slices in blocks.items():
        parts = [
            client.submit(
                _run_batch,
                remote_expression,
                expected,
                slices[k : k + batch],
                threads,
                *remote_arrays,
                pure=False,
            )
            for k in range(0, len(slices), batch)
        ]
        tasks.extend(parts)
        sums[key] = _tree_sum(client, [client.submit(_value, p, pure=False) for p in parts])
    timings = client.gather([client.submit(_timing, t, pure=False) for t in tasks])
    results = client.gather(list(sums.values()))
    out = np.zeros(out_shape, dtype=dtype)
    for key, block in zip(sums.keys(), results):
        out[tuple(slice(a, b) for a, b in key)] += block
    wall = time.perf_counter() - started
    per_worker = {}
    for seconds, worker in timings:
        per_worker[worker] = per_worker.get(worker, 0.0) + seconds
    compute = sum(per_worker.values())
    busiest = max(per_worker.values(), default=0.0)
    timing = Timing(
        slices=n,
        tasks=len(tasks),
        workers=len(workers),
        wall=wall,
        compute=compute,
        per_slice=compute / n if n else 0.0,
        busiest=busiest,
        overhead=wall - busiest,
    )
    return (out[()] if out.ndim == 0 else out), timing


class _Aligned:
    """An array that arrives on a worker aligned. Dask hands a worker the
    arrays it receives over the buffers they came in, which need not be
    aligned to the element size (seen: a float64 array at an address of 44
    mod 64); the executor cannot read such an array in place and would copy
    it on every slice. Unpickled, this is the array itself, copied once to
    aligned memory where it has to be. (A worker that passes the array on
    to another sends it as an array: ``_run_batch`` aligns what it gets.)"""

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        return (_aligned, (self.array,))


def _aligned(array):
    return np.require(array, requirements="A")


def _run_batch(expression, expected, slices, threads, *arrays):
    """On a worker: the sum of ``slices``' results, in order, and the
    seconds it took and where."""
    from distributed import get_worker

    found = _slices_of(expression.slicing)
    if found != expected:
        raise RuntimeError(
            f"the worker sliced the contraction otherwise ({found!r}) than the client ({expected!r})"
        )
    started = time.perf_counter()
    # Aligned once for the batch, not copied by every slice: an array one
    # worker passed on to another arrives over its buffer again, and an
    # in-process worker (LocalCluster(processes=False)) gets the wrapper.
    arrays = [_aligned(a.array if isinstance(a, _Aligned) else a) for a in arrays]
    total = None
    for i in slices:
        part = expression.contract_slice(i, *_free(expression, arrays), threads=threads)
        total = part if total is None else np.add(total, part, out=total)
    seconds = time.perf_counter() - started
    return total, seconds, get_worker().address


def _slices_of(info):
    """The sliced axes and the number of slices: what must agree between the
    client and a worker."""
    return None if info is None else (tuple(info["axes"]), info["slices"])


def _free(expression, arrays):
    """The arrays a call passes: those at positions without a constant."""
    return [arrays[i] for i in expression._positions]


def _value(result):
    return result[0]


def _timing(result):
    return result[1], result[2]


def _add(a, b):
    return np.add(a, b)


def _tree_sum(client, futures):
    """The sum of ``futures``, pairwise in a balanced tree on the cluster
    (the same pairing for the same number of parts)."""
    while len(futures) > 1:
        paired = [client.submit(_add, futures[k], futures[k + 1], pure=False) for k in range(0, len(futures) - 1, 2)]
        if len(futures) % 2:
            paired.append(futures[-1])
        futures = paired
    return futures[0]
