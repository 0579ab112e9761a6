"""Conformance of ``nn.Embedding`` beyond the registry's generic checks.

The generic checks (``test_registered_layers``, kind ``embedding``) hold the
output to the rows of the weight, the declared weight, the rejected index
dtypes (and, on the CPU, out-of-range indices) and in-place weight updates,
over configs without ``max_norm`` (a call with it changes the weight: see
:mod:`conformance.layers.embedding`).
This suite adds what no table says: the weight's gradient (scattered rows,
none for ``padding_idx``, ``scale_grad_by_freq``); the zero padding row at
construction; ``max_norm``'s in-place renormalisation of the looked-up rows,
against the weight before the call; ``from_pretrained`` with and without
``freeze``; and out-of-range indices through every execution mode, and what
a rejected call leaves behind.

The class under test comes from the ``embedding_cls`` fixture
(``torch.nn.Embedding`` unless ``--target embedding=...`` replaces it), built
through ``cls(num_embeddings, embedding_dim, padding_idx=..., max_norm=...,
norm_type=..., scale_grad_by_freq=..., device=..., dtype=...)``. Checks that
call it take the ``mode`` fixture and call ``mode.wrap(module)``.

Sources: the ``torch.nn.Embedding`` docs, torch/nn/modules/sparse.py,
torch/nn/functional.py (``embedding``) and aten/src/ATen/native/Embedding.cpp
(torch 2.13.0); see :mod:`conformance.oracle.embedding`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_equal, assert_raises, assert_shape, assert_within, fail
from conformance.layers import embedding as entry
from conformance.modes import Mode
from conformance.oracle import embedding as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.support.canonical import canonical_first, cloned, nonzero_first
from conformance.tolerances import oracle_bound, unit_roundoff
from strategies import (
    INDEX_DTYPES,
    EmbeddingConfig,
    embedding_configs,
    embedding_inputs,
    layouts,
    tensors,
)

#: Out-of-range indices are only drawn on the CPU: on CUDA one is a device-side
#: assertion that leaves the process's CUDA context unusable.
CPU_ONLY = "an out-of-range index on an accelerator is a device-side assertion, not an exception"
_GRAD_ELEMENTS = st.floats(-10.0, 10.0, allow_nan=False, width=32)


@functools.lru_cache(maxsize=16)
def _configs(dtype: torch.dtype, device: str, **fixed: Any) -> st.SearchStrategy[EmbeddingConfig]:
    """The registry's tables, ``max_norm`` drawn too (the entry leaves it out)."""
    return embedding_configs(
        max_num_embeddings=6, max_embedding_dim=5, dtype=dtype, device=device, **fixed
    )


def _build(data: st.DataObject, cls: Any, config: EmbeddingConfig) -> nn.Module:
    with seeded(data.draw(SEEDS, label="seed"), torch.device(config.device)):
        return config.build(cls)


def _weight(module: nn.Module) -> torch.Tensor:
    w = getattr(module, "weight", None)
    if not isinstance(w, torch.Tensor):
        fail(f"{type(module).__name__}.weight is {type(w).__name__}, but should be a tensor")
    return w


@functools.lru_cache(maxsize=16)
def _first_configs(dtype: torch.dtype, device: torch.device) -> st.SearchStrategy[EmbeddingConfig]:
    """:func:`_configs`, the registry's canonical table first (padding_idx, every row
    looked up, one twice, with ``scale_grad_by_freq``)."""
    (canonical, *_) = entry.EMBEDDING.canonical_examples(dtype, device)
    return canonical_first(st.just(canonical.config), _configs(dtype, str(device)))


def _indices(config: EmbeddingConfig) -> st.SearchStrategy[torch.Tensor]:
    """Indices for ``config``: the canonical ones first for the canonical table."""
    general = _any_indices(config)
    device = torch.device(config.device)
    (canonical, *_) = entry.EMBEDDING.canonical_examples(config.dtype, device)
    if config != canonical.config:
        return general
    return canonical_first(cloned([canonical.inputs[0]]), general)


def _any_indices(config: EmbeddingConfig) -> st.SearchStrategy[torch.Tensor]:
    return embedding_inputs(
        config,
        max_dims=2,
        max_side=4,
        dtype=st.sampled_from(INDEX_DTYPES),
        layout=layouts(),
        max_numel=16,
    )


