"""numpy's test_einsum.py, from the installed numpy, run against einsumc
(see conftest.py). pytest collects the test classes and functions imported
here as this module's own."""

from numpy._core.tests.test_einsum import *  # noqa: F401,F403
