"""einsumc's own tests. numpy.einsum is the oracle here, so this folder
must never run in the same pytest process as upstream/numpy (which
replaces numpy.einsum with ours); scripts/test.sh runs them apart."""

import numpy

import einsumc

assert numpy.einsum is not einsumc.einsum, "numpy.einsum is replaced: run tests/upstream apart"
collect_ignore = ["upstream"]
