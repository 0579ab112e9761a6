"""The elementwise ops of the broadcasting suites, described as data.

:data:`BROADCAST_OPS` lists each op once, in the spirit of PyTorch's OpInfo:
its torch name (resolved when called, so a patched implementation is what
gets checked), its operator and in-place forms, the NumPy reference, where
Python numbers may stand and which operand values are legal. The suites
``test_broadcasting_*`` are generic over the table; the draw helpers here
(:func:`draw_args`, :func:`describe`, :func:`returned`) are theirs too, and
so are the spellings a user writes (:data:`FORMS`: ``torch.mul(x, y)``,
``x * y``, ``x.mul(y)``, ``x.mul_(y)``, ``x *= y``; :func:`forms`,
:func:`call_form`, :func:`spell`), which the checks draw one of per example.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from hypothesis import strategies as st

from conformance.assertions import (
    assert_close,
    assert_equal,
    fail,
)
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import broadcasts_in_place
from conformance.oracle.promotion import (
    Operand,
    Priority,
    can_cast,
    result_type,
    scalar_dtype,
    true_divide_dtype,
)
from conformance.tolerances import float_width
from strategies import (
    default_elements,
    layouts,
    mutually_broadcastable_shapes,
    non_broadcastable_shapes,
    tensors,
)

Arg = torch.Tensor | bool | int | float | complex
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
    exactly ±0, where IEEE division gives ±inf or NaN in NumPy and torch alike.
    Integer divisors are never 0 (integer division by zero raises)."""
    if position == 0 or dtype == torch.bool:
        return default_elements(dtype)
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        positive = st.integers(1, min(100, info.max))
        return positive | st.integers(max(-100, info.min), -1) if info.min < 0 else positive
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


#: The IEEE special values, which NumPy and torch treat alike in maximum/minimum.
_SPECIAL_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf])


