"""einsumc: numpy's einsum and opt_einsum's contract, from the einsum
expression compiler (Rust).

    >>> import numpy as np, einsumc
    >>> d = np.arange(6.0).reshape(3, 2)
    >>> einsumc.einsum('ij,ij->i', d, d)
    array([ 1., 13., 41.])

``einsum``/``einsum_path`` follow numpy 2.x; ``contract``/``contract_path``/
``contract_expression`` follow opt_einsum 3.4. Element types: float16,
float32, float64, complex64, complex128, int8-64, uint8-64 and bool
(``SUPPORTED_DTYPES``), all native in the executor (float16 computes as
numpy's half loops do: in float32, rounded to half where stored); others
raise ``TypeError``. Every call takes ``threads=`` (default: all cores, or
what ``set_num_threads`` set for the process). ``explain`` shows the plan
(einsum-explain's report), and with ``analyze=True`` times it step by step.

``memory_limit=`` (ours: elements, or a size in bytes such as ``'512MiB'``) on ``einsum``, ``contract``,
``contract_expression`` and ``explain`` bounds every temporary; a
contraction that no order fits is sliced (some axes fixed one chunk of indices at a
time, the slices summed or stacked). numpy's ``optimize=(name, limit)`` and
``contract_path(memory_limit=)`` keep their meaning: a path within the
limit, or none. A compiled expression's slices (``num_slices``,
``contract_slice``, ``slice_index``) run anywhere: ``einsumc.distributed``
runs them on a Dask cluster.
"""

from ._einsumc import Explanation, Expression, MemoryLimitError, get_num_threads, set_num_threads
from ._explain import explain
from ._numpy import SUPPORTED_DTYPES, einsum, einsum_path
from ._opt_einsum import ContractExpression, PathInfo, contract, contract_expression, contract_path

__all__ = [
    "ContractExpression",
    "Explanation",
    "Expression",
    "MemoryLimitError",
    "PathInfo",
    "SUPPORTED_DTYPES",
    "contract",
    "contract_expression",
    "contract_path",
    "einsum",
    "einsum_path",
    "explain",
    "get_num_threads",
    "set_num_threads",
]
