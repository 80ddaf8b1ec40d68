"""numpy's einsum_path(optimize='optimal') on every line of plans.txt.

Prints one line per corpus case: `<line> <optimized flops> <path>` where the
flops are numpy's printed figure (4 significant digits) and the path is
numpy's contraction list as JSON pairs, or `null` when it is not all pairs
(one operand; or numpy's memory limit forcing a many-operand step).
Operands are zero-stride views, so no memory is touched whatever the shapes.
"""
import json
import os
import re
import sys

import numpy as np


def shapes_of(words):
    for w in words:
        if w == "scalar":
            yield ()
        else:
            yield tuple(int(d) for d in w.split("x"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "plans.txt"), encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            subscripts, shapes = words[0], list(shapes_of(words[1:]))
            operands = [np.broadcast_to(np.zeros(()), s) for s in shapes]
            path, text = np.einsum_path(subscripts, *operands, optimize="optimal")
            flops = float(re.search(r"Optimized FLOP count:\s*(\S+)", text).group(1))
            pairs = path[1:]
            if any(len(p) != 2 for p in pairs):
                print(number, repr(flops), "null")
            else:
                print(number, repr(flops), json.dumps([list(p) for p in pairs]))


if __name__ == "__main__":
    sys.exit(main())
