"""``torch.broadcast_shapes`` and ``torch.broadcast_tensors`` follow the broadcasting rule.

The rule (https://pytorch.org/docs/stable/notes/broadcasting.html), written
out in :mod:`conformance.oracle.broadcasting`: align shapes from the right,
count missing dims as 1, and let each aligned dim take the one size that is
not 1 -- two different sizes other than 1 do not broadcast. Size 0 is a size
like any other: ``(1,)`` against ``(0,)`` gives ``(0,)`` (pytorch#162116),
``(2,)`` against ``(0,)`` raises. Checked for 2 to 4 operands, with 0-d,
size-0 and size-1 dims.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import assert_dtype, assert_equal, assert_raises, assert_shape, fail
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import broadcast_shapes
from conformance.support.ops import returned
from strategies import mutually_broadcastable_shapes, non_broadcastable_shapes, tensors

Shape = tuple[int, ...]

#: 2 to 4 operands of up to 4 dims; shapes for tensors hold at most 16
#: elements, since every value is drawn.
NUM_OPERANDS = range(2, 5)
_BROADCASTABLE: dict[tuple[int, int], st.SearchStrategy[Any]] = {
    (n, numel): mutually_broadcastable_shapes(num_shapes=n, max_dims=4, max_numel=numel)
    for n in NUM_OPERANDS
    for numel in (16, 64)
}
_CONFLICTING: dict[tuple[int, int], st.SearchStrategy[Any]] = {
    (n, numel): non_broadcastable_shapes(num_shapes=n, max_dims=4, max_numel=numel)
    for n in NUM_OPERANDS
    for numel in (16, 64)
}
_SPELLINGS = ("tuple", "list", "torch.Size", "int")


def draw_input_shapes(
    data: st.DataObject, *, broadcastable: bool, max_numel: int = 64
) -> tuple[Shape, ...]:
    n = data.draw(st.sampled_from(NUM_OPERANDS), label="number of operands")
    pool = _BROADCASTABLE if broadcastable else _CONFLICTING
    return tuple(data.draw(pool[n, max_numel], label="shapes").input_shapes)


def spelled(data: st.DataObject, shape: Shape, label: str) -> object:
    """``shape`` as a user may pass it: a tuple, a list, a ``torch.Size``, or for
    1-D shapes a bare int (``broadcast_shapes`` accepts all four)."""
    spelling = data.draw(st.sampled_from(_SPELLINGS), label=label)
    if spelling == "list":
        return list(shape)
    if spelling == "torch.Size":
        return torch.Size(shape)
    if spelling == "int" and len(shape) == 1:
        return shape[0]
    return shape


def shapes_context(shapes: tuple[Shape, ...]) -> str:
    return "shapes=" + ", ".join(map(str, shapes))


@given(data=st.data())
def test_broadcast_shapes_matches_rule(data: st.DataObject) -> None:
    """``torch.broadcast_shapes(*shapes)`` is the shape the rule gives, however
    each shape is spelled. (Shapes only: no device is involved.)"""
    shapes = draw_input_shapes(data, broadcastable=True)
    args = [spelled(data, s, f"spelling[{i}]") for i, s in enumerate(shapes)]
    context = shapes_context(shapes)
    what = "torch.broadcast_shapes(...)"
    result = returned(lambda: torch.broadcast_shapes(*args), what, context)
    assert_shape(what, result, broadcast_shapes(*shapes), context)


@pytest.mark.supports_meta
@given(data=st.data())
def test_broadcast_tensors_matches_rule(data: st.DataObject, device: torch.device) -> None:
    """``torch.broadcast_tensors(*ts)`` returns one tensor per input, each of the
    broadcast shape and the input's dtype, holding the input's values repeated
    along the broadcast dims (what ``numpy.broadcast_to`` gives)."""
    shapes = draw_input_shapes(data, broadcastable=True, max_numel=16)
    inputs = [
        data.draw(tensors(shape=s, dtype=torch.float32, device=device), label=f"t[{i}]")
        for i, s in enumerate(shapes)
    ]
    context = shapes_context(shapes)
    expected_shape = broadcast_shapes(*shapes)
    outputs = returned(lambda: torch.broadcast_tensors(*inputs), "torch.broadcast_tensors", context)
    if len(outputs) != len(inputs):
        fail(f"len(outputs)={len(outputs)}, but should be {len(inputs)}", context)
    for i, (t, out) in enumerate(zip(inputs, outputs, strict=True)):
        assert_shape(f"outputs[{i}]", out.shape, expected_shape, context)
        assert_dtype(f"outputs[{i}]", out.dtype, t.dtype, context)
        if device.type != "meta":
            assert_equal(
                f"outputs[{i}]", out, np.broadcast_to(to_float64(t), expected_shape), context
            )


@pytest.mark.supports_meta
@given(data=st.data())
def test_non_broadcastable_shapes_raise(data: st.DataObject, device: torch.device) -> None:
    """Shapes with two different sizes other than 1 in one aligned dim -- ``(2,)``
    against ``(3,)`` and ``(2,)`` against ``(0,)`` alike -- make both
    ``broadcast_shapes`` and ``broadcast_tensors`` raise ``RuntimeError``."""
    shapes = draw_input_shapes(data, broadcastable=False, max_numel=16)
    context = shapes_context(shapes)
    inputs = [torch.zeros(s, device=device) for s in shapes]
    assert_raises(
        RuntimeError,
        lambda: torch.broadcast_shapes(*shapes),
        what="torch.broadcast_shapes",
        context=context,
    )
    assert_raises(
        RuntimeError,
        lambda: torch.broadcast_tensors(*inputs),
        what="torch.broadcast_tensors",
        context=context,
    )
