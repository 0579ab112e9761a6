"""Assertion helpers whose failures read like a bug report.

Every message has the form ``"<what>=<got>, but should be <expected> [<context>]"``
followed by how to rerun the failing check. ``context`` is the layer and the
inputs in a few words (``"Linear(4, 3, bias=True), x.shape=(2, 4)"``);
Hypothesis adds the shrunk, labelled draws below it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np
import torch

from conformance import rerun
from conformance.tolerances import elementwise

__all__ = [
    "assert_close",
    "assert_dtype",
    "assert_equal",
    "assert_raises",
    "assert_shape",
    "assert_within",
    "fail",
    "rerun_hint",
]


def rerun_hint() -> str:
    """How to rerun the check that is running now (empty outside a conformance run)."""
    command = rerun.current()
    if command is None:
        return ""
    return f"\nRerun: {command}  (the conformance-ci profile replays the same examples)"


def fail(message: str, context: str = "") -> NoReturn:
    raise AssertionError(f"{message}{f' [{context}]' if context else ''}{rerun_hint()}")


def _shape(s: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in s)


def assert_shape(name: str, actual: Any, expected: Any, context: str = "") -> None:
    if _shape(actual) != _shape(expected):
        fail(f"{name}.shape={_shape(actual)}, but should be {_shape(expected)}", context)


def assert_dtype(name: str, actual: torch.dtype, expected: torch.dtype, context: str = "") -> None:
    if actual != expected:
        fail(f"{name}.dtype={actual}, but should be {expected}", context)


def assert_declared(
    module: torch.nn.Module,
    name: str,
    shape: tuple[int, ...] | None,
    registered: dict[str, torch.Tensor],
    what: str,
    context: str = "",
) -> torch.Tensor | None:
    """``module.<name>`` as a contract declares it: with ``shape`` None an attribute
    that is None and not among ``registered`` (its ``named_parameters()`` or
    ``named_buffers()``, ``what`` says which), else one of them of that shape.
    Returns the tensor (None where declared None)."""
    if shape is None:
        value = getattr(module, name, "missing")
        if value is not None:
            fail(f"{name}={type(value).__name__}, but should be None", context)
        if name in registered:
            fail(f"{name} is a {what}, but should not be registered", context)
        return None
    if name not in registered:
        fail(f"{name} is not a {what} of the module, but should be", context)
    assert_shape(name, registered[name].shape, shape, context)
    return registered[name]


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.double()
        return np.asarray(x.resolve_conj().numpy())
    return np.asarray(x)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _index_str(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name


def assert_equal(name: str, actual: Any, expected: Any, context: str = "") -> None:
    """Exact equality of shape and values (NaN equals NaN)."""
    a, e = _as_numpy(actual), _as_numpy(expected)
    assert_shape(name, a.shape, e.shape, context)
    bad = ~((a == e) | (np.isnan(a) & np.isnan(e)) if a.dtype.kind in "fc" else (a == e))
    if bad.any():
        i = _first_bad(bad)
        fail(
            f"{_index_str(name, i)}={a[i].item()!r}, but should be {e[i].item()!r} "
            f"({int(bad.sum())} of {a.size} elements differ)",
            context,
        )


def assert_within(name: str, actual: Any, expected: Any, bound: Any, context: str = "") -> None:
    """|actual - expected| <= bound elementwise (bound broadcasts).

    NaN must match NaN, and a non-finite expected value (inf) must be matched
    exactly: ``inf - inf`` is NaN, and a bound scaled by ``|inf|`` is no bound.
    """
    a, e = _as_numpy(actual).astype(np.float64), _as_numpy(expected).astype(np.float64)
    assert_shape(name, a.shape, e.shape, context)
    b = np.broadcast_to(_as_numpy(bound).astype(np.float64), e.shape)
    b = np.where(np.isfinite(e), b, 0.0)
    nan_ok = np.isnan(a) & np.isnan(e)
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(a - e) <= b) | nan_ok | (a == e))
    if bad.any():
        i = _first_bad(bad)
        fail(
            f"{_index_str(name, i)}={a[i].item()!r}, but should be {e[i].item()!r} "
            f"(|diff|={abs(a[i] - e[i]):.3g} > allowed {b[i]:.3g}; "
            f"{int(bad.sum())} of {a.size} elements outside)",
            context,
        )


def assert_close(
    name: str,
    actual: torch.Tensor,
    expected: Any,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    context: str = "",
) -> None:
    """Within the elementwise tolerance of ``dtype`` on ``device`` (default: actual's)."""
    tol = elementwise(dtype or actual.dtype, device or actual.device)
    e = _as_numpy(expected).astype(np.float64)
    assert_within(name, actual, e, tol.atol + tol.rtol * np.abs(e), context)


def assert_raises(
    exc_type: type[BaseException] | tuple[type[BaseException], ...],
    call: Callable[[], Any],
    *,
    what: str,
    match: str | None = None,
    context: str = "",
) -> BaseException:
    """``call()`` raises ``exc_type`` (whose message contains ``match``); returns it."""
    names = (
        exc_type.__name__
        if isinstance(exc_type, type)
        else " or ".join(t.__name__ for t in exc_type)
    )
    try:
        result = call()
    except exc_type as e:
        if match is not None and match not in str(e):
            fail(
                f"{what} raised {type(e).__name__}({str(e)!r}), but should mention {match!r}",
                context,
            )
        return e
    fail(f"{what} returned {_summary(result)}, but should raise {names}", context)


def _summary(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)
