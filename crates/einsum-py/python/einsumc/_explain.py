"""``einsumc.explain``: the einsum-explain report of a plan, from Python."""

import numpy as np

from . import _einsumc
from ._numpy import _as_array, _check_dtype, _optimize_spec, _split


def _is_shape(op):
    return isinstance(op, tuple) and all(isinstance(d, (int, np.integer)) for d in op)


def _random(shape, dtype, rng):
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 8, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def explain(*operands, optimize="auto", memory_limit=None, analyze=False, repeat=10, threads=None, dtype=None):
    """The plan einsumc runs for these operands, as ``einsum-explain``
    reports it: ``str()`` is the text report (per step: the kernel, how it
    runs on these arrays' strides, every copy it makes, the buffers; the
    workspace), ``.to_dict()`` the JSON, ``.to_dot()`` a Graphviz picture.

    Operands are arrays (their dtype and strides decide how each step
    runs) or shapes as tuples (C-order arrays of ``dtype``, float64 by
    default). ``optimize`` and ``memory_limit`` (elements, or a size in
    bytes such as ``'512MiB'``; a contraction no order fits is sliced) choose the plan as in ``contract``. With ``analyze=True`` the plan runs once to
    warm up, then ``repeat`` times timed step by step (shapes get random
    data), on ``threads`` threads.

        >>> import einsumc
        >>> print(einsumc.explain('ij,jk->ik', (100, 200), (200, 50)))  # doctest: +ELLIPSIS
          Complete contraction:  ij,jk->ik
        ...
    """
    subscripts, ops = _split(operands)
    if not isinstance(subscripts, str):
        raise TypeError("subscripts must be a string")
    if not ops:
        raise ValueError("No input operands")
    items = [op if _is_shape(op) else _as_array(op) for op in ops]
    arrays = [a for a in items if not _is_shape(a)]
    if dtype is not None:
        compute = np.dtype(dtype)
    elif arrays:
        compute = np.result_type(*arrays)
    else:
        compute = np.dtype(np.float64)
    _check_dtype(compute)
    rng = np.random.default_rng(0)
    items = [
        (_random(a, compute, rng) if analyze else a) if _is_shape(a)
        else (a if a.dtype == compute else a.astype(compute))
        for a in items
    ]
    if memory_limit is not None:
        optimize = (optimize, _einsumc.memory_limit_elements(memory_limit, compute.itemsize), "slice")
    expression = _einsumc.compiled(subscripts, _optimize_spec(optimize, len(items)))
    if analyze and int(repeat) < 1:
        raise ValueError("repeat must be at least 1")
    return _einsumc.explain(expression, items, compute, int(repeat) if analyze else None, threads)
