"""opt_einsum's ``contract``, ``contract_path`` and ``contract_expression``
over the Rust core: the same signatures, ``PathInfo``'s attributes and
text, and compiled expressions that neither parse nor plan on a repeated
call (and pickle, by subscripts, shapes and options)."""

from decimal import Decimal

import numpy as np

from . import _einsumc
from ._numpy import _as_array, _as_arrays, _einsum, _element_bytes
from ._terms import Problem, flop_count, validate_path, walk



def _memory_limit(memory_limit, problem):
    """opt_einsum's memory_limit: None or -1 for none, 'max_input' for the
    largest input, else a number of elements."""
    if memory_limit is None or (isinstance(memory_limit, int) and memory_limit < 0):
        return None
    if memory_limit == "max_input":
        return max((problem.size(t) for t in problem.inputs), default=1)
    if isinstance(memory_limit, str):
        raise ValueError(f"memory_limit must be None, -1, 'max_input' or an int, not {memory_limit!r}")
    return int(memory_limit)


def _is_path_optimizer(optimize):
    return callable(optimize) and not isinstance(optimize, (str, bool, list, tuple))


def _spec(optimize, memory, problem, n):
    """optimize= and memory_limit= as the core's optimize spec."""
    if optimize is True or optimize is None:
        optimize = "auto"
    if optimize is False:
        optimize = "auto"
    if _is_path_optimizer(optimize):
        inputs = [frozenset(t) for t in problem.inputs]
        path = optimize(inputs, frozenset(problem.output), dict(problem.sizes), memory)
        return ["einsum_path", *validate_path(path, n)], list(path)
    if isinstance(optimize, str):
        registered = _registered(optimize)
        if registered is not None:
            return _spec(registered, memory, problem, n)
        return (optimize, memory if memory is not None else None), None
    # an explicit path
    path = [tuple(p) for p in optimize]
    return ["einsum_path", *validate_path(path, n)], path


_OURS = frozenset(_einsumc.OPTIMIZERS)


def _registered(name):
    """A path function registered with opt_einsum under a name that is not
    one of our optimizers (``opt_einsum.paths.register_path_fn``), if
    opt_einsum is loaded: called as opt_einsum would call it."""
    if name in _OURS:
        return None
    import sys

    paths = sys.modules.get("opt_einsum.paths")
    options = getattr(paths, "_PATH_OPTIONS", None) or {}
    return options.get(name)


class PathInfo:
    """opt_einsum's PathInfo: the contraction path's steps and figures, and
    its report text."""

    def __init__(self, problem, path, use_blas):
        sizes = problem.sizes
        steps = walk(
            problem,
            path,
            lambda labels, inputs: "".join(sorted(labels, key="".join(inputs).find)),
        )
        self.input_subscripts = ",".join(problem.inputs)
        self.output_subscript = problem.output
        self.indices = frozenset(problem.indices)
        self.path = path
        self.size_dict = dict(sizes)
        inner = (sum(len(set(x)) for x in problem.inputs) - len(self.indices)) > 0
        self.naive_cost = Decimal(flop_count(self.indices, inner, len(problem.inputs), sizes))
        cost_list = [
            flop_count(s["contract"], bool(s["removed"]), len(s["positions"]), sizes) for s in steps
        ]
        self.scale_list = [len(s["contract"]) for s in steps]
        self.size_list = [problem.size(s["result"]) for s in steps]
        self.opt_cost = Decimal(sum(cost_list))
        self.speedup = self.naive_cost / max(self.opt_cost, Decimal(1))
        self.contraction_list = [
            (
                s["positions"],
                frozenset(s["removed"]),
                s["einsum"],
                tuple(s["remaining"]) if len(s["remaining"]) <= 20 else None,
                _blas_kind(s, use_blas),
            )
            for s in steps
        ]
        self.shapes = [tuple(sizes[k] for k in ks) for ks in self.input_subscripts.split(",")]
        self.eq = f"{self.input_subscripts}->{self.output_subscript}"
        self.largest_intermediate = Decimal(max(self.size_list, default=1))

    def __repr__(self):
        header = ("scaling", "BLAS", "current", "remaining")
        lines = [
            f"  Complete contraction:  {self.eq}\n",
            f"         Naive scaling:  {len(self.indices)}\n",
            f"     Optimized scaling:  {max(self.scale_list, default=0)}\n",
            f"      Naive FLOP count:  {self.naive_cost:.3e}\n",
            f"  Optimized FLOP count:  {self.opt_cost:.3e}\n",
            f"   Theoretical speedup:  {self.speedup:.3e}\n",
            f"  Largest intermediate:  {self.largest_intermediate:.3e} elements\n",
            "-" * 80 + "\n",
            "{:>6} {:>11} {:>22} {:>37}\n".format(*header),
            "-" * 80,
        ]
        for scale, (_, _, einsum_str, remaining, blas) in zip(self.scale_list, self.contraction_list):
            remaining_str = ",".join(remaining) + "->" + self.output_subscript if remaining is not None else "..."
            width = max(0, 56 - max(22, len(einsum_str)))
            lines.append("\n{:>4} {:>14} {:>22}    {:>{}}".format(scale, blas, einsum_str, remaining_str, width))
        return "".join(lines)

    __str__ = __repr__


