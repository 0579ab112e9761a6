"""Operand shapes for ``matmul``: ones it accepts and ones it must reject."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from strategies import mutually_broadcastable_shapes, non_broadcastable_shapes

Shape = tuple[int, ...]
ShapePair = tuple[Shape, Shape]

#: Up to two batch dims per operand and sides up to 4: small, and enough for
#: every rule (missing, size-1, size-0 and equal batch dims).
_BATCH = mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3, max_numel=9)
_CONFLICTING_BATCH = non_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3, max_numel=9)
_SIDES = st.integers(1, 4) | st.just(0)  # n, k, m: shrink toward 1


def _assemble(draw: st.DrawFn, batch: Sequence[Shape], *, allow_vectors: bool = True) -> ShapePair:
    n, k, m = (draw(_SIDES, label=side) for side in "nkm")
    a_vector = allow_vectors and draw(st.booleans(), label="a is 1-D")
    b_vector = allow_vectors and draw(st.booleans(), label="b is 1-D")
    a = (k,) if a_vector else (*batch[0], n, k)
    b = (k,) if b_vector else (*batch[1], k, m)
    return a, b


@st.composite
def matmul_shapes(draw: st.DrawFn) -> ShapePair:
    """Operand shapes ``matmul`` accepts: broadcastable batch dims, equal inner sizes."""
    return _assemble(draw, draw(_BATCH, label="batch dims").input_shapes)


@st.composite
def bad_matmul_shapes(draw: st.DrawFn) -> ShapePair:
    """Operand shapes ``matmul`` rejects, one reason each: a 0-d operand,
    unequal inner sizes, or batch dims that do not broadcast."""
    reason = draw(st.sampled_from(["0-d", "inner", "batch"]), label="reason")
    if reason == "batch":
        batch = draw(_CONFLICTING_BATCH, label="batch dims").input_shapes
        return _assemble(draw, batch, allow_vectors=False)
    a, b = draw(matmul_shapes(), label="valid shapes")
    if reason == "0-d":
        return ((), b) if draw(st.booleans(), label="a is 0-d") else (a, ())
    inner = -1 if len(b) == 1 else -2
    wrong = b[inner] + draw(st.integers(1, 3), label="inner size offset")
    return a, (*b[:inner], wrong, *b[len(b) + inner + 1 :])


def shapes_context(a_shape: Shape, b_shape: Shape) -> str:
    return f"matmul, a.shape={a_shape}, b.shape={b_shape}"
