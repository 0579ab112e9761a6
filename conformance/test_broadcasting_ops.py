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

import dataclasses
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
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
from conformance.oracle.promotion import (
    Operand,
    Priority,
    result_type,
    scalar_dtype,
    true_divide_dtype,
)
from strategies import (
    default_elements,
    layouts,
    mutually_broadcastable_shapes,
    non_broadcastable_shapes,
    tensors,
)

Arg = torch.Tensor | bool | int | float
T = TypeVar("T")
CPU = torch.device("cpu")

#: Small shapes keep each example (and each shrink) cheap; 0-d, size-0 and
#: size-1 dims stay reachable.
MAX_DIMS = 3
MAX_NUMEL = 32

#: The dtypes the value checks run on (integer dtypes meet these ops in the
#: promotion checks).
OP_DTYPES = ("float32", "float64")


# -- Operand domains ---------------------------------------------------------


def float_width(dtype: torch.dtype) -> Literal[16, 32, 64]:
    """The Hypothesis float width whose values ``dtype`` holds exactly (bfloat16
    rounds the float32 values drawn; the tensor's values are what the oracle reads)."""
    return 16 if dtype == torch.float16 else 64 if dtype == torch.float64 else 32


def _magnitudes(low: float, high: float, dtype: torch.dtype) -> st.SearchStrategy[float]:
    """Floats with ``low <= |v| <= high``, positive ones first (they shrink first)."""
    w = float_width(dtype)
    return st.floats(low, high, width=w) | st.floats(-high, -low, width=w)


