"""Conformance of the implicit graph that calling a module records.

Models come from :func:`strategies.model_configs`. Sources: the autograd
notes ("Autograd mechanics": every operation on tensors that require grad
records a ``grad_fn``; gradients flowing into one tensor from several uses
are summed; ``torch.no_grad()`` records nothing), torch/nn/modules/module.py
(``Module._call_impl``: backward hooks attach to the recorded graph only),
torch/utils/hooks.py (``BackwardHook._apply_on_tensors``: nothing is set up
unless grad mode is on and an input requires grad).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_close, assert_shape, assert_within, fail
from conformance.seeding import SEEDS, seeded
from conformance.support.subjects import flat_outputs
from conformance.tolerances import elementwise, tf32
from strategies import ModelConfig, model_configs, tensors

BATCH = st.integers(1, 3)


def draw_model(
    data: st.DataObject, config: ModelConfig, device: torch.device, dtype: torch.dtype
) -> nn.Module:
    """The model of ``config`` from a drawn seed, in a drawn training mode."""
    with seeded(data.draw(SEEDS, label="seed"), device):
        model = config.build(dtype=dtype, device=device)
    return model.train(data.draw(st.booleans(), label="train"))


def draw_input(
    data: st.DataObject, config: ModelConfig, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    shape = (data.draw(BATCH, label="batch"), config.in_features)
    return data.draw(tensors(shape=shape, dtype=dtype, device=device), label="x")


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_outputs_of_modules_with_parameters_carry_grad_fn(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """A module whose parameters require grad returns outputs with a ``grad_fn``
    (``requires_grad=True``) even for an input that does not: the model, and each
    Linear in it called alone. ``backward`` from the outputs reaches every
    parameter's ``.grad``, shaped like the parameter."""
    config = data.draw(model_configs(), label="config")
    model = draw_model(data, config, device, dtype)
    x = draw_input(data, config, device, dtype)
    context = f"{config}, training={model.training}"
    with tf32(False):
        outs = flat_outputs(model(x))
        linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        for name, layer in linears:
            if layer(x.new_zeros(layer.in_features)).grad_fn is None:
                fail(f"model.{name}(zeros).grad_fn=None, but should be set", context)
        for i, out in enumerate(outs):
            if out.grad_fn is None or not out.requires_grad:
                fail(f"out[{i}].grad_fn={out.grad_fn}, but should be set", context)
        torch.autograd.backward(outs, [torch.ones_like(out) for out in outs])
    for name, param in model.named_parameters():
        if param.grad is None:
            fail(f"{name}.grad=None, but backward should reach it", context)
        else:
            assert_shape(f"{name}.grad", param.grad.shape, param.shape, context)


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_shared_trunk_gets_the_sum_of_the_branch_gradients(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """Through a two-branch model, one ``backward`` accumulates into the trunk the
    sum of the gradients each branch sends alone.

    Checked where the branches meet, the trunk's output ``h``: each branch's
    gradient into ``h`` is computed separately with ``torch.autograd.grad`` on
    the same graph (so dropout masks are shared), and ``h.grad`` after the
    combined backward must be their sum, one rounding away, within the
    elementwise tolerance of ``|a| + |b|``. Then the trunk's parameters and
    the input must hold the trunk's backward of that sum. (Summing the two
    branches' parameter gradients instead would compare two different roundings
    of sums with cancellation, which no elementwise tolerance bounds.)
    """
    config = data.draw(model_configs(kinds=["two_branch"]), label="config")
    model = draw_model(data, config, device, dtype)
    x = draw_input(data, config, device, dtype).requires_grad_()
    trunk = model.get_submodule("trunk")
    into_trunk: list[tuple[str, torch.Tensor]] = [("x", x), *trunk.named_parameters()]
    captured: list[torch.Tensor] = []
    trunk.register_forward_hook(lambda m, args, h: captured.append(h))
    with tf32(False):
        out_a, out_b = model(x)
        (h,) = captured
        cot_a = data.draw(
            tensors(shape=tuple(out_a.shape), dtype=dtype, device=device), label="g_a"
        )
        cot_b = data.draw(
            tensors(shape=tuple(out_b.shape), dtype=dtype, device=device), label="g_b"
        )
        (from_a,) = torch.autograd.grad(out_a, h, cot_a, retain_graph=True)
        (from_b,) = torch.autograd.grad(out_b, h, cot_b, retain_graph=True)
        expected = torch.autograd.grad(
            h, [t for _, t in into_trunk], from_a + from_b, retain_graph=True
        )
        # Only now: torch.autograd.grad also accumulates into retained .grad fields.
        h.retain_grad()
        torch.autograd.backward((out_a, out_b), (cot_a, cot_b))
    tol = elementwise(dtype, device)
    context = f"{config}, training={model.training}"
    bound = tol.atol + tol.rtol * (from_a.abs() + from_b.abs())
    if h.grad is None:
        fail("h.grad=None, but backward should reach the trunk's output", context)
    assert_within("h.grad", h.grad, from_a + from_b, bound, f"{context}; expected: a + b")
    for (name, t), want in zip(into_trunk, expected, strict=True):
        if t.grad is None:
            fail(f"{name}.grad=None, but backward should reach it", context)
        else:
            assert_close(f"{name}.grad", t.grad, want, context=f"{context}; expected: of a + b")


def record_backward_hooks(model: nn.Module, log: list[str]) -> None:
    """Full backward hooks and backward pre-hooks on every module, logging their names."""
    for name, module in model.named_modules():
        shown = name or "model"

        def pre(m: nn.Module, grad_output: Any, shown: str = shown) -> None:
            log.append(f"{shown}: backward pre-hook")

        def full(m: nn.Module, grad_input: Any, grad_output: Any, shown: str = shown) -> None:
            log.append(f"{shown}: backward hook")

        module.register_full_backward_pre_hook(pre)
        module.register_full_backward_hook(full)


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_no_graph_is_recorded_under_no_grad(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """Under ``torch.no_grad()`` a call records no graph: outputs have no ``grad_fn``
    and do not require grad, even for an input that does; using them later in a
    recorded computation fires none of the module's backward hooks and reaches
    neither the input nor the parameters. Forward hooks still run (they are not
    autograd). The block leaves the parameters as they were: each still requires
    grad after it (``no_grad`` changes the grad mode, never a tensor's flag;
    DataParallel once detached them in place, pytorch#5851). Outside ``no_grad``
    the same hooks do fire and the backward of the next call reaches every
    parameter's ``.grad`` (the control)."""
    config = data.draw(model_configs(), label="config")
    model = draw_model(data, config, device, dtype)
    x = draw_input(data, config, device, dtype).requires_grad_()
    log: list[str] = []
    record_backward_hooks(model, log)
    model.register_forward_hook(lambda m, a, o: log.append("model: forward hook"))
    context = f"{config}, training={model.training}, under no_grad"
    with tf32(False):
        with torch.no_grad():
            outs = flat_outputs(model(x))
        for i, out in enumerate(outs):
            if out.grad_fn is not None or out.requires_grad:
                fail(f"out[{i}].grad_fn={out.grad_fn}, but should be None", context)
        weights = [torch.ones_like(out, requires_grad=True) for out in outs]
        sum((out * w).sum() for out, w in zip(outs, weights, strict=True)).backward()  # type: ignore[union-attr]
        if log != ["model: forward hook"]:
            fail(f"call log={log}, but should be ['model: forward hook']", context)
        if x.grad is not None or any(p.grad is not None for p in model.parameters()):
            fail("gradients reached x or the parameters, but should not", context)
        for name, param in model.named_parameters():
            if not param.requires_grad:
                fail(
                    f"{name}.requires_grad=False after the no_grad block, but should be True",
                    context,
                )
        log.clear()
        outs = flat_outputs(model(x))
        torch.autograd.backward(outs, [torch.ones_like(out) for out in outs])
    control = f"{config}, control: a call with grad after the no_grad block"
    if not any("backward hook" in event for event in log):
        fail(f"call log={log}, but backward hooks should fire outside no_grad", control)
    for name, param in model.named_parameters():
        if param.grad is None:
            fail(f"{name}.grad=None, but the backward should reach it", control)
