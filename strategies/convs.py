"""Configs for ``nn.Conv1d`` / ``nn.Conv2d`` and inputs that fit them.

A config is plain data, as for the other layers: ``config.kwargs`` is the
keyword dict a user would write (ints where a user writes an int, tuples
where a tuple, ``"same"``/``"valid"`` strings), and ``config.build(cls)``
constructs the layer through ``cls(**kwargs)``; ``cls`` can be any
implementation with ``nn.Conv1d``'s (or ``Conv2d``'s) constructor contract.

Sizes stay tiny by default (channels up to 4, kernels up to 3, spatial
sides up to 6): a convolution's cost grows with every one of them, and the
edge cases (size 1, an empty batch, stride past the end, padding as wide as
the input) are all reachable at these sizes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import nn

from strategies._validation import (
    check_bool,
    check_choices,
    check_int,
    check_interval,
    check_optional_bool,
    check_subset,
)
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.tensors import _check_tensor_args, _default_if_none, _tensors

__all__ = [
    "CONV_NDIMS",
    "PADDING_FORMS",
    "PADDING_MODES",
    "ConvConfig",
    "conv_configs",
    "conv_inputs",
]

#: The convolutions these strategies describe: ``nn.Conv1d`` and ``nn.Conv2d``.
CONV_NDIMS: tuple[int, ...] = (1, 2)

#: How ``padding`` is written: one int for every dim, a tuple of ints, or one of
#: the strings ``"valid"`` (no padding) and ``"same"`` (output as long as the
#: input; stride 1 only). Drawn configs shrink toward the first.
PADDING_FORMS: tuple[str, ...] = ("int", "tuple", "valid", "same")

#: ``padding_mode`` values ``nn.Conv1d``/``Conv2d`` accept, in shrink order.
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")

IntOrTuple = int | tuple[int, ...]


def _expand(value: Any, ndim: int) -> tuple[int, ...]:
    """An int as ``(v,) * ndim``; a tuple as it is (as ``_single``/``_pair`` do)."""
    return (value,) * ndim if isinstance(value, int) else tuple(value)


@dataclasses.dataclass(frozen=True)
class ConvConfig:
    """What an ``nn.Conv1d`` (``ndim=1``) or ``nn.Conv2d`` (``ndim=2``) is built from.

    Fields are the constructor's arguments as a user writes them; the
    properties read them per spatial dim. Nothing is checked on
    construction, so a config can probe the layer's own checks
    (``groups`` that do not divide ``in_channels`` must raise ``ValueError``).
    """

    ndim: int
    in_channels: int
    out_channels: int
    kernel_size: IntOrTuple
    stride: IntOrTuple = 1
    padding: IntOrTuple | str = 0
    dilation: IntOrTuple = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    dtype: torch.dtype = torch.float32
    device: str = "cpu"

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword dict: ``nn.Conv2d(**config.kwargs)`` (everything but ``ndim``)."""
        fields = dataclasses.asdict(self)
        del fields["ndim"]
        return fields

    @property
    def module_class(self) -> type[nn.Module]:
        """``nn.Conv1d`` or ``nn.Conv2d``."""
        return nn.Conv1d if self.ndim == 1 else nn.Conv2d

    def build(self, cls: Callable[..., nn.Module] | None = None) -> nn.Module:
        """``cls(**self.kwargs)``, ``cls`` defaulting to :attr:`module_class`."""
        return (cls or self.module_class)(**self.kwargs)

    @property
    def kernel(self) -> tuple[int, ...]:
        """``kernel_size`` per spatial dim."""
        return _expand(self.kernel_size, self.ndim)

    @property
    def strides(self) -> tuple[int, ...]:
        """``stride`` per spatial dim."""
        return _expand(self.stride, self.ndim)

    @property
    def dilations(self) -> tuple[int, ...]:
        """``dilation`` per spatial dim."""
        return _expand(self.dilation, self.ndim)

    @property
    def padding_pairs(self) -> tuple[tuple[int, int], ...]:
        """``(left, right)`` padding per spatial dim.

        ``"valid"`` is none; ``"same"`` pads ``dilation * (kernel - 1)`` in all,
        ``total // 2`` on the left and the rest on the right (as
        ``torch.nn.modules.conv._ConvNd`` does).
        """
        if self.padding == "valid":
            return ((0, 0),) * self.ndim
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel, self.dilations, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        return tuple((p, p) for p in _expand(self.padding, self.ndim))

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``(out_channels, in_channels // groups, *kernel)``."""
        return (self.out_channels, self.in_channels // self.groups, *self.kernel)

    @property
    def min_input_size(self) -> tuple[int, ...]:
        """The smallest spatial side per dim that the layer accepts.

        The padded side must hold the dilated kernel (an output of at least 1);
        PyTorch rejects empty sides (even with zero padding around them);
        ``"reflect"`` needs each pad smaller than the side, ``"circular"`` at
        most the side (it wraps around once).
        """
        sides = []
        for k, d, (left, right) in zip(
            self.kernel, self.dilations, self.padding_pairs, strict=True
        ):
            side = max(1, d * (k - 1) + 1 - left - right)
            if self.padding_mode == "reflect":
                side = max(side, left + 1, right + 1)
            elif self.padding_mode == "circular":
                side = max(side, left, right)
            sides.append(side)
        return tuple(sides)

    def output_size(self, input_size: Sequence[int]) -> tuple[int, ...]:
        """The output's spatial sides for an input's (the documented formula)::

        floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)
        """
        return tuple(
            (size + left + right - d * (k - 1) - 1) // s + 1
            for size, k, s, (left, right), d in zip(
                input_size,
                self.kernel,
                self.strides,
                self.padding_pairs,
                self.dilations,
                strict=True,
            )
        )

    def __repr__(self) -> str:
        return (
            f"Conv{self.ndim}d({self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size!r}, stride={self.stride!r}, "
            f"padding={self.padding!r}, dilation={self.dilation!r}, groups={self.groups}, "
            f"bias={self.bias}, padding_mode={self.padding_mode!r}, dtype={self.dtype}, "
            f"device={self.device!r})"
        )


def _conv_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        # The parameters require gradients: torch refuses to build the layer.
        raise InvalidArgument(f"dtype={dt} must be a floating or complex dtype for a convolution")
    return dt


def _drawn(draw: st.DrawFn, value: Any, label: str, check: Callable[[Any], Any]) -> Any:
    """``value``, or what it draws when it is a strategy, checked as drawn."""
    if not isinstance(value, st.SearchStrategy):
        return value
    drawn = draw(value, label=label)
    try:
        return check(drawn)
    except InvalidArgument as e:
        raise InvalidArgument(f"{label}={value!r} drew {drawn!r}, which is invalid: {e}") from None


_FORM = st.booleans()  # False (shrinks first): an int; True: a tuple


def _int_or_tuple(draw: st.DrawFn, values: st.SearchStrategy[int], ndim: int, label: str) -> Any:
    """One value per dim, always drawn (so the draw sequence does not depend on
    the form), written as an int (the first, for every dim) or a tuple."""
    as_tuple = draw(_FORM, label=f"{label} as a tuple")
    sides = tuple(draw(values, label=label) for _ in range(ndim))
    return sides if as_tuple else sides[0]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything :func:`conv_configs` draws from, built once."""

    ndim: int
    groups: st.SearchStrategy[int]
    in_channels: dict[int, list[int]]  # by groups: the multiples in range
    out_channels: dict[int, list[int]]
    in_index: st.SearchStrategy[int]
    out_index: st.SearchStrategy[int]
    kernel: st.SearchStrategy[int]
    stride: st.SearchStrategy[int]
    dilation: st.SearchStrategy[int]
    padding: st.SearchStrategy[int]
    forms: tuple[str, ...]
    form_index: st.SearchStrategy[int]  # one draw, however many forms the stride allows
    modes: st.SearchStrategy[str]
    bias: bool | None
    dtype: Any
    device: Any


_NOT_BIAS = st.booleans().map(lambda b: not b)  # shrinks toward bias=True


@st.composite
def _conv_configs(draw: st.DrawFn, plan: _Plan) -> ConvConfig:
    groups = draw(plan.groups, label="groups")
    # One draw each whatever the groups (an index into the multiples of groups in
    # range), so that shrinking the groups leaves the later draws in place.
    ins, outs = plan.in_channels[groups], plan.out_channels[groups]
    in_channels = ins[draw(plan.in_index, label="in_channels") % len(ins)]
    out_channels = outs[draw(plan.out_index, label="out_channels") % len(outs)]
    kernel_size = _int_or_tuple(draw, plan.kernel, plan.ndim, "kernel_size")
    stride = _int_or_tuple(draw, plan.stride, plan.ndim, "stride")
    dilation = _int_or_tuple(draw, plan.dilation, plan.ndim, "dilation")
    # PyTorch rejects padding="same" with a stride other than 1.
    unit_stride = set(_expand(stride, plan.ndim)) == {1}
    forms = [f for f in plan.forms if f != "same" or unit_stride]
    form = forms[draw(plan.form_index, label="padding form") % len(forms)]
    sides = tuple(draw(plan.padding, label="padding") for _ in range(plan.ndim))
    padding: Any = {"int": sides[0], "tuple": sides}.get(form, form)
    padding_mode = draw(plan.modes, label="padding_mode")
    bias = draw(_NOT_BIAS, label="bias") if plan.bias is None else plan.bias
    return ConvConfig(
        ndim=plan.ndim,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
        dtype=_drawn(draw, plan.dtype, "dtype", _conv_dtype),
        device=_drawn(draw, plan.device, "device", parse_device),
    )


def _multiples(g: int, low: int, high: int) -> list[int]:
    first = -(-low // g) * g
    return list(range(first, high + 1, g))


def conv_configs(
    *,
    ndim: int,
    min_in_channels: int = 1,
    max_in_channels: int = 4,
    min_out_channels: int = 1,
    max_out_channels: int = 4,
    min_kernel_size: int = 1,
    max_kernel_size: int = 3,
    min_stride: int = 1,
    max_stride: int = 2,
    min_padding: int = 0,
    max_padding: int = 2,
    min_dilation: int = 1,
    max_dilation: int = 2,
    min_groups: int = 1,
    max_groups: int | None = None,
    padding_forms: Collection[str] = PADDING_FORMS,
    padding_modes: Collection[str] = PADDING_MODES,
    bias: bool | None = None,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.float32,
    device: str | torch.device | st.SearchStrategy[Any] = "cpu",
) -> st.SearchStrategy[ConvConfig]:
    """Configs for ``nn.Conv1d`` (``ndim=1``) or ``nn.Conv2d`` (``ndim=2``).

    Every config builds: ``groups`` divides both channel counts (it is drawn
    first, from the values in ``[min_groups, max_groups]`` that divide some
    channel count in both ranges; ``max_groups`` defaults to
    ``max_in_channels``), and ``padding="same"`` comes only with stride 1.
    ``kernel_size``, ``stride``, ``dilation`` and a numeric ``padding`` are
    written as an int or a tuple; ``padding_forms`` (a subset of
    :data:`PADDING_FORMS`) and ``padding_modes`` (of :data:`PADDING_MODES`)
    choose the rest. With ``padding_forms=["same"]`` the stride is 1.
    ``bias=None`` draws it. ``dtype`` (floating or complex) and ``device``
    are values or strategies, whose values are checked as drawn. Channels
    start at 1; ``min_in_channels=0`` reaches layers without input channels
    (where torch 2.13.0 departs from the documented output shape: see
    ``conformance/known_deviations.toml``).

    Shrinks toward ``Conv{ndim}d(min_in, min_out, min_kernel, stride=min_stride,
    padding=min_padding, dilation=min_dilation, groups=1, bias=True,
    padding_mode="zeros")`` with every size an int.

    >>> from strategies import conv_configs
    >>> cfg = conv_configs(ndim=2).example()  # doctest: +SKIP
    >>> cfg  # doctest: +SKIP
    Conv2d(2, 4, kernel_size=(3, 1), stride=1, padding='same', dilation=2, groups=2, ...)
    >>> cfg.build()  # doctest: +SKIP
    Conv2d(2, 4, kernel_size=(3, 1), stride=(1, 1), padding=same, dilation=(2, 2), groups=2)
    """
    check_int(ndim, "ndim")
    check_choices(ndim, "ndim", CONV_NDIMS)
    bounds = [
        ("in_channels", min_in_channels, max_in_channels, 0),
        ("out_channels", min_out_channels, max_out_channels, 1),
        ("kernel_size", min_kernel_size, max_kernel_size, 1),
        ("stride", min_stride, max_stride, 1),
        ("padding", min_padding, max_padding, 0),
        ("dilation", min_dilation, max_dilation, 1),
    ]
    for name, low, high, least in bounds:
        check_int(low, f"min_{name}", min_value=least)
        check_int(high, f"max_{name}", min_value=least)
        check_interval(low, high, f"min_{name}", f"max_{name}")
    check_int(min_groups, "min_groups", min_value=1)
    if max_groups is None:
        max_groups = max(max_in_channels, min_groups)
    else:
        check_int(max_groups, "max_groups", min_value=1)
        check_interval(min_groups, max_groups, "min_groups", "max_groups")
    forms = check_subset(padding_forms, "padding_forms", PADDING_FORMS)
    modes = check_subset(padding_modes, "padding_modes", PADDING_MODES)
    if forms == ("same",) and min_stride > 1:
        raise InvalidArgument(
            f"padding_forms={padding_forms!r} needs min_stride=1, not min_stride={min_stride}: "
            "PyTorch rejects padding='same' with a stride other than 1"
        )
    check_optional_bool(bias, "bias")
    feasible = [
        g
        for g in range(min_groups, max_groups + 1)
        if _multiples(g, min_in_channels, max_in_channels)
        and _multiples(g, min_out_channels, max_out_channels)
    ]
    if not feasible:
        raise InvalidArgument(
            f"no groups in [min_groups={min_groups}, max_groups={max_groups}] divides both an "
            f"in_channels in [{min_in_channels}, {max_in_channels}] and an out_channels in "
            f"[{min_out_channels}, {max_out_channels}]"
        )
    ins = {g: _multiples(g, min_in_channels, max_in_channels) for g in feasible}
    outs = {g: _multiples(g, min_out_channels, max_out_channels) for g in feasible}
    plan = _Plan(
        ndim=ndim,
        groups=st.sampled_from(feasible),
        in_channels=ins,
        out_channels=outs,
        in_index=st.integers(0, max(map(len, ins.values())) - 1),
        out_index=st.integers(0, max(map(len, outs.values())) - 1),
        kernel=st.integers(min_kernel_size, max_kernel_size),
        stride=st.integers(min_stride, 1 if forms == ("same",) else max_stride),
        dilation=st.integers(min_dilation, max_dilation),
        padding=st.integers(min_padding, max_padding),
        forms=forms,
        form_index=st.integers(0, len(forms) - 1),
        modes=st.sampled_from(modes),
        bias=bias,
        dtype=dtype if isinstance(dtype, st.SearchStrategy) else _conv_dtype(dtype),
        device=device if isinstance(device, st.SearchStrategy) else parse_device(device),
    )
    return _conv_configs(plan)


def _check_config(config: Any) -> None:
    """The fields inputs are sized from, named as ``config.<field>``."""
    if not isinstance(config, ConvConfig):
        raise InvalidArgument(f"config={config!r} must be a ConvConfig")
    check_int(config.ndim, "config.ndim")
    check_choices(config.ndim, "config.ndim", CONV_NDIMS)
    check_int(config.in_channels, "config.in_channels", min_value=0)
    for name, least in (("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0)):
        value = getattr(config, name)
        if name == "padding" and value in ("same", "valid"):
            continue
        sides = (value,) if isinstance(value, int) else value
        if (
            not isinstance(sides, tuple)
            or len(sides) != (1 if isinstance(value, int) else config.ndim)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < least for s in sides)
        ):
            what = "an int" + (" or 'same' or 'valid'" if name == "padding" else "")
            raise InvalidArgument(
                f"config.{name}={value!r} must be {what} (at least {least}) or a tuple of "
                f"{config.ndim} such ints"
            )
    check_choices(config.padding_mode, "config.padding_mode", PADDING_MODES)


@st.composite
def _input_shapes(
    draw: st.DrawFn,
    channels: int,
    unbatched: st.SearchStrategy[bool],
    batch: st.SearchStrategy[int],
    sides: tuple[st.SearchStrategy[int], ...],
) -> tuple[int, ...]:
    # Always drawn, so the draw sequence does not depend on whether it is used.
    no_batch_dim = draw(unbatched, label="unbatched")
    n = draw(batch, label="batch size")
    spatial = tuple(draw(side, label="side") for side in sides)
    return (*(() if no_batch_dim else (n,)), channels, *spatial)


def conv_inputs(
    config: ConvConfig,
    *,
    batched: bool | None = None,
    min_batch: int = 0,
    max_batch: int = 3,
    max_side: int = 6,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: Any = "contiguous",
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs the config's layer accepts: ``(N, C_in, *spatial)``, or unbatched
    ``(C_in, *spatial)``.

    ``batched=None`` draws both kinds. The batch size ``N`` lies in
    ``[min_batch, max_batch]`` (0: an empty batch). Each spatial side lies
    between the smallest the layer accepts (:attr:`ConvConfig.min_input_size`:
    the dilated kernel must fit the padded side, and the padding mode has its
    own limits) and ``max_side`` (or that smallest side, if it is larger).
    ``layout`` is one of :data:`~strategies.LAYOUTS` or a strategy of them
    (e.g. :func:`~strategies.layouts`) for non-contiguous inputs. Dtype and
    device follow the config. Shrinks toward a batched input of
    ``min_batch`` items, the smallest sides, zeros and a contiguous layout.

    >>> from strategies import conv_configs, conv_inputs
    >>> from hypothesis import given, strategies as st
    >>> @given(st.data())
    ... def test_shape(data):
    ...     cfg = data.draw(conv_configs(ndim=1), label="cfg")
    ...     x = data.draw(conv_inputs(cfg, batched=True), label="x")
    ...     y = cfg.build()(x)
    ...     assert y.shape == (x.shape[0], cfg.out_channels, *cfg.output_size(x.shape[2:]))
    """
    _check_config(config)
    if batched is not None:
        check_bool(batched, "batched")
    check_int(min_batch, "min_batch", min_value=0)
    check_int(max_batch, "max_batch", min_value=0)
    check_interval(min_batch, max_batch, "min_batch", "max_batch")
    check_int(max_side, "max_side", min_value=0)
    dt, dev = _check_tensor_args(config.dtype, config.device, requires_grad, layout)
    unbatched = st.booleans() if batched is None else st.just(not batched)
    sides = tuple(st.integers(low, max(low, max_side)) for low in config.min_input_size)
    shapes = _input_shapes(config.in_channels, unbatched, st.integers(min_batch, max_batch), sides)
    return _tensors(shapes, dt, dev, _default_if_none(elements, dt), requires_grad, layout)