def _blas_kind(step, use_blas):
    """Whether a pairwise step is a matrix product (our GEMM kernels), named
    as opt_einsum names BLAS calls; False otherwise."""
    if not use_blas or len(step["inputs"]) != 2 or not step["removed"]:
        return False
    left, right = step["inputs"]
    if len(set(left)) != len(left) or len(set(right)) != len(right):
        return False
    shared = set(left) & set(right)
    if step["removed"] != shared:
        return "EINSUM" if step["removed"] & shared else False
    return "GEMM" if len(set(left) - shared) and len(set(right) - shared) else "DOT" if set(left) == set(right) else "GEMV/EINSUM"


def _symbols():
    """Labels for opt_einsum's interleaved form and for characters our
    parser does not take as labels: letters, then the alphabetic
    characters from U+00C0 on (opt_einsum's get_symbol also yields
    non-letters such as U+00D7 '×', which are not labels here)."""
    yield from "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    code = 0xC0
    while True:
        ch = chr(code)
        if ch.isalpha() and ch.isidentifier():
            yield ch
        code += 1


def _relabel(subscripts):
    """``subscripts`` with every character that is not a label (opt_einsum
    accepts any character but ',', '-', '>', '.') mapped to an unused
    label; unchanged when there is none."""
    odd = [c for c in dict.fromkeys(subscripts) if not c.isalpha() and c not in ",->. "]
    if not odd:
        return subscripts
    used = set(subscripts)
    fresh = (c for c in _symbols() if c not in used)
    table = {c: next(fresh) for c in odd}
    return "".join(table.get(c, c) for c in subscripts)


def _from_interleaved(args):
    """opt_einsum's interleaved form: any hashable labels (sorted when they
    sort, else in order of appearance) mapped to labels."""
    args = list(args)
    operands = args[0::2]
    sublists = [list(s) for s in args[1::2]]
    output = None
    if len(args) % 2 == 1:
        output = list(args[-1])
        operands = operands[:-1]
    distinct = list(dict.fromkeys(x for sub in sublists + ([output] if output else []) for x in sub if x is not Ellipsis))
    try:
        distinct = sorted(distinct)
    except TypeError:
        pass
    table = dict(zip(distinct, _symbols()))

    def term(sub):
        return "".join("..." if x is Ellipsis else table[x] for x in sub)

    subscripts = ",".join(term(sub) for sub in sublists)
    if output is not None:
        subscripts += "->" + term(output)
    return subscripts, operands


def _prepare(operands, shapes=False):
    if not operands:
        raise ValueError("No input operands")
    if isinstance(operands[0], str):
        subscripts, ops = _relabel(operands[0]), list(operands[1:])
    else:
        subscripts, ops = _from_interleaved(operands)
    if shapes:
        shape_list = [tuple(int(d) for d in s) for s in ops]
        arrays = None
    else:
        arrays = _as_arrays(ops)
        shape_list = [a.shape for a in arrays]
    return subscripts, arrays, shape_list


def _resolve(subscripts, shape_list, optimize, memory_limit):
    """(core expression, path as reported, problem) for these shapes."""
    n = len(shape_list)
    expression = _einsumc.compiled(subscripts, None)
    expression.output_shape(shape_list)  # validates: ValueError with carets
    problem = Problem(expression.canonical, shape_list)
    memory = _memory_limit(memory_limit, problem)
    spec, given = _spec(optimize, memory, problem, n)
    expression = _einsumc.compiled(subscripts, spec)
    if given is not None:
        expression.output_shape(shape_list)
        return expression, given, problem
    if n <= 2 or optimize is False:
        path = [tuple(range(n))]
        try:
            expression.output_shape(shape_list)
        except _einsumc.MemoryLimitError:
            expression = _einsumc.compiled(subscripts, None)
        return expression, path, problem
    try:
        info = expression.plan_info(shape_list)
        path = [tuple(p) for p in info["path"]]
    except _einsumc.MemoryLimitError as err:
        if optimize in ("dp", "dynamic-programming"):
            # opt_einsum's dp raises where the others fall back.
            raise RuntimeError(str(err)) from None
        path = [tuple(range(n))]
        expression = _einsumc.compiled(subscripts, None)
    return expression, path, problem


