"""Strategies for tensor shapes and for sets of shapes that do or do not broadcast.

Sides shrink toward 1 (then 0, then 2, 3, ...), ranks toward ``min_dims``, and
"this dimension is broadcast" flags toward False, so a failure that needs one
broadcast dimension shrinks to shapes like ``(1,)`` against ``(2,)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies._validation import (
    check_int,
    check_interval,
    check_optional_int,
    check_shape,
)

__all__ = [
    "BroadcastableShapes",
    "NonBroadcastableShapes",
    "mutually_broadcastable_shapes",
    "non_broadcastable_shapes",
    "shapes",
]

Shape = tuple[int, ...]

#: Default cap on the number of elements of any drawn shape (and of a
#: broadcast result): small tensors keep examples fast and shrinking cheap.
DEFAULT_MAX_NUMEL = 512

#: The most dimensions a drawn shape may have (``min_dims``, ``max_dims`` and
#: ``base_shape`` above it are rejected): torch's reductions refuse more
#: ("only tensors with up to 64 dims are supported").
MAX_DIMS = 64

#: The most shapes one example of the broadcasting strategies may hold
#: (``num_shapes`` above it is rejected): each shape costs draws, and
#: Hypothesis bounds the draws of one example.
MAX_NUM_SHAPES = 32


class BroadcastableShapes(NamedTuple):
    """Shapes that broadcast together, and the shape they broadcast to."""

    input_shapes: tuple[Shape, ...]
    result_shape: Shape


class NonBroadcastableShapes(NamedTuple):
    """Shapes that must fail to broadcast.

    Exactly one aligned dimension conflicts: ``dim`` (negative, counted from
    the right as broadcasting aligns them) holds ``sizes``, two different
    sizes, neither of them 1, in the shapes at ``indices``. The other shapes
    reaching ``dim`` hold 1 there (``sizes[0]`` when ``min_side > 1``
    excludes 1). Every other dimension broadcasts.
    """

    input_shapes: tuple[Shape, ...]
    dim: int
    sizes: tuple[int, int]
    indices: tuple[int, int]


class _OrderedSides:
    """The integers in [low, high] less ``skip``, the ``first`` ones (where in
    range) leading, the rest ascending: computed per index, never listed, so
    that a bound of 10**9 costs what a bound of 5 does."""

    __slots__ = ("_head", "_start", "size")

    def __init__(
        self, low: int, high: int, *, first: tuple[int, ...], skip: tuple[int, ...] = ()
    ) -> None:
        lead = [v for v in first if low <= v <= high and v not in skip]
        # Above every special value, the order is plain counting.
        start = max(low, *first, *skip) + 1
        rest = [v for v in range(low, min(high + 1, start)) if v not in lead and v not in skip]
        self._head = (*lead, *rest)
        self._start = start
        # Not __len__, which fails beyond sys.maxsize (a bound of 2**63 - 1 has one more).
        self.size = len(self._head) + max(0, high - start + 1)

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(index)
        head = len(self._head)
        return self._head[index] if index < head else self._start + index - head


Sides = tuple[int, ...] | _OrderedSides


def _size(sides: Sides) -> int:
    return sides.size if isinstance(sides, _OrderedSides) else len(sides)


def _ordered_sides(
    low: int, high: int, *, first: tuple[int, ...], skip: tuple[int, ...] = ()
) -> Sides:
    """The integers in [low, high] less ``skip``, the ``first`` ones (where in
    range) leading: a tuple for short ranges (indexed in every side draw),
    computed per index for long ones."""
    order = _OrderedSides(low, high, first=first, skip=skip)
    return tuple(order[i] for i in range(order.size)) if order.size <= 64 else order


@functools.lru_cache(maxsize=1024)  # looked up inside composite draws: build each once
def _side(low: int, high: int) -> tuple[st.SearchStrategy[int], Sides]:
    """A side in [low, high] shrinking toward 1, then 0, then 2, 3, ...: an
    index strategy and the sides it indexes (the index is looked up by the
    caller rather than by ``.map``, which costs a span and more per draw)."""
    order = _ordered_sides(low, high, first=(1, 0))
    return st.integers(0, _size(order) - 1), order


_BOOLEANS = st.booleans()


def _default_max_side(min_side: int) -> int:
    return max(min_side + 5, 2)


def _default_max_dims(min_dims: int) -> int:
    return min(min_dims + 3, MAX_DIMS)


def _capped_side(draw: st.DrawFn, min_side: int, max_side: int, cap: int) -> int:
    """Draw a side from [min_side, min(max_side, cap)]; cap >= min_side holds."""
    index, order = _side(min_side, max(min_side, min(max_side, cap)))
    return order[draw(index)]


_DIMS_REASON = f"{MAX_DIMS}, the most dimensions a drawn shape may have"


def _validate_dims_and_sides(
    min_dims: int, max_dims: int | None, min_side: int, max_side: int | None, max_numel: int
) -> None:
    check_int(min_dims, "min_dims", min_value=0, max_value=MAX_DIMS, max_reason=_DIMS_REASON)
    check_optional_int(
        max_dims, "max_dims", min_value=0, max_value=MAX_DIMS, max_reason=_DIMS_REASON
    )
    check_interval(min_dims, max_dims, "min_dims", "max_dims")
    check_int(min_side, "min_side", min_value=0)
    check_optional_int(max_side, "max_side", min_value=0)
    check_interval(min_side, max_side, "min_side", "max_side")
    check_int(max_numel, "max_numel", min_value=0)
    if min_side**min_dims > max_numel:
        raise InvalidArgument(
            f"max_numel={max_numel} is too small for min_dims={min_dims} and "
            f"min_side={min_side}: the smallest shape has {min_side**min_dims} elements"
        )


def _max_fitting_dims(
    min_dims: int, max_dims: int, min_side: int, max_numel: int, smallest: Callable[[int], int]
) -> int:
    """The largest rank in [min_dims, max_dims] whose smallest shape fits ``max_numel``.

    ``smallest(ndim)`` is the element count of the smallest shape (or result)
    of that rank; it only grows with the rank when ``min_side >= 2``, and then
    a high rank cannot fit (``2**10 > 512``). Capping the rank keeps the bound
    without filtering.
    """
    if min_side <= 1:
        return max_dims
    ndim = min_dims
    while ndim < max_dims and smallest(ndim + 1) <= max_numel:
        ndim += 1
    return ndim


def _draw_shape(draw: st.DrawFn, ndim: int, min_side: int, max_side: int, max_numel: int) -> Shape:
    """Draw ``ndim`` sides whose product stays within ``max_numel``.

    Each side is capped by what the sides drawn so far leave over, keeping
    room for the remaining ones at ``min_side``: a bound, never a filter.
    """
    sides: list[int] = []
    used = 1
    for i in range(ndim):
        reserve = max(min_side, 1) ** (ndim - i - 1)
        side = _capped_side(draw, min_side, max_side, max_numel // (used * reserve))
        sides.append(side)
        used *= max(side, 1)
    return tuple(sides)


@st.composite
def _shapes(
    draw: st.DrawFn, min_dims: int, max_dims: int, min_side: int, max_side: int, max_numel: int
) -> Shape:
    ndim = draw(st.integers(min_dims, max_dims))
    return _draw_shape(draw, ndim, min_side, max_side, max_numel)


def shapes(
    *,
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 0,
    max_side: int | None = None,
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[Shape]:
    """Tensor shapes: tuples of ``min_dims`` to ``max_dims`` non-negative sides.

    0-d shapes ``()``, size-0 and size-1 sides are all reachable with the
    defaults; raise ``min_dims`` or ``min_side`` to exclude them. ``max_dims``
    defaults to ``min_dims + 3`` and may be at most :data:`MAX_DIMS` (64);
    ``max_side`` defaults to ``max(min_side + 5, 2)``. No shape has more than
    ``max_numel`` elements (sides are bounded while drawing, so nothing is
    filtered), and no bound costs work in proportion to it: sides are
    indexed, never listed. Shapes shrink toward ``min_dims`` sides of 1
    (then 0).

    >>> from strategies import shapes
    >>> shapes(min_dims=1, max_dims=3, max_side=4).example()  # doctest: +SKIP
    (3, 0, 1)
    """
    _validate_dims_and_sides(min_dims, max_dims, min_side, max_side, max_numel)
    hi_dims = _default_max_dims(min_dims) if max_dims is None else max_dims
    hi_side = _default_max_side(min_side) if max_side is None else max_side
    hi_dims = _max_fitting_dims(min_dims, hi_dims, min_side, max_numel, lambda n: min_side**n)
    return _shapes(min_dims, hi_dims, min_side, hi_side, max_numel)


def _check_num_shapes(num_shapes: int, least: int) -> None:
    check_int(
        num_shapes,
        "num_shapes",
        min_value=least,
        max_value=MAX_NUM_SHAPES,
        max_reason=f"{MAX_NUM_SHAPES}, the most shapes one example may hold",
    )


def _result_floors(base_shape: Shape, reach: int, min_side: int) -> list[int]:
    """The least each aligned dim (rightmost first) can add to a result's size.

    A side of ``base_shape`` other than 1 is the result's side there; any
    other dim that some shape reaches (the first ``reach``) is at least
    ``min_side``. Zero sides count as 1: bounding the product of the non-zero
    sides bounds every input's element count, not only the result's.
    """
    floors = []
    for pos in range(1, max(len(base_shape), reach) + 1):
        base = base_shape[-pos] if pos <= len(base_shape) else 1
        floors.append(max(base, 1) if base != 1 else max(min_side, 1) if pos <= reach else 1)
    return floors


@st.composite
def _mutually_broadcastable(
    draw: st.DrawFn,
    num_shapes: int,
    min_dims: int,
    max_dims: int,
    min_side: int,
    max_side: int,
    base_shape: Shape,
    max_numel: int,
) -> BroadcastableShapes:
    ndim = st.integers(min_dims, max_dims)
    ranks = [draw(ndim, label=f"ndim[{i}]") for i in range(num_shapes)]
    floors = _result_floors(base_shape, max(ranks), min_side)
    one_allowed = min_side <= 1 <= max_side
    shapes_rev: list[list[int]] = [[] for _ in range(num_shapes)]
    result_rev: list[int] = []
    used = 1  # product of non-zero result sides so far, for the numel cap
    for pos in range(1, len(floors) + 1):  # aligned from the right
        base = base_shape[-pos] if pos <= len(base_shape) else 1
        if base == 1:
            reserve = math.prod(floors[pos:])  # what the dims still to draw need
            side = _capped_side(draw, min_side, max_side, max_numel // (used * reserve))
        elif min_side <= base <= max_side:
            side = base  # every shape must agree with base_shape here, or be 1
        else:
            side = 1  # only 1 broadcasts against base_shape within the bounds
        result_side = base
        for rank, rev in zip(ranks, shapes_rev, strict=True):
            if pos > rank:
                continue
            # Drawn even where 1 is out of bounds, to keep the draws stable.
            broadcast_here = draw(_BOOLEANS)
            entry = 1 if broadcast_here and one_allowed else side
            rev.append(entry)
            if entry != 1:
                result_side = entry
        result_rev.append(result_side)
        used *= max(result_side, 1)
    return BroadcastableShapes(
        input_shapes=tuple(tuple(reversed(rev)) for rev in shapes_rev),
        result_shape=tuple(reversed(result_rev)),
    )


def mutually_broadcastable_shapes(
    *,
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 0,
    max_side: int | None = None,
    base_shape: Shape = (),
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[BroadcastableShapes]:
    """``num_shapes`` shapes that broadcast together, with their result shape.

    Each aligned dimension has one size ``s`` (never mixing two sizes above
    1); each shape that reaches that dimension holds either ``s`` or 1 there
    (1 only where ``min_side <= 1 <= max_side``: every side of every shape
    lies in the bounds). Size-0 sides broadcast like any other: ``(1,)``
    against ``(0,)`` gives ``(0,)``. When ``base_shape`` is given, every
    shape also broadcasts with it and ``result_shape`` includes it; where a
    side of ``base_shape`` lies outside the bounds, the shapes hold 1 there.
    Neither the result nor any shape has more than ``max_numel`` elements
    (ranks that cannot fit are not drawn). Shrinks toward ``min_dims``
    dimensions, sides of 1, and no broadcasting, so a fault needing one
    broadcast dimension shrinks to ``((1,), (2,))`` or ``((2,), (1,))``.

    >>> from strategies import mutually_broadcastable_shapes
    >>> mutually_broadcastable_shapes(num_shapes=3).example()  # doctest: +SKIP
    BroadcastableShapes(input_shapes=((4, 1), (), (1, 3)), result_shape=(4, 3))
    """
    _check_num_shapes(num_shapes, 1)
    base = check_shape(base_shape, "base_shape")
    if len(base) > MAX_DIMS:
        raise InvalidArgument(
            f"base_shape={base_shape!r} has {len(base)} dimensions, more than {_DIMS_REASON}"
        )
    _validate_dims_and_sides(min_dims, max_dims, min_side, max_side, max_numel)
    hi_dims = _default_max_dims(min_dims) if max_dims is None else max_dims
    hi_side = _default_max_side(min_side) if max_side is None else max_side

    def smallest(ndim: int) -> int:
        return math.prod(_result_floors(base, ndim, min_side))

    if smallest(min_dims) > max_numel:
        raise InvalidArgument(
            f"max_numel={max_numel} is too small for base_shape={base_shape!r} with "
            f"min_dims={min_dims} and min_side={min_side}: the non-zero sides of the "
            f"smallest result multiply to {smallest(min_dims)}"
        )
    hi_dims = _max_fitting_dims(min_dims, hi_dims, min_side, max_numel, smallest)
    if not min_side <= 1 <= hi_side:
        for pos, side in enumerate(reversed(base), start=1):
            if side != 1 and not min_side <= side <= hi_side and pos <= hi_dims:
                raise InvalidArgument(
                    f"base_shape={base_shape!r} has the side {side}, outside "
                    f"min_side={min_side} and max_side={hi_side}, which also exclude "
                    "the side 1 that would broadcast against it"
                )
    return _mutually_broadcastable(
        num_shapes, min_dims, hi_dims, min_side, hi_side, base, max_numel
    )


def _conflict_sizes(low: int, high: int) -> Sides:
    """Sizes other than 1 in [low, high], shrinking toward 2, then 0, 3, 4, ...

    Every prefix holds the smallest sizes (0 and 2 where in range), so the
    sizes up to a cap are a prefix: ``_size(_conflict_sizes(low, cap))`` of them.
    """
    return _ordered_sides(low, high, first=(2, 0), skip=(1,))


def _numel_without(shape: list[int], depth: int) -> int:
    return math.prod(shape[:-depth]) * math.prod(shape[len(shape) - depth + 1 :])


def _make_room(
    shapes_: list[list[int]],
    targets: tuple[int, ...],
    depth: int,
    need: int,
    max_numel: int,
    floor: int,
    together: bool,
) -> None:
    """Shrink sides outside the conflicting dim ``-depth`` until each target
    shape times the side ``need`` fits ``max_numel``: outer dims first, each to
    ``floor`` (1, which broadcasts against anything; or, where 1 is out of
    bounds, ``min_side`` in every shape reaching that dim, ``together``, so
    that they still agree). A bound, not a filter: validation made sure that
    shapes of ``floor`` sides leave the room."""
    for t in targets:
        shape = shapes_[t]
        for pos in range(len(shape), 0, -1):  # aligned from the right, outermost first
            if _numel_without(shape, depth) * need <= max_numel:
                break
            if pos == depth or shape[-pos] <= floor:
                continue
            for other in shapes_ if together else (shape,):
                if len(other) >= pos:
                    other[-pos] = floor


def _fitting(
    min_side: int,
    max_side: int,
    shapes_: list[list[int]],
    targets: tuple[int, ...],
    depth: int,
    max_numel: int,
) -> int:
    """How many conflict sizes (a prefix) every target shape can hold at ``-depth``."""
    cap = max_side
    for t in targets:
        rest = _numel_without(shapes_[t], depth)
        if rest:  # a shape with a zero side holds any size in 0 elements
            cap = min(cap, max_numel // rest)
    return _size(_conflict_sizes(min_side, cap))


@st.composite
def _non_broadcastable(
    draw: st.DrawFn,
    num_shapes: int,
    min_dims: int,
    max_dims: int,
    min_side: int,
    max_side: int,
    conflict_sizes: Sides,
    max_numel: int,
) -> NonBroadcastableShapes:
    base = draw(
        _mutually_broadcastable(num_shapes, min_dims, max_dims, min_side, max_side, (), max_numel),
        label="broadcastable start",
    )
    shapes_ = [list(s) for s in base.input_shapes]
    i = draw(st.integers(0, num_shapes - 2), label="first conflicting shape")
    j = draw(st.integers(i + 1, num_shapes - 1), label="second conflicting shape")
    depth = draw(st.integers(1, min(len(shapes_[i]), len(shapes_[j]))), label="-dim")
    # The conflicting sides multiply the rest of their shapes, which the
    # start filled up to max_numel: make room for the two smallest sizes,
    # then draw each size among those that fit (all of them, in the common
    # case, so the draws are those of the unbounded sizes).
    one_allowed = min_side <= 1 <= max_side
    # Where 1 is out of bounds every other shape takes size a, as shape i does.
    takes_a = (
        (i,)
        if one_allowed
        else tuple(k for k, s in enumerate(shapes_) if k != j and len(s) >= depth)
    )
    need = max(conflict_sizes[0], conflict_sizes[1])
    floor = 1 if one_allowed else min_side
    _make_room(shapes_, (*takes_a, j), depth, need, max_numel, floor, together=not one_allowed)
    n_a = _fitting(min_side, max_side, shapes_, takes_a, depth, max_numel)
    n_b = _fitting(min_side, max_side, shapes_, (j,), depth, max_numel)
    a_index = draw(st.integers(0, n_a - 1))
    b_index = draw(st.integers(0, n_b - 2 + (a_index >= n_b)))
    a = conflict_sizes[a_index]
    b = conflict_sizes[b_index + (b_index >= a_index)]  # any fitting size but a
    shapes_[i][-depth] = a
    shapes_[j][-depth] = b
    # Keep the conflict to one dimension: every other shape is 1 there, or a
    # when the bounds exclude 1 (so indices name one of the conflicting pairs).
    other = 1 if one_allowed else a
    for k, s in enumerate(shapes_):
        if k not in (i, j) and len(s) >= depth:
            s[-depth] = other
    return NonBroadcastableShapes(
        input_shapes=tuple(tuple(s) for s in shapes_),
        dim=-depth,
        sizes=(a, b),
        indices=(i, j),
    )


def non_broadcastable_shapes(
    *,
    num_shapes: int = 2,
    min_dims: int = 1,
    max_dims: int | None = None,
    min_side: int = 0,
    max_side: int | None = None,
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[NonBroadcastableShapes]:
    """``num_shapes`` shapes that must fail to broadcast, with the conflict known.

    Built from broadcastable shapes by setting one aligned dimension of two
    shapes to two different sizes, neither 1 (so ``(0,)`` against ``(2,)``
    conflicts, while ``(0,)`` against ``(1,)`` would not). No shape has more
    than ``max_numel`` elements, which must leave room for the two smallest
    conflicting sizes (``(2,)`` against ``(0,)`` needs 2). Shrinks toward
    ``((2,), (0,))``.

    >>> from strategies import non_broadcastable_shapes
    >>> non_broadcastable_shapes().example()  # doctest: +SKIP
    NonBroadcastableShapes(input_shapes=((3, 2), (4, 1)), dim=-2, sizes=(3, 4), indices=(0, 1))
    """
    _check_num_shapes(num_shapes, 2)
    _validate_dims_and_sides(min_dims, max_dims, min_side, max_side, max_numel)
    if min_dims < 1:
        raise InvalidArgument(
            f"min_dims={min_dims} must be at least 1: 0-d shapes broadcast with everything"
        )
    hi_dims = _default_max_dims(min_dims) if max_dims is None else max_dims
    hi_side = _default_max_side(min_side) if max_side is None else max_side
    conflict_sizes = _conflict_sizes(min_side, hi_side)
    if _size(conflict_sizes) < 2:
        raise InvalidArgument(
            f"min_side={min_side} and max_side={hi_side} leave fewer than two sizes "
            "other than 1, so no two sides can conflict"
        )
    # The smallest shape of a rank holding the larger of the two smallest
    # sizes (zero sides, which would make room for anything, left aside).
    need = max(conflict_sizes[0], conflict_sizes[1])

    def smallest(ndim: int) -> int:
        return max(min_side, 1) ** (ndim - 1) * need

    if smallest(min_dims) > max_numel:
        raise InvalidArgument(
            f"max_numel={max_numel} is too small for min_dims={min_dims}, "
            f"min_side={min_side} and max_side={hi_side}: the smallest shapes that "
            f"conflict hold up to {smallest(min_dims)} elements"
        )
    hi_dims = _max_fitting_dims(min_dims, hi_dims, min_side, max_numel, smallest)
    return _non_broadcastable(
        num_shapes, min_dims, hi_dims, min_side, hi_side, conflict_sizes, max_numel
    )
