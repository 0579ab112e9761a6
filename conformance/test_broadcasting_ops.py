"""Elementwise ops broadcast their operands and compute what NumPy computes.

Semantics pinned down (https://pytorch.org/docs/stable/notes/broadcasting.html):

* an elementwise op on tensors of broadcastable shapes returns a tensor of
  the broadcast shape, whose values are those of the same op on the operands
  expanded to that shape -- checked against NumPy in float64, with 0-d
  tensors and Python scalars among the operands;
* its dtype is the one the documented promotion rule gives (comparisons and
  logical ops return bool, true division promotes integers to the default
  float dtype);
* the operator, method and in-place forms (``x * y``, ``x.mul(y)``,
  ``x.mul_(y)``, ``x *= y``) compute what the function does;
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
from collections.abc import Callable
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
    INPLACE_FORMS,
    OP_DTYPES,
    Arg,
    BroadcastOp,
    accepts,
    assert_matches_reference,
    call_form,
    conflicting_shapes,
    describe,
    draw_args,
    expected_dtype,
    forms,
    op_id,
    operand_names,
    reference,
    returned,
    shape_of,
    spell,
)
from strategies import (
    tensors,
)

# -- The checks ----------------------------------------------------------------


@pytest.mark.dtypes(*OP_DTYPES)
@pytest.mark.parametrize("op", BROADCAST_OPS, ids=op_id)
@given(data=st.data())
def test_op_matches_numpy(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, op: BroadcastOp
) -> None:
    """``op`` on broadcastable operands (tensors of any layout, 0-d tensors, a
    Python number) has the broadcast shape, the promoted dtype and NumPy's
    float64 values within the dtype's elementwise tolerance, in each form a
    user writes it (:data:`~conformance.support.ops.FORMS`, one drawn per
    example): ``torch.mul(x, y)``, ``x * y``, ``x.mul(y)``, and where ``x``
    keeps its shape and can hold the result, ``x.mul_(y)`` and ``x *= y``,
    which write into ``x`` (its dtype) and return ``x`` itself.

    Every form with a tensor first is the function to the bit (``x * y``
    calls ``torch.mul``; ``x.mul_(y)`` writes ``torch.mul(x, y)`` cast to
    ``x.dtype``). A number on the left goes through Python's reflected
    operator, checked against NumPy only: ``2 / y`` is computed as
    ``y.reciprocal() * 2`` (``Tensor.__rdiv__`` in torch/_tensor.py), one
    rounding more than ``torch.div(2, y)``. ``maximum`` and ``minimum`` meet
    NaN and infinities in either operand: NaN propagates (their docs).
    """
    check_forms(data, op, dtype, device)


#: The integer dtypes floor division is checked on (signed: its rounding shows
#: on negative quotients), and the op.
INTEGER_DIVISION_DTYPES = ("int8", "int64")
FLOOR_DIVIDE = next(op for op in BROADCAST_OPS if op.name == "floor_divide")


@pytest.mark.dtypes(*INTEGER_DIVISION_DTYPES)
@given(data=st.data())
def test_integer_floor_divide_matches_numpy(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """On integer tensors (and Python ints), ``torch.floor_divide(x, y)``, ``x // y``,
    ``x.floor_divide(y)``, ``x.floor_divide_(y)`` and ``x //= y`` round the quotient
    down, toward -inf, as Python's ``//`` and ``np.floor_divide`` do -- ``-7 // 2 ==
    -4`` -- with the promoted integer dtype (the ``torch.floor_divide`` docs;
    before torch 1.13 it truncated toward zero, pytorch#43874). Divisors are
    never 0 (integer division by zero raises)."""
    check_forms(data, FLOOR_DIVIDE, dtype, device)


def check_forms(
    data: st.DataObject, op: BroadcastOp, dtype: torch.dtype, device: torch.device
) -> None:
    """Draws operands of ``dtype`` and one form of ``op``; checks the result's shape,
    dtype and values against NumPy, and against the function to the bit."""
    # The operator also takes a number on the left, where the function may not.
    positions = (0, 1) if op.operator is not None else op.scalar_positions
    args = draw_args(data, op, dtype, device, scalar_positions=positions)
    names = operand_names(op)
    context = describe(op.name, args, names)
    form = data.draw(st.sampled_from(forms(op, args)), label="form")
    what = f"{form} {spell(op, form, names)}"
    target = args[0].clone() if form in INPLACE_FORMS else None  # type: ignore[union-attr]
    # In place: into a copy, so that the function below sees the operands as drawn.
    operands = list(args) if target is None else [target, *args[1:]]
    result = returned(lambda: call_form(op, form, operands), what, context)
    if target is not None and result is not target:
        fail(f"{what} returned a new tensor, but should return x itself", context)
    assert_shape(what, result.shape, broadcast_shapes(*map(shape_of, args)), context)
    dtype_ = expected_dtype(op, args) if target is None else target.dtype
    assert_dtype(what, result.dtype, dtype_, context)
    assert_matches_reference(what, result, reference(op, args), context)
    if form != "function" and accepts(op, "function", args) and isinstance(args[0], torch.Tensor):
        function = spell(op, "function", names)
        function_result = returned(lambda: op(*args), function, context)
        assert_equal(f"{what} (against {function})", result, function_result.to(dtype_), context)


@pytest.mark.supports_meta
@given(data=st.data())
def test_ops_reject_non_broadcastable_shapes(data: st.DataObject, device: torch.device) -> None:
    """Operands whose shapes do not broadcast raise ``RuntimeError`` from every op
    in the table, in every form (function, operator, method, in place), whatever
    the sizes: ``(2,)`` against ``(0,)`` conflicts as much as ``(2,)`` against ``(3,)``."""
    op = data.draw(st.sampled_from(BROADCAST_OPS), label="op")
    conflict = data.draw(conflicting_shapes(op.arity), label="shapes")
    args = [
        torch.zeros(shape, dtype=op.dtype_of(i, torch.float32), device=device)
        for i, shape in enumerate(conflict.input_shapes)
    ]
    names = operand_names(op)
    context = describe(op.name, args, names)
    for form in forms(op, args, check_shapes=False):
        assert_raises(
            RuntimeError,
            functools.partial(call_form, op, form, args),
            what=f"{form} {spell(op, form, names)}",
            context=context,
        )


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