@functools.cache
def _anything(position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    return default_elements(dtype)


@functools.cache
def _divisor(position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """Divisors at least 1/4 in size, so that no quotient overflows float16, or
    exactly ±0, where IEEE division gives ±inf or NaN in NumPy and torch alike."""
    if position == 0 or not dtype.is_floating_point:
        return default_elements(dtype)
    return _magnitudes(0.25, 100.0, dtype) | st.sampled_from([0.0, -0.0])


@functools.cache
def _power(position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """Bases in ±[1/4, 4] (or 0) and exponents in [-3, 3]: every power is
    finite in float16 except 0 to a negative power, inf in both; a negative
    base to a fractional power is NaN in both. Integers keep to non-negative
    exponents (a negative one is an error for a scalar exponent)."""
    if not dtype.is_floating_point:
        return st.integers(-4, 4) if position == 0 else st.integers(0, 3)
    if position == 0:
        return _magnitudes(0.25, 4.0, dtype) | st.just(0.0)
    return st.floats(-3.0, 3.0, width=float_width(dtype))


@functools.cache
def _condition(position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    return st.booleans() if position == 0 else default_elements(dtype)


# -- The op table ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BroadcastOp:
    """One broadcasting elementwise op, as data.

    ``name`` is looked up on ``torch`` at call time; ``reference`` is the NumPy
    function computing the same thing in float64; ``operator`` the Python
    operator that is documented to mean the same (or None);
    ``domain(position, dtype)`` is the strategy for the values of operand
    ``position``, chosen so that results stay comparable; ``scalar_positions`` are
    the operands that may be Python numbers in the function form;
    ``result`` is ``"promoted"``, ``"bool"`` or ``"true_divide"``; with
    ``condition=True`` operand 0 is a bool mask that takes no part in
    promotion (``torch.where``). ``inplace`` names the in-place method.
    """

    name: str
    reference: Callable[..., Any]
    operator: Callable[[Any, Any], Any] | None = None
    domain: Callable[[int, torch.dtype], st.SearchStrategy[Any]] = _anything
    scalar_positions: tuple[int, ...] = (1,)
    result: str = "promoted"
    arity: int = 2
    condition: bool = False
    inplace: str | None = None

    def __call__(self, *args: Any) -> Any:
        return getattr(torch, self.name)(*args)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Hypothesis prints drawn ops: keep it short
        return f"{type(self).__name__}({self.name!r})"

    def dtype_of(self, position: int, dtype: torch.dtype) -> torch.dtype:
        return torch.bool if self.condition and position == 0 else dtype


def _comparison(
    name: str, reference: Callable[..., Any], op: Callable[[Any, Any], Any]
) -> BroadcastOp:
    return BroadcastOp(name, reference, op, result="bool", inplace=f"{name}_")


BROADCAST_OPS: tuple[BroadcastOp, ...] = (
    BroadcastOp("add", np.add, operator.add, scalar_positions=(0, 1), inplace="add_"),
    BroadcastOp("sub", np.subtract, operator.sub, scalar_positions=(0, 1), inplace="sub_"),
    BroadcastOp("mul", np.multiply, operator.mul, scalar_positions=(0, 1), inplace="mul_"),
    BroadcastOp(
        "div",
        np.true_divide,
        operator.truediv,
        domain=_divisor,
        scalar_positions=(0, 1),
        result="true_divide",
        inplace="div_",
    ),
    BroadcastOp("maximum", np.maximum, scalar_positions=()),
    BroadcastOp("minimum", np.minimum, scalar_positions=()),
    BroadcastOp(
        "pow", np.power, operator.pow, domain=_power, scalar_positions=(0, 1), inplace="pow_"
    ),
    _comparison("eq", np.equal, operator.eq),
    _comparison("ne", np.not_equal, operator.ne),
    _comparison("lt", np.less, operator.lt),
    _comparison("le", np.less_equal, operator.le),
    _comparison("gt", np.greater, operator.gt),
    _comparison("ge", np.greater_equal, operator.ge),
    BroadcastOp(
        "logical_and", np.logical_and, scalar_positions=(), result="bool", inplace="logical_and_"
    ),
    BroadcastOp(
        "where",
        np.where,
        domain=_condition,
        scalar_positions=(1, 2),
        arity=3,
        condition=True,
    ),
)


def op_id(op: BroadcastOp) -> str:
    return op.name


# -- Drawing operands and describing them ------------------------------------


@functools.cache
def _operand_shapes(num_shapes: int) -> st.SearchStrategy[Any]:
    return mutually_broadcastable_shapes(
        num_shapes=num_shapes, max_dims=MAX_DIMS, max_numel=MAX_NUMEL
    )


@functools.cache
def _conflicting_shapes(num_shapes: int) -> st.SearchStrategy[Any]:
    return non_broadcastable_shapes(num_shapes=num_shapes, max_dims=MAX_DIMS, max_numel=MAX_NUMEL)


def draw_scalar(
    data: st.DataObject, op: BroadcastOp, position: int, dtype: torch.dtype, label: str
) -> bool | int | float:
    """A Python number from the op's domain, exactly representable in ``dtype``
    (drawn as a 0-d tensor of ``dtype``, then taken out of it)."""
    return data.draw(operand_tensors(op, position, (), dtype, CPU), label=label).item()


def draw_args(
    data: st.DataObject,
    op: BroadcastOp,
    dtype: torch.dtype,
    device: torch.device,
    *,
    scalar_positions: tuple[int, ...] | None = None,
    conflicting: bool = False,
) -> list[Arg]:
    """Operands for ``op``: tensors of broadcastable shapes (0-d included, any
    layout), one of them possibly a Python number (at ``scalar_positions``,
    by default the op's own). ``conflicting=True`` draws shapes that do not
    broadcast (a Python number in place of one may resolve the conflict)."""
    pool = _conflicting_shapes if conflicting else _operand_shapes
    input_shapes = data.draw(pool(op.arity), label="shapes").input_shapes
    positions = op.scalar_positions if scalar_positions is None else scalar_positions
    scalar_at = data.draw(st.sampled_from((None, *positions)), label="scalar operand")
    args: list[Arg] = []
    for i, shape in enumerate(input_shapes):
        label = f"operand[{i}]"
        if i == scalar_at:
            args.append(draw_scalar(data, op, i, dtype, label))
            continue
        args.append(data.draw(operand_tensors(op, i, shape, dtype, device), label=label))
    return args


@functools.lru_cache(maxsize=4096)
def operand_tensors(
    op: BroadcastOp, position: int, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[torch.Tensor]:
    """Tensors for operand ``position`` of ``op``, in any layout; built once per
    shape (shapes repeat across examples, and a new strategy is validated anew)."""
    return tensors(
        shape=shape,
        dtype=op.dtype_of(position, dtype),
        device=device,
        elements=op.domain(position, dtype),
        layout=layouts(),
    )


def shape_of(arg: Arg) -> tuple[int, ...]:
    return tuple(arg.shape) if isinstance(arg, torch.Tensor) else ()


def describe(
    name: str,
    args: Sequence[Arg],
    names: Sequence[str] = ("x", "y", "z"),
    *,
    dtypes: bool = False,
) -> str:
    """``"mul, x.shape=(2, 1), y=2.5"``: the op and what it was given (with
    ``dtypes=True``, ``"x.shape=(2, 1) x.dtype=float16"``)."""
    parts = []
    for n, a in zip(names, args, strict=False):
        if not isinstance(a, torch.Tensor):
            parts.append(f"{n}={a!r}")
            continue
        dtype = f" {n}.dtype={str(a.dtype).removeprefix('torch.')}" if dtypes else ""
        parts.append(f"{n}.shape={shape_of(a)}{dtype}")
    return ", ".join([name, *parts])


def operand_names(op: BroadcastOp) -> tuple[str, ...]:
    return ("condition", "x", "y") if op.condition else ("x", "y", "z")


def priority_of(arg: Arg) -> Priority:
    if not isinstance(arg, torch.Tensor):
        return Priority.SCALAR
    return Priority.DIMENSIONED if arg.dim() else Priority.ZERO_DIM


def documented_dtype(values: Sequence[Arg], *, true_divide: bool = False) -> torch.dtype:
    """The dtype the documented promotion rule gives arithmetic on ``values``
    (then promoted to the default float dtype by a true division)."""
    default_float = torch.get_default_dtype()
    promoted = result_type(
        Operand(
            a.dtype
            if isinstance(a, torch.Tensor)
            else scalar_dtype(a, default_float=default_float),
            priority_of(a),
        )
        for a in values
    )
    return true_divide_dtype(promoted, default_float=default_float) if true_divide else promoted


def expected_dtype(op: BroadcastOp, args: Sequence[Arg]) -> torch.dtype:
    """The result dtype of ``op`` on ``args``: bool for comparisons and logical
    ops, else the promoted dtype of its (non-mask) operands."""
    if op.result == "bool":
        return torch.bool
    values = args[1:] if op.condition else args
    return documented_dtype(values, true_divide=op.result == "true_divide")


def returned(call: Callable[[], T], what: str, context: str) -> T:
    """``call()``'s result; if it raises, the check fails saying so (rather than
    erroring), since the inputs were valid."""
    try:
        return call()
    except Exception as e:  # any: a valid call must not raise at all
        fail(f"{what} raised {e!r}, but should return", context)
        raise  # unreachable: fail() raises


def as_float64(arg: Arg) -> Any:
    """What the NumPy reference computes on: float64 arrays, Python numbers as they are."""
    return to_float64(arg) if isinstance(arg, torch.Tensor) else arg


def reference(op: BroadcastOp, args: Sequence[Arg]) -> np.ndarray:
    with np.errstate(all="ignore"):  # inf and NaN are expected where the domain allows them
        return np.asarray(op.reference(*(as_float64(a) for a in args)))


def assert_matches_reference(
    name: str, actual: torch.Tensor, expected: np.ndarray, context: str
) -> None:
    """Bool results exactly; others within the elementwise tolerance of their
    dtype, with infinities and NaNs in the same places."""
    if actual.dtype == torch.bool:
        assert_equal(name, actual, expected.astype(bool), context)
        return
    # assert_close's bound is infinite where the expected value is: pin the
    # non-finite values exactly first.
    a = to_float64(actual)
    finite = np.isfinite(expected)
    assert_equal(
        f"{name} (non-finite values)",
        np.where(finite, 0.0, a),
        np.where(finite, 0.0, expected),
        context,
    )
    assert_close(name, actual, expected, context=context)


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
    conflict = data.draw(_conflicting_shapes(op.arity), label="shapes")
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
