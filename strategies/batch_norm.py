"""Configs for ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` and inputs that fit them.

A config is plain data, like the other layer configs: ``config.kwargs`` is the
keyword dict a user would write and ``config.build(cls)`` constructs the layer
through ``cls(**kwargs)`` (default: the ``torch.nn`` class of ``config.kind``).

BatchNorm in training mode needs more than one value per channel
(``N * prod(spatial) > 1``; torch raises "Expected more than 1 value per channel
when training" otherwise), so :func:`batch_norm_inputs` keeps at least
``min_values_per_channel`` (default 2) values per channel while still drawing
size-1 dims: ``(2, C, 1, 1)`` and ``(1, C, 2, 1)`` are both reachable.
"""

from __future__ import annotations

import dataclasses
import functools
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
from strategies.shapes import DEFAULT_MAX_NUMEL, _capped_side, _draw_shape
from strategies.tensors import _check_tensor_args, _default_if_none, _tensors

__all__ = [
    "BATCH_NORM_KINDS",
    "BatchNormConfig",
    "batch_norm_configs",
    "batch_norm_inputs",
]

#: The BatchNorm classes the configs describe, by ``torch.nn`` name.
BATCH_NORM_KINDS: tuple[str, ...] = ("BatchNorm1d", "BatchNorm2d")

# Input ranks each kind accepts: BatchNorm1d (N, C) or (N, C, L); BatchNorm2d
# (N, C, H, W) (torch/nn/modules/batchnorm.py, _check_input_dim).
_RANKS: dict[str, tuple[int, ...]] = {"BatchNorm1d": (2, 3), "BatchNorm2d": (4,)}

#: torch's defaults (torch/nn/modules/batchnorm.py, _NormBase.__init__).
DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.1


@dataclasses.dataclass(frozen=True)
class BatchNormConfig:
    """What an ``nn.BatchNorm1d`` or ``nn.BatchNorm2d`` is built from.

    ``momentum=None`` asks for a cumulative moving average of the batch
    statistics instead of an exponential one.
    """

    kind: str
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    dtype: torch.dtype
    device: str

    def __post_init__(self) -> None:
        # Only the kind: the other fields go to the layer as given, so that a
        # config can probe the layer's own checks.
        check_choices(self.kind, "kind", BATCH_NORM_KINDS)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword dict: ``nn.BatchNorm2d(**config.kwargs)``."""
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "device": self.device,
            "dtype": self.dtype,
        }

    @property
    def module_class(self) -> type[nn.Module]:
        cls: type[nn.Module] = getattr(nn, self.kind)
        return cls

    @property
    def ranks(self) -> tuple[int, ...]:
        """The input ranks the layer takes: (2, 3) for BatchNorm1d, (4,) for BatchNorm2d."""
        return _RANKS[self.kind]

    def build(self, cls: Callable[..., nn.Module] | None = None) -> nn.Module:
        return (cls or self.module_class)(**self.kwargs)

    def __repr__(self) -> str:
        return (
            f"{self.kind}({self.num_features}, eps={self.eps!r}, momentum={self.momentum!r}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}, "
            f"dtype={self.dtype}, device={self.device!r})"
        )


def _check_positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}={value!r} must be a positive float")
    if not (math.isfinite(value) and value > 0):
        # torch raises "batch_norm eps must be positive during training".
        raise InvalidArgument(f"{name}={value!r} must be positive and finite")
    return float(value)


@functools.lru_cache(maxsize=64)  # built once per range, not on every config strategy
def _eps_values(min_eps: float, max_eps: float) -> st.SearchStrategy[float]:
    """eps in [min_eps, max_eps], spread log-uniformly, shrinking toward min_eps."""
    ratio = max_eps / min_eps
    spread = st.floats(0.0, 1.0).map(lambda t: min(max(min_eps * ratio**t, min_eps), max_eps))
    return st.one_of(st.just(min_eps), spread)


@functools.lru_cache(maxsize=64)
def _momentum_values(low: float, high: float) -> st.SearchStrategy[float]:
    """momentum in [low, high], shrinking toward torch's 0.1 where in range, else ``low``."""
    first = DEFAULT_MOMENTUM if low <= DEFAULT_MOMENTUM <= high else low
    return st.one_of(st.just(first), st.floats(low, high))


_BOOLEANS = st.booleans()
_TRUE_FIRST = st.booleans().map(lambda b: not b)


def _floating_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if not dt.is_floating_point:
        raise InvalidArgument(f"dtype={dt} must be a floating dtype for BatchNorm")
    return dt


