"""Every invalid argument raises InvalidArgument at call time, naming itself and its value.

The strategies check their arguments eagerly, so each case below fails on
the call, before anything is drawn. The message must name the argument and
echo the value (``min_dims=5 is larger than max_dims=2``): the text is what a
user reads, so the text is what is tested.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies import (
    DropoutConfig,
    LinearConfig,
    broadcastable_pairs,
    build_model,
    devices,
    dropout_configs,
    dropout_inputs,
    dtypes,
    linear_configs,
    linear_inputs,
    model_configs,
    mutually_broadcastable_shapes,
    non_broadcastable_shapes,
    parse_device,
    resolve_dtype,
    shapes,
    tensors,
)

LINEAR = LinearConfig(3, 2, bias=True, dtype=torch.float32, device="cpu")
INT_LINEAR = LinearConfig(3, 2, bias=True, dtype=torch.int64, device="cpu")
DROPOUT = DropoutConfig("Dropout", 0.5, inplace=False)
MODEL = {
    "kind": "stack",
    "outer": "sequential",
    "inner": "sequential",
    "in_features": 2,
    "hidden_features": 2,
    "out_features": 2,
    "dropout_blocks": (True,),
    "p": 0.5,
}


def case(func: Callable[..., Any], kwargs: dict[str, Any], *fragments: str) -> Any:
    """One row: ``func(**kwargs)`` must fail with every fragment in its message."""
    name = getattr(func, "__name__", None) or func.func.__name__
    call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return pytest.param(func, kwargs, fragments, id=f"{name}({call})")


with_linear = functools.partial(linear_inputs, LINEAR)
with_int_linear = functools.partial(linear_inputs, INT_LINEAR)
with_dropout = functools.partial(dropout_inputs, DROPOUT)
model = functools.partial(build_model, **MODEL)

CASES = [
    # shapes() and the bounds every shape strategy shares
    case(shapes, {"min_dims": 5, "max_dims": 2}, "min_dims=5 is larger than max_dims=2"),
    case(shapes, {"min_dims": -1}, "min_dims=-1"),
    case(shapes, {"max_dims": -2}, "max_dims=-2"),
    case(shapes, {"min_side": -1}, "min_side=-1"),
    case(shapes, {"min_side": 4, "max_side": 3}, "min_side=4 is larger than max_side=3"),
    case(shapes, {"min_dims": 2.0}, "min_dims=2.0 must be an int"),
    case(shapes, {"max_side": True}, "max_side=True must be an int"),
    case(shapes, {"max_dims": "3"}, "max_dims='3'"),
    case(shapes, {"max_numel": -1}, "max_numel=-1"),
    case(shapes, {"min_dims": 2, "min_side": 2, "max_numel": 3}, "max_numel=3", "min_side=2"),
    # mutually_broadcastable_shapes()
    case(mutually_broadcastable_shapes, {"num_shapes": 0}, "num_shapes=0"),
    case(mutually_broadcastable_shapes, {"num_shapes": "2"}, "num_shapes='2'"),
    case(mutually_broadcastable_shapes, {"base_shape": (2, -1)}, "base_shape=(2, -1)"),
    case(mutually_broadcastable_shapes, {"base_shape": "ab"}, "base_shape='ab'"),
    case(
        mutually_broadcastable_shapes, {"base_shape": (600,)}, "base_shape=(600,)", "max_numel=512"
    ),
    case(
        mutually_broadcastable_shapes,
        {"base_shape": (7,), "min_side": 2, "max_side": 4},
        "base_shape=(7,)",
        "min_side=2",
        "max_side=4",
    ),
    case(mutually_broadcastable_shapes, {"min_dims": 3, "max_dims": 1}, "min_dims=3 is larger"),
    # non_broadcastable_shapes()
    case(non_broadcastable_shapes, {"num_shapes": 1}, "num_shapes=1"),
    case(non_broadcastable_shapes, {"min_dims": 0}, "min_dims=0"),
    case(non_broadcastable_shapes, {"max_side": 1}, "max_side=1"),
    case(non_broadcastable_shapes, {"max_dims": 0}, "min_dims=1 is larger than max_dims=0"),
    # tensors() and broadcastable_pairs()
    case(tensors, {"shape": (2, -1)}, "shape=(2, -1)"),
    case(tensors, {"shape": 3}, "shape=3"),
    case(tensors, {"shape": (2,), "dtype": "float128"}, "dtype='float128'"),
    case(tensors, {"shape": (2,), "dtype": float}, "dtype=<class 'float'>"),
    case(tensors, {"shape": (2,), "device": "gpu"}, "device='gpu'"),
    case(tensors, {"shape": (2,), "device": "cpu:0"}, "device='cpu:0'"),
    case(tensors, {"shape": (2,), "device": 0}, "device=0"),
    case(tensors, {"shape": (2,), "layout": "strided"}, "layout='strided'"),
    case(
        tensors,
        {"shape": (2,), "dtype": torch.int64, "requires_grad": True},
        "requires_grad=True",
        "dtype=torch.int64",
    ),
    case(tensors, {"shape": (2,), "requires_grad": "yes"}, "requires_grad='yes'"),
    case(tensors, {"shape": (2,), "elements": [1.0, 2.0]}, "elements=[1.0, 2.0]"),
    case(broadcastable_pairs, {"dtype": "half"}, "dtype='half'"),
    case(
        broadcastable_pairs, {"min_side": 3, "max_side": 1}, "min_side=3 is larger than max_side=1"
    ),
    case(broadcastable_pairs, {"elements": 3}, "elements=3"),
    case(
        broadcastable_pairs,
        {"dtype": torch.bool, "requires_grad": True},
        "requires_grad=True",
        "dtype=torch.bool",
    ),
    # dtypes() and devices()
    case(dtypes, {"kinds": ["float", "decimal"]}, "kinds=['float', 'decimal']", "'decimal'"),
    case(dtypes, {"kinds": []}, "kinds=[]"),
    case(dtypes, {"kinds": 5}, "kinds=5"),
    case(dtypes, {"low_precision": 1}, "low_precision=1"),
    case(resolve_dtype, {"dtype": "float128"}, "dtype='float128'"),
    case(parse_device, {"name": "tpu"}, "device='tpu'"),
    case(parse_device, {"name": "meta:1"}, "device='meta:1'"),
    case(devices, {"allow_meta": "yes"}, "allow_meta='yes'"),
    # linear_configs() and linear_inputs()
    case(
        linear_configs,
        {"min_in_features": 5, "max_in_features": 2},
        "min_in_features=5 is larger than max_in_features=2",
    ),
    case(linear_configs, {"min_out_features": -1}, "min_out_features=-1"),
    case(linear_configs, {"max_out_features": 2.5}, "max_out_features=2.5"),
    case(linear_configs, {"bias": "no"}, "bias='no'"),
    case(linear_configs, {"dtype": "float128"}, "dtype='float128'"),
    case(linear_configs, {"device": "tpu"}, "device='tpu'"),
    case(linear_inputs, {"config": None}, "config=None"),
    case(
        with_linear,
        {"min_batch_dims": 3, "max_batch_dims": 1},
        "min_batch_dims=3 is larger than max_batch_dims=1",
    ),
    case(with_linear, {"max_side": -1}, "max_side=-1"),
    case(with_linear, {"max_numel": 0}, "max_numel=0"),
    case(with_linear, {"layout": "diagonal"}, "layout='diagonal'"),
    case(with_linear, {"elements": 1.0}, "elements=1.0"),
    case(with_int_linear, {"requires_grad": True}, "requires_grad=True", "dtype=torch.int64"),
    # dropout_configs(), dropout_inputs() and DropoutConfig
    case(dropout_configs, {"kinds": ["Dropout4d"]}, "kinds=['Dropout4d']", "'Dropout4d'"),
    case(dropout_configs, {"min_p": -0.1}, "min_p=-0.1"),
    case(dropout_configs, {"max_p": 1.5}, "max_p=1.5"),
    case(dropout_configs, {"min_p": math.nan}, "min_p=nan"),
    case(dropout_configs, {"min_p": "0.1"}, "min_p='0.1'"),
    case(dropout_configs, {"min_p": 0.8, "max_p": 0.2}, "min_p=0.8 is larger than max_p=0.2"),
    case(dropout_configs, {"inplace": 1}, "inplace=1"),
    case(dropout_inputs, {"config": None}, "config=None"),
    case(with_dropout, {"dtype": torch.int64}, "dtype=torch.int64"),
    case(with_dropout, {"dtype": torch.complex64}, "dtype=torch.complex64"),
    case(with_dropout, {"max_side": -1}, "max_side=-1"),
    case(with_dropout, {"max_numel": 0}, "max_numel=0"),
    case(with_dropout, {"device": "cuda:x"}, "device='cuda:x'"),
    case(DropoutConfig("Dropout2d", 0.5, False).channel_dim_for, {"ndim": 3}, "ndim=3"),
    # model_configs() and build_model()
    case(model_configs, {"kinds": ["mlp"]}, "kinds=['mlp']", "'mlp'"),
    case(model_configs, {"containers": ["list"]}, "containers=['list']"),
    case(model_configs, {"min_depth": 0}, "min_depth=0"),
    case(model_configs, {"min_depth": 3, "max_depth": 2}, "min_depth=3 is larger than max_depth=2"),
    case(model_configs, {"max_features": 0}, "max_features=0"),
    case(model_configs, {"max_p": 2}, "max_p=2"),
    case(model, {"kind": "mlp"}, "kind='mlp'"),
    case(model, {"outer": "tuple"}, "outer='tuple'"),
    case(model, {"inner": "set"}, "inner='set'"),
]


@pytest.mark.parametrize(("func", "kwargs", "fragments"), CASES)
def test_invalid_argument_is_named_in_the_error(func, kwargs, fragments):
    with pytest.raises(InvalidArgument) as info:
        func(**kwargs)  # eager: raised by the call itself, not by a draw
    for fragment in fragments:
        assert fragment in str(info.value)


def test_invalid_argument_is_a_type_error():
    # Hypothesis' convention, so that callers can catch one familiar type.
    assert issubclass(InvalidArgument, TypeError)


def test_valid_edge_arguments_are_accepted():
    # The boundaries of the checks above are themselves valid.
    shapes(min_dims=3, max_dims=3, min_side=0, max_side=0, max_numel=0)
    mutually_broadcastable_shapes(num_shapes=1, base_shape=(512,))
    non_broadcastable_shapes(num_shapes=2, min_side=0, max_side=2)
    dropout_configs(min_p=1, max_p=1)
    tensors(shape=st.just((2,)), layout=st.just("no such layout"))  # checked when drawn
