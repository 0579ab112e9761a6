"""Convolution configs and their inputs: conv_configs / conv_inputs.

Every drawn config builds, every drawn input is accepted and gives the
documented output shape; the edge cases (size-1 sides, empty batches,
unbatched and non-contiguous inputs, every padding form and mode, groups)
appear within one conformance run's budget; invalid arguments raise
``InvalidArgument`` naming the argument and its value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sampling import examples, shrunk
from torch import nn

from strategies import (
    PADDING_FORMS,
    PADDING_MODES,
    ConvConfig,
    conv_configs,
    conv_inputs,
    dtypes,
    layouts,
)

# No strategy may warn on use; a drawn config must not make torch warn on
# construction (zero-element init) either.
pytestmark = pytest.mark.filterwarnings("error", "ignore:Using padding='same':UserWarning")


def _form(config: ConvConfig) -> str:
    if isinstance(config.padding, str):
        return config.padding
    return "int" if isinstance(config.padding, int) else "tuple"


# -- configs ------------------------------------------------------------------


@settings(max_examples=60)
@given(ndim=st.sampled_from([1, 2]), data=st.data())
def test_conv_config_builds_the_layer_its_kwargs_describe(ndim, data):
    config = data.draw(conv_configs(ndim=ndim, dtype=dtypes(kinds=["float"])), label="config")
    assert set(config.kwargs) == {
        "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
        "groups", "bias", "padding_mode", "dtype", "device",
    }  # fmt: skip
    layer = config.build()
    assert type(layer) is config.module_class is (nn.Conv1d if ndim == 1 else nn.Conv2d)
    assert layer.weight.shape == config.weight_shape
    assert tuple(layer.kernel_size) == config.kernel
    assert tuple(layer.stride) == config.strides
    assert tuple(layer.dilation) == config.dilations
    assert (layer.bias is not None) == config.bias
    assert layer.weight.dtype == config.dtype
    assert config.in_channels % config.groups == 0
    assert config.out_channels % config.groups == 0
    if config.padding == "same":
        assert set(config.strides) == {1}


@settings(max_examples=30)
@given(config=conv_configs(ndim=2))
def test_conv_config_repr_is_the_constructor_call(config):
    layer = eval(repr(config), {"Conv2d": nn.Conv2d, "torch": torch})
    assert type(layer) is nn.Conv2d
    assert layer.weight.shape == config.weight_shape
    assert layer.padding_mode == config.padding_mode


def test_conv_config_builds_any_class_with_the_constructor_contract():
    class MyConv(nn.Conv1d):
        pass

    config = ConvConfig(1, 4, 2, 3, padding="same", groups=2, bias=False)
    layer = config.build(MyConv)
    assert type(layer) is MyConv
    assert layer.bias is None
    assert config.padding_pairs == ((1, 1),)


def test_padding_pairs_put_the_odd_same_padding_on_the_right():
    config = ConvConfig(2, 1, 1, (2, 3), padding="same", dilation=(3, 1))
    assert config.padding_pairs == ((1, 2), (1, 1))
    assert ConvConfig(1, 1, 1, 3, padding="valid").padding_pairs == ((0, 0),)
    assert ConvConfig(2, 1, 1, 3, padding=(2, 0)).padding_pairs == ((2, 2), (0, 0))


def test_conv_configs_reach_every_form_mode_and_groups_within_budget():
    drawn = examples(conv_configs(ndim=2))
    assert {_form(c) for c in drawn} == set(PADDING_FORMS)
    assert {c.padding_mode for c in drawn} == set(PADDING_MODES)
    assert {c.groups for c in drawn} >= {1, 2}
    assert any(c.groups == c.in_channels > 1 for c in drawn), "no depthwise layer"
    assert {c.bias for c in drawn} == {True, False}
    assert any(isinstance(c.kernel_size, tuple) and len(set(c.kernel)) > 1 for c in drawn)
    assert any(max(c.strides) > 1 for c in drawn)
    assert any(max(c.dilations) > 1 for c in drawn)


def test_conv_configs_respect_their_bounds_and_choices():
    strategy = conv_configs(
        ndim=1,
        min_in_channels=2,
        max_in_channels=2,
        min_kernel_size=2,
        max_stride=1,
        padding_forms=["tuple"],
        padding_modes=["circular"],
        bias=False,
    )
    for c in examples(strategy, n=30):
        assert c.in_channels == 2
        assert min(c.kernel) >= 2
        assert c.strides == (1,)
        assert isinstance(c.padding, tuple)
        assert c.padding_mode == "circular"
        assert c.bias is False


def test_same_only_forces_stride_one():
    for c in examples(conv_configs(ndim=2, padding_forms=["same"]), n=30):
        assert c.padding == "same"
        assert c.strides == (1, 1)


@pytest.mark.parametrize("ndim", [1, 2])
def test_conv_configs_shrink_toward_the_smallest_layer(ndim):
    assert shrunk(conv_configs(ndim=ndim), lambda _: True, seed=0) == ConvConfig(
        ndim, 1, 1, 1, stride=1, padding=0, dilation=1, groups=1, bias=True
    )


def test_conv_configs_shrink_a_groups_condition_to_two_groups():
    found = shrunk(conv_configs(ndim=1), lambda c: c.groups > 1, seed=0)
    assert (found.groups, found.in_channels, found.out_channels) == (2, 2, 2)


# -- inputs -------------------------------------------------------------------


@settings(max_examples=80)
@given(ndim=st.sampled_from([1, 2]), data=st.data())
def test_conv_inputs_are_accepted_and_give_the_formula_shape(ndim, data):
    config = data.draw(conv_configs(ndim=ndim), label="config")
    x = data.draw(conv_inputs(config, layout=layouts()), label="x")
    assert x.ndim in (ndim + 1, ndim + 2)
    assert x.shape[-ndim - 1] == config.in_channels
    out = config.build()(x)
    lead = tuple(x.shape[: x.ndim - ndim - 1])
    assert out.shape == (*lead, config.out_channels, *config.output_size(x.shape[-ndim:]))


def test_conv_inputs_reach_the_edge_cases_within_budget():
    config = ConvConfig(2, 2, 3, 3, padding=1, padding_mode="reflect")
    drawn = examples(conv_inputs(config, layout=layouts()))
    assert any(x.ndim == 3 for x in drawn), "no unbatched input"
    assert any(x.ndim == 4 and x.shape[0] == 0 for x in drawn), "no empty batch"
    assert any(1 in x.shape[-2:] for x in drawn) is False  # reflect needs sides > padding
    assert any(2 in x.shape[-2:] for x in drawn), "no side at its smallest"
    assert any(not x.is_contiguous() for x in drawn), "no non-contiguous input"
    ones = examples(conv_inputs(ConvConfig(1, 1, 1, 1)))
    assert any(x.shape[-1] == 1 for x in ones), "no size-1 side"


def test_conv_inputs_respect_batched_and_tensor_options():
    config = ConvConfig(1, 3, 2, 2, dtype=torch.float64)
    for x in examples(conv_inputs(config, batched=True, min_batch=2, max_batch=2), n=20):
        assert x.shape[0] == 2
        assert x.dtype == torch.float64
    for x in examples(conv_inputs(config, batched=False, requires_grad=True), n=20):
        assert x.ndim == 2
        assert x.requires_grad
        assert x.is_leaf


def test_conv_inputs_lift_max_side_to_the_smallest_accepted_side():
    # kernel 3 dilated by 2 spans 5: every side is 5 however small max_side is.
    config = ConvConfig(2, 1, 1, 3, dilation=2)
    assert config.min_input_size == (5, 5)
    assert {tuple(x.shape[-2:]) for x in examples(conv_inputs(config, max_side=0), n=10)} == {
        (5, 5)
    }


def test_min_input_size_follows_each_padding_mode():
    base: dict[str, Any] = {
        "ndim": 1,
        "in_channels": 1,
        "out_channels": 1,
        "kernel_size": 3,
        "padding": 2,
    }
    sizes = {m: ConvConfig(**base, padding_mode=m).min_input_size for m in PADDING_MODES}
    assert sizes == {"zeros": (1,), "reflect": (3,), "replicate": (1,), "circular": (2,)}


# -- validation ---------------------------------------------------------------

CONFIG = ConvConfig(1, 2, 2, 3)


def case(func: Callable[..., Any], kwargs: dict[str, Any], *fragments: str) -> Any:
    name = func.func.__name__ if isinstance(func, functools.partial) else func.__name__
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return pytest.param(func, kwargs, fragments, id=f"{name}({call})")


configs1 = functools.partial(conv_configs, ndim=1)
with_config = functools.partial(conv_inputs, CONFIG)

CASES = [
    case(conv_configs, {"ndim": 3}, "ndim=3 is not one of 1, 2"),
    case(conv_configs, {"ndim": "1"}, "ndim='1' must be an int"),
    case(conv_configs, {"ndim": True}, "ndim=True must be an int"),
    case(configs1, {"min_in_channels": -1}, "min_in_channels=-1 must be at least 0"),
    case(configs1, {"max_out_channels": 0}, "max_out_channels=0 must be at least 1"),
    case(
        configs1,
        {"min_kernel_size": 3, "max_kernel_size": 2},
        "min_kernel_size=3 is larger than max_kernel_size=2",
    ),
    case(configs1, {"min_stride": 0}, "min_stride=0 must be at least 1"),
    case(configs1, {"max_padding": -1}, "max_padding=-1 must be at least 0"),
    case(configs1, {"max_dilation": 1.5}, "max_dilation=1.5 must be an int"),
    case(configs1, {"min_groups": 0}, "min_groups=0 must be at least 1"),
    case(configs1, {"min_groups": 3, "max_groups": 2}, "min_groups=3 is larger than max_groups=2"),
    case(
        configs1,
        {"min_groups": 3, "max_in_channels": 2, "max_groups": 3},
        "no groups in [min_groups=3, max_groups=3]",
    ),
    case(configs1, {"padding_forms": ["full"]}, "padding_forms=['full'] contains 'full'"),
    case(configs1, {"padding_forms": []}, "padding_forms=[] must not be empty"),
    case(
        configs1,
        {"padding_modes": ["symmetric"]},
        "padding_modes=['symmetric'] contains 'symmetric'",
    ),
    case(
        configs1,
        {"padding_forms": ["same"], "min_stride": 2, "max_stride": 2},
        "needs min_stride=1, not min_stride=2",
    ),
    case(configs1, {"bias": 1}, "bias=1 must be a bool"),
    case(configs1, {"dtype": torch.int64}, "dtype=torch.int64 must be a floating or complex dtype"),
    case(configs1, {"dtype": "float128"}, "dtype='float128'"),
    case(configs1, {"device": "tpu"}, "device='tpu'"),
    case(conv_inputs, {"config": "conv"}, "config='conv' must be a ConvConfig"),
    case(conv_inputs, {"config": ConvConfig(3, 1, 1, 1)}, "config.ndim=3 is not one of 1, 2"),
    case(conv_inputs, {"config": ConvConfig(1, 1, 1, 0)}, "config.kernel_size=0 must be an int"),
    case(conv_inputs, {"config": ConvConfig(2, 1, 1, (3,))}, "config.kernel_size=(3,) must be"),
    case(conv_inputs, {"config": ConvConfig(1, 1, 1, 3, padding="full")}, "config.padding='full'"),
    case(
        conv_inputs,
        {"config": ConvConfig(1, 1, 1, 3, padding_mode="edge")},
        "config.padding_mode='edge'",
    ),
    case(with_config, {"batched": 1}, "batched=1 must be a bool"),
    case(with_config, {"min_batch": 3, "max_batch": 1}, "min_batch=3 is larger than max_batch=1"),
    case(with_config, {"min_batch": -1}, "min_batch=-1 must be at least 0"),
    case(with_config, {"max_side": -1}, "max_side=-1 must be at least 0"),
    case(with_config, {"layout": "diagonal"}, "layout='diagonal'"),
    case(with_config, {"elements": [1.0]}, "elements=[1.0] must be a strategy"),
]


@pytest.mark.parametrize(("func", "kwargs", "fragments"), CASES)
def test_invalid_argument_is_named_in_the_error(func, kwargs, fragments):
    with pytest.raises(InvalidArgument) as info:
        func(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_invalid_drawn_dtype_is_named_in_the_error():
    strategy = conv_configs(ndim=1, dtype=st.just(torch.int32))
    with pytest.raises(InvalidArgument, match=r"dtype=just\(torch.int32\) drew torch.int32"):
        examples(strategy, n=1)
