"""Layer configs and their inputs: linear_configs/linear_inputs, dropout_configs/dropout_inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sampling import examples, shrunk
from torch import nn

from strategies import (
    DROPOUT_KINDS,
    DropoutConfig,
    LinearConfig,
    devices,
    dropout_configs,
    dropout_inputs,
    dtypes,
    layouts,
    linear_configs,
    linear_inputs,
)

# Warnings are failures: dropout inputs must have ranks the layers take
# without a deprecation warning, and no strategy may warn on use.
pytestmark = pytest.mark.filterwarnings("error")

# -- Linear -------------------------------------------------------------------


@settings(max_examples=50)
@given(config=linear_configs(max_in_features=5, max_out_features=4, dtype=dtypes()))
def test_linear_config_builds_the_linear_its_kwargs_describe(config):
    assert 1 <= config.in_features <= 5
    assert 1 <= config.out_features <= 4
    assert config.kwargs == {
        "in_features": config.in_features,
        "out_features": config.out_features,
        "bias": config.bias,
        "dtype": config.dtype,
        "device": config.device,
    }
    layer = config.build()
    assert type(layer) is nn.Linear
    assert layer.weight.shape == (config.out_features, config.in_features)
    assert (layer.bias is not None) == config.bias
    for param in layer.parameters():
        assert param.dtype == config.dtype
        assert param.device == torch.device(config.device)


@settings(max_examples=30)
@given(config=linear_configs(dtype=dtypes(), device=devices()))
def test_linear_config_repr_is_the_constructor_call(config):
    layer = eval(repr(config), {"Linear": nn.Linear, "torch": torch})
    assert (layer.in_features, layer.out_features) == (config.in_features, config.out_features)
    assert (layer.bias is not None) == config.bias
    assert layer.weight.dtype == config.dtype
    assert layer.weight.device == torch.device(config.device)


def test_linear_config_builds_any_class_with_the_constructor_contract():
    class MyLinear(nn.Linear):
        pass

    config = LinearConfig(3, 2, bias=False, dtype=torch.float64, device="cpu")
    layer = config.build(MyLinear)
    assert type(layer) is MyLinear
    assert layer.bias is None


def test_linear_configs_draw_bias_unless_fixed():
    assert {c.bias for c in examples(linear_configs())} == {True, False}
    assert {c.bias for c in examples(linear_configs(bias=False), n=20)} == {False}


def test_linear_configs_shrink_toward_the_smallest_layer_with_bias():
    assert shrunk(linear_configs(min_in_features=2), lambda _: True, seed=0) == LinearConfig(
        2, 1, bias=True, dtype=torch.float32, device="cpu"
    )


@settings(max_examples=50)
@given(data=st.data())
def test_linear_inputs_fit_the_config(data):
    config = data.draw(linear_configs(dtype=dtypes()), label="config")
    x = data.draw(linear_inputs(config, min_batch_dims=0, max_batch_dims=2, max_side=3))
    batch = tuple(x.shape[:-1])
    assert x.shape[-1] == config.in_features
    assert len(batch) <= 2
    assert all(side <= 3 for side in batch)
    assert x.dtype == config.dtype
    assert x.device == torch.device(config.device)
    assert config.build()(x).shape == (*batch, config.out_features)


@settings(max_examples=30)
@given(data=st.data())
def test_linear_inputs_respect_max_numel_and_tensor_options(data):
    config = data.draw(linear_configs(max_in_features=4), label="config")
    x = data.draw(
        linear_inputs(config, max_numel=24, requires_grad=True, layout=layouts(), max_side=6)
    )
    assert x.numel() <= 24
    assert x.requires_grad
    assert x.is_leaf


def test_linear_inputs_reach_1d_and_empty_batches_within_budget():
    config = LinearConfig(3, 2, bias=True, dtype=torch.float32, device="cpu")
    drawn = examples(linear_inputs(config))
    assert any(x.ndim == 1 for x in drawn), "no unbatched (1-D) input"
    assert any(0 in x.shape[:-1] for x in drawn), "no empty batch"
    assert any(x.ndim == 4 for x in drawn), "max_batch_dims=3 never reached"


# -- Dropout ------------------------------------------------------------------


@settings(max_examples=50)
@given(config=dropout_configs())
def test_dropout_config_builds_its_layer(config):
    layer = config.build()
    assert type(layer) is getattr(nn, config.kind)
    assert (layer.p, layer.inplace) == (config.p, config.inplace)
    assert config.kwargs == {"p": config.p, "inplace": config.inplace}


@settings(max_examples=30)
@given(config=dropout_configs())
def test_dropout_config_repr_is_the_constructor_call(config):
    layer = eval(repr(config), vars(nn))
    assert type(layer) is config.module_class
    assert (layer.p, layer.inplace) == (config.p, config.inplace)


@settings(max_examples=50)
@given(config=dropout_configs(kinds=["Dropout2d", "AlphaDropout"], min_p=0.2, max_p=0.6))
def test_dropout_configs_respect_kinds_and_p_bounds(config):
    assert config.kind in ("Dropout2d", "AlphaDropout")
    assert 0.2 <= config.p <= 0.6


def test_dropout_configs_reach_both_ends_of_p_within_budget():
    ps = {c.p for c in examples(dropout_configs())}
    assert {0.0, 1.0} <= ps
    assert any(0 < p < 1 for p in ps)


def test_dropout_configs_reach_every_kind_and_inplace_within_budget():
    drawn = examples(dropout_configs())
    assert {c.kind for c in drawn} == set(DROPOUT_KINDS)
    assert {c.inplace for c in drawn} == {True, False}


@pytest.mark.parametrize(
    "bounds", [{}, {"min_p": 0.2}, {"min_p": 0.2, "max_p": 0.7}, {"max_p": 0.3}], ids=str
)
def test_dropout_configs_shrink_toward_plain_dropout_at_min_p(bounds):
    config = shrunk(dropout_configs(**bounds), lambda _: True, seed=0)
    assert config == DropoutConfig("Dropout", bounds.get("min_p", 0.0), inplace=False)


def test_dropout_configs_reach_p_1_above_a_min_p():
    ps = [c.p for c in examples(dropout_configs(min_p=0.2))]
    assert 1.0 in ps
    assert all(0.2 <= p <= 1.0 for p in ps)


@pytest.mark.parametrize("kind", DROPOUT_KINDS)
@settings(max_examples=25)
@given(data=st.data())
def test_dropout_inputs_have_ranks_the_layer_takes_without_warning(kind, data):
    config = data.draw(dropout_configs(kinds=[kind]), label="config")
    x = data.draw(dropout_inputs(config, max_side=4, max_numel=64), label="x")
    assert x.ndim in config.ranks
    assert all(side <= 4 for side in x.shape)
    assert x.numel() <= 64
    assert x.dtype == torch.float32
    out = config.build().train()(x)  # a warning here fails the test
    assert out.shape == x.shape


@pytest.mark.parametrize("kind", DROPOUT_KINDS)
def test_dropout_inputs_reach_every_accepted_rank_within_budget(kind):
    config = DropoutConfig(kind, 0.5, inplace=False)
    drawn = examples(dropout_inputs(config, dtype="float64"))
    assert {x.ndim for x in drawn} == set(config.ranks)
    assert all(x.dtype == torch.float64 for x in drawn)
    assert any(x.numel() == 0 for x in drawn), "no empty input"


@pytest.mark.parametrize("kind", ["Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"])
def test_channel_dim_is_where_whole_channels_are_dropped(kind):
    config = DropoutConfig(kind, 0.5, inplace=False)
    assert config.channel_dim == config.channel_dim_for(min(config.ranks))
    for ndim in config.ranks:
        channel = config.channel_dim_for(ndim)
        assert channel is not None
        assert 0 <= channel < ndim
        # Many channels: P(all kept or all dropped) = 2 * 2**-64.
        shape = [64 if d == channel else 3 for d in range(ndim)]
        with torch.random.fork_rng():
            torch.manual_seed(0)
            out = config.build().train()(torch.ones(shape))
        for d in range(channel + 1, ndim):  # within a channel: one decision
            assert torch.equal(out, out.narrow(d, 0, 1).expand_as(out)), (ndim, d)
        assert not torch.equal(out, out.narrow(channel, 0, 1).expand_as(out)), ndim


@pytest.mark.parametrize("kind", ["Dropout", "AlphaDropout"])
def test_elementwise_dropout_has_no_channel_dim(kind):
    config = DropoutConfig(kind, 0.5, inplace=False)
    assert config.channel_dim is None
    assert all(config.channel_dim_for(ndim) is None for ndim in config.ranks)


def test_linear_configs_resolve_a_drawn_dtype_name_and_device_name():
    # Drawn values are checked and normalised as fixed ones are: a name
    # becomes the torch.dtype nn.Linear needs (issue 12, item 10).
    strategy = linear_configs(
        dtype=st.sampled_from(["float64", "torch.float16"]), device=st.just(" CPU ")
    )
    drawn = examples(strategy, n=20)
    assert {c.dtype for c in drawn} == {torch.float64, torch.float16}
    assert {c.device for c in drawn} == {"cpu"}
    drawn[0].build()


def test_dropout_config_checks_its_kind_but_leaves_p_to_the_layer():
    with pytest.raises(InvalidArgument, match="kind='Bogus' is not one of 'Dropout'"):
        DropoutConfig("Bogus", 0.5, inplace=False)
    # p outside [0, 1] is kept: the suites build such configs to check that
    # the layer itself raises.
    config = DropoutConfig("Dropout", 1.5, inplace=False)
    with pytest.raises(ValueError, match="dropout probability"):
        config.build()
