"""einsumc.explain: einsum-explain's report from Python, fitted to the
caller's arrays, and timed with analyze=True."""

import doctest

import numpy as np
import pytest

import einsumc
import einsumc._explain

RNG = np.random.default_rng(3)


def test_report_for_shapes_is_the_plans_c_order_report():
    e = einsumc.explain("ij,jk,kl->il", (30, 40), (40, 50), (50, 2))
    text = str(e)
    assert "Complete contraction:  ij,jk,kl->il" in text
    assert "Element type:  float64" in text
    assert text.count("runs as") == 2
    d = e.to_dict()
    assert d["subscripts"] == "ij,jk,kl->il"
    assert d["dtype"] == "float64"
    assert len(d["steps"]) == 2
    assert "analyze" not in d
    assert d["workspace_elements"] == e.to_dict()["workspace_elements"] >= 0
    dot = e.to_dot()
    assert dot.startswith("digraph einsum {") and dot.rstrip().endswith("}")
    assert "operand2" in dot


def test_the_fit_follows_the_arrays_strides():
    a = RNG.random((6, 7, 48))
    b = RNG.random((48, 32))
    copies = lambda d: [c for s in d["steps"] for c in s["copies"]]
    # C order: a and b fuse into one GEMM (M = 6*7) and nothing is copied.
    c_order = einsumc.explain("abj,jk->abk", a, b).to_dict()
    assert c_order["steps"][0]["runs_as"] == "gemm m=42 n=32 k=48, 1 call"
    assert copies(c_order) == []
    # The same values with a and b's axes swapped in memory: the result a
    # call writes follows them (numpy's order='K'), so M is one stride in
    # both and the fit still copies nothing.
    swapped = np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)
    assert einsumc.einsum("abj,jk->abk", swapped, b).strides == (32 * 8, 6 * 32 * 8, 8)
    fitted = einsumc.explain("abj,jk->abk", swapped, b).to_dict()
    assert fitted["steps"][0]["runs_as"] == "gemm m=42 n=32 k=48, 1 call"
    assert copies(fitted) == []
    # A left input whose M axes are apart in memory (j between them), so
    # no order of the result makes M one stride: the fit copies the left
    # input first and says why.
    apart = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
    fitted = einsumc.explain("abj,jk->abk", apart, b).to_dict()
    (copy,) = copies(fitted)
    assert copy["tensor"] == "left input" and copy["elements"] == 6 * 7 * 48 and copy["because"] == "M"
    assert fitted["workspace_elements"] == 6 * 7 * 48
    # Analyzed, the executor counts the copy the report promised.
    analyzed = einsumc.explain("abj,jk->abk", apart, b, analyze=True, repeat=1).to_dict()["analyze"]
    assert analyzed["steps"][0]["copied_elements"] == 6 * 7 * 48
    assert analyzed["workspace_elements"] == 6 * 7 * 48


def test_analyze_times_every_step():
    a, b, c = RNG.random((20, 30)), RNG.random((30, 40)), RNG.random((40, 5))
    e = einsumc.explain("ij,jk,kl->il", a, b, c, analyze=True, repeat=3, threads=1)
    assert "Measured: median of 3 runs after one warm-up, 1 thread, float64" in str(e)
    analyze = e.to_dict()["analyze"]
    assert analyze["repeat"] == 3 and analyze["threads"] == 1
    assert len(analyze["steps"]) == 2
    assert all(s["median_seconds"] > 0 for s in analyze["steps"])
    # The roofline, against the fixed limits conftest.py caches.
    assert analyze["limits"] == {"fma_peak_gflops": 32.0,
                                 "read_gbytes_per_second": {"L2": 64.0, "L3": 32.0, "DRAM": 16.0}}
    assert all(s["roof_fraction"] > 0 for s in analyze["steps"])
    # A few kilobytes per step: the roof is the L2 cache's.
    assert all(s["roof_level"] == "L2" for s in analyze["steps"])
    assert "roof" in str(e) and "FMA peak 32.0 GFLOP/s, GB/s read from L2 64.0, L3 32.0, DRAM 16.0" in str(e)
    # Shapes get random data when analyzed.
    shaped = einsumc.explain("ij,jk->ik", (8, 9), (9, 10), analyze=True, repeat=1, dtype="float32")
    assert shaped.to_dict()["dtype"] == "float32"


def test_dtypes_and_errors():
    ints = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert einsumc.explain("ij->j", ints).to_dict()["dtype"] == "int16"
    half = einsumc.explain("i,i->", np.ones(3, np.float16), np.ones(3, np.float16))
    assert half.to_dict()["dtype"] == "float16" and "float16" in str(half)
    with pytest.raises(ValueError, match=r"\^"):
        einsumc.explain("ij,jk->iq", (2, 3), (3, 4))
    with pytest.raises(ValueError):
        einsumc.explain("ij,jk->ik", (2, 3), (4, 4))
    with pytest.raises(ValueError, match="repeat"):
        einsumc.explain("i->", (3,), analyze=True, repeat=0)
    with pytest.raises(TypeError, match="longdouble|float128"):
        einsumc.explain("i->", np.ones(3, np.longdouble))
    # numpy's limit, (name, limit): a path within it or an error; ours,
    # memory_limit=, slices.
    with pytest.raises(einsumc.MemoryLimitError):
        einsumc.explain("ij,jk,kl->il", (10, 100), (100, 100), (100, 10), optimize=("greedy", 5))
    sliced = einsumc.explain("ij,jk,kl->il", (10, 100), (100, 100), (100, 10), memory_limit=5)
    assert sliced.to_dict()["slicing"]["slices"] > 1


def test_docstring_example():
    assert doctest.testmod(einsumc._explain).failed == 0


def test_blocks_for_the_cache_are_reported_and_not_slices():
    shapes = [(2048, 2048)] * 3
    plan = einsumc.explain("ij,ij,ij->i", *shapes).to_dict()
    assert plan["slicing"] is None
    assert plan["blocks"]["chunks"] == [8]
    assert "Blocked:" in str(einsumc.explain("ij,ij,ij->i", *shapes))
    # A compiled expression in blocks is one slice to a distributed run.
    small = [(300, 400)] * 3
    expr = einsumc.contract_expression("ij,ij,ij->i", *small)
    assert expr.num_slices == 1
    arrays = [np.arange(120_000, dtype=np.float64).reshape(300, 400) % 7 - 3 for _ in small]
    want = np.einsum("ij,ij,ij->i", *arrays)
    np.testing.assert_array_equal(expr.contract_slice(0, *arrays), want)
    np.testing.assert_array_equal(expr(*arrays), want)
