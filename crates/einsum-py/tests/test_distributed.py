"""Sliced contractions on a Dask LocalCluster of two worker processes on
loopback: the same result as in-process, slices batched into tasks, the
summation tree on the cluster. The cluster starts and stops within the
module (about 5 s)."""

import numpy as np
import pytest

import einsumc
import einsumc.distributed

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # Worker processes import this module's dependencies, not this module:
    # nothing here runs at import in a worker.
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def ring(n, size, seed):
    rng = np.random.default_rng(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    terms = [letters[k] + letters[(k + 1) % n] for k in range(n)]
    return ",".join(terms), [rng.standard_normal((size, size)) for _ in range(n)]


def test_summed_slices_match_in_process(client):
    subscripts, arrays = ring(5, 24, 0)
    expr = einsumc.contract_expression(subscripts + "->", *[a.shape for a in arrays], memory_limit=100)
    assert expr.num_slices >= 16, expr.slicing
    got, timing = einsumc.distributed.contract_timed(expr, *arrays, client=client)
    assert np.allclose(got, np.einsum(subscripts + "->", *arrays))
    # Again with the same operands: scattered anew, not confused with the
    # first run's released copies.
    again = einsumc.distributed.contract(expr, *arrays, client=client)
    assert np.allclose(again, got)
    assert np.allclose(got, expr(*arrays))
    assert timing.slices == expr.num_slices and timing.workers == 2
    assert timing.tasks >= 2 and timing.per_slice > 0 and timing.wall >= timing.busiest


def test_stacked_slices_are_placed(client):
    subscripts, arrays = ring(4, 20, 1)
    out = subscripts + "->a"
    got = einsumc.distributed.contract(out, *arrays, client=client, memory_limit=50, batch=3)
    assert np.allclose(got, np.einsum(out, *arrays))


def test_constants_and_an_unsliced_expression(client):
    subscripts, arrays = ring(3, 8, 2)
    expr = einsumc.contract_expression(
        subscripts + "->ab", arrays[0], (8, 8), (8, 8), constants=[0]
    )
    assert expr.num_slices == 1
    got = einsumc.distributed.contract(expr, *arrays[1:], client=client)
    assert np.allclose(got, np.einsum(subscripts + "->ab", *arrays))
