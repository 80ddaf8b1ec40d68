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