def contract_path(*operands, use_blas=True, optimize=True, memory_limit=None, shapes=False, **kwargs):
    """opt_einsum.contract_path: ``(path, PathInfo)`` for the order our
    planner chooses (or the path or PathOptimizer given)."""
    if kwargs:
        raise TypeError(f"Did not understand the following kwargs: {kwargs.keys()}")
    subscripts, _arrays, shape_list = _prepare(operands, shapes)
    _expression, path, problem = _resolve(subscripts, shape_list, optimize, memory_limit)
    return path, PathInfo(problem, path, use_blas)


def contract(*operands, out=None, dtype=None, order="K", casting="safe", use_blas=True,
             optimize=True, memory_limit=None, backend="auto", threads=None, **kwargs):
    """opt_einsum.contract, computed by the einsum compiler (numpy arrays in,
    numpy arrays out; ``threads=`` is ours). The order is opt_einsum's
    ``optimize`` (``True`` is ``'auto'``: our planner's own choice)."""
    if isinstance(optimize, str) and optimize not in _OURS and _registered(optimize) is None:
        raise KeyError(f"Path optimizer '{optimize}' not found, valid options are {sorted(_OURS)}.")
    if kwargs:
        raise TypeError(f"Did not understand the following kwargs: {kwargs.keys()}")
    if backend not in ("auto", "numpy", None):
        raise ValueError(f"einsumc computes on numpy arrays only (backend={backend!r})")
    subscripts, arrays, shape_list = _prepare(operands)
    if not arrays:
        raise ValueError("No input operands")
    compute = np.dtype(dtype) if dtype is not None else np.result_type(*arrays)
    memory = _our_memory_limit(subscripts, shape_list, memory_limit, _element_bytes(compute))
    if memory is not None:
        # Ours: a contraction no order fits is sliced, never refused.
        spec = _sliced_spec(subscripts, shape_list, optimize, memory)
        return _einsum((subscripts, *arrays), out, dtype, order, casting, spec, threads)
    expression, path, problem = _resolve(subscripts, shape_list, optimize, memory_limit)
    spec = ["einsum_path", *validate_path(path, len(arrays))]
    return _einsum((subscripts, *arrays), out, dtype, order, casting, spec, threads)


def _our_memory_limit(subscripts, shape_list, memory_limit, element_bytes):
    """``memory_limit=`` in elements (``None``: no limit), the shapes
    checked first (a ValueError with carets): an int is elements, a size
    in bytes (``'512MiB'``) is elements of ``element_bytes`` bytes each,
    and opt_einsum's ``'max_input'`` is the largest operand's size."""
    if memory_limit is None:
        return None
    expression = _einsumc.compiled(subscripts, None)
    expression.output_shape(shape_list)
    if isinstance(memory_limit, str) and memory_limit != "max_input":
        return _einsumc.memory_limit_elements(memory_limit, element_bytes)
    return _memory_limit(memory_limit, Problem(expression.canonical, shape_list))


# What a compiled expression's size in bytes is counted in: it has shapes,
# not arrays, until it is called (float64; a call in wider elements is
# refused rather than run over the limit).
_PLANNED_ELEMENT_BYTES = 8


def _sliced_spec(subscripts, shape_list, optimize, memory):
    """The core's spec for ``optimize`` under a memory limit of ``memory``
    elements met by slicing: our optimizers by name (the slicing re-plans
    with them), anything else as the path it gives (kept; only the slices
    are chosen)."""
    if optimize is True or optimize is None or optimize is False:
        inner = "auto"
    elif isinstance(optimize, str) and optimize in _OURS:
        inner = optimize
    else:
        _expression, path, _problem = _resolve(subscripts, shape_list, optimize, None)
        inner = ["einsum_path", *validate_path(path, len(shape_list))]
    return (inner, memory, "slice")


