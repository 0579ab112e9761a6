"""Small nested models, described by configs, with dropout at several depths.

Three architectures, each a stack of ``depth`` blocks held in a container
(``nn.Sequential``, ``nn.ModuleList`` or ``nn.ModuleDict``), each block
itself a container, so dropout sits two or three modules deep:

- ``stack``: blocks of ``Linear -> ReLU [-> Dropout]``, then a Linear head;
- ``gated``: blocks of :class:`Gated` (``sigmoid(Wx) * Wx``) ``[-> Dropout]``;
- ``two_branch``: a stack trunk feeding two heads, returning a tuple; the
  second head starts with a Dropout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import nn

from strategies._validation import (
    check_choices,
    check_int,
    check_interval,
    check_probability,
    check_subset,
)
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype

__all__ = [
    "CONTAINERS",
    "MODEL_KINDS",
    "DictStack",
    "Gated",
    "ListStack",
    "ModelConfig",
    "TwoBranch",
    "build_model",
    "model_configs",
]

MODEL_KINDS: tuple[str, ...] = ("stack", "gated", "two_branch")
CONTAINERS: tuple[str, ...] = ("sequential", "modulelist", "moduledict")

#: The most blocks a drawn model may have (``max_depth`` above it is
#: rejected): deeper stacks test nothing new and cost a draw per block.
MAX_DEPTH = 64


class Gated(nn.Module):
    """``sigmoid(Wx + b) * (Wx + b)``: one Linear whose output gates itself."""

    def __init__(self, in_features: int, out_features: int, **factory: Any) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, out_features, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x)
        return torch.sigmoid(h) * h


class ListStack(nn.Module):
    """Applies the modules of an ``nn.ModuleList`` in order."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class DictStack(nn.Module):
    """Applies the modules of an ``nn.ModuleDict`` in insertion order."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.ModuleDict({f"layer{i}": m for i, m in enumerate(layers)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers.values():
            x = layer(x)
        return x


class TwoBranch(nn.Module):
    """One trunk, two heads: ``forward`` returns ``(head_a(h), head_b(h))``."""

    def __init__(self, trunk: nn.Module, head_a: nn.Module, head_b: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.head_a = head_a
        self.head_b = head_b

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.head_a(h), self.head_b(h)


_CONTAINER_CLASSES: dict[str, Any] = {
    "sequential": nn.Sequential,
    "modulelist": ListStack,
    "moduledict": DictStack,
}


def build_model(
    *,
    kind: str,
    outer: str,
    inner: str,
    in_features: int,
    hidden_features: int,
    out_features: int,
    dropout_blocks: tuple[bool, ...],
    p: float,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
) -> nn.Module:
    """Build a model from keyword data (what :attr:`ModelConfig.kwargs` holds).

    ``p`` goes to ``nn.Dropout`` as given (its own check rejects p outside
    [0, 1]); ``dtype`` must be floating or complex, as nn.Linear's is.
    """
    check_choices(kind, "kind", MODEL_KINDS)
    check_choices(outer, "outer", CONTAINERS)
    check_choices(inner, "inner", CONTAINERS)
    for name, value in [
        ("in_features", in_features),
        ("hidden_features", hidden_features),
        ("out_features", out_features),
    ]:
        check_int(value, name, min_value=0)
    if not isinstance(dropout_blocks, (tuple, list)) or not all(
        isinstance(b, bool) for b in dropout_blocks
    ):
        raise InvalidArgument(f"dropout_blocks={dropout_blocks!r} must be a tuple of bools")
    if dtype is not None:
        dtype = resolve_dtype(dtype)
        if not (dtype.is_floating_point or dtype.is_complex):
            raise InvalidArgument(
                f"dtype={dtype} must be a floating or complex dtype for nn.Linear"
            )
    if device is not None:
        device = parse_device(device)
    factory: dict[str, Any] = {"dtype": dtype, "device": device}
    outer_cls, inner_cls = _CONTAINER_CLASSES[outer], _CONTAINER_CLASSES[inner]
    blocks = []
    width = in_features
    for has_dropout in dropout_blocks:
        core: list[nn.Module] = (
            [Gated(width, hidden_features, **factory)]
            if kind == "gated"
            else [nn.Linear(width, hidden_features, **factory), nn.ReLU()]
        )
        blocks.append(inner_cls(*core, *([nn.Dropout(p)] if has_dropout else [])))
        width = hidden_features
    if kind == "two_branch":
        trunk = outer_cls(*blocks)
        head_a = nn.Linear(width, out_features, **factory)
        head_b = inner_cls(nn.Dropout(p), nn.Linear(width, out_features, **factory))
        return TwoBranch(trunk, head_a, head_b)
    model: nn.Module = outer_cls(*blocks, nn.Linear(width, out_features, **factory))
    return model


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A small nested model, as data. ``build()`` calls :func:`build_model`."""

    kind: str
    outer: str
    inner: str
    in_features: int
    hidden_features: int
    out_features: int
    dropout_blocks: tuple[bool, ...]
    p: float

    @property
    def depth(self) -> int:
        return len(self.dropout_blocks)

    @property
    def num_dropout(self) -> int:
        """How many ``nn.Dropout`` modules the built model holds."""
        return sum(self.dropout_blocks) + (self.kind == "two_branch")

    @property
    def kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def build(
        self, *, dtype: torch.dtype | str | None = None, device: str | torch.device | None = None
    ) -> nn.Module:
        return build_model(**self.kwargs, dtype=dtype, device=device)


