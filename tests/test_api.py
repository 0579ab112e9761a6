"""The Python API: ``conformance.check_linear`` / ``check_dropout`` /
``check_call_semantics`` run the suite checks inside a caller's test."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import conformance
from conformance.api import CheckReport, ConformanceError

FAST = {"max_examples": 5, "dtypes": ["float32"]}


class DropsBias(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class TransposedWeight(nn.Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None


class Unscaled(nn.Dropout):
    """Drops without rescaling the kept elements by 1/(1-p)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * (torch.rand_like(x) >= self.p)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SkipsHooks(Block):
    """Overrides ``__call__`` with ``forward``: hooks never run."""

    def __call__(self, *args):
        return self.forward(*args)


def test_stock_linear_passes():
    report = conformance.check_linear(nn.Linear, **FAST)
    assert isinstance(report, CheckReport)
    assert not report.failures
    assert "test_linear::test_linear_matches_affine[cpu-float32]" in report.passed
    assert "test_linear::test_linear_classic_example[cpu-float32]" in report.passed
    # Checks of other layers are not run; parity needs a second device.
    assert not any("broadcasting" in i or "test_dropout::" in i for i in report.passed)
    assert any(i.startswith("test_parity::") for i, _ in report.skipped)


def test_a_faulty_linear_raises_one_assertion_with_the_shrunk_example():
    with pytest.raises(ConformanceError) as info:
        conformance.check_linear(DropsBias, max_examples=20, dtypes=["float32"])
    text = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert text.startswith("check_linear(DropsBias): ")
    assert "FAILED test_linear::test_linear_matches_affine[cpu-float32]" in text
    assert "but should be" in text
    # Hypothesis' labelled draws of the example, shrunk to the suite's canonical first
    # one (conformance.support.canonical): a square layer with a bias, one batch dim.
    affine = text.split("FAILED test_linear::test_linear_matches_affine[cpu-float32]")[1]
    affine = affine.split("FAILED ")[0]
    assert (
        "Draw 1 (config): LinearConfig(in_features=3,\n     out_features=3,\n     bias=True"
        in affine
    )
    assert "Draw 3 (x): tensor([[ 1., -2.,  3.],\n            [-4.,  5., -6.]])" in affine
    failed = {test_id for test_id, _ in info.value.failures}
    assert "test_linear::test_linear_matches_affine[cpu-float32]" in failed
    assert "test_linear::test_linear_parameter_shapes[cpu-float32]" not in failed


def test_modes_go_into_the_ids():
    report = conformance.check_linear(
        nn.Linear, modes=("functional_call",), max_examples=3, dtypes=["float64"]
    )
    assert "test_linear::test_linear_matches_affine[cpu-float64-functional_call]" in report.passed
    assert not any(i.endswith("-eager]") for i in report.passed)


def test_known_deviations_of_a_mode_are_expected_failures():
    report = conformance.check_call_semantics(
        Block, inputs=[(2, 3)], modes=("jit",), max_examples=3, dtypes=["float32"]
    )
    expected = dict(report.expected_failures)
    key = "test_module_calls::test_hooks_registered_after_wrapping_run[cpu-float32-jit]"
    assert key in expected
    assert "34329" in expected[key]
    assert "test_module_calls::test_call_matches_eager_forward[cpu-float32-jit]" in report.passed


def test_stock_dropout_passes_and_a_faulty_one_fails():
    report = conformance.check_dropout(nn.Dropout, max_examples=5)
    assert "test_dropout::test_dropout_train_scales_kept[cpu-float32-Dropout]" in report.passed
    assert not any("Dropout2d" in i for i in report.passed)
    with pytest.raises(ConformanceError, match="test_dropout_train_scales_kept"):
        conformance.check_dropout(Unscaled, max_examples=5)


def test_call_semantics_of_a_users_module():
    report = conformance.check_call_semantics(Block, inputs=[(2, 3)], max_examples=5)
    assert "test_module_calls::test_hooks_registered_before_wrapping_run[cpu-float32]" in (
        report.passed
    )
    with pytest.raises(ConformanceError) as info:
        conformance.check_call_semantics(SkipsHooks, inputs=[(2, 3)], max_examples=5)
    failed = {test_id.split("[")[0] for test_id, _ in info.value.failures}
    assert "test_module_calls::test_hooks_registered_before_wrapping_run" in failed
    assert "test_module_calls::test_call_matches_eager_forward" not in failed


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda: conformance.check_linear(nn.Linear, devices=["gpu"]), ValueError, "'gpu'"),
        (lambda: conformance.check_linear(nn.Linear, max_examples=0), ValueError, "max_examples=0"),
        (lambda: conformance.check_linear(nn.Linear, max_examples=True), TypeError, "max_examples"),
        (lambda: conformance.check_linear(nn.Linear, modes=["turbo"]), ValueError, "modes='turbo'"),
        (lambda: conformance.check_linear(nn.Linear, dtypes=["float7"]), ValueError, "float7"),
        (lambda: conformance.check_linear(42), ValueError, "42 is not callable"),
        (
            lambda: conformance.check_linear(TransposedWeight),
            ValueError,
            r"TransposedWeight breaks the linear contract: .*weight\.shape=\(3, 2\)",
        ),
        (
            lambda: conformance.check_call_semantics(Block, inputs=[(2, 5)]),
            ValueError,
            r"Block\(\)\(\*inputs\) raised RuntimeError on zeros of shape \(2, 5\)",
        ),
        (lambda: conformance.check_call_semantics(Block, inputs=[]), ValueError, "inputs=\\[\\]"),
        (lambda: conformance.check_call_semantics(len, inputs=[(1,)]), ValueError, "len\\(\\)"),
    ],
    ids=[
        "unknown device",
        "no examples",
        "bool examples",
        "unknown mode",
        "unknown dtype",
        "not callable",
        "broken contract",
        "wrong inputs",
        "no inputs",
        "factory raises",
    ],
)
def test_arguments_are_checked_before_anything_runs(call, error, named):
    with pytest.raises(error, match=named):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_an_unavailable_device_is_named():
    with pytest.raises(ValueError, match="cuda is not available here"):
        conformance.check_linear(nn.Linear, devices=["cpu", "cuda"])


def test_importing_the_kit_stays_cheap():
    code = (
        "import sys, conformance\n"
        "assert 'torch' not in sys.modules and 'hypothesis' not in sys.modules\n"
        "assert callable(conformance.check_linear)\n"
        "assert 'conformance.api' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_module_with_running_statistics_passes_the_module_call_checks():
    # A training call updates a BatchNorm's running statistics: the eval-mode
    # reference is the module as that call left it (found by the timm ecosystem run).
    report = conformance.check_module(
        lambda: nn.BatchNorm2d(3), inputs=[(2, 3, 4, 4)], max_examples=10, dtypes=["float32"]
    )
    assert "test_module_calls::test_eval_after_wrapping_reaches_the_call[cpu-float32]" in (
        report.passed
    )


def test_a_parameters_examples_share_reaches_the_api_as_in_a_run():
    from conformance.api import _parametrizations

    @pytest.mark.parametrize(
        "part", ["all", pytest.param("few", marks=pytest.mark.examples_share(0.25))]
    )
    def check(part: str) -> None: ...

    ((names, params),) = _parametrizations(check)
    assert names == ("part",)
    assert [(p.id, p.share) for p in params] == [("all", None), ("few", 0.25)]
