"""Strategies for tensors: values, dtypes, devices and memory layouts.

Values come one Hypothesis draw per element, so they shrink one by one
toward 0, except in tensors whose storage holds more than
:data:`SEEDED_FILL_MIN_NUMEL` elements with the default elements: those
draw one seed and fill their values from a seeded ``torch.Generator``
(:func:`seeded_values`), which is what keeps drawing them cheap.
"""

from __future__ import annotations

import cmath
import functools
import math
import numbers
from typing import Any, Literal, NamedTuple

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from strategies._validation import check_bool, check_choices, check_int, check_shape
from strategies.devices import parse_device
from strategies.dtypes import resolve_dtype
from strategies.shapes import DEFAULT_MAX_NUMEL, Shape, mutually_broadcastable_shapes

__all__ = [
    "LAYOUTS",
    "SEEDED_FILL_MIN_NUMEL",
    "BroadcastablePair",
    "broadcastable_pairs",
    "default_elements",
    "layouts",
    "seeded_values",
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

#: Tensors with the default elements whose storage holds more elements than
#: this are filled from one drawn seed (:func:`seeded_values`) instead of one
#: draw per element; smaller ones, and any tensor with an ``elements``
#: strategy of the caller's, draw every element and shrink value by value.
#: Measured (benchmarks/RESULTS.md): each drawn element costs Hypothesis
#: about as much as a whole seeded fill, so drawing dominates every tensor
#: above a few elements. The threshold keeps the small tensors that shrunk
#: failures end up with (a broadcast pair of ``(2, 2)`` and ``(2,)``, a
#: ``(3, 4)`` Linear input) fully shrinkable, while larger ones cost one draw.
SEEDED_FILL_MIN_NUMEL = 32

#: What a seed is drawn from; seed 0, the shrink target, fills zeros.
_SEEDS = st.integers(0, 2**63 - 1)


def _elements_bound(dtype: torch.dtype) -> tuple[int, int]:
    """The integer range of :func:`default_elements` for a non-float dtype."""
    info = torch.iinfo(dtype)
    bound = min(100, math.isqrt(info.max))
    return max(info.min, -bound), bound


def default_elements(dtype: torch.dtype | str) -> st.SearchStrategy[Any]:
    """Finite values of ``dtype`` whose pairwise products do not overflow it.

    Floats lie in [-100, 100] with no NaN, infinity or subnormal (GPUs may
    flush subnormals); integers in [-b, b] (or [0, b] unsigned) with
    ``b = min(100, isqrt(max))`` so that ``x * y`` fits the dtype. One
    strategy per dtype (built once): :func:`tensors` recognises it, and fills
    large tensors with :func:`seeded_values` of the same range instead.
    """
    return _default_elements(resolve_dtype(dtype))


@functools.cache
def _default_elements(dtype: torch.dtype) -> st.SearchStrategy[Any]:
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
    return st.integers(*_elements_bound(dtype))


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return {torch.complex64: torch.float32, torch.complex128: torch.float64}.get(dtype, dtype)


@functools.cache
def _special_values(dtype: torch.dtype) -> torch.Tensor:
    """Edge values a seeded fill mixes in (float64 for floats, int64 for integers)."""
    if dtype.is_floating_point:
        tiny = torch.finfo(dtype).tiny
        edges = [0.0, 1.0, 0.5, 2.0, tiny, FLOAT_BOUND]
        return torch.tensor([v for e in edges for v in (e, -e)], dtype=torch.float64)
    low, high = _elements_bound(dtype)
    ints = sorted({v for v in (0, 1, -1, 2, low, high) if low <= v <= high})
    return torch.tensor(ints, dtype=torch.int64)


def _seeded_reals(generator: torch.Generator, n: int, dtype: torch.dtype) -> torch.Tensor:
    # Of every 8 values: 6 uniform in [-FLOAT_BOUND, FLOAT_BOUND], 1 rounded
    # to an integer, 1 an edge value (0, -0, +-1, +-tiny, +-FLOAT_BOUND, ...).
    values = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * FLOAT_BOUND
    kind = torch.randint(0, 8, (n,), generator=generator)
    specials = _special_values(dtype)
    pick = torch.randint(0, len(specials), (n,), generator=generator)
    values = torch.where(kind == 6, values.round(), values)
    values = torch.where(kind == 7, specials[pick], values).to(dtype)
    # Rounding keeps |v| <= FLOAT_BOUND (representable in every float dtype);
    # values that round to a subnormal become 0, as default_elements has none.
    return values.masked_fill((values != 0) & (values.abs() < torch.finfo(dtype).tiny), 0.0)


def seeded_values(seed: int, n: int, dtype: torch.dtype | str) -> torch.Tensor:
    """``n`` values of ``dtype`` in :func:`default_elements`' range, from ``seed``.

    A 1-D CPU tensor, the same for the same arguments on every machine;
    ``seed=0`` (what a seed shrinks to) gives zeros. Floats: three in four
    uniform in [-100, 100], the rest integral or edge values (0, -0.0, +-1,
    +-0.5, +-2, the smallest normal, +-100), never NaN, infinite or subnormal.
    Integers: uniform in the range, one in four from its edges (0, +-1, 2, the
    bounds). Bools: fair coin flips. Complex: real and imaginary parts as floats.
    ``seed`` is a torch seed, in [0, 2**64 - 1]; ``n`` is at least 0.
    """
    check_int(
        seed,
        "seed",
        min_value=0,
        max_value=2**64 - 1,
        max_reason="2**64 - 1, the largest torch seed",
    )
    check_int(n, "n", min_value=0)
    return _seeded_values(seed, n, resolve_dtype(dtype))


def _seeded_values(seed: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """:func:`seeded_values` for arguments already checked (the draw path)."""
    if seed == 0:
        return torch.zeros(n, dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, (n,), generator=generator, dtype=torch.bool)
    if dtype.is_complex:
        real = _real_dtype(dtype)
        parts = _seeded_reals(generator, n, real), _seeded_reals(generator, n, real)
        return torch.complex(*parts)
    if dtype.is_floating_point:
        return _seeded_reals(generator, n, dtype)
    low, high = _elements_bound(dtype)
    values = torch.randint(low, high + 1, (n,), generator=generator)
    specials = _special_values(dtype)
    pick = torch.randint(0, 4 * len(specials), (n,), generator=generator)
    edge = pick < len(specials)
    values = torch.where(edge, specials[pick.clamp(max=len(specials) - 1)], values)
    return values.to(dtype)


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


_BOOLEANS = st.booleans()

#: default_elements' floats, drawn at width 64: rounding to the dtype (by
#: torch.tensor) gives the values a narrower width would, without the
#: per-element ``.map`` that Hypothesis' narrower floats cost.
_REALS = st.floats(
    -FLOAT_BOUND, FLOAT_BOUND, allow_nan=False, allow_infinity=False, allow_subnormal=False
)


def _draw_default_floats(draw: st.DrawFn, n: int, dtype: torch.dtype) -> torch.Tensor:
    """``n`` values of :func:`default_elements` for a float or complex ``dtype``,
    one draw per real value (real, then imaginary part), as a 1-D tensor."""
    real = _real_dtype(dtype)
    count = 2 * n if dtype.is_complex else n
    values = torch.tensor([draw(_REALS) for _ in range(count)], dtype=real)
    if real != torch.float64:
        # Rounding keeps |v| <= FLOAT_BOUND; a value that rounds to a
        # subnormal of the dtype becomes 0 (default_elements has none).
        tiny = torch.finfo(real).tiny
        values = values.masked_fill((values != 0) & (values.abs() < tiny), 0.0)
    if dtype.is_complex:
        values = torch.complex(values[0::2], values[1::2])
    return values


#: Exact types of the usual element values, tested before the slower
#: ``numbers.Number`` check (which also admits NumPy scalars).
_PLAIN_NUMBERS = frozenset({bool, int, float, complex})


def _element_error(elements: st.SearchStrategy, value: Any, why: str) -> InvalidArgument:
    return InvalidArgument(f"elements={elements!r} drew {value!r}, {why}")


def _stored_as_drawn(
    values: list[Any], dtype: torch.dtype, elements: st.SearchStrategy
) -> torch.Tensor:
    """``values`` from the caller's ``elements`` as a 1-D tensor of ``dtype``,
    refusing any value the dtype does not hold as drawn.

    ``torch.tensor`` wraps integers (-5 as uint8 is 251), truncates floats
    to integers (0.5 as int64 is 0), turns any non-zero into True and
    overflows floats to infinity. Like Hypothesis' ``arrays``, each stored
    value is compared with the drawn one: integer and bool dtypes must hold
    it exactly; floating ones may round it (a float64 drawn for bfloat16 is
    the usual case) but not turn a finite value infinite. NaN stays NaN.
    """
    for v in values:
        # A list or a string would silently add a dimension, or fail deep in torch.
        if type(v) not in _PLAIN_NUMBERS and not isinstance(v, numbers.Number):
            raise _element_error(elements, v, f"which is not a number for dtype={dtype}")
    try:
        stored = torch.tensor(values, dtype=dtype)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        for v in values:  # name the value torch refused
            try:
                torch.tensor([v], dtype=dtype)
            except (TypeError, ValueError, RuntimeError, OverflowError) as e:
                raise _element_error(
                    elements, v, f"which dtype={dtype} cannot hold ({e})"
                ) from None
        raise
    exact = not (dtype.is_floating_point or dtype.is_complex)
    for v, s in zip(values, stored.tolist(), strict=True):
        if v != s and (exact or (cmath.isfinite(v) and not cmath.isfinite(s))):
            raise _element_error(elements, v, f"which dtype={dtype} stores as {s!r}")
    return stored


def _draw_tensor(
    draw: st.DrawFn,
    shape: Shape | st.SearchStrategy[Shape],
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
    default: bool,
) -> torch.Tensor:
    """Draw one tensor: its shape and layout if they are strategies, which
    dims an expanded layout repeats, then its values (see :func:`tensors`).
    ``default``: ``elements`` is :func:`default_elements` (told apart when the
    strategy is built: a composite's strategy arguments arrive unwrapped)."""
    shape_ = (
        check_shape(draw(shape, label="shape"), "shape")
        if isinstance(shape, st.SearchStrategy)
        else shape
    )
    if isinstance(layout, st.SearchStrategy):
        layout_ = draw(layout, label="layout")
        check_choices(layout_, "layout", LAYOUTS)
    else:
        layout_ = layout  # checked when the strategy was built
    # Which dims an expanded layout repeats (drawn for every layout, so the
    # draw sequence does not depend on the layout).
    expanded = tuple([draw(_BOOLEANS) for _ in shape_])
    storage_shape = _storage_shape(shape_, layout_, expanded)
    n = math.prod(storage_shape)
    if default and n > SEEDED_FILL_MIN_NUMEL:
        seed = draw(_SEEDS, label="seed")
        storage = _seeded_values(seed, n, dtype).reshape(storage_shape)
    elif default and (dtype.is_floating_point or dtype.is_complex):
        storage = _draw_default_floats(draw, n, dtype).reshape(storage_shape)
    else:
        # One draw per element (not st.lists, whose per-element bookkeeping
        # costs as much again): each value shrinks on its own.
        values = [draw(elements) for _ in range(n)]
        if default:
            storage = torch.tensor(values, dtype=dtype)
        else:
            storage = _stored_as_drawn(values, dtype, elements)
        storage = storage.reshape(storage_shape)
    if device != "cpu":
        storage = storage.to(device)
    out = _view(storage, shape_, layout_)
    if requires_grad:
        # detach() keeps the strides and makes the view a leaf that gets .grad.
        out = out.detach().requires_grad_(True)
    return out


@st.composite
def _tensor_draws(
    draw: st.DrawFn,
    shape: Shape | st.SearchStrategy[Shape],
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
    default: bool,
) -> torch.Tensor:
    return _draw_tensor(draw, shape, dtype, device, elements, requires_grad, layout, default)


def _tensors(
    shape: Shape | st.SearchStrategy[Shape],
    dtype: torch.dtype,
    device: str,
    elements: st.SearchStrategy,
    requires_grad: bool,
    layout: str | st.SearchStrategy[str],
) -> st.SearchStrategy[torch.Tensor]:
    """The strategy behind :func:`tensors`, for arguments already checked."""
    default = elements is _default_elements(dtype)
    return _tensor_draws(shape, dtype, device, elements, requires_grad, layout, default)


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
    so that arithmetic does not overflow). With the default elements, a
    tensor whose storage holds more than :data:`SEEDED_FILL_MIN_NUMEL` values
    draws one seed instead and is filled by :func:`seeded_values` (same
    range, edge values mixed in): fast, but its values shrink only as a
    whole, to zeros; a strategy of your own is always drawn value by value,
    and each value must be a number that ``dtype`` holds as drawn, as in
    Hypothesis' ``arrays``: floats may round, but not overflow to infinity;
    integers and bools must be exact (-5 as uint8, 2 as bool or 0.5 as int64
    raise ``InvalidArgument``).
    ``layout`` is one of :data:`LAYOUTS` or a strategy of them (e.g.
    :func:`layouts`): the layout sets the strides (and an expanded dim
    repeats its values). With ``requires_grad=True`` the tensor is a leaf,
    so ``.grad`` is filled by ``backward()``. Values shrink toward 0 (and
    shapes, when drawn, toward small ones), layouts toward contiguous.

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
    default: bool,
) -> BroadcastablePair:
    (x_shape, y_shape), result = draw(shapes_, label="shapes")
    args = (dtype, device, elements, requires_grad, layout, default)
    x = draw(_tensor_draws(x_shape, *args), label="x")
    y = draw(_tensor_draws(y_shape, *args), label="y")
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
    elements_ = _default_if_none(elements, dt)
    default = elements_ is default_elements(dt)
    return _pairs(shapes_, dt, dev, elements_, requires_grad, layout, default)
