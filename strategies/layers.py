"""Configs for single layers (Linear, the Dropout family) and inputs that fit them.

A config is plain data: ``config.kwargs`` is the keyword dict a user would
write, and ``config.build()`` constructs the layer through ``cls(**kwargs)``.
The class can be swapped for any implementation that follows the same
constructor contract, e.g. ``config.build(MyLinear)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import nn

from strategies._validation import (
    check_choices,
    check_drawn,
    check_int,
    check_interval,
    check_optional_bool,
    check_probability,
    check_subset,
)
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.shapes import DEFAULT_MAX_NUMEL, MAX_DIMS, _draw_shape, shapes
from strategies.tensors import _check_tensor_args, _default_if_none, _tensors

__all__ = [
    "DROPOUT_KINDS",
    "DropoutConfig",
    "LinearConfig",
    "dropout_configs",
    "dropout_inputs",
    "linear_configs",
    "linear_inputs",
]


def _fixed_or_drawn(draw: st.DrawFn, value: Any, label: str, check: Callable[[Any], Any]) -> Any:
    """``value``, or what it draws when it is a strategy, ``check``-ed at
    draw time (a fixed value was checked when the strategy was built)."""
    if isinstance(value, st.SearchStrategy):
        return check_drawn(draw(value, label=label), label, value, check)
    return value


@dataclasses.dataclass(frozen=True)
class LinearConfig:
    """What an ``nn.Linear`` is built from."""

    in_features: int
    out_features: int
    bias: bool
    dtype: torch.dtype
    device: str

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword dict: ``nn.Linear(**config.kwargs)``."""
        return dataclasses.asdict(self)

    def build(self, cls: Callable[..., nn.Module] = nn.Linear) -> nn.Module:
        return cls(**self.kwargs)

    def __repr__(self) -> str:
        return (
            f"Linear({self.in_features}, {self.out_features}, bias={self.bias}, "
            f"dtype={self.dtype}, device={self.device!r})"
        )


@st.composite
def _linear_configs(
    draw: st.DrawFn,
    features: tuple[int, int, int, int],
    bias: bool | None,
    dtype: torch.dtype | st.SearchStrategy[torch.dtype],
    device: str | st.SearchStrategy[Any],
) -> LinearConfig:
    min_in, max_in, min_out, max_out = features
    in_features = draw(st.integers(min_in, max_in), label="in_features")
    out_features = draw(st.integers(min_out, max_out), label="out_features")
    # Shrinks toward bias=True, the default a user writes least explicitly.
    has_bias = draw(st.booleans().map(lambda b: not b), label="bias") if bias is None else bias
    return LinearConfig(
        in_features=in_features,
        out_features=out_features,
        bias=has_bias,
        dtype=_fixed_or_drawn(draw, dtype, "dtype", _linear_dtype),
        device=_fixed_or_drawn(draw, device, "device", parse_device),
    )


def _linear_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        # nn.Linear's parameters require gradients: torch refuses to build one.
        raise InvalidArgument(f"dtype={dt} must be a floating or complex dtype for nn.Linear")
    return dt


def _check_dtype_arg(dtype: Any) -> Any:
    return dtype if isinstance(dtype, st.SearchStrategy) else _linear_dtype(dtype)


def _check_device_arg(device: Any) -> Any:
    return device if isinstance(device, st.SearchStrategy) else parse_device(device)


