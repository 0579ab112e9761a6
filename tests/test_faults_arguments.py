"""Proof of power for the argument-convention suite: each planted fault fails the
check that guards it, and stock torch passes the same check.

Faults in ``Linear`` and ``Dropout`` are small subclasses passed as
``linear_cls=`` / ``dropout_cls=``; the checks that build ``nn.Conv1d``, every
dropout class or a whole model get theirs by ``monkeypatch`` on the torch
class (undone at teardown). Two kinds of fault: a module that does not
compute its functional form from its own state, and a constructor whose
keyword construction builds something else than its positional one. The
suite's Hypothesis-wrapped test functions are called directly, fixtures passed
as keyword arguments, under the conformance-ci profile without shrinking.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from planting import run_unshrunk
from torch import nn
from torch.nn.modules.dropout import _DropoutNd

from conformance import test_argument_conventions as suite

STOCK_DROPOUT_INIT = _DropoutNd.__init__
STOCK_CONV1D_INIT = nn.Conv1d.__init__
FIXTURES: dict[str, Any] = {
    "device": torch.device("cpu"),
    "dtype": torch.float32,
    "linear_cls": nn.Linear,
    "dropout_cls": nn.Dropout,
}


# --- faults in a module's forward -----------------------------------------------


class LinearDropsBias(nn.Linear):
    """``F.linear(x, self.weight)``: the bias is never added."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class DropoutAlwaysTrains(nn.Dropout):
    """``F.dropout(x, self.p)``: ``training=self.training`` left out, so the
    functional default ``training=True`` drops in eval mode too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, inplace=self.inplace)


def _conv1d_flips_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Conv1d`` computes the textbook convolution (kernel flipped) instead of
    torch's cross-correlation."""

    def conv_forward(
        self: nn.Conv1d, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        return F.conv1d(
            input, weight.flip(-1), bias, self.stride, self.padding, self.dilation, self.groups
        )

    monkeypatch.setattr(nn.Conv1d, "_conv_forward", conv_forward)


# --- faults in a constructor ----------------------------------------------------


class LinearSwallowsBias(nn.Linear):
    """Names its third parameter ``use_bias`` (Keras' name) and takes ``**options``:
    positionally the flag arrives, but ``bias=False`` by keyword is swallowed."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        use_bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(in_features, out_features, use_bias, device, dtype)


def _dropout_swallows_p(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dropout class names its first parameter ``rate`` (Keras' name) and takes
    ``**options``: ``p=`` by keyword is swallowed and the default 0.5 is used."""

    def init(self: _DropoutNd, rate: float = 0.5, inplace: bool = False, **options: Any) -> None:
        STOCK_DROPOUT_INIT(self, rate, inplace)

    monkeypatch.setattr(_DropoutNd, "__init__", init)


def _conv1d_dilation_before_stride(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Conv1d``'s signature lists ``dilation`` where ``stride`` belongs: built by
    keyword it is right, built positionally in the documented order the two swap."""

    def init(
        self: nn.Conv1d,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        padding: int = 0,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: Any = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        STOCK_CONV1D_INIT(
            self,
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )

    monkeypatch.setattr(nn.Conv1d, "__init__", init)


def _linear_init_unseeded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Linear`` initializes from a private generator seeded from the OS, so
    ``torch.manual_seed`` cannot reproduce a model built from its config."""

    def reset_parameters(self: nn.Linear) -> None:
        generator = torch.Generator(device=self.weight.device)
        generator.seed()
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound, generator=generator)

    monkeypatch.setattr(nn.Linear, "reset_parameters", reset_parameters)


# --- the cases ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    check: Callable[..., None]
    message: str  # what the guarding check's failure says (a regex)
    plant: Callable[[pytest.MonkeyPatch], None] = lambda mp: None
    fixtures: tuple[tuple[str, Any], ...] = ()  # the broken class, as a fixture


def _class_fault(
    cls: type[nn.Module], fixture: str, check: Callable[..., None], message: str
) -> Fault:
    return Fault(cls.__name__, check, message, fixtures=((fixture, cls),))


FAULTS = [
    _class_fault(LinearDropsBias, "linear_cls", suite.test_linear_module_matches_functional,
                 r"out(\[[\d, ]*\])?=.*expected: F\.linear\("),
    _class_fault(DropoutAlwaysTrains, "dropout_cls", suite.test_dropout_module_matches_functional,
                 r"out(\[[\d, ]*\])?=.*training=False.*expected: F\.dropout\("),
    Fault("Conv1d flips its kernel", suite.test_conv1d_module_matches_functional,
          r"out(\[[\d, ]*\])?=.*expected: F\.conv1d\(", _conv1d_flips_kernel),
    _class_fault(LinearSwallowsBias, "linear_cls",
                 suite.test_linear_from_config_dict_matches_positional,
                 r"(?s)repr=.*bias=True\), but should be .*bias=False\)"),
    Fault("dropout swallows p", suite.test_dropout_from_config_dict_matches_positional,
          r"repr=\w+\(p=0\.5, .*but should be \w+\(p=", _dropout_swallows_p),
    Fault("Conv1d dilation before stride", suite.test_conv1d_from_config_dict_matches_positional,
          r"repr=Conv1d\(.*, but should be Conv1d\(", _conv1d_dilation_before_stride),
    Fault("Linear init unseeded", suite.test_model_from_config_dict_is_reproducible,
          r"\b(weight|bias)(\[[\d, ]*\])?=.*, but should be", _linear_init_unseeded),
]  # fmt: skip


def fixtures_of(fault: Fault) -> dict[str, Any]:
    return {**FIXTURES, **dict(fault.fixtures)}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name.replace(" ", "-") for f in FAULTS])
def test_planted_fault_fails_its_check(fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    fault.plant(monkeypatch)
    with pytest.raises(AssertionError, match=fault.message):
        run_unshrunk(fault.check, fixtures_of(fault))


GUARDS = list(dict.fromkeys(f.check for f in FAULTS))
#: The checks a planted fault above fails (tests/test_fault_coverage.py).
GUARDED = set(GUARDS)


@pytest.mark.parametrize("check", GUARDS, ids=[c.__name__.removeprefix("test_") for c in GUARDS])
def test_stock_torch_passes(check: Callable[..., None]) -> None:
    run_unshrunk(check, FIXTURES)
