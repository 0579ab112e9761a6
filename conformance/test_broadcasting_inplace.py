"""In-place ops broadcast only the other operand, never their target.

``a.op_(b)`` writes ``op(a, b)`` into ``a``, so it needs the broadcast of the
two shapes to be ``a``'s own shape (https://pytorch.org/docs/stable/notes/broadcasting.html,
"In-place semantics"; pytorch#71098): ``b`` may be broadcast to ``a``, ``a``
may not grow. When it succeeds it returns ``a`` itself; when it does not it
raises ``RuntimeError`` and leaves ``a`` as it was.

A target that is itself a broadcast view -- an expanded tensor whose
elements share memory -- is refused as well: torch raises rather than write
an ill-defined result (``assert_no_internal_overlap`` in
aten/src/ATen/MemoryOverlap.cpp; the ``Tensor.expand`` docs warn against it).

Known departure (torch 2.13.0): on ``meta``, ``pow_``, ``floor_divide_`` and
the comparisons' in-place forms resize a target that is too small to the
broadcast shape (with a deprecation warning from
torch/_prims_common/wrappers.py) where the CPU raises, so
``test_inplace_op_follows_broadcast_rule[meta-pow_]`` and
``[meta-floor_divide_]`` fail (listed in known_deviations.toml).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import assert_equal, assert_raises, assert_shape, fail
from conformance.oracle.broadcasting import broadcasts_in_place
from conformance.support.ops import (
    INPLACE_OPS,
    MAX_DIMS,
    MAX_NUMEL,
    BroadcastOp,
    describe,
    inplace_id,
    returned,
)
from strategies import mutually_broadcastable_shapes, non_broadcastable_shapes, shapes, tensors


def _same_numel(shape: tuple[int, ...]) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``shape`` against shapes with as many elements: reversed, with a trailing 1,
    flattened. Before broadcasting, such operands combined element by element in
    memory order (pytorch#1629; in place with only a warning, #5826): ``(5,)``
    against ``(5, 1)`` must raise in place, ``(1, 3)`` against ``(3,)`` broadcasts."""
    return st.sampled_from(
        [(shape, tuple(reversed(shape))), (shape, (*shape, 1)), (shape, (math.prod(shape),))]
    )


#: Pairs that broadcast (whether in place or only out of place), pairs where
#: the second operand broadcasts into the first, pairs that conflict, and pairs
#: of the same number of elements in other shapes.
_BROADCASTABLE = mutually_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_numel=MAX_NUMEL)
_SHAPE_PAIRS = st.one_of(
    _BROADCASTABLE.map(lambda drawn: drawn.input_shapes),
    _BROADCASTABLE.map(lambda drawn: (drawn.result_shape, drawn.input_shapes[1])),
    non_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_numel=MAX_NUMEL).map(
        lambda drawn: drawn.input_shapes
    ),
    shapes(min_dims=1, max_dims=MAX_DIMS, min_side=1, max_numel=MAX_NUMEL).flatmap(_same_numel),
)
#: A target must own its memory: expanded layouts are checked separately below.
_TARGET_LAYOUTS = st.sampled_from(["contiguous", "transposed", "sliced"])


@pytest.mark.supports_meta
@pytest.mark.parametrize("op", INPLACE_OPS, ids=inplace_id)
@given(data=st.data())
def test_inplace_op_follows_broadcast_rule(
    data: st.DataObject, device: torch.device, op: BroadcastOp
) -> None:
    """``a.op_(b)`` succeeds exactly when ``broadcasts_in_place(a.shape, b.shape)``;
    then it returns ``a`` itself, keeps its shape, and holds ``op(a, b)``.
    Otherwise it raises ``RuntimeError`` and ``a`` keeps its values. (The
    shape rule is the same for every dtype: float32 only.)"""
    a_shape, b_shape = data.draw(_SHAPE_PAIRS, label="shapes")
    dtype = torch.float32
    a = data.draw(
        tensors(
            shape=a_shape,
            dtype=dtype,
            device=device,
            elements=op.domain(0, dtype),
            layout=_TARGET_LAYOUTS,
        ),
        label="a",
    )
    b = data.draw(
        tensors(shape=b_shape, dtype=dtype, device=device, elements=op.domain(1, dtype)), label="b"
    )
    context = describe(f"a.{op.inplace}(b)", (a, b), ("a", "b"))
    before = a.clone()
    method = getattr(a, str(op.inplace))
    has_values = device.type != "meta"

    if not broadcasts_in_place(a_shape, b_shape):
        assert_raises(RuntimeError, lambda: method(b), what=f"a.{op.inplace}(b)", context=context)
        if has_values:
            assert_equal("a after the refused call", a, before, context)
        return

    result = returned(lambda: method(b), f"a.{op.inplace}(b)", context)
    if result is not a:
        fail(f"a.{op.inplace}(b) returned a new tensor, but should return a itself", context)
    assert_shape("a", a.shape, a_shape, context)
    if has_values:
        assert_equal("a", a, op(before, b), context)


@st.composite
def _expanded_targets(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A shape and the storage it is expanded from: some dims collapsed to 1."""
    shape = draw(
        shapes(min_dims=1, max_dims=MAX_DIMS, min_side=1, max_side=4, max_numel=MAX_NUMEL),
        label="shape",
    )
    collapsed = tuple(draw(st.booleans(), label=f"dim {i} expanded") for i in range(len(shape)))
    storage = tuple(1 if c else side for side, c in zip(shape, collapsed, strict=True))
    return shape, storage


@given(data=st.data())
def test_inplace_write_into_expanded_tensor_raises(
    data: st.DataObject, device: torch.device
) -> None:
    """``t.op_(b)`` on ``t = base.expand(shape)`` raises ``RuntimeError`` exactly
    when some dim of size > 1 was expanded from size 1 (several elements of
    ``t`` are one memory location); otherwise it writes as usual. Not on meta:
    meta tensors skip the overlap check."""
    shape, storage = data.draw(_expanded_targets(), label="expanded target")
    op = data.draw(st.sampled_from(INPLACE_OPS), label="op")
    target = torch.ones(storage, device=device).expand(shape)
    other = torch.ones(shape, device=device)
    what = f"t.{op.inplace}(b)"
    context = f"{what}, t = base.expand({shape}), base.shape={storage}"
    call = getattr(target, str(op.inplace))
    if math.prod(storage) < math.prod(shape):  # some elements share memory
        assert_raises(RuntimeError, lambda: call(other), what=what, context=context)
    else:
        returned(lambda: call(other), what, context)
