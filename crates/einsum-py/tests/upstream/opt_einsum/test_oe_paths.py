"""opt_einsum's tests/test_paths.py, from the installed opt_einsum, run with
its contract functions replaced by einsumc's (see conftest.py)."""

from opt_einsum.tests.test_paths import *  # noqa: F401,F403
