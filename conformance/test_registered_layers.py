"""Generic checks over the layer registry: every registered kind, from its data.

Each check runs once per kind of :mod:`conformance.layers` (the kit's own,
``linear`` and ``dropout``, and any a package registers), reading what the
layer must do from its :class:`~conformance.layers.LayerInfo`: ids read
``test_layer_matches_reference[cpu-linear-float32]``. Under ``--target
KIND=...`` they check the target in place of the kind's own implementation.

- the output matches the kind's float64 NumPy reference, computed from the
  layer's own parameters, in every mode the kind is deterministic in;
- the layer has the parameters and buffers its contract declares, of the
  declared shapes (``None`` where the contract says so);
- the inputs it must reject raise the declared error;
- a call after the parameters were updated in place (an optimizer step,
  ``weight.data.copy_``, ``weight.mul_`` under ``no_grad``) sees the new
  values: a layer that caches something derived from its weight on the first
  call (a transposed or quantised copy) and misses the update is caught.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import (
    assert_declared,
    assert_dtype,
    assert_raises,
    assert_shape,
    assert_within,
    fail,
)
from conformance.layers import LayerUnderTest
from conformance.modes import Mode
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import oracle_bound, tf32


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        yield


def _build(data: st.DataObject, layer: LayerUnderTest, config: Any, device: torch.device) -> Any:
    with seeded(data.draw(SEEDS, label="seed"), device), _quiet():
        return config.build(layer.implementation)


def _draw(
    data: st.DataObject, layer: LayerUnderTest, dtype: torch.dtype, device: torch.device
) -> tuple[Any, nn.Module, tuple[Any, ...]]:
    config = data.draw(layer.info.example_configs(dtype, device), label="config")
    module = _build(data, layer, config, device)
    inputs = data.draw(layer.info.example_inputs(config, dtype, device), label="inputs")
    return config, module, inputs


def _state(layer: LayerUnderTest, config: Any, module: nn.Module) -> dict[str, Any]:
    """The declared parameters and buffers, as float64 arrays (None ones left out)."""
    names = [*layer.info.parameters(config), *layer.info.buffers(config)]
    values = {name: getattr(module, name, None) for name in names}
    return {name: to_float64(t) for name, t in values.items() if isinstance(t, torch.Tensor)}


def _context(layer: LayerUnderTest, config: Any, inputs: tuple[Any, ...], extra: str = "") -> str:
    shapes = ", ".join(str(tuple(x.shape)) for x in inputs if isinstance(x, torch.Tensor))
    return f"{layer}, {config!r}, inputs of shape {shapes}{f'; {extra}' if extra else ''}"


def _assert_matches_reference(
    name: str,
    out: Any,
    layer: LayerUnderTest,
    config: Any,
    module: nn.Module,
    inputs: tuple[Any, ...],
    dtype: torch.dtype,
    training: bool,
    context: str,
) -> None:
    if not isinstance(out, torch.Tensor):
        fail(f"{name} is {type(out).__name__}, but should be a tensor", context)
    arrays = tuple(to_float64(x) if isinstance(x, torch.Tensor) else x for x in inputs)
    expected = layer.info.reference(config, _state(layer, config, module), arrays, training)
    assert_shape(name, out.shape, expected.value.shape, context)
    assert_dtype(name, out.dtype, dtype, context)
    bound = oracle_bound(expected.scale, expected.terms, dtype)
    assert_within(name, out.detach(), expected.value, bound, context)


def _deterministic_modes(layer: LayerUnderTest) -> list[bool]:
    """Training flags the kind promises deterministic outputs in, training first: the
    first example should probe most, and batch norm's batch statistics probe more than
    fresh running ones (zero mean, unit variance)."""
    return [t for t in (True, False) if layer.info.deterministic_in(t)]


@pytest.mark.layer_requires("deterministic")
@given(data=st.data())
def test_layer_matches_reference(
    data: st.DataObject,
    device: torch.device,
    layer: LayerUnderTest,
    dtype: torch.dtype,
    mode: Mode,
) -> None:
    """``layer(*inputs)`` equals the kind's float64 reference, within the rounding
    bound of the dtype (:func:`conformance.tolerances.oracle_bound`), in train and
    eval alike wherever the kind is not random."""
    config, module, inputs = _draw(data, layer, dtype, device)
    training = data.draw(st.sampled_from(_deterministic_modes(layer)), label="training")
    module.train(training)
    ctx = _context(layer, config, inputs, f"training={training}; {mode.describe()}")
    with tf32(False):
        out = mode.wrap(module)(*inputs)
    _assert_matches_reference("out", out, layer, config, module, inputs, dtype, training, ctx)


@pytest.mark.supports_meta
@given(data=st.data())
def test_layer_has_declared_parameters(
    data: st.DataObject, device: torch.device, layer: LayerUnderTest
) -> None:
    """``named_parameters()`` and ``named_buffers()`` hold what the contract declares, of
    the declared shapes; a parameter declared None (``bias=False``) is an attribute that
    is None and no parameter."""
    config = data.draw(layer.info.example_configs(torch.float32, device), label="config")
    module = _build(data, layer, config, device)
    ctx = f"{layer}, {config!r}"
    for what, declared, actual in (
        ("parameter", layer.info.parameters(config), dict(module.named_parameters())),
        ("buffer", layer.info.buffers(config), dict(module.named_buffers())),
    ):
        for name, shape in declared.items():
            assert_declared(module, name, shape, actual, what, ctx)


@pytest.mark.layer_requires("error_inputs")
@given(data=st.data())
def test_layer_rejects_error_inputs(
    data: st.DataObject, device: torch.device, layer: LayerUnderTest, dtype: torch.dtype
) -> None:
    """Each input the kind must reject raises the declared exception, with the declared
    message for the kind's own implementation (the same bad input gives the same error
    on every device: pytorch#62537)."""
    info = layer.info
    assert info.error_inputs is not None  # layer_requires("error_inputs")
    config = data.draw(info.example_configs(dtype, device), label="config")
    module = _build(data, layer, config, device)
    case = data.draw(info.error_inputs(config, dtype, device), label="error case")
    ctx = _context(layer, config, case.inputs, case.description)
    # torch's own class raises torch's words; a re-implementation (a --target) owes
    # the exception type, in words of its own.
    assert_raises(
        case.exception,
        lambda: module(*case.inputs),
        what="layer(*inputs)",
        match=case.match if layer.is_own else None,
        context=ctx,
    )


