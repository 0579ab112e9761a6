"""Argument checks shared by the public strategies.

Every message names the argument and the value it got, in the form
Hypothesis uses ("min_dims=5 is larger than max_dims=2"), and every failure
is an ``InvalidArgument`` so that users can catch one exception type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

T = TypeVar("T")

#: torch stores sizes and element counts as int64: nothing larger is a size.
MAX_SIZE = 2**63 - 1
_MAX_SIZE_REASON = "2**63 - 1, the largest size torch can hold"


def check_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int = MAX_SIZE,
    max_reason: str = _MAX_SIZE_REASON,
) -> None:
    """``value`` is a plain int (bool excluded) in [``min_value``, ``max_value``].

    The upper bound defaults to torch's largest size: bounds beyond it are
    absurd, and checking them up front keeps anything from looping or
    allocating in proportion to them.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be an int")
    if min_value is not None and value < min_value:
        raise InvalidArgument(f"{name}={value!r} must be at least {min_value}")
    if value > max_value:
        raise InvalidArgument(f"{name}={value!r} is larger than {max_reason}")


def check_optional_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int = MAX_SIZE,
    max_reason: str = _MAX_SIZE_REASON,
) -> None:
    if value is not None:
        check_int(value, name, min_value=min_value, max_value=max_value, max_reason=max_reason)


def check_interval(low: Any, high: Any, low_name: str, high_name: str) -> None:
    """Both bounds are already valid; the lower one must not exceed the upper."""
    if low is not None and high is not None and low > high:
        raise InvalidArgument(f"{low_name}={low!r} is larger than {high_name}={high!r}")


def check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be a bool")


def check_optional_bool(value: Any, name: str) -> None:
    if value is not None:
        check_bool(value, name)


def check_shape(value: Any, name: str) -> tuple[int, ...]:
    """A shape is a sequence of non-negative ints; returns it as a tuple."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidArgument(f"{name}={value!r} must be a tuple of non-negative ints")
    for side in value:
        if isinstance(side, bool) or not isinstance(side, int) or side < 0:
            raise InvalidArgument(f"{name}={value!r} must be a tuple of non-negative ints")
        if side > MAX_SIZE:
            raise InvalidArgument(
                f"{name}={value!r} has the side {side}, larger than {_MAX_SIZE_REASON}"
            )
    return tuple(value)


def check_probability(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}={value!r} must be a float in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{name}={value!r} must be in [0, 1]")


def check_choices(value: Any, name: str, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise InvalidArgument(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def check_subset(values: Any, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A non-empty collection drawn from ``allowed``; returns it in ``allowed`` order."""
    if isinstance(values, str):
        values = (values,)
    try:
        chosen = tuple(values)
    except TypeError:
        raise InvalidArgument(f"{name}={values!r} must be a collection of names") from None
    if not chosen:
        raise InvalidArgument(f"{name}={values!r} must not be empty")
    for v in chosen:
        if v not in allowed:
            raise InvalidArgument(
                f"{name}={values!r} contains {v!r}, which is not one of "
                f"{', '.join(map(repr, allowed))}"
            )
    return tuple(a for a in allowed if a in chosen)


def check_drawn(value: Any, name: str, strategy: st.SearchStrategy, check: Callable[[Any], T]) -> T:
    """``check(value)`` for a value drawn from the caller's ``strategy`` for
    argument ``name``; a failure names the argument, the strategy and the
    value, since the caller wrote the strategy and never saw the value."""
    try:
        return check(value)
    except InvalidArgument as e:
        raise InvalidArgument(
            f"{name}={strategy!r} drew {value!r}, which is invalid: {e}"
        ) from None
