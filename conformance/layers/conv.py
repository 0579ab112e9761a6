"""``torch.nn.Conv1d`` and ``torch.nn.Conv2d`` as registry entries: padded, strided,
dilated, grouped cross-correlation over the last one or two dims.

The reference is :func:`conformance.oracle.conv.conv` (NumPy float64); the
inputs a layer must reject are a wrong channel count, a wrong rank, a side
too short for the dilated kernel and an input of another dtype, with
torch 2.13.0's messages (aten/src/ATen/native/Convolution.cpp and, for the
padding modes other than zeros, ``F.pad``, which runs first).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from conformance.oracle import conv as oracle
from conformance.support.canonical import distinct_values
from strategies import ConvConfig, conv_configs, conv_inputs, tensors

#: The dtypes the generic checks run the kinds in. Convolutions take float64,
#: float16 and bfloat16 on the CPU too, but one example costs about twice a
#: Linear's (a oneDNN primitive per new shape), so the registry runs float32
#: only; ``test_conv`` checks padding in float64.
DTYPES = ("float32",)

#: A channel count that does not match (Convolution.cpp, check_shape_forward):
#: "Given groups=1, weight of size [4, 3, 3], expected input[2, 2, 5] to have
#: 3 channels, but got 2 channels instead".
CHANNELS_ERROR = "channels instead"
#: A spatial side too short for the dilated kernel, after padding:
#: "Calculated padded input size per channel: (2). Kernel size: (3). Kernel
#: size can't be greater than actual input size".
SHORT_ERROR = "Kernel size can't be greater than actual input size"
#: Another dtype: "Input type (double) and bias type (float) should be the same"
#: with a bias, "expected scalar type Double but found Float" without.
DTYPE_ERROR = "type"


def rank_error(config: ConvConfig) -> str:
    """What a wrong rank raises. With ``padding_mode="zeros"`` the convolution's own
    check ("Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input
    of size: [5]"); with the other modes ``F.pad`` runs first and raises
    ``NotImplementedError`` (a ``RuntimeError``): "Padding size 2 is not supported
    for 1D input tensor"."""
    if config.padding_mode == "zeros":
        return f"input to conv{config.ndim}d"
    return "is not supported for"


@functools.cache
def configs(dtype: torch.dtype, device: torch.device, ndim: int) -> st.SearchStrategy[ConvConfig]:
    """Every config :func:`~strategies.conv_configs` draws (built once per key:
    building it costs about as much as drawing from it)."""
    return conv_configs(ndim=ndim, dtype=dtype, device=str(device))


# Configs are hashable: each config's strategies are built once (a run draws many
# configs twice or more, and building costs about as much as a draw).
@functools.lru_cache(maxsize=1024)
def _inputs(config: ConvConfig, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy:
    return conv_inputs(config).map(lambda x: (x,))


def reference(
    config: ConvConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    """The cross-correlation in float64 (train and eval alike)."""
    return oracle.conv(
        inputs[0],
        params["weight"],
        params.get("bias"),
        stride=config.strides,
        pads=oracle.padding_pairs(config.padding, config.kernel, config.dilations),
        dilation=config.dilations,
        padding_mode=config.padding_mode,
    )


def _parameters(config: ConvConfig) -> dict[str, tuple[int, ...] | None]:
    return {
        "weight": (config.out_channels, config.in_channels // config.groups, *config.kernel),
        "bias": (config.out_channels,) if config.bias else None,
    }


def _too_short_sides(config: ConvConfig) -> list[tuple[int, ...]]:
    """Spatial sizes that the padding accepts but that are too short for the
    dilated kernel in one dim (empty when padding covers every kernel)."""
    sizes = []
    smallest = config.min_input_size
    for i, (k, d, (left, right)) in enumerate(
        zip(config.kernel, config.dilations, config.padding_pairs, strict=True)
    ):
        floor = 1  # PyTorch rejects empty sides with another message
        if config.padding_mode == "reflect":
            floor = max(left, right) + 1
        elif config.padding_mode == "circular":
            floor = max(1, left, right)
        for side in range(floor, d * (k - 1) + 1 - left - right):
            sizes.append((*smallest[:i], side, *smallest[i + 1 :]))
    return sizes


@functools.lru_cache(maxsize=1024)
def _error_inputs(
    config: ConvConfig, dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[ErrorCase]:
    """A wrong channel count, a wrong rank, a side too short for the kernel, or an
    input of another floating dtype."""
    dev = str(device)
    side = config.min_input_size

    def case(shape: tuple[int, ...], match: str, why: str, dt: torch.dtype = dtype) -> Any:
        return tensors(shape=shape, dtype=dt, device=dev).map(
            lambda x: ErrorCase((x,), RuntimeError, match, why)
        )

    batch = st.integers(1, 2)
    channels = st.integers(1, config.in_channels + 2).filter(lambda c: c != config.in_channels)
    wrong_channels = st.tuples(batch, channels).flatmap(
        lambda bc: case((bc[0], bc[1], *side), CHANNELS_ERROR, f"{bc[1]} input channels")
    )
    # One dim fewer than unbatched, one more than batched.
    ranks = [(*side,), (1, 1, config.in_channels, *side)]
    wrong_rank = st.sampled_from(ranks).flatmap(
        lambda shape: case(shape, rank_error(config), f"a {len(shape)}-d input")
    )
    other = torch.float64 if dtype != torch.float64 else torch.float32
    other_dtype = batch.flatmap(
        lambda n: case(
            (n, config.in_channels, *side), DTYPE_ERROR, f"an input of dtype {other}", other
        )
    )
    choices = [wrong_channels, wrong_rank, other_dtype]
    short = _too_short_sides(config)
    if short:
        choices.append(
            st.sampled_from(short).flatmap(
                lambda s: case((1, config.in_channels, *s), SHORT_ERROR, f"sides {s}")
            )
        )
    return st.one_of(choices)


def _contract_configs(device: torch.device, ndim: int) -> list[ConvConfig]:
    # Grouped, with a non-square kernel: a transposed or ungrouped weight shows.
    kernel = 3 if ndim == 1 else (3, 2)
    return [
        ConvConfig(ndim, 4, 2, kernel, groups=2, bias=bias, device=str(device))
        for bias in (True, False)
    ]


def _examples(dtype: torch.dtype, device: torch.device, ndim: int) -> list[Example]:
    # Two channels in and out, a bias, a kernel of distinct values that is not
    # symmetric (a flip shows) nor square in 2-d (a transposition shows), and
    # padding="same" with an even side: the odd pad goes after (right, bottom).
    kernel, side = (4, (5,)) if ndim == 1 else ((2, 3), (4, 5))
    config = ConvConfig(ndim, 2, 2, kernel, padding="same", dtype=dtype, device=str(device))
    x = distinct_values((2, 2, *side), dtype, device)
    return [Example(config, (x,), "two channels, a bias, an even kernel side, padding='same'")]


def _contract(ndim: int) -> str:
    kernel = "kernel_size" if ndim == 1 else "*kernel_size"
    return (
        f"Name(in_channels, out_channels, kernel_size, stride=..., padding=..., dilation=..., "
        f"groups=..., bias=..., padding_mode=..., device=..., dtype=...) returning an "
        f"nn.Module with .weight of shape (out_channels, in_channels // groups, {kernel}) "
        f"and .bias of shape (out_channels,) or None"
    )


def _info(ndim: int) -> LayerInfo:
    return LayerInfo(
        name=f"conv{ndim}d",
        implementation=f"torch.nn:Conv{ndim}d",
        contract=_contract(ndim),
        configs=lambda dtype, device: configs(dtype, device, ndim),
        inputs=_inputs,
        reference=reference,
        parameters=_parameters,
        contract_configs=lambda device: _contract_configs(device, ndim),
        dtypes=DTYPES,
        error_inputs=_error_inputs,
        fixture=f"conv{ndim}d_cls",
        examples=lambda dtype, device: _examples(dtype, device, ndim),
    )


CONV1D = _info(1)
CONV2D = _info(2)
