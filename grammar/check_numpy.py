#!/usr/bin/env python3
"""Check the grammar corpus against numpy.einsum (numpy's C parser, optimize=False).

- Every line of valid.txt with only ASCII labels must be accepted by
  numpy.einsum with operands built from the expression (one per input term,
  a consistent size per label, the same broadcast dimensions for every '...'),
  and the result must have the shape the expression implies (which checks the
  implicit-output rule: labels seen once, sorted by code point, A-Z first).
  Each '...' gets two broadcast dimensions, except when an explicit output
  omits '...': numpy then requires the ellipses to cover zero dimensions
  (it cannot sum over broadcast dimensions; a binding rule, not syntax).
- Lines of valid.txt with non-ASCII labels are this parser's extension: numpy
  must reject them (UnicodeEncodeError); they are counted separately.
- Every line of invalid.txt must be rejected by numpy, whatever the operands:
  it is tried with several operand sets (shapes built from the expression as
  far as possible, 2-d, 1-d and 0-d arrays of ones), and each must raise.

Usage: python3 grammar/check_numpy.py [--verbose]
Exits 1 and lists the mismatches if there are any.
"""

import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ESCAPES = {"\\": "\\", '"': '"', "t": "\t", "n": "\n", "r": "\r", "0": "\0"}
# Above this many multiply-adds for numpy's unoptimised loop, shrink the sizes.
WORK_LIMIT = 200_000


class FormatError(Exception):
    pass


def parse_line(line):
    """Returns (text, fields, comment) for a corpus line, as tests/support/corpus.rs does."""
    if not line.startswith('"'):
        raise FormatError("a case starts with a double-quoted expression")
    text = []
    i = 1
    while True:
        if i >= len(line):
            raise FormatError("unterminated expression")
        ch = line[i]
        i += 1
        if ch == '"':
            break
        if ch != "\\":
            text.append(ch)
            continue
        if i >= len(line):
            raise FormatError("dangling backslash")
        esc = line[i]
        i += 1
        if esc in ESCAPES:
            text.append(ESCAPES[esc])
        elif esc == "u":
            if i >= len(line) or line[i] != "{":
                raise FormatError("\\u must be followed by {HEX}")
            end = line.find("}", i)
            if end < 0:
                raise FormatError("unterminated \\u{")
            try:
                text.append(chr(int(line[i + 1 : end], 16)))
            except ValueError as e:
                raise FormatError(f"bad \\u{{...}}: {e}") from None
            i = end + 1
        else:
            raise FormatError(f"unknown escape \\{esc}")
    rest = line[i:]
    fields, _, comment = rest.partition("#")
    return "".join(text), fields.split(), comment.strip()


def read_corpus(name):
    cases = []
    path = HERE / name
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            text, fields, comment = parse_line(line)
        except FormatError as e:
            sys.exit(f"{name}:{number}: {e}")
        cases.append((number, text, fields, comment))
    return cases


def split_arrow(text):
    """(input part, output part or None), split at the first '->'."""
    lhs, arrow, rhs = text.partition("->")
    return lhs, (rhs if arrow else None)


def tokens(term):
    """Labels and '...' of a term, as a list; None if the term has anything else."""
    out = []
    i = 0
    while i < len(term):
        if term.startswith("...", i):
            out.append("...")
            i += 3
        elif term[i] == " ":
            i += 1
        elif term[i].isascii() and term[i].isalpha():
            out.append(term[i])
            i += 1
        else:
            return None
    return out


def label_sizes(labels, scheme):
    if scheme == "distinct":
        return {label: 2 + n % 5 for n, label in enumerate(labels)}, (2, 3)
    if scheme == "twos":
        return {label: 2 for label in labels}, (2,)
    return {label: 1 for label in labels}, (1,)


def build_operands(terms, sizes, bshape):
    ops = []
    for term in terms:
        shape = []
        for tok in term:
            shape.extend(bshape if tok == "..." else (sizes[tok],))
        ops.append(np.ones(shape))
    return ops


