"""batch_norm_configs / batch_norm_inputs: what they draw, how they shrink, and the
messages of their argument checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sampling import SHRINK_SEEDS, examples, shrunk
from torch import nn

from strategies import (
    BATCH_NORM_KINDS,
    SEEDED_FILL_MIN_NUMEL,
    BatchNormConfig,
    batch_norm_configs,
    batch_norm_inputs,
    dtypes,
    layouts,
)

pytestmark = pytest.mark.filterwarnings("error")


def _values_per_channel(x: torch.Tensor) -> int:
    return x.shape[0] * math.prod(x.shape[2:])


# -- configs ----------------------------------------------------------------------


@settings(max_examples=50)
@given(config=batch_norm_configs(max_num_features=5, dtype=dtypes(kinds=["float"])))
def test_config_builds_the_layer_its_kwargs_describe(config: BatchNormConfig) -> None:
    assert config.kind in BATCH_NORM_KINDS
    assert 1 <= config.num_features <= 5
    assert 1e-5 <= config.eps <= 0.1
    assert config.momentum is None or 0.0 <= config.momentum <= 1.0
    layer = config.build()
    assert type(layer) is getattr(nn, config.kind)
    assert config.kwargs == {
        "num_features": config.num_features,
        "eps": config.eps,
        "momentum": config.momentum,
        "affine": config.affine,
        "track_running_stats": config.track_running_stats,
        "device": config.device,
        "dtype": config.dtype,
    }
    assert (layer.weight is not None) == config.affine
    assert (layer.running_mean is not None) == config.track_running_stats
    if config.affine:
        assert layer.weight.dtype == config.dtype


@settings(max_examples=30)
@given(config=batch_norm_configs())
def test_config_repr_is_the_constructor_call(config: BatchNormConfig) -> None:
    names = {"BatchNorm1d": nn.BatchNorm1d, "BatchNorm2d": nn.BatchNorm2d, "torch": torch}
    layer = eval(repr(config), names)
    assert type(layer) is config.module_class
    assert (layer.num_features, layer.eps, layer.momentum) == (
        config.num_features,
        config.eps,
        config.momentum,
    )


def test_config_builds_any_class_with_the_constructor_contract() -> None:
    class MyBatchNorm(nn.BatchNorm2d):
        pass

    config = BatchNormConfig("BatchNorm2d", 3, 1e-3, None, False, False, torch.float64, "cpu")
    layer = config.build(MyBatchNorm)
    assert type(layer) is MyBatchNorm
    assert layer.weight is None
    assert layer.running_mean is None
    assert layer.momentum is None
    assert config.ranks == (4,)
    assert BatchNormConfig("BatchNorm1d", 1, 1e-5, 0.1, True, True, torch.float32, "cpu").ranks == (
        2,
        3,
    )


def test_configs_draw_every_flag_unless_fixed() -> None:
    drawn = examples(batch_norm_configs())
    assert {c.kind for c in drawn} == set(BATCH_NORM_KINDS)
    assert {c.affine for c in drawn} == {True, False}
    assert {c.track_running_stats for c in drawn} == {True, False}
    assert None in {c.momentum for c in drawn}
    assert {c.eps for c in drawn} > {1e-5}
    fixed = examples(
        batch_norm_configs(cumulative=False, affine=False, track_running_stats=True), n=20
    )
    assert all(c.momentum is not None and not c.affine and c.track_running_stats for c in fixed)
    assert all(c.momentum is None for c in examples(batch_norm_configs(cumulative=True), n=20))


def test_configs_shrink_toward_torchs_defaults() -> None:
    assert shrunk(batch_norm_configs(min_num_features=2), lambda _: True, seed=0) == (
        BatchNormConfig("BatchNorm1d", 2, 1e-5, 0.1, True, True, torch.float32, "cpu")
    )
    # momentum=0.1 out of range: the lower bound.
    assert shrunk(batch_norm_configs(min_momentum=0.5), lambda _: True, seed=0).momentum == 0.5


# -- inputs -----------------------------------------------------------------------


@settings(max_examples=100)
@given(data=st.data())
def test_inputs_fit_the_config_and_train(data: st.DataObject) -> None:
    config = data.draw(batch_norm_configs(max_num_features=3), label="config")
    x = data.draw(batch_norm_inputs(config, max_side=3, layout=layouts()), label="x")
    assert x.ndim in config.ranks
    assert x.shape[1] == config.num_features
    assert _values_per_channel(x) >= 2
    assert max(x.shape[:1] + x.shape[2:]) <= 3
    assert x.dtype == config.dtype
    layer = config.build().train()
    assert layer(x).shape == x.shape  # no "more than 1 value per channel" error


def test_inputs_reach_size_one_dims_and_non_contiguous_layouts() -> None:
    config = BatchNormConfig("BatchNorm2d", 2, 1e-5, 0.1, True, True, torch.float32, "cpu")
    drawn = examples(batch_norm_inputs(config, max_side=3, layout=layouts()))
    assert any(x.shape[0] == 1 for x in drawn)  # N = 1, spatial sides hold the values
    assert any(x.shape[2:] == (1, 1) for x in drawn)  # N >= 2, 1x1 images
    assert any(not x.is_contiguous() for x in drawn)


def test_inputs_admit_one_value_or_none_when_asked() -> None:
    config = BatchNormConfig("BatchNorm1d", 3, 1e-5, 0.1, True, True, torch.float32, "cpu")
    counts = {
        _values_per_channel(x)
        for x in examples(batch_norm_inputs(config, min_values_per_channel=1))
    }
    assert 1 in counts
    assert 0 not in counts
    counts = {
        _values_per_channel(x)
        for x in examples(batch_norm_inputs(config, min_values_per_channel=0))
    }
    assert 0 in counts


def test_inputs_keep_max_numel() -> None:
    config = BatchNormConfig("BatchNorm2d", 4, 1e-5, 0.1, True, True, torch.float32, "cpu")
    drawn = examples(batch_norm_inputs(config, max_side=6, max_numel=40), n=50)
    assert all(x.numel() <= 40 and _values_per_channel(x) >= 2 for x in drawn)


@pytest.mark.parametrize("seed", SHRINK_SEEDS)
def test_inputs_shrink_toward_the_smallest_trainable_batch(seed: int) -> None:
    """With every value drawn on its own (max_numel=SEEDED_FILL_MIN_NUMEL) a failure
    that needs one non-zero value shrinks to two values per channel, one of them 1.
    (With a drawn layout it may stop at a non-contiguous one, e.g. (1, 3, 1, 2).)"""
    for kind, smallest in (("BatchNorm1d", (2, 3)), ("BatchNorm2d", (2, 3, 1, 1))):
        config = BatchNormConfig(kind, 3, 1e-5, 0.1, True, True, torch.float32, "cpu")
        strategy = batch_norm_inputs(config, max_numel=SEEDED_FILL_MIN_NUMEL)
        x = shrunk(strategy, lambda t: bool((t != 0).any()), seed=seed)
        assert tuple(x.shape) == smallest
        assert sorted(set(x.flatten().tolist())) == [0.0, 1.0]


# -- argument checks ----------------------------------------------------------------

CONFIG = BatchNormConfig("BatchNorm2d", 3, 1e-5, 0.1, True, True, torch.float32, "cpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["BatchNorm3d"]}, "kinds=['BatchNorm3d'] contains 'BatchNorm3d'"),
        ({"kinds": []}, "kinds=[] must not be empty"),
        ({"min_num_features": -1}, "min_num_features=-1 must be at least 0"),
        ({"max_num_features": 2.5}, "max_num_features=2.5 must be an int"),
        (
            {"min_num_features": 5, "max_num_features": 2},
            "min_num_features=5 is larger than max_num_features=2",
        ),
        ({"min_eps": 0.0}, "min_eps=0.0 must be positive and finite"),
        ({"max_eps": math.inf}, "max_eps=inf must be positive and finite"),
        ({"min_eps": "1e-5"}, "min_eps='1e-5' must be a positive float"),
        ({"min_eps": 0.5, "max_eps": 0.1}, "min_eps=0.5 is larger than max_eps=0.1"),
        ({"min_momentum": -0.1}, "min_momentum=-0.1 must be in [0, 1]"),
        ({"max_momentum": 1.5}, "max_momentum=1.5 must be in [0, 1]"),
        (
            {"min_momentum": 0.8, "max_momentum": 0.2},
            "min_momentum=0.8 is larger than max_momentum=0.2",
        ),
        ({"cumulative": 1}, "cumulative=1 must be a bool"),
        ({"affine": "yes"}, "affine='yes' must be a bool"),
        ({"track_running_stats": 0}, "track_running_stats=0 must be a bool"),
        ({"dtype": torch.int64}, "dtype=torch.int64 must be a floating dtype for BatchNorm"),
    ],
)
def test_configs_reject_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        batch_norm_configs(**kwargs).validate()
    assert message in str(e.value)


def test_configs_check_drawn_dtypes() -> None:
    strategy = batch_norm_configs(dtype=st.just(torch.int32))
    with pytest.raises(InvalidArgument, match=r"dtype=just\(torch.int32\) drew torch.int32"):
        examples(strategy, n=1)


@pytest.mark.parametrize(
    ("config", "kwargs", "message"),
    [
        ("not a config", {}, "config='not a config' must be a BatchNormConfig"),
        (CONFIG, {"min_values_per_channel": -1}, "min_values_per_channel=-1 must be at least 0"),
        (CONFIG, {"max_side": -2}, "max_side=-2 must be at least 0"),
        (CONFIG, {"max_numel": 0}, "max_numel=0 must be at least 1"),
        (
            CONFIG,
            {"min_values_per_channel": 5, "max_side": 4},
            "min_values_per_channel=5 is larger than max_side=4",
        ),
        (
            CONFIG,
            {"max_numel": 5},
            "max_numel=5 is too small for 3 channels of min_values_per_channel=2 values",
        ),
        (CONFIG, {"layout": "diagonal"}, "layout='diagonal' is not one of"),
        (CONFIG, {"requires_grad": "no"}, "requires_grad='no' must be a bool"),
    ],
)
def test_inputs_reject_bad_arguments(config: object, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        batch_norm_inputs(config, **kwargs)  # type: ignore[arg-type]
    assert message in str(e.value)


def test_inputs_check_a_hand_built_config() -> None:
    bad = BatchNormConfig("BatchNorm1d", -1, 1e-5, 0.1, True, True, torch.float32, "cpu")
    with pytest.raises(InvalidArgument, match=r"config\.num_features=-1 must be at least 0"):
        batch_norm_inputs(bad)
    with pytest.raises(InvalidArgument, match="kind='BatchNorm3d' is not one of"):
        BatchNormConfig("BatchNorm3d", 1, 1e-5, 0.1, True, True, torch.float32, "cpu")
