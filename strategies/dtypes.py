"""Strategies for torch dtypes, and the dtype names the kit accepts."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies._validation import check_bool, check_subset

__all__ = ["DTYPE_KINDS", "dtypes", "resolve_dtype"]

# Ordered so that sampling shrinks toward the most common dtype of each kind.
_BY_KIND: dict[str, tuple[torch.dtype, ...]] = {
    "float": (torch.float32, torch.float64, torch.float16, torch.bfloat16),
    "int": (torch.int64, torch.int32, torch.int16, torch.int8),
    "uint": (torch.uint8,),
    "bool": (torch.bool,),
    "complex": (torch.complex64, torch.complex128),
}
DTYPE_KINDS: tuple[str, ...] = tuple(_BY_KIND)
_LOW_PRECISION = frozenset({torch.float16, torch.bfloat16})
_BY_NAME: dict[str, torch.dtype] = {
    str(dt).removeprefix("torch."): dt for group in _BY_KIND.values() for dt in group
}


_SUPPORTED = frozenset(_BY_NAME.values())


def resolve_dtype(dtype: torch.dtype | str, name: str = "dtype") -> torch.dtype:
    """``torch.float32`` or ``"float32"`` -> ``torch.float32``; anything else is an error.

    Only the dtypes of :data:`DTYPE_KINDS` are accepted: quantized, float8 and
    the other exotic dtypes fail inside torch on the first value stored, so
    they are rejected here, by name.
    """
    if isinstance(dtype, torch.dtype):
        if dtype in _SUPPORTED:
            return dtype
        raise InvalidArgument(
            f"{name}={dtype} is not supported; expected one of {', '.join(sorted(_BY_NAME))}"
        )
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _BY_NAME:
        return _BY_NAME[dtype.removeprefix("torch.")]
    raise InvalidArgument(
        f"{name}={dtype!r} is not a dtype; expected a torch.dtype or one of "
        f"{', '.join(sorted(_BY_NAME))}"
    )


def dtypes(
    *, kinds: Collection[str] = ("float",), low_precision: bool = True
) -> st.SearchStrategy[torch.dtype]:
    """torch dtypes of the given ``kinds`` ("float", "int", "uint", "bool", "complex").

    ``low_precision=False`` leaves out float16 and bfloat16. Shrinks toward
    the first kind's most common dtype (float32 for "float").

    >>> import torch
    >>> from strategies import dtypes
    >>> dtypes(kinds=["float", "int"]).example() in (torch.float32, torch.int64)  # doctest: +SKIP
    True
    """
    chosen = check_subset(kinds, "kinds", DTYPE_KINDS)
    check_bool(low_precision, "low_precision")
    # Keep the caller's kind order, the first kind named being the shrink
    # target; an unordered collection (a set) gets the canonical order, so
    # that draws do not depend on PYTHONHASHSEED.
    if isinstance(kinds, str):
        ordered: Collection[str] = (kinds,)
    elif isinstance(kinds, Sequence):
        ordered = kinds
    else:
        ordered = chosen
    pool = [
        dt
        for kind in dict.fromkeys(ordered)
        for dt in _BY_KIND[kind]
        if low_precision or dt not in _LOW_PRECISION
    ]
    if not pool:
        raise InvalidArgument(
            f"kinds={kinds!r} with low_precision={low_precision} leaves no dtype to draw"
        )
    return st.sampled_from(pool)
