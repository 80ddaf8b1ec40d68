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
    # A size in bytes counts the arrays' elements (float32: 4 bytes each).
    narrow = [a.astype(np.float32) for a in arrays]
    got = einsumc.distributed.contract(out, *narrow, client=client, memory_limit="200B")
    assert np.allclose(got, np.einsum(out, *narrow), rtol=1e-4, atol=1e-4)


def test_constants_and_an_unsliced_expression(client):
    subscripts, arrays = ring(3, 8, 2)
    expr = einsumc.contract_expression(
        subscripts + "->ab", arrays[0], (8, 8), (8, 8), constants=[0]
    )
    assert expr.num_slices == 1
    got = einsumc.distributed.contract(expr, *arrays[1:], client=client)
    assert np.allclose(got, np.einsum(subscripts + "->ab", *arrays))


def test_operands_reach_the_slices_aligned():
    # A float64 array one byte into its buffer, as Dask may hand a worker
    # an array it received: the executor would copy it on every slice.
    raw = np.zeros(8 * 64 + 1, dtype=np.uint8)
    unaligned = raw[1:].view(np.float64).reshape(8, 8)
    unaligned[...] = np.arange(64.0).reshape(8, 8)
    assert not unaligned.flags.aligned
    import pickle

    # Scattered wrapped: unpickled, it is the array, aligned.
    arrived = pickle.loads(pickle.dumps(einsumc.distributed._Aligned(unaligned), protocol=5))
    assert isinstance(arrived, np.ndarray) and arrived.flags.aligned
    assert np.array_equal(arrived, unaligned)
    # What a batch runs on: aligned once, equal values.
    again = einsumc.distributed._aligned(unaligned)
    assert again.flags.aligned and np.array_equal(again, unaligned)
    # Already aligned: no copy.
    assert einsumc.distributed._aligned(arrived) is arrived
