"""Large tensors with the default elements: one seed, values from seeded_values().

Below SEEDED_FILL_MIN_NUMEL stored values every element is drawn (and
shrinks on its own); above it, a drawn seed fills the tensor with values of
the same range. A strategy of the caller's is drawn element by element at
every size.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples, shrunk

from strategies import (
    SEEDED_FILL_MIN_NUMEL,
    broadcastable_pairs,
    default_elements,
    seeded_values,
    tensors,
)

pytestmark = pytest.mark.filterwarnings("error")

BIG = (SEEDED_FILL_MIN_NUMEL + 1,)
DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int8,
    torch.uint8,
    torch.bool,
    torch.complex64,
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", [1, 2, 2**63 - 1])
def test_seeded_values_stay_in_the_default_range(dtype, seed):
    values = seeded_values(seed, 4096, dtype)
    assert values.shape == (4096,)
    assert values.dtype == dtype
    assert torch.equal(values, seeded_values(seed, 4096, dtype))  # reproducible
    if dtype == torch.bool:
        assert values.any()
        assert not values.all()
        return
    parts = torch.view_as_real(values) if dtype.is_complex else values
    if parts.dtype.is_floating_point:
        assert torch.isfinite(parts).all()
        assert (parts.abs() <= 100).all()
        tiny = torch.finfo(parts.dtype).tiny
        assert not ((parts != 0) & (parts.abs() < tiny)).any(), "a subnormal"
        # Edge values are mixed in among the uniform ones.
        for edge in (0.0, 1.0, 100.0):
            assert (parts.abs() == edge).any(), edge
    else:
        info = torch.iinfo(dtype)
        bound = min(100, int(info.max**0.5))
        assert int(values.min()) >= max(info.min, -bound)
        assert int(values.max()) <= bound
    assert len(torch.unique(parts)) > 10


def test_seed_zero_fills_zeros():
    assert torch.equal(seeded_values(0, 50, torch.float32), torch.zeros(50))


@settings(max_examples=30)
@given(data=st.data())
def test_large_default_tensors_are_filled_and_distinct(data):
    t = data.draw(tensors(shape=(8, 8)), label="t")
    assert t.shape == (8, 8)
    assert torch.isfinite(t).all()
    assert (t.abs() <= 100).all()


def test_large_default_tensors_are_not_constant_within_budget():
    drawn = examples(tensors(shape=(8, 8)))
    assert any(len(torch.unique(t)) > 32 for t in drawn)


def test_a_value_independent_failure_on_a_large_tensor_shrinks_to_zeros():
    t = shrunk(tensors(shape=(8, 8)), lambda _: True, seed=0)
    assert torch.equal(t, torch.zeros(8, 8))


def test_small_tensors_shrink_value_by_value():
    t = shrunk(tensors(shape=(4,)), lambda t: bool((t > 1).any()), seed=0)
    assert sorted(t.tolist()) == [0.0, 0.0, 0.0, 2.0]


def test_large_tensors_with_custom_elements_use_them():
    drawn = examples(tensors(shape=BIG, elements=st.sampled_from([3.0, 5.0])), n=20)
    assert all(set(t.unique().tolist()) <= {3.0, 5.0} for t in drawn)
    pairs = examples(broadcastable_pairs(elements=st.just(7.0), min_dims=2, min_side=6), n=10)
    assert all((p.x == 7.0).all() and (p.y == 7.0).all() for p in pairs)


def test_fill_covers_every_layout_and_expanded_storage():
    for layout in ("contiguous", "transposed", "sliced", "expanded"):
        t = examples(tensors(shape=(6, 7), layout=layout), n=5)[-1]
        assert t.shape == (6, 7)


def test_default_elements_by_name_are_the_same_strategy_and_keep_the_seeded_fill():
    # tensors() recognises the default elements by identity: a name must give
    # the very same strategy, or big tensors would be drawn value by value.
    assert default_elements("float32") is default_elements(torch.float32)
    assert default_elements("torch.int8") is default_elements(torch.int8)
    assert torch.equal(seeded_values(7, 5, "float16"), seeded_values(7, 5, torch.float16))
    drawn = examples(tensors(shape=BIG, elements=default_elements("float32")), n=10)
    assert any(len(torch.unique(t)) > 20 for t in drawn)
