"""Marking the upstream tests einsumc is expected to fail, for both
conftests: each listed test id gets ``xfail(strict=True)`` with its reason
(so a test that starts passing fails until its line is removed), and a
listed id that names no collected test is an error (the list stays true)."""

import pytest


def mark(config, items, expected, key_of):
    """Marks ``items`` found in ``expected`` (test id -> reason); ``key_of``
    turns a pytest node id into the list's test id."""
    seen = set()
    for item in items:
        key = key_of(item.nodeid)
        reason = expected.get(key)
        if reason is not None:
            seen.add(key)
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    missing = set(expected) - seen
    if missing and not config.getoption("-k") and not config.args[1:]:
        raise pytest.UsageError(f"EXPECTED_FAILURES names tests that do not exist: {sorted(missing)}")
