"""Result dtypes of broadcasting ops follow PyTorch's documented promotion rule.

The rule (https://pytorch.org/docs/stable/tensor_attributes.html#type-promotion-doc),
written out in :mod:`conformance.oracle.promotion` without asking torch:
categories bool < integer < floating; dimensioned tensors decide the dtype,
a 0-d tensor or a Python number raises it only when its category is higher
than that of everything ranked before it, and values are never inspected.
So ``float16[1] + float64 0-d`` is float16 (pytorch#58736), ``uint8[1] +
int64 0-d`` is uint8 (and wraps, pytorch#58489), and ``int32[1] + 2.5`` is
the default float dtype. ``torch.div`` then promotes integer results to the
default float dtype.

An in-place op writes into its target, which accepts the promoted result
unless it is of a lower category ("An integral output tensor cannot accept a
floating point tensor...", same page): ``int_tensor.add_(float_tensor)``
raises ``RuntimeError``; allowed ones keep the target's dtype.

Complex operands take part too: the docs rank complex above floating but
call complex "not yet supported", so their sizes follow PyTorch's design
(PR #34093), written out in :mod:`conformance.oracle.promotion` --
``float32[n] * complex128 0-d`` is complex64, ``float64[n] + 1j`` complex128.
Each check calls the function and, where there is one, the operator:
``torch.add(x, y)`` and ``x + y`` (``+``, ``*``, ``/``, a tensor or a number on
either side).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance.assertions import assert_dtype, assert_raises, assert_shape, fail
from conformance.oracle.broadcasting import broadcast_shapes, broadcasts_in_place
from conformance.oracle.promotion import DTYPES, Category, Priority, can_cast, category
from conformance.support.ops import (
    describe,
    documented_dtype,
    returned,
    shape_of,
)
from conformance.tolerances import float_width
from strategies import mutually_broadcastable_shapes, tensors

Arg = torch.Tensor | bool | int | float | complex
DTYPE_NAMES = tuple(str(d).removeprefix("torch.") for d in DTYPES)


@dataclasses.dataclass(frozen=True)
class PromotingOp:
    """An op whose operands are promoted together: ``call`` looks torch up per
    call; ``scalars_fit`` says the op refuses Python numbers that do not fit the
    result dtype (``torch.where`` does, ``add`` wraps); ``inplace`` names the
    in-place method; ``condition`` marks ``where``'s mask; ``operator`` is the
    Python operator that means the same (``x + y``), with its ``symbol``."""

    name: str
    call: Callable[..., Any]
    arity: int = 2
    scalars: bool = True
    scalars_fit: bool = False
    true_divide: bool = False
    condition: bool = False
    inplace: str | None = None
    operator: Callable[[Any, Any], Any] | None = None
    symbol: str = ""

    def forms(self) -> tuple[str, ...]:
        return ("function", "operator") if self.operator is not None else ("function",)

    def in_form(self, form: str) -> Callable[..., Any]:
        """The op spelled as ``form``: ``torch.add(*args)`` or ``args[0] + args[1]``."""
        if form == "operator":
            assert self.operator is not None
            return self.operator
        return self.call

    def spell(self, form: str) -> str:
        return "x + y".replace("+", self.symbol) if form == "operator" else f"torch.{self.name}"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Hypothesis prints drawn ops: keep it short
        return f"{type(self).__name__}({self.name!r})"


PROMOTING_OPS = (
    PromotingOp("add", lambda *a: torch.add(*a), inplace="add_", operator=operator.add, symbol="+"),
    PromotingOp("mul", lambda *a: torch.mul(*a), inplace="mul_", operator=operator.mul, symbol="*"),
    PromotingOp(
        "div",
        lambda *a: torch.div(*a),
        true_divide=True,
        inplace="div_",
        operator=operator.truediv,
        symbol="/",
    ),
    PromotingOp("where", lambda *a: torch.where(*a), scalars_fit=True, condition=True),
    # Three promoted tensors, no Python numbers.
    PromotingOp("addcmul", lambda *a: torch.addcmul(*a), arity=3, scalars=False),
)

_SHAPES = {
    n: mutually_broadcastable_shapes(num_shapes=n, min_dims=1, max_dims=2, max_side=3)
    for n in (2, 3)
}
_PRIORITIES = {
    True: st.sampled_from([Priority.DIMENSIONED, Priority.ZERO_DIM, Priority.SCALAR]),
    False: st.sampled_from([Priority.DIMENSIONED, Priority.ZERO_DIM]),
}


@functools.cache
def _wide_values(dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """Any value of ``dtype``: a rule that inspected values (as NumPy 1.x did)
    would pick a different dtype for some of them."""
    if dtype == torch.bool:
        return st.booleans()
    if dtype.is_complex:
        if dtype == torch.complex64:
            return st.complex_numbers(allow_nan=False, allow_infinity=False, width=64)
        return st.complex_numbers(allow_nan=False, allow_infinity=False, width=128)
    if dtype.is_floating_point:
        # Within the dtype's range (bfloat16's is narrower than float32's, whose
        # values it is drawn as).
        top = float(torch.finfo(dtype).max)
        return st.floats(-top, top, width=float_width(dtype))
    info = torch.iinfo(dtype)
    return st.integers(info.min, info.max)


@functools.lru_cache(maxsize=4096)
def any_values(
    shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[torch.Tensor]:
    """Tensors holding any values of ``dtype`` (one strategy per shape)."""
    return tensors(shape=shape, dtype=dtype, device=device, elements=_wide_values(dtype))


@functools.cache
def _scalars(dtype: torch.dtype, *, fit: bool) -> st.SearchStrategy[Any]:
    """Python numbers of ``dtype``'s kind: any size, or sizes every dtype holds."""
    if dtype == torch.bool:
        return st.booleans()
    if dtype.is_complex:
        magnitude = 100 if fit else 1e30
        return st.complex_numbers(max_magnitude=magnitude, allow_nan=False, allow_infinity=False)
    if dtype.is_floating_point:
        return st.floats(-100, 100) if fit else st.floats(-1e30, 1e30)
    return st.integers(0, 100) if fit else st.integers(-(2**40), 2**40)


