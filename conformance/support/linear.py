"""What the Linear suites share: configs, building, drawing inputs, bounds.

``test_linear`` (against the float64 oracle) and ``test_parity`` (one device
against another) draw and build layers the same way, through the
constructor contract ``cls(in_features, out_features, bias=..., device=...,
dtype=...)`` and the ``.weight`` / ``.bias`` attributes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_dtype, assert_within, fail
from conformance.oracle import linear as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.support.canonical import canonical_first, cloned, distinct_values
from conformance.tolerances import agreement_bound, float_width, oracle_bound
from strategies import LinearConfig, linear_configs, linear_inputs, tensors

FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")
_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
NON_CONTIGUOUS = st.sampled_from(("transposed", "sliced", "expanded"))
SHAPE_ERROR = "mat1 and mat2 shapes cannot be multiplied"
RANK_ERROR = "at least 1D"
DTYPE_ERROR = "same dtype"


def configs(dtype: torch.dtype, device: torch.device | str) -> st.SearchStrategy[LinearConfig]:
    """:func:`any_configs`, whose first example is :func:`canonical_config`
    (:mod:`conformance.support.canonical`)."""
    return _configs(dtype, str(device))


@functools.lru_cache(maxsize=64)  # built once per dtype and device: asked on every example
def _configs(dtype: torch.dtype, device: str) -> st.SearchStrategy[LinearConfig]:
    return canonical_first(st.just(canonical_config(dtype, device)), any_configs(dtype, device))


@functools.lru_cache(maxsize=64)
def any_configs(dtype: torch.dtype, device: torch.device | str) -> st.SearchStrategy[LinearConfig]:
    """Linear configs that reach zero features (in=0: bias broadcast; out=0: empty output).

    Square layers are drawn on purpose, half the time: there ``A`` and ``A.T``
    have the same shape, so only the values can tell a transposition bug.
    """
    device = str(device)
    any_shape = linear_configs(min_in_features=0, min_out_features=0, dtype=dtype, device=device)
    square = st.integers(0, 8).flatmap(
        lambda n: linear_configs(
            min_in_features=n,
            max_in_features=n,
            min_out_features=n,
            max_out_features=n,
            dtype=dtype,
            device=device,
        )
    )
    return st.one_of(any_shape, square)


def canonical_config(dtype: torch.dtype, device: torch.device | str) -> LinearConfig:
    """``Linear(3, 3)`` with a bias: square, so only values tell ``A`` from ``A.T``;
    with a bias, initialised nonzero, so dropping it shows."""
    return LinearConfig(3, 3, True, dtype, str(device))


def canonical_input(config: LinearConfig, *, contiguous: bool = True) -> torch.Tensor:
    """``(2, in_features)`` distinct nonzero values: one batch dim of two rows.
    Not contiguous (a transposed ``(in_features, 2)``) when ``contiguous`` is False."""
    rows = (2, config.in_features) if contiguous else (config.in_features, 2)
    x = distinct_values(rows, config.dtype, config.device)
    return x if contiguous else x.t()


def inputs(
    config: LinearConfig,
    *,
    requires_grad: bool = False,
    layout: st.SearchStrategy[str] | str = "contiguous",
    **kwargs: Any,
) -> st.SearchStrategy[torch.Tensor]:
    """``linear_inputs(config, ...)``, whose first example, for the canonical
    config, is :func:`canonical_input` (non-contiguous when ``layout`` asks for
    other layouts only)."""
    general = linear_inputs(config, requires_grad=requires_grad, layout=layout, **kwargs)
    if config != canonical_config(config.dtype, config.device):
        return general
    x = canonical_input(config, contiguous=layout is not NON_CONTIGUOUS)
    canonical = cloned([x]).map(lambda t: t.requires_grad_(requires_grad))
    return canonical_first(canonical, general)


@contextlib.contextmanager
def constructing(seed: int, device: torch.device) -> Iterator[None]:
    """Seeded, and quiet about zero features ("Initializing zero-element tensors is a no-op")."""
    with seeded(seed, device), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        yield


def build(linear_cls: Callable[..., nn.Module], config: LinearConfig, seed: int) -> nn.Module:
    """``linear_cls(**config.kwargs)`` with a reproducible init."""
    with constructing(seed, torch.device(config.device)):
        return config.build(linear_cls)


def draw_module(
    data: st.DataObject, linear_cls: Callable[..., nn.Module], config: LinearConfig
) -> nn.Module:
    return build(linear_cls, config, data.draw(SEEDS, label="seed"))


def weight_of(module: nn.Module) -> torch.Tensor:
    return cast(torch.Tensor, module.weight)


def bias_of(module: nn.Module) -> torch.Tensor | None:
    return cast("torch.Tensor | None", module.bias)


def maybe_float64(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else to_float64(t)


def context(config: LinearConfig, x: torch.Tensor) -> str:
    """``"Linear(4, 3, bias=True, ...), x.shape=(2, 4)"``, plus strides when not contiguous."""
    strides = "" if x.is_contiguous() else f", x.stride={x.stride()}"
    return f"{config!r}, x.shape={tuple(x.shape)}{strides}"


def agreement(sums: oracle.Sums, dtype: torch.dtype) -> torch.Tensor:
    """How far two computations of ``sums`` in ``dtype`` may lie apart."""
    return agreement_bound(np.asarray(sums.scale), sums.terms, dtype)


def tolerance(sums: oracle.Sums, dtype: torch.dtype, *, tf32_enabled: bool = False) -> torch.Tensor:
    """Allowed ``|result - oracle|``: the oracle's own float64 sums are rounded too."""
    return oracle_bound(np.asarray(sums.scale), sums.terms, dtype, tf32_enabled=tf32_enabled)


