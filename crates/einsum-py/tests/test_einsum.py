"""einsumc.einsum and einsum_path against numpy.einsum: expressions, element
types, layouts, out=, dtype=, casting=, order=, views, the sublist form,
errors, threads and the GIL."""

import pickle
import threading

import numpy as np
import pytest

import einsumc

RNG = np.random.default_rng(0)
DTYPES = [
    np.float32, np.float64, np.complex64, np.complex128,
    np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
]
TOL = {np.float32: 1e-4, np.complex64: 1e-4}

EXPRESSIONS = [
    ("ij,jk->ik", [(4, 5), (5, 3)]),
    ("ij,ij->i", [(6, 7), (6, 7)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij->", [(3, 5)]),
    ("ij->j", [(3, 5)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,jk", [(1, 3, 4), (4, 5)]),
    ("ij,j", [(3, 4), (4,)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("ijk,kji->", [(2, 3, 4), (4, 3, 2)]),
    ("i,i,i->i", [(5,), (5,), (5,)]),
    ("ab,bc,cd,de->ae", [(3, 4), (4, 2), (2, 5), (5, 3)]),
    (",i->i", [(), (4,)]),
    ("ij,ij", [(0, 3), (0, 3)]),
    ("ij,jk->ik", [(1, 5), (5, 1)]),
    ("abc,c->ab", [(2, 1, 3), (3,)]),
]


def rand(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)
    if dtype.kind == "i":
        return RNG.integers(-5, 6, size=shape).astype(dtype)
    if dtype.kind == "u":
        return RNG.integers(0, 6, size=shape).astype(dtype)
    if dtype.kind == "b":
        return RNG.integers(0, 2, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def check(got, want, dtype=None):
    want = np.asarray(want)
    got_arr = np.asarray(got)
    assert got_arr.shape == want.shape
    assert got_arr.dtype == want.dtype, (got_arr.dtype, want.dtype)
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got_arr, want)
    else:
        tol = TOL.get(want.dtype.type, 1e-10)
        np.testing.assert_allclose(got_arr, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("subscripts,shapes", EXPRESSIONS, ids=[e[0] for e in EXPRESSIONS])
@pytest.mark.parametrize("optimize", [True, False, "optimal", "dp", "branch-2"])
def test_matches_numpy(subscripts, shapes, dtype, optimize):
    ops = [rand(s, dtype) for s in shapes]
    check(einsumc.einsum(subscripts, *ops, optimize=optimize), np.einsum(subscripts, *ops))


def layouts(a):
    """The same values in C order, F order, stepped, reversed, and as a
    field of a packed structured array (misaligned, odd byte strides)."""
    yield "C", np.ascontiguousarray(a)
    yield "F", np.asfortranarray(a)
    big = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
    big[tuple(slice(1, None, 2) for _ in a.shape)] = a
    yield "stepped", big[tuple(slice(1, None, 2) for _ in a.shape)]
    rev = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
    yield "negative", rev[tuple(slice(None, None, -1) for _ in a.shape)]
    packed = np.zeros(a.shape, dtype=[("pad", "i1"), ("x", a.dtype)])
    packed["x"] = a
    yield "packed-field", packed["x"]
    swapped = a.astype(a.dtype.newbyteorder())
    yield "byteswapped", swapped


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_layouts(dtype):
    a = rand((3, 4), dtype)
    b = rand((4, 5), dtype)
    want = np.einsum("ij,jk->ik", a, b)
    for name_a, la in layouts(a):
        for name_b, lb in layouts(b):
            np.testing.assert_array_equal(la, a)
            check(einsumc.einsum("ij,jk->ik", la, lb), want)


def test_packed_field_is_not_misread():
    # A float64 field at byte offset 1 of a 9-byte record: strides are not
    # whole elements and the data is misaligned; it must be copied, not viewed.
    rec = np.zeros(7, dtype=[("pad", "i1"), ("x", "f8")])
    rec["x"] = np.arange(7.0)
    assert einsumc.einsum("i->", rec["x"]) == 21.0
    assert einsumc.einsum("i,i->", rec["x"], rec["x"]) == np.dot(np.arange(7.0), np.arange(7.0))


def test_broadcast_zero_strides():
    a = np.broadcast_to(np.arange(4.0), (3, 4))
    b = np.broadcast_to(np.arange(3.0)[:, None], (3, 5))
    check(einsumc.einsum("ij,ik->jk", a, b), np.einsum("ij,ik->jk", a, b))
    check(einsumc.einsum("ij->", a), np.einsum("ij->", a))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.int64, np.float32])
def test_out_any_strides_in_place(dtype):
    a = rand((3, 4), dtype)
    b = rand((4, 5), dtype)
    want = np.einsum("ij,jk->ik", a, b)
    for make in (
        lambda: np.zeros((3, 5), dtype),
        lambda: np.zeros((5, 3), dtype).T,
        lambda: np.zeros((6, 10), dtype)[::2, ::2],
        lambda: np.zeros((3, 5), dtype)[::-1, ::-1],
    ):
        out = make()
        got = einsumc.einsum("ij,jk->ik", a, b, out=out)
        assert got is out
        check(out, want)


def test_out_cast_and_overlap():
    a = np.arange(9.0).reshape(3, 3)
    out = np.zeros((3, 3), np.complex128)
    assert einsumc.einsum("ij,jk->ik", a, a, out=out) is out
    np.testing.assert_allclose(out, a @ a)
    # out= overlapping an operand (numpy's gh-10080)
    a = np.arange(9).reshape(3, 3)
    b = np.arange(9).reshape(3, 3)
    want = a @ b
    einsumc.einsum("ij,jk->ik", a, b, out=b)
    np.testing.assert_array_equal(b, want)
    # 0-d out
    out = np.array(0.0)
    einsumc.einsum("i,i->", np.ones(7), np.ones(7), out=out)
    assert out == 7


def test_out_casting_rules():
    a = np.ones(3)
    with pytest.raises(TypeError):
        einsumc.einsum("i,i->i", a, a, out=np.zeros(3, np.float32))
    out = np.zeros(3, np.float32)
    einsumc.einsum("i,i->i", a, a, out=out, casting="same_kind")
    np.testing.assert_array_equal(out, np.ones(3))
    with pytest.raises(TypeError):
        einsumc.einsum("i,i->i", a, a, out=np.zeros(3, np.int64), casting="same_kind")
    with pytest.raises(ValueError):
        einsumc.einsum("i,i->i", a, a, out=np.zeros(4))
    with pytest.raises(TypeError):
        einsumc.einsum("i,i->i", a, a, out="no")


def test_dtype_and_casting_as_numpy():
    a = np.arange(6.0).reshape(2, 3)
    for dtype, casting in [("f4", "same_kind"), ("c16", "safe"), ("f8", "no"), ("i8", "unsafe")]:
        want = np.einsum("ij->j", a, dtype=dtype, casting=casting)
        check(einsumc.einsum("ij->j", a, dtype=dtype, casting=casting), want)
    with pytest.raises(TypeError):
        einsumc.einsum("ij->j", a, dtype="f4")
    with pytest.raises(TypeError):
        einsumc.einsum("i,i", np.ones(2, np.float32), np.ones(2), casting="no")
    with pytest.raises(ValueError):
        einsumc.einsum("i", a[0], casting="blah")
    with pytest.raises(TypeError):
        einsumc.einsum("i", a[0], dtype="bad_data_type")


def test_promotion_as_numpy():
    cases = [
        (np.ones(3, np.float32), np.ones(3, np.float64)),
        (np.ones(3, np.int32), np.ones(3, np.float32)),
        (np.ones(3, np.int32), np.ones(3, np.int64)),
        (np.ones(3, np.int8), np.ones(3, np.float64)),  # computed in float64, as numpy does
        (np.ones(3, np.complex64), np.ones(3, np.float64)),
    ]
    for a, b in cases:
        check(einsumc.einsum("i,i->i", a, b), np.einsum("i,i->i", a, b))
    check(einsumc.einsum("i,->i", np.ones(3, np.float32), 2.0), np.einsum("i,->i", np.ones(3, np.float32), 2.0))
    check(einsumc.einsum("i,i", [1, 2], [3, 4]), np.einsum("i,i", [1, 2], [3, 4]))
    check(einsumc.einsum("ij->ji", [[1.5, 2], [3, 4]]), np.einsum("ij->ji", [[1.5, 2], [3, 4]]))
    assert type(einsumc.einsum("", 3.0)) is type(np.einsum("", 3.0))
    assert type(einsumc.einsum("i,i", np.ones(2), np.ones(2))) is np.float64


@pytest.mark.parametrize("dtype", ["longdouble", "clongdouble"])
def test_unsupported_dtype_is_a_type_error_naming_it(dtype):
    a = np.ones(3, dtype)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        einsumc.einsum("i,i->i", a, a)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        einsumc.einsum("i->", np.ones(3), dtype=dtype, casting="unsafe")
    with pytest.raises(TypeError, match="object"):
        einsumc.einsum("i->", np.ones(3, object))


VIEWS = ["ii->i", "ij->ji", "ij", "ji", "...", "ijk->jik", "...ii->...i", "ii...->i...", "iii->i", "jii->ij"]


@pytest.mark.parametrize("subscripts", VIEWS)
@pytest.mark.parametrize("optimize", [True, False])
def test_views_where_numpy_returns_views(subscripts, optimize):
    ndim = len(subscripts.split("->")[0].replace("...", "")) + (1 if "..." in subscripts else 0)
    a = np.arange(3**ndim, dtype=np.float64).reshape((3,) * ndim)
    want = np.einsum(subscripts, a, optimize=optimize)
    got = einsumc.einsum(subscripts, a, optimize=optimize)
    np.testing.assert_array_equal(got, want)
    assert got.base is a.base, "numpy returns a view of the input here"
    assert got.flags.writeable
    assert got.strides == want.strides
    a.flags.writeable = False
    assert not einsumc.einsum(subscripts, a).flags.writeable


def test_no_view_for_sums():
    a = np.arange(9.0).reshape(3, 3)
    r = einsumc.einsum("ij->i", a)
    assert not np.shares_memory(r, a)


@pytest.mark.parametrize("order", ["C", "F", "A", "K", "c", "k"])
def test_order(order):
    for a, b in [
        (np.ones((2, 3, 5), order="F"), np.ones((4, 3), order="F")),
        (np.ones((2, 3, 5)), np.ones((4, 3), order="F")),
        (np.ones((2, 3, 5)), np.ones((4, 3))),
    ]:
        want = np.einsum("...ft,mf->...mt", a, b, order=order)
        got = einsumc.einsum("...ft,mf->...mt", a, b, order=order)
        check(got, want)
        assert got.flags.c_contiguous == want.flags.c_contiguous
        assert got.flags.f_contiguous == want.flags.f_contiguous
        assert got.strides == want.strides


LARGE_RESULTS = [
    # Results past 16 KiB are numpy.empty's memory, written whole by the
    # executor: copies, sums, products, permuted (order K) and sliced runs.
    ("ij,ij->ij", [(64, 96), (64, 96)], {}),
    ("ij->ji", [(70, 90)], {}),
    ("ijk->kij", [(9, 30, 40)], {}),
    ("i,j->ij", [(80,), (70,)], {}),
    ("ij,jk->ik", [(60, 50), (50, 70)], {}),
    ("bij,bjk->bik", [(4, 30, 20), (4, 20, 40)], {}),
    ("ijk->ik", [(40, 7, 90)], {}),
    ("ij,jk,kl->il", [(60, 30), (30, 40), (40, 80)], {"memory_limit": 1500}),
    ("ab,bc->ac", [(70, 0), (0, 80)], {}),
    # Chains run in blocks for the cache (Plan.blocks): rows, a summed
    # axis, a full reduction.
    ("ij,ij,ij->i", [(300, 400), (300, 400), (300, 400)], {}),
    ("ij,ij,ij->j", [(300, 400), (300, 400), (300, 400)], {}),
    ("i,i,i->", [(100_000,), (100_000,), (100_000,)], {}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64, np.uint8,
                                   np.float16, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("subscripts,shapes,kwargs", LARGE_RESULTS, ids=[e[0] for e in LARGE_RESULTS])
def test_large_results_are_written_whole(subscripts, shapes, kwargs, dtype):
    operands = [rand(s, dtype) for s in shapes]
    for layout in ["C", "F"]:
        ops = [np.asarray(o, order=layout) for o in operands]
        want = np.einsum(subscripts, *ops)
        for _ in range(3):
            # Freed memory of the result's size, full of NaN or 0xff bytes,
            # for numpy's allocator to hand out again.
            junk = np.full(want.size * want.itemsize // 8 + 8, np.nan)
            junk.view(np.uint8)[::3] = 0xFF
            del junk
            got = einsumc.einsum(subscripts, *ops, **kwargs)
            if dtype == np.float16:
                # Sums of products round differently from numpy's (ours
                # accumulate in float32 for longer): a few half ulps.
                scale = float(np.abs(want).max(initial=1.0))
                np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2 * scale)
                assert got.dtype == want.dtype
            else:
                check(got, want)
            assert got.strides == want.strides or want.size == 0


def test_default_layout_follows_numpy():
    x, y = np.ones((3, 4)), np.ones((4, 5))
    for s in ["ij,jk->ki", "ij,jk->ik", "ij,jk"]:
        assert einsumc.einsum(s, x, y).strides == np.einsum(s, x, y).strides
    with pytest.raises(ValueError):
        einsumc.einsum("i", np.ones(2), order="W")


def test_sublist_form():
    a = rand((3, 4), np.float64)
    b = rand((4, 5), np.float64)
    check(einsumc.einsum(a, [0, 1], b, [1, 2], [0, 2]), np.einsum(a, [0, 1], b, [1, 2], [0, 2]))
    check(einsumc.einsum(a, [0, 1], b, [1, 2]), np.einsum(a, [0, 1], b, [1, 2]))
    check(einsumc.einsum(a, [Ellipsis, 1], [Ellipsis]), np.einsum(a, [Ellipsis, 1], [Ellipsis]))
    check(einsumc.einsum(a, [30, 51], [51]), np.einsum(a, [30, 51], [51]))
    with pytest.raises(ValueError):
        einsumc.einsum(a, [0, 52], b, [52, 2], [0, 2])
    with pytest.raises(TypeError):
        einsumc.einsum(0, 0)


def test_errors_are_numpys_classes_with_carets():
    with pytest.raises(ValueError) as err:
        einsumc.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
    assert str(err.value) == (
        "error: label 'j' has size 3 in operand 0 but size 4 in operand 1\n  ij,jk->ik\n   ^ ^"
    )
    with pytest.raises(ValueError, match="invalid character"):
        einsumc.einsum("i%", np.ones(2))
    with pytest.raises(ValueError):
        einsumc.einsum("ij,jk->ik", np.ones((2, 3)))
    with pytest.raises(ValueError):
        einsumc.einsum()
    with pytest.raises(ValueError):
        einsumc.einsum("i", np.ones((2, 2)))


def test_explicit_paths_and_memory_limit():
    ops = [rand(s, np.float64) for s in [(3, 4), (4, 5), (5, 2), (2, 6)]]
    want = np.einsum("ab,bc,cd,de->ae", *ops)
    for path in (["einsum_path", (0, 1), (0, 1), (0, 1)], ["einsum_path", (2, 3), (0, 1), (0, 1)],
                 ["einsum_path", (0, 1, 2, 3)], ["einsum_path", (1,), (0, 1, 2), (0, 1)]):
        check(einsumc.einsum("ab,bc,cd,de->ae", *ops, optimize=path), want)
    with pytest.raises(RuntimeError):
        einsumc.einsum("ab,bc,cd,de->ae", *ops, optimize=["einsum_path", (2, 3), (0, 1)])
    check(einsumc.einsum("ab,bc,cd,de->ae", *ops, optimize=("greedy", 100)), want)
    with pytest.raises(einsumc.MemoryLimitError):
        einsumc.einsum("ab,bc,cd,de->ae", *ops, optimize=("greedy", 1))
    with pytest.raises(ValueError):
        einsumc.einsum("ij", np.ones((2, 2)), optimize="no-such-optimizer")


def test_einsum_path_matches_numpy_text():
    sd = dict(zip("abcdefghijk", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4, 3]))
    for s in ["acdf,jbje,gihb,hfac,gfac,gifabc,hfac", "eb,cb,fb->cef", "dd,fb,be,cdb->cef", "bca,cdb,dbf,afc->", "ij,jk", "ii"]:
        ops = [RNG.random([sd[c] for c in t]) for t in s.split("->")[0].split(",")]
        for opt in ["greedy", "optimal"]:
            assert einsumc.einsum_path(s, *ops, optimize=opt) == np.einsum_path(s, *ops, optimize=opt), (s, opt)
    ops = [np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))]
    assert einsumc.einsum_path("ij,jk,kl->il", *ops, optimize=False) == np.einsum_path("ij,jk,kl->il", *ops, optimize=False)
    # numpy names '...' dimensions with letters drawn from a set, in hash
    # order (it varies between processes); we take the last unused ones in
    # sorted order. Compare the path and the text with the letter masked.
    ell = [np.ones((2, 3, 4)), np.ones((4, 5))]
    ours, theirs = einsumc.einsum_path("...ij,jk", *ell), np.einsum_path("...ij,jk", *ell)
    assert ours[0] == theirs[0]
    def masked(text):
        letter = text.split("Complete contraction:  ")[1][0]
        return [" ".join(w.replace(letter, "#") if "->" in w else w for w in line.split(" ")) for line in text.split("\n")]

    assert masked(ours[1]) == masked(theirs[1])


def test_threads_and_gil_release():
    a = RNG.random((300, 300))
    want = a @ a
    for threads in (1, 2, None):
        np.testing.assert_allclose(einsumc.einsum("ij,jk->ik", a, a, threads=threads), want)
    with pytest.raises(ValueError):
        einsumc.einsum("ij,jk->ik", a, a, threads=0)
    results = []

    def work():
        results.append(einsumc.einsum("ij,jk->ik", a, a, threads=1))

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, want)


def test_expression_pickles_and_caches_plans():
    e = einsumc.Expression("ij,jk->ik", "optimal")
    e2 = pickle.loads(pickle.dumps(e))
    a, b = np.ones((2, 3)), np.ones((3, 4))
    np.testing.assert_array_equal(e2.run((a, b)), a @ b)
    for _ in range(5):
        e2.run((a, b))
    assert e2.plans_made == 1


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16])
def test_small_integers_wrap_in_their_own_width_as_numpy(dtype):
    a = np.full((3, 200), 100, dtype)
    check(einsumc.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", a, a))
    check(einsumc.einsum("ij->", a), np.einsum("ij->", a))


def test_booleans_sum_as_or_and_multiply_as_and():
    a = np.array([[True, False], [False, False]])
    b = np.array([[True, True], [False, True]])
    for subscripts in ["ij,jk->ik", "ij,ij->i", "ij->", "ii->i", "ij,ij->ij"]:
        check(einsumc.einsum(subscripts, a, b) if "," in subscripts else einsumc.einsum(subscripts, a),
              np.einsum(subscripts, a, b) if "," in subscripts else np.einsum(subscripts, a))


def test_defaults_passed_explicitly_take_the_same_road():
    a, b = RNG.random((3, 4)), RNG.random((4, 2))
    want = a @ b
    for kwargs in ({}, {"order": "K"}, {"casting": "safe"}, {"optimize": True}, {"optimize": False},
                   {"optimize": "greedy"}, {"dtype": None}, {"out": None}, {"order": "C"}):
        np.testing.assert_allclose(einsumc.einsum("ij,jk->ik", a, b, **kwargs), want)
    with pytest.raises(ValueError):
        einsumc.einsum("ij,jk->ik", a, b, order="Q")
    with pytest.raises(TypeError):
        einsumc.einsum("ij,jk->ik", a, b, bogus=1)


def test_float16_accumulates_in_float32_as_numpy():
    # 4096 ones: a half accumulator stops at 2048, numpy's float32 one does not.
    a = np.ones(4096, np.float16)
    got = einsumc.einsum("i->", a)
    assert got.dtype == np.float16 and got == np.einsum("i->", a) == 4096
    m = RNG.random((30, 40)).astype(np.float16)
    n = RNG.random((40, 20)).astype(np.float16)
    want = (m.astype(np.float32) @ n.astype(np.float32)).astype(np.float16)
    got = einsumc.einsum("ij,jk->ik", m, n)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)
    # numpy's own result: within a few half ulps (its iterator may put the
    # summed axis outside the inner loop, rounding to half at every step).
    np.testing.assert_allclose(got.astype(np.float32), np.einsum("ij,jk->ik", m, n).astype(np.float32), rtol=1e-2)
    out = np.zeros((20, 30), np.float32).T
    assert einsumc.einsum("ij,jk->ik", m, n, out=out) is out
    np.testing.assert_array_equal(out, want.astype(np.float32))
    half = einsumc.einsum("ij,jk->ik", m.astype(np.float64), n, dtype="e", casting="unsafe")
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, want)
    assert einsumc.einsum("ij->ji", m).base is m  # a view, as numpy


