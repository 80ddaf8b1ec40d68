"""einsumc's own tests. numpy.einsum is the oracle here, so this folder
must never run in the same pytest process as upstream/numpy (which
replaces numpy.einsum with ours); scripts/test.sh runs them apart."""

import numpy

import einsumc

assert numpy.einsum is not einsumc.einsum, "numpy.einsum is replaced: run tests/upstream apart"
collect_ignore = ["upstream"]


def _fixed_limits():
    """explain(analyze=True) compares runs with this machine's limits,
    measured on first use and cached (einsum_explain::limits). The tests use
    fixed figures for this CPU in a file of their own instead: nothing is
    measured, and the user's cache is never written."""
    import json
    import os
    import tempfile

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown")
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    at = {"fma_f32_gflops": 64.0, "fma_f64_gflops": 32.0,
          "read_gbytes_per_second": {"L2": 64.0, "L3": 32.0, "DRAM": 16.0},
          "copy_gbytes_per_second": {"L2": 48.0, "L3": 24.0, "DRAM": 12.0}}
    path = os.path.join(tempfile.mkdtemp(prefix="einsumc-limits-"), "limits.json")
    with open(path, "w") as f:
        json.dump({"version": 2, "cpu": cpu, "cores": cores, "l2_bytes": 1 << 20, "l3_bytes": 16 << 20,
                   "threads": {"1": at}}, f)
    os.environ["EINSUM_LIMITS_CACHE"] = path


_fixed_limits()
