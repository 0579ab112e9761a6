"""Configs for ``nn.Embedding`` and index tensors that fit them.

A config is plain data: ``config.kwargs`` is the keyword dict a user would
write, and ``config.build()`` constructs the layer through ``cls(**kwargs)``,
so any implementation with the same constructor contract can be swapped in:
``config.build(MyEmbedding)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import nn

from strategies._validation import (
    check_drawn,
    check_int,
    check_interval,
    check_optional_bool,
)
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.shapes import DEFAULT_MAX_NUMEL, MAX_DIMS, shapes
from strategies.tensors import tensors

__all__ = [
    "INDEX_DTYPES",
    "NORM_TYPES",
    "EmbeddingConfig",
    "embedding_configs",
    "embedding_inputs",
]

#: The index dtypes ``nn.Embedding`` accepts (``embedding``'s argument check:
#: "Long, Int"); int64 first, the usual one.
INDEX_DTYPES: tuple[torch.dtype, ...] = (torch.int64, torch.int32)

#: Default ``norm_type`` values drawn for ``max_norm``: the default 2 first.
NORM_TYPES: tuple[float, ...] = (2.0, 1.0, 3.0, math.inf)


@dataclasses.dataclass(frozen=True)
class EmbeddingConfig:
    """What an ``nn.Embedding`` is built from (``sparse`` is left at its default)."""

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None
    max_norm: float | None
    norm_type: float
    scale_grad_by_freq: bool
    dtype: torch.dtype
    device: str

    @property
    def padding_row(self) -> int | None:
        """The row ``padding_idx`` names, a negative one counted from the end
        (``padding_idx=-1`` is row ``num_embeddings - 1``)."""
        p = self.padding_idx
        return None if p is None else p + self.num_embeddings if p < 0 else p

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword dict: ``nn.Embedding(**config.kwargs)``."""
        return dataclasses.asdict(self)

    def build(self, cls: Any = nn.Embedding) -> nn.Module:
        module: nn.Module = cls(**self.kwargs)
        return module

    def __repr__(self) -> str:
        return (
            f"Embedding({self.num_embeddings}, {self.embedding_dim}, "
            f"padding_idx={self.padding_idx!r}, max_norm={self.max_norm!r}, "
            f"norm_type={self.norm_type!r}, scale_grad_by_freq={self.scale_grad_by_freq}, "
            f"dtype={self.dtype}, device={self.device!r})"
        )


def _floating_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if not dt.is_floating_point:
        # The weight is a Parameter that requires grad: torch refuses integers.
        raise InvalidArgument(f"dtype={dt} must be a floating dtype for nn.Embedding's weight")
    return dt


def _index_dtype(dtype: Any) -> torch.dtype:
    dt = resolve_dtype(dtype)
    if dt not in INDEX_DTYPES:
        raise InvalidArgument(
            f"dtype={dt} is not an index dtype nn.Embedding accepts; expected int64 or int32"
        )
    return dt


def _arg(value: Any, check: Any) -> Any:
    return value if isinstance(value, st.SearchStrategy) else check(value)


def _fixed_or_drawn(draw: st.DrawFn, value: Any, label: str, check: Any) -> Any:
    if isinstance(value, st.SearchStrategy):
        return check_drawn(draw(value, label=label), label, value, check)
    return value


def _check_norm(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}={value!r} must be a float")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidArgument(f"{name}={value!r} must be a finite float >= 0")


def _check_norm_types(values: Any) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Collection):
        raise InvalidArgument(f"norm_types={values!r} must be a collection of floats")
    chosen = tuple(values)
    if not chosen:
        raise InvalidArgument(f"norm_types={values!r} must not be empty")
    for p in chosen:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p <= 0:
            raise InvalidArgument(
                f"norm_types={values!r} contains {p!r}, which is not a float > 0 "
                "(a p-norm's p; math.inf for the largest absolute value)"
            )
    return tuple(float(p) for p in chosen)


_FALSE_FIRST = st.booleans()


