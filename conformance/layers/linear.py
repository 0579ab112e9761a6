"""``torch.nn.Linear`` as a registry entry: ``y = x A^T + b`` over the last dim."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from conformance.oracle import linear as oracle
from conformance.support import linear as support
from strategies import LinearConfig, linear_inputs


def _inputs(config: LinearConfig, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy:
    return linear_inputs(config).map(lambda x: (x,))


def _reference(
    config: LinearConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    value, scale, terms = oracle.affine(inputs[0], params["weight"], params.get("bias"))
    return Reference(value, scale, terms)


def _parameters(config: LinearConfig) -> dict[str, tuple[int, ...] | None]:
    return {
        "weight": (config.out_features, config.in_features),
        "bias": (config.out_features,) if config.bias else None,
    }


def _error_inputs(
    config: LinearConfig, dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[ErrorCase]:
    """A wrong number of features, a 0-d input, or an input of another floating dtype."""
    wrong_features = support.wrong_feature_inputs(config).map(
        lambda x: ErrorCase((x,), RuntimeError, support.SHAPE_ERROR, "wrong in_features")
    )
    zero_dim = support.zero_dim_inputs(config).map(
        lambda x: ErrorCase((x,), RuntimeError, support.RANK_ERROR, "0-d input")
    )
    other_dtype = support.mismatched_dtype_inputs(config).map(
        lambda x: ErrorCase((x,), RuntimeError, support.DTYPE_ERROR, "input of another dtype")
    )
    return st.one_of(wrong_features, zero_dim, other_dtype)


def _examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
    config = support.canonical_config(dtype, device)
    return [
        Example(
            config,
            (support.canonical_input(config),),
            "square, with a bias; one batch dim of distinct nonzero values",
        )
    ]


def _contract_configs(device: torch.device) -> list[LinearConfig]:
    return [LinearConfig(3, 2, bias, torch.float32, str(device)) for bias in (True, False)]


LINEAR = LayerInfo(
    name="linear",
    implementation="torch.nn:Linear",
    contract=(
        "Name(in_features, out_features, bias=..., device=..., dtype=...) returning an "
        "nn.Module with .weight of shape (out_features, in_features) and .bias of shape "
        "(out_features,) or None"
    ),
    configs=support.any_configs,
    inputs=_inputs,
    reference=_reference,
    parameters=_parameters,
    contract_configs=_contract_configs,
    dtypes=support.FLOAT_DTYPES,
    error_inputs=_error_inputs,
    fixture="linear_cls",
    examples=_examples,
)
