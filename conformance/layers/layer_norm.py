"""``torch.nn.LayerNorm`` as a registry entry: normalisation over the trailing dims.

No running state and no randomness: the same in training and evaluation.
The reference is :func:`conformance.oracle.layer_norm.layer_norm`, whose
bound accounts for the division by ``sqrt(var + eps)`` (see that module).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from conformance.oracle import layer_norm as oracle
from conformance.support.canonical import distinct_values
from strategies import LayerNormConfig, layer_norm_configs, layer_norm_inputs, layouts

#: bfloat16, the coarsest unit roundoff the reference's bound covers, is where
#: its non-linear part (a perturbed variance under a square root) matters most;
#: float16 lies between it and float32 (checked off-suite: see the oracle's docs).
DTYPES = ("float32", "float64", "bfloat16")
#: The message of ATen's shape check (``_check_layer_norm_inputs``, the same on every device).
SHAPE_ERROR = "Given normalized_shape="

#: Small shapes keep a kind's generic checks near a second of CPU at 100 examples.
_MAX_NUMEL = 48


def configs(dtype: torch.dtype, device: torch.device | str) -> st.SearchStrategy[LayerNormConfig]:
    """Configs over one or two normalized dims, sides 0 to 4 (empty and size-1 included),
    ``eps`` up to 100: with values up to 100, ``eps`` reaches the variance, where
    ``sqrt(var + eps)`` and ``sqrt(var) + eps`` part."""
    return _configs(dtype, str(device))


@functools.lru_cache(maxsize=32)
def _configs(dtype: torch.dtype, device: str) -> st.SearchStrategy[LayerNormConfig]:
    # Built once per dtype and device: the generic checks ask on every example.
    return layer_norm_configs(min_side=0, max_side=4, max_eps=100.0, dtype=dtype, device=device)


@functools.lru_cache(maxsize=256)
def inputs(
    config: LayerNormConfig, dtype: torch.dtype, device: torch.device | str
) -> st.SearchStrategy[tuple[torch.Tensor, ...]]:
    """Unbatched to two batch dims, in every layout (expanded ones repeat values:
    constant rows, a zero variance)."""
    return layer_norm_inputs(
        config, max_batch_dims=2, max_side=3, layout=layouts(), max_numel=_MAX_NUMEL
    ).map(lambda x: (x,))


def reference(
    config: LayerNormConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    (x,) = inputs
    ref = oracle.layer_norm(
        x, len(config.shape), params.get("weight"), params.get("bias"), config.eps
    )
    return Reference(ref.value, ref.scale, ref.terms)


def parameters(config: LayerNormConfig) -> dict[str, tuple[int, ...] | None]:
    return {
        "weight": config.shape if config.has_weight else None,
        "bias": config.shape if config.has_bias else None,
    }


def _mismatched_shape(config: LayerNormConfig) -> st.SearchStrategy[tuple[int, ...]]:
    """A shape whose trailing dims are not the normalized shape: one side changed,
    or fewer dims than the normalized shape has (0-d included)."""
    normalized = config.shape
    changed = st.tuples(
        st.integers(0, len(normalized) - 1), st.integers(0, 5), st.integers(0, 2)
    ).filter(lambda t: t[1] != normalized[t[0]])

    def with_change(t: tuple[int, int, int]) -> tuple[int, ...]:
        at, side, batch = t
        trailing = tuple(side if i == at else s for i, s in enumerate(normalized))
        return (2,) * batch + trailing

    too_few = st.integers(0, len(normalized) - 1).map(lambda k: normalized[len(normalized) - k :])
    return st.one_of(changed.map(with_change), too_few)


def error_inputs(
    config: LayerNormConfig, dtype: torch.dtype, device: torch.device | str
) -> st.SearchStrategy[ErrorCase]:
    """Inputs whose trailing dims are not the normalized shape."""
    return _mismatched_shape(config).map(
        lambda shape: ErrorCase(
            (torch.zeros(shape, dtype=dtype, device=device),),
            RuntimeError,
            SHAPE_ERROR,
            f"input of shape {shape} for normalized_shape={config.shape}",
        )
    )


def examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
    config = LayerNormConfig((2, 3), 1e-5, True, True, dtype, str(device))
    x = distinct_values((2, 2, 3), dtype, device)
    return [Example(config, (x,), "two normalized dims, affine with a bias, one batch dim")]


def contract_configs(device: torch.device | str) -> list[LayerNormConfig]:
    return [
        LayerNormConfig((2, 3), 1e-5, affine, bias, torch.float32, str(device))
        for affine, bias in ((True, True), (True, False), (False, True))
    ]


LAYER_NORM = LayerInfo(
    name="layer_norm",
    implementation="torch.nn:LayerNorm",
    contract=(
        "Name(normalized_shape, eps=..., elementwise_affine=..., bias=..., device=..., "
        "dtype=...) returning an nn.Module with .weight and .bias of the normalized shape, "
        "or None (elementwise_affine=False; bias=False)"
    ),
    configs=configs,
    inputs=inputs,
    reference=reference,
    parameters=parameters,
    contract_configs=contract_configs,
    dtypes=DTYPES,
    error_inputs=error_inputs,
    fixture="layer_norm_cls",
    examples=examples,
)