#: torch's name for complex32 in "not implemented for 'ComplexHalf'".
_EXPERIMENTAL = {torch.complex32: "ComplexHalf"}


def result_dtype(
    call: Callable[[], Any], expected: torch.dtype, what: str, context: str
) -> tuple[torch.Tensor | None, torch.dtype]:
    """``call()``'s result and dtype. complex32 kernels are experimental ("ComplexHalf
    support is experimental"): a call whose promoted dtype is complex32 may find no
    kernel (CPU has no division for it) and raise "... not implemented for
    'ComplexHalf'" -- the promotion step chose complex32, which is what these
    checks are about, so that counts as the dtype (and no result)."""
    try:
        return (out := call()), out.dtype
    except RuntimeError as e:
        name = _EXPERIMENTAL.get(expected)
        if name is not None and f"not implemented for '{name}'" in str(e):
            return None, expected
        fail(f"{what} raised {e!r}, but should return", context)
        raise  # unreachable: fail() raises


def assert_dtype_in_every_form(
    op: PromotingOp,
    args: Sequence[Arg],
    expected: torch.dtype,
    context: str,
    *,
    shape: tuple[int, ...] | None = None,
) -> None:
    """``op`` on ``args`` through the function and, where it has one, the operator
    (both, every example: a call costs far less than a draw) gives ``expected``
    (and the broadcast ``shape``, when given)."""
    for form in op.forms():
        what = op.spell(form)
        call = functools.partial(op.in_form(form), *args)
        result, dtype_ = result_dtype(call, expected, what, context)
        if result is not None and shape is not None:
            assert_shape(what, result.shape, shape, context)
        assert_dtype(what, dtype_, expected, context)


def draw_operand(
    data: st.DataObject,
    op: PromotingOp,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
    i: int,
) -> Arg:
    priority = data.draw(_PRIORITIES[op.scalars], label=f"operand[{i}] kind")
    if priority == Priority.SCALAR:
        return data.draw(_scalars(dtype, fit=op.scalars_fit), label=f"operand[{i}]")
    shape = shape if priority == Priority.DIMENSIONED else ()
    return data.draw(any_values(shape, dtype, device), label=f"operand[{i}]")