@st.composite
def _model_configs(
    draw: st.DrawFn,
    kinds: tuple[str, ...],
    containers: tuple[str, ...],
    depth: tuple[int, int],
    max_features: int,
    p: st.SearchStrategy[float],
) -> ModelConfig:
    kind = draw(st.sampled_from(kinds), label="kind")
    outer = draw(st.sampled_from(containers), label="outer")
    inner = draw(st.sampled_from(containers), label="inner")
    n_blocks = draw(st.integers(*depth), label="depth")
    features = st.integers(1, max_features)
    return ModelConfig(
        kind=kind,
        outer=outer,
        inner=inner,
        in_features=draw(features, label="in_features"),
        hidden_features=draw(features, label="hidden_features"),
        out_features=draw(features, label="out_features"),
        dropout_blocks=tuple(
            draw(st.lists(st.booleans(), min_size=n_blocks, max_size=n_blocks), label="dropout")
        ),
        p=draw(p, label="p"),
    )


def model_configs(
    *,
    kinds: Collection[str] = MODEL_KINDS,
    containers: Collection[str] = CONTAINERS,
    min_depth: int = 1,
    max_depth: int = 3,
    max_features: int = 6,
    min_p: float = 0.0,
    max_p: float = 1.0,
) -> st.SearchStrategy[ModelConfig]:
    """Configs for small nested models (see the module docstring).

    ``kinds`` is a subset of :data:`MODEL_KINDS`, ``containers`` of
    :data:`CONTAINERS`; depth counts blocks, at most :data:`MAX_DEPTH`.
    Shrinks toward a one-block ``stack`` in ``nn.Sequential`` with no
    dropout in the block.

    >>> from strategies import model_configs
    >>> cfg = model_configs(kinds=["two_branch"]).example()  # doctest: +SKIP
    >>> out_a, out_b = cfg.build()(torch.zeros(cfg.in_features))  # doctest: +SKIP
    """
    chosen_kinds = check_subset(kinds, "kinds", MODEL_KINDS)
    chosen_containers = check_subset(containers, "containers", CONTAINERS)
    deepest = f"{MAX_DEPTH}, the most blocks a drawn model may have"
    check_int(min_depth, "min_depth", min_value=1, max_value=MAX_DEPTH, max_reason=deepest)
    check_int(max_depth, "max_depth", min_value=1, max_value=MAX_DEPTH, max_reason=deepest)
    check_interval(min_depth, max_depth, "min_depth", "max_depth")
    check_int(max_features, "max_features", min_value=1)
    check_probability(min_p, "min_p")
    check_probability(max_p, "max_p")
    check_interval(min_p, max_p, "min_p", "max_p")
    p = st.floats(float(min_p), float(max_p), allow_nan=False, allow_subnormal=False)
    return _model_configs(chosen_kinds, chosen_containers, (min_depth, max_depth), max_features, p)
