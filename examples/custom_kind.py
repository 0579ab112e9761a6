"""A layer kind of your own, registered with the kit: ``Scale`` multiplies each
feature by its weight and adds a bias, ``y = x * w + b`` over the last dim.

Register it from a ``conftest.py`` (``conformance.layers.register(SCALE)``) or
through the entry point group ``torch_nn_conformance.layers``; then

    pytest --pyargs conformance --target scale=custom_kind:Scale
    conformance.check_layer("scale", Scale)

run every generic check of the registry on it: the float64 reference, the
declared parameters, the inputs it must reject and in-place parameter updates.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from strategies import shapes, tensors


class Scale(nn.Module):
    """The layer under test: one weight and one bias per feature."""

    def __init__(self, features: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(features, device=device, dtype=dtype).uniform_(-1, 1)
        )
        self.bias = (
            nn.Parameter(torch.empty(features, device=device, dtype=dtype).uniform_(-1, 1))
            if bias
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1:] != self.weight.shape:
            raise RuntimeError(
                f"Scale: input has {x.shape[-1:]} features, expected {self.weight.shape}"
            )
        return x * self.weight if self.bias is None else torch.addcmul(self.bias, x, self.weight)


@dataclasses.dataclass(frozen=True)
class ScaleConfig:
    """What a Scale is built from: ``.kwargs`` and ``.build(cls)`` are the contract."""

    features: int
    bias: bool
    dtype: torch.dtype
    device: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def build(self, cls: Any = Scale) -> nn.Module:
        return cls(**self.kwargs)


def configs(dtype: torch.dtype, device: torch.device) -> st.SearchStrategy[ScaleConfig]:
    return st.builds(
        ScaleConfig, st.integers(1, 5), st.booleans(), st.just(dtype), st.just(str(device))
    )


def inputs(config: ScaleConfig, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy:
    batch = shapes(max_dims=2, max_side=3)
    return batch.flatmap(
        lambda b: tensors(shape=(*b, config.features), dtype=dtype, device=device)
    ).map(lambda x: (x,))


def reference(config: ScaleConfig, params: Any, arrays: Any, training: bool) -> Reference:
    """``x * w + b`` in float64; one product and one sum per element."""
    (x,) = arrays
    value, scale = x * params["weight"], np.abs(x * params["weight"])
    if "bias" in params:
        value, scale = value + params["bias"], scale + np.abs(params["bias"])
    return Reference(value, scale, terms=1)


def error_inputs(
    config: ScaleConfig, dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy:
    wrong = st.integers(0, 6).filter(lambda n: n != config.features)
    return wrong.map(
        lambda n: ErrorCase(
            (torch.zeros(2, n, dtype=dtype, device=device),),
            RuntimeError,
            "features",
            f"{n} features instead of {config.features}",
        )
    )


def examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
    """Tried first by every check: a bias, two rows of distinct nonzero values."""
    x = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=dtype, device=device)
    return [Example(ScaleConfig(3, True, dtype, str(device)), (x,), "with a bias")]


SCALE = LayerInfo(
    name="scale",
    implementation=Scale,
    contract="Name(features, bias=..., device=..., dtype=...); .weight, .bias: (features,)",
    configs=configs,
    inputs=inputs,
    reference=reference,
    parameters=lambda c: {"weight": (c.features,), "bias": (c.features,) if c.bias else None},
    contract_configs=lambda device: [
        ScaleConfig(3, b, torch.float32, str(device)) for b in (True, False)
    ],
    error_inputs=error_inputs,
    examples=examples,
)