def linear_configs(
    *,
    min_in_features: int = 1,
    max_in_features: int = 8,
    min_out_features: int = 1,
    max_out_features: int = 8,
    bias: bool | None = None,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.float32,
    device: str | st.SearchStrategy[Any] = "cpu",
) -> st.SearchStrategy[LinearConfig]:
    """Configs for ``nn.Linear``: feature counts, bias, dtype and device.

    ``bias=None`` draws it. ``dtype`` (floating or complex) and ``device`` are
    values or strategies (e.g. :func:`~strategies.dtypes`,
    :func:`~strategies.devices`), whose values are checked as drawn. Pass
    ``min_in_features=0`` / ``min_out_features=0`` to reach zero features
    (PyTorch warns that initialising zero-element tensors is a no-op).
    Shrinks toward ``Linear(min_in, min_out, bias=True)``.

    >>> from strategies import linear_configs
    >>> cfg = linear_configs(max_in_features=4).example()  # doctest: +SKIP
    >>> cfg.kwargs  # doctest: +SKIP
    {'in_features': 3, 'out_features': 1, 'bias': True, 'dtype': torch.float32, 'device': 'cpu'}
    >>> cfg.build()  # doctest: +SKIP
    Linear(in_features=3, out_features=1, bias=True)
    """
    for name, value in [
        ("min_in_features", min_in_features),
        ("max_in_features", max_in_features),
        ("min_out_features", min_out_features),
        ("max_out_features", max_out_features),
    ]:
        check_int(value, name, min_value=0)
    check_interval(min_in_features, max_in_features, "min_in_features", "max_in_features")
    check_interval(min_out_features, max_out_features, "min_out_features", "max_out_features")
    check_optional_bool(bias, "bias")
    return _linear_configs(
        (min_in_features, max_in_features, min_out_features, max_out_features),
        bias,
        _check_dtype_arg(dtype),
        _check_device_arg(device),
    )


