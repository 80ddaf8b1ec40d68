"""Subscripts as numpy's Python code sees them: the interleaved sublist
form turned into text, ``...`` expanded into letters, label sizes, and a
contraction path walked step by step (what einsum_path and contract_path
print). Only called after the Rust core has accepted the expression, so
the text here is always valid."""

import operator

_SYMBOLS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def sublist_label(s):
    """numpy's label for a sublist entry: 0-25 -> A-Z, 26-51 -> a-z."""
    if s is Ellipsis:
        return "..."
    try:
        s = operator.index(s)
    except TypeError:
        raise TypeError(
            "For this input type lists must contain either int or Ellipsis"
        ) from None
    if 0 <= s < 26:
        return chr(ord("A") + s)
    if 26 <= s < 52:
        return chr(ord("a") + s - 26)
    raise ValueError(f"subscript is not within the valid range [0, 52), got {s}")


def from_sublists(args):
    """``(op0, sub0, op1, sub1, ..., [out])`` as ``(subscripts, operands)``."""
    args = list(args)
    operands = args[0::2]
    sublists = args[1::2]
    output = None
    if len(args) % 2 == 1:
        output = args[-1]
        operands = operands[:-1]
    if not operands:
        raise ValueError("No input operands")
    terms = []
    for sub in sublists:
        try:
            items = list(sub)
        except TypeError:
            raise TypeError(
                "subscripts must be a string or, in the sublist form, lists of "
                f"ints and Ellipsis; got {type(sub).__name__}"
            ) from None
        terms.append("".join(sublist_label(s) for s in items))
    subscripts = ",".join(terms)
    if output is not None:
        try:
            items = list(output)
        except TypeError:
            raise TypeError(
                "the output sublist must be a list of ints and Ellipsis; "
                f"got {type(output).__name__}"
            ) from None
        subscripts += "->" + "".join(sublist_label(s) for s in items)
    return subscripts, operands


class Problem:
    """A valid expression bound to shapes, labels as single characters with
    ``...`` expanded as numpy's ``_parse_einsum_input`` does (the last
    unused letters), for report texts and layouts."""

    def __init__(self, canonical, shapes):
        inputs, output = canonical.split("->")
        terms = inputs.split(",") if inputs or len(shapes) != 1 else [""]
        used = set(canonical.replace(".", "").replace(",", "").replace("-", "").replace(">", ""))
        unused = sorted(set(_SYMBOLS) - used)
        longest = 0
        expanded = []
        self.ellipsis_dims = []
        for term, shape in zip(terms, shapes):
            if "..." in term:
                count = max(len(shape) - (len(term) - 3), 0)
                longest = max(longest, count)
                rep = "".join(unused[len(unused) - count:]) if count else ""
                expanded.append(term.replace("...", rep))
            else:
                expanded.append(term)
        out = output
        if "..." in out:
            rep = "".join(unused[len(unused) - longest:]) if longest else ""
            out = out.replace("...", rep)
        self.inputs = expanded
        self.output = out
        self.shapes = [tuple(s) for s in shapes]
        sizes = {}
        for term, shape in zip(expanded, shapes):
            for label, dim in zip(term, shape):
                if sizes.get(label, 1) == 1:
                    sizes[label] = int(dim)
        self.sizes = sizes

    @property
    def indices(self):
        return set("".join(self.inputs))

    def size(self, labels):
        n = 1
        for label in labels:
            n *= self.sizes[label]
        return n


def flop_count(idx_contraction, inner, num_terms, sizes):
    """numpy's and opt_einsum's FLOP convention."""
    overall = 1
    for label in idx_contraction:
        overall *= sizes[label]
    factor = max(1, num_terms - 1)
    if inner:
        factor += 1
    return overall * factor


def walk(problem, path, result_order):
    """Walks ``path`` (numpy's linear format, entries of any length) over the
    problem, as numpy's einsum_path does: per step, the positions, removed
    labels, einsum text, remaining terms, cost, scale and result size.
    ``result_order(labels, tmp_inputs)`` orders an intermediate's labels
    (numpy: by size then letter; opt_einsum: by first appearance)."""
    input_list = list(problem.inputs)
    input_sets = [set(x) for x in input_list]
    output_set = set(problem.output)
    steps = []
    for cnum, contract_inds in enumerate(path):
        contract_inds = tuple(sorted(contract_inds, reverse=True))
        idx_contract = set()
        idx_remain = set(output_set)
        remaining = []
        for ind, value in enumerate(input_sets):
            if ind in contract_inds:
                idx_contract |= value
            else:
                remaining.append(value)
                idx_remain |= value
        new_result = idx_remain & idx_contract
        idx_removed = idx_contract - new_result
        remaining.append(new_result)
        input_sets = remaining
        tmp_inputs = [input_list.pop(x) for x in contract_inds]
        if cnum == len(path) - 1:
            idx_result = problem.output
        else:
            idx_result = result_order(new_result, tmp_inputs)
        input_list.append(idx_result)
        steps.append(
            {
                "positions": contract_inds,
                "removed": idx_removed,
                "contract": idx_contract,
                "result": new_result,
                "einsum": ",".join(tmp_inputs) + "->" + idx_result,
                "remaining": list(input_list),
                "inputs": tmp_inputs,
            }
        )
    return steps


def validate_path(path, n):
    """``path`` (numpy's linear format; entries of one, two or more
    positions) as pairs the planner takes, checking every entry. A
    single-position entry only moves its operand to the end of the list
    (the planner sums an operand's own axes itself); an entry of k > 2
    positions becomes k - 1 pairs."""
    ids = list(range(n))
    ssa = []
    next_id = n
    for step, entry in enumerate(path):
        try:
            entry = tuple(operator.index(i) for i in entry)
        except TypeError:
            raise RuntimeError(
                f"Invalid einsum_path is specified: entry {step} ({entry!r}) is not "
                "a tuple of operand positions"
            ) from None
        if not entry or len(set(entry)) != len(entry) or any(
            i < 0 or i >= len(ids) for i in entry
        ):
            raise RuntimeError(
                f"Invalid einsum_path is specified: entry {step} {entry} does not name "
                f"distinct positions among {len(ids)} operands"
            )
        taken = [ids[i] for i in entry]
        for i in sorted(entry, reverse=True):
            del ids[i]
        current = taken[0]
        for other in taken[1:]:
            ssa.append((current, other))
            current = next_id
            next_id += 1
        ids.append(current)
    if len(ids) != 1:
        raise RuntimeError(
            f"Invalid einsum_path is specified: {len(ids)} operands are left "
            "uncontracted"
        )
    positions = list(range(n))
    pairs = []
    for k, (a, b) in enumerate(ssa):
        pa, pb = positions.index(a), positions.index(b)
        lo, hi = min(pa, pb), max(pa, pb)
        pairs.append((lo, hi))
        del positions[hi]
        del positions[lo]
        positions.append(n + k)
    return pairs
