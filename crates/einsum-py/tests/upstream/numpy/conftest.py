"""Runs numpy's own einsum tests (numpy/_core/tests/test_einsum.py from
the installed numpy, imported, not copied) with ``numpy.einsum`` and
``numpy.einsum_path`` replaced by einsumc's.

The replacement happens here, when pytest loads this file and before it
imports the test module, because the module's parametrizations capture
``np.einsum`` at import time. Run this folder in its own pytest process
(scripts/test.sh does): in it numpy's einsum is ours, so nothing else may
use it as an oracle.

Tests that cannot pass because einsumc does not support a dtype yet are
listed in ``EXPECTED_FAILURES`` by test id with the reason, and marked
``xfail(strict=True)``: when the dtype arrives they pass, and the strict
xfail fails until the line is removed. Every other test must pass.
"""

import numpy
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _expected  # noqa: E402  (upstream/_expected.py, shared by both conftests)

import einsumc

ORIGINAL = (numpy.einsum, numpy.einsum_path)
numpy.einsum = einsumc.einsum
numpy.einsum_path = einsumc.einsum_path

_NEEDS = "needs dtype {} (einsumc raises TypeError: not in the executor's element set yet)"
_OBJECT = "needs dtype object (einsumc raises TypeError by design: elements are Python objects)"
_BOOL = "computes with dtype='?' (bool): " + _NEEDS.format("bool")

# Test id (relative to test_numpy_einsum.py) -> reason. Every test is here
# because of a dtype, except the two marked DIVERGENCE, where einsumc
# deliberately differs from numpy (see their reasons).
EXPECTED_FAILURES = {
    "TestEinsum::test_einsum_object_errors": _OBJECT,
    "TestEinsum::test_einsum_sums_object": _OBJECT,
    "TestEinsum::test_object_loop": _OBJECT,
    "TestEinsum::test_einsum_sums_longdouble": _NEEDS.format("longdouble (float128)"),
    "TestEinsum::test_einsum_sums_clongdouble": _NEEDS.format("clongdouble (complex256)"),
    "TestEinsum::test_different_paths[g]": _NEEDS.format("longdouble"),
    "TestEinsum::test_different_paths[G]": _NEEDS.format("clongdouble"),
    "TestEinsum::test_einsum_0d_out": (
        "DIVERGENCE: writes a float64 result into an int64 out= under casting='safe'. numpy "
        "raises TypeError for this with optimize=False, but its optimize path assigns a BLAS "
        "dot's scalar result into out= unchecked; einsumc applies casting= the same way for "
        "every optimize"
    ),
    "TestEinsumPath::test_edge_paths": (
        "DIVERGENCE: edge test 5 ('a,ac,ab,ad,cd,bd,bc->', sizes 20) expects numpy's path "
        "[(0, 1), (0, 1, 2, 3, 4, 5)] (9.6e5 FLOPs), the result of numpy's default memory "
        "limit (the largest input or output); einsumc applies no default limit and its "
        "planner's pairwise orders cost 3.5e5. Edge tests 1-4 match numpy's paths exactly"
    ),
}


def pytest_collection_modifyitems(config, items):
    _expected.mark(config, items, EXPECTED_FAILURES, lambda nodeid: nodeid.split("::", 1)[-1])


@pytest.fixture(autouse=True)
def _still_ours():
    # A test that restored numpy's einsum would silently test numpy.
    assert numpy.einsum is einsumc.einsum and numpy.einsum_path is einsumc.einsum_path
    yield
