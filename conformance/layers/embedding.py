"""``torch.nn.Embedding`` as a registry entry: a lookup of rows of ``weight``.

Inputs are integer index tensors; the generic checks' ``dtype`` is the
weight's floating dtype.

``max_norm`` is left out of the entry's configs: with it a call renormalises
the looked-up rows of ``weight`` in place, and the generic checks (here and
in ``test_module_contract``) call a module more than once, or a copy of it,
and expect the same result from the same state. In floating point the
renormalisation is not idempotent: a renormalised row's norm can land an ulp
above ``max_norm`` (the ``1e-7`` in ``max_norm / (norm + 1e-7)`` is below
float32's resolution for norms of 1 and more), so the next call shrinks it
again. ``test_embedding.py`` checks ``max_norm`` against the weight before
the call instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.layers import ErrorCase, Example, LayerInfo, Reference
from conformance.oracle import embedding as oracle
from strategies import (
    INDEX_DTYPES,
    EmbeddingConfig,
    embedding_configs,
    embedding_inputs,
    layouts,
)

#: A lookup is exact in every dtype: float16/bfloat16 would add cost, not checks.
DTYPES = ("float32", "float64")
#: ``embedding``'s index dtype check ("Expected tensor for argument #1 'indices' to
#: have one of the following scalar types: Long, Int"), the same on every device.
INDEX_DTYPE_ERROR = "scalar types"
#: An out-of-range index on the CPU: "index out of range in self" from the
#: lookup; "select(): index 9 out of range for tensor of size [5, 4]" when
#: ``max_norm``'s renormalisation reaches it first.
OUT_OF_RANGE_ERROR = "out of range"


def configs(dtype: torch.dtype, device: torch.device | str) -> st.SearchStrategy[EmbeddingConfig]:
    """Tables of 1 to 6 rows of 1 to 5, with and without padding_idx and
    scale_grad_by_freq; no max_norm (see the module docs)."""
    return _configs(dtype, str(device))


@functools.lru_cache(maxsize=32)
def _configs(dtype: torch.dtype, device: str) -> st.SearchStrategy[EmbeddingConfig]:
    # Built once per dtype and device: the generic checks ask on every example.
    return embedding_configs(
        min_num_embeddings=1,
        max_num_embeddings=6,
        max_embedding_dim=5,
        max_norm=False,
        dtype=dtype,
        device=device,
    )


@functools.lru_cache(maxsize=256)
def inputs(
    config: EmbeddingConfig, dtype: torch.dtype, device: torch.device | str
) -> st.SearchStrategy[tuple[torch.Tensor, ...]]:
    """int64 or int32 indices, 0-d to 3-d, in every layout."""
    return embedding_inputs(
        config,
        max_dims=3,
        max_side=3,
        dtype=st.sampled_from(INDEX_DTYPES),
        layout=layouts(),
        max_numel=24,
    ).map(lambda idx: (idx,))


def reference(
    config: EmbeddingConfig,
    params: Mapping[str, np.ndarray],
    inputs: tuple[np.ndarray, ...],
    training: bool,
) -> Reference:
    """The rows of ``weight`` at the indices."""
    (indices,) = inputs
    ref = oracle.lookup(params["weight"], indices)
    return Reference(ref.value, ref.scale, ref.terms)


def parameters(config: EmbeddingConfig) -> dict[str, tuple[int, ...] | None]:
    return {"weight": (config.num_embeddings, config.embedding_dim)}


def _indices(values: list[int], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def error_inputs(
    config: EmbeddingConfig, dtype: torch.dtype, device: torch.device | str
) -> st.SearchStrategy[ErrorCase]:
    """Indices of a dtype other than int64/int32; on the CPU also indices out of
    ``[0, num_embeddings)`` (on CUDA an out-of-range index is a device-side
    assertion that poisons the process, so it is not drawn there)."""
    n = config.num_embeddings
    wrong_dtype = st.sampled_from((torch.float32, torch.int16, torch.uint8)).map(
        lambda dt: ErrorCase(
            (_indices([0], dt, device),), RuntimeError, INDEX_DTYPE_ERROR, f"{dt} indices"
        )
    )
    if torch.device(device).type != "cpu":
        return wrong_dtype
    bad = st.one_of(st.integers(n, n + 3), st.integers(-n - 2, -1))
    out_of_range = st.tuples(bad, st.integers(0, 2)).map(
        lambda t: ErrorCase(
            (_indices([0] * t[1] + [t[0]], torch.int64, device),),
            IndexError,
            OUT_OF_RANGE_ERROR,
            f"index {t[0]} of a table of {n} rows",
        )
    )
    return st.one_of(out_of_range, wrong_dtype)


def examples(dtype: torch.dtype, device: torch.device) -> list[Example]:
    config = EmbeddingConfig(5, 3, 1, None, 2.0, True, dtype, str(device))
    indices = torch.tensor([[0, 1, 4], [2, 4, 3]], device=device)
    return [Example(config, (indices,), "every row looked up, the padding row too, row 4 twice")]


def contract_configs(device: torch.device | str) -> list[EmbeddingConfig]:
    return [
        EmbeddingConfig(4, 3, None, None, 2.0, False, torch.float32, str(device)),
        EmbeddingConfig(4, 3, 1, 1.0, 2.0, True, torch.float32, str(device)),
    ]


EMBEDDING = LayerInfo(
    name="embedding",
    implementation="torch.nn:Embedding",
    contract=(
        "Name(num_embeddings, embedding_dim, padding_idx=..., max_norm=..., norm_type=..., "
        "scale_grad_by_freq=..., device=..., dtype=...) returning an nn.Module with .weight "
        "of shape (num_embeddings, embedding_dim), called on integer index tensors"
    ),
    configs=configs,
    inputs=inputs,
    reference=reference,
    parameters=parameters,
    contract_configs=contract_configs,
    dtypes=DTYPES,
    error_inputs=error_inputs,
    fixture="embedding_cls",
    examples=examples,
)