def _sgd_step(module: nn.Module, params: list[nn.Parameter], inputs: tuple[Any, ...]) -> None:
    """One SGD step on ``sum(out)``, its rate scaled so no parameter moves by more
    than 1: low-precision outputs stay far from overflow."""
    out = module(*inputs)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        out.sum().backward()
    for p in params:
        if p.grad is None:
            p.grad = torch.ones_like(p)
    largest = max(float(p.grad.abs().max()) for p in params if p.grad is not None)
    torch.optim.SGD(params, lr=1.0 / max(1.0, largest)).step()


#: How a parameter is updated in place after a first call, as users do it.
UPDATES = ("optimizer step", "data.copy_", "mul_ under no_grad")


@pytest.mark.layer_requires("parameters", "deterministic")
@pytest.mark.one_dtype  # when a call reads its parameters does not depend on the dtype
@given(data=st.data())
def test_layer_sees_in_place_parameter_updates(
    data: st.DataObject,
    device: torch.device,
    layer: LayerUnderTest,
    dtype: torch.dtype,
    mode: Mode,
) -> None:
    """After a first call (with or without grad), parameters updated in place reach the
    next call: the output matches the reference on the new values, in train and eval.
    A layer caching a transformed weight on its first call fails here."""
    config, module, inputs = _draw(data, layer, dtype, device)
    training = data.draw(st.sampled_from(_deterministic_modes(layer)), label="training")
    module.train(training)
    params = [p for p in module.parameters() if p.numel() > 0]
    wrapped = mode.wrap(module)
    first_grad = data.draw(st.booleans(), label="first call with grad")
    with tf32(False), torch.set_grad_enabled(first_grad):
        wrapped(*inputs)
    update = data.draw(st.sampled_from(UPDATES), label="update")
    if update == "optimizer step" and params:
        _sgd_step(module, params, inputs)
    elif params:
        factor = data.draw(st.sampled_from([2.0, -1.0, 0.5]), label="factor")
        with torch.no_grad():
            for p in params:
                if update == "data.copy_":
                    p.data.copy_(p.data * factor + 0.5)
                else:
                    p.mul_(factor)
    module.zero_grad(set_to_none=True)
    second_grad = data.draw(st.booleans(), label="second call with grad")
    ctx = _context(
        layer,
        config,
        inputs,
        f"training={training}; {update} after a call with grad={first_grad}; "
        f"second call with grad={second_grad}; {mode.describe()}",
    )
    with tf32(False), torch.set_grad_enabled(second_grad):
        out = wrapped(*inputs)
    name = "out (after the update)"
    _assert_matches_reference(name, out, layer, config, module, inputs, dtype, training, ctx)