def _fixed_or_drawn(draw: st.DrawFn, value: Any, label: str, check: Callable[[Any], Any]) -> Any:
    if isinstance(value, st.SearchStrategy):
        return check_drawn(draw(value, label=label), label, value, check)
    return value


@st.composite
def _batch_norm_configs(
    draw: st.DrawFn,
    kinds: tuple[str, ...],
    features: tuple[int, int],
    eps: st.SearchStrategy[float],
    momentum: st.SearchStrategy[float],
    flags: tuple[bool | None, bool | None, bool | None],
    dtype: torch.dtype | st.SearchStrategy[torch.dtype],
    device: str | st.SearchStrategy[Any],
) -> BatchNormConfig:
    cumulative, affine, track = flags
    kind = draw(st.sampled_from(kinds), label="kind")
    num_features = draw(st.integers(*features), label="num_features")
    eps_ = draw(eps, label="eps")
    # Both are drawn whatever they end up being, so the draw sequence is stable.
    drawn_cumulative = draw(_BOOLEANS, label="cumulative")
    momentum_ = draw(momentum, label="momentum")
    is_cumulative = drawn_cumulative if cumulative is None else cumulative
    affine_ = draw(_TRUE_FIRST, label="affine") if affine is None else affine
    track_ = draw(_TRUE_FIRST, label="track_running_stats") if track is None else track
    return BatchNormConfig(
        kind=kind,
        num_features=num_features,
        eps=eps_,
        momentum=None if is_cumulative else momentum_,
        affine=affine_,
        track_running_stats=track_,
        dtype=_fixed_or_drawn(draw, dtype, "dtype", _floating_dtype),
        device=_fixed_or_drawn(draw, device, "device", parse_device),
    )


def batch_norm_configs(
    *,
    kinds: Collection[str] = BATCH_NORM_KINDS,
    min_num_features: int = 1,
    max_num_features: int = 4,
    min_eps: float = DEFAULT_EPS,
    max_eps: float = 0.1,
    min_momentum: float = 0.0,
    max_momentum: float = 1.0,
    cumulative: bool | None = None,
    affine: bool | None = None,
    track_running_stats: bool | None = None,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.float32,
    device: str | st.SearchStrategy[Any] = "cpu",
) -> st.SearchStrategy[BatchNormConfig]:
    """Configs for ``nn.BatchNorm1d`` / ``nn.BatchNorm2d``.

    ``kinds`` is a subset of :data:`BATCH_NORM_KINDS`. ``eps`` is drawn
    log-uniformly from ``[min_eps, max_eps]`` (positive: torch rejects
    ``eps <= 0`` in training), ``momentum`` from ``[min_momentum,
    max_momentum]``; ``cumulative=True`` makes every ``momentum`` None (a
    cumulative moving average), ``False`` none, ``None`` draws it. ``affine``
    and ``track_running_stats`` are drawn when None. ``dtype`` (floating) and
    ``device`` are values or strategies, checked as drawn. Shrinks toward
    ``BatchNorm1d(min_num_features, eps=min_eps, momentum=0.1, affine=True,
    track_running_stats=True)`` (momentum ``min_momentum`` when 0.1 is out of
    range).

    >>> from strategies import batch_norm_configs
    >>> cfg = batch_norm_configs(kinds=["BatchNorm2d"]).example()  # doctest: +SKIP
    >>> cfg.build()  # doctest: +SKIP
    BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    """
    chosen = check_subset(kinds, "kinds", BATCH_NORM_KINDS)
    check_int(min_num_features, "min_num_features", min_value=0)
    check_int(max_num_features, "max_num_features", min_value=0)
    check_interval(min_num_features, max_num_features, "min_num_features", "max_num_features")
    low_eps = _check_positive_float(min_eps, "min_eps")
    high_eps = _check_positive_float(max_eps, "max_eps")
    check_interval(low_eps, high_eps, "min_eps", "max_eps")
    check_probability(min_momentum, "min_momentum")
    check_probability(max_momentum, "max_momentum")
    check_interval(min_momentum, max_momentum, "min_momentum", "max_momentum")
    check_optional_bool(cumulative, "cumulative")
    check_optional_bool(affine, "affine")
    check_optional_bool(track_running_stats, "track_running_stats")
    dtype_ = dtype if isinstance(dtype, st.SearchStrategy) else _floating_dtype(dtype)
    device_ = device if isinstance(device, st.SearchStrategy) else parse_device(device)
    return _batch_norm_configs(
        chosen,
        (min_num_features, max_num_features),
        _eps_values(low_eps, high_eps),
        _momentum_values(float(min_momentum), float(max_momentum)),
        (cumulative, affine, track_running_stats),
        dtype_,
        device_,
    )


