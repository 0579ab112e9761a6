"""Conformance of argument conventions: module and functional forms, config dicts.

- A module computes what its functional form computes from the module's own
  state: ``nn.Linear`` / ``F.linear``, ``nn.Dropout`` / ``F.dropout`` (with
  ``training=module.training``), ``nn.Conv1d`` / ``F.conv1d``. The functional
  forms take their arguments by keyword in any order.
- A module built from a config dict, ``cls(**config)`` or through a factory
  ``create_model(cls, **config)``, is the module its positional construction
  builds: same type, repr, state_dict and, from the same seed, values.

Sources: torch/nn/modules/linear.py, dropout.py, conv.py (each ``forward``
calls the functional form; the ``__init__`` signatures), torch/nn/functional.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_equal, assert_within, fail
from conformance.layers import is_own_implementation
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import agreement_bound, tf32
from strategies import (
    ModelConfig,
    build_model,
    dropout_configs,
    dropout_inputs,
    linear_configs,
    linear_inputs,
    model_configs,
    tensors,
)


def create_model(cls: Callable[..., nn.Module], **config: Any) -> nn.Module:
    """The factory pattern config files are written for."""
    return cls(**config)


def shuffled(data: st.DataObject, kwargs: dict[str, Any], label: str) -> dict[str, Any]:
    """``kwargs`` in a drawn order: keywords bind by name, whatever the order."""
    order = data.draw(st.permutations(list(kwargs)), label=label)
    return {name: kwargs[name] for name in order}


def assert_same_module(actual: nn.Module, expected: nn.Module, context: str) -> None:
    """Same type, repr, training flag and state_dict (names, dtypes, devices, values)."""
    if type(actual) is not type(expected):
        fail(f"type={type(actual).__name__}, but should be {type(expected).__name__}", context)
    if repr(actual) != repr(expected):
        fail(f"repr={actual!r}, but should be {expected!r}", context)
    if actual.training != expected.training:
        fail(f"training={actual.training}, but should be {expected.training}", context)
    got, want = actual.state_dict(), expected.state_dict()
    if list(got) != list(want):
        fail(f"state_dict keys={list(got)}, but should be {list(want)}", context)
    for name, value in got.items():
        if (value.dtype, value.device) != (want[name].dtype, want[name].device):
            fail(
                f"{name} is {value.dtype} on {value.device}, "
                f"but should be {want[name].dtype} on {want[name].device}",
                context,
            )
        assert_equal(name, value, want[name], context)


def assert_matches_within_rounding(
    name: str,
    actual: torch.Tensor,
    expected: torch.Tensor,
    abs_sum: np.ndarray,
    k: int,
    context: str,
) -> None:
    """Two computations of sums of ``k`` products agree within twice the rounding bound.

    Each lies within ``accumulation_bound`` of the exact value, so they differ
    by at most twice it; the same kernel gives equal bits, well inside.
    """
    bound = agreement_bound(abs_sum, k, actual.dtype)
    assert_within(name, actual, expected, bound, context)


# --- module and functional forms ----------------------------------------------


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_linear_module_matches_functional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """``Linear(x)`` is ``F.linear(input=x, weight=module.weight, bias=module.bias)``,
    keywords in any order (``Linear.forward``)."""
    config = data.draw(linear_configs(dtype=dtype, device=str(device)), label="config")
    with seeded(data.draw(SEEDS, label="seed"), device):
        module = config.build(linear_cls)
    x = data.draw(linear_inputs(config), label="x")
    weight = cast(torch.Tensor, module.weight)
    bias = cast("torch.Tensor | None", module.bias)
    kwargs = shuffled(data, {"input": x, "weight": weight, "bias": bias}, "keyword order")
    with tf32(False):
        out, expected = module(x), F.linear(**kwargs)
    abs_sum = np.abs(to_float64(x)) @ np.abs(to_float64(weight)).T
    if bias is not None:
        abs_sum = abs_sum + np.abs(to_float64(bias))
    context = f"{config!r}, x.shape={tuple(x.shape)}; expected: F.linear({', '.join(kwargs)})"
    assert_matches_within_rounding("out", out, expected, abs_sum, config.in_features, context)


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_dropout_module_matches_functional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, dropout_cls: type[nn.Module]
) -> None:
    """From the same seed, ``Dropout(p, inplace)(x)`` in either mode equals
    ``F.dropout(input=x, p=p, training=module.training, inplace=inplace)``, keywords
    in any order (``Dropout.forward``). The module's ``training`` flag is the one
    argument the functional form defaults differently (``training=True``). A
    ``--target`` is compared in eval only: its masks need not be torch's."""
    config = data.draw(dropout_configs(kinds=["Dropout"]), label="config")
    # Masks under one seed are torch's own way of drawing them: a re-implementation
    # (a --target) is compared in eval only, where the functional form is the identity.
    own = is_own_implementation("dropout", dropout_cls)
    training = data.draw(st.booleans() if own else st.just(False), label="train")
    module = dropout_cls(**config.kwargs).train(training)
    x = data.draw(dropout_inputs(config, dtype=dtype, device=device), label="x")
    seed = data.draw(SEEDS, label="seed")
    kwargs: dict[str, Any] = {
        "input": x.clone(),
        "p": config.p,
        "training": module.training,
        "inplace": config.inplace,
    }
    kwargs = shuffled(data, kwargs, "keyword order")
    with seeded(seed, device):
        out = module(x.clone())
    with seeded(seed, device):
        expected = F.dropout(**kwargs)
    context = f"{config!r}, training={module.training}, x.shape={tuple(x.shape)}, seed={seed}"
    assert_equal("out", out, expected, f"{context}; expected: F.dropout({', '.join(kwargs)})")


