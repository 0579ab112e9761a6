"""The broadcasting rule, written out from its definition.

Source: https://pytorch.org/docs/stable/notes/broadcasting.html and NumPy's
rule, which PyTorch follows: align shapes from the right; missing dims count
as 1; two sizes are compatible when equal or when one of them is 1; the
result takes the size that is not 1 (so 1 against 0 gives 0, pytorch#162116).
"""

from __future__ import annotations

from collections.abc import Sequence

Shape = tuple[int, ...]


class BroadcastError(ValueError):
    """Shapes that do not broadcast; ``dim`` is negative, counted from the right."""

    def __init__(self, shapes: Sequence[Shape], dim: int, sizes: tuple[int, int]) -> None:
        super().__init__(f"shapes {list(shapes)} do not broadcast at dim {dim}: sizes {sizes}")
        self.dim = dim
        self.sizes = sizes


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
