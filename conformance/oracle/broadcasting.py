"""The broadcasting rule, written out from its definition, and what follows from it.

Source: https://pytorch.org/docs/stable/notes/broadcasting.html and NumPy's
rule, which PyTorch follows: align shapes from the right; missing dims count
as 1; two sizes are compatible when equal or when one of them is 1; the
result takes the size that is not 1 (so 1 against 0 gives 0, pytorch#162116).

From the rule follow the shape of a batched matrix product
(:func:`matmul_shape`) and the gradient of a broadcast operand
(:func:`reduce_to_shape`: every copy an operand was expanded into sends its
gradient back, so the copies' gradients are summed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Shape = tuple[int, ...]

__all__ = [
    "BroadcastError",
    "MatmulError",
    "broadcast_shapes",
    "broadcasts_in_place",
    "matmul_shape",
    "reduce_to_shape",
]


class BroadcastError(ValueError):
    """Shapes that do not broadcast; ``dim`` is negative, counted from the right."""

    def __init__(self, shapes: Sequence[Shape], dim: int, sizes: tuple[int, int]) -> None:
        super().__init__(f"shapes {list(shapes)} do not broadcast at dim {dim}: sizes {sizes}")
        self.dim = dim
        self.sizes = sizes


class MatmulError(ValueError):
    """Operands that ``matmul`` rejects for a reason other than their batch dims."""


def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """The broadcast of ``shapes``, or :class:`BroadcastError` naming the conflict."""
    ndim = max((len(s) for s in shapes), default=0)
    result: list[int] = []
    for pos in range(1, ndim + 1):
        size = 1
        for shape in shapes:
            side = shape[-pos] if pos <= len(shape) else 1
            if side == 1:
                continue
            if size not in (1, side):
                raise BroadcastError([tuple(s) for s in shapes], -pos, (size, side))
            size = side
        result.append(size)
    return tuple(reversed(result))


def broadcasts_in_place(target: Sequence[int], other: Sequence[int]) -> bool:
    """``target.op_(other)`` is valid: broadcasting leaves ``target``'s shape as it is
    (pytorch#71098)."""
    try:
        return broadcast_shapes(target, other) == tuple(target)
    except BroadcastError:
        return False


def reduce_to_shape(grad: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The gradient of an operand of ``shape`` that was broadcast to ``grad.shape``.

    Sums ``grad`` over the leading dims the operand lacked and, keeping the
    dim, over each dim where the operand has size 1 and the result does not.
    An operand broadcast against a size-0 dim gets zeros (an empty sum).
    """
    shape = tuple(shape)
    if not broadcasts_in_place(grad.shape, shape):
        raise ValueError(f"shape {shape} does not broadcast to the gradient's {grad.shape}")
    lead = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(lead))) if lead else grad
    expanded = tuple(i for i, side in enumerate(shape) if side == 1 and summed.shape[i] != 1)
    if expanded:
        summed = summed.sum(axis=expanded, keepdims=True)
    return np.asarray(summed).reshape(shape)


def matmul_shape(a: Sequence[int], b: Sequence[int]) -> Shape:
    """The shape of ``matmul(a, b)``, from https://pytorch.org/docs/stable/generated/torch.matmul.html.

    A 1-D first operand gets a 1 prepended, a 1-D second operand a 1 appended,
    and the added dim is removed from the result; the last two dims multiply
    as matrices, ``(n, k) @ (k, m) -> (n, m)``; every dim before them is a
    batch dim, and batch dims broadcast (:class:`BroadcastError` if they do
    not). A 0-d operand or mismatched inner sizes raise :class:`MatmulError`.
    """
    a, b = tuple(a), tuple(b)
    if not a or not b:
        raise MatmulError(f"matmul needs operands of at least 1 dim, got {a} and {b}")
    a_matrix = (1, *a) if len(a) == 1 else a
    b_matrix = (*b, 1) if len(b) == 1 else b
    if a_matrix[-1] != b_matrix[-2]:
        raise MatmulError(
            f"matmul inner sizes differ: {a} has {a_matrix[-1]}, {b} has {b_matrix[-2]}"
        )
    batch = broadcast_shapes(a_matrix[:-2], b_matrix[:-2])
    rows = () if len(a) == 1 else (a_matrix[-2],)
    cols = () if len(b) == 1 else (b_matrix[-1],)
    return (*batch, *rows, *cols)
