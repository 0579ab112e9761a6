"""Proof of power for the generic checks over the layer registry
(``conformance/test_registered_layers.py``): each planted fault fails the
check that guards it, and the kind's own implementation passes.

Faults are implementations of the ``linear`` kind (the registry's entry, with
its reference and error inputs) handed to the check as its ``layer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from planting import run_unshrunk
from torch import nn

from conformance import layers
from conformance import test_registered_layers as suite
from conformance.layers import LayerUnderTest

CPU = torch.device("cpu")
LINEAR = layers.get("linear")
DROPOUT = layers.get("dropout")


class DropsBias(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class BiasAsBuffer(nn.Linear):
    """Registers a zero bias buffer when built without a bias: ``bias`` is not None."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.bias is None:
            del self.bias
            self.register_buffer("bias", torch.zeros(self.out_features, **_factory(self.weight)))


def _factory(t: torch.Tensor) -> dict[str, Any]:
    return {"device": t.device, "dtype": t.dtype}


class PadsShortInputs(nn.Linear):
    """Zero-pads or truncates an input with the wrong number of features instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim > 0 and x.shape[-1] != self.in_features:
            fixed = x.new_zeros((*x.shape[:-1], self.in_features))
            n = min(x.shape[-1], self.in_features)
            fixed[..., :n] = x[..., :n]
            x = fixed
        return super().forward(x)


class CachesWeightOnFirstCall(nn.Linear):
    """Keeps the transposed weight it saw first (an inference-layer optimisation),
    and misses every later in-place update."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not hasattr(self, "_cached"):
            self._cached = self.weight.detach().t().clone()
        out = x @ self._cached
        return out if self.bias is None else out + self.bias


class DropsInEval(nn.Dropout):
    """Keeps dropping after ``eval()``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, True, self.inplace)


FIXTURES = {"device": CPU, "dtype": torch.float32}


def _case(
    check: Callable[..., None], info: layers.LayerInfo, impl: Any, caught: bool, match: str = ""
) -> Any:
    name = f"{check.__name__.removeprefix('test_')}-{info.name}-{impl.__name__}"
    return pytest.param(check, LayerUnderTest(info, impl), caught, match, id=name)


CASES = [
    _case(suite.test_layer_matches_reference, LINEAR, nn.Linear, False),
    _case(suite.test_layer_matches_reference, LINEAR, DropsBias, True, "but should be"),
    _case(suite.test_layer_matches_reference, DROPOUT, nn.Dropout, False),
    _case(suite.test_layer_matches_reference, DROPOUT, DropsInEval, True, "training=False"),
    _case(suite.test_layer_has_declared_parameters, LINEAR, nn.Linear, False),
    _case(suite.test_layer_has_declared_parameters, LINEAR, BiasAsBuffer, True, "should be None"),
    _case(suite.test_layer_rejects_error_inputs, LINEAR, nn.Linear, False),
    _case(suite.test_layer_rejects_error_inputs, LINEAR, PadsShortInputs, True, "raise"),
    _case(suite.test_layer_sees_in_place_parameter_updates, LINEAR, nn.Linear, False),
    _case(
        suite.test_layer_sees_in_place_parameter_updates,
        LINEAR,
        CachesWeightOnFirstCall,
        True,
        "after the update",
    ),
    # Why the update check exists: the cache is right until the weight changes.
    _case(suite.test_layer_matches_reference, LINEAR, CachesWeightOnFirstCall, False),
]

GUARDED = {case.values[0] for case in CASES if case.values[2]}


@pytest.mark.parametrize(("check", "layer", "caught", "match"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], layer: LayerUnderTest, caught: bool, match: str
) -> None:
    fixtures = {**FIXTURES, "layer": layer}
    if caught:
        with pytest.raises(AssertionError) as failure:
            run_unshrunk(check, fixtures)
        assert match in str(failure.value), str(failure.value)
    else:
        run_unshrunk(check, fixtures)
