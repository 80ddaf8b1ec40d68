"""numpy's ``einsum`` and ``einsum_path``, with numpy 2.x semantics, over
the Rust core.

``einsum`` is the core's: the common call (subscripts, then arrays of one
supported dtype, no ``out``/``dtype``/``order``/``casting``) runs there;
everything else is decided here, in numpy's words: the sublist
form, type promotion (``np.result_type``), ``dtype=``/``casting=`` checked
with ``np.can_cast`` (operands cast once, up front), ``out=`` of any
strides, the output layout ``order=`` asks for, and views for one operand
whose every axis reaches the output (a transpose, a diagonal)."""

import numpy as np

from . import _einsumc
from ._terms import Problem, flop_count, from_sublists, validate_path, walk

_compiled = _einsumc.compiled
# The executor's element types.
SUPPORTED_DTYPES = tuple(np.dtype(name) for name in _einsumc.SUPPORTED_DTYPES)
_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


# numpy.einsum's signature, in the native core (its docstring says how).
einsum = _einsumc.einsum


def _split(operands):
    """(subscripts, operands as a list) from either call form."""
    if not operands:
        raise ValueError("No input operands")
    if isinstance(operands[0], str):
        return operands[0], list(operands[1:])
    return from_sublists(operands)


def _as_array(op):
    """One operand as a numpy array: itself; a DLPack producer (a torch or
    jax CPU tensor, anything with ``__dlpack__``) viewed in place through
    ``np.from_dlpack``; anything else as ``np.asarray`` takes it (scalars,
    nested lists)."""
    if isinstance(op, np.ndarray):
        return np.asarray(op)  # subclasses (np.matrix) as the base class, as numpy
    if hasattr(op, "__dlpack__") and hasattr(op, "__dlpack_device__"):
        return np.from_dlpack(op)
    return np.asarray(op)


def _as_arrays(operands):
    return [_as_array(op) for op in operands]


def _check_dtype(dt):
    if dt not in SUPPORTED_DTYPES:
        if dt == np.dtype(object):
            raise TypeError("einsumc does not support dtype object: its elements are Python objects")
        raise TypeError(
            f"einsumc does not support dtype {dt} (supported: "
            f"{', '.join(str(d) for d in SUPPORTED_DTYPES)})"
        )


def _optimize_spec(optimize, n):
    """optimize= as the core takes it: explicit paths turned into pairs
    (also inside ours, ``(optimize, memory_limit, 'slice')``)."""
    if isinstance(optimize, tuple) and len(optimize) in (3, 4) and optimize[2] == "slice":
        return (_optimize_spec(optimize[0], n), *optimize[1:])
    if isinstance(optimize, (list, tuple)) and optimize and not (
        len(optimize) == 2 and isinstance(optimize[0], str) and optimize[0] != "einsum_path"
    ):
        entries = list(optimize)
        if entries and isinstance(entries[0], str):
            if entries[0] != "einsum_path":
                raise TypeError(f"optimize: a path starts with 'einsum_path', not {entries[0]!r}")
            entries = entries[1:]
        return ["einsum_path", *validate_path(entries, n)]
    return optimize


def _layout(order, arrays):
    """The memory order of a new result for ``order=``: 'C', 'F' or 'K'
    (the core lays 'K' out as numpy's iterator does); 'A' is 'F' when every
    operand is Fortran-contiguous, else 'C'."""
    order = "K" if order is None else order
    if not isinstance(order, str) or order.upper() not in ("C", "F", "A", "K"):
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    order = order.upper()
    if order == "A":
        return "F" if all(a.flags.f_contiguous for a in arrays) else "C"
    return order


def _element_bytes(compute):
    """Bytes of one element of what a run computes in."""
    return compute.itemsize


def _limit_in_elements(optimize, element_bytes):
    """Ours, ``(spec, memory_limit, 'slice'[, labels])``, with a size in
    bytes (``'512MiB'``) made elements of ``element_bytes`` bytes each."""
    if (isinstance(optimize, tuple) and len(optimize) in (3, 4) and optimize[2] == "slice"
            and isinstance(optimize[1], str)):
        elements = _einsumc.memory_limit_elements(optimize[1], element_bytes)
        return (optimize[0], elements, *optimize[2:])
    return optimize