@dataclasses.dataclass(frozen=True)
class Conv1dConfig:
    """What an ``nn.Conv1d`` is built from (zero padding)."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    groups: int
    bias: bool
    device: torch.device
    dtype: torch.dtype

    @property
    def kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def positional(self) -> tuple[Any, ...]:
        """The arguments in ``Conv1d.__init__``'s order (``padding_mode`` is 5th)."""
        c = self
        return (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation,
                c.groups, c.bias, "zeros", c.device, c.dtype)  # fmt: skip

    @property
    def min_length(self) -> int:
        """The shortest input giving a non-empty output."""
        return max(1, self.dilation * (self.kernel_size - 1) + 1 - 2 * self.padding)


@st.composite
def conv1d_configs(draw: st.DrawFn, dtype: torch.dtype, device: torch.device) -> Conv1dConfig:
    """Tiny Conv1d configs: up to 2 groups of up to 2 channels, kernel up to 3."""
    groups = draw(st.integers(1, 2), label="groups")
    return Conv1dConfig(
        in_channels=groups * draw(st.integers(1, 2), label="in channels per group"),
        out_channels=groups * draw(st.integers(1, 2), label="out channels per group"),
        kernel_size=draw(st.integers(1, 3), label="kernel_size"),
        stride=draw(st.integers(1, 2), label="stride"),
        padding=draw(st.integers(0, 2), label="padding"),
        dilation=draw(st.integers(1, 2), label="dilation"),
        groups=groups,
        bias=draw(st.booleans(), label="bias"),
        device=device,
        dtype=dtype,
    )


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_conv1d_module_matches_functional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """``Conv1d(...)(x)`` is ``F.conv1d(input=x, weight=..., bias=..., stride=...,
    padding=..., dilation=..., groups=...)``, keywords in any order, batched or not
    (``Conv1d._conv_forward``). TF32 is pinned off on CUDA (cuDNN uses it by default)."""
    config = data.draw(conv1d_configs(dtype, device), label="config")
    with seeded(data.draw(SEEDS, label="seed"), device):
        module = nn.Conv1d(**config.kwargs)
    length = data.draw(st.integers(config.min_length, config.min_length + 4), label="length")
    batch = data.draw(st.sampled_from([(), (1,), (2,)]), label="batch")
    shape = (*batch, config.in_channels, length)
    x = data.draw(tensors(shape=shape, dtype=dtype, device=device), label="x")
    options: dict[str, Any] = {
        k: getattr(config, k) for k in ("stride", "padding", "dilation", "groups")
    }
    kwargs = shuffled(
        data, {"input": x, "weight": module.weight, "bias": module.bias, **options}, "keyword order"
    )
    with tf32(False):
        out, expected = module(x), F.conv1d(**kwargs)

    # The rounding bound needs sum |x_i * w_i| per output: the same convolution, of
    # absolute values, in float64 on the CPU.
    def magnitude(t: torch.Tensor) -> torch.Tensor:
        return t.detach().abs().double().cpu()

    bias = None if module.bias is None else magnitude(module.bias)
    abs_sum = F.conv1d(magnitude(x), magnitude(module.weight), bias, **options).numpy()
    k = config.in_channels // config.groups * config.kernel_size
    context = f"{config}, x.shape={shape}; expected: F.conv1d({', '.join(kwargs)})"
    assert_matches_within_rounding("out", out, expected, abs_sum, k, context)


