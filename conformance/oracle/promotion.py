"""PyTorch's documented type-promotion rule, and its rule for casting into outputs.

Source: https://pytorch.org/docs/stable/tensor_attributes.html#type-promotion-doc

    When the dtypes of inputs to an arithmetic operation (add, sub, div, mul)
    differ, we promote by finding the minimum dtype that satisfies the
    following rules:

    * If the type of a scalar operand is of a higher category than tensor
      operands (where complex > floating > integral > boolean), we promote to
      a type with sufficient size to hold all scalar operands of that category.
    * If a zero-dimension tensor operand has a higher category than
      dimensioned operands, we promote to a type with sufficient size and
      category to hold all zero-dim tensor operands of that category.
    * If there are no higher-category zero-dim operands, we promote to a type
      with sufficient size and category to hold all dimensioned operands.

    A floating point scalar operand has dtype torch.get_default_dtype() and an
    integral non-boolean scalar operand has dtype torch.int64. [...] Complex
    types are not yet supported.

and, for an output given to the operation (``out=`` or the target of an
in-place op): "An integral output tensor cannot accept a floating point
tensor. A boolean output tensor cannot accept a non-boolean tensor. A
non-complex output tensor cannot accept a complex tensor."

"Sufficient size" is read literally: the smallest dtype of the winning
category that can represent every value of each operand of that category
(operands of a lower category do not count: "since long is a different kind
than float, result dtype only needs to be large enough to hold the float").
So uint8 with int8 needs int16, and float16 with bfloat16 needs float32.

Complex dtypes. The docs rank complex above floating ("complex > floating >
integral > boolean") and show ``complex64 + complex128 -> complex128``, but
add that "Complex types are not yet supported", so the bullets say nothing
definite about sizes. The rule PyTorch follows for them is its design
(PR #34093, "Added type promotion logic for complex numbers") as ATen
implements it (``combine_categories`` in
aten/src/ATen/native/TypeProperties.cpp, the promotion table in
c10/core/ScalarType.cpp), written out here:

* a Python complex number has the complex dtype of the default float dtype
  (complex64 for float32, complex128 for float64);
* within one tier a complex result is the smallest complex dtype whose real
  and imaginary parts hold each complex *and floating* operand of the tier
  (``float64[n] + complex64[n] -> complex128``); integral and bool operands
  still do not count;
* when a 0-d tensor or a number of the complex category raises a floating
  result, the result is the complex dtype of that floating dtype's precision
  (float16 -> complex32, bfloat16 and float32 -> complex64, float64 ->
  complex128): ``float32[n] * complex128 0-d -> complex64``,
  ``float64[n] + 1j -> complex128``. The complex operand's own width counts
  no more than a 0-d operand's width ever does within its category. Above an
  integral or bool result the complex operand's dtype is taken as it is.

Read literally, the second bullet of the docs would instead give complex128
for ``float32[n] * complex128 0-d``: the docs' disclaimer keeps that from
being a documented promise. ``torch.dtype`` objects serve only as names here;
nothing of torch's is called.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

import torch

__all__ = [
    "DTYPES",
    "RESULT_DTYPES",
    "Category",
    "Operand",
    "Priority",
    "can_cast",
    "category",
    "complex_counterpart",
    "promote",
    "result_type",
    "scalar_dtype",
    "true_divide_dtype",
]


class Category(enum.IntEnum):
    """The documented order of dtype categories."""

    BOOLEAN = 0
    INTEGRAL = 1
    FLOATING = 2
    COMPLEX = 3


class Priority(enum.IntEnum):
    """Operand kinds, in the order in which they decide the result dtype."""

    DIMENSIONED = 0
    ZERO_DIM = 1
    SCALAR = 2


class Operand(NamedTuple):
    """One input of an operation: a dimensioned tensor, a 0-d tensor or a Python scalar."""

    dtype: torch.dtype
    priority: Priority


# The values each dtype can represent: integer ranges, and floating formats as
# (exponent bits, mantissa bits) -- a format holds another when it has at
# least as many of both.
_INTEGER_RANGE: dict[torch.dtype, tuple[int, int]] = {
    torch.uint8: (0, 2**8 - 1),
    torch.int8: (-(2**7), 2**7 - 1),
    torch.int16: (-(2**15), 2**15 - 1),
    torch.int32: (-(2**31), 2**31 - 1),
    torch.int64: (-(2**63), 2**63 - 1),
}
_FLOAT_FORMAT: dict[torch.dtype, tuple[int, int]] = {
    torch.float16: (5, 10),
    torch.bfloat16: (8, 7),
    torch.float32: (8, 23),
    torch.float64: (11, 52),
}
#: Complex dtypes, by the floating format of their real and imaginary parts.
_COMPLEX_PARTS: dict[torch.dtype, torch.dtype] = {
    torch.complex32: torch.float16,
    torch.complex64: torch.float32,
    torch.complex128: torch.float64,
}

#: Every dtype a promotion may result in, smallest first within a category.
RESULT_DTYPES: tuple[torch.dtype, ...] = (
    torch.bool,
    *_INTEGER_RANGE,
    *_FLOAT_FORMAT,
    *_COMPLEX_PARTS,
)

#: The dtypes the promotion rule is checked on, smallest first within a
#: category. complex32 only ever appears as a result: its kernels are
#: experimental ("ComplexHalf support is experimental", and CPU has no
#: division for it), so no check builds operands of it.
DTYPES: tuple[torch.dtype, ...] = tuple(d for d in RESULT_DTYPES if d != torch.complex32)


def category(dtype: torch.dtype) -> Category:
    if dtype == torch.bool:
        return Category.BOOLEAN
    if dtype in _INTEGER_RANGE:
        return Category.INTEGRAL
    if dtype in _FLOAT_FORMAT:
        return Category.FLOATING
    if dtype in _COMPLEX_PARTS:
        return Category.COMPLEX
    raise ValueError(f"no promotion category for {dtype}")


def _format(dtype: torch.dtype) -> tuple[int, int]:
    """(exponent bits, mantissa bits) of a floating dtype, or of a complex one's parts."""
    return _FLOAT_FORMAT[_COMPLEX_PARTS.get(dtype, dtype)]