class _DLPackTensor:
    """A foreign tensor that speaks only DLPack (as torch and jax CPU
    tensors do): np.asarray would make it a 0-d object array."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_dlpack_producers_are_read_in_place():
    a = RNG.random((3, 4))
    b = RNG.random((4, 5))
    np.testing.assert_allclose(einsumc.einsum("ij,jk->ik", _DLPackTensor(a), _DLPackTensor(b)), a @ b)
    np.testing.assert_allclose(einsumc.contract("ij,jk->ik", _DLPackTensor(a), b), a @ b)
    view = einsumc.einsum("ij->ji", _DLPackTensor(a))
    assert np.shares_memory(view, a)  # no copy on the way in
    expr = einsumc.contract_expression("ij,jk->ik", (3, 4), (4, 5))
    np.testing.assert_allclose(expr(_DLPackTensor(a), _DLPackTensor(b)), a @ b)


def test_ctrl_c_stops_a_long_run_between_steps():
    # Eight 700x700 products (5.5 GFLOP): Ctrl-C (simulated, 30 ms in)
    # stops the run before its last step, which alone writes `out`.
    import _thread

    mats = [RNG.random((700, 700)) for _ in range(9)]
    subscripts = "ab,bc,cd,de,ef,fg,gh,hi,ij->aj"
    out = np.zeros((700, 700))
    timer = threading.Timer(0.03, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            einsumc.einsum(subscripts, *mats, out=out, optimize="greedy")
    finally:
        timer.cancel()
    assert not out.any(), "the last step ran: the interrupt was not seen between steps"
    # The expression still runs afterwards.
    small = [m[:3, :3] for m in mats]
    np.testing.assert_allclose(einsumc.einsum(subscripts, *small), np.linalg.multi_dot(small))


def _random_chain(seed):
    """A random chain of 3-4 operands over three axes, large enough that its
    temporaries pass the cache (the planner may cut it into blocks), on
    random layouts: C, F, transposed, stepped or reversed."""
    rng = np.random.default_rng(seed)
    sizes = {"i": int(rng.choice([256, 300, 320])), "j": int(rng.choice([256, 270, 300])),
             "k": int(rng.choice([1, 2, 3]))}
    terms = []
    for _ in range(int(rng.integers(3, 5))):
        # Mostly every axis (elementwise chains, which block), sometimes
        # fewer (broadcasts, sums, matrix-vector products).
        keep = 3 if rng.random() < 0.75 else int(rng.integers(1, 3))
        axes = list(rng.permutation(["i", "j", "k"]))[:keep]
        terms.append("".join(axes))
    labels = sorted(set("".join(terms)))
    out = "".join(a for a in labels if rng.random() < 0.5)
    operands = []
    for t in terms:
        shape = tuple(sizes[a] for a in t)
        data = (rng.integers(-3, 4, size=shape)).astype(np.float64)
        layout = rng.integers(0, 5)
        if layout == 1:
            data = np.asfortranarray(data)
        elif layout == 2 and data.ndim >= 2:
            data = np.ascontiguousarray(data.T).T
        elif layout == 3:
            big = np.zeros(tuple(2 * s for s in shape))
            view = big[tuple(slice(None, None, 2) for _ in shape)]
            view[...] = data
            data = view
        elif layout == 4:
            data = data[::-1][::-1].copy()[::-1]
        operands.append(data)
    return ",".join(terms) + "->" + out, operands


@pytest.mark.parametrize("seed", range(40))
def test_random_chains_in_blocks_or_whole_match_numpy_exactly(seed):
    # Integer-valued float64: every sum exact, so blocks, variants and
    # thread counts must all give numpy's bits.
    subscripts, operands = _random_chain(seed)
    want = np.einsum(subscripts, *operands)
    for threads in (1, 2):
        got = einsumc.einsum(subscripts, *operands, threads=threads)
        np.testing.assert_array_equal(got, want, err_msg=subscripts)
