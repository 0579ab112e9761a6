"""Elementwise ops broadcast their operands and compute what NumPy computes.

Semantics pinned down (https://pytorch.org/docs/stable/notes/broadcasting.html):

* an elementwise op on tensors of broadcastable shapes returns a tensor of
  the broadcast shape, whose values are those of the same op on the operands
  expanded to that shape -- checked against NumPy in float64, with 0-d
  tensors and Python scalars among the operands;
* its dtype is the one the documented promotion rule gives (comparisons and
  logical ops return bool, true division promotes integers to the default
  float dtype);
* the operator forms (``x * y``, ``x < y``, ...) are the function forms;
* operands whose shapes do not broadcast raise ``RuntimeError``;
* multiplying a weight by a scalar, a pruning mask or per-channel scales
  (``scales.view(C, 1, 1)``) scales each element as written.

The ops are described as data (:data:`BROADCAST_OPS`, in the spirit of
PyTorch's OpInfo), so each check is generic over the table and its ids read
``test_op_matches_numpy[cpu-float32-mul]``. Each entry resolves its torch
function by name when called, so a patched or user-provided implementation
is what gets checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import (
    assert_close,
    assert_dtype,
    assert_equal,
    assert_raises,
    assert_shape,
    fail,
)
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import broadcast_shapes
from conformance.support.ops import (
    BROADCAST_OPS,
    OP_DTYPES,
    Arg,
    BroadcastOp,
    assert_matches_reference,
    conflicting_shapes,
    describe,
    draw_args,
    expected_dtype,
    op_id,
    operand_names,
    reference,
    returned,
    shape_of,
)
from strategies import (
    tensors,
)

# -- The checks ----------------------------------------------------------------


def _forms(op: BroadcastOp, args: Sequence[Arg]) -> list[tuple[str, Callable[[], Any]]]:
    """The spellings of ``op`` that accept ``args``: ``torch.<name>(...)`` unless a
    Python number sits where the function takes none, and the operator."""
    scalar_at = [i for i, a in enumerate(args) if not isinstance(a, torch.Tensor)]
    forms: list[tuple[str, Callable[[], Any]]] = []
    if all(i in op.scalar_positions for i in scalar_at):
        forms.append((f"torch.{op.name}", functools.partial(op, *args)))
    if op.operator is not None:
        forms.append(("operator", functools.partial(op.operator, *args)))
    return forms


@pytest.mark.dtypes(*OP_DTYPES)
@pytest.mark.parametrize("op", BROADCAST_OPS, ids=op_id)
@given(data=st.data())
def test_op_matches_numpy(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, op: BroadcastOp
) -> None:
    """``op`` on broadcastable operands (tensors of any layout, 0-d tensors, a
    Python number) has the broadcast shape, the promoted dtype and NumPy's
    float64 values within the dtype's elementwise tolerance -- through
    ``torch.<op>`` and through its operator alike.

    The operator is the function exactly when the tensor is on the left
    (``x * y`` calls ``torch.mul``). A number on the left goes through Python's
    reflected operator, checked against NumPy only: ``2 / y`` is computed as
    ``y.reciprocal() * 2`` (``Tensor.__rdiv__`` in torch/_tensor.py), one
    rounding more than ``torch.div(2, y)``.
    """
    # The operator also takes a number on the left, where the function may not.
    positions = (0, 1) if op.operator is not None else op.scalar_positions
    args = draw_args(data, op, dtype, device, scalar_positions=positions)
    context = describe(op.name, args, operand_names(op))
    shape = broadcast_shapes(*map(shape_of, args))
    dtype_ = expected_dtype(op, args)
    expected = reference(op, args)
    results = {}
    for form, call in _forms(op, args):
        results[form] = result = returned(call, form, context)
        assert_shape(form, result.shape, shape, context)
        assert_dtype(form, result.dtype, dtype_, context)
        assert_matches_reference(form, result, expected, context)
    if len(results) == 2 and isinstance(args[0], torch.Tensor):
        function_result, operator_result = results.values()
        assert_equal(
            f"operator (against torch.{op.name})", operator_result, function_result, context
        )


@pytest.mark.supports_meta
@given(data=st.data())
def test_ops_reject_non_broadcastable_shapes(data: st.DataObject, device: torch.device) -> None:
    """Operands whose shapes do not broadcast raise ``RuntimeError`` from every op
    in the table, function and operator alike, whatever the sizes: ``(2,)``
    against ``(0,)`` conflicts as much as ``(2,)`` against ``(3,)``."""
    op = data.draw(st.sampled_from(BROADCAST_OPS), label="op")
    conflict = data.draw(conflicting_shapes(op.arity), label="shapes")
    args = [
        torch.zeros(shape, dtype=op.dtype_of(i, torch.float32), device=device)
        for i, shape in enumerate(conflict.input_shapes)
    ]
    context = describe(op.name, args, operand_names(op))
    for form, call in _forms(op, args):
        assert_raises(RuntimeError, call, what=form, context=context)


# -- Weights scaled as people write it -----------------------------------------


Factor = tuple[Arg, Any]  # what the weight is multiplied by, and its float64 value


def _scalar_factor(data: st.DataObject, weight: torch.Tensor) -> Factor:
    s = data.draw(tensors(shape=(), dtype=weight.dtype), label="scale").item()
    return s, s


def _mask_factor(data: st.DataObject, weight: torch.Tensor) -> Factor:
    """A pruning mask of 0s and 1s in the weight's shape: in the weight's dtype
    (as ``torch.nn.utils.prune`` keeps it) or bool."""
    mask_dtype = data.draw(st.sampled_from([weight.dtype, torch.bool]), label="mask dtype")
    mask = data.draw(
        tensors(
            shape=tuple(weight.shape),
            dtype=mask_dtype,
            device=weight.device,
            elements=st.sampled_from([1, 0]),
        ),
        label="mask",
    )
    return mask, to_float64(mask)


def _per_channel_factor(data: st.DataObject, weight: torch.Tensor) -> Factor:
    """Scales for each output channel (dim 0, ``s.view(O, 1, 1, 1)``) or input
    channel (dim -3, ``s.view(C, 1, 1)``), lined up with that dim from the right."""
    dim = data.draw(st.sampled_from([0, -3]), label="channel dim") % weight.dim()
    channels = weight.shape[dim]
    scales = data.draw(
        tensors(shape=(channels,), dtype=weight.dtype, device=weight.device), label="scales"
    )
    view = (channels,) + (1,) * (weight.dim() - dim - 1)
    return scales.view(view), to_float64(scales).reshape(view)


WEIGHT_FACTORS: dict[str, Callable[[st.DataObject, torch.Tensor], Factor]] = {
    "scalar": _scalar_factor,
    "mask": _mask_factor,
    "per_channel": _per_channel_factor,
}

#: Conv-like weights: (C, K, K) or (O, C, K, K) with square kernels, O possibly 0.
_CHANNELS = st.integers(1, 3)
_KERNEL = st.integers(1, 3)
_WEIGHT_SHAPES = st.one_of(
    st.builds(lambda c, k: (c, k, k), _CHANNELS, _KERNEL),
    st.builds(lambda o, c, k: (o, c, k, k), st.integers(0, 3), _CHANNELS, _KERNEL),
)


@pytest.mark.dtypes("float32", "float64")
@pytest.mark.parametrize("pattern", list(WEIGHT_FACTORS))
@given(data=st.data())
def test_weight_scaling_matches_numpy(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, pattern: str
) -> None:
    """``weight * factor`` -- a scalar, a same-shape pruning mask, or per-channel
    scales ``s.view(C, 1, 1)`` -- keeps the weight's shape and dtype and scales
    each element as NumPy does; ``weight.mul_(factor)`` (the in-place update
    written under ``torch.no_grad()``) gives the same values in the same tensor."""
    weight = data.draw(tensors(shape=_WEIGHT_SHAPES, dtype=dtype, device=device), label="weight")
    factor, factor64 = WEIGHT_FACTORS[pattern](data, weight)
    context = describe(f"weight * {pattern}", (weight, factor), ("weight", "factor"))
    expected = to_float64(weight) * factor64

    scaled = weight * factor
    assert_shape("weight * factor", scaled.shape, weight.shape, context)
    assert_dtype("weight * factor", scaled.dtype, weight.dtype, context)
    assert_close("weight * factor", scaled, expected, context=context)

    target = weight.clone()
    result = returned(lambda: target.mul_(factor), "weight.mul_(factor)", context)
    if result is not target:
        fail("weight.mul_(factor) returned a new tensor, but should return weight itself", context)
    assert_equal("weight.mul_(factor)", target, scaled, context)
