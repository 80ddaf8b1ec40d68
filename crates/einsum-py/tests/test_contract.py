"""opt_einsum's API: contract, contract_path, contract_expression, against
numpy.einsum and opt_einsum's own paths."""

import pickle

import numpy as np
import opt_einsum
import pytest

import einsumc

RNG = np.random.default_rng(1)
NAMES = ["greedy", "optimal", "dp", "branch-2", "branch-all", "random-greedy", "random-greedy-128", "auto", "auto-hq"]


@pytest.mark.parametrize("optimize", NAMES + [True])
def test_contract_matches_numpy(optimize):
    s = "ab,bc,cd,de,ea->"
    ops = [RNG.random((3, 4)), RNG.random((4, 5)), RNG.random((5, 2)), RNG.random((2, 3)), RNG.random((3, 3))]
    np.testing.assert_allclose(einsumc.contract(s, *ops, optimize=optimize), np.einsum(s, *ops))


def test_contract_path_info_like_opt_einsum():
    s = "ea,fb,abcd,gc,hd->efgh"
    ops = [RNG.random((10, 10)) for _ in range(2)] + [RNG.random((10,) * 4)] + [RNG.random((10, 10)) for _ in range(2)]
    path, info = einsumc.contract_path(s, *ops)
    ref_path, ref = opt_einsum.contract_path(s, *ops)
    assert path == ref_path
    for attr in ["opt_cost", "naive_cost", "speedup", "largest_intermediate", "scale_list", "size_list", "eq", "shapes"]:
        assert getattr(info, attr) == getattr(ref, attr), attr
    assert str(info) == str(ref)


def test_contract_expression_compiles_once_and_pickles():
    expr = einsumc.contract_expression("ij,jk,kl->il", (3, 4), (4, 5), (5, 2), optimize="dp")
    ops = [RNG.random((3, 4)), RNG.random((4, 5)), RNG.random((5, 2))]
    want = np.einsum("ij,jk,kl->il", *ops)
    np.testing.assert_allclose(expr(*ops), want)
    again = pickle.loads(pickle.dumps(expr))
    np.testing.assert_allclose(again(*ops), want)
    out = np.empty((3, 2))
    assert expr(*ops, out=out) is out
    np.testing.assert_allclose(out, want)
    with pytest.raises(ValueError):
        expr(*ops[:2])


def test_contract_expression_constants():
    c = RNG.random((4, 5))
    expr = einsumc.contract_expression("ij,jk,kl->il", (3, 4), c, (5, 2), constants=[1])
    a, b = RNG.random((3, 4)), RNG.random((5, 2))
    np.testing.assert_allclose(expr(a, b), np.einsum("ij,jk,kl->il", a, c, b))


def test_non_letter_labels_and_interleaved_objects():
    # opt_einsum's get_symbol yields '×' (U+00D7) for 75; not a label for our parser.
    n = 80
    syms = [opt_einsum.get_symbol(i) for i in range(n + 1)]
    s = ",".join(syms[i] + syms[i + 1] for i in range(n)) + "->" + syms[0] + syms[n]
    ops = [np.eye(2) for _ in range(n)]
    np.testing.assert_allclose(einsumc.contract(s, *ops), np.eye(2))
    x, y = RNG.random((2, 3)), RNG.random((3, 4))
    np.testing.assert_allclose(einsumc.contract(x, ("left", "bond"), y, ("bond", "right")), x @ y)


def test_contract_expression_native_and_python_paths_agree():
    # The native call takes arrays of one dtype at the fixed shapes; every
    # other call (another dtype mix, out=, wrong shapes) goes through Python.
    expr = einsumc.contract_expression("ij,jk->ik", (3, 4), (4, 5))
    a, b = RNG.random((3, 4)), RNG.random((4, 5))
    want = a @ b
    np.testing.assert_allclose(expr(a, b), want)
    np.testing.assert_allclose(expr(a, b, threads=1), want)
    np.testing.assert_allclose(expr(a, b, backend="numpy"), want)
    np.testing.assert_allclose(expr(a.astype(np.float32), b), want, rtol=1e-6)
    np.testing.assert_allclose(expr(a.tolist(), b), want)
    np.testing.assert_allclose(expr(np.asfortranarray(a), b[:, ::-1])[:, ::-1], want[:, :], rtol=1e-12)
    out = np.zeros((3, 5), np.float32)
    assert expr(a.astype(np.float32), b.astype(np.float32), out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-6)
    with pytest.raises(ValueError, match="Operand 1 has shape"):
        expr(a, RNG.random((4, 6)))
    with pytest.raises(ValueError, match="exactly 2 array arguments"):
        expr(a)
    assert expr(np.ones((3, 4)), np.ones((4, 5))).dtype == np.float64
    scalar = einsumc.contract_expression("i,i->", (3,), (3,))
    v = np.arange(3.0)
    got = scalar(v, v)
    assert got == 5.0 and np.ndim(got) == 0


def test_process_wide_threads():
    before = einsumc.get_num_threads()
    try:
        einsumc.set_num_threads(1)
        assert einsumc.get_num_threads() == 1
        a = RNG.random((64, 64))
        np.testing.assert_allclose(einsumc.einsum("ij,jk->ik", a, a), a @ a)
        with pytest.raises(ValueError):
            einsumc.set_num_threads(0)
    finally:
        einsumc.set_num_threads(None)
    assert einsumc.get_num_threads() == before >= 1