def _holds(wide: torch.dtype, narrow: torch.dtype) -> bool:
    """Every value of ``narrow`` is a value of ``wide`` (of one category, or a
    floating ``narrow`` and a complex ``wide``)."""
    if wide in _INTEGER_RANGE:
        (lo, hi), (n_lo, n_hi) = _INTEGER_RANGE[wide], _INTEGER_RANGE[narrow]
        return lo <= n_lo and n_hi <= hi
    if wide in _FLOAT_FORMAT or wide in _COMPLEX_PARTS:
        (exp, mant), (n_exp, n_mant) = _format(wide), _format(narrow)
        return exp >= n_exp and mant >= n_mant
    return wide == narrow  # bool


def promote(*dtypes: torch.dtype) -> torch.dtype:
    """The smallest dtype of the highest category present that holds each dtype of it
    (and, for a complex result, each floating dtype present too)."""
    if not dtypes:
        raise ValueError("promote() needs at least one dtype")
    top = max(category(d) for d in dtypes)
    sized_by = {top, Category.FLOATING} if top == Category.COMPLEX else {top}
    members = [d for d in dtypes if category(d) in sized_by]
    for candidate in RESULT_DTYPES:
        if category(candidate) == top and all(_holds(candidate, d) for d in members):
            return candidate
    raise ValueError(f"no dtype in {RESULT_DTYPES} holds all of {members}")


def complex_counterpart(dtype: torch.dtype) -> torch.dtype:
    """The smallest complex dtype whose parts hold the floating ``dtype``
    (float16 -> complex32, bfloat16 and float32 -> complex64, float64 -> complex128)."""
    if category(dtype) != Category.FLOATING:
        raise ValueError(f"{dtype} is not a floating dtype")
    return next(c for c in _COMPLEX_PARTS if _holds(c, dtype))


def scalar_dtype(value: bool | int | float | complex, *, default_float: torch.dtype) -> torch.dtype:
    """The dtype the docs give a Python scalar (bool, int64, or the default float
    dtype); a complex number has that dtype's complex counterpart (PR #34093)."""
    if isinstance(value, bool):
        return torch.bool
    if isinstance(value, int):
        return torch.int64
    if isinstance(value, float):
        return default_float
    if isinstance(value, complex):
        return complex_counterpart(default_float)
    raise ValueError(f"the rule covers bool, int, float and complex scalars, not {value!r}")


def result_type(operands: Iterable[Operand]) -> torch.dtype:
    """The dtype of an arithmetic operation on ``operands``, by the documented rule.

    Dimensioned tensors decide it; 0-d tensors, then Python scalars, take over
    only when their category is higher than everything that came before them
    -- and when they raise a floating result to complex, the floating result's
    precision is kept (see the module docstring).
    """
    result: torch.dtype | None = None
    ops = list(operands)
    for priority in Priority:
        tier = [o.dtype for o in ops if o.priority == priority]
        if not tier:
            continue
        candidate = promote(*tier)
        if result is None:
            result = candidate
        elif category(candidate) > category(result):
            raises_floating_to_complex = (
                category(candidate) == Category.COMPLEX and category(result) == Category.FLOATING
            )
            result = complex_counterpart(result) if raises_floating_to_complex else candidate
    if result is None:
        raise ValueError("result_type() needs at least one operand")
    return result


def true_divide_dtype(promoted: torch.dtype, *, default_float: torch.dtype) -> torch.dtype:
    """``torch.div`` without a rounding mode "always promotes integer types to the
    default scalar type" (https://pytorch.org/docs/stable/generated/torch.div.html)."""
    return default_float if category(promoted) < Category.FLOATING else promoted


def can_cast(result: torch.dtype, output: torch.dtype) -> bool:
    """An output of dtype ``output`` accepts a result of dtype ``result``: never
    into a lower category (the docs' three exceptions say exactly that)."""
    return category(result) <= category(output)