@pytest.mark.dtypes(*DTYPE_NAMES)
@given(data=st.data())
def test_result_dtype_follows_documented_rule(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """A dimensioned tensor of ``dtype`` meets other operands -- dimensioned,
    0-d or Python numbers, of any dtype, on either side: the result has the
    broadcast shape and the documented dtype. For ``x.op_(other)``, the op
    succeeds exactly when that dtype may be cast into ``x``'s, and keeps it."""
    op = data.draw(st.sampled_from(PROMOTING_OPS), label="op")
    shapes = data.draw(_SHAPES[op.arity], label="shapes").input_shapes
    x = data.draw(any_values(shapes[0], dtype, device), label="x")
    others = [
        draw_operand(
            data, op, s, data.draw(st.sampled_from(DTYPES), label=f"operand[{i}] dtype"), device, i
        )
        for i, s in enumerate(shapes[1:], start=1)
    ]
    x_at = data.draw(st.integers(0, len(others)), label="position of x")
    values = [*others[:x_at], x, *others[x_at:]]
    # addcmul has no kernel for three bools (NotImplementedError); rarely drawn.
    all_bool = all(isinstance(v, torch.Tensor) and v.dtype == torch.bool for v in values)
    assume(not (op.name == "addcmul" and all_bool))
    args = (
        [torch.zeros(shapes[0], dtype=torch.bool, device=device), *values]
        if op.condition
        else values
    )
    context = describe(op.name, args, dtypes=True)

    expected = documented_dtype(values, true_divide=op.true_divide)
    shape = broadcast_shapes(*map(shape_of, args))
    assert_dtype_in_every_form(op, args, expected, context, shape=shape)
    if op.inplace is not None and x_at == 0 and broadcasts_in_place(x.shape, shape_of(values[1])):
        check_inplace_cast(op, x, values[1], expected, context)


@pytest.mark.dtypes(*DTYPE_NAMES)
@given(data=st.data())
def test_zero_dim_operand_does_not_widen_within_category(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """The case the general check above meets rarely, drawn every time: a
    dimensioned ``dtype`` tensor meets a 0-d tensor (or a Python number) of
    the same category but another width. The dimensioned tensor decides:
    ``float16[n] + float64 0-d`` is float16 (pytorch#58736); a promotion
    routine that treats 0-d tensors as dimensioned ones gives float64."""
    same_category = [d for d in DTYPES if category(d) == category(dtype) and d != dtype]
    if not same_category:
        pytest.skip(f"{dtype} is the only dtype of its category")
    op = data.draw(st.sampled_from(PROMOTING_OPS[:4]), label="op")
    shape = data.draw(_SHAPES[2], label="shapes").input_shapes[0]
    x = data.draw(any_values(shape, dtype, device), label="x")
    other_dtype = data.draw(st.sampled_from(same_category), label="other dtype")
    other: Arg
    if op.scalars and data.draw(st.booleans(), label="other is a Python number"):
        other = data.draw(_scalars(other_dtype, fit=op.scalars_fit), label="other")
    else:
        other = data.draw(any_values((), other_dtype, device), label="other (0-d)")
    values = [x, other] if data.draw(st.booleans(), label="x first") else [other, x]
    args = (
        [torch.zeros(shape, dtype=torch.bool, device=device), *values] if op.condition else values
    )
    context = describe(op.name, args, dtypes=True)

    expected = documented_dtype(values, true_divide=op.true_divide)
    assert_dtype_in_every_form(op, args, expected, context)


#: The ops written with an operator: they take Python numbers on either side.
OPERATOR_OPS = tuple(op for op in PROMOTING_OPS if op.operator is not None)
_OTHER_KINDS = st.sampled_from([Priority.ZERO_DIM, Priority.SCALAR, Priority.DIMENSIONED])


@pytest.mark.dtypes(*DTYPE_NAMES)
@given(data=st.data())
def test_operands_across_categories_promote_as_documented(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """A dimensioned ``dtype`` tensor meets an operand of another category -- bool,
    integral, floating or complex, drawn first, so that every pairing comes up --
    that is a 0-d tensor, a Python number or a dimensioned tensor, on either side
    of ``torch.add/mul/div`` or of ``+``, ``*``, ``/``: the result has the
    documented dtype. Across categories 0-d tensors and numbers *do* count: one
    of a higher category raises the result to that category (``int32[n] +
    float64 0-d`` is float64, ``bool[n] * 2`` int64, ``float32[n] * 1j``
    complex64), one of a lower category changes nothing (``float16[n] + int64
    0-d`` is float16). Within a category they do not
    (``test_zero_dim_operand_does_not_widen_within_category``).
    """
    others = [c for c in Category if c != category(dtype)]
    other_category = data.draw(st.sampled_from(others), label="other category")
    candidates = [d for d in DTYPES if category(d) == other_category]
    other_dtype = data.draw(st.sampled_from(candidates), label="other dtype")
    kind = data.draw(_OTHER_KINDS, label="other kind")
    op = data.draw(st.sampled_from(OPERATOR_OPS), label="op")
    x_shape, other_shape = data.draw(_SHAPES[2], label="shapes").input_shapes
    x = data.draw(any_values(x_shape, dtype, device), label="x")
    other = draw_operand_of_kind(data, op, kind, other_shape, other_dtype, device)
    values = [x, other] if data.draw(st.booleans(), label="x first") else [other, x]
    context = describe(op.name, values, dtypes=True)

    expected = documented_dtype(values, true_divide=op.true_divide)
    assert_dtype_in_every_form(op, values, expected, context)


def draw_operand_of_kind(
    data: st.DataObject,
    op: PromotingOp,
    kind: Priority,
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
) -> Arg:
    """A Python number of ``dtype``'s kind, a 0-d tensor or a tensor of ``shape``."""
    if kind == Priority.SCALAR:
        return data.draw(_scalars(dtype, fit=op.scalars_fit), label="other")
    shape = tuple(shape) if kind == Priority.DIMENSIONED else ()
    return data.draw(any_values(shape, dtype, device), label="other")


def check_inplace_cast(
    op: PromotingOp, x: torch.Tensor, other: Arg, promoted: torch.dtype, context: str
) -> None:
    """``x.op_(other)`` takes the promoted dtype into ``x`` when it may be cast."""
    method = getattr(x, str(op.inplace))
    what = f"x.{op.inplace}(other) (result dtype {promoted}, x.dtype={x.dtype})"
    if not can_cast(promoted, x.dtype):
        assert_raises(RuntimeError, lambda: method(other), what=what, context=context)
        return
    result = returned(lambda: method(other), what, context)
    assert_dtype(f"x.{op.inplace}(other)", result.dtype, x.dtype, context)