class ContractExpression(_einsumc.Compiled):
    """A compiled contraction for fixed shapes (opt_einsum's
    ContractExpression): parsed and planned when made, so a call only runs.
    Constant operands are held and passed on every call. Pickles by its
    arguments (the plan is made again where it is unpickled).

    A call with arrays of one supported dtype and the fixed shapes runs in
    the native base class without a Python frame; any other call comes to
    ``_call_slow``."""

    def __init__(self, subscripts, shapes, constants=(), optimize=True, memory_limit=None, use_blas=True,
                 _slices=None):
        constants = dict(constants)
        self._args = (subscripts, shapes, constants, optimize, memory_limit, use_blas)
        full_shapes = [np.shape(constants[i]) if i in constants else tuple(s) for i, s in enumerate(shapes)]
        memory = _our_memory_limit(subscripts, full_shapes, memory_limit, _PLANNED_ELEMENT_BYTES)
        # The widest elements a call may compute in, for a limit in bytes.
        self._max_element_bytes = (
            _PLANNED_ELEMENT_BYTES if _einsumc.memory_limit_is_bytes(memory_limit) else None
        )
        if memory is not None:
            problem = Problem(_einsumc.compiled(subscripts, None).canonical, full_shapes)
            # Ours: sliced when no order fits (see `num_slices`).
            self._spec = _sliced_spec(subscripts, full_shapes, optimize, memory)
            if _slices is not None:
                # Made again from a plan made elsewhere: its order and slices.
                self._spec = (*self._spec, _slices)
            info = _einsumc.compiled(subscripts, self._spec).plan_info(full_shapes)
            path = [tuple(p) for p in info["path"]]
        else:
            _expression, path, problem = _resolve(subscripts, full_shapes, optimize, memory_limit)
            self._spec = ["einsum_path", *validate_path(path, len(full_shapes))]
        self.contraction_list = PathInfo(problem, path, use_blas).contraction_list
        self.path = path
        self._expression = _einsumc.compiled(subscripts, self._spec)
        self._expression.output_shape(full_shapes)
        self._subscripts = subscripts
        self._constants = {i: _as_array(c) for i, c in constants.items()}
        self._shapes = full_shapes
        self.num_args = len(full_shapes) - len(constants)
        self.contraction = self._expression.canonical
        self._positions = [i for i in range(len(full_shapes)) if i not in constants]
        self._fix(self._expression, full_shapes, self._constants, self._max_element_bytes)

    def _check_element_bytes(self, arrays):
        """A limit in bytes was made elements of float64 (8 bytes): wider
        elements would run over it."""
        if self._max_element_bytes is None:
            return
        compute = np.result_type(*arrays)
        if _element_bytes(compute) > self._max_element_bytes:
            raise ValueError(
                f"memory_limit={self._args[4]!r} was counted in elements of "
                f"{self._max_element_bytes} bytes (float64) when this expression was compiled; "
                f"these arrays compute in {compute} ({_element_bytes(compute)} bytes), which would "
                "exceed it: give memory_limit= in elements instead"
            )

    def _call_slow(self, *arrays, out=None, backend="auto", evaluate_constants=False, threads=None):
        if len(arrays) != self.num_args:
            raise ValueError(
                f"This `ContractExpression` takes exactly {self.num_args} array arguments "
                f"but received {len(arrays)}."
            )
        if backend not in ("auto", "numpy", None):
            raise ValueError(f"einsumc computes on numpy arrays only (backend={backend!r})")
        if self._constants:
            full = list(range(len(self._shapes)))
            for i, c in self._constants.items():
                full[i] = c
            for i, a in zip(self._positions, arrays):
                full[i] = a
        else:
            full = arrays
        full = _as_arrays(full)
        self._check_element_bytes(full)
        for i, a in enumerate(full):
            if a.shape != tuple(self._shapes[i]):
                raise ValueError(
                    f"Internal error while evaluating `ContractExpression`. Note that few checks are performed"
                    f" - the number and rank of the array arguments must match the original expression. "
                    f"Operand {i} has shape {a.shape}, expected {tuple(self._shapes[i])}."
                )
        try:
            return _einsum((self._subscripts, *full), out, None, "K", "safe", self._spec, threads)
        except ValueError as err:
            raise ValueError(
                "Internal error while evaluating `ContractExpression`. Note that few checks are "
                "performed - the number and rank of the array arguments must match the original "
                f"expression. {err}"
            ) from err

    # Slices: contractions too large for memory, and for a cluster.

    @property
    def slicing(self):
        """How the contraction is sliced (``None`` when it is not): a dict of
        ``slices``, ``axes``, ``sizes``, ``chunks`` (indices of each axis one
        slice takes), ``stacked`` (axes the output holds),
        ``slice_shape``, ``overhead`` (sliced over unsliced FLOPs),
        ``limit`` and ``summary``."""
        return self._expression.slicing(self._shapes)

    @property
    def num_slices(self):
        """How many slices a call runs (1 when it is not sliced)."""
        info = self.slicing
        return 1 if info is None else info["slices"]

    def slice_index(self, i):
        """Where slice ``i``'s result goes in the output: a tuple of
        ``slice`` objects (``out[expr.slice_index(i)] += result``)."""
        info = self.slicing
        if info is None:
            if i != 0:
                raise ValueError(f"slice {i} of a contraction of 1 slice")
            return tuple(slice(None) for _ in self._expression.output_shape(self._shapes))
        start = self._expression.slice_position(self._shapes, i)
        return tuple(slice(s, s + e) for s, e in zip(start, info["slice_shape"]))

    def contract_slice(self, i, *arrays, threads=None):
        """Slice ``i`` alone, on the call's arrays (constants added): its
        result, of ``slicing['slice_shape']``, with the GIL released. The
        results of the slices at one ``slice_index`` sum to that part of the
        output (``einsumc.distributed`` runs them on a cluster)."""
        if self.slicing is None:
            if i != 0:
                raise ValueError(f"slice {i} of a contraction of 1 slice")
            return np.asarray(self(*arrays, threads=threads))
        full = self._full_arrays(arrays)
        self._check_element_bytes(full)
        dtype = np.result_type(*full)
        full = tuple(np.ascontiguousarray(a, dtype=dtype) if a.dtype != dtype else a for a in full)
        return self._expression.run_slice(full, i, threads)

    def _full_arrays(self, arrays):
        """The call's arrays with the constants at their positions."""
        if len(arrays) != self.num_args:
            raise ValueError(
                f"This `ContractExpression` takes exactly {self.num_args} array arguments "
                f"but received {len(arrays)}."
            )
        full = list(range(len(self._shapes)))
        for i, c in self._constants.items():
            full[i] = c
        for i, a in zip(self._positions, arrays):
            full[i] = a
        return _as_arrays(full)

    def __reduce__(self):
        subscripts, shapes, constants, optimize, memory_limit, use_blas = self._args
        info = self.slicing
        if info is not None:
            # Sliced: the order and the slices as they are here, so that a
            # worker runs the same slices whatever its search would find.
            path = [tuple(p) for p in self.path]
            slices = "".join(info["axes"])
            return (_rebuild, (subscripts, shapes, constants, path, memory_limit, use_blas, slices))
        return (_rebuild, (subscripts, shapes, constants, optimize, memory_limit, use_blas))

    def __repr__(self):
        return f"<ContractExpression('{self.contraction}')>"

    def __str__(self):
        return repr(self) + "\n" + "\n".join(
            f"  {i + 1}.  '{c[2]}'" for i, c in enumerate(self.contraction_list)
        )


