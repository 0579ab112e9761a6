"""The README's Python examples run as written, in a project of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

LAYERS = """
from torch import nn


class FusedLinear(nn.Linear):
    pass


class MyBlock(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(8, 4), nn.Tanh())
"""


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def block_with(text: str) -> str:
    (block,) = [b for b in python_blocks() if text in b]
    return block


def test_the_strategies_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=block_with("from strategies import"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_python_api_example_runs(pytester: pytest.Pytester) -> None:
    """All three tests collect; the cheap one runs (the others run whole suites)."""
    pytester.mkpydir("mypkg")
    (pytester.path / "mypkg" / "layers.py").write_text(LAYERS)
    pytester.makepyfile(test_example=block_with("import conformance"))
    pytester.syspathinsert()
    collected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    collected.stdout.fnmatch_lines(["*3 tests collected*"])
    ran = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "torchs_own_dropout", "-s")
    ran.assert_outcomes(passed=1)
    ran.stdout.fnmatch_lines(["*check_dropout(Dropout): * passed*"])
