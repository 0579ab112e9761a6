"""``--target module=pkg.mod:factory --module-inputs ...`` and ``check_module``: any
module of yours through the module contract and the module-call checks."""

from __future__ import annotations

import pytest
from hypothesis import settings
from torch import nn

import conformance
from conformance.api import ConformanceError

BLOCKS = """
from torch import nn


def block():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


class _Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(3, 2)

    def train(self, mode=True):
        self.training = mode  # forgets self.inner
        return self

    def forward(self, x):
        return self.inner(x)


def flat():
    return _Flat()


def needs_two_inputs():
    return nn.Bilinear(3, 3, 2)
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(blocks=BLOCKS)
    pytester.syspathinsert()
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "conformance.test_module_contract",
        "--hypothesis-seed",
        "0",
        *args,
    )


def test_a_module_target_runs_the_contract_on_its_modules(project):
    result = _run(project, "--target", "module=blocks:block", "--module-inputs", "2,3")
    result.assert_outcomes(passed=8)  # the contract checks' module subject only
    assert "conformance targets: module=blocks:block" in result.stdout.str()


def test_a_module_breaking_the_contract_fails_the_check_it_breaks(project):
    result = _run(project, "--target", "module=blocks:flat", "--module-inputs", "2x3")
    result.assert_outcomes(passed=7, failed=1)
    assert "test_train_and_eval_return_self_and_reach_every_submodule[cpu-module]" in (
        result.stdout.str()
    )


def test_several_inputs(project):
    result = _run(
        project,
        "--target",
        "module=blocks:needs_two_inputs",
        "--module-inputs",
        "2,3",
        "--module-inputs",
        "2,3",
        "-k",
        "functional_call",
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--target", "module=blocks:block"], "needs --module-inputs SHAPE"),
        (["--module-inputs", "2,3"], "--module-inputs needs --target module="),
        (["--target", "module=blocks:block", "--module-inputs", "2,a"], "is not a shape"),
        (
            ["--target", "module=blocks:block", "--module-inputs", "2,5"],
            "raised RuntimeError on zeros of shape (2, 5)",
        ),
        (["--target", "module=blocks:no_such"], "has no attribute 'no_such'"),
    ],
    ids=["no inputs", "inputs without target", "bad shape", "wrong shape", "missing factory"],
)
def test_bad_module_targets_are_usage_errors(project, args, problem):
    result = _run(project, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert problem in result.stderr.str(), result.stderr.str()


class Block(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


class ForgetsChildren(Block):
    def train(self, mode: bool = True) -> ForgetsChildren:
        self.training = mode
        return self


def test_check_module_runs_contract_and_calls():
    report = conformance.check_module(Block, inputs=[(2, 3)], max_examples=5, dtypes=["float32"])
    suites = {i.split("::")[0] for i in report.passed}
    assert suites == {"test_module_contract", "test_module_calls"}
    assert "test_module_contract::test_state_dict_round_trips[cpu-module]" in report.passed
    with pytest.raises(ConformanceError, match="reach_every_submodule"):
        conformance.check_module(ForgetsChildren, inputs=[(2, 3)], max_examples=5)
