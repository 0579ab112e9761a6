"""Conformance of ``nn.Conv1d`` and ``nn.Conv2d``: what the generic registry checks
cannot say.

The generic checks (``test_registered_layers``, kinds ``conv1d`` and
``conv2d``, in float32) already compare every drawn layer with the float64
reference (:mod:`conformance.oracle.conv`), check the declared parameter
shapes, the inputs a layer must reject and in-place parameter updates. This
suite adds, for each kind:

- the output size follows the documented formula for every way of writing
  ``stride``, ``padding`` (int, tuple, ``"same"``, ``"valid"``) and
  ``dilation``, and an unbatched input ``(C, *L)`` gives the batch of one's
  result;
- padding, in float64: each ``padding_mode`` pads as documented, also at its
  limits (a reflected pad one short of the side, a circular pad as wide as
  it), and ``"same"`` puts the odd extra element on the right;
- the constructor's ``ValueError``s: ``groups`` not dividing a channel count,
  ``groups < 1``, ``padding="same"`` with a stride, unknown strings;
- the initial weight and bias are spread as ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
  with ``fan_in = in_channels / groups * prod(kernel_size)`` (statistical:
  a correct layer fails with probability at most 1e-6 per check);
- gradients of input, weight and bias against the oracle's (float32);
- empty dims (zero input or output channels, an empty side padded to a
  non-empty one) give the formula's shape: torch 2.13.0 departs here (see
  ``known_deviations.toml``).

The class under test comes from the ``conv1d_cls`` / ``conv2d_cls`` fixtures;
calls go through ``mode.wrap(module)`` with TF32 pinned off (cuDNN
convolutions use TF32 by default on CUDA).

Sources: torch/nn/modules/conv.py (``_ConvNd.__init__``, ``reset_parameters``,
``_conv_forward``) and the ``torch.nn.Conv1d`` / ``Conv2d`` docs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_dtype, assert_raises, assert_shape, assert_within, fail
from conformance.layers import Reference
from conformance.modes import Mode
from conformance.oracle import conv as oracle
from conformance.oracle import statistics
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import agreement_bound, oracle_bound, tf32, unit_roundoff
from strategies import ConvConfig, conv_configs, conv_inputs, layouts, tensors

# --- shared ------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        # padding="same" with an odd total pads a copy of the input first.
        warnings.filterwarnings("ignore", "Using padding='same'")
        yield


@functools.cache
def _configs(ndim: int, device: torch.device, **kwargs: Any) -> st.SearchStrategy[ConvConfig]:
    """``conv_configs(ndim=..., device=..., **kwargs)``, built once per key."""
    return conv_configs(ndim=ndim, device=str(device), **kwargs)


def _build(data: st.DataObject, cls: Callable[..., nn.Module], config: ConvConfig) -> nn.Module:
    with seeded(data.draw(SEEDS, label="seed"), torch.device(config.device)), _quiet():
        return config.build(cls)


def _call(mode: Mode, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with tf32(False), _quiet():
        return cast(torch.Tensor, mode.wrap(module)(x))


def _pads(config: ConvConfig) -> oracle.Pairs:
    return oracle.padding_pairs(config.padding, config.kernel, config.dilations)


def _weight(module: nn.Module) -> torch.Tensor:
    return cast(torch.Tensor, module.weight)


def _bias(module: nn.Module) -> torch.Tensor | None:
    return cast("torch.Tensor | None", module.bias)


def _reference(config: ConvConfig, module: nn.Module, x: torch.Tensor) -> Reference:
    bias = _bias(module)
    return oracle.conv(
        to_float64(x),
        to_float64(_weight(module)),
        None if bias is None else to_float64(bias),
        stride=config.strides,
        pads=_pads(config),
        dilation=config.dilations,
        padding_mode=config.padding_mode,
    )


def _context(config: ConvConfig, x: torch.Tensor, extra: str = "") -> str:
    strides = "" if x.is_contiguous() else f", x.stride={x.stride()}"
    return f"{config!r}, x.shape={tuple(x.shape)}{strides}{f'; {extra}' if extra else ''}"


def _assert_matches(
    name: str, out: torch.Tensor, expected: Reference, dtype: torch.dtype, context: str
) -> None:
    assert_shape(name, out.shape, expected.value.shape, context)
    bound = oracle_bound(expected.scale, expected.terms, dtype)
    assert_within(name, out.detach(), expected.value, bound, context)


# --- output size and unbatched inputs -------------------------------------------


def _check_output_size(
    data: st.DataObject, cls: Callable[..., nn.Module], device: torch.device, mode: Mode, ndim: int
) -> None:
    config = data.draw(_configs(ndim, device), label="config")
    module = _build(data, cls, config)
    x = data.draw(conv_inputs(config, layout=layouts()), label="x")
    out = _call(mode, module, x)
    expected = oracle.output_shape(
        tuple(x.shape), config.out_channels, config.kernel, config.strides, _pads(config),
        config.dilations,
    )  # fmt: skip
    ctx = _context(config, x, mode.describe())
    assert_shape("out", out.shape, expected, ctx)
    if x.ndim == ndim + 2:
        return
    # Unbatched: what the batch of one gives, up to rounding (another kernel may run).
    batched = _call(mode, module, x.unsqueeze(0))
    scale = _reference(config, module, x)
    bound = agreement_bound(scale.scale, scale.terms, x.dtype)
    assert_within(
        "out", out.detach(), batched.detach()[0], bound, f"{ctx}; expected: out[0] of x[None]"
    )


@given(data=st.data())
def test_conv1d_output_size_formula(
    data: st.DataObject, device: torch.device, conv1d_cls: type[nn.Module], mode: Mode
) -> None:
    """``(N, C_in, L)`` -> ``(N, C_out, L_out)``, ``L_out = floor((L + 2 padding - dilation
    (kernel_size - 1) - 1) / stride + 1)``, for int and tuple arguments, ``"valid"``
    (no padding) and ``"same"`` (``L_out = L``), empty batches and non-contiguous
    inputs; an unbatched ``(C_in, L)`` gives ``(C_out, L_out)``, the batch of one's
    result (``Conv1d`` docs, "Shape")."""
    _check_output_size(data, conv1d_cls, device, mode, 1)


@given(data=st.data())
def test_conv2d_output_size_formula(
    data: st.DataObject, device: torch.device, conv2d_cls: type[nn.Module], mode: Mode
) -> None:
    """``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)`` with the formula per dim, for
    int and tuple arguments, ``"valid"`` and ``"same"``, empty batches and
    non-contiguous inputs; an unbatched ``(C_in, H, W)`` gives the batch of one's
    result (``Conv2d`` docs, "Shape")."""
    _check_output_size(data, conv2d_cls, device, mode, 2)


# --- padding -------------------------------------------------------------------


@functools.cache
def _padding_configs(ndim: int, device: torch.device) -> st.SearchStrategy[ConvConfig]:
    """Float64 configs with padding on every side, half of them ``padding="same"``
    (kernels up to 4, so that even kernels give odd totals often)."""
    options: dict[str, Any] = {"max_kernel_size": 4, "dtype": torch.float64}
    numeric = _configs(ndim, device, min_padding=1, max_padding=3, **options)
    same = _configs(ndim, device, padding_forms=("same",), **options)
    return st.one_of(numeric, same)


def _check_padding(
    data: st.DataObject, cls: Callable[..., nn.Module], device: torch.device, mode: Mode, ndim: int
) -> None:
    config = data.draw(_padding_configs(ndim, device), label="config")
    module = _build(data, cls, config)
    # Half the time every side is as short as the mode allows: a reflected pad one
    # short of the side, a circular one as wide as it, a "same" pad past the kernel.
    smallest = data.draw(st.booleans(), label="smallest sides")
    x = data.draw(conv_inputs(config, max_side=0 if smallest else 6), label="x")
    out = _call(mode, module, x)
    ctx = _context(config, x, f"padding {_pads(config)} (left, right) per dim; {mode.describe()}")
    _assert_matches("out", out, _reference(config, module, x), torch.float64, ctx)


@given(data=st.data())
def test_conv1d_padding(
    data: st.DataObject, device: torch.device, conv1d_cls: type[nn.Module], mode: Mode
) -> None:
    """Each ``padding_mode`` pads as documented before the cross-correlation, in float64:
    ``zeros``; ``reflect`` mirrors without repeating the edge; ``replicate`` repeats
    it; ``circular`` wraps around (``_conv_forward``: ``F.pad(input, ...,
    mode=padding_mode)``), at the widest pads each allows. ``"same"`` pads
    ``dilation (kernel_size - 1)`` in all, the odd one on the right
    (``_ConvNd.__init__``)."""
    _check_padding(data, conv1d_cls, device, mode, 1)


@given(data=st.data())
def test_conv2d_padding(
    data: st.DataObject, device: torch.device, conv2d_cls: type[nn.Module], mode: Mode
) -> None:
    """Each ``padding_mode`` pads both spatial dims as documented (each with its own
    amount when ``padding`` is a tuple), at the widest pads each allows;
    ``"same"`` puts the odd extra on the right and bottom."""
    _check_padding(data, conv2d_cls, device, mode, 2)


# --- construction errors -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Invalid:
    what: str
    message: str
    change: Callable[[ConvConfig, int], ConvConfig]


def _change(**fields: Any) -> Callable[[ConvConfig, int], ConvConfig]:
    return lambda config, n: dataclasses.replace(config, **fields)


def _indivisible_in(config: ConvConfig, n: int) -> ConvConfig:
    groups = 2 + n % 3  # 2..4
    in_channels = groups * (1 + n % 2) + 1 + n % (groups - 1)
    return dataclasses.replace(
        config, groups=groups, in_channels=in_channels, out_channels=groups * (1 + n % 2)
    )


def _indivisible_out(config: ConvConfig, n: int) -> ConvConfig:
    groups = 2 + n % 3
    out_channels = groups * (1 + n % 2) + 1 + n % (groups - 1)
    return dataclasses.replace(
        config, groups=groups, in_channels=groups * (1 + n % 2), out_channels=out_channels
    )


def _strided_same(config: ConvConfig, n: int) -> ConvConfig:
    stride: Any = 2 + n % 2 if n % 3 == 0 else (1,) * (config.ndim - 1) + (2,)
    return dataclasses.replace(config, padding="same", stride=stride)


#: Sources: ``_ConvNd.__init__`` (torch/nn/modules/conv.py), in the order it checks.
INVALID = (
    _Invalid(
        "groups < 1",
        "groups must be a positive integer",
        lambda c, n: dataclasses.replace(c, groups=-(n % 2)),
    ),
    _Invalid(
        "in_channels % groups != 0", "in_channels must be divisible by groups", _indivisible_in
    ),
    _Invalid(
        "out_channels % groups != 0", "out_channels must be divisible by groups", _indivisible_out
    ),
    _Invalid(
        "padding='same' with a stride",
        "padding='same' is not supported for strided convolutions",
        _strided_same,
    ),
    _Invalid("padding='full'", "Invalid padding string 'full'", _change(padding="full")),
    _Invalid(
        "padding_mode='symmetric'", "padding_mode must be one of", _change(padding_mode="symmetric")
    ),
)


def _check_invalid_construction(
    data: st.DataObject, cls: Callable[..., nn.Module], device: torch.device, ndim: int
) -> None:
    config = data.draw(_configs(ndim, device), label="valid config")
    variant = data.draw(st.integers(0, 11), label="variant")
    # Every rule on every example (construction is cheap): a handful of examples
    # must not leave one of six rules untried.
    for invalid in INVALID:
        bad = invalid.change(config, variant)

        def construct(bad: ConvConfig = bad) -> Any:
            with _quiet():
                return bad.build(cls)

        assert_raises(
            ValueError,
            construct,
            what=f"{getattr(cls, '__name__', cls)}(**{bad.kwargs})",
            match=invalid.message,
            context=f"{bad!r}: {invalid.what}",
        )


@pytest.mark.supports_meta
@given(data=st.data())
def test_conv1d_rejects_invalid_construction(
    data: st.DataObject, device: torch.device, conv1d_cls: type[nn.Module]
) -> None:
    """The constructor raises ``ValueError`` for ``groups < 1``, ``groups`` not dividing
    ``in_channels`` or ``out_channels``, ``padding="same"`` with a stride, an unknown
    padding string or ``padding_mode``, with ``_ConvNd.__init__``'s messages."""
    _check_invalid_construction(data, conv1d_cls, device, 1)


