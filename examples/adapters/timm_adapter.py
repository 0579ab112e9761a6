"""timm's layers on the kit's contracts.

``Linear`` needs no adapter: ``timm.layers.Linear`` subclasses ``nn.Linear``
with the same constructor, and only overrides ``forward``::

    def forward(self, input):
        if torch.jit.is_scripting():
            bias = self.bias.to(dtype=input.dtype) if self.bias is not None else None
            return F.linear(input, self.weight.to(dtype=input.dtype), bias=bias)
        else:
            return F.linear(input, self.weight, self.bias)

("Wraps torch.nn.Linear to support AMP + torchscript usage by manually casting
weight & bias to input.dtype".) This module re-exports it, after the
torchvision workaround that ``import timm`` needs with a CPU torch (see
``_torchvision_on_cpu``)::

    PYTHONPATH=examples/adapters pytest --pyargs conformance --target linear=timm_adapter:Linear

The other factories keep the ``conv2d``, ``batch_norm2d`` and ``layer_norm``
contracts (``conformance.layers``) and otherwise only call the library's
constructor; each says what it maps:

- :func:`conv2d_same`: ``timm.layers.Conv2dSame`` (TensorFlow's dynamic
  ``"SAME"`` padding; its constructor takes ``padding`` and ignores it), and
  :func:`conv2d_same_zeros_only`, a diagnostic that rejects the examples
  drawing a ``padding_mode`` it cannot be built with;
- :func:`std_conv2d`: ``timm.layers.StdConv2d`` (weight standardization);
- :func:`batch_norm_act2d`: ``timm.layers.BatchNormAct2d(..., apply_act=False)``
  (BatchNorm2d with its activation and drop layer both ``Identity``);
- :func:`layer_norm`: ``timm.layers.LayerNorm`` (``nn.LayerNorm`` with timm's
  names and defaults: ``num_channels``, ``eps=1e-6``, ``affine``).

``timm.layers.LayerNorm2d`` is not mapped: it normalises the channel dim of an
``(N, C, H, W)`` input (permuting it last and back), which the ``layer_norm``
contract (normalisation over the trailing ``normalized_shape``, any rank) does
not describe; an adapter would have to permute every input into place itself,
and the suites would then check the adapter's permutes around ``F.layer_norm``.
"""

from __future__ import annotations

from typing import Any

import _torchvision_on_cpu  # noqa: F401  (timm imports torchvision)
import torch
from timm.layers import BatchNormAct2d, Conv2dSame, LayerNorm, Linear, StdConv2d
from torch import nn

__all__ = [
    "Linear",
    "batch_norm_act2d",
    "conv2d_same",
    "conv2d_same_zeros_only",
    "layer_norm",
    "std_conv2d",
]


def _padding_mode(padding_mode: str) -> dict[str, Any]:
    # Neither class takes ``padding_mode`` (both always pad with zeros). The contract's
    # default is passed as nothing; any other value is passed on, so the library's own
    # constructor answers it (TypeError: unexpected keyword argument).
    return {} if padding_mode == "zeros" else {"padding_mode": padding_mode}


def conv2d_same(
    in_channels: int,
    out_channels: int,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``Conv2dSame(...)`` with every argument as given (``padding`` too, which it ignores)."""
    return Conv2dSame(
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        device=device, dtype=dtype, **_padding_mode(padding_mode),
    )  # fmt: skip


def conv2d_same_zeros_only(
    in_channels: int,
    out_channels: int,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A diagnostic: :func:`conv2d_same` for the configs ``Conv2dSame`` can be built from.

    Called by a check with ``padding_mode`` other than ``"zeros"``, it rejects the
    example (``hypothesis.assume``), so the checks draw other configs instead of
    shrinking to the ``TypeError`` the library raises for it, and show what else
    departs. Everything else is :func:`conv2d_same`."""
    from hypothesis import assume

    assume(padding_mode == "zeros")
    return conv2d_same(
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        device=device, dtype=dtype,
    )  # fmt: skip


def std_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = None,
    dilation: Any = 1,
    groups: int = 1,
    bias: bool = False,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``StdConv2d(...)`` with every argument as given (its first is named ``in_channel``;
    its defaults, ``padding=None`` (symmetric padding from the kernel) and
    ``bias=False``, kept)."""
    return StdConv2d(
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        device=device, dtype=dtype, **_padding_mode(padding_mode),
    )  # fmt: skip


def batch_norm_act2d(
    num_features: int,
    eps: float = 1e-5,
    momentum: float | None = 0.1,
    affine: bool = True,
    track_running_stats: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``BatchNormAct2d(..., apply_act=False)``: no activation (and no drop layer)."""
    return BatchNormAct2d(
        num_features,
        eps=eps,
        momentum=momentum,
        affine=affine,
        track_running_stats=track_running_stats,
        apply_act=False,
        device=device,
        dtype=dtype,
    )


def layer_norm(
    normalized_shape: Any,
    eps: float = 1e-6,
    elementwise_affine: bool = True,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``LayerNorm(normalized_shape, eps=eps, affine=elementwise_affine, bias=bias, ...)``
    (timm's ``eps`` default, ``1e-6``, kept; ``bias``, ``device``, ``dtype`` reach
    ``nn.LayerNorm`` through its ``**kwargs``)."""
    return LayerNorm(
        normalized_shape,
        eps=eps,
        affine=elementwise_affine,
        bias=bias,
        device=device,
        dtype=dtype,
    )
