"""Code under test that changes torch's global state fails its check, naming the
change, and the state is put back: later checks and the caller are unaffected."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import settings
from torch import nn

import conformance
from conformance.api import ConformanceError
from conformance.global_state import GlobalStateChanged, guarded, snapshot

HOSTILE = """
import torch
import torch.nn.functional as F
from torch import nn


class SetsDefaultDtype(nn.Linear):
    def forward(self, x):
        torch.set_default_dtype(torch.float64)
        return F.linear(x, self.weight, self.bias)


class RegistersGlobalHook(nn.Linear):
    def forward(self, x):
        nn.modules.module.register_module_forward_hook(lambda m, i, o: o * 0)
        return F.linear(x, self.weight, self.bias)


class TurnsGradOff(nn.Linear):
    def forward(self, x):
        torch.set_grad_enabled(False)
        return F.linear(x, self.weight, self.bias)


class SetsThreads(nn.Linear):
    def forward(self, x):
        torch.set_num_threads(torch.get_num_threads() + 1)
        return F.linear(x, self.weight, self.bias)
"""

CASES = [
    ("SetsDefaultDtype", "default dtype torch.float32 -> torch.float64"),
    ("RegistersGlobalHook", "_global_forward_hooks: 1 added"),
    ("TurnsGradOff", "grad mode True -> False"),
    ("SetsThreads", "threads"),
]


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(hostile=HOSTILE)
    pytester.syspathinsert()
    return pytester


@pytest.mark.parametrize(("target", "change"), CASES, ids=[c[0] for c in CASES])
def test_a_target_changing_global_state_fails_and_is_undone(project, target, change):
    threads = torch.get_num_threads()
    before = snapshot()
    result = project.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "conformance.test_linear",
        "-k",
        "classic",
        "--dtype",
        "float32",
        "--target",
        f"linear=hostile:{target}",
    )
    try:
        result.assert_outcomes(failed=1)
        out = result.stdout.str()
        assert "changed torch's global state, which the kit has put back" in out
        assert change in out
        assert snapshot() == before  # this process is as it was
    finally:
        torch.set_num_threads(threads)


def _run_guarded(body) -> None:
    with guarded("check"):
        body()


def test_guarded_restores_and_names_every_change():
    def hostile() -> None:
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)

    with pytest.raises(GlobalStateChanged, match=r"default dtype.*grad mode") as info:
        _run_guarded(hostile)
    assert "check changed" in str(info.value)
    assert torch.get_default_dtype() == torch.float32
    assert torch.is_grad_enabled()


def test_a_failing_check_keeps_its_own_failure_and_is_restored():
    def failing() -> None:
        torch.set_default_dtype(torch.float64)
        raise ValueError("its own failure")

    with pytest.raises(ValueError, match="own"):
        _run_guarded(failing)
    assert torch.get_default_dtype() == torch.float32


class LeavesGradOff(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.set_grad_enabled(False)
        return F.linear(x, self.weight, self.bias)


def test_the_python_api_undoes_and_reports_a_change():
    with pytest.raises(ConformanceError, match="grad mode True -> False"):
        conformance.check_linear(LeavesGradOff, max_examples=3, dtypes=["float32"])
    assert torch.is_grad_enabled()
