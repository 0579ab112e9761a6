"""A failing check's message ends with a command that reruns it: same test,
same options, same shrunk example, from wherever the run started."""

from __future__ import annotations

import re
import shlex

import pytest

BROKEN = """
import torch.nn.functional as F
from torch import nn


class Doubles(nn.Linear):
    def forward(self, x):
        return 2 * F.linear(x, self.weight, self.bias)
"""

CHECK = "conformance.test_linear::test_linear_matches_affine[cpu-float32]"


def rerun_line(result: pytest.RunResult) -> str:
    lines = re.findall(r"Rerun: (.*?)  \(the conformance-ci profile", result.stdout.str())
    assert lines, result.stdout.str()[-3000:]
    return lines[0]


def falsifying(result: pytest.RunResult) -> str:
    """Hypothesis' shrunk example: the draws, up to its reproduce_failure line."""
    found = re.search(
        r"(Failing test case|Falsifying example).*?reproduce", result.stdout.str(), re.S
    )
    assert found, result.stdout.str()[-3000:]
    return found[0]


def test_the_rerun_command_repeats_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken=BROKEN)
    target = "linear=broken:Doubles"
    args = ["--pyargs", CHECK, "--device", "cpu", "--target", target, "-p", "no:cacheprovider"]
    first = pytester.runpytest_subprocess(*args)
    first.assert_outcomes(failed=1)
    command = rerun_line(first)
    assert shlex.split(command) == [
        "pytest", "--pyargs", CHECK, "-p", "no:cacheprovider", "--device", "cpu",
        "--target", target,
    ]  # fmt: skip
    again = pytester.runpytest_subprocess(*shlex.split(command)[1:])
    again.assert_outcomes(failed=1)
    assert falsifying(again) == falsifying(first)


def test_a_check_run_by_path_is_rerun_by_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
        from hypothesis import given, strategies as st
        from conformance.assertions import assert_equal

        @given(x=st.integers(0, 10))
        def test_x(device, x):
            assert_equal("x", min(x, 3), x)
        """
    )
    result = pytester.runpytest_subprocess("--device", "cpu", "--mode", "eager")
    result.assert_outcomes(failed=1)
    assert rerun_line(result) == "pytest 'test_suite.py::test_x[cpu]' --device cpu --mode eager"


def test_outside_a_conformance_run_no_command_is_made_up() -> None:
    from conformance.assertions import rerun_hint

    assert rerun_hint() == ""
