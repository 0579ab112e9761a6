"""Proof of power for the Linear suites: each planted fault fails the check that
guards it, and stock ``torch.nn.Linear`` passes the same check.

Faults are small ``nn.Linear`` subclasses passed as ``linear_cls=`` to the
suite's test functions, called directly with the fixtures as keyword
arguments. They run under the suites' conformance-ci profile minus the shrink
phase: a fault test needs the failure, not the minimal example, and shrinking
takes seconds per fault.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from planting import run_unshrunk
from torch import nn
from torch.nn import init

from conformance import test_linear as suite
from conformance import test_parity as parity

CPU = torch.device("cpu")
# Parity needs two devices. "cpu:0" is the same hardware under another name:
# the device-dependent faults below break only when built for it, standing
# in for a kernel bug on one backend.
SECOND_CPU = torch.device("cpu:0")


# --- faults ------------------------------------------------------------------


class DropsBias(nn.Linear):
    """Forgets to add the bias."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class TransposesSquareWeight(nn.Linear):
    """Applies ``A`` instead of ``A^T``; only square weights get through the shape check."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        square = self.in_features == self.out_features
        return F.linear(x, self.weight.T if square else self.weight, self.bias)


class MishandlesEmptyBatch(nn.Linear):
    """Returns ``(0, out)`` for any empty batch, losing the batch dims."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim > 1 and math.prod(x.shape[:-1]) == 0:
            return x.new_zeros(0, self.out_features)
        return super().forward(x)


class Mishandles1D(nn.Linear):
    """Treats a 1-D input as a batch of one and forgets to squeeze: ``(1, out)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(0) if x.ndim == 1 else x)


class _LastItemWeightGrad(torch.autograd.Function):
    """The affine map, whose weight gradient uses only the last batch item
    instead of summing over the batch."""

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        batch = math.prod(x.shape[:-1])
        xs, gs = x.reshape(batch, x.shape[-1]), g.reshape(batch, g.shape[-1])
        grad_weight = gs[-1:].T @ xs[-1:]
        return g @ weight, grad_weight, gs.sum(0) if ctx.has_bias else None


class WrongWeightGrad(nn.Linear):
    """Right forward, wrong ``dL/dW`` (see :class:`_LastItemWeightGrad`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = _LastItemWeightGrad.apply(x, self.weight, self.bias)
        return out


class NarrowInit(nn.Linear):
    """Draws from ``U(-1/in, 1/in)``: inside the documented range, not spread over it."""

    def reset_parameters(self) -> None:
        bound = 1 / self.in_features if self.in_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)


class WideInit(nn.Linear):
    """``kaiming_uniform_`` with its default ``a=0``: ``U(-sqrt(6/in), sqrt(6/in))``."""

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound)


def _fit_features(x: torch.Tensor, in_features: int) -> torch.Tensor:
    """Zero-pads or crops the last dim to ``in_features`` (the silent-acceptance bug)."""
    return F.pad(x, (0, in_features - x.shape[-1])) if x.ndim else x


class AcceptsWrongFeatures(nn.Linear):
    """Pads or crops the input to ``in_features`` instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_fit_features(x, self.in_features))


class _BrokenOffReference(nn.Linear):
    """Broken only when built for a device other than plain ``"cpu"``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.broken = str(device) != "cpu"


class DropsBiasOffReference(_BrokenOffReference):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, None if self.broken else self.bias)


class AcceptsWrongFeaturesOffReference(_BrokenOffReference):
    """pytorch#62537 in miniature: one device accepts a wrong ``in_features``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_fit_features(x, self.in_features) if self.broken else x)


# --- running a suite check directly ------------------------------------------

FIXTURES: dict[str, Any] = {"device": CPU, "dtype": torch.float32, "parity_device": SECOND_CPU}


def run_check(check: Callable[..., None], linear_cls: type[nn.Module]) -> None:
    run_unshrunk(check, FIXTURES, linear_cls=linear_cls)


def _case(check: Callable[..., None], linear_cls: type[nn.Module], caught: bool) -> Any:
    name = check.__name__.removeprefix("test_")
    return pytest.param(check, linear_cls, caught, id=f"{name}-{linear_cls.__name__}")


def _guarded(check: Callable[..., None], *faults: type[nn.Module]) -> list[Any]:
    """The stock class passes ``check``; each fault fails it."""
    return [_case(check, nn.Linear, False)] + [_case(check, f, True) for f in faults]


CASES = [
    *_guarded(
        suite.test_linear_matches_affine,
        DropsBias,
        TransposesSquareWeight,
        MishandlesEmptyBatch,
        Mishandles1D,
    ),
    *_guarded(suite.test_linear_gradients_match_formulas, WrongWeightGrad),
    *_guarded(suite.test_linear_gradcheck, WrongWeightGrad),
    *_guarded(suite.test_linear_init_within_bound, WideInit),
    *_guarded(suite.test_linear_init_spread_uniformly, NarrowInit),
    *_guarded(suite.test_linear_rejects_wrong_feature_size, AcceptsWrongFeatures),
    # Why the distributional check exists: the range check alone passes NarrowInit.
    _case(suite.test_linear_init_within_bound, NarrowInit, False),
    # Parity, CPU against "cpu:0": device-dependent faults that every
    # single-device check passes on CPU, and that only parity catches.
    *_guarded(parity.test_parity_forward_and_backward, DropsBiasOffReference),
    *_guarded(parity.test_parity_errors, AcceptsWrongFeaturesOffReference),
    _case(suite.test_linear_matches_affine, DropsBiasOffReference, False),
    _case(suite.test_linear_rejects_wrong_feature_size, AcceptsWrongFeaturesOffReference, False),
]


@pytest.mark.parametrize(("check", "linear_cls", "caught"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], linear_cls: type[nn.Module], caught: bool
) -> None:
    if caught:
        with pytest.raises(AssertionError):
            run_check(check, linear_cls)
    else:
        run_check(check, linear_cls)


def test_parity_helpers_pass_cpu_against_cpu() -> None:
    """The helpers themselves, on one fixed example with the very same device twice."""
    config = suite.LinearConfig(3, 2, bias=True, dtype=torch.float32, device="cpu")
    x = torch.linspace(-2.0, 2.0, 12).reshape(4, 3)
    grad_out = torch.ones(4, 2)
    parity.assert_linear_parity(nn.Linear, config, 0, x, grad_out, reference=CPU, other=CPU)
    parity.assert_same_outcome(nn.Linear, config, 0, torch.ones(4, 5), reference=CPU, other=CPU)
