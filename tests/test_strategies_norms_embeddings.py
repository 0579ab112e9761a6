"""layer_norm_configs/layer_norm_inputs and embedding_configs/embedding_inputs:
what they draw, what they reach, what they shrink to, and how they reject
bad arguments (InvalidArgument naming the argument and its value)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sampling import examples, shrunk
from torch import nn

from strategies import (
    INDEX_DTYPES,
    NORM_TYPES,
    EmbeddingConfig,
    LayerNormConfig,
    dtypes,
    embedding_configs,
    embedding_inputs,
    layer_norm_configs,
    layer_norm_inputs,
    layouts,
)
from strategies.norms import DEFAULT_EPS

# Warnings are failures: no strategy may warn on use, nor a layer built from a config.
pytestmark = pytest.mark.filterwarnings("error")

LN = LayerNormConfig((2, 3), 1e-5, True, True, torch.float32, "cpu")
EMB = EmbeddingConfig(4, 3, None, None, 2.0, False, torch.float32, "cpu")
EMPTY_TABLE = EmbeddingConfig(0, 3, None, None, 2.0, False, torch.float32, "cpu")

# -- LayerNorm ---------------------------------------------------------------------


@settings(max_examples=50)
@given(config=layer_norm_configs(dtype=dtypes()))
def test_layer_norm_config_builds_the_layer_its_kwargs_describe(config):
    assert 1 <= len(config.shape) <= 2
    assert all(1 <= s <= 4 for s in config.shape)
    assert 1e-6 <= config.eps <= 10.0  # the default min_eps and max_eps
    assert config.kwargs == {
        "normalized_shape": config.normalized_shape,
        "eps": config.eps,
        "elementwise_affine": config.elementwise_affine,
        "bias": config.bias,
        "dtype": config.dtype,
        "device": config.device,
    }
    layer = config.build()
    assert type(layer) is nn.LayerNorm
    assert layer.normalized_shape == config.shape
    assert layer.eps == config.eps
    assert (layer.weight is not None) == config.has_weight
    assert (layer.bias is not None) == config.has_bias
    for p in layer.parameters():
        assert p.shape == config.shape
        assert p.dtype == config.dtype


@settings(max_examples=30)
@given(config=layer_norm_configs(dtype=dtypes()))
def test_layer_norm_config_repr_is_the_constructor_call(config):
    layer = eval(repr(config), {"LayerNorm": nn.LayerNorm, "torch": torch})
    assert layer.normalized_shape == config.shape
    assert layer.eps == config.eps
    assert (layer.bias is not None) == config.has_bias


def test_layer_norm_configs_reach_both_forms_sizes_and_eps():
    drawn = examples(layer_norm_configs(min_side=0))
    assert {type(c.normalized_shape) for c in drawn} == {int, tuple}
    assert any(isinstance(c.normalized_shape, tuple) and len(c.shape) == 1 for c in drawn)
    sides = {s for c in drawn for s in c.shape}
    assert {0, 1, 4} <= sides
    assert DEFAULT_EPS in {c.eps for c in drawn}
    assert any(c.eps > 1.0 for c in drawn)
    assert {(c.elementwise_affine, c.bias) for c in drawn} == {
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    }


def test_layer_norm_configs_shrink_to_the_default_layer():
    config = shrunk(layer_norm_configs(), lambda _: True, seed=0)
    assert config == LayerNormConfig(1, DEFAULT_EPS, True, True, torch.float32, "cpu")


def test_layer_norm_configs_honour_fixed_choices():
    drawn = examples(layer_norm_configs(elementwise_affine=False, bias=False, min_eps=0.5), n=30)
    assert all(not c.elementwise_affine and not c.bias and c.eps >= 0.5 for c in drawn)


@settings(max_examples=50)
@given(data=st.data())
def test_layer_norm_inputs_fit_their_config(data):
    config = data.draw(layer_norm_configs(min_side=0, dtype=dtypes()), label="config")
    x = data.draw(layer_norm_inputs(config, layout=layouts()), label="x")
    assert x.shape[x.ndim - len(config.shape) :] == config.shape
    assert 0 <= x.ndim - len(config.shape) <= 2
    assert x.dtype == config.dtype
    assert config.build()(x).shape == x.shape


def test_layer_norm_inputs_reach_empty_batches_and_every_layout():
    drawn = examples(layer_norm_inputs(LN, layout=layouts()))
    batches = {tuple(x.shape[:-2]) for x in drawn}
    assert () in batches
    assert any(0 in b for b in batches)
    assert any(1 in b for b in batches)
    assert any(not x.is_contiguous() for x in drawn)
    assert any(0 in x.stride() for x in drawn if x.numel() > 1)  # expanded: repeated values


def test_layer_norm_inputs_shrink_to_an_unbatched_input_of_zeros():
    x = shrunk(layer_norm_inputs(LN), lambda _: True, seed=0)
    assert x.shape == (2, 3)
    assert not x.any()


# -- Embedding -------------------------------------------------------------------


@settings(max_examples=50)
@given(config=embedding_configs(dtype=dtypes()))
def test_embedding_config_builds_the_layer_its_kwargs_describe(config):
    assert 1 <= config.num_embeddings <= 8
    assert 1 <= config.embedding_dim <= 8
    assert config.kwargs == {
        "num_embeddings": config.num_embeddings,
        "embedding_dim": config.embedding_dim,
        "padding_idx": config.padding_idx,
        "max_norm": config.max_norm,
        "norm_type": config.norm_type,
        "scale_grad_by_freq": config.scale_grad_by_freq,
        "dtype": config.dtype,
        "device": config.device,
    }
    layer = config.build()
    assert type(layer) is nn.Embedding
    assert layer.weight.shape == (config.num_embeddings, config.embedding_dim)
    assert layer.weight.dtype == config.dtype
    assert layer.padding_idx == config.padding_row
    assert layer.max_norm == config.max_norm
    if config.padding_row is not None:
        assert not layer.weight[config.padding_row].any()


@settings(max_examples=30)
@given(config=embedding_configs())
def test_embedding_config_repr_is_the_constructor_call(config):
    layer = eval(repr(config), {"Embedding": nn.Embedding, "torch": torch, "inf": math.inf})
    assert layer.weight.shape == (config.num_embeddings, config.embedding_dim)
    assert layer.padding_idx == config.padding_row


def test_embedding_configs_reach_every_option():
    drawn = examples(embedding_configs())
    paddings = {c.padding_idx for c in drawn}
    assert None in paddings
    assert any(p is not None and p < 0 for p in paddings)
    assert any(p is not None and p >= 0 for p in paddings)
    assert None in {c.max_norm for c in drawn}
    assert all(0.5 <= c.max_norm <= 5.0 for c in drawn if c.max_norm is not None)
    assert {c.norm_type for c in drawn if c.max_norm is not None} == set(NORM_TYPES)
    assert {c.scale_grad_by_freq for c in drawn} == {True, False}


def test_embedding_configs_honour_fixed_choices():
    drawn = examples(
        embedding_configs(padding_idx=True, max_norm=True, scale_grad_by_freq=True, norm_types=[1]),
        n=30,
    )
    assert all(c.padding_idx is not None and c.max_norm is not None for c in drawn)
    assert all(c.scale_grad_by_freq and c.norm_type == 1.0 for c in drawn)
    never = examples(embedding_configs(padding_idx=False, max_norm=False), n=30)
    assert all(c.padding_idx is None and c.max_norm is None for c in never)


def test_embedding_configs_shrink_to_the_plainest_layer():
    config = shrunk(embedding_configs(min_embedding_dim=2), lambda _: True, seed=0)
    assert config == EmbeddingConfig(1, 2, None, None, 2.0, False, torch.float32, "cpu")


def test_empty_tables_are_never_padded():
    drawn = examples(embedding_configs(min_num_embeddings=0, max_num_embeddings=1), n=50)
    assert any(c.num_embeddings == 0 for c in drawn)
    assert all(c.padding_idx is None for c in drawn if c.num_embeddings == 0)


@settings(max_examples=50)
@given(data=st.data())
def test_embedding_inputs_index_the_table(data):
    config = data.draw(embedding_configs(min_num_embeddings=0), label="config")
    idx = data.draw(
        embedding_inputs(config, dtype=st.sampled_from(INDEX_DTYPES), layout=layouts()),
        label="indices",
    )
    assert idx.dtype in INDEX_DTYPES
    assert idx.ndim <= 2
    if idx.numel():
        assert int(idx.min()) >= 0
        assert int(idx.max()) < config.num_embeddings
    assert config.build()(idx).shape == (*idx.shape, config.embedding_dim)


def test_embedding_inputs_reach_0d_empty_repeated_and_non_contiguous_indices():
    drawn = examples(embedding_inputs(EMB, dtype=st.sampled_from(INDEX_DTYPES), layout=layouts()))
    assert any(i.ndim == 0 for i in drawn)
    assert any(i.numel() == 0 for i in drawn)
    assert any(not i.is_contiguous() for i in drawn)
    assert {i.dtype for i in drawn} == set(INDEX_DTYPES)
    assert any(len(set(i.reshape(-1).tolist())) < i.numel() for i in drawn)
    assert {v for i in drawn for v in i.reshape(-1).tolist()} == set(range(4))


def test_embedding_inputs_of_an_empty_table_are_empty():
    drawn = examples(embedding_inputs(EMPTY_TABLE), n=30)
    assert all(i.numel() == 0 and i.ndim >= 1 for i in drawn)


def test_embedding_inputs_shrink_to_index_zero():
    idx = shrunk(embedding_inputs(EMB, min_dims=1), lambda i: i.numel() > 0, seed=0)
    assert idx.tolist() == [0]


# -- validation ---------------------------------------------------------------------


def case(func: Callable[..., Any], kwargs: dict[str, Any], *fragments: str) -> Any:
    name = getattr(func, "__name__", None) or getattr(func, "func").__name__  # noqa: B009
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return pytest.param(func, kwargs, fragments, id=f"{name}({call})")


with_ln = functools.partial(layer_norm_inputs, LN)
with_emb = functools.partial(embedding_inputs, EMB)

CASES = [
    case(
        layer_norm_configs, {"min_normalized_dims": 0}, "min_normalized_dims=0 must be at least 1"
    ),
    case(layer_norm_configs, {"max_normalized_dims": 65}, "max_normalized_dims=65", "64"),
    case(
        layer_norm_configs,
        {"min_normalized_dims": 3, "max_normalized_dims": 2},
        "min_normalized_dims=3 is larger than max_normalized_dims=2",
    ),
    case(layer_norm_configs, {"min_side": -1}, "min_side=-1"),
    case(layer_norm_configs, {"max_side": 2.0}, "max_side=2.0 must be an int"),
    case(
        layer_norm_configs, {"min_side": 3, "max_side": 2}, "min_side=3 is larger than max_side=2"
    ),
    case(layer_norm_configs, {"min_eps": -1.0}, "min_eps=-1.0 must be a finite float >= 0"),
    case(layer_norm_configs, {"max_eps": math.inf}, "max_eps=inf"),
    case(layer_norm_configs, {"max_eps": "big"}, "max_eps='big' must be a float"),
    case(
        layer_norm_configs,
        {"min_eps": 1.0, "max_eps": 0.5},
        "min_eps=1.0 is larger than max_eps=0.5",
    ),
    case(layer_norm_configs, {"elementwise_affine": 1}, "elementwise_affine=1 must be a bool"),
    case(layer_norm_configs, {"bias": "no"}, "bias='no' must be a bool"),
    case(layer_norm_configs, {"dtype": torch.int64}, "dtype=torch.int64 must be a floating dtype"),
    case(layer_norm_configs, {"device": "gpu"}, "device='gpu'"),
    case(layer_norm_inputs, {"config": 3}, "config=3 must be a LayerNormConfig"),
    case(with_ln, {"min_batch_dims": -1}, "min_batch_dims=-1"),
    case(with_ln, {"max_batch_dims": 63}, "max_batch_dims=63", "62"),
    case(with_ln, {"min_batch_dims": 2, "max_batch_dims": 1}, "min_batch_dims=2 is larger"),
    case(with_ln, {"max_side": -1}, "max_side=-1"),
    case(with_ln, {"max_numel": 0}, "max_numel=0"),
    case(with_ln, {"layout": "strided"}, "layout='strided'"),
    case(with_ln, {"elements": [1.0]}, "elements=[1.0]"),
    case(with_ln, {"requires_grad": "yes"}, "requires_grad='yes'"),
    case(embedding_configs, {"min_num_embeddings": -1}, "min_num_embeddings=-1"),
    case(
        embedding_configs,
        {"min_embedding_dim": 4, "max_embedding_dim": 3},
        "min_embedding_dim=4 is larger than max_embedding_dim=3",
    ),
    case(embedding_configs, {"padding_idx": 2}, "padding_idx=2 must be a bool"),
    case(
        embedding_configs,
        {"padding_idx": True, "min_num_embeddings": 0},
        "padding_idx=True",
        "min_num_embeddings=0",
    ),
    case(embedding_configs, {"max_norm": 1.0}, "max_norm=1.0 must be a bool"),
    case(embedding_configs, {"min_max_norm": -0.5}, "min_max_norm=-0.5"),
    case(embedding_configs, {"max_max_norm": math.nan}, "max_max_norm=nan"),
    case(
        embedding_configs,
        {"min_max_norm": 2.0, "max_max_norm": 1.0},
        "min_max_norm=2.0 is larger than max_max_norm=1.0",
    ),
    case(embedding_configs, {"norm_types": []}, "norm_types=[] must not be empty"),
    case(embedding_configs, {"norm_types": "2"}, "norm_types='2' must be a collection"),
    case(embedding_configs, {"norm_types": [2.0, 0]}, "norm_types=[2.0, 0] contains 0"),
    case(embedding_configs, {"norm_types": [True]}, "contains True"),
    case(embedding_configs, {"scale_grad_by_freq": 0}, "scale_grad_by_freq=0 must be a bool"),
    case(embedding_configs, {"dtype": torch.int32}, "dtype=torch.int32 must be a floating dtype"),
    case(embedding_inputs, {"config": LN}, "config=LayerNorm", "must be an EmbeddingConfig"),
    case(with_emb, {"min_dims": 3, "max_dims": 2}, "min_dims=3 is larger than max_dims=2"),
    case(with_emb, {"max_dims": 64}, "max_dims=64", "63"),
    case(with_emb, {"max_side": -2}, "max_side=-2"),
    case(with_emb, {"dtype": torch.int16}, "dtype=torch.int16 is not an index dtype"),
    case(with_emb, {"dtype": torch.float32}, "dtype=torch.float32 is not an index dtype"),
    case(with_emb, {"layout": "sparse"}, "layout='sparse'"),
    case(
        functools.partial(embedding_inputs, EMPTY_TABLE),
        {"max_dims": 0},
        "config.num_embeddings=0",
        "max_dims=0",
    ),
]


@pytest.mark.parametrize(("func", "kwargs", "fragments"), CASES)
def test_invalid_argument_is_named_in_the_error(func, kwargs, fragments):
    with pytest.raises(InvalidArgument) as info:
        func(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        (layer_norm_configs(dtype=st.just(torch.int8)), "dtype=just(torch.int8) drew torch.int8"),
        (embedding_configs(device=st.just("gpu")), "device=just('gpu') drew 'gpu'"),
        (
            embedding_inputs(EMB, dtype=st.just(torch.int8)),
            "dtype=just(torch.int8) drew torch.int8",
        ),
    ],
)
def test_invalid_drawn_value_is_named_in_the_error(strategy, fragment):
    @settings(max_examples=5, database=None, derandomize=True, phases=[Phase.generate])
    @given(strategy)
    def draw(_: Any) -> None:
        pass

    with pytest.raises(InvalidArgument) as info:
        draw()
    assert fragment in str(info.value), str(info.value)


def test_valid_edge_arguments_are_accepted():
    layer_norm_configs(min_side=0, max_side=0, min_eps=0.0, max_eps=0.0).validate()
    layer_norm_configs(min_normalized_dims=64, max_normalized_dims=64).validate()
    embedding_configs(min_num_embeddings=0, max_num_embeddings=0, padding_idx=False).validate()
    embedding_configs(min_max_norm=0.0, max_max_norm=0.0, norm_types=[math.inf]).validate()
    embedding_inputs(EMPTY_TABLE, max_dims=1).validate()
    layer_norm_inputs(LN, max_batch_dims=62).validate()
