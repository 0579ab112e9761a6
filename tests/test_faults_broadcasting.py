"""Proof of power for the broadcasting suite: each check fails on the fault it guards.

Each row plants one fault -- a monkeypatched torch function written the way a
real implementation gets it wrong -- and runs a conformance check on it; the
check must fail with an ``AssertionError`` naming what broke. The stock row of
each check runs the same check on unpatched torch, which must pass. The checks
are called directly (they are Hypothesis-wrapped: fixtures go in as keyword
arguments) under the deterministic ``conformance-ci`` profile.

The CPU-versus-device comparison is exercised here CPU against CPU and CPU
against ``meta``, and fed calls that differ between devices on purpose.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from planting import run_unshrunk

import conformance.test_broadcasting_grad as grad_suite
import conformance.test_broadcasting_inplace as inplace_suite
import conformance.test_broadcasting_matmul as matmul_suite
import conformance.test_broadcasting_ops as ops_suite
import conformance.test_broadcasting_parity as parity_suite
import conformance.test_broadcasting_promotion as promotion_suite
import conformance.test_broadcasting_shapes as shapes_suite
from conformance.oracle import broadcasting as oracle
from conformance.oracle import promotion

CPU = torch.device("cpu")
META = torch.device("meta")

# The originals, captured before any patch, for the faulty versions to call.
_add, _div, _mul, _matmul = torch.add, torch.div, torch.mul, torch.matmul
_sub, _floor_divide = torch.sub, torch.floor_divide
_sub_operator, _mul_operator = torch.Tensor.__sub__, torch.Tensor.__mul__


def _op(name: str) -> ops_suite.BroadcastOp:
    return next(op for op in ops_suite.BROADCAST_OPS if op.name == name)


def _grad_op(name: str) -> grad_suite.GradOp:
    return next(op for op in grad_suite.GRAD_OPS if op.name == name)


def _parity_case(name: str) -> parity_suite.ParityCase:
    return next(case for case in parity_suite.PARITY_CASES if case.name == name)


# -- Faulty implementations ------------------------------------------------------


def _as_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def max_sides_broadcast_shapes(*shapes: int | Sequence[int]) -> torch.Size:
    """Broadcasting by taking the larger side: conflicts are caught, but 1
    against 0 gives 1 (a GPU kernel library shipped this)."""
    padded = _right_aligned([_as_shape(s) for s in shapes])
    for sides in zip(*padded, strict=True):
        if len({s for s in sides if s != 1}) > 1:
            raise RuntimeError(f"shapes {shapes} do not broadcast")
    return torch.Size(max(sides, default=1) for sides in zip(*padded, strict=True))


def unchecked_broadcast_shapes(*shapes: int | Sequence[int]) -> torch.Size:
    """Broadcasting by taking the larger side, without checking for conflicts."""
    padded = _right_aligned([_as_shape(s) for s in shapes])
    return torch.Size(max(sides, default=1) for sides in zip(*padded, strict=True))


def _right_aligned(shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    ndim = max((len(s) for s in shapes), default=0)
    return [(1,) * (ndim - len(s)) + s for s in shapes]


def _mul_with_backward(reduce: Callable[[torch.Tensor, torch.Size], torch.Tensor]) -> Any:
    """``torch.mul`` whose backward hands ``reduce(grad, input_shape)`` to autograd."""

    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x, y)
            return _mul(x, y)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x, y = ctx.saved_tensors
            return reduce(grad * y, x.shape), reduce(grad * x, y.shape)

    return lambda x, y: Mul.apply(x, y)


def _mul_operator_with_backward(
    reduce: Callable[[torch.Tensor, torch.Size], torch.Tensor],
) -> Callable[[torch.Tensor, Any], Any]:
    """``Tensor.__mul__`` (``x * y``) through :func:`_mul_with_backward`: ``torch.mul``,
    ``x.mul(y)`` and ``x.mul_(y)`` stay right, only the operator's backward is off."""
    faulty = _mul_with_backward(reduce)

    def mul(self: torch.Tensor, other: Any) -> Any:
        if isinstance(other, torch.Tensor):
            return faulty(self, other)
        return _mul_operator(self, other)

    return mul


