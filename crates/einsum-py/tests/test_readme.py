"""The README's Python examples run as written (plain blocks executed, `>>>`
blocks as doctests), so they stay true."""

import doctest
import os
import re

import numpy as np
import pytest

import einsumc

README = os.path.join(os.path.dirname(__file__), "..", "..", "..", "README.md")


def blocks():
    with open(README) as f:
        text = f.read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_readme_has_python_examples():
    assert len(blocks()) >= 2


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_python_block(index):
    code = blocks()[index]
    globs = {"np": np, "einsumc": einsumc}
    if code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(code, globs, f"README block {index}", README, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, f"README block {index} failed"
    else:
        exec(compile(code, f"README block {index}", "exec"), globs)
