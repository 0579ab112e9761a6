"""``torch.nn.Dropout`` as a registry entry: random in training, the identity in eval."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import Example, LayerInfo, Reference
from conformance.support.canonical import distinct_values
from strategies import DropoutConfig, dropout_configs, dropout_inputs


def _configs(dtype: torch.dtype, device: torch.device) -> st.SearchStrategy[DropoutConfig]:
    return dropout_configs(kinds=["Dropout"])


def _inputs(config: DropoutConfig, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy:
    return dropout_inputs(config, dtype=dtype, device=device).map(lambda x: (x,))


def _reference(
    config: DropoutConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    # Only eval is deterministic (random_in_training): there dropout is the identity.
    (x,) = inputs
    return Reference(x, np.abs(x), 0)


def _examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
    x = distinct_values((4, 8), dtype, device)
    return [Example(DropoutConfig("Dropout", 0.5, False), (x,), "p=0.5 on distinct nonzero values")]


def _contract_configs(device: torch.device) -> list[DropoutConfig]:
    return [DropoutConfig("Dropout", 0.5, False), DropoutConfig("Dropout", 0.0, True)]


DROPOUT = LayerInfo(
    name="dropout",
    implementation="torch.nn:Dropout",
    contract="Name(p=..., inplace=...) returning an nn.Module",
    configs=_configs,
    inputs=_inputs,
    reference=_reference,
    parameters=lambda config: {},
    contract_configs=_contract_configs,
    random_in_training=True,
    dtypes=("float32", "float64", "float16", "bfloat16"),
    fixture="dropout_cls",
    examples=_examples,
)