def imul_out_of_place(self: torch.Tensor, other: Any) -> torch.Tensor:
    """``x *= y`` that rebinds ``x`` to a new tensor instead of writing into it:
    another reference to the tensor (a parameter, a view) never sees the update."""
    return _mul(self, other)


def sub_method_swapped(self: torch.Tensor, other: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """``x.sub(y)`` computed as ``y - x`` (the function and the operator are right)."""
    return _sub(other, self, *args, **kwargs)


def truncating_floor_divide(x: Any, y: Any) -> torch.Tensor:
    """``floor_divide`` rounding toward zero (``-7 // 2 == -3``), as torch did before 1.13."""
    return _div(x, y, rounding_mode="trunc")


def _unreduced(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return grad


def _mean_reduced(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Averages the copies' gradients instead of summing them."""
    lead = grad.dim() - len(shape)
    grad = grad.mean(dim=tuple(range(lead))) if lead else grad
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.mean(dim=dims, keepdim=True) if dims else grad


def add_returning_new_tensor(self: torch.Tensor, other: Any) -> torch.Tensor:
    """``add_`` that quietly computes out of place (and so accepts any broadcast)."""
    return _add(self, other)


def add_growing_target(self: torch.Tensor, other: Any) -> torch.Tensor:
    """``add_`` that resizes its target to the broadcast shape (what meta does
    for ``pow_`` in torch 2.13.0)."""
    result = _add(self, other)
    return self.set_(result.untyped_storage(), 0, result.shape, result.stride())


def mul_returning_new_tensor(self: torch.Tensor, other: Any) -> torch.Tensor:
    return _mul(self, other)


def promoting_0d_fully(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``original`` with 0-d tensors taking part in promotion like dimensioned
    ones (so float16[1] + float64 0-d would be float64): a promotion routine
    that forgets the 0-d rule gets it wrong for every op that uses it."""

    def promoting(x: Any, y: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            dtype = torch.promote_types(x.dtype, y.dtype)
            x, y = x.to(dtype), y.to(dtype)
        return original(x, y, *args, **kwargs)

    return promoting


def zero_dim_float_kept_integral(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` with a 0-d floating tensor cast to the integer dtype of the
    dimensioned tensor it meets, as if 0-d tensors took no part in promotion at
    all (only within a category do they not): ``int32[n] + float64 0-d`` stays
    int32, the 0-d operand truncated."""

    def kept(x: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        tensors_ = [t for t in (x, y) if isinstance(t, torch.Tensor)]
        if len(tensors_) == 2:
            dim = next((t for t in tensors_ if t.dim() and not t.dtype.is_floating_point), None)
            zero = next((t for t in tensors_ if not t.dim() and t.dtype.is_floating_point), None)
            if dim is not None and zero is not None and dim.dtype != torch.bool:
                cast = zero.to(dim.dtype)
                x, y = (cast if t is zero else t for t in (x, y))
        return original(x, y, *args, **kwargs)

    return kept


def integer_div(x: Any, y: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """``div`` that keeps integer operands integral (Python 2's ``/``)."""
    return _div(x, y, *args, **kwargs).to(torch.result_type(x, y))


def fast_pow(x: Any, y: Any) -> torch.Tensor:
    """``pow`` as ``exp(y * log(x))``: NaN for negative bases, even to integer powers."""
    base = x if isinstance(x, torch.Tensor) else torch.tensor(x)
    return torch.exp(_mul(y, torch.log(base))).to(torch.result_type(x, y))


def swapped_sub_operator(self: torch.Tensor, other: Any) -> torch.Tensor:
    """``x - y`` computed as ``y - x``."""
    return _sub_operator(other, self) if isinstance(other, torch.Tensor) else other - self


def left_aligned_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``matmul`` that aligns batch dims from the left: the shorter operand's
    batch dims are padded with 1s after them instead of before."""
    if a.dim() >= 2 and b.dim() >= 2 and a.dim() != b.dim():
        short, long_ = (a, b) if a.dim() < b.dim() else (b, a)
        extra = (1,) * (long_.dim() - short.dim())
        padded = short.reshape(*short.shape[:-2], *extra, *short.shape[-2:])
        a, b = (padded, b) if short is a else (a, padded)
    return _matmul(a, b)


def float16_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``matmul`` through float16 (a "fast" kernel that forgets to keep the
    caller's precision): the right shape and dtype, values off by float16
    rounding."""
    return _matmul(a.half(), b.half()).to(a.dtype)


def _has_overlap(t: torch.Tensor) -> bool:
    """Do several elements of ``t`` share one memory location (a stride-0 dim)?"""
    return any(stride == 0 and size > 1 for size, stride in zip(t.shape, t.stride(), strict=True))


def writes_into_a_copy(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``original`` (an in-place method) that, on a target whose elements share
    memory, writes into a contiguous copy and returns that instead of raising."""

    def inplace(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if _has_overlap(self):
            return original(self.contiguous(), *args, **kwargs)
        return original(self, *args, **kwargs)

    return inplace


def max_sides_broadcasting(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``original`` behind a shared broadcasting step that, where two sizes
    other than 1 conflict, takes the larger one and zero-pads the smaller
    operand to it instead of raising (reading past its end, in effect)."""

    def broadcasting(*args: Any, **kwargs: Any) -> torch.Tensor:
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if len(tensors) < 2:
            return original(*args, **kwargs)
        shapes = [tuple(t.shape) for t in tensors]
        target = unchecked_broadcast_shapes(*shapes)
        args = tuple(_zero_padded(a, target) if isinstance(a, torch.Tensor) else a for a in args)
        return original(*args, **kwargs)

    return broadcasting


def _zero_padded(t: torch.Tensor, target: Sequence[int]) -> torch.Tensor:
    """``t`` (right-aligned to ``target``) with each dim that is neither 1 nor the
    target size zero-padded to the target size."""
    t = t.reshape((1,) * (len(target) - t.dim()) + tuple(t.shape))
    sides = [s if s in (1, want) else want for s, want in zip(t.shape, target, strict=True)]
    if list(t.shape) == sides:
        return t
    padded = t.new_zeros(sides)
    padded[tuple(slice(0, s) for s in t.shape)] = t
    return padded


def broadcast_tensors_unexpanded(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``broadcast_tensors`` that checks the shapes but returns its inputs as they
    are, leaving the expansion to the caller."""
    torch.broadcast_shapes(*(t.shape for t in tensors))
    return tensors


def add_unchecked_on_meta(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``torch.add`` whose meta kernel -- a shape function written apart from the
    real kernel -- takes the larger side where sizes conflict instead of raising."""
    x, y = args[:2]
    operands = [a for a in (x, y) if isinstance(a, torch.Tensor)]
    if not any(t.device.type == "meta" for t in operands):
        return _add(*args, **kwargs)
    shape = unchecked_broadcast_shapes(*(t.shape for t in operands))
    return torch.empty(shape, dtype=torch.result_type(x, y), device="meta")


# -- The table ---------------------------------------------------------------------


class Patch(NamedTuple):
    """``setattr(target, name, value)`` for the duration of one row."""

    target: Any
    name: str
    value: Any


class Fault(NamedTuple):
    """A planted fault, and a fragment the check's failure message must contain."""

    name: str
    patches: tuple[Patch, ...]
    match: str


@dataclasses.dataclass(frozen=True)
class Planted:
    """A check, the fixtures it is called with, and the fault planted under it
    (None for the stock row, which must pass)."""

    id: str
    check: Callable[..., None]
    kwargs: dict[str, Any]
    fault: Fault | None = None


def rows(check: Callable[..., None], kwargs: dict[str, Any], *faults: Fault) -> list[Planted]:
    """The stock row of ``check`` and one row per fault, with ids like
    ``op_matches_numpy[float32-pow]-exp-log-pow``."""
    name = check.__name__.removeprefix("test_")
    params = "-".join(str(v).removeprefix("torch.") for k, v in kwargs.items() if k != "device")
    prefix = f"{name}[{params}]" if params else name
    return [
        Planted(f"{prefix}-stock", check, kwargs),
        *(Planted(f"{prefix}-{f.name}", check, kwargs, f) for f in faults),
    ]


F32 = {"device": CPU, "dtype": torch.float32}

_OPERATORS_KEEPING_INTEGRAL = tuple(
    Patch(torch.Tensor, name, zero_dim_float_kept_integral(getattr(torch.Tensor, name)))
    for name in ("__add__", "__radd__", "__mul__", "__rmul__")
)

PLANTED = [
    *rows(
        shapes_suite.test_broadcast_shapes_matches_rule,
        {},
        Fault(
            "max-sides",
            (Patch(torch, "broadcast_shapes", max_sides_broadcast_shapes),),
            "torch.broadcast_shapes(...).shape=",
        ),
    ),
    *rows(
        shapes_suite.test_non_broadcastable_shapes_raise,
        {"device": CPU},
        Fault(
            "unchecked",
            (Patch(torch, "broadcast_shapes", unchecked_broadcast_shapes),),
            "should raise RuntimeError",
        ),
    ),
    *rows(
        grad_suite.test_broadcast_grad_is_reduced,
        {**F32, "op": _grad_op("mul")},
        Fault("mean-reduced", (Patch(torch, "mul", _mul_with_backward(_mean_reduced)),), ".grad"),
        Fault(
            "operator-mean-reduced",
            (Patch(torch.Tensor, "__mul__", _mul_operator_with_backward(_mean_reduced)),),
            "(x * y).backward(g)",
        ),
    ),
    *rows(
        inplace_suite.test_inplace_op_follows_broadcast_rule,
        {"device": CPU, "op": _op("add")},
        Fault("out-of-place", (Patch(torch.Tensor, "add_", add_returning_new_tensor),), "add_"),
        Fault(
            "grows-target",
            (Patch(torch.Tensor, "add_", add_growing_target),),
            "should raise RuntimeError",
        ),
    ),
    *rows(
        ops_suite.test_weight_scaling_matches_numpy,
        {**F32, "pattern": "scalar"},
        Fault(
            "mul_-out-of-place", (Patch(torch.Tensor, "mul_", mul_returning_new_tensor),), "mul_"
        ),
    ),
    *rows(
        promotion_suite.test_result_dtype_follows_documented_rule,
        {"device": CPU, "dtype": torch.int32},
        Fault("integer-div", (Patch(torch, "div", integer_div),), "but should be torch.float32"),
    ),
    *rows(
        promotion_suite.test_operands_across_categories_promote_as_documented,
        {"device": CPU, "dtype": torch.int32},
        Fault(
            "0-d-float-kept-integral",
            (
                *(
                    Patch(torch, name, zero_dim_float_kept_integral(getattr(torch, name)))
                    for name in ("add", "mul")
                ),
                *_OPERATORS_KEEPING_INTEGRAL,
            ),
            "but should be torch.float",
        ),
        Fault(
            "operator-0-d-float-kept-integral",
            _OPERATORS_KEEPING_INTEGRAL,
            "but should be torch.float",
        ),
    ),
    *rows(
        promotion_suite.test_zero_dim_operand_does_not_widen_within_category,
        {"device": CPU, "dtype": torch.float16},
        Fault(
            "0-d-promotes-fully",
            tuple(
                Patch(torch, name, promoting_0d_fully(getattr(torch, name)))
                for name in ("add", "mul", "div")
            ),
            "but should be torch.float16",
        ),
    ),
    *rows(
        ops_suite.test_op_matches_numpy,
        {**F32, "op": _op("pow")},
        Fault("exp-log-pow", (Patch(torch, "pow", fast_pow),), "=nan, but should be"),
    ),
    *rows(
        ops_suite.test_op_matches_numpy,
        {**F32, "op": _op("sub")},
        Fault(
            "swapped-operator", (Patch(torch.Tensor, "__sub__", swapped_sub_operator),), "operator"
        ),
        Fault("swapped-method", (Patch(torch.Tensor, "sub", sub_method_swapped),), "x.sub(y)"),
    ),
    *rows(
        ops_suite.test_integer_floor_divide_matches_numpy,
        {"device": CPU, "dtype": torch.int8},
        Fault(
            "truncating",
            (
                Patch(torch, "floor_divide", truncating_floor_divide),
                Patch(torch.Tensor, "__floordiv__", truncating_floor_divide),
            ),
            "but should be",
        ),
    ),
    *rows(
        ops_suite.test_op_matches_numpy,
        {**F32, "op": _op("mul")},
        Fault(
            "imul-out-of-place",
            (Patch(torch.Tensor, "__imul__", imul_out_of_place),),
            "x *= y returned a new tensor",
        ),
    ),
    *rows(
        matmul_suite.test_matmul_shape_rule,
        {"device": CPU},
        Fault(
            "left-aligned-batch",
            (
                Patch(torch, "matmul", left_aligned_matmul),
                Patch(torch.Tensor, "__matmul__", left_aligned_matmul),
            ),
            "matmul",
        ),
    ),
    *rows(
        matmul_suite.test_matmul_matches_numpy,
        F32,
        Fault(
            "float16",
            (
                Patch(torch, "matmul", float16_matmul),
                Patch(torch.Tensor, "__matmul__", float16_matmul),
            ),
            "matmul(a, b)",
        ),
    ),
    *rows(
        shapes_suite.test_broadcast_tensors_matches_rule,
        {"device": CPU},
        Fault(
            "unexpanded",
            (Patch(torch, "broadcast_tensors", broadcast_tensors_unexpanded),),
            "outputs[",
        ),
    ),
    *rows(
        ops_suite.test_ops_reject_non_broadcastable_shapes,
        {"device": CPU},
        Fault(
            "max-sides",
            tuple(
                Patch(torch, op.name, max_sides_broadcasting(getattr(torch, op.name)))
                for op in ops_suite.BROADCAST_OPS
            ),
            "should raise RuntimeError",
        ),
    ),
    *rows(
        inplace_suite.test_inplace_write_into_expanded_tensor_raises,
        {"device": CPU},
        Fault(
            "writes-into-copy",
            tuple(
                Patch(
                    torch.Tensor,
                    str(op.inplace),
                    writes_into_a_copy(getattr(torch.Tensor, str(op.inplace))),
                )
                for op in inplace_suite.INPLACE_OPS
            ),
            "but should raise RuntimeError",
        ),
    ),
    # CPU against meta, with a fault in meta's kernel only (the stock rows are
    # test_parity_check_runs_against_meta below).
    Planted(
        "broadcasting_matches_cpu[meta-float32-add]-max-sides-on-meta",
        parity_suite.test_broadcasting_matches_cpu,
        {"parity_device": META, "dtype": torch.float32, "case": _parity_case("add")},
        Fault(
            "max-sides-on-meta",
            (Patch(torch, "add", add_unchecked_on_meta),),
            "add on meta (on cpu it raised RuntimeError) returned a result",
        ),
    ),
]

#: The checks a planted fault above fails (tests/test_fault_coverage.py).
GUARDED = {p.check for p in PLANTED if p.fault is not None}


@pytest.mark.parametrize("planted", PLANTED, ids=lambda p: p.id)
def test_check_catches_planted_fault(planted: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    if planted.fault is None:
        run_unshrunk(planted.check, planted.kwargs)
        return
    for patch in planted.fault.patches:
        monkeypatch.setattr(patch.target, patch.name, patch.value)
    with pytest.raises(AssertionError) as failure:
        run_unshrunk(planted.check, planted.kwargs)
    assert planted.fault.match in str(failure.value), str(failure.value)


def test_unreduced_backward_is_summed_by_autograd(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backward that returns the unreduced gradient is not a fault one can see:
    autograd sums a gradient that is expandable to the input's shape before
    storing it (``validate_outputs`` in torch/csrc/autograd/engine.cpp). So the
    gradient check passes on it, as it should."""
    monkeypatch.setattr(torch, "mul", _mul_with_backward(_unreduced))
    run_unshrunk(grad_suite.test_broadcast_grad_is_reduced, F32, op=_grad_op("mul"))


@pytest.mark.xfail(
    raises=AssertionError,
    strict=True,
    reason="torch 2.13.0: on meta, pow_ (and the comparison ops' in-place forms) resize "
    "their target to the broadcast shape with a deprecation warning, where the CPU raises",
)
@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")
def test_inplace_rule_on_meta_pow_() -> None:
    run_unshrunk(
        inplace_suite.test_inplace_op_follows_broadcast_rule, {"device": META}, op=_op("pow")
    )


# -- The device comparison, on devices every machine has ------------------------------


#: One case per code path: a binary op, the three-operand where, the rest.
_META_CASES = [
    c
    for c in parity_suite.PARITY_CASES
    if c.name in ("add", "where", "broadcast_tensors", "matmul")
]


@pytest.mark.parametrize("case", _META_CASES, ids=str)
def test_parity_check_runs_against_meta(case: parity_suite.ParityCase) -> None:
    """The suite's parity check, on meta: shapes, dtypes and errors as on the CPU.
    (The in-place case is the known departure above.)"""
    run_unshrunk(
        parity_suite.test_broadcasting_matches_cpu,
        {"parity_device": META, "dtype": torch.float32},
        case=case,
    )


_GOOD = (torch.ones(2, 1), torch.arange(3.0))
_BAD = (torch.ones(2), torch.ones(3))


@pytest.mark.parametrize("device", [CPU, META], ids=str)
@pytest.mark.parametrize("args", [_GOOD, _BAD], ids=["broadcastable", "conflicting"])
@pytest.mark.parametrize(
    "call",
    [torch.add, torch.broadcast_tensors, lambda a, b: a.mul_(b)],
    ids=["add", "broadcast_tensors", "mul_"],
)
def test_same_on_devices_accepts_same_behaviour(
    call: Callable[..., Any], args: Sequence[Any], device: torch.device
) -> None:
    parity_suite.assert_same_on_devices(call, args, device=device, what="call")


def _differs_on(device_type: str, fault: Callable[[torch.Tensor], Any]) -> Callable[..., Any]:
    """``torch.add``, except on ``device_type`` where ``fault`` gets the result."""

    def call(a: torch.Tensor, b: torch.Tensor) -> Any:
        out = torch.add(a, b)
        return fault(out) if a.device.type == device_type else out

    return call


def _raise(out: torch.Tensor) -> Any:
    raise RuntimeError("refused")


def _raise_value_error(out: torch.Tensor) -> Any:
    raise ValueError("refused differently")


_counter = itertools.count()


def _drifts(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b``, plus 1e-3 on every second call: the comparison calls the
    reference first, so the device under test is the one whose kernel is off."""
    return torch.add(a, b) + (1e-3 if next(_counter) % 2 else 0.0)


@pytest.mark.parametrize(
    ("call", "args", "device", "match"),
    [
        (_differs_on("meta", _raise), _GOOD, META, "should return"),
        (_differs_on("cpu", _raise), _GOOD, META, "should raise"),
        (
            _differs_on("meta", lambda out: torch.add(out, torch.ones(3, 1, 1, device=out.device))),
            _GOOD,
            META,
            ".shape=",
        ),
        (_differs_on("meta", lambda out: out.double()), _GOOD, META, ".dtype="),
        (_differs_on("meta", lambda out: (out, out)), _GOOD, META, "2 tensors"),
        (
            lambda a, b: torch.add(a, b) if a.device.type == "cpu" else _raise_value_error(a),
            _BAD,
            META,
            "same type",
        ),
        (_drifts, _GOOD, CPU, "but should be"),
    ],
    ids=[
        "raises-only-there",
        "returns-only-there",
        "other-shape",
        "other-dtype",
        "other-count",
        "other-error",
        "other-values",
    ],
)
def test_same_on_devices_catches_difference(
    call: Callable[..., Any], args: Sequence[Any], device: torch.device, match: str
) -> None:
    with pytest.raises(AssertionError, match=match):
        parity_suite.assert_same_on_devices(call, args, device=device, what="call")


# -- The oracles, against the documentation's own examples ---------------------------

_D, _Z, _S = promotion.Priority.DIMENSIONED, promotion.Priority.ZERO_DIM, promotion.Priority.SCALAR


@pytest.mark.parametrize(
    ("operands", "expected"),
    [
        # https://pytorch.org/docs/stable/tensor_attributes.html#type-promotion-doc
        (((torch.int64, _S), (torch.int64, _S)), torch.int64),  # torch.add(5, 5)
        (((torch.int32, _D), (torch.int64, _S)), torch.int32),  # int_tensor + 5
        (((torch.int32, _D), (torch.int64, _Z)), torch.int32),  # int_tensor + long_zerodim
        (((torch.int64, _D), (torch.int32, _D)), torch.int64),
        (((torch.bool, _D), (torch.int64, _D)), torch.int64),
        (((torch.bool, _D), (torch.uint8, _D)), torch.uint8),
        (((torch.float32, _D), (torch.float64, _D)), torch.float64),
        (((torch.bool, _D), (torch.int32, _D)), torch.int32),
        (((torch.int64, _D), (torch.float32, _D)), torch.float32),
        # The cases of pytorch#58736 and #58489, and others that follow from the rule.
        (((torch.float16, _D), (torch.float64, _Z)), torch.float16),
        (((torch.uint8, _D), (torch.int64, _Z)), torch.uint8),
        (((torch.int32, _D), (torch.float32, _S)), torch.float32),
        (((torch.int32, _D), (torch.float64, _Z)), torch.float64),
        (((torch.uint8, _D), (torch.int8, _D)), torch.int16),
        (((torch.float16, _D), (torch.bfloat16, _D)), torch.float32),
        # 0-d tensors take part across categories (issue 14): a higher one raises.
        (((torch.int64, _D), (torch.float16, _Z)), torch.float16),
        (((torch.bool, _D), (torch.uint8, _Z)), torch.uint8),
        (((torch.float16, _D), (torch.int64, _Z)), torch.float16),
        # Complex: the docs' example, and PR #34093's design for the rest.
        (((torch.complex64, _D), (torch.complex128, _D)), torch.complex128),
        (((torch.float64, _D), (torch.complex64, _D)), torch.complex128),
        (((torch.complex64, _D), (torch.complex128, _Z)), torch.complex64),
        (((torch.float32, _D), (torch.complex128, _Z)), torch.complex64),
        (((torch.float64, _D), (torch.complex64, _Z)), torch.complex128),
        (((torch.float16, _D), (torch.complex64, _S)), torch.complex32),
        (((torch.int32, _D), (torch.complex128, _Z)), torch.complex128),
        (((torch.int32, _D), (torch.float16, _Z), (torch.complex64, _S)), torch.complex32),
    ],
)
def test_promotion_oracle_matches_documented_examples(
    operands: tuple[tuple[torch.dtype, promotion.Priority], ...], expected: torch.dtype
) -> None:
    assert promotion.result_type(promotion.Operand(*o) for o in operands) == expected


@pytest.mark.parametrize(
    ("result", "output", "allowed"),
    [
        (torch.float32, torch.float32, True),
        (torch.int32, torch.float32, True),
        (torch.bool, torch.float32, True),
        (torch.int64, torch.int32, True),
        (torch.int32, torch.uint8, True),
        (torch.float32, torch.int32, False),
        (torch.int32, torch.bool, False),
        (torch.complex64, torch.float32, False),
    ],
)
def test_casting_oracle_matches_documented_examples(
    result: torch.dtype, output: torch.dtype, allowed: bool
) -> None:
    assert promotion.can_cast(result, output) is allowed


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # https://pytorch.org/docs/stable/generated/torch.matmul.html
        ((3,), (3,), ()),
        ((3, 4), (4,), (3,)),
        ((10, 3, 4), (4,), (10, 3)),
        ((10, 3, 4), (10, 4, 5), (10, 3, 5)),
        ((10, 3, 4), (4, 5), (10, 3, 5)),
        ((7, 1, 3, 3), (5, 3, 3), (7, 5, 3, 3)),
        ((4,), (2, 4, 5), (2, 5)),
        ((2, 0, 3, 4), (1, 4, 5), (2, 0, 3, 5)),
    ],
)
def test_matmul_shape_oracle_matches_documented_examples(
    a: tuple[int, ...], b: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    assert oracle.matmul_shape(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b"), [((), (3,)), ((3, 4), (5,)), ((3,), (4,)), ((2, 3, 4), (3, 4, 5))]
)
def test_matmul_shape_oracle_rejects(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    with pytest.raises((oracle.MatmulError, oracle.BroadcastError)):
        oracle.matmul_shape(a, b)


def test_reduce_to_shape_sums_the_copies() -> None:
    grad = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(oracle.reduce_to_shape(grad, (3,)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(oracle.reduce_to_shape(grad, (2, 1)), [[3.0], [12.0]])
    np.testing.assert_array_equal(oracle.reduce_to_shape(grad, ()), 15.0)
    np.testing.assert_array_equal(oracle.reduce_to_shape(np.ones((0, 3)), (1, 1)), [[0.0]])


def test_broadcast_oracle_treats_size_zero_like_any_size() -> None:
    """1 against 0 gives 0; 2 against 0 conflicts."""
    assert oracle.broadcast_shapes((1,), (0,)) == (0,)
    with pytest.raises(oracle.BroadcastError):
        oracle.broadcast_shapes((2,), (0,))
