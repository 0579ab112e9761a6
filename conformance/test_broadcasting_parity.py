"""Every device broadcasts as the CPU does.

The same call on the same inputs must behave the same on every device: both
raise an exception of the same type, or both return results of the same
shapes and dtypes whose values agree within tolerance (pytorch#62537 is a
CUDA op that accepted what the CPU refused). The comparison is
:func:`assert_same_on_devices`, which takes any two devices: the suite runs
it for each selected device other than the CPU against the CPU; the kit's
own tests run it CPU against CPU and CPU against ``meta`` (shapes, dtypes
and errors only: meta tensors carry no values).

Values are compared within the elementwise tolerance of the dtype (each
device is within one rounding of the exact result, so they are within two of
each other), matrix products within twice the k-term rounding bound, with
TF32 pinned off. Calls look torch up when they run, so a patched
implementation is what gets compared.

Known departure (torch 2.13.0): on ``meta`` the ``inplace`` case fails --
``pow_`` resizes a too-small target instead of raising (see
:mod:`conformance.test_broadcasting_inplace`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import assert_dtype, assert_shape, assert_within, fail
from conformance.oracle import to_float64
from conformance.support.matmul import bad_matmul_shapes, matmul_shapes
from conformance.support.ops import (
    BROADCAST_OPS,
    INPLACE_OPS,
    assert_matches_reference,
    describe,
    draw_args,
    operand_names,
)
from conformance.tolerances import agreement_bound, tf32
from strategies import tensors

Bound = Callable[[Sequence[Any]], Any]

CPU = torch.device("cpu")

# -- The comparison, for any two devices -------------------------------------


def _on(device: torch.device, args: Sequence[Any]) -> list[Any]:
    """``args`` with each tensor copied to ``device`` (a fresh copy, so that an
    in-place call on one device cannot change the other's inputs)."""
    return [a.detach().clone().to(device) if isinstance(a, torch.Tensor) else a for a in args]


def _run(call: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(*args), None
    except Exception as e:  # any exception type: the caller compares them
        return None, e


def _tensors_of(result: Any) -> list[torch.Tensor]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def assert_same_on_devices(
    call: Callable[..., Any],
    args: Sequence[Any],
    *,
    device: torch.device,
    reference: torch.device = CPU,
    what: str,
    context: str = "",
    bound: Bound | None = None,
) -> None:
    """``call(*args)`` on ``device`` does what it does on ``reference``.

    ``args`` (tensors on any device, Python values) are copied to each device.
    If the reference raises, ``device`` must raise an exception of the same
    type; if it returns, so must ``device``, with tensors of the same shapes
    and dtypes and, where both devices carry values, the same values: exact
    for bool and integer results, else within the elementwise tolerance, or
    within ``bound(args)`` (an array, one bound per element) when given.
    """
    expected, expected_error = _run(call, _on(reference, args))
    actual, actual_error = _run(call, _on(device, args))
    outcome = f"raised {type(expected_error).__name__}" if expected_error else "returned"
    where = f"{what} on {device} (on {reference} it {outcome})"
    if expected_error is not None:
        if actual_error is None:
            fail(f"{where} returned a result, but should raise", context)
        elif type(actual_error) is not type(expected_error):
            fail(f"{where} raised {actual_error!r}, but should raise the same type", context)
        return
    if actual_error is not None:
        fail(f"{where} raised {actual_error!r}, but should return", context)
    expected_ts, actual_ts = _tensors_of(expected), _tensors_of(actual)
    if len(actual_ts) != len(expected_ts):
        got, want = len(actual_ts), len(expected_ts)
        fail(f"{what} on {device} returned {got} tensors, but should return {want}", context)
    has_values = "meta" not in (device.type, reference.type)
    for i, (e, a) in enumerate(zip(expected_ts, actual_ts, strict=True)):
        name = f"{what}[{i}] on {device}" if len(expected_ts) > 1 else f"{what} on {device}"
        assert_shape(name, a.shape, e.shape, context)
        assert_dtype(name, a.dtype, e.dtype, context)
        if not has_values:
            continue
        if bound is None:
            assert_matches_reference(name, a, to_float64(e), context)
        else:
            assert_within(name, a, to_float64(e), bound(args), context)


# -- What is compared ----------------------------------------------------------

Drawn = tuple[Callable[..., Any], list[Any], str, Bound | None]


@dataclasses.dataclass(frozen=True)
class ParityCase:
    """A broadcasting call and how to draw its (good or bad) inputs on the CPU."""

    name: str
    draw: Callable[[st.DataObject, torch.dtype], Drawn]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Hypothesis prints drawn ops: keep it short
        return f"{type(self).__name__}({self.name!r})"


def _op_case(op: Any) -> ParityCase:
    def draw(data: st.DataObject, dtype: torch.dtype) -> Drawn:
        conflicting = data.draw(st.booleans(), label="shapes conflict")
        args = draw_args(data, op, dtype, CPU, conflicting=conflicting)
        return op, args, describe(op.name, args, operand_names(op)), None

    return ParityCase(op.name, draw)


def _draw_inplace(data: st.DataObject, dtype: torch.dtype) -> Drawn:
    op = data.draw(st.sampled_from(INPLACE_OPS), label="op")
    conflicting = data.draw(st.booleans(), label="shapes conflict")
    a, b = draw_args(data, op, dtype, CPU, scalar_positions=(), conflicting=conflicting)
    method = str(op.inplace)
    return (
        (lambda x, y: getattr(x, method)(y)),
        [a, b],
        describe(f"a.{method}(b)", (a, b), ("a", "b")),
        None,
    )


def _broadcast_tensors(*ts: torch.Tensor) -> Any:
    return torch.broadcast_tensors(*ts)


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.matmul(a, b)


def _draw_broadcast_tensors(data: st.DataObject, dtype: torch.dtype) -> Drawn:
    conflicting = data.draw(st.booleans(), label="shapes conflict")
    args = draw_args(
        data, BROADCAST_OPS[0], dtype, CPU, scalar_positions=(), conflicting=conflicting
    )
    return _broadcast_tensors, args, describe("broadcast_tensors", args), None


def _matmul_bound(dtype: torch.dtype) -> Bound:
    """Twice the k-term bound: each device may be that far from the exact product."""

    def bound(args: Sequence[Any]) -> Any:
        a, b = (to_float64(t) for t in args)
        abs_sum = torch.from_numpy(np.asarray(np.matmul(np.abs(a), np.abs(b))))
        return agreement_bound(abs_sum, args[0].shape[-1], dtype)

    return bound


def _draw_matmul(data: st.DataObject, dtype: torch.dtype) -> Drawn:
    a_shape, b_shape = data.draw(matmul_shapes() | bad_matmul_shapes(), label="shapes")
    a, b = (
        data.draw(tensors(shape=s, dtype=dtype), label=n)
        for n, s in (("a", a_shape), ("b", b_shape))
    )
    return _matmul, [a, b], describe("matmul", (a, b), ("a", "b")), _matmul_bound(dtype)


PARITY_CASES: tuple[ParityCase, ...] = (
    *(_op_case(op) for op in BROADCAST_OPS),
    ParityCase("inplace", _draw_inplace),
    ParityCase("broadcast_tensors", _draw_broadcast_tensors),
    ParityCase("matmul", _draw_matmul),
)


@pytest.mark.supports_meta
@pytest.mark.dtypes("float32", "float64", "float16", "bfloat16")
@pytest.mark.parametrize("case", PARITY_CASES, ids=str)
@given(data=st.data())
def test_broadcasting_matches_cpu(
    data: st.DataObject, parity_device: torch.device, dtype: torch.dtype, case: ParityCase
) -> None:
    """On each selected device other than the CPU, ``case`` on the same inputs
    (broadcastable or not) behaves as on the CPU: the same exception type, or
    the same shapes, dtypes and (not on meta) values within tolerance."""
    call, args, context, bound = case.draw(data, dtype)
    with tf32(False):
        assert_same_on_devices(
            call, args, device=parity_device, what=case.name, context=context, bound=bound
        )