@pytest.mark.supports_meta
@given(data=st.data())
def test_conv2d_rejects_invalid_construction(
    data: st.DataObject, device: torch.device, conv2d_cls: type[nn.Module]
) -> None:
    """As for Conv1d: ``ValueError`` for bad ``groups``, a strided ``"same"`` (a stride
    other than 1 in either dim), unknown strings."""
    _check_invalid_construction(data, conv2d_cls, device, 2)


# --- initialisation --------------------------------------------------------------


def _check_init(
    data: st.DataObject, cls: Callable[..., nn.Module], device: torch.device, ndim: int
) -> None:
    # At least 1024 output channels: the bias alone is a large enough sample
    # (KS bound ~0.11; a bound sqrt(2) too narrow is at distance 0.15).
    config = data.draw(
        _configs(
            ndim,
            device,
            min_out_channels=1024,
            max_out_channels=2048,
            padding_modes=("zeros",),
            bias=True,
        ),
        label="config",
    )
    module = _build(data, cls, config)
    fan_in = config.in_channels // config.groups * math.prod(config.kernel)
    bound = oracle.init_bound(config.weight_shape)
    dtype = config.dtype
    ctx = f"{config!r}; fan_in = in_channels / groups * prod(kernel_size) = {fan_in}"
    # ATen's uniform_ casts the bounds to the dtype: a sample may exceed b by a rounding.
    most = bound * (1 + unit_roundoff(dtype))
    slack = 4 * unit_roundoff(dtype)
    for name, param in (("weight", _weight(module)), ("bias", _bias(module))):
        if param is None:
            fail(f"{name}=None, but should be a tensor", ctx)
            continue
        values = to_float64(param)
        if values.size and np.abs(values).max() > most:
            fail(
                f"max |{name}|={np.abs(values).max():.6g}, but should be at most "
                f"1/sqrt(fan_in)={bound:.6g}",
                ctx,
            )
        distance = statistics.ks_distance_uniform(values, -bound, bound)
        allowed = statistics.uniform_ks_bound(values.size, statistics.FALSE_POSITIVE_RATE / 2)
        if distance > allowed + slack:
            fail(
                f"KS distance of {name} to U(-{bound:.4g}, {bound:.4g})={distance:.4g}, but "
                f"should be at most {allowed + slack:.4g} (false-positive rate "
                f"{statistics.CHECK_FALSE_POSITIVE_RATE:g} per check)",
                ctx,
            )