@st.composite
def _embedding_configs(
    draw: st.DrawFn,
    sizes: tuple[int, int, int, int],
    padding: bool | None,
    renorm: bool | None,
    max_norms: st.SearchStrategy[float],
    norm_types: st.SearchStrategy[float],
    scale_grad_by_freq: bool | None,
    dtype: Any,
    device: Any,
) -> EmbeddingConfig:
    min_num, max_num, min_dim, max_dim = sizes
    num = draw(st.integers(min_num, max_num), label="num_embeddings")
    dim = draw(st.integers(min_dim, max_dim), label="embedding_dim")
    # Every part is drawn whether it is used or not: a stable draw sequence.
    has_padding = draw(_FALSE_FIRST, label="has padding_idx")
    rows = max(num, 1)
    padding_idx = draw(st.integers(-rows, rows - 1), label="padding_idx")
    has_max_norm = draw(_FALSE_FIRST, label="has max_norm")
    max_norm = draw(max_norms, label="max_norm")
    norm_type = draw(norm_types, label="norm_type")
    by_freq = draw(_FALSE_FIRST, label="scale_grad_by_freq")
    use_padding = (has_padding if padding is None else padding) and num > 0
    use_max_norm = has_max_norm if renorm is None else renorm
    return EmbeddingConfig(
        num_embeddings=num,
        embedding_dim=dim,
        padding_idx=padding_idx if use_padding else None,
        max_norm=max_norm if use_max_norm else None,
        norm_type=norm_type,
        scale_grad_by_freq=by_freq if scale_grad_by_freq is None else scale_grad_by_freq,
        dtype=_fixed_or_drawn(draw, dtype, "dtype", _floating_dtype),
        device=_fixed_or_drawn(draw, device, "device", parse_device),
    )


def embedding_configs(
    *,
    min_num_embeddings: int = 1,
    max_num_embeddings: int = 8,
    min_embedding_dim: int = 1,
    max_embedding_dim: int = 8,
    padding_idx: bool | None = None,
    max_norm: bool | None = None,
    min_max_norm: float = 0.5,
    max_max_norm: float = 5.0,
    norm_types: Collection[float] = NORM_TYPES,
    scale_grad_by_freq: bool | None = None,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.float32,
    device: str | st.SearchStrategy[Any] = "cpu",
) -> st.SearchStrategy[EmbeddingConfig]:
    """Configs for ``nn.Embedding``: table size, ``padding_idx``, ``max_norm``, gradient scaling.

    ``padding_idx`` and ``max_norm`` say whether a config sets one: True
    always, False never, None (default) drawn. A drawn ``padding_idx`` lies in
    ``[-num_embeddings, num_embeddings - 1]`` (negative ones count from the
    end); a drawn ``max_norm`` in [``min_max_norm``, ``max_max_norm``], with
    ``norm_type`` from ``norm_types`` (p > 0; ``math.inf`` for the largest
    absolute value). ``scale_grad_by_freq`` is drawn when None. ``dtype``
    (the weight's, floating) and ``device`` are values or strategies, checked
    as drawn. ``min_num_embeddings=0`` reaches an empty table (never with a
    ``padding_idx``). Shrinks toward ``Embedding(min_num_embeddings,
    min_embedding_dim)`` with nothing else set.

    >>> from strategies import embedding_configs
    >>> cfg = embedding_configs(padding_idx=True).example()  # doctest: +SKIP
    >>> cfg.build().padding_idx == cfg.padding_row  # doctest: +SKIP
    True
    """
    for name, value in [
        ("min_num_embeddings", min_num_embeddings),
        ("max_num_embeddings", max_num_embeddings),
        ("min_embedding_dim", min_embedding_dim),
        ("max_embedding_dim", max_embedding_dim),
    ]:
        check_int(value, name, min_value=0)
    check_interval(
        min_num_embeddings, max_num_embeddings, "min_num_embeddings", "max_num_embeddings"
    )
    check_interval(min_embedding_dim, max_embedding_dim, "min_embedding_dim", "max_embedding_dim")
    check_optional_bool(padding_idx, "padding_idx")
    if padding_idx is True and min_num_embeddings == 0:
        raise InvalidArgument(
            "padding_idx=True needs min_num_embeddings >= 1 (an empty table has no row to pad "
            "with), not min_num_embeddings=0"
        )
    check_optional_bool(max_norm, "max_norm")
    _check_norm(min_max_norm, "min_max_norm")
    _check_norm(max_max_norm, "max_max_norm")
    check_interval(min_max_norm, max_max_norm, "min_max_norm", "max_max_norm")
    chosen_norm_types = _check_norm_types(norm_types)
    check_optional_bool(scale_grad_by_freq, "scale_grad_by_freq")
    max_norms = st.floats(
        float(min_max_norm), float(max_max_norm), allow_nan=False, allow_infinity=False
    )
    return _embedding_configs(
        (min_num_embeddings, max_num_embeddings, min_embedding_dim, max_embedding_dim),
        padding_idx,
        max_norm,
        max_norms,
        st.sampled_from(chosen_norm_types),
        scale_grad_by_freq,
        _arg(dtype, _floating_dtype),
        _arg(device, parse_device),
    )