def _context(config: EmbeddingConfig, idx: torch.Tensor, extra: str = "") -> str:
    shown = idx.tolist() if idx.numel() <= 16 else f"shape {tuple(idx.shape)}"
    return f"{config!r}, indices={shown}{f'; {extra}' if extra else ''}"


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_embedding_weight_gradient(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    embedding_cls: Any,
    mode: Mode,
) -> None:
    """``backward(g)`` through ``Embedding(idx)`` adds each row of ``g`` into the
    weight row its index names; the ``padding_idx`` row gets zero; with
    ``scale_grad_by_freq`` each contribution is divided by how often its index
    occurs. With ``max_norm`` too (the renormalisation runs under no_grad)."""
    config = data.draw(_first_configs(dtype, device), label="config")
    module = _build(data, embedding_cls, config)
    idx = data.draw(_indices(config), label="indices")
    shape = (*idx.shape, config.embedding_dim)
    any_g = tensors(shape=shape, dtype=dtype, device=device, elements=_GRAD_ELEMENTS)
    g = data.draw(nonzero_first(any_g, shape, dtype, device), label="grad_out")
    ctx = _context(config, idx, mode.describe())
    out = mode.wrap(module)(idx)
    assert_shape("out", out.shape, g.shape, ctx)
    out.backward(g)
    weight = _weight(module)
    expected = oracle.weight_grad(
        config.num_embeddings,
        idx.cpu().numpy(),
        to_float64(g),
        config.padding_idx,
        config.scale_grad_by_freq,
    )
    if weight.grad is None:
        fail("weight.grad is None, but should be a tensor", ctx)
    bound = oracle_bound(expected.scale, expected.terms, dtype)
    assert_within("weight.grad", weight.grad, expected.value, bound, ctx)


#: (num_embeddings, embedding_dim, padding_idx): first, last and middle rows,
#: negative ones counted from the end, a one-row table.
PADDED_TABLES = ((4, 3, 0), (4, 3, 3), (4, 3, -1), (4, 3, -4), (5, 2, 2), (1, 4, 0), (1, 4, -1))


@pytest.mark.dtypes("float32")
def test_embedding_padding_row_starts_at_zero(
    device: torch.device, dtype: torch.dtype, embedding_cls: Any
) -> None:
    """A new Embedding's ``padding_idx`` row is zeros (a negative ``padding_idx``
    counts from the end), whatever the seed; the other rows are not all zero
    (they are drawn from N(0, 1))."""
    for num, dim, padding_idx in PADDED_TABLES:
        for seed in (0, 1):
            config = EmbeddingConfig(num, dim, padding_idx, None, 2.0, False, dtype, str(device))
            with seeded(seed, device):
                module = config.build(embedding_cls)
            weight = _weight(module).detach()
            row = config.padding_row
            assert row is not None
            ctx = f"{config!r}, seed {seed}"
            assert_equal(f"weight[{row}] (the padding row)", weight[row], np.zeros(dim), ctx)
            others = torch.cat([weight[:row], weight[row + 1 :]])
            if others.numel() and not bool(others.abs().sum() > 0):
                fail("every row but the padding row is zero, but should be drawn from N(0, 1)", ctx)


def _check_rows(
    name: str,
    actual: torch.Tensor,
    rows: np.ndarray,
    before: np.ndarray,
    expected: oracle.Renorm,
    norm_type: float,
    dtype: torch.dtype,
    ctx: str,
) -> None:
    """``actual[k]`` is row ``rows[k]`` as the renormalisation must leave it:
    renormalised (within the bound), exactly as before, or either near the threshold."""
    got = to_float64(actual).reshape(len(rows), before.shape[1])
    bound = oracle_bound(expected.scale, expected.terms, dtype)
    for k, r in enumerate(rows):
        label = f"{name}[{k}] (row {r})" if name == "out" else f"{name}[{r}]"
        if expected.kept[r] or (expected.either[r] and np.array_equal(got[k], before[r])):
            if not np.array_equal(got[k], before[r]):
                norm = np.linalg.norm(before[r], ord=norm_type)
                fail(
                    f"{label}={got[k].tolist()}, but should be unchanged, {before[r].tolist()} "
                    f"(norm {norm:.6g}{' not looked up' if name != 'out' else ''})",
                    ctx,
                )
            continue
        assert_within(label, got[k], expected.renormed[r], bound[r], ctx)


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_embedding_max_norm_renormalises_looked_up_rows(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    embedding_cls: Any,
    mode: Mode,
) -> None:
    """With ``max_norm``, each distinct looked-up row whose ``norm_type``-norm
    exceeds ``max_norm`` is multiplied by ``max_norm / (norm + 1e-7)`` in the
    weight itself, before the lookup; every other row stays bitwise as it was;
    the output is the rows after renormalisation. Rows within rounding of the
    threshold may go either way. Checked against the weight *before* the call."""
    config = data.draw(_configs(dtype, str(device), max_norm=True), label="config")
    module = _build(data, embedding_cls, config)
    idx = data.draw(_indices(config), label="indices")
    weight = _weight(module)
    before = to_float64(weight)
    ctx = _context(config, idx, mode.describe())
    out = mode.wrap(module)(idx)
    assert config.max_norm is not None  # max_norm=True
    flat = idx.cpu().numpy().reshape(-1).astype(np.int64)
    expected = oracle.renorm(
        before, flat, config.max_norm, config.norm_type, unit_roundoff=unit_roundoff(dtype)
    )
    after = _weight(module)
    rows = np.arange(config.num_embeddings)
    _check_rows("weight", after, rows, before, expected, config.norm_type, dtype, ctx)
    assert_shape("out", out.shape, (*idx.shape, config.embedding_dim), ctx)
    _check_rows("out", out, flat, before, expected, config.norm_type, dtype, ctx)


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_embedding_from_pretrained(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    embedding_cls: Any,
    mode: Mode,
) -> None:
    """``from_pretrained(W, freeze=..., padding_idx=...)`` looks up rows of ``W``
    exactly as given (its padding row is not zeroed); ``freeze=True`` (the
    default) makes the weight not require grad and the output carry no graph;
    ``freeze=False`` trains it, the padding row getting no gradient. Skipped for
    an implementation without ``from_pretrained``."""
    from_pretrained = getattr(embedding_cls, "from_pretrained", None)
    if from_pretrained is None:
        pytest.skip(f"{embedding_cls!r} has no from_pretrained")
    config = data.draw(entry.EMBEDDING.example_configs(dtype, device), label="config")
    shape = (config.num_embeddings, config.embedding_dim)
    any_table = tensors(shape=shape, dtype=dtype, device=device, elements=_GRAD_ELEMENTS)
    pretrained = data.draw(nonzero_first(any_table, shape, dtype, device), label="embeddings")
    freeze = data.draw(st.sampled_from([True, False]), label="freeze")
    original = pretrained.clone()
    module = from_pretrained(pretrained, freeze=freeze, padding_idx=config.padding_idx)
    idx = data.draw(_indices(config), label="indices")
    ctx = _context(config, idx, f"from_pretrained(freeze={freeze}); {mode.describe()}")
    weight = _weight(module)
    assert_equal("weight", weight, to_float64(original), ctx)
    if weight.requires_grad == freeze:
        fail(f"weight.requires_grad={weight.requires_grad}, but should be {not freeze}", ctx)
    out = mode.wrap(module)(idx)
    assert_equal("out", out, oracle.lookup(to_float64(original), idx.cpu().numpy()).value, ctx)
    if freeze:
        if out.requires_grad:
            fail("out.requires_grad=True, but a frozen embedding should record no graph", ctx)
        return
    g = data.draw(
        tensors(shape=tuple(out.shape), dtype=dtype, device=device, elements=_GRAD_ELEMENTS),
        label="grad_out",
    )
    out.backward(g)
    expected = oracle.weight_grad(
        config.num_embeddings, idx.cpu().numpy(), to_float64(g), config.padding_idx, False
    )
    if weight.grad is None:
        fail("weight.grad is None, but should be a tensor (freeze=False)", ctx)
    assert_within(
        "weight.grad",
        weight.grad,
        expected.value,
        oracle_bound(expected.scale, expected.terms, dtype),
        ctx,
    )