@given(data=st.data())
def test_conv1d_init_distribution(
    data: st.DataObject, device: torch.device, conv1d_cls: type[nn.Module]
) -> None:
    """Initial weight and bias lie in, and are spread over, ``U(-b, b)`` with
    ``b = 1/sqrt(fan_in)``, ``fan_in = in_channels / groups * kernel_size``
    (``reset_parameters``: ``kaiming_uniform_(a=sqrt(5))``, bias from the same bound;
    the docs' ``k = groups / (C_in * kernel_size)``, ``U(-sqrt(k), sqrt(k))``). The
    Kolmogorov-Smirnov distance stays within the DKW bound, weight and bias sharing
    the per-example false-positive rate."""
    _check_init(data, conv1d_cls, device, 1)


@given(data=st.data())
def test_conv2d_init_distribution(
    data: st.DataObject, device: torch.device, conv2d_cls: type[nn.Module]
) -> None:
    """As for Conv1d, with ``fan_in = in_channels / groups * kernel_size[0] *
    kernel_size[1]`` (the docs' ``k = groups / (C_in * prod(kernel_size))``)."""
    _check_init(data, conv2d_cls, device, 2)


# --- gradients ---------------------------------------------------------------------


def _check_gradients(
    data: st.DataObject,
    cls: Callable[..., nn.Module],
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    ndim: int,
) -> None:
    config = data.draw(_configs(ndim, device, dtype=dtype), label="config")
    module = _build(data, cls, config)
    x = data.draw(conv_inputs(config, requires_grad=True, layout=layouts()), label="x")
    weight, bias = _weight(module), _bias(module)
    shape = oracle.output_shape(
        tuple(x.shape), config.out_channels, config.kernel, config.strides, _pads(config),
        config.dilations,
    )  # fmt: skip
    g = data.draw(tensors(shape=shape, dtype=dtype, device=str(device)), label="grad_out")
    ctx = _context(config, x, mode.describe())
    out = _call(mode, module, x)
    assert_shape("out", out.shape, shape, ctx)
    if not out.requires_grad:
        fail("out.requires_grad=False, but should be True", ctx)
    inputs = [x, weight] if bias is None else [x, weight, bias]
    with tf32(False), _quiet():
        grads = torch.autograd.grad(out, inputs, g, allow_unused=True)
    expected = oracle.conv_grads(
        to_float64(x),
        to_float64(weight),
        to_float64(g),
        stride=config.strides,
        pads=_pads(config),
        dilation=config.dilations,
        padding_mode=config.padding_mode,
    )
    names = ("grad_input", "grad_weight", "grad_bias")
    # Without a bias there is no grad_bias: zip stops with grads.
    for name, grad, ref in zip(names, grads, expected, strict=False):
        if grad is None:
            fail(f"{name}=None, but should be a tensor of shape {ref.value.shape}", ctx)
            continue
        assert_dtype(name, grad.dtype, dtype, ctx)
        _assert_matches(name, grad, ref, dtype, ctx)


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_conv1d_gradients_match_oracle(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    conv1d_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """For upstream ``g``: ``dL/dw[o, c, k] = sum_{n, l} g[n, o, l] x_pad[n, c, l s + k d]``,
    ``dL/db = sum of g over batch and length``, and ``dL/dx`` is each ``g w`` added
    back onto the input positions it was read from, through the padding (a reflected,
    replicated or wrapped position adds onto its source); groups, unbatched inputs,
    empty batches and any layout (``convolution_backward`` in
    tools/autograd/derivatives.yaml)."""
    _check_gradients(data, conv1d_cls, device, dtype, mode, 1)


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_conv2d_gradients_match_oracle(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    conv2d_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """The input, weight and bias gradients of Conv2d against the float64 oracle's,
    for every padding mode, groups, unbatched inputs, empty batches and layouts."""
    _check_gradients(data, conv2d_cls, device, dtype, mode, 2)


# --- empty dims ----------------------------------------------------------------------

#: Layers and inputs with an empty dim the formula still sizes: ``(config, input shape)``
#: for Conv1d; Conv2d adds a spatial dim of 3 (with the same kernel, stride and padding).
EMPTY_DIMS = {
    # fan_in = 0: the output is the bias, broadcast (as Linear(0, 3) gives).
    "zero_in_channels": (dict(in_channels=0, out_channels=3, kernel_size=2), (2, 0, 4)),
    "zero_out_channels": (dict(in_channels=2, out_channels=0, kernel_size=2), (2, 2, 4)),
    # An empty side padded to two zeros: L_out = floor((0 + 2 - 0 - 1) / 1 + 1) = 2.
    "empty_side": (dict(in_channels=2, out_channels=3, kernel_size=1, padding=1), (2, 2, 0)),
}


def _check_empty_dims(
    cls: Callable[..., nn.Module], device: torch.device, mode: Mode, case: str, ndim: int
) -> None:
    fields, shape_1d = EMPTY_DIMS[case]
    shape: tuple[int, ...] = shape_1d
    config = ConvConfig(ndim=ndim, device=str(device), **fields)  # type: ignore[arg-type]
    if ndim == 2:
        shape = (*shape, 3)
    with seeded(0, device), _quiet():
        module = config.build(cls)
    bias = _bias(module)
    if bias is not None:
        with torch.no_grad():
            bias.copy_(torch.arange(1.0, 1.0 + bias.numel()))
    x = torch.ones(shape, device=device)
    expected = _reference(config, module, x)
    ctx = _context(config, x, mode.describe())
    try:
        out = _call(mode, module, x)
    except Exception as e:
        fail(
            f"module(x) raised {type(e).__name__}({str(e)!r}), but should return the "
            f"formula's shape {expected.value.shape}",
            ctx,
        )
    _assert_matches("out", out, expected, torch.float32, ctx)


@pytest.mark.parametrize("case", list(EMPTY_DIMS))
def test_conv1d_empty_dims_follow_the_formula(
    device: torch.device, conv1d_cls: type[nn.Module], mode: Mode, case: str
) -> None:
    """Empty dims the documented shapes allow: zero input channels give
    ``(N, C_out, L_out)`` filled with the bias (no terms to sum), zero output
    channels give ``(N, 0, L_out)``, and an empty side padded to a non-empty one
    gives ``L_out`` from the formula (zeros plus the bias). torch 2.13.0 departs
    from all three (``known_deviations.toml``)."""
    _check_empty_dims(conv1d_cls, device, mode, case, 1)


@pytest.mark.parametrize("case", list(EMPTY_DIMS))
def test_conv2d_empty_dims_follow_the_formula(
    device: torch.device, conv2d_cls: type[nn.Module], mode: Mode, case: str
) -> None:
    """As for Conv1d, with a second spatial dim of 3."""
    _check_empty_dims(conv2d_cls, device, mode, case, 2)
