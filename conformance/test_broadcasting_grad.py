"""Gradients flow back through broadcasting, summed over the broadcast dims.

An operand broadcast to a larger shape is used once per copy, so its gradient
is the sum of the copies' gradients: ``x.grad`` has ``x``'s shape and equals
the upstream gradient times the partial derivative, summed over the dims
``x`` lacked and the dims where ``x`` had size 1 -- the chain rule through
the implicit ``expand``, whose derivative is ``sum_to``
(tools/autograd/derivatives.yaml; pytorch#1787 is what goes wrong
otherwise). An operand broadcast against a size-0 dim gets zeros. The reference
sums in NumPy float64 (:func:`conformance.oracle.broadcasting.reduce_to_shape`);
the tolerance is the rounding bound of a sum of as many terms
(:func:`conformance.tolerances.accumulation_bound`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import assert_shape, assert_within, fail
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import reduce_to_shape
from conformance.support.ops import MAX_DIMS, MAX_NUMEL, describe, returned
from conformance.tolerances import accumulation_bound
from strategies import default_elements, layouts, mutually_broadcastable_shapes, tensors

Partials = Callable[[np.ndarray, np.ndarray], tuple[Any, Any]]


#: No zero or tiny divisors: the gradient wrt the divisor is -x / y**2.
_DIVISORS = st.floats(0.25, 100.0) | st.floats(-100.0, -0.25)


@dataclasses.dataclass(frozen=True)
class GradOp:
    """A differentiable broadcasting op: ``partials(x, y)`` gives d/dx and d/dy in
    float64; ``roundings`` is how many roundings torch's formula for one term
    of the gradient makes (derivatives.yaml), added to the tolerance's count."""

    name: str
    partials: Partials
    roundings: int
    divisor: bool = False

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return getattr(torch, self.name)(x, y)  # looked up per call: patched ops are checked

    def __str__(self) -> str:
        return self.name

    def elements(self, position: int, dtype: torch.dtype) -> st.SearchStrategy[Any]:
        return _DIVISORS if self.divisor and position == 1 else default_elements(dtype)


GRAD_OPS = (
    GradOp("add", lambda x, y: (1.0, 1.0), roundings=0),
    GradOp("sub", lambda x, y: (1.0, -1.0), roundings=0),
    GradOp("mul", lambda x, y: (y, x), roundings=1),
    # grad * (1 / y) and -grad * x / y / y (div_tensor_other_backward).
    GradOp("div", lambda x, y: (1.0 / y, -x / (y * y)), roundings=3, divisor=True),
)

_SHAPES = mutually_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_numel=MAX_NUMEL)


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
    """Leaf tensors for operand ``position`` of ``op``, in any layout; one strategy per shape."""
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
    broadcast along."""
    (x_shape, y_shape), out_shape = data.draw(_SHAPES, label="shapes")
    x = data.draw(operand_tensors(op, 0, x_shape, dtype, device), label="x")
    y = data.draw(operand_tensors(op, 1, y_shape, dtype, device), label="y")
    g = data.draw(upstream_tensors(out_shape, dtype, device), label="g")
    context = describe(f"{op.name}(x, y).backward(g)", (x, y, g), ("x", "y", "g"))

    returned(lambda: op(x, y).backward(g), f"{op.name}(x, y).backward(g)", context)

    x64, y64, g64 = map(to_float64, (x, y, g))
    for name, operand, partial in zip(("x", "y"), (x, y), op.partials(x64, y64), strict=True):
        grad = operand.grad
        if grad is None:
            fail(f"{name}.grad is None after backward(), but should have {name}'s shape", context)
            continue
        assert_shape(f"{name}.grad", grad.shape, operand.shape, context)
        expected, bound = expected_grad(g64, partial, tuple(operand.shape), op, dtype)
        assert_within(f"{name}.grad", grad, expected, bound, context)