def _rebuild(subscripts, shapes, constants, optimize, memory_limit, use_blas, slices=None):
    return ContractExpression(subscripts, shapes, constants, optimize, memory_limit, use_blas, slices)


def contract_expression(subscripts, *shapes, constants=None, optimize=True, memory_limit=None, use_blas=True, **kwargs):
    """opt_einsum.contract_expression: a compiled contraction for arrays of
    ``shapes`` (or, at positions in ``constants``, the arrays themselves)."""
    for arg in ("out", "backend", "order", "dtype", "casting"):
        if arg in kwargs:
            raise ValueError(f"'{arg}' should only be specified when calling a `ContractExpression`, not when building it.")
    if kwargs:
        raise TypeError(f"Did not understand the following kwargs: {kwargs.keys()}")
    if optimize is False:
        raise ValueError("contract_expression plans once for its shapes: optimize=False is not allowed")
    if not isinstance(subscripts, str):
        subscripts, shapes = _from_interleaved((subscripts, *shapes))
    else:
        subscripts = _relabel(subscripts)
    constants = constants or ()
    shapes = list(shapes)
    const = {i: shapes[i] for i in constants}
    shape_only = [s if i not in const else np.shape(s) for i, s in enumerate(shapes)]
    return ContractExpression(subscripts, shape_only, const, optimize, memory_limit, use_blas)