@st.composite
def _batched_inputs(
    draw: st.DrawFn,
    feature_shape: tuple[int, ...],
    batch_dims: tuple[int, int],
    max_side: int,
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: Any,
    max_numel: int,
) -> torch.Tensor:
    ndim = draw(st.integers(*batch_dims), label="batch ndim")
    per_item = max(1, math.prod(feature_shape))
    batch = _draw_shape(draw, ndim, 0, max_side, max(max_numel // per_item, 1))
    return draw(
        _tensors(
            (*batch, *feature_shape),
            dtype,
            device,
            elements,
            requires_grad,
            layout,
        ),
        label="input",
    )


def _check_input_args(
    min_batch_dims: int, max_batch_dims: int, max_side: int, max_numel: int
) -> None:
    # The feature dim comes on top of the batch dims.
    most, why = MAX_DIMS - 1, f"{MAX_DIMS - 1}: with the feature dim, {MAX_DIMS} dims at most"
    check_int(min_batch_dims, "min_batch_dims", min_value=0, max_value=most, max_reason=why)
    check_int(max_batch_dims, "max_batch_dims", min_value=0, max_value=most, max_reason=why)
    check_interval(min_batch_dims, max_batch_dims, "min_batch_dims", "max_batch_dims")
    check_int(max_side, "max_side", min_value=0)
    check_int(max_numel, "max_numel", min_value=1)


def linear_inputs(
    config: LinearConfig,
    *,
    min_batch_dims: int = 0,
    max_batch_dims: int = 3,
    max_side: int = 4,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: Any = "contiguous",
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs of shape ``(*batch, config.in_features)`` for a Linear config.

    No batch dims gives a 1-D input; batch sides include 0 (an empty batch).
    Dtype and device follow the config. Shrinks toward a 1-D input of zeros.

    >>> from strategies import linear_configs, linear_inputs
    >>> from hypothesis import given, strategies as st
    >>> @given(st.data())
    ... def test_shape(data):
    ...     cfg = data.draw(linear_configs(), label="cfg")
    ...     x = data.draw(linear_inputs(cfg), label="x")
    ...     assert cfg.build()(x).shape == (*x.shape[:-1], cfg.out_features)
    """
    if not isinstance(config, LinearConfig):
        raise InvalidArgument(f"config={config!r} must be a LinearConfig")
    # A config is plain data, built by hand too: its in_features becomes a side.
    check_int(config.in_features, "config.in_features", min_value=0)
    _check_input_args(min_batch_dims, max_batch_dims, max_side, max_numel)
    dt, dev = _check_tensor_args(config.dtype, config.device, requires_grad, layout)
    return _batched_inputs(
        (config.in_features,),
        (min_batch_dims, max_batch_dims),
        max_side,
        dt,
        dev,
        _default_if_none(elements, dt),
        requires_grad,
        layout,
        max_numel,
    )


@dataclasses.dataclass(frozen=True)
class _DropoutKind:
    ranks: tuple[int, ...]  # input ranks accepted without a warning
    # The dim whose entries are dropped together, negative when counted from
    # the end (the layer also takes unbatched inputs); None: elementwise.
    channels: int | None
    alpha: bool  # keeps mean and variance instead of rescaling by 1/(1-p)
    honours_inplace: bool


_DROPOUT_KINDS: dict[str, _DropoutKind] = {
    "Dropout": _DropoutKind((0, 1, 2, 3, 4), None, alpha=False, honours_inplace=True),
    # (C, L) or (N, C, L); other ranks raise.
    "Dropout1d": _DropoutKind((2, 3), -2, alpha=False, honours_inplace=True),
    # (N, C, H, W); a 3-D input warns and is read as (N, C, L).
    "Dropout2d": _DropoutKind((4,), -3, alpha=False, honours_inplace=True),
    # (C, D, H, W) or (N, C, D, H, W).
    "Dropout3d": _DropoutKind((4, 5), -4, alpha=False, honours_inplace=True),
    "AlphaDropout": _DropoutKind((0, 1, 2, 3, 4), None, alpha=True, honours_inplace=False),
    # Always (N, C, *).
    "FeatureAlphaDropout": _DropoutKind((2, 3, 4, 5), 1, alpha=True, honours_inplace=False),
}
DROPOUT_KINDS: tuple[str, ...] = tuple(_DROPOUT_KINDS)


@dataclasses.dataclass(frozen=True)
class DropoutConfig:
    """What a dropout layer of the ``torch.nn`` family is built from."""

    kind: str
    p: float
    inplace: bool

    def __post_init__(self) -> None:
        # Only the kind: every property looks it up. p and inplace go to the
        # layer as given, so that configs can probe the layer's own checks
        # (p=1.5 must raise ValueError from the constructor).
        check_choices(self.kind, "kind", DROPOUT_KINDS)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"p": self.p, "inplace": self.inplace}

    @property
    def module_class(self) -> type[nn.Module]:
        cls: type[nn.Module] = getattr(nn, self.kind)
        return cls

    @property
    def ranks(self) -> tuple[int, ...]:
        """Input ranks the layer takes without warning."""
        return _DROPOUT_KINDS[self.kind].ranks

    @property
    def channel_dim(self) -> int | None:
        """The dim of whole-channel drops for inputs of the lowest rank.

        None for elementwise dropout; :meth:`channel_dim_for` gives it for
        any accepted rank.
        """
        return self.channel_dim_for(min(self.ranks))

    def channel_dim_for(self, ndim: int) -> int | None:
        """The dim whose entries are zeroed together in an input of rank ``ndim``.

        None for elementwise dropout. Layers that also take unbatched inputs
        count it from the end: ``Dropout1d`` drops along dim 0 of ``(C, L)``
        and dim 1 of ``(N, C, L)``; ``FeatureAlphaDropout`` always reads
        ``(N, C, *)``.
        """
        if ndim not in self.ranks:
            raise InvalidArgument(
                f"ndim={ndim!r} is not a rank {self.kind} takes without warning: "
                f"{', '.join(map(str, self.ranks))}"
            )
        channels = _DROPOUT_KINDS[self.kind].channels
        if channels is None:
            return None
        return channels + ndim if channels < 0 else channels

    @property
    def alpha(self) -> bool:
        return _DROPOUT_KINDS[self.kind].alpha

    @property
    def honours_inplace(self) -> bool:
        return _DROPOUT_KINDS[self.kind].honours_inplace

    def build(self, cls: Callable[..., nn.Module] | None = None) -> nn.Module:
        return (cls or self.module_class)(**self.kwargs)

    def __repr__(self) -> str:
        return f"{self.kind}(p={self.p!r}, inplace={self.inplace})"


def _probabilities(min_p: float, max_p: float) -> st.SearchStrategy[float]:
    """p in [min_p, max_p], shrinking toward min_p; 0 and 1 drawn often when in range.

    Drawn as an offset from ``min_p``: plain ``floats(min_p, max_p)`` shrinks
    toward the simplest float in range (1.0 or 0.5). Both ends are edge cases
    (identity, all zeros), so half the draws snap to the nearest one; every
    draw makes the same choices, so a snap is never "simpler" than ``min_p``.
    """
    ends = [p for p in (min_p, max_p) if p in (0.0, 1.0)]
    offsets = st.floats(0.0, max_p - min_p, allow_nan=False, allow_subnormal=False)

    def probability(snap_and_offset: tuple[bool, float]) -> float:
        snap, offset = snap_and_offset
        p = min(min_p + offset, max_p)
        return min(ends, key=lambda end: abs(end - p)) if snap and ends else p

    return st.tuples(st.booleans(), offsets).map(probability)


@st.composite
def _dropout_configs(
    draw: st.DrawFn,
    kinds: tuple[str, ...],
    probabilities: st.SearchStrategy[float],
    inplace: bool | None,
) -> DropoutConfig:
    kind = draw(st.sampled_from(kinds), label="kind")
    p = draw(probabilities, label="p")
    inplace_ = draw(st.booleans(), label="inplace") if inplace is None else inplace
    return DropoutConfig(kind=kind, p=p, inplace=inplace_)


def dropout_configs(
    *,
    kinds: Collection[str] = DROPOUT_KINDS,
    min_p: float = 0.0,
    max_p: float = 1.0,
    inplace: bool | None = None,
) -> st.SearchStrategy[DropoutConfig]:
    """Configs for the dropout family: kind, ``p`` and ``inplace``.

    ``kinds`` is a subset of :data:`DROPOUT_KINDS`. ``p=0`` and ``p=1`` are
    drawn often when in range. ``inplace=None`` draws it. Shrinks toward
    ``Dropout(p=min_p, inplace=False)``.

    >>> from strategies import dropout_configs
    >>> dropout_configs(kinds=["Dropout2d"]).example()  # doctest: +SKIP
    Dropout2d(p=0.5, inplace=True)
    """
    chosen = check_subset(kinds, "kinds", DROPOUT_KINDS)
    check_probability(min_p, "min_p")
    check_probability(max_p, "max_p")
    check_interval(min_p, max_p, "min_p", "max_p")
    check_optional_bool(inplace, "inplace")
    return _dropout_configs(chosen, _probabilities(float(min_p), float(max_p)), inplace)


def dropout_inputs(
    config: DropoutConfig,
    *,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    max_side: int = 6,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: Any = "contiguous",
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs of a rank the config's layer accepts without warning.

    Sides include 0 (empty inputs). Shrinks toward the lowest such rank.

    >>> from strategies import dropout_configs, dropout_inputs
    >>> cfg = dropout_configs(kinds=["Dropout1d"]).example()  # doctest: +SKIP
    >>> dropout_inputs(cfg).example().ndim in (2, 3)  # doctest: +SKIP
    True
    """
    if not isinstance(config, DropoutConfig):
        raise InvalidArgument(f"config={config!r} must be a DropoutConfig")
    dt, dev = _check_tensor_args(dtype, device, requires_grad, layout)
    if not dt.is_floating_point:
        raise InvalidArgument(f"dtype={dt} must be floating: dropout rescales its input")
    check_int(max_side, "max_side", min_value=0)
    check_int(max_numel, "max_numel", min_value=1)
    elements_ = _default_if_none(elements, dt)
    # One shape strategy per rank, built once (not on every draw).
    by_rank = {
        r: shapes(min_dims=r, max_dims=r, max_side=max_side, max_numel=max_numel)
        for r in config.ranks
    }
    shape = st.sampled_from(config.ranks).flatmap(by_rank.__getitem__)
    return _tensors(shape, dt, dev, elements_, requires_grad, layout)
