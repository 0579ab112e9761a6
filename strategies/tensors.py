"""Strategies for tensors: values, dtypes, devices and memory layouts."""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies._validation import check_bool, check_choices, check_shape
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.shapes import DEFAULT_MAX_NUMEL, Shape, mutually_broadcastable_shapes

__all__ = [
    "LAYOUTS",
    "BroadcastablePair",
    "broadcastable_pairs",
    "default_elements",
    "layouts",
    "tensors",
]

#: Memory layouts :func:`tensors` can produce for one logical shape.
#: ``transposed`` swaps the last two dims of the storage, ``sliced`` takes every
#: other element of the last dim, ``expanded`` repeats size-1 storage with
#: stride 0. Where a shape cannot carry the layout (a 0-d tensor cannot be
#: transposed) the tensor is contiguous, since the values are what matter.
LAYOUTS: tuple[str, ...] = ("contiguous", "transposed", "sliced", "expanded")

#: Default magnitude bound for floating elements: any product of two stays
#: far from float16's largest value (65504), so arithmetic does not overflow.
FLOAT_BOUND = 100.0


def default_elements(dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """Finite values of ``dtype`` whose pairwise products do not overflow it.

    Floats lie in [-100, 100] with no NaN, infinity or subnormal (GPUs may
    flush subnormals); integers in [-b, b] (or [0, b] unsigned) with
    ``b = min(100, isqrt(max))`` so that ``x * y`` fits the dtype.
    """
    if dtype == torch.bool:
        return st.booleans()
    if dtype.is_floating_point or dtype.is_complex:
        # bfloat16 has float32's exponent range: its values come from float32s.
        width: Literal[16, 32, 64] = (
            16
            if dtype == torch.float16
            else 32
            if dtype in (torch.float32, torch.complex64, torch.bfloat16)
            else 64
        )
        reals = st.floats(
            -FLOAT_BOUND,
            FLOAT_BOUND,
            width=width,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
        )
        if dtype.is_complex:
            return st.builds(complex, reals, reals)
        return reals
    info = torch.iinfo(dtype)
    bound = min(100, math.isqrt(info.max))
    return st.integers(max(info.min, -bound), bound)


def _default_if_none(elements: Any, dtype: torch.dtype) -> st.SearchStrategy[Any]:
    """``elements`` (checked to be a strategy), or :func:`default_elements`.

    Not ``elements or default``: ``bool()`` of a strategy warns.
    """
    if elements is None:
        return default_elements(dtype)
    if not isinstance(elements, st.SearchStrategy):
        raise InvalidArgument(f"elements={elements!r} must be a strategy")
    return elements


def layouts() -> st.SearchStrategy[str]:
    """One of :data:`LAYOUTS`, shrinking toward ``"contiguous"``."""
    return st.sampled_from(LAYOUTS)


def _storage_shape(shape: Shape, layout: str, expanded: tuple[bool, ...]) -> Shape:
    if layout == "transposed" and len(shape) >= 2:
        return (*shape[:-2], shape[-1], shape[-2])
    if layout == "sliced" and len(shape) >= 1:
        return (*shape[:-1], 2 * shape[-1])
    if layout == "expanded":
        return tuple(1 if e else s for s, e in zip(shape, expanded, strict=True))
    return shape


def _view(storage: torch.Tensor, shape: Shape, layout: str) -> torch.Tensor:
    if layout == "transposed" and len(shape) >= 2:
        return storage.transpose(-1, -2)
    if layout == "sliced" and len(shape) >= 1:
        return storage[..., ::2]
    if layout == "expanded":
        return storage.expand(shape)
    return storage


@st.composite
def _tensors(
    draw: st.DrawFn,
    shape: Shape | st.SearchStrategy[Shape],
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
) -> torch.Tensor:
    shape_ = (
        check_shape(draw(shape, label="shape"), "shape")
        if isinstance(shape, st.SearchStrategy)
        else shape
    )
    layout_ = draw(layout, label="layout") if isinstance(layout, st.SearchStrategy) else layout
    check_choices(layout_, "layout", LAYOUTS)
    # Which dims an expanded layout repeats (drawn for every layout, so the
    # draw sequence does not depend on the layout).
    expanded = tuple(draw(st.booleans()) for _ in shape_)
    storage_shape = _storage_shape(shape_, layout_, expanded)
    n = math.prod(storage_shape)
    values = draw(st.lists(elements, min_size=n, max_size=n), label="values")
    storage = torch.tensor(values, dtype=dtype).reshape(storage_shape).to(device)
    out = _view(storage, shape_, layout_)
    if requires_grad:
        # detach() keeps the strides and makes the view a leaf that gets .grad.
        out = out.detach().requires_grad_(True)
    return out


def _check_tensor_args(
    dtype: torch.dtype | str,
    device: str | torch.device,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
) -> tuple[torch.dtype, str]:
    dt = resolve_dtype(dtype)
    dev = parse_device(device)
    check_bool(requires_grad, "requires_grad")
    if requires_grad and not (dt.is_floating_point or dt.is_complex):
        raise InvalidArgument(
            f"requires_grad=True needs a floating or complex dtype, not dtype={dt}"
        )
    if not isinstance(layout, st.SearchStrategy):
        check_choices(layout, "layout", LAYOUTS)
    return dt, dev


def tensors(
    *,
    shape: Shape | st.SearchStrategy[Shape],
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: str | st.SearchStrategy[str] = "contiguous",
) -> st.SearchStrategy[torch.Tensor]:
    """Tensors of a ``shape`` (a tuple or a strategy of tuples).

    ``elements`` draws each value (default: :func:`default_elements`, bounded
    so that arithmetic does not overflow). ``layout`` is one of
    :data:`LAYOUTS` or a strategy of them (e.g. :func:`layouts`): the layout
    sets the strides (and an expanded dim repeats its values). With
    ``requires_grad=True`` the tensor is a leaf, so ``.grad`` is filled by
    ``backward()``. Values shrink toward 0, layouts toward contiguous.

    >>> from strategies import shapes, tensors
    >>> t = tensors(shape=(2, 3), layout="transposed").example()  # doctest: +SKIP
    >>> t.shape, t.is_contiguous()  # doctest: +SKIP
    (torch.Size([2, 3]), False)
    """
    if not isinstance(shape, st.SearchStrategy):
        shape = check_shape(shape, "shape")
    dt, dev = _check_tensor_args(dtype, device, requires_grad, layout)
    return _tensors(shape, dt, dev, _default_if_none(elements, dt), requires_grad, layout)


class BroadcastablePair(NamedTuple):
    """Two tensors that broadcast together, and the shape they broadcast to."""

    x: torch.Tensor
    y: torch.Tensor
    result_shape: Shape


@st.composite
def _pairs(
    draw: st.DrawFn,
    shapes_: st.SearchStrategy,
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
) -> BroadcastablePair:
    (x_shape, y_shape), result = draw(shapes_, label="shapes")
    x = draw(_tensors(x_shape, dtype, device, elements, requires_grad, layout), label="x")
    y = draw(_tensors(y_shape, dtype, device, elements, requires_grad, layout), label="y")
    return BroadcastablePair(x, y, result)


def broadcastable_pairs(
    *,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    elements: st.SearchStrategy | None = None,
    requires_grad: bool = False,
    layout: str | st.SearchStrategy[str] = "contiguous",
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 0,
    max_side: int | None = None,
    max_numel: int = DEFAULT_MAX_NUMEL,
) -> st.SearchStrategy[BroadcastablePair]:
    """Two tensors whose shapes broadcast, plus the expected result shape.

    Shapes come from :func:`mutually_broadcastable_shapes` (same bounds),
    values from :func:`tensors`. Shrinks as both do: toward 1-element
    shapes, no broadcasting and zeros.

    >>> from strategies import broadcastable_pairs
    >>> x, y, result_shape = broadcastable_pairs(max_dims=2).example()  # doctest: +SKIP
    >>> (x + y).shape == result_shape  # doctest: +SKIP
    True
    """
    dt, dev = _check_tensor_args(dtype, device, requires_grad, layout)
    shapes_ = mutually_broadcastable_shapes(
        num_shapes=2,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
        max_numel=max_numel,
    )
    return _pairs(shapes_, dt, dev, _default_if_none(elements, dt), requires_grad, layout)
