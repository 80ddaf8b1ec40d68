"""opt_einsum's tests/test_parser.py, from the installed opt_einsum, run with
its contract functions replaced by einsumc's (see conftest.py)."""

from opt_einsum.tests.test_parser import *  # noqa: F401,F403
