"""Configs for ``nn.LayerNorm`` and inputs that fit them.

A config is plain data: ``config.kwargs`` is the keyword dict a user would
write, and ``config.build()`` constructs the layer through ``cls(**kwargs)``,
so any implementation with the same constructor contract can be swapped in:
``config.build(MyLayerNorm)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import nn

from strategies._validation import (
    check_drawn,
    check_int,
    check_interval,
    check_optional_bool,
)
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.shapes import DEFAULT_MAX_NUMEL, MAX_DIMS, shapes
from strategies.tensors import tensors

__all__ = ["DEFAULT_EPS", "LayerNormConfig", "layer_norm_configs", "layer_norm_inputs"]

#: ``nn.LayerNorm``'s default ``eps``: what drawn configs shrink toward when in range.
DEFAULT_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class LayerNormConfig:
    """What an ``nn.LayerNorm`` is built from.

    ``normalized_shape`` is an int (one trailing dim) or a tuple of the
    trailing dims, as a user writes it; :attr:`shape` is always the tuple.
    """

    normalized_shape: int | tuple[int, ...]
    eps: float
    elementwise_affine: bool
    bias: bool
    dtype: torch.dtype
    device: str

    @property
    def shape(self) -> tuple[int, ...]:
        """The normalized shape as a tuple: ``3`` -> ``(3,)``."""
        ns = self.normalized_shape
        return (ns,) if isinstance(ns, int) else tuple(ns)

    @property
    def has_weight(self) -> bool:
        return self.elementwise_affine

    @property
    def has_bias(self) -> bool:
        """``bias=True`` registers a bias only with ``elementwise_affine=True``."""
        return self.elementwise_affine and self.bias

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword dict: ``nn.LayerNorm(**config.kwargs)``."""
        return dataclasses.asdict(self)

    def build(self, cls: Any = nn.LayerNorm) -> nn.Module:
        module: nn.Module = cls(**self.kwargs)
        return module

    def __repr__(self) -> str:
        return (
            f"LayerNorm({self.normalized_shape!r}, eps={self.eps!r}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias}, "
            f"dtype={self.dtype}, device={self.device!r})"
        )


def _floating_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if not dt.is_floating_point:
        # LayerNorm normalises by a standard deviation: its parameters and
        # outputs are real floating point.
        raise InvalidArgument(f"dtype={dt} must be a floating dtype for nn.LayerNorm")
    return dt


def _dtype_arg(dtype: Any) -> Any:
    return dtype if isinstance(dtype, st.SearchStrategy) else _floating_dtype(dtype)


def _device_arg(device: Any) -> Any:
    return device if isinstance(device, st.SearchStrategy) else parse_device(device)


def _fixed_or_drawn(draw: st.DrawFn, value: Any, label: str, check: Any) -> Any:
    if isinstance(value, st.SearchStrategy):
        return check_drawn(draw(value, label=label), label, value, check)
    return value


def _check_eps(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}={value!r} must be a float")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidArgument(f"{name}={value!r} must be a finite float >= 0")


_BOOLEANS = st.booleans()
_TRUE_FIRST = st.booleans().map(lambda b: not b)


@st.composite
def _layer_norm_configs(
    draw: st.DrawFn,
    dims: tuple[int, int],
    sides: tuple[int, int],
    eps: st.SearchStrategy[float],
    affine: bool | None,
    bias: bool | None,
    dtype: Any,
    device: Any,
) -> LayerNormConfig:
    ndim = draw(st.integers(*dims), label="normalized ndim")
    shape = tuple(draw(st.integers(*sides)) for _ in range(ndim))
    # Drawn for every ndim (a stable draw sequence); used for one dim only,
    # where the int form is what users write most, so it comes first.
    as_tuple = draw(_BOOLEANS, label="normalized_shape as a tuple")
    normalized: int | tuple[int, ...] = shape[0] if ndim == 1 and not as_tuple else shape
    eps_ = draw(eps, label="eps")
    affine_ = draw(_TRUE_FIRST, label="elementwise_affine")
    bias_ = draw(_TRUE_FIRST, label="bias")
    return LayerNormConfig(
        normalized_shape=normalized,
        eps=eps_,
        elementwise_affine=affine_ if affine is None else affine,
        bias=bias_ if bias is None else bias,
        dtype=_fixed_or_drawn(draw, dtype, "dtype", _floating_dtype),
        device=_fixed_or_drawn(draw, device, "device", parse_device),
    )


def _eps_strategy(min_eps: float, max_eps: float) -> st.SearchStrategy[float]:
    drawn = st.floats(min_eps, max_eps, allow_nan=False, allow_infinity=False)
    if min_eps <= DEFAULT_EPS <= max_eps:
        return st.one_of(st.just(DEFAULT_EPS), drawn)
    return drawn


