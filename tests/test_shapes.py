"""shapes(), mutually_broadcastable_shapes() and non_broadcastable_shapes().

Every property is checked against an oracle that does not share code with
the strategies: the broadcast rule written out below, NumPy and torch.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import SHRINK_SEEDS, examples, shrunk

from strategies import mutually_broadcastable_shapes, non_broadcastable_shapes, shapes

Shape = tuple[int, ...]

# Documented defaults: max_dims = min_dims + 3, max_side = max(min_side + 5, 2),
# max_numel = 512.
DEFAULT_MAX_NUMEL = 512


def default_max_dims(kwargs: dict, min_dims: int = 0) -> int:
    return kwargs.get("max_dims", kwargs.get("min_dims", min_dims) + 3)


def default_max_side(kwargs: dict) -> int:
    return kwargs.get("max_side", max(kwargs.get("min_side", 0) + 5, 2))


def aligned_sizes(shapes_: tuple[Shape, ...]) -> dict[int, set[int]]:
    """For each dim (negative, aligned from the right), the sizes the shapes hold there."""
    ndim = max(map(len, shapes_), default=0)
    return {d: {s[d] for s in shapes_ if len(s) >= -d} for d in range(-ndim, 0)}


def conflicting_dims(shapes_: tuple[Shape, ...]) -> list[int]:
    """The dims where two sizes other than 1 meet: the broadcast rule, by hand."""
    return [d for d, sizes in aligned_sizes(shapes_).items() if len(sizes - {1}) > 1]


def broadcast_by_hand(*shapes_: Shape) -> Shape:
    """The broadcast result: per aligned dim, the one size other than 1, else 1."""
    assert not conflicting_dims(shapes_), shapes_
    return tuple(max(sizes - {1}, default=1) for sizes in aligned_sizes(shapes_).values())


def numel(shape: Shape) -> int:
    return math.prod(shape)


def explicit_broadcast(b) -> bool:
    """A size-1 side stretched against a larger one: the fault a kernel can get wrong."""
    return any(
        s[d] == 1 and b.result_shape[d] > 1 for s in b.input_shapes for d in range(-len(s), 0)
    )


# -- shapes() -----------------------------------------------------------------

SHAPE_BOUNDS = [
    {},
    {"min_dims": 2, "max_dims": 4},
    {"min_side": 2, "max_side": 3},
    {"max_side": 0, "min_dims": 1},
    {"max_numel": 8},
    # min_side**max_dims = 3**7 > 512: the rank must be capped, not the bound broken.
    {"min_dims": 4, "min_side": 3},
]


@pytest.mark.parametrize("kwargs", SHAPE_BOUNDS, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_shapes_respect_bounds(kwargs, data):
    shape = data.draw(shapes(**kwargs))
    assert isinstance(shape, tuple)
    assert kwargs.get("min_dims", 0) <= len(shape) <= default_max_dims(kwargs)
    assert all(kwargs.get("min_side", 0) <= side <= default_max_side(kwargs) for side in shape)
    assert numel(shape) <= kwargs.get("max_numel", DEFAULT_MAX_NUMEL)


@pytest.mark.parametrize(
    ("what", "seen"),
    [
        ("a 0-d shape", lambda s: s == ()),
        ("a size-0 side", lambda s: 0 in s),
        ("a size-1 side", lambda s: 1 in s),
        ("a side above 1", lambda s: any(side > 1 for side in s)),
        ("the default max_dims", lambda s: len(s) == 3),
    ],
)
def test_shapes_reach_edge_cases_within_budget(what, seen):
    assert any(map(seen, examples(shapes()))), f"{what} never drawn"


@pytest.mark.parametrize(
    ("condition", "minimal"),
    [
        # Ranks shrink toward min_dims, sides toward 1, then 0, then 2, 3, ...
        (lambda s: True, ()),
        (lambda s: len(s) >= 2, (1, 1)),
        (lambda s: 0 in s, (0,)),
        (lambda s: numel(s) >= 2, (2,)),
    ],
)
def test_shapes_shrink_to_minimal_shape(condition, minimal):
    assert shrunk(shapes(), condition, seed=0) == minimal


# -- mutually_broadcastable_shapes() ------------------------------------------


@pytest.mark.parametrize("num_shapes", [1, 2, 3, 5])
@pytest.mark.parametrize("base_shape", [(), (3, 1), (0,), (2, 1, 4)], ids=repr)
@settings(max_examples=40)
@given(data=st.data())
def test_result_shape_is_the_broadcast_of_the_inputs(num_shapes, base_shape, data):
    b = data.draw(mutually_broadcastable_shapes(num_shapes=num_shapes, base_shape=base_shape))
    assert len(b.input_shapes) == num_shapes
    everything = (*b.input_shapes, base_shape)
    assert b.result_shape == broadcast_by_hand(*everything)
    assert b.result_shape == np.broadcast_shapes(*everything)
    assert b.result_shape == tuple(torch.broadcast_shapes(*everything))


MUTUAL_BOUNDS = [
    {},
    {"num_shapes": 3, "max_numel": 16},
    # 1 is outside [2, 3]: no shape may use it to broadcast.
    {"min_side": 2, "max_side": 3},
    {"min_dims": 3, "min_side": 3},
    # base_shape counts toward max_numel, whichever side it is on.
    {"base_shape": (100, 1), "max_side": 10},
    # A base side above max_side: the shapes hold 1 there.
    {"base_shape": (9, 1), "max_side": 3},
]


@pytest.mark.parametrize("kwargs", MUTUAL_BOUNDS, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_mutually_broadcastable_shapes_respect_bounds(kwargs, data):
    b = data.draw(mutually_broadcastable_shapes(**kwargs))
    max_numel = kwargs.get("max_numel", DEFAULT_MAX_NUMEL)
    for shape in b.input_shapes:
        assert kwargs.get("min_dims", 0) <= len(shape) <= default_max_dims(kwargs)
        assert all(kwargs.get("min_side", 0) <= s <= default_max_side(kwargs) for s in shape)
        assert numel(shape) <= max_numel
    assert numel(b.result_shape) <= max_numel


def test_mutually_broadcastable_shapes_reach_edge_cases_within_budget():
    drawn = examples(mutually_broadcastable_shapes())
    assert any(map(explicit_broadcast, drawn)), "no size-1 side broadcast"
    assert any(len({len(s) for s in b.input_shapes}) > 1 for b in drawn), "ranks never differ"
    assert any(0 in b.result_shape for b in drawn), "no size-0 result side"
    assert any(b.result_shape == () for b in drawn), "no 0-d result"


@pytest.mark.parametrize("num_shapes", [2, 3])
@pytest.mark.parametrize("seed", SHRINK_SEEDS)
def test_one_broadcast_dim_fault_shrinks_to_1d_pair(num_shapes, seed):
    b = shrunk(mutually_broadcastable_shapes(num_shapes=num_shapes), explicit_broadcast, seed)
    # Apart from shapes that take no part (0-d), the fault is (1,) against (2,).
    assert sorted(s for s in b.input_shapes if s) == [(1,), (2,)]


# -- non_broadcastable_shapes() -----------------------------------------------

NON_BROADCASTABLE = [
    {},
    {"num_shapes": 4},
    {"min_dims": 2, "max_dims": 3},
    {"min_side": 2, "max_side": 4, "num_shapes": 3},
    {"min_side": 0, "max_side": 2},
    # Tight bounds: the conflicting sides must fit the bound too (issue 12, item 5).
    {"max_numel": 2},
    {"max_numel": 8, "num_shapes": 3},
    {"min_side": 1, "max_numel": 3, "max_dims": 3},
    {"min_side": 2, "max_side": 5, "max_numel": 24, "num_shapes": 3},
    {"min_dims": 2, "max_side": 100, "max_numel": 50},
]


@pytest.mark.parametrize("kwargs", NON_BROADCASTABLE, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_non_broadcastable_shapes_fail_in_numpy_and_torch(kwargs, data):
    nb = data.draw(non_broadcastable_shapes(**kwargs))
    with pytest.raises(ValueError):
        np.broadcast_shapes(*nb.input_shapes)
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes(*nb.input_shapes)


@pytest.mark.parametrize("kwargs", NON_BROADCASTABLE, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_non_broadcastable_shapes_report_the_actual_conflict(kwargs, data):
    nb = data.draw(non_broadcastable_shapes(**kwargs))
    i, j = nb.indices
    assert i != j
    assert (nb.input_shapes[i][nb.dim], nb.input_shapes[j][nb.dim]) == nb.sizes
    assert nb.sizes[0] != nb.sizes[1]
    assert 1 not in nb.sizes
    assert conflicting_dims(nb.input_shapes) == [nb.dim]
    # Resolving the reported conflict leaves shapes that broadcast.
    fixed = [list(s) for s in nb.input_shapes]
    fixed[j][nb.dim] = nb.sizes[0]
    np.broadcast_shapes(*map(tuple, fixed))


@pytest.mark.parametrize("kwargs", NON_BROADCASTABLE, ids=repr)
@settings(max_examples=50)
@given(data=st.data())
def test_non_broadcastable_shapes_respect_bounds(kwargs, data):
    nb = data.draw(non_broadcastable_shapes(**kwargs))
    assert len(nb.input_shapes) == kwargs.get("num_shapes", 2)
    max_side = default_max_side(kwargs)
    for shape in nb.input_shapes:
        assert kwargs.get("min_dims", 1) <= len(shape) <= default_max_dims(kwargs, min_dims=1)
        assert all(kwargs.get("min_side", 0) <= s <= max_side for s in shape)
        assert numel(shape) <= kwargs.get("max_numel", DEFAULT_MAX_NUMEL), nb


def test_non_broadcastable_shapes_reach_edge_cases_within_budget():
    drawn = examples(non_broadcastable_shapes(num_shapes=3))
    assert any(0 in nb.sizes for nb in drawn), "0 never conflicts"
    assert any(nb.dim < -1 for nb in drawn), "the conflict is always in the last dim"
    assert any(nb.indices != (0, 1) for nb in drawn), "the conflict is always in shapes 0, 1"


@pytest.mark.parametrize("seed", SHRINK_SEEDS)
def test_non_broadcastable_shapes_shrink_to_1d_pair(seed):
    nb = shrunk(non_broadcastable_shapes(), lambda _: True, seed)
    assert [len(s) for s in nb.input_shapes] == [1, 1]


# -- bounds far beyond what is drawn (issue 12, item 9) -----------------------

HUGE = 10**6


@pytest.mark.parametrize(
    "build",
    [
        lambda: shapes(max_side=HUGE, max_numel=HUGE),
        lambda: mutually_broadcastable_shapes(num_shapes=3, max_side=HUGE, max_numel=HUGE),
        lambda: non_broadcastable_shapes(max_side=HUGE, max_numel=HUGE),
        lambda: non_broadcastable_shapes(min_side=2, max_side=HUGE, max_numel=HUGE),
    ],
    ids=["shapes", "mutually_broadcastable_shapes", "non_broadcastable_shapes", "min_side=2"],
)
def test_large_bounds_cost_no_memory_in_proportion(build):
    # Sides were once listed in full, for each cap met while drawing: tens
    # of MB here, 5 GB and a MemoryError for max_side=10**9.
    tracemalloc.start()
    try:
        drawn = examples(build(), n=20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak} bytes traced"
    assert len(drawn) == 20


@pytest.mark.parametrize("bound", [10**9, 2**63 - 1])
def test_shapes_draw_within_a_huge_bound(bound):
    for shape in examples(shapes(max_side=bound, max_numel=bound), n=30):
        assert numel(shape) <= bound
    for nb in examples(non_broadcastable_shapes(max_side=bound, max_numel=bound), n=30):
        assert conflicting_dims(nb.input_shapes) == [nb.dim]
        assert all(numel(s) <= bound for s in nb.input_shapes)


def test_huge_bounds_still_shrink_to_the_usual_minimal_shapes():
    # Computed, not listed, the order of sides is the same: 1, 0, 2, 3, ...
    big = shapes(max_side=10**9, max_numel=10**9)
    assert shrunk(big, lambda s: numel(s) >= 2, seed=0) == (2,)
    assert shrunk(big, lambda s: 0 in s, seed=0) == (0,)
    nb = shrunk(non_broadcastable_shapes(max_side=10**9, max_numel=10**9), lambda _: True, 0)
    assert [len(s) for s in nb.input_shapes] == [1, 1]
    assert sorted(nb.sizes) == [0, 2]


@pytest.mark.parametrize(
    "strategy",
    [
        shapes(min_dims=63),
        mutually_broadcastable_shapes(min_dims=62, max_numel=10**6).map(lambda b: b.result_shape),
        non_broadcastable_shapes(min_dims=63).map(lambda nb: nb.input_shapes[0]),
    ],
    ids=["shapes", "mutually_broadcastable_shapes", "non_broadcastable_shapes"],
)
def test_default_max_dims_stops_at_64(strategy):
    # min_dims + 3, the default, may not pass the cap that explicit bounds have.
    assert max(len(s) for s in examples(strategy, n=30)) <= 64
