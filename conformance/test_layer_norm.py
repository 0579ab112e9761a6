"""Conformance of ``nn.LayerNorm`` beyond the registry's generic checks.

The generic checks (``test_registered_layers``, kind ``layer_norm``) hold the
output to the float64 reference in train and eval, the declared parameters,
the shape errors and in-place parameter updates. This suite adds what no
table says: the gradients with respect to the input, the weight and the bias
against the analytic float64 gradient; the initial parameters; and that the
layer keeps no state (no buffers, nothing changes in a call, training and
evaluation compute the same).

The class under test comes from the ``layer_norm_cls`` fixture
(``torch.nn.LayerNorm`` unless ``--target layer_norm=...`` replaces it),
built through ``cls(normalized_shape, eps=..., elementwise_affine=...,
bias=..., device=..., dtype=...)``. Checks that call it take the ``mode``
fixture and call ``mode.wrap(module)``.

Sources: the ``torch.nn.LayerNorm`` docs, torch/nn/modules/normalization.py
(torch 2.13.0); the gradient is derived in :mod:`conformance.oracle.layer_norm`.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_equal, assert_shape, assert_within, fail
from conformance.layers import layer_norm as entry
from conformance.modes import Mode
from conformance.oracle import layer_norm as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import oracle_bound, tf32, unit_roundoff
from strategies import LayerNormConfig, layer_norm_inputs, layouts, tensors

# The gradient's magnitude grows with 1/sqrt(var + eps): values up to 10 keep
# float32 far from overflow while still reaching small variances.
_PARAM_ELEMENTS = st.floats(-4.0, 4.0, allow_nan=False, width=32)
_INPUT_ELEMENTS = st.floats(-10.0, 10.0, allow_nan=False, width=32)


def _build(data: st.DataObject, cls: Any, config: LayerNormConfig) -> nn.Module:
    with seeded(data.draw(SEEDS, label="seed"), torch.device(config.device)):
        return config.build(cls)


def _param(module: nn.Module, name: str) -> torch.Tensor | None:
    value = getattr(module, name, None)
    return value if isinstance(value, torch.Tensor) else None


def _context(config: LayerNormConfig, x: torch.Tensor, extra: str = "") -> str:
    return f"{config!r}, x.shape={tuple(x.shape)}{f'; {extra}' if extra else ''}"


def _draw_parameters(data: st.DataObject, module: nn.Module, config: LayerNormConfig) -> None:
    """Replace the initial ones and zeros by drawn values (in place): with weight 1
    and bias 0 a gradient that mixes them up goes unnoticed."""
    for name in ("weight", "bias"):
        p = _param(module, name)
        if p is None:
            continue
        values = data.draw(
            tensors(shape=tuple(p.shape), dtype=p.dtype, device=p.device, elements=_PARAM_ELEMENTS),
            label=name,
        )
        with torch.no_grad():
            p.copy_(values)


@given(data=st.data())
def test_layer_norm_gradients(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    layer_norm_cls: Any,
    mode: Mode,
) -> None:
    """``backward(g)`` through ``LayerNorm(x)`` gives the analytic gradients:
    ``dx = s (h - mean(h) - n mean(h n))`` with ``h = g w``, ``n = (x - mean) s``,
    ``s = 1/sqrt(var + eps)`` over the normalized dims (biased variance);
    ``dweight = sum_batch g n``; ``dbias = sum_batch g``; within the bound of
    :func:`conformance.oracle.layer_norm.layer_norm_grads` for the dtype. Inputs
    in every layout, empty batches and normalized shapes included."""
    config = data.draw(entry.configs(dtype, device), label="config")
    module = _build(data, layer_norm_cls, config)
    _draw_parameters(data, module, config)
    x = data.draw(
        layer_norm_inputs(
            config,
            max_batch_dims=2,
            max_side=3,
            elements=_INPUT_ELEMENTS,
            requires_grad=True,
            layout=layouts(),
            max_numel=24,
        ),
        label="x",
    )
    g = data.draw(
        tensors(shape=tuple(x.shape), dtype=dtype, device=device, elements=_INPUT_ELEMENTS),
        label="grad_out",
    )
    ctx = _context(config, x, mode.describe())
    weight, bias = _param(module, "weight"), _param(module, "bias")
    with tf32(False):
        out = mode.wrap(module)(x)
    assert_shape("out", out.shape, x.shape, ctx)
    out.backward(g)
    expected = oracle.layer_norm_grads(
        to_float64(x),
        len(config.shape),
        None if weight is None else to_float64(weight),
        None if bias is None else to_float64(bias),
        config.eps,
        to_float64(g),
        units=(unit_roundoff(dtype), unit_roundoff(torch.float64)),
    )
    for name, tensor, want in (
        ("x.grad", x, expected.input),
        ("weight.grad", weight, expected.weight),
        ("bias.grad", bias, expected.bias),
    ):
        if tensor is None or want is None:
            continue
        if tensor.grad is None:
            fail(f"{name} is None, but should be a tensor of shape {want.value.shape}", ctx)
        bound = oracle_bound(want.scale, want.terms, dtype)
        assert_within(name, tensor.grad, want.value, bound, ctx)


#: Normalized shapes as users write them: an int, a 1-tuple, two dims, an empty one.
INIT_SHAPES: tuple[int | tuple[int, ...], ...] = (4, (1,), (2, 3), (3, 0))


@pytest.mark.dtypes("float32", "bfloat16")
def test_layer_norm_initial_parameters(
    device: torch.device, dtype: torch.dtype, layer_norm_cls: Any
) -> None:
    """A new LayerNorm's weight is all ones and its bias all zeros, whatever the
    seed (``reset_parameters``: ``init.ones_``, ``init.zeros_``): a deterministic
    init, so a few fixed configs say it all."""
    for shape in INIT_SHAPES:
        for affine, bias in ((True, True), (True, False)):
            for seed in (0, 1):
                config = LayerNormConfig(shape, 1e-5, affine, bias, dtype, str(device))
                with seeded(seed, device):
                    module = config.build(layer_norm_cls)
                for name, value in (("weight", 1.0), ("bias", 0.0)):
                    p = _param(module, name)
                    if p is not None:
                        want = torch.full(tuple(p.shape), value, dtype=torch.float64)
                        assert_equal(name, p, want, f"{config!r}, seed {seed}")


@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_layer_norm_keeps_no_state(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    layer_norm_cls: Any,
    mode: Mode,
) -> None:
    """LayerNorm has no running statistics: no buffers, the state dict holds only
    the declared parameters, calls (with grad, in training) change nothing, and a
    call in evaluation returns bitwise what the same call in training returned."""
    config = data.draw(entry.configs(dtype, device), label="config")
    module = _build(data, layer_norm_cls, config)
    _draw_parameters(data, module, config)
    (x,) = data.draw(entry.inputs(config, dtype, device), label="inputs")
    ctx = _context(config, x, mode.describe())
    buffers = [name for name, _ in module.named_buffers()]
    if buffers:
        fail(f"buffers={buffers}, but LayerNorm should keep none", ctx)
    declared = {name for name, shape in entry.parameters(config).items() if shape is not None}
    state = set(module.state_dict())
    if state != declared:
        fail(f"state_dict keys={sorted(state)}, but should be {sorted(declared)}", ctx)
    before = {name: t.detach().clone() for name, t in module.state_dict().items()}
    with tf32(False):
        module.train()
        trained = mode.wrap(module)(x)
        trained_again = mode.wrap(module)(x)
        module.eval()
        evaluated = mode.wrap(module)(x)
    for name, value in module.state_dict().items():
        assert_equal(f"{name} after the calls", value, before[name], ctx)
    assert_equal("second call in training", trained_again, trained, ctx)
    assert_equal("out in evaluation", evaluated, trained, ctx)