@st.composite
def _batch_norm_shapes(
    draw: st.DrawFn,
    ranks: tuple[int, ...],
    channels: int,
    min_values: int,
    max_side: int,
    max_numel: int,
) -> tuple[int, ...]:
    ndim = draw(st.sampled_from(ranks), label="ndim")
    budget = max_numel // max(channels, 1)
    # The spatial sides first, then the batch dim: its lower bound is what the
    # spatial sides leave for min_values values per channel, so as they shrink to 1
    # the batch dim shrinks to min_values (a bound, never a filter).
    min_side = 1 if min_values >= 1 else 0
    spatial = _draw_shape(draw, ndim - 2, min_side, max_side, budget)
    per_item = math.prod(spatial)
    low = -(-min_values // per_item) if per_item else 0
    if low * per_item > budget or low > max_side:
        # Too little room left (a tight max_numel): one value per spatial position.
        spatial, per_item, low = (1,) * (ndim - 2), 1, min_values
    batch = _capped_side(draw, low, max_side, budget // max(per_item, 1))
    return (batch, channels, *spatial)


def batch_norm_inputs(
    config: BatchNormConfig,
    *,
    min_values_per_channel: int = 2,
    max_side: int = 4,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: Any = "contiguous",
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs ``(N, C)`` / ``(N, C, L)`` for BatchNorm1d, ``(N, C, H, W)`` for BatchNorm2d.

    ``C`` is ``config.num_features``; dtype and device follow the config. Every
    input has at least ``min_values_per_channel`` values per channel (``N`` times
    the spatial sides): the default 2 is what training needs, 1 also admits the
    inputs training rejects (still fine in eval with running statistics), 0 also
    empty batches. Sides are at most ``max_side`` and include 1, and an input
    has at most ``max_numel`` elements. ``layout`` (one of
    :data:`~strategies.LAYOUTS` or a strategy of them) gives non-contiguous
    inputs; an ``expanded`` one repeats values, so a channel may have zero
    variance. Sides shrink toward 1 (the batch dim then holds the
    ``min_values_per_channel`` values: ``(2, C)``, ``(2, C, 1, 1)``) and values
    toward 0. As with :func:`~strategies.tensors`, a tensor of more than
    :data:`~strategies.SEEDED_FILL_MIN_NUMEL` elements draws its values from one
    seed, which Hypothesis counts as simpler than a few values drawn one by
    one: pass ``max_numel=SEEDED_FILL_MIN_NUMEL`` for failures that shrink to
    the fewest values.

    >>> from strategies import batch_norm_configs, batch_norm_inputs
    >>> from hypothesis import given, strategies as st
    >>> @given(st.data())
    ... def test_shape(data):
    ...     cfg = data.draw(batch_norm_configs(), label="cfg")
    ...     x = data.draw(batch_norm_inputs(cfg), label="x")
    ...     assert cfg.build()(x).shape == x.shape
    """
    if not isinstance(config, BatchNormConfig):
        raise InvalidArgument(f"config={config!r} must be a BatchNormConfig")
    check_int(config.num_features, "config.num_features", min_value=0)
    check_int(min_values_per_channel, "min_values_per_channel", min_value=0)
    check_int(max_side, "max_side", min_value=0)
    check_int(max_numel, "max_numel", min_value=1)
    if min_values_per_channel > max_side:
        raise InvalidArgument(
            f"min_values_per_channel={min_values_per_channel} is larger than "
            f"max_side={max_side}: the batch dim alone must be able to hold them"
        )
    if max(config.num_features, 1) * min_values_per_channel > max_numel:
        raise InvalidArgument(
            f"max_numel={max_numel} is too small for {config.num_features} channels of "
            f"min_values_per_channel={min_values_per_channel} values"
        )
    dt, dev = _check_tensor_args(config.dtype, config.device, requires_grad, layout)
    if not dt.is_floating_point:
        raise InvalidArgument(f"config.dtype={dt} must be a floating dtype for BatchNorm")
    shape = _batch_norm_shapes(
        config.ranks, config.num_features, min_values_per_channel, max_side, max_numel
    )
    return _tensors(shape, dt, dev, _default_if_none(elements, dt), requires_grad, layout)
