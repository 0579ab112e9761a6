"""Gradients flow back through broadcasting, summed over the broadcast dims.

An operand broadcast to a larger shape is used once per copy, so its gradient
is the sum of the copies' gradients: ``x.grad`` has ``x``'s shape and equals
the upstream gradient times the partial derivative, summed over the dims
``x`` lacked and the dims where ``x`` had size 1 -- the chain rule through
the implicit ``expand``, whose derivative is ``sum_to``
(tools/autograd/derivatives.yaml; pytorch#1787 is what goes wrong
otherwise). An operand broadcast against a size-0 dim gets zeros. This holds
for every spelling of the op -- ``torch.mul(x, y)``, ``x * y``, ``x.mul(y)``,
``x.mul_(y)``, ``x *= y`` each record their own graph node -- so the check
draws the form, and covers the differentiable ops of the broadcasting table
(``maximum``/``minimum`` split a tie's gradient evenly; ``where`` routes it by
the condition). The reference
sums in NumPy float64 (:func:`conformance.oracle.broadcasting.reduce_to_shape`);
the tolerance is the rounding bound of a sum of as many terms
(:func:`conformance.tolerances.accumulation_bound`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import assert_shape, assert_within, fail
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import reduce_to_shape
from conformance.support.ops import (
    BROADCAST_OPS,
    INPLACE_FORMS,
    MAX_DIMS,
    MAX_NUMEL,
    BroadcastOp,
    call_form,
    describe,
    forms,
    operand_names,
    returned,
    spell,
)
from conformance.tolerances import accumulation_bound
from strategies import default_elements, layouts, mutually_broadcastable_shapes, tensors

Partials = Callable[..., tuple[Any, ...]]


#: No zero or tiny divisors: the gradient wrt the divisor is -x / y**2.
_DIVISORS = st.floats(0.25, 100.0) | st.floats(-100.0, -0.25)
#: Powers: positive bases (d/dy = x**y * log(x) needs x > 0) and exponents in
#: [-3, 3], so every partial stays far from overflow.
_BASES = st.floats(0.25, 4.0)
_EXPONENTS = st.floats(-3.0, 3.0)


@dataclasses.dataclass(frozen=True)
class GradOp:
    """A differentiable broadcasting op of :data:`~conformance.support.ops.BROADCAST_OPS`:
    ``partials(*operands)`` gives, in float64, d out / d operand for each
    differentiable operand (all but ``where``'s condition); ``roundings`` is
    how many roundings torch's formula for one term of the gradient makes
    (derivatives.yaml), added to the tolerance's count; ``elements`` maps an
    operand position to the values drawn for it (default: any)."""

    name: str
    partials: Partials
    roundings: int
    divisor: bool = False
    domains: tuple[tuple[int, st.SearchStrategy[float]], ...] = ()

    @property
    def op(self) -> BroadcastOp:
        """The table entry: its forms (operator, method, in place) and arity."""
        return next(op for op in BROADCAST_OPS if op.name == self.name)

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.op(*args))  # looked up per call: patched ops are checked

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Hypothesis prints drawn ops: keep it short
        return f"{type(self).__name__}({self.name!r})"

    def elements(self, position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
        if self.divisor and position == 1:
            return _DIVISORS
        return dict(self.domains).get(position, default_elements(dtype))


def _maximum_partials(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """1 for the larger operand, 0 for the smaller, 1/2 each on a tie: torch's
    ``maximum`` splits the gradient evenly between equal operands
    (derivatives.yaml: ``at::where(self == other, grad / 2, grad)``)."""
    return np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)), np.where(
        y > x, 1.0, np.where(x == y, 0.5, 0.0)
    )


def _minimum_partials(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    return _maximum_partials(-x, -y)


def _where_partials(condition: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """The gradient goes to ``x`` where the condition holds, to ``y`` elsewhere (the
    condition arrives as float64 0s and 1s)."""
    chosen = np.asarray(condition) != 0
    return chosen.astype(np.float64), (~chosen).astype(np.float64)


GRAD_OPS = (
    GradOp("add", lambda x, y: (1.0, 1.0), roundings=0),
    GradOp("sub", lambda x, y: (1.0, -1.0), roundings=0),
    GradOp("mul", lambda x, y: (y, x), roundings=1),
    # grad * (1 / y) and -grad * x / y / y (div_tensor_other_backward).
    GradOp("div", lambda x, y: (1.0 / y, -x / (y * y)), roundings=3, divisor=True),
    # Appended: the ids of the ops above stay as they were.
    GradOp("maximum", _maximum_partials, roundings=0),
    GradOp("minimum", _minimum_partials, roundings=0),
    # grad * (y * x.pow(y - 1)) and grad * (x.pow(y) * x.log()) (pow_backward_self,
    # pow_backward_exponent): y - 1 is rounded, and pow magnifies that by
    # |log(x) * (y - 1)| <= 6 here; pow and log within an ulp or two each.
    GradOp(
        "pow",
        lambda x, y: (y * x ** (y - 1.0), x**y * np.log(x)),
        roundings=12,
        domains=((0, _BASES), (1, _EXPONENTS)),
    ),
    GradOp("where", _where_partials, roundings=0),
)

_SHAPES = {
    n: mutually_broadcastable_shapes(num_shapes=n, max_dims=MAX_DIMS, max_numel=MAX_NUMEL)
    for n in (2, 3)
}


def expected_grad(
    upstream: np.ndarray, partial: Any, shape: tuple[int, ...], op: GradOp, dtype: torch.dtype
) -> tuple[np.ndarray, torch.Tensor]:
    """The reduced gradient of an operand of ``shape`` and its admissible error:
    a sum of as many terms as the operand has copies, each term computed with
    ``op.roundings`` roundings of its own."""
    terms = upstream * np.broadcast_to(partial, upstream.shape)
    copies = math.prod(upstream.shape) // math.prod(shape) if math.prod(shape) else 0
    abs_sum = torch.from_numpy(reduce_to_shape(np.abs(terms), shape))
    bound = accumulation_bound(abs_sum, copies + op.roundings, dtype)
    return reduce_to_shape(terms, shape), bound


@functools.lru_cache(maxsize=4096)
def operand_tensors(
    op: GradOp, position: int, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[torch.Tensor]:
    """Operand ``position`` of ``op``, in any layout; one strategy per shape. Leaf
    tensors that require grad, but for ``where``'s condition (a bool mask)."""
    if op.op.condition and position == 0:
        return tensors(shape=shape, dtype=torch.bool, device=device, layout=layouts())
    return tensors(
        shape=shape,
        dtype=dtype,
        device=device,
        elements=op.elements(position, dtype),
        requires_grad=True,
        layout=layouts(),
    )


@functools.lru_cache(maxsize=4096)
def upstream_tensors(
    shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[torch.Tensor]:
    return tensors(shape=shape, dtype=dtype, device=device)


@pytest.mark.parametrize("op", GRAD_OPS, ids=str)
@given(data=st.data())
def test_broadcast_grad_is_reduced(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, op: GradOp
) -> None:
    """After ``op(x, y).backward(g)``, ``x.grad`` and ``y.grad`` have the shapes of
    ``x`` and ``y`` (zeros for an operand broadcast against a size-0 dim) and
    equal ``g * d op / d operand`` summed over the dims that operand was
    broadcast along -- in each form a user writes the op, one drawn per example
    (:data:`~conformance.support.ops.FORMS`): ``torch.mul(x, y)``, ``x * y``,
    ``x.mul(y)``, and, where ``x`` keeps its shape, ``x.clone().mul_(y)`` and
    ``x_ = x.clone(); x_ *= y`` (in place on a copy: a leaf that requires grad
    may not be written in place, and the copy passes the gradient on to ``x``).
    """
    table_op = op.op
    shapes_, out_shape = data.draw(_SHAPES[table_op.arity], label="shapes")
    names = operand_names(table_op)
    args = [
        data.draw(operand_tensors(op, i, shape, dtype, device), label=name)
        for i, (name, shape) in enumerate(zip(names, shapes_, strict=False))
    ]
    g = data.draw(upstream_tensors(out_shape, dtype, device), label="g")
    form = data.draw(st.sampled_from(forms(table_op, args)), label="form")
    spelled = spell(table_op, form, names)
    if form in INPLACE_FORMS:
        spelled = spelled.replace(names[0], f"{names[0]}.clone()", 1)
    context = describe(f"({spelled}).backward(g)", (*args, g), (*names, "g"))

    def run() -> None:
        operands = [args[0].clone(), *args[1:]] if form in INPLACE_FORMS else args
        call_form(table_op, form, operands).backward(g)

    returned(run, f"({spelled}).backward(g)", context)

    values = [to_float64(a) for a in args]
    g64 = to_float64(g)
    differentiable = [i for i, a in enumerate(args) if a.requires_grad]
    partials = op.partials(*values)
    for i, partial in zip(differentiable, partials, strict=True):
        name, operand = names[i], args[i]
        grad = operand.grad
        if grad is None:
            fail(f"{name}.grad is None after backward(), but should have {name}'s shape", context)
            continue
        assert_shape(f"{name}.grad", grad.shape, operand.shape, context)
        expected, bound = expected_grad(g64, partial, tuple(operand.shape), op, dtype)
        assert_within(f"{name}.grad", grad, expected, bound, context)