def valid_operands(text):
    """Operands for an ASCII valid line and the result shape numpy must give."""
    lhs, rhs = split_arrow(text)
    terms = [tokens(t) for t in lhs.split(",")]
    out = tokens(rhs) if rhs is not None else None
    if any(t is None for t in terms) or (rhs is not None and out is None):
        raise ValueError("the checker cannot tokenise this line")
    labels = list(dict.fromkeys(tok for t in terms for tok in t if tok != "..."))
    for scheme in ("distinct", "twos", "ones"):
        sizes, bshape = label_sizes(labels, scheme)
        has_ellipsis = any("..." in t for t in terms)
        work = math.prod(sizes.values()) * (math.prod(bshape) if has_ellipsis else 1)
        if work <= WORK_LIMIT:
            break
    if has_ellipsis and out is not None and "..." not in out:
        # numpy cannot sum over broadcast dimensions: an explicit output without
        # '...' binds only when every input ellipsis covers zero dimensions.
        bshape = ()
    if out is None:
        # Implicit output: broadcast dimensions, then the labels seen exactly once,
        # sorted by code point (so 'A'-'Z' before 'a'-'z').
        counts = {}
        for t in terms:
            for tok in t:
                if tok != "...":
                    counts[tok] = counts.get(tok, 0) + 1
        out = (["..."] if has_ellipsis else []) + sorted(l for l, c in counts.items() if c == 1)
    # numpy broadcasts all ellipses to the longest one; with the same bshape for
    # every term, the output ellipsis has bshape's dimensions if any input has one.
    expected = []
    for tok in out:
        if tok == "...":
            expected.extend(bshape if has_ellipsis else ())
        else:
            expected.append(sizes[tok])
    return build_operands(terms, sizes, bshape), tuple(expected)


def invalid_operand_sets(text):
    """Several operand sets for an invalid line: numpy must reject it with each."""
    lhs, _ = split_arrow(text)
    pieces = lhs.split(",")
    sets = []
    # Shapes built from the ASCII letters of each piece (and '...' if present),
    # whatever else the piece holds.
    labels = list(dict.fromkeys(c for c in lhs if c.isascii() and c.isalpha()))
    for scheme in ("distinct", "ones"):
        sizes, bshape = label_sizes(labels, scheme)
        terms = [
            [c for c in p if c.isascii() and c.isalpha()] + (["..."] if "..." in p else [])
            for p in pieces
        ]
        try:
            ops = build_operands(terms, sizes, bshape)
            if sum(op.size for op in ops) <= WORK_LIMIT:
                sets.append(ops)
        except Exception:
            pass
    # Fallbacks that do not depend on the expression's shape.
    for shape in ((2, 2), (2,), ()):
        sets.append([np.ones(shape) for _ in pieces])
    return sets


def main():
    verbose = "--verbose" in sys.argv[1:]
    mismatches = []
    accepted = extension = rejected = 0

    for number, text, fields, _ in read_corpus("valid.txt"):
        where = f"valid.txt:{number}: {text!r}"
        if fields:
            mismatches.append(f"{where}: unexpected fields {fields}")
            continue
        if not text.isascii():
            # Extension: numpy only takes ASCII subscripts.
            lhs, _ = split_arrow(text)
            ops = [np.ones(()) for _ in lhs.split(",")]
            try:
                np.einsum(text, *ops, optimize=False)
            except UnicodeEncodeError:
                extension += 1
                continue
            except Exception as e:
                mismatches.append(f"{where}: extension line, numpy raised {type(e).__name__} ({e}), not UnicodeEncodeError")
                continue
            mismatches.append(f"{where}: extension line accepted by numpy")
            continue
        try:
            ops, expected = valid_operands(text)
        except Exception as e:
            mismatches.append(f"{where}: cannot build operands: {e}")
            continue
        try:
            result = np.einsum(text, *ops, optimize=False)
        except Exception as e:
            shapes = [op.shape for op in ops]
            mismatches.append(f"{where}: rejected by numpy with shapes {shapes}: {type(e).__name__}: {e}")
            continue
        if np.shape(result) != expected:
            mismatches.append(f"{where}: numpy gave shape {np.shape(result)}, expected {expected}")
            continue
        accepted += 1
        if verbose:
            print(f"ok  {where} -> shape {np.shape(result)}")

    for number, text, fields, _ in read_corpus("invalid.txt"):
        where = f"invalid.txt:{number}: {text!r}"
        if len(fields) != 2 or not fields[1].isdigit():
            mismatches.append(f"{where}: expected `\"expr\"  Kind  column`, got fields {fields}")
            continue
        errors = []
        for ops in invalid_operand_sets(text):
            try:
                np.einsum(text, *ops, optimize=False)
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
                continue
            shapes = [op.shape for op in ops]
            mismatches.append(f"{where}: accepted by numpy with shapes {shapes}")
            break
        else:
            rejected += 1
            if verbose:
                print(f"ok  {where} -> {errors[0]}")

    print(
        f"valid: {accepted} accepted by numpy, {extension} extension lines rejected by numpy as expected; "
        f"invalid: {rejected} rejected by numpy"
    )
    print(f"{len(mismatches)} mismatches")
    for m in mismatches:
        print("  " + m)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
