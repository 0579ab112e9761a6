"""CPU-versus-device parity of Linear: same parameters and inputs, same results;
same bad inputs, same errors.

Motivation: CUDA Linear once accepted a wrong ``in_features`` that CPU
rejected (pytorch#62537), and empty batches once failed CUDA backward only
(pytorch#34202, pytorch#27619). Each selected non-CPU device is compared
against CPU, with TF32 off. Random init is never compared across devices
(CPU and CUDA generators differ by design): the parameters are copied.

The comparisons are helpers taking two devices (:func:`assert_linear_parity`,
:func:`assert_same_outcome`), so the kit's own tests run them CPU against CPU
with planted device-dependent faults: the path that runs on a GPU is tested
without one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_dtype, assert_shape, assert_within, fail
from conformance.oracle import linear as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS
from conformance.support.linear import (
    FLOAT_DTYPES,
    agreement,
    bias_of,
    build,
    configs,
    context,
    floats,
    inputs,
    maybe_float64,
    mismatched_dtype_inputs,
    weight_of,
    wrong_feature_inputs,
    zero_dim_inputs,
)
from conformance.tolerances import tf32
from strategies import LinearConfig, tensors

REFERENCE = torch.device("cpu")
_RESULTS = ("out", "grad_input", "grad_weight", "grad_bias")


def _on(config: LinearConfig, device: torch.device) -> LinearConfig:
    return dataclasses.replace(config, device=str(device))


def _copy_parameters(source: nn.Module, target: nn.Module) -> None:
    with torch.no_grad():
        weight_of(target).copy_(weight_of(source))
        target_bias, source_bias = bias_of(target), bias_of(source)
        if target_bias is not None and source_bias is not None:
            target_bias.copy_(source_bias)


def _results(
    module: nn.Module, x: torch.Tensor, grad_out: torch.Tensor, device: torch.device, ctx: str
) -> dict[str, torch.Tensor | None]:
    """Output, then gradients for input, weight and bias, on ``device``."""
    x = x.detach().to(device).requires_grad_(True)
    weight, bias = weight_of(module), bias_of(module)
    wrt = [x, weight] if bias is None else [x, weight, bias]
    with tf32(False):
        out = module(x)
        assert_shape(f"out on {device}", out.shape, grad_out.shape, ctx)
        if not out.requires_grad:
            fail(f"out on {device} does not require grad, but should", ctx)
        grads = torch.autograd.grad(out, wrt, grad_out.to(device), allow_unused=True)
    return dict(zip(_RESULTS, (out, *grads), strict=False))


def _oracle_sums(
    module: nn.Module, x: torch.Tensor, grad_out: torch.Tensor
) -> dict[str, oracle.Sums]:
    x64, w64 = to_float64(x), to_float64(weight_of(module))
    grads = oracle.affine_grads(x64, w64, to_float64(grad_out))
    out = oracle.affine(x64, w64, maybe_float64(bias_of(module)))
    return dict(zip(_RESULTS, (out, *grads), strict=True))


def assert_linear_parity(
    linear_cls: Callable[..., nn.Module],
    config: LinearConfig,
    seed: int,
    x: torch.Tensor,
    grad_out: torch.Tensor,
    *,
    reference: torch.device,
    other: torch.device,
) -> None:
    """With the same parameters and inputs, ``other`` gives ``reference``'s output and
    gradients, within the sum of both devices' rounding bounds (each result lies
    within its own bound of the exact value; TF32 is off on both)."""
    ref_module = build(linear_cls, _on(config, reference), seed)
    other_module = build(linear_cls, _on(config, other), seed)
    _copy_parameters(ref_module, other_module)
    ctx = f"{context(config, x)}; {other} against {reference}"
    ref = _results(ref_module, x, grad_out, reference, ctx)
    got = _results(other_module, x, grad_out, other, ctx)
    sums = _oracle_sums(ref_module, x, grad_out)
    for name, expected in ref.items():
        actual = got.get(name)
        if actual is None or expected is None:
            if (actual is None) != (expected is None):
                fail(f"{name} on {other} is {actual}, but should match {reference}'s", ctx)
            continue
        assert_dtype(f"{name} on {other}", actual.dtype, expected.dtype, ctx)
        # Each device's result lies within rounding() of the exact value.
        bound = agreement(sums[name], config.dtype)
        assert_within(f"{name} on {other}", actual, expected, bound, ctx)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a call did: the exception type it raised (None: it returned), in words."""

    error: type[BaseException] | None
    description: str


def outcome(module: nn.Module, x: torch.Tensor) -> Outcome:
    """What ``module(x)`` does."""
    try:
        result = module(x)
    except Exception as e:
        return Outcome(type(e), f"raised {type(e).__name__}({str(e)!r})")
    return Outcome(None, f"returned a tensor of shape {tuple(result.shape)}")


def assert_same_outcome(
    linear_cls: Callable[..., nn.Module],
    config: LinearConfig,
    seed: int,
    x: torch.Tensor,
    *,
    reference: torch.device,
    other: torch.device,
) -> None:
    """``other`` accepts ``x`` exactly when ``reference`` does, and rejects it with the
    same exception type (messages may be worded per backend, so only the type is
    compared; both are shown on failure)."""
    outcomes = {}
    for device in (reference, other):
        module = build(linear_cls, _on(config, device), seed)
        outcomes[device] = outcome(module, x.to(device))
    if outcomes[other].error != outcomes[reference].error:
        fail(
            f"on {other} module(x) {outcomes[other].description}, but should act as on "
            f"{reference}, where it {outcomes[reference].description}",
            context(config, x),
        )


def bad_inputs(config: LinearConfig) -> st.SearchStrategy[torch.Tensor]:
    """Inputs ``Linear`` must reject: wrong feature size, 0-d, another dtype."""
    return st.one_of(
        wrong_feature_inputs(config), zero_dim_inputs(config), mismatched_dtype_inputs(config)
    )


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_parity_forward_and_backward(
    data: st.DataObject,
    parity_device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
) -> None:
    """Output and all three gradients agree between CPU and the device, for the
    same parameters and inputs (any batch shape, empty batches, zero features)."""
    config = data.draw(configs(dtype, REFERENCE), label="config")
    seed = data.draw(SEEDS, label="seed")
    x = data.draw(inputs(config), label="x")
    out_shape = (*x.shape[:-1], config.out_features)
    unit = floats(dtype, 1.0)
    grad_out = data.draw(tensors(shape=out_shape, dtype=dtype, elements=unit), label="grad_out")
    assert_linear_parity(
        linear_cls, config, seed, x, grad_out, reference=REFERENCE, other=parity_device
    )


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_parity_errors(
    data: st.DataObject,
    parity_device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
) -> None:
    """A bad input (wrong feature size, 0-d, another dtype) is rejected on the device
    exactly as on CPU (pytorch#62537)."""
    config = data.draw(configs(dtype, REFERENCE), label="config")
    seed = data.draw(SEEDS, label="seed")
    x = data.draw(bad_inputs(config), label="x")
    assert_same_outcome(linear_cls, config, seed, x, reference=REFERENCE, other=parity_device)