# --- building from config dicts -------------------------------------------------


@given(data=st.data())
def test_linear_from_config_dict_matches_positional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """``cls(**config)`` and ``create_model(cls, **config)`` build, from the same seed,
    the module ``cls(in_features, out_features, bias, device, dtype)`` builds
    (``Linear.__init__`` signature)."""
    config = data.draw(linear_configs(dtype=dtype, device=str(device)), label="config")
    kwargs = shuffled(data, config.kwargs, "keyword order")
    seed = data.draw(SEEDS, label="seed")
    c = config
    with seeded(seed, device):
        positional = linear_cls(c.in_features, c.out_features, c.bias, c.device, c.dtype)
    builds: dict[str, Callable[[], nn.Module]] = {
        "cls(**config)": lambda: linear_cls(**kwargs),
        "create_model(cls, **config)": lambda: create_model(linear_cls, **kwargs),
    }
    for how, build in builds.items():
        with seeded(seed, device):
            module = build()
        assert_same_module(module, positional, f"{how}, config={kwargs}")


@given(data=st.data())
def test_dropout_from_config_dict_matches_positional(
    data: st.DataObject, device: torch.device
) -> None:
    """For every dropout class, ``cls(**config)`` and ``create_model(cls, **config)``
    build what ``cls(p, inplace)`` builds, and from the same seed drop the same
    elements (``_DropoutNd.__init__(p, inplace)``)."""
    config = data.draw(dropout_configs(), label="config")
    kwargs = shuffled(data, config.kwargs, "keyword order")
    cls = config.module_class
    x = data.draw(dropout_inputs(config, device=device), label="x")
    seed = data.draw(SEEDS, label="seed")
    positional = cls(config.p, config.inplace)
    with seeded(seed, device):
        expected = positional(x.clone())
    built = {
        "cls(**config)": cls(**kwargs),
        "create_model(cls, **config)": create_model(cls, **kwargs),
    }
    for how, module in built.items():
        context = f"{how}, config={kwargs}"
        assert_same_module(module, positional, context)
        with seeded(seed, device):
            out = module(x.clone())
        assert_equal(
            "out", out, expected, f"{context}, seed={seed}; expected: {cls.__name__}(p, inplace)"
        )


@given(data=st.data())
def test_conv1d_from_config_dict_matches_positional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """``Conv1d(**config)`` and ``create_model(Conv1d, **config)`` build, from the same
    seed, what the eleven positional arguments build (``Conv1d.__init__`` signature)."""
    config = data.draw(conv1d_configs(dtype, device), label="config")
    kwargs = shuffled(data, config.kwargs, "keyword order")
    seed = data.draw(SEEDS, label="seed")
    with seeded(seed, device):
        positional = nn.Conv1d(*config.positional)
    builds: dict[str, Callable[[], nn.Module]] = {
        "Conv1d(**config)": lambda: nn.Conv1d(**kwargs),
        "create_model(Conv1d, **config)": lambda: create_model(nn.Conv1d, **kwargs),
    }
    for how, build in builds.items():
        with seeded(seed, device):
            module = build()
        assert_same_module(module, positional, f"{how}, config={kwargs}")


@given(data=st.data())
def test_model_from_config_dict_is_reproducible(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """A model config round-trips through its dict: ``build_model(**config.kwargs)``
    (keywords in any order), ``create_model(build_model, **config.kwargs)`` and
    ``ModelConfig(**config.kwargs).build()`` build, from the same seed, the model
    ``config.build()`` builds: same structure (repr), same state_dict."""
    config = data.draw(model_configs(), label="config")
    kwargs = shuffled(data, config.kwargs, "keyword order")
    factory: dict[str, Any] = {"dtype": dtype, "device": device}
    seed = data.draw(SEEDS, label="seed")
    with seeded(seed, device):
        reference = config.build(**factory)
    builds: dict[str, Callable[[], nn.Module]] = {
        "build_model(**config)": lambda: build_model(**kwargs, **factory),
        "create_model(build_model, **config)": lambda: create_model(
            build_model, **kwargs, **factory
        ),
        "ModelConfig(**config).build()": lambda: ModelConfig(**kwargs).build(**factory),
    }
    for how, build in builds.items():
        with seeded(seed, device):
            model = build()
        assert_same_module(model, reference, f"{how}, config={config}")