def _einsum(operands, out, dtype, order, casting, optimize, threads):
    subscripts, ops = _split(operands)
    if not isinstance(subscripts, str):
        raise TypeError("subscripts must be a string")
    if casting not in _CASTINGS:
        raise ValueError(
            "casting must be one of 'no', 'equiv', 'safe', 'same_kind', or 'unsafe'"
        )
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, not {type(out).__name__}")
    if dtype is not None:
        dtype = np.dtype(dtype)
    arrays = _as_arrays(ops)
    if not arrays:
        raise ValueError("No input operands")
    for a in arrays:
        # An object operand is fine when dtype= names a type it is cast to
        # first (as numpy does, under the casting rule checked below).
        if a.dtype.hasobject and (dtype is None or dtype.hasobject):
            raise TypeError("einsumc does not support dtype object: its elements are Python objects")
    if dtype is None:
        compute = np.result_type(*arrays)
    else:
        compute = dtype
    for i, a in enumerate(arrays):
        if not np.can_cast(a.dtype, compute, casting=casting):
            raise TypeError(
                f"Iterator operand {i} dtype could not be cast from {a.dtype!r} to "
                f"{compute!r} according to the rule {casting!r}"
            )
    optimize = _limit_in_elements(optimize, _element_bytes(compute))
    expression = _compiled(subscripts, _optimize_spec(optimize, len(arrays)))
    if out is not None and not np.can_cast(compute, out.dtype, casting=casting):
        raise TypeError(
            f"Iterator requested dtype could not be cast from {compute!r} to "
            f"{out.dtype!r}, the operand {len(arrays)} dtype, according to the rule {casting!r}"
        )
    layout = _layout(order, arrays)
    _check_dtype(compute)
    arrays = [a if a.dtype == compute else a.astype(compute) for a in arrays]

    if out is None and len(arrays) == 1:
        view = expression.view(arrays[0])
        if view is not None:
            return view

    if out is not None:
        expression.run(tuple(arrays), out, threads)
        return out
    result = expression.run(tuple(arrays), None, threads, layout)
    return result[()] if result.ndim == 0 else result


def einsum_path(*operands, optimize="greedy", einsum_call=False):
    """numpy.einsum_path: ``(path, report)`` in numpy's format, for the order
    our planner chooses (``optimize`` as in ``einsum``; ``False`` reports
    numpy's single contraction). When no order keeps every temporary within
    a given memory limit, the path is numpy's fallback: one contraction of
    every operand."""
    if einsum_call:
        raise TypeError("einsum_call is numpy-internal; einsumc does not take it")
    subscripts, ops = _split(operands)
    if not isinstance(subscripts, str):
        raise TypeError("subscripts must be a string")
    arrays = _as_arrays(ops)
    if not arrays:
        raise ValueError("No input operands")
    shapes = [a.shape for a in arrays]
    n = len(arrays)
    explicit = isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path"
    spec = _optimize_spec(optimize, n)
    if optimize is True or optimize is False:
        # numpy's True is its greedy search; the path reported for False
        # is numpy's single contraction (below), planned here by greedy.
        spec = "greedy"
    expression = _compiled(subscripts, spec)
    try:
        info = expression.plan_info(shapes)
        fallback = False
    except _einsumc.MemoryLimitError:
        fallback = True
    problem = Problem(expression.canonical, shapes)
    if explicit:
        path = [tuple(p) for p in optimize[1:]]
    elif optimize is False or fallback or n == 1:
        path = [tuple(range(n))]
    else:
        path = [tuple(p) for p in info["path"]]
    return ["einsum_path", *path], _numpy_report(problem, path)


def _numpy_order(labels, sizes):
    return "".join(x[1] for x in sorted((sizes[i], i) for i in labels))


def _numpy_report(problem, path):
    sizes = problem.sizes
    steps = walk(problem, path, lambda labels, _inputs: _numpy_order(labels, sizes))
    indices = problem.indices
    input_sets = [set(x) for x in problem.inputs]
    inner = (sum(len(x) for x in input_sets) - len(indices)) > 0
    naive_cost = flop_count(indices, inner, len(problem.inputs), sizes)
    cost_list = [
        flop_count(s["contract"], bool(s["removed"]), len(s["positions"]), sizes) for s in steps
    ]
    scale_list = [len(s["contract"]) for s in steps]
    size_list = [problem.size(s["result"]) for s in steps]
    opt_cost = sum(cost_list) + 1
    speedup = naive_cost / opt_cost
    max_i = max(size_list) if size_list else 0
    overall = ",".join(problem.inputs) + "->" + problem.output
    text = "  Complete contraction:  %s\n" % overall
    text += "         Naive scaling:  %d\n" % len(indices)
    text += "     Optimized scaling:  %d\n" % (max(scale_list) if scale_list else 0)
    text += "      Naive FLOP count:  %.3e\n" % naive_cost
    text += "  Optimized FLOP count:  %.3e\n" % opt_cost
    text += "   Theoretical speedup:  %3.3f\n" % speedup
    text += "  Largest intermediate:  %.3e elements\n" % max_i
    text += "-" * 74 + "\n"
    text += "%6s %24s %40s\n" % ("scaling", "current", "remaining")
    text += "-" * 74
    for scale, s in zip(scale_list, steps):
        remaining = ",".join(s["remaining"]) + "->" + problem.output
        text += "\n%4d    %24s %40s" % (scale, s["einsum"], remaining)
    return text
