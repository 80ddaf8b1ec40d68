"""memory_limit= (ours): a contraction that no order fits within the limit
is sliced, and still equals numpy.einsum; a compiled expression exposes its
slices. numpy's and opt_einsum's own limits (optimize=(name, limit),
contract_path) keep their meaning: a path within the limit, or none."""

import numpy as np
import pytest

import einsumc


def ring(n, size, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    terms = ",".join(letters[k] + letters[(k + 1) % n] for k in range(n))
    arrays = [rng.standard_normal((size, size)).astype(dtype) for _ in range(n)]
    if np.dtype(dtype).kind == "c":
        arrays = [a + 1j * rng.standard_normal(a.shape) for a in arrays]
    return terms, arrays


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("out", ["", "a", "ac"])
def test_einsum_with_a_memory_limit_matches_numpy(dtype, out):
    terms, arrays = ring(5, 12, 1, dtype)
    if np.dtype(dtype).kind == "i":
        arrays = [(a * 3).astype(dtype) for a in arrays]
    subscripts = f"{terms}->{out}"
    want = np.einsum(subscripts, *arrays)
    got = einsumc.einsum(subscripts, *arrays, memory_limit=20)
    tol = 1e-3 if dtype == np.float32 else 1e-9
    assert np.allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    expr = einsumc.contract_expression(subscripts, *[a.shape for a in arrays], memory_limit=20)
    assert expr.num_slices > 1, "the limit needs slices"
    assert expr.slicing["limit"] == 20


def test_the_slices_add_up_to_the_result():
    terms, arrays = ring(4, 16, 2)
    for out in ["", "b", "ab"]:
        expr = einsumc.contract_expression(f"{terms}->{out}", *[a.shape for a in arrays], memory_limit=40)
        info = expr.slicing
        assert info is not None and expr.num_slices == info["slices"]
        total = np.zeros(np.einsum(f"{terms}->{out}", *arrays).shape)
        for i in range(expr.num_slices):
            part = expr.contract_slice(i, *arrays)
            assert part.shape == tuple(info["slice_shape"])
            total[expr.slice_index(i)] += part
        assert np.allclose(total, np.einsum(f"{terms}->{out}", *arrays))
        assert np.allclose(expr(*arrays), total)
    with pytest.raises(ValueError):
        expr.slice_index(expr.num_slices)


def test_contract_with_a_memory_limit_slices_and_contract_path_does_not():
    terms, arrays = ring(4, 16, 3)
    subscripts = terms + "->"
    got = einsumc.contract(subscripts, *arrays, memory_limit=40)
    assert np.allclose(got, np.einsum(subscripts, *arrays))
    # opt_einsum's meaning for the path: one step over everything when no
    # pairwise order fits.
    path, _info = einsumc.contract_path(subscripts, *arrays, memory_limit=40)
    assert path == [(0, 1, 2, 3)]


def test_a_limit_every_order_fits_does_not_slice():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    expr = einsumc.contract_expression("ij,jk->ik", a.shape, b.shape, memory_limit=10**6)
    assert expr.slicing is None and expr.num_slices == 1
    assert np.allclose(expr.contract_slice(0, a, b), a @ b)


def test_a_memory_limit_is_elements_or_a_size_in_bytes():
    a = np.ones((2, 2))
    with pytest.raises(ValueError, match="memory_limit: expected elements"):
        einsumc.einsum("ij,jk->ik", a, a, memory_limit="lots")
    with pytest.raises(ValueError, match="unknown unit 'parsecs'"):
        einsumc.contract("ij,jk->ik", a, a, memory_limit="3 parsecs")
    with pytest.raises(TypeError, match="memory_limit"):
        einsumc.einsum("ij,jk->ik", a, a, memory_limit=2.5)
    with pytest.raises(TypeError, match="memory_limit"):
        einsumc.einsum("ij,jk->ik", a, a, memory_limit=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.float16])
def test_a_memory_limit_in_bytes_counts_the_elements_of_the_dtype(dtype):
    terms, arrays = ring(5, 12, 6, dtype)
    subscripts = terms + "->a"
    element_bytes = np.dtype(dtype).itemsize
    size = f"{20 * element_bytes}B"
    want = einsumc.einsum(subscripts, *arrays, memory_limit=20)
    assert np.array_equal(einsumc.einsum(subscripts, *arrays, memory_limit=size), want)
    assert np.array_equal(einsumc.contract(subscripts, *arrays, memory_limit=size), want)
    # In explain: the same slices as 20 elements.
    by_bytes = einsumc.explain(subscripts, *arrays, memory_limit=size).to_dict()["slicing"]
    by_elements = einsumc.explain(subscripts, *arrays, memory_limit=20).to_dict()["slicing"]
    assert by_bytes == by_elements and by_bytes is not None
    # Mixed dtypes: the size counts elements of the promoted type.
    mixed = [np.real(arrays[0]).astype(np.float32), *arrays[1:]]
    compute = np.result_type(*mixed)
    wide = compute.itemsize
    assert np.array_equal(
        einsumc.einsum(subscripts, *mixed, memory_limit=f"{20 * wide}B"),
        einsumc.einsum(subscripts, *mixed, memory_limit=20),
    )


def test_a_compiled_expression_counts_bytes_as_float64_and_refuses_wider():
    terms, arrays = ring(5, 12, 7)
    shapes = [a.shape for a in arrays]
    expr = einsumc.contract_expression(terms + "->", *shapes, memory_limit="160B")
    assert expr.slicing["limit"] == 20
    assert np.isclose(expr(*arrays), np.einsum(terms + "->", *arrays))
    narrow = [a.astype(np.float32) for a in arrays]
    assert np.isclose(expr(*narrow), np.einsum(terms + "->", *narrow), rtol=1e-4)
    wide = [a.astype(np.complex128) for a in arrays]
    for call in (lambda: expr(*wide), lambda: expr.contract_slice(0, *wide)):
        with pytest.raises(ValueError, match="elements of 8 bytes"):
            call()
    # Elements are elements whatever the dtype.
    expr = einsumc.contract_expression(terms + "->", *shapes, memory_limit="20")
    assert expr.slicing["limit"] == 20
    assert np.isclose(expr(*wide), np.einsum(terms + "->", *wide))


def test_the_sliced_plan_is_reported():
    terms, arrays = ring(4, 16, 4)
    text = str(einsumc.explain(terms + "->", *arrays, memory_limit=40))
    assert "Sliced:" in text and "slices, overhead" in text


def test_a_sliced_expression_pickles_with_its_order_and_slices():
    import pickle

    terms, arrays = ring(5, 12, 5)
    expr = einsumc.contract_expression(terms + "->", *[a.shape for a in arrays], memory_limit=20)
    again = pickle.loads(pickle.dumps(expr))
    assert again.slicing["axes"] == expr.slicing["axes"]
    assert again.num_slices == expr.num_slices
    assert again.path == expr.path
    for i in (0, expr.num_slices - 1):
        assert np.array_equal(again.contract_slice(i, *arrays), expr.contract_slice(i, *arrays))