def layer_norm_configs(
    *,
    min_normalized_dims: int = 1,
    max_normalized_dims: int = 2,
    min_side: int = 1,
    max_side: int = 4,
    min_eps: float = 1e-6,
    max_eps: float = 10.0,
    elementwise_affine: bool | None = None,
    bias: bool | None = None,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.float32,
    device: str | st.SearchStrategy[Any] = "cpu",
) -> st.SearchStrategy[LayerNormConfig]:
    """Configs for ``nn.LayerNorm``: the normalized shape, ``eps``, the affine parameters.

    ``normalized_shape`` has ``min_normalized_dims`` to ``max_normalized_dims``
    sides in [``min_side``, ``max_side``]; with one side it is drawn both as an
    int and as a 1-tuple. Size-1 sides (a zero variance: the output is the
    bias) are in range by default; ``min_side=0`` reaches empty normalized
    shapes. ``eps`` lies in [``min_eps``, ``max_eps``] (LayerNorm's default
    ``1e-5`` half the time when in range; an ``eps`` near the variance is
    where ``sqrt(var + eps)`` and ``sqrt(var) + eps`` differ).
    ``elementwise_affine`` and ``bias`` (torch>=2.1) are drawn when None;
    ``bias`` only registers a parameter with ``elementwise_affine=True``.
    ``dtype`` (floating) and ``device`` are values or strategies, checked as
    drawn. Shrinks toward ``LayerNorm(min_side, eps=1e-5)`` with both
    parameters.

    >>> from strategies import layer_norm_configs
    >>> cfg = layer_norm_configs(max_normalized_dims=1).example()  # doctest: +SKIP
    >>> cfg.kwargs  # doctest: +SKIP
    {'normalized_shape': 3, 'eps': 1e-05, 'elementwise_affine': True, 'bias': True, ...}
    >>> cfg.build()  # doctest: +SKIP
    LayerNorm((3,), eps=1e-05, elementwise_affine=True)
    """
    most = f"{MAX_DIMS}, the most dims a shape may have"
    check_int(
        min_normalized_dims, "min_normalized_dims", min_value=1, max_value=MAX_DIMS, max_reason=most
    )
    check_int(
        max_normalized_dims, "max_normalized_dims", min_value=1, max_value=MAX_DIMS, max_reason=most
    )
    check_interval(
        min_normalized_dims, max_normalized_dims, "min_normalized_dims", "max_normalized_dims"
    )
    check_int(min_side, "min_side", min_value=0)
    check_int(max_side, "max_side", min_value=0)
    check_interval(min_side, max_side, "min_side", "max_side")
    _check_eps(min_eps, "min_eps")
    _check_eps(max_eps, "max_eps")
    check_interval(min_eps, max_eps, "min_eps", "max_eps")
    check_optional_bool(elementwise_affine, "elementwise_affine")
    check_optional_bool(bias, "bias")
    return _layer_norm_configs(
        (min_normalized_dims, max_normalized_dims),
        (min_side, max_side),
        _eps_strategy(float(min_eps), float(max_eps)),
        elementwise_affine,
        bias,
        _dtype_arg(dtype),
        _device_arg(device),
    )


def layer_norm_inputs(
    config: LayerNormConfig,
    *,
    min_batch_dims: int = 0,
    max_batch_dims: int = 2,
    max_side: int = 4,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: Any = "contiguous",
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs of shape ``(*batch, *config.shape)`` for a LayerNorm config.

    No batch dims gives an input of the normalized shape itself; batch sides
    include 0 (an empty batch) and 1. ``layout`` is one of
    :data:`~strategies.LAYOUTS` or a strategy of them (:func:`~strategies.layouts`):
    an ``expanded`` input repeats values, so whole rows can be constant (a
    zero variance). Dtype and device follow the config; values come from
    ``elements`` (default: :func:`~strategies.default_elements`). At most
    ``max_numel`` elements unless the normalized shape alone holds more.
    Shrinks toward an unbatched input of zeros.

    >>> from strategies import layer_norm_configs, layer_norm_inputs
    >>> from hypothesis import given, strategies as st
    >>> @given(st.data())
    ... def test_shape(data):
    ...     cfg = data.draw(layer_norm_configs(), label="cfg")
    ...     x = data.draw(layer_norm_inputs(cfg), label="x")
    ...     assert cfg.build()(x).shape == x.shape
    """
    if not isinstance(config, LayerNormConfig):
        raise InvalidArgument(f"config={config!r} must be a LayerNormConfig")
    normalized = config.shape
    for side in normalized:
        check_int(side, "config.normalized_shape side", min_value=0)
    most = MAX_DIMS - len(normalized)
    why = f"{most}: with the {len(normalized)} normalized dims, {MAX_DIMS} dims at most"
    check_int(min_batch_dims, "min_batch_dims", min_value=0, max_value=most, max_reason=why)
    check_int(max_batch_dims, "max_batch_dims", min_value=0, max_value=most, max_reason=why)
    check_interval(min_batch_dims, max_batch_dims, "min_batch_dims", "max_batch_dims")
    check_int(max_side, "max_side", min_value=0)
    check_int(max_numel, "max_numel", min_value=1)
    dtype = _floating_dtype(config.dtype)
    per_item = max(1, math.prod(normalized))
    batch = shapes(
        min_dims=min_batch_dims,
        max_dims=max_batch_dims,
        max_side=max_side,
        max_numel=max(1, max_numel // per_item),
    )
    return tensors(
        shape=batch.map(lambda b: (*b, *normalized)),
        dtype=dtype,
        device=parse_device(config.device),
        elements=elements,
        requires_grad=requires_grad,
        layout=layout,
    )