def _out_of_range(config: EmbeddingConfig) -> st.SearchStrategy[list[int]]:
    """In-range indices with one index out of ``[0, num_embeddings)`` among them."""
    n = config.num_embeddings
    bad = st.one_of(st.integers(n, n + 3), st.integers(-n - 2, -1))
    good = st.lists(st.integers(0, max(n - 1, 0)), max_size=3) if n else st.just([])
    return st.tuples(good, bad, st.integers(0, 3)).map(
        lambda t: [*t[0][: t[2]], t[1], *t[0][t[2] :]]
    )


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_embedding_rejects_out_of_range_indices(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    embedding_cls: Any,
    mode: Mode,
) -> None:
    """An index outside ``[0, num_embeddings)`` (negative ones included: they do
    not count from the end) raises, in every mode: IndexError eagerly ("index out
    of range in self"; "select(): index ... out of range" when ``max_norm``'s
    renormalisation reaches it first), RuntimeError from TorchScript. CPU only."""
    if device.type != "cpu":
        pytest.skip(CPU_ONLY)
    config = data.draw(_configs(dtype, str(device)), label="config")
    module = _build(data, embedding_cls, config)
    values = data.draw(_out_of_range(config), label="indices")
    idx = torch.tensor(values, dtype=torch.int64, device=device)
    wrapped = mode.wrap(module)
    assert_raises(
        (IndexError, RuntimeError),
        lambda: wrapped(idx),
        what="layer(indices)",
        match=entry.OUT_OF_RANGE_ERROR,
        context=_context(config, idx, mode.describe()),
    )


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_embedding_rejected_call_leaves_weight_unchanged(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, embedding_cls: Any
) -> None:
    """A call that raises for an out-of-range index leaves the weight as it was,
    ``max_norm`` or not: a rejected batch must not renormalise the rows of the
    batch's valid indices (nor, through a negative index, a row counted from the
    end). CPU only."""
    if device.type != "cpu":
        pytest.skip(CPU_ONLY)
    # max_norm <= 1: N(0, 1) rows of 1 to 5 mostly exceed it.
    config = data.draw(
        _configs(dtype, str(device), max_norm=True, max_max_norm=1.0), label="config"
    )
    module = _build(data, embedding_cls, config)
    values = data.draw(_out_of_range(config), label="indices")
    idx = torch.tensor(values, dtype=torch.int64, device=device)
    before = _weight(module).detach().clone()
    ctx = _context(config, idx)
    assert_raises(
        (IndexError, RuntimeError),
        lambda: module(idx),
        what="layer(indices)",
        match=entry.OUT_OF_RANGE_ERROR,
        context=ctx,
    )
    assert_equal("weight after the rejected call", _weight(module), before, ctx)
