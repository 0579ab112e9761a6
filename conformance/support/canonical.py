"""Canonical cases first: the first example of a check is one that catches the obvious faults.

Hypothesis always runs the *simplest* example first, every choice at its
minimum, and ends shrinking there (``generate_new_test_cases`` in
hypothesis/internal/conjecture/engine.py tries the "simplest" choice
sequence before any random one). For the kit's public strategies that is
the degenerate case -- zero features, an empty batch, all-zero values --
which is right for a strategy but a poor first probe of a layer: a Linear
that drops its bias, or a dropout that forgets to scale, passes on it. With
a handful of examples (``max_examples=5`` in a quick ``check_*`` call) the
random ones may never reach the case that shows the fault.

``@example`` cannot supply ``st.data()`` draws, so the checks get the same
effect through their strategies: :func:`canonical_first` puts a canonical
value -- nonzero bias, a square weight, one batch dim, distinct nonzero
inputs -- where the simplest value was. It is what the first example draws
and where a failure shrinks to when it fails there too (a readable
reproduction); random examples draw it about one time in twelve and the
original strategy otherwise, so coverage is not traded away.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from hypothesis import strategies as st

T = TypeVar("T")

# Whether to draw from the general strategy: yes unless two small integers are
# both zero. Zero is what Hypothesis draws first and shrinks to, and also what
# it favours in random draws (a quarter of them for one integer, with another
# draw after it); both zero came up in 8% of 1000 derandomized examples.
_GENERAL = st.tuples(st.integers(0, 7), st.integers(0, 7)).map(any)


def canonical_first(
    canonical: st.SearchStrategy[T], general: st.SearchStrategy[T]
) -> st.SearchStrategy[T]:
    """``general``, with ``canonical``'s values as its simplest: drawn first, shrunk toward."""
    return _GENERAL.flatmap(lambda g: general if g else canonical)


def cloned(values: Sequence[T]) -> st.SearchStrategy[T]:
    """One of ``values`` (the first is the simplest), tensors in it cloned on every draw:
    a layer may write into its input (``inplace=True``) or the check may set
    ``requires_grad``, and the next example must see the value unchanged."""
    return st.sampled_from(list(values)).map(_clone)


def _clone(value: T) -> T:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)  # type: ignore[return-value]
    return value


def nonzero_first(
    general: st.SearchStrategy[torch.Tensor],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device | str,
) -> st.SearchStrategy[torch.Tensor]:
    """``general`` (tensors of ``shape``), with :func:`distinct_values` first instead
    of zeros: a gradient or a table of zeros hides whatever it is multiplied by."""
    return canonical_first(_distinct(shape, dtype, str(device)), general)


@functools.lru_cache(maxsize=256)  # asked on every example: build each tensor once
def _distinct(shape: tuple[int, ...], dtype: torch.dtype, device: str) -> st.SearchStrategy[Any]:
    return cloned([distinct_values(shape, dtype, device)])


def distinct_values(
    shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str
) -> torch.Tensor:
    """``1, -2, 3, -4, 5, -6, 1, -2, ...`` in ``shape``: nonzero, of both signs,
    distinct within each run of six, and exact in every floating dtype (bfloat16
    included), so a transposition, a dropped term or a wrong scale changes the
    result by at least one unit."""
    n = 1
    for side in shape:
        n *= side
    magnitude = torch.arange(n, dtype=torch.float64) % 6 + 1
    sign = 1 - 2 * (torch.arange(n) % 2)
    return (magnitude * sign).reshape(shape).to(dtype=dtype, device=device)
