"""Property test: random valid expressions, element types and layouts,
einsumc.einsum against numpy.einsum."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import einsumc

DTYPES = [
    np.float32, np.float64, np.complex64, np.complex128,
    np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.float16,
]


@st.composite
def problems(draw):
    labels = "abcdef"
    sizes = {c: draw(st.integers(1, 4)) for c in labels}
    n = draw(st.integers(1, 4))
    terms = []
    for _ in range(n):
        k = draw(st.integers(0, 4))
        terms.append("".join(draw(st.sampled_from(labels)) for _ in range(k)))
    used = sorted(set("".join(terms)))
    explicit = draw(st.booleans())
    if explicit:
        out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        subscripts = ",".join(terms) + "->" + out
    else:
        subscripts = ",".join(terms)
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ops = []
    for t in terms:
        shape = [sizes[c] for c in t]
        a = (rng.integers(-3, 4, size=shape)).astype(dtype)
        layout = draw(st.sampled_from(["C", "F", "reversed", "stepped"]))
        if layout == "F" and a.ndim:
            a = np.asfortranarray(a)
        elif layout == "reversed" and a.ndim:
            a = np.ascontiguousarray(a[::-1])[::-1]
        elif layout == "stepped" and a.ndim:
            big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
            big[::2] = a
            a = big[::2]
        ops.append(a)
    optimize = draw(st.sampled_from([True, False, "optimal", "dp", "greedy", "branch-all"]))
    return subscripts, ops, optimize


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_matches_numpy(problem):
    subscripts, ops, optimize = problem
    want = np.einsum(subscripts, *ops)
    got = einsumc.einsum(subscripts, *ops, optimize=optimize)
    got = np.asarray(got)
    assert got.dtype == np.asarray(want).dtype
    assert got.shape == np.shape(want)
    if got.dtype == np.float16:
        # float16 computes as numpy's half loops do: products and stored
        # sums rounded to half, dots and sums along an axis in float32.
        # Close to numpy's float32 result rounded, and loosely to numpy's
        # own half result (which rounds in its iterator's order).
        wide = np.asarray(np.einsum(subscripts, *[o.astype(np.float32) for o in ops])).astype(np.float16)
        np.testing.assert_allclose(got.astype(np.float32), wide.astype(np.float32), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(got.astype(np.float32), np.asarray(want, np.float32), rtol=2e-2, atol=64)
    elif got.dtype.kind in "iub":
        # integers wrap in their own width, booleans or their ands: exact
        np.testing.assert_array_equal(got, want)
    else:
        # small integers: exact in every type (float32 sums of at most 4^6 terms of magnitude <= 27)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