def embedding_inputs(
    config: EmbeddingConfig,
    *,
    min_dims: int = 0,
    max_dims: int = 2,
    max_side: int = 4,
    dtype: torch.dtype | str | st.SearchStrategy[torch.dtype] = torch.int64,
    layout: Any = "contiguous",
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[torch.Tensor]:
    """Index tensors for an Embedding config: values in ``[0, num_embeddings)``.

    Shapes have ``min_dims`` to ``max_dims`` dims (0-d indices give one
    row; sides include 0 and 1), on the config's device. ``dtype`` is the
    index dtype, int64 or int32, or a strategy of them (e.g.
    ``st.sampled_from(INDEX_DTYPES)``); ``layout`` one of
    :data:`~strategies.LAYOUTS` or a strategy of them (an ``expanded`` index
    tensor repeats indices). For ``num_embeddings=0`` only empty index
    tensors exist: the first side is 0 (``max_dims >= 1`` is needed). Indices
    shrink toward 0 (the padding row, when ``padding_idx`` shrinks too).

    >>> from strategies import embedding_configs, embedding_inputs
    >>> from hypothesis import given, strategies as st
    >>> @given(st.data())
    ... def test_lookup(data):
    ...     cfg = data.draw(embedding_configs(max_norm=False), label="cfg")
    ...     idx = data.draw(embedding_inputs(cfg), label="idx")
    ...     layer = cfg.build()
    ...     assert layer(idx).shape == (*idx.shape, cfg.embedding_dim)
    """
    if not isinstance(config, EmbeddingConfig):
        raise InvalidArgument(f"config={config!r} must be an EmbeddingConfig")
    check_int(config.num_embeddings, "config.num_embeddings", min_value=0)
    most = MAX_DIMS - 1
    why = f"{most}: with the embedding dim, {MAX_DIMS} dims at most"
    check_int(min_dims, "min_dims", min_value=0, max_value=most, max_reason=why)
    check_int(max_dims, "max_dims", min_value=0, max_value=most, max_reason=why)
    check_interval(min_dims, max_dims, "min_dims", "max_dims")
    check_int(max_side, "max_side", min_value=0)
    check_int(max_numel, "max_numel", min_value=1)
    empty_table = config.num_embeddings == 0
    if empty_table and max_dims == 0:
        raise InvalidArgument(
            "config.num_embeddings=0 admits only empty index tensors, which need max_dims >= 1, "
            "not max_dims=0"
        )
    shape = shapes(
        min_dims=max(min_dims, 1) if empty_table else min_dims,
        max_dims=max_dims,
        max_side=max_side,
        max_numel=max_numel,
    )
    if empty_table:
        shape = shape.map(lambda s: (0, *s[1:]))
    elements = st.integers(0, max(config.num_embeddings - 1, 0))
    device = parse_device(config.device)
    if not isinstance(dtype, st.SearchStrategy):
        dt = _index_dtype(dtype)
        return tensors(shape=shape, dtype=dt, device=device, elements=elements, layout=layout)
    # One tensor strategy per index dtype, built once (not on every draw).
    by_dtype = {
        dt: tensors(shape=shape, dtype=dt, device=device, elements=elements, layout=layout)
        for dt in INDEX_DTYPES
    }
    return _indices_of_drawn_dtype(dtype, by_dtype)


@st.composite
def _indices_of_drawn_dtype(
    draw: st.DrawFn,
    dtypes: st.SearchStrategy[torch.dtype],
    by_dtype: dict[torch.dtype, st.SearchStrategy[torch.Tensor]],
) -> torch.Tensor:
    dt = check_drawn(draw(dtypes, label="dtype"), "dtype", dtypes, _index_dtype)
    return draw(by_dtype[dt], label="indices")
