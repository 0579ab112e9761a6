"""tensors(), layouts(), default_elements() and broadcastable_pairs(); custom elements."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples, shrunk

from strategies import (
    LAYOUTS,
    DropoutConfig,
    LinearConfig,
    broadcastable_pairs,
    default_elements,
    dropout_inputs,
    layouts,
    linear_inputs,
    shapes,
    tensors,
)

# Any warning is a failure: a strategy that warns on use is a bug.
pytestmark = pytest.mark.filterwarnings("error")

FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8]
COMPLEX = [torch.complex64, torch.complex128]
ALL_DTYPES = [*FLOATS, *INTS, torch.bool, *COMPLEX]

small_shapes = shapes(max_dims=4, max_side=4)


def check_layout(t: torch.Tensor, layout: str) -> None:
    """What each layout promises about strides, where the shape can carry it.

    torch calls every empty tensor contiguous, whatever its strides.
    """
    shape = tuple(t.shape)
    if layout == "contiguous":
        assert t.is_contiguous()
    elif layout == "transposed" and t.ndim >= 2:
        assert t.transpose(-1, -2).is_contiguous(), t.stride()
        if shape[-1] > 1 and shape[-2] > 1 and t.numel() > 0:
            assert not t.is_contiguous()
    elif layout == "sliced" and t.ndim >= 1:
        assert t.stride(-1) == 2
        if shape[-1] > 1 and t.numel() > 0:
            assert not t.is_contiguous()
    elif layout == "expanded":
        # A repeated dim reads one element again and again.
        for d in range(t.ndim):
            if t.stride(d) == 0 and shape[d] > 1:
                assert torch.equal(t, t.narrow(d, 0, 1).expand_as(t))
    else:  # a layout the shape cannot carry falls back to contiguous
        assert t.is_contiguous()


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@settings(max_examples=20)
@given(data=st.data())
def test_tensors_have_the_asked_shape_dtype_and_device(dtype, data):
    shape = data.draw(small_shapes, label="shape")
    t = data.draw(tensors(shape=shape, dtype=dtype), label="t")
    assert t.shape == shape
    assert t.dtype == dtype
    assert t.device == torch.device("cpu")
    assert not t.requires_grad


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=40)
@given(data=st.data())
def test_every_layout_keeps_the_shape_and_sets_the_strides(layout, data):
    shape = data.draw(small_shapes, label="shape")
    t = data.draw(tensors(shape=shape, layout=layout), label="t")
    assert t.shape == shape
    check_layout(t, layout)


@settings(max_examples=40)
@given(t=tensors(shape=small_shapes, layout=layouts()))
def test_tensors_take_a_shape_strategy_and_a_layout_strategy(t):
    assert t.ndim <= 4
    assert all(side <= 4 for side in t.shape)


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=20)
@given(data=st.data())
def test_requires_grad_gives_a_leaf_that_receives_its_grad(layout, data):
    t = data.draw(tensors(shape=small_shapes, requires_grad=True, layout=layout))
    assert t.requires_grad
    assert t.is_leaf
    (t * t).sum().backward()
    assert t.grad is not None
    assert t.grad.shape == t.shape
    torch.testing.assert_close(t.grad, 2 * t.detach())


@pytest.mark.parametrize("layout", ["transposed", "sliced", "expanded"])
def test_non_contiguous_layouts_are_reached_within_budget(layout):
    drawn = examples(tensors(shape=small_shapes, layout=layout))
    assert any(not t.is_contiguous() for t in drawn)
    if layout == "expanded":
        assert any(0 in t.stride() and max(t.shape) > 1 for t in drawn)


def test_layout_strategy_reaches_every_layout_and_shrinks_to_contiguous():
    assert set(examples(layouts())) == set(LAYOUTS)
    assert shrunk(layouts(), lambda _: True, seed=0) == "contiguous"


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@settings(max_examples=20)
@given(data=st.data())
def test_default_elements_are_finite_and_products_do_not_overflow(dtype, data):
    x = data.draw(tensors(shape=(16,), dtype=dtype), label="x")
    y = data.draw(tensors(shape=(16,), dtype=dtype), label="y")
    if dtype == torch.bool:
        return
    if dtype.is_floating_point or dtype.is_complex:
        assert torch.isfinite(x).all()
        parts = torch.view_as_real(x) if dtype.is_complex else x
        assert (parts.abs() <= 100).all()
        assert torch.isfinite(x * y).all()
    else:
        # No wrap-around: the product in the dtype is the exact product.
        exact = [a * b for a, b in zip(x.tolist(), y.tolist(), strict=True)]
        assert (x * y).tolist() == exact


def test_default_float_elements_include_zero_and_stay_bounded():
    # 0 is the shrink target; NaN, infinities and subnormals are excluded.
    drawn = examples(default_elements(torch.float16))
    assert 0.0 in drawn
    assert all(math.isfinite(v) and abs(v) <= 100 for v in drawn)


@pytest.mark.parametrize(
    "with_elements",
    [
        lambda e: tensors(shape=(3,), elements=e),
        lambda e: broadcastable_pairs(elements=e).map(lambda pair: pair.x),
        lambda e: linear_inputs(LinearConfig(3, 2, True, torch.float32, "cpu"), elements=e),
        lambda e: dropout_inputs(DropoutConfig("Dropout", 0.5, False), elements=e),
    ],
    ids=["tensors", "broadcastable_pairs", "linear_inputs", "dropout_inputs"],
)
def test_custom_elements_are_used_without_a_warning(with_elements):
    # Built and drawn under "error": `elements or default` calls bool() on a
    # strategy, which warns.
    drawn = examples(with_elements(st.just(7.0)), n=10)
    assert all((t == 7.0).all() for t in drawn)


@pytest.mark.parametrize(
    ("dtype", "elements", "expected"),
    [
        # Rounding to a narrower float is what the dtype does, not an error.
        (torch.float32, st.just(0.1), torch.tensor(0.1, dtype=torch.float32)),
        (torch.bfloat16, st.just(1 / 3), torch.tensor(1 / 3, dtype=torch.bfloat16)),
        (torch.float16, st.just(65519.0), torch.tensor(65504.0, dtype=torch.float16)),
        (torch.float16, st.just(1e-6), torch.tensor(1e-6, dtype=torch.float16)),  # subnormal
        # NaN and infinities drawn are kept: only a finite value may not overflow.
        (torch.float16, st.just(math.inf), torch.tensor(math.inf, dtype=torch.float16)),
        (torch.float32, st.just(math.nan), torch.tensor(math.nan)),
        (torch.complex64, st.just(0.1 + 2j), torch.tensor(0.1 + 2j, dtype=torch.complex64)),
        # Exact dtypes take any value they hold exactly, whatever its type.
        (torch.int64, st.just(2.0), torch.tensor(2)),
        (torch.uint8, st.just(255), torch.tensor(255, dtype=torch.uint8)),
        (torch.bool, st.just(1), torch.tensor(True)),
        (torch.int8, st.just(np.int64(-128)), torch.tensor(-128, dtype=torch.int8)),
        (torch.float32, st.just(np.float32(1.5)), torch.tensor(1.5)),
    ],
    ids=repr,
)
def test_custom_elements_that_the_dtype_holds_are_accepted(dtype, elements, expected):
    # The overflow check (see test_validation) must not refuse these.
    for t in examples(tensors(shape=(2,), dtype=dtype, elements=elements), n=3):
        assert t.dtype == dtype
        assert torch.equal(t, expected.expand(2)) or (t.isnan().all() and expected.isnan())


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool], ids=str)
@settings(max_examples=30)
@given(data=st.data())
def test_broadcastable_pairs_broadcast_to_their_result_shape(dtype, data):
    x, y, result_shape = data.draw(broadcastable_pairs(dtype=dtype, max_dims=3))
    assert x.dtype == y.dtype == dtype
    assert result_shape == np.broadcast_shapes(tuple(x.shape), tuple(y.shape))
    assert (x | y if dtype == torch.bool else x + y).shape == result_shape


@settings(max_examples=20)
@given(pair=broadcastable_pairs(requires_grad=True, elements=st.just(1.0), layout=layouts()))
def test_broadcastable_pairs_pass_tensor_options_to_both(pair):
    for t in (pair.x, pair.y):
        assert t.requires_grad
        assert t.is_leaf
        assert (t == 1.0).all()


def test_broadcastable_pairs_reach_broadcasting_within_budget():
    drawn = examples(broadcastable_pairs())
    assert any(p.x.shape != p.y.shape for p in drawn)
    assert any(p.x.ndim != p.y.ndim for p in drawn)
    assert any(p.x.numel() == 0 for p in drawn)