def assert_device(name: str, t: torch.Tensor, device: torch.device | str, ctx: str) -> None:
    expected = torch.device(device)
    actual = t.device
    # "cuda" asks for the current CUDA device, whatever its index.
    if actual.type != expected.type or expected.index not in (None, actual.index):
        fail(f"{name}.device={actual}, but should be {expected}", ctx)


def assert_affine(
    y: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    config: LinearConfig,
    *,
    tf32_enabled: bool = False,
) -> None:
    """``y`` is ``x @ weight.T + bias`` in ``config``'s dtype, on its device, within rounding."""
    ctx = context(config, x)
    expected = oracle.affine(to_float64(x), to_float64(weight), maybe_float64(bias))
    assert_dtype("out", y.dtype, config.dtype, ctx)
    assert_device("out", y, config.device, ctx)
    bound = tolerance(expected, config.dtype, tf32_enabled=tf32_enabled)
    assert_within("out", y, expected.value, bound, ctx)


def floats(dtype: torch.dtype, bound: float) -> st.SearchStrategy[float]:
    """Finite values in ``[-bound, bound]`` at ``dtype``'s width, for ``tensors(elements=)``.

    bfloat16 values are drawn as float32 and rounded by ``torch.tensor``.
    """
    width = float_width(dtype)
    return st.floats(-bound, bound, width=width, allow_nan=False, allow_subnormal=False)


@st.composite
def wrong_feature_inputs(draw: st.DrawFn, config: LinearConfig) -> torch.Tensor:
    """Inputs like ``linear_inputs(config)`` whose last dim is not ``in_features``."""
    skip_own = st.integers(0, 8).map(lambda n: n if n < config.in_features else n + 1)
    features = draw(skip_own, label="x features")
    return draw(linear_inputs(dataclasses.replace(config, in_features=features)), label="x")


@st.composite
def mismatched_dtype_inputs(draw: st.DrawFn, config: LinearConfig) -> torch.Tensor:
    """Inputs of the right shape in a floating dtype other than the module's."""
    others = [dt for dt in _FLOATS if dt != config.dtype]
    dtype = draw(st.sampled_from(others), label="x dtype")
    return draw(linear_inputs(dataclasses.replace(config, dtype=dtype)), label="x")


@contextlib.contextmanager
def full_precision_reductions() -> Iterator[None]:
    """Turn off CUDA's reduced-precision reductions in float16 and bfloat16 GEMMs
    (on by default: ``torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction``
    and ``allow_bf16_...``; the "Numerical accuracy" notes), restoring them after.
    The flags exist, and change nothing, on builds without CUDA."""
    matmul = torch.backends.cuda.matmul
    saved = (
        matmul.allow_fp16_reduced_precision_reduction,
        matmul.allow_bf16_reduced_precision_reduction,
    )
    matmul.allow_fp16_reduced_precision_reduction = False
    matmul.allow_bf16_reduced_precision_reduction = False
    try:
        yield
    finally:
        (
            matmul.allow_fp16_reduced_precision_reduction,
            matmul.allow_bf16_reduced_precision_reduction,
        ) = saved


def zero_dim_inputs(config: LinearConfig) -> st.SearchStrategy[torch.Tensor]:
    return tensors(shape=(), dtype=config.dtype, device=config.device)
