"""``torch.nn.BatchNorm1d`` and ``torch.nn.BatchNorm2d`` as registry entries.

Two kinds, ``batch_norm1d`` and ``batch_norm2d``, one per class, so that
``--target batch_norm2d=mypkg:MyBatchNorm2d`` checks a re-implementation of
BatchNorm2d on 4-D inputs only (one kind drawing both would build the target
for 2-D and 3-D inputs too). Both keep the constructor contract
``Name(num_features, eps=..., momentum=..., affine=..., track_running_stats=...,
device=..., dtype=...)`` with ``.weight`` / ``.bias`` of shape ``(C,)`` (None
without ``affine``) and the buffers ``running_mean``, ``running_var`` ``(C,)``
and ``num_batches_tracked`` ``()`` (none without ``track_running_stats``).

The reference (:func:`_reference`) normalises with the batch's own statistics
(biased variance) wherever :func:`conformance.oracle.batch_norm.uses_batch_statistics`
says so, and otherwise with the running buffers. The generic checks read the
buffers after the call: a training call updates them, but training normalises
with batch statistics and never reads them; an eval call leaves them as they
were. Its error bound is :func:`conformance.oracle.batch_norm.output_bound` for
the config's dtype, handed over as ``Reference(value, bound / gamma_2, terms=0)``
so that :func:`conformance.tolerances.oracle_bound` gives back the bound (plus
the float64 oracle's own share). The kind-specific checks are in
``conformance/test_batch_norm.py``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from conformance.oracle import batch_norm as oracle
from conformance.support.canonical import distinct_values
from conformance.tolerances import unit_roundoff
from strategies import (
    SEEDED_FILL_MIN_NUMEL,
    BatchNormConfig,
    batch_norm_configs,
    batch_norm_inputs,
    layouts,
    tensors,
)

#: The generic checks run on float32: BatchNorm's rules do not depend on the dtype
#: (torch's CPU kernels are one template), and each dtype costs a full set of
#: generic checks per kind (the error bounds hold for any dtype: the oracle takes
#: its unit roundoff).
FLOAT_DTYPES = ("float32",)
#: Small shapes: at most 3 channels, sides of at most 3, and at most 32 elements,
#: so every value is drawn on its own (strategies.SEEDED_FILL_MIN_NUMEL): failures
#: shrink to the fewest values, ``(2, 1)`` or ``(2, 1, 1, 1)``, not to a seeded fill.
MAX_FEATURES = 3
MAX_SIDE = 3
MAX_NUMEL = SEEDED_FILL_MIN_NUMEL

#: What torch raises for an input of another rank (``_check_input_dim``).
RANK_ERRORS = {"BatchNorm1d": "expected 2D or 3D input", "BatchNorm2d": "expected 4D input"}
#: What torch raises for another channel count: a buffer's or parameter's size
#: is checked against ``input.size(1)`` ("running_mean should contain 4 elements not 3").
CHANNEL_ERROR = "should contain"


Configs = Callable[[torch.dtype, torch.device], st.SearchStrategy[BatchNormConfig]]


@functools.cache
def configs_of(kind: str) -> Configs:
    """``configs(dtype, device)`` for one BatchNorm class, small (one function per class,
    each building its strategy once per dtype and device)."""

    @functools.lru_cache(maxsize=32)  # one strategy per dtype and device, built once
    def configs(dtype: torch.dtype, device: torch.device) -> st.SearchStrategy[BatchNormConfig]:
        return batch_norm_configs(
            kinds=[kind], max_num_features=MAX_FEATURES, dtype=dtype, device=str(device)
        )

    return configs


_LAYOUTS = layouts()


@functools.lru_cache(maxsize=1024)  # configs repeat: build each input strategy once
def inputs(
    config: BatchNormConfig, min_values: int = 2, requires_grad: bool = False
) -> st.SearchStrategy[torch.Tensor]:
    """Inputs for ``config``: at least ``min_values`` values per channel (2: what
    training needs), small, in any layout (non-contiguous ones included)."""
    return batch_norm_inputs(
        config,
        min_values_per_channel=min_values,
        max_side=MAX_SIDE,
        max_numel=MAX_NUMEL,
        layout=_LAYOUTS,
        requires_grad=requires_grad,
    )


@functools.lru_cache(maxsize=1024)
def _input_tuples(config: BatchNormConfig) -> st.SearchStrategy[tuple[torch.Tensor]]:
    return inputs(config).map(lambda x: (x,))


def _inputs(config: BatchNormConfig, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy:
    return _input_tuples(config)


def gamma(dtype: torch.dtype) -> float:
    """``gamma_2 = 2u / (1 - 2u)``: what ``oracle_bound`` multiplies a ``terms=0`` scale by."""
    u = unit_roundoff(dtype)
    return 2 * u / (1 - 2 * u)


def _reference(
    config: BatchNormConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    (x,) = inputs
    batch = oracle.uses_batch_statistics(training, config.track_running_stats)
    if batch:
        stats = oracle.batch_statistics(x)
        mean, var = stats.mean, stats.var
    else:
        mean, var = params["running_mean"], params["running_var"]
    weight, bias = params.get("weight"), params.get("bias")
    value = oracle.normalise(x, mean, var, config.eps, weight, bias)
    u, tiny = unit_roundoff(config.dtype), float(torch.finfo(config.dtype).tiny)
    bound = oracle.output_bound(x, mean, var, config.eps, weight, bias, u, batch=batch, tiny=tiny)
    return Reference(value, bound / gamma(config.dtype), terms=0)


def _parameters(config: BatchNormConfig) -> dict[str, tuple[int, ...] | None]:
    shape = (config.num_features,) if config.affine else None
    return {"weight": shape, "bias": shape}


def _buffers(config: BatchNormConfig) -> dict[str, tuple[int, ...]]:
    if not config.track_running_stats:
        # Registered as None: test_batch_norm checks they are absent.
        return {}
    c = config.num_features
    return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}


def _wrong_rank_inputs(config: BatchNormConfig, dtype: torch.dtype) -> st.SearchStrategy:
    ranks = [r for r in range(6) if r not in config.ranks]
    shapes = st.sampled_from(ranks).map(
        lambda r: (2, config.num_features, *(2,) * (r - 2)) if r >= 2 else (2,) * r
    )
    return shapes.flatmap(lambda s: tensors(shape=s, dtype=dtype, device=config.device))


def _error_inputs(
    config: BatchNormConfig, dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[ErrorCase]:
    """An input of a rank the class does not take, or (for a layer with parameters or
    running buffers, whose sizes torch checks) a non-empty input with another
    channel count. Empty inputs with another channel count are accepted by
    torch (pytorch#72821): ``test_batch_norm`` checks those apart."""
    rank_error = RANK_ERRORS[config.kind]
    wrong_rank = _wrong_rank_inputs(config, dtype).map(
        lambda x: ErrorCase((x,), ValueError, rank_error, f"{x.ndim}-d input")
    )
    if not (config.affine or config.track_running_stats):
        return wrong_rank
    others = [c for c in range(1, MAX_FEATURES + 2) if c != config.num_features]
    wrong = st.sampled_from(others).flatmap(
        lambda c: batch_norm_inputs(
            dataclasses.replace(config, num_features=c), max_side=MAX_SIDE, max_numel=MAX_NUMEL
        )
    )
    wrong_channels = wrong.map(
        lambda x: ErrorCase((x,), RuntimeError, CHANNEL_ERROR, f"{x.shape[1]} channels")
    )
    return st.one_of(wrong_rank, wrong_channels)


def _contract_configs(kind: str) -> Callable[[torch.device], list[BatchNormConfig]]:
    def contract_configs(device: torch.device) -> list[BatchNormConfig]:
        return [
            BatchNormConfig(kind, 3, 1e-5, 0.1, affine, track, torch.float32, str(device))
            for affine, track in ((True, True), (False, False))
        ]

    return contract_configs


def _examples(kind: str) -> Callable[[torch.dtype, torch.device], list[Example]]:
    def examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
        config = BatchNormConfig(kind, 3, 1e-5, 0.1, True, True, dtype, str(device))
        shape = (4, 3) if kind == "BatchNorm1d" else (2, 3, 2, 2)
        x = distinct_values(shape, dtype, device)  # every channel with its own mean and variance
        return [Example(config, (x,), "affine, tracking, distinct channel statistics")]

    return examples


def _info(name: str, kind: str) -> LayerInfo:
    return LayerInfo(
        name=name,
        implementation=f"torch.nn:{kind}",
        contract=(
            "Name(num_features, eps=..., momentum=..., affine=..., track_running_stats=..., "
            "device=..., dtype=...) returning an nn.Module with .weight and .bias of shape "
            "(num_features,) (None without affine) and buffers running_mean, running_var "
            "(num_features,) and num_batches_tracked () (None without track_running_stats)"
        ),
        configs=configs_of(kind),
        inputs=_inputs,
        reference=_reference,
        parameters=_parameters,
        buffers=_buffers,
        contract_configs=_contract_configs(kind),
        dtypes=FLOAT_DTYPES,
        error_inputs=_error_inputs,
        fixture="batch_norm_cls",
        examples=_examples(kind),
    )


BATCH_NORM1D = _info("batch_norm1d", "BatchNorm1d")
BATCH_NORM2D = _info("batch_norm2d", "BatchNorm2d")