@functools.cache
def _with_nan(position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """Finite values, and NaN and +-inf in either position: ``maximum`` and
    ``minimum`` propagate a NaN whichever operand holds it (their docs), and
    an implementation as ``a < b ? b : a`` keeps or drops it by the order
    (pytorch#25016, #143976)."""
    finite = default_elements(dtype)
    return finite | _SPECIAL_FLOATS if dtype.is_floating_point else finite


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
    promotion (``torch.where``). ``inplace`` names the in-place method;
    ``symbol`` spells the operator (``"*"``) and ``inplace_operator`` is its
    augmented assignment (``operator.imul``, ``x *= y``), where Python has one.
    ``method_self`` is the operand a method is called on (``x.where(condition,
    y)``: operand 1). :func:`forms` lists the spellings a user writes.
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
    symbol: str | None = None
    inplace_operator: Callable[[Any, Any], Any] | None = None
    method_self: int = 0

    def __call__(self, *args: Any) -> Any:
        return getattr(torch, self.name)(*args)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Hypothesis prints drawn ops: keep it short
        return f"{type(self).__name__}({self.name!r})"

    def dtype_of(self, position: int, dtype: torch.dtype) -> torch.dtype:
        return torch.bool if self.condition and position == 0 else dtype


def _comparison(
    name: str, reference: Callable[..., Any], op: Callable[[Any, Any], Any], symbol: str
) -> BroadcastOp:
    return BroadcastOp(name, reference, op, result="bool", inplace=f"{name}_", symbol=symbol)


def _arithmetic(
    name: str,
    reference: Callable[..., Any],
    symbol: str,
    op: Callable[[Any, Any], Any],
    inplace_op: Callable[[Any, Any], Any],
    **options: Any,
) -> BroadcastOp:
    """An op with an operator, its augmented assignment and an in-place method,
    that takes a Python number on either side."""
    return BroadcastOp(
        name,
        reference,
        op,
        scalar_positions=(0, 1),
        inplace=f"{name}_",
        symbol=symbol,
        inplace_operator=inplace_op,
        **options,
    )


BROADCAST_OPS: tuple[BroadcastOp, ...] = (
    _arithmetic("add", np.add, "+", operator.add, operator.iadd),
    _arithmetic("sub", np.subtract, "-", operator.sub, operator.isub),
    _arithmetic("mul", np.multiply, "*", operator.mul, operator.imul),
    _arithmetic(
        "div",
        np.true_divide,
        "/",
        operator.truediv,
        operator.itruediv,
        domain=_divisor,
        result="true_divide",
    ),
    BroadcastOp("maximum", np.maximum, domain=_with_nan, scalar_positions=()),
    BroadcastOp("minimum", np.minimum, domain=_with_nan, scalar_positions=()),
    _arithmetic("pow", np.power, "**", operator.pow, operator.ipow, domain=_power),
    _comparison("eq", np.equal, operator.eq, "=="),
    _comparison("ne", np.not_equal, operator.ne, "!="),
    _comparison("lt", np.less, operator.lt, "<"),
    _comparison("le", np.less_equal, operator.le, "<="),
    _comparison("gt", np.greater, operator.gt, ">"),
    _comparison("ge", np.greater_equal, operator.ge, ">="),
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
        method_self=1,
    ),
    # Appended last: the ids and draws of the ops above stay as they were.
    _arithmetic(
        "floor_divide",
        np.floor_divide,
        "//",
        operator.floordiv,
        operator.ifloordiv,
        domain=_divisor,
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
def conflicting_shapes(num_shapes: int) -> st.SearchStrategy[Any]:
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
    pool = conflicting_shapes if conflicting else _operand_shapes
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


#: The arithmetic in-place ops (the comparisons' in-place forms follow the same
#: TensorIterator rule and are left out to keep the suites quick).
INPLACE_OPS = tuple(op for op in BROADCAST_OPS if op.inplace and op.result != "bool")


def inplace_id(op: BroadcastOp) -> str:
    return str(op.inplace)


# -- The spellings of an op -----------------------------------------------------

#: The ways a user writes an op, in the order a failing example shrinks to:
#: ``torch.mul(x, y)``, ``x * y``, ``x.mul(y)``, ``x.mul_(y)``, ``x *= y``.
FORMS: tuple[str, ...] = ("function", "operator", "method", "in-place method", "in-place operator")
INPLACE_FORMS = frozenset({"in-place method", "in-place operator"})


def accepts(op: BroadcastOp, form: str, args: Sequence[Arg], *, check_shapes: bool = True) -> bool:
    """Whether ``form`` of ``op`` takes ``args``: the function takes Python numbers
    only where its signature does; the operator needs one (a number on the left
    goes through the reflected operator); a method needs a tensor to be called on;
    an in-place form needs a tensor target that keeps its shape (with
    ``check_shapes``) and can hold the promoted dtype (``can_cast``)."""
    tensor_at = [isinstance(a, torch.Tensor) for a in args]
    if form == "function":
        return all(tensor_at[i] or i in op.scalar_positions for i in range(len(args)))
    if form == "operator":
        return op.operator is not None
    if form == "method":
        return tensor_at[op.method_self]
    if form in INPLACE_FORMS:
        spelled = op.inplace if form == "in-place method" else op.inplace_operator
        if spelled is None or not tensor_at[0]:
            return False
        target = args[0]
        assert isinstance(target, torch.Tensor)
        if check_shapes and not broadcasts_in_place(target.shape, shape_of(args[1])):
            return False
        return can_cast(expected_dtype(op, args), target.dtype)
    raise ValueError(f"form={form!r} is not one of {FORMS}")


def forms(op: BroadcastOp, args: Sequence[Arg], *, check_shapes: bool = True) -> tuple[str, ...]:
    """The forms of ``op`` that take ``args`` (:func:`accepts`), in :data:`FORMS` order."""
    return tuple(f for f in FORMS if accepts(op, f, args, check_shapes=check_shapes))


def call_form(op: BroadcastOp, form: str, args: Sequence[Arg]) -> Any:
    """``op`` on ``args``, spelled as ``form``; torch is looked up as it runs. An
    in-place form writes into ``args[0]`` (pass a copy to keep the original)."""
    if form == "function":
        return op(*args)
    if form == "operator":
        assert op.operator is not None
        return op.operator(*args)
    if form == "method":
        self_ = args[op.method_self]
        rest = [a for i, a in enumerate(args) if i != op.method_self]
        return getattr(self_, op.name)(*rest)
    if form == "in-place method":
        return getattr(args[0], str(op.inplace))(*args[1:])
    if form == "in-place operator":
        assert op.inplace_operator is not None
        return op.inplace_operator(*args)
    raise ValueError(f"form={form!r} is not one of {FORMS}")


def spell(op: BroadcastOp, form: str, names: Sequence[str]) -> str:
    """How ``form`` of ``op`` reads in code: ``"x * y"``, ``"x.where(condition, y)"``."""
    names = list(names[: op.arity])
    if form == "function":
        return f"torch.{op.name}({', '.join(names)})"
    if form == "operator":
        return f"{names[0]} {op.symbol} {names[1]}"
    if form == "method":
        rest = [n for i, n in enumerate(names) if i != op.method_self]
        return f"{names[op.method_self]}.{op.name}({', '.join(rest)})"
    if form == "in-place method":
        return f"{names[0]}.{op.inplace}({', '.join(names[1:])})"
    return f"{names[0]} {op.symbol}= {names[1]}"
