"""The dropout rules, in NumPy float64: what a layer outputs for a given mask.

Sources, read on torch 2.13.0: torch/nn/modules/dropout.py (each layer's
``forward`` calls its functional form), torch/nn/functional.py (argument
checks, rank handling) and aten/src/ATen/native/Dropout.cpp
(``_dropout_impl``, the arithmetic), with the papers they cite:

* Dropout (Hinton et al. 2012, arXiv:1207.0580), "inverted" as PyTorch
  does it: a kept element is scaled by ``1/(1-p)``, a dropped one is ``0``,
  so the expectation is the input and evaluation is the identity.
* Channel dropout (Tompson et al. 2015, arXiv:1411.4280): one Bernoulli draw
  per ``(sample, channel)``, shared by every element of the channel.
* Alpha dropout (Klambauer et al. 2017, arXiv:1706.02515, section "New
  Dropout Technique"): a dropped element takes SELU's negative saturation
  value ``-alpha``, then an affine map ``a * y + b`` restores mean 0 and
  variance 1 for standard-normal input.

``_dropout_impl`` short-cuts two values of ``p`` before any of that:
``p == 0`` returns the input and ``p == 1`` multiplies it by ``0`` (zeros
for finite input, NaN for inf/NaN) -- for the alpha kinds too, whose affine
map is undefined at ``p == 1``.

A mask here is a boolean array, True where the element is kept.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "ALPHA",
    "FEATURE_RANK_ERROR",
    "AlphaAffine",
    "Expected",
    "MaskGuess",
    "RankRule",
    "alpha_affine",
    "alpha_fourth_moment",
    "channel_dim",
    "expected_grad",
    "expected_output",
    "infer_mask",
    "mask_agreement",
    "mixed_channel",
    "rank_rule",
]

# SELU's constants (Klambauer et al. 2017, eq. 2; torch.nn.SELU's docs).
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
#: ``-ALPHA`` is SELU's negative saturation value, ``-scale * alpha``: where
#: alpha dropout sends a dropped element. ATen spells it out as the literal
#: ``alpha = 1.7580993408473766`` (Dropout.cpp), equal to this product in
#: float64 to the last bit.
ALPHA = SELU_SCALE * SELU_ALPHA


class AlphaAffine(NamedTuple):
    """Alpha dropout at rate ``p``: kept ``x -> a * x + kept_shift``, dropped ``-> dropped``."""

    a: float
    kept_shift: float
    dropped: float


def alpha_affine(p: float) -> AlphaAffine:
    """The affine map of alpha dropout, ``0 <= p < 1``.

    With keep rate ``q = 1 - p`` and ``alpha' = -ALPHA``, the paper's
    ``a = (q + alpha'**2 q (1 - q))**-1/2`` and ``b = -a (1 - q) alpha'``
    give: kept ``a*x + b = a*x + ALPHA*a*p``; dropped
    ``a*alpha' + b = -ALPHA*a*(1-p)``. ATen computes the same:
    ``a = 1/sqrt((alpha**2 p + 1)(1 - p))``, ``b = (noise - 1) * alpha*a
    + alpha*a*p``, ``out = x * (noise * a) + b``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p={p!r}: the alpha-dropout map is defined for 0 <= p < 1")
    a = 1.0 / math.sqrt((ALPHA**2 * p + 1.0) * (1.0 - p))
    return AlphaAffine(a=a, kept_shift=ALPHA * a * p, dropped=-ALPHA * a * (1.0 - p))


class Expected(NamedTuple):
    """An expected result and, per element, the magnitude its rounding scales with."""

    value: np.ndarray
    scale: np.ndarray


def expected_output(x: np.ndarray, kept: np.ndarray, p: float, *, alpha: bool) -> Expected:
    """What dropout at rate ``p`` outputs for input ``x`` and the mask ``kept``.

    ``p == 0``: ``x``; ``p == 1``: ``x * 0``. Otherwise plain dropout gives
    ``x / (1-p)`` where kept and ``x * 0`` where dropped; alpha dropout
    ``a*x + ALPHA*a*p`` where kept and ``x * 0 - ALPHA*a*(1-p)`` where dropped
    (:func:`alpha_affine`). ``scale`` is the size of the terms summed, which
    bounds the rounding error of a low-precision computation.
    """
    x = np.asarray(x, dtype=np.float64)
    kept = np.broadcast_to(kept, x.shape)
    if p == 0.0:
        return Expected(x.copy(), np.abs(x))
    if p == 1.0:
        return Expected(x * 0.0, np.zeros_like(x))
    if not alpha:
        value = np.where(kept, x / (1.0 - p), x * 0.0)
        return Expected(value, np.abs(value))
    m = alpha_affine(p)
    value = x * (kept * m.a) + np.where(kept, m.kept_shift, m.dropped)
    scale = np.abs(x) * m.a + ALPHA * m.a
    return Expected(value, scale)


def expected_grad(grad_out: np.ndarray, kept: np.ndarray, p: float, *, alpha: bool) -> Expected:
    """``d out / d x`` applied to ``grad_out``: ``grad_out * mask * s`` with
    ``s = 1/(1-p)`` (plain) or ``a`` (alpha); ``grad_out`` at ``p == 0`` and
    zeros at ``p == 1``. The output is ``x * noise (+ b)`` with ``noise``
    independent of ``x``, so its derivative is ``noise`` (Dropout.cpp)."""
    g = np.asarray(grad_out, dtype=np.float64)
    if p == 0.0:
        return Expected(g.copy(), np.abs(g))
    if p == 1.0:
        return Expected(np.zeros_like(g), np.zeros_like(g))
    s = alpha_affine(p).a if alpha else 1.0 / (1.0 - p)
    value = g * (np.broadcast_to(kept, g.shape) * s)
    return Expected(value, np.abs(g) * s)


class MaskGuess(NamedTuple):
    """The mask read off an output: ``kept``, and where that reading is certain."""

    kept: np.ndarray
    known: np.ndarray


def infer_mask(
    x: np.ndarray, out: np.ndarray, p: float, tolerance: np.ndarray, *, alpha: bool
) -> MaskGuess:
    """Which elements were kept, judged by which of the two possible outputs
    (:func:`expected_output` with the element kept, and dropped) ``out`` lies
    nearer. ``known`` is False where the two lie within ``2 * tolerance`` of
    each other (plain dropout of ``x == 0``; alpha dropout of ``x`` near
    ``-ALPHA``): either reading fits there. ``0 < p < 1``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if_kept = expected_output(x, np.ones(x.shape, bool), p, alpha=alpha).value
    if_dropped = expected_output(x, np.zeros(x.shape, bool), p, alpha=alpha).value
    with np.errstate(invalid="ignore"):
        kept = np.abs(out - if_kept) <= np.abs(out - if_dropped)
        known = np.abs(if_kept - if_dropped) > 2 * np.asarray(tolerance)
    return MaskGuess(kept, known)


def channel_dim(kind: str, ndim: int) -> int | None:
    """The dim of an ``ndim``-D input whose entries share one Bernoulli draw.

    Every dim before it is a batch dim, every dim after it lies within the
    channel. None for elementwise dropout. From torch/nn/functional.py:

    * ``dropout1d``: ``(C, L)`` is unsqueezed to ``(1, C, L)``: dim 0;
      ``(N, C, L)``: dim 1. Other ranks raise (see :func:`rank_rule`).
    * ``dropout2d``: the input as it is, so dim 1 for every rank (a 3-D
      input is read as ``(N, C, L)``, with a warning; pytorch#77081).
    * ``dropout3d``: a 5-D input as it is (dim 1); any other rank is
      unsqueezed at dim 0 first, so its dim 0 holds the channels.
    * ``feature_alpha_dropout``: ``(N, C, *)``: dim 1.

    ATen's ``make_feature_noise`` draws noise of shape ``(N, C, 1, ..., 1)``.
    """
    if kind in ("Dropout", "AlphaDropout"):
        return None
    if kind == "Dropout1d":
        return 0 if ndim == 2 else 1
    if kind == "Dropout3d":
        return 1 if ndim == 5 else 0
    if kind in ("Dropout2d", "FeatureAlphaDropout"):
        return 1
    raise ValueError(f"no dropout rule for kind={kind!r}")


def mixed_channel(guess: MaskGuess, dim: int) -> tuple[int, ...] | None:
    """The index of a channel (over dims ``0..dim``) holding an element known to
    be kept and another known to be dropped; None when every channel is
    all-kept or all-dropped as far as can be told."""
    lead, within = guess.kept.shape[: dim + 1], guess.kept.shape[dim + 1 :]
    kept = guess.kept.reshape(math.prod(lead), math.prod(within))  # not -1: sizes may be 0
    known = guess.known.reshape(kept.shape)
    mixed = (kept & known).any(axis=1) & (~kept & known).any(axis=1)
    if not mixed.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mixed)), lead))


def mask_agreement(p: float) -> float:
    """The probability that two independent units, each dropped with probability
    ``p``, are both kept or both dropped: ``p**2 + (1-p)**2``. It is 1 only at
    ``p = 0`` or ``1``, and at least 1/2; a mask reused for two units agrees
    with probability 1.

    >>> mask_agreement(0.5)
    0.5
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p!r} must lie in [0, 1]")
    return p * p + (1.0 - p) * (1.0 - p)


def alpha_fourth_moment(p: float) -> float:
    """``E[Y**4]`` for alpha dropout's output ``Y`` on standard-normal input, ``0 <= p < 1``.

    ``Y = a (X + ALPHA p)`` with probability ``1 - p``, else
    ``-ALPHA a (1-p)``. With ``mu = ALPHA p`` and ``E[X**2] = 1``,
    ``E[X**4] = 3``: ``E[(X + mu)**4] = 3 + 6 mu**2 + mu**4``. (``E[Y] = 0``
    and ``E[Y**2] = 1`` by construction; the variance of ``Y**2`` is this
    minus 1.)
    """
    m = alpha_affine(p)
    mu = ALPHA * p
    kept = m.a**4 * (3.0 + 6.0 * mu**2 + mu**4)
    return (1.0 - p) * kept + p * m.dropped**4


class RankRule(NamedTuple):
    """What a dropout layer does with an input of some rank: the warnings it
    gives (each identified by the start of its message), then the error it
    raises, if any (``(type, start of message)``)."""

    warnings: tuple[str, ...]
    error: tuple[type[Exception], str] | None


FEATURE_RANK_ERROR = "Feature dropout requires at least 2 dimensions in the input"


def rank_rule(kind: str, ndim: int, *, draws: bool) -> RankRule:
    """Warnings and errors for an ``ndim``-D input, from torch/nn/functional.py.

    ``draws``: the call gets as far as drawing a mask (training, ``0 < p <
    1``, a non-empty input); only then does ATen's ``make_feature_noise``
    insist on 2 dims. The checks in functional.py run in every mode:

    * ``dropout1d``: a rank other than 2 or 3 raises ``RuntimeError``.
    * ``dropout2d``: a rank other than 3 or 4 warns that it is deprecated; a
      3-D input warns that it is read as ``(N, C, L)``.
    * ``dropout3d``: a rank other than 4 or 5 warns that it is deprecated.
    """
    warned: tuple[str, ...] = ()
    # The rank the feature noise sees: dropout1d/3d unsqueeze unbatched input.
    noise_ndim = ndim
    if kind == "Dropout1d":
        if ndim not in (2, 3):
            message = f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input"
            return RankRule((), (RuntimeError, message))
        noise_ndim = 3
    elif kind == "Dropout2d":
        if ndim not in (3, 4):
            warned += (f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated",)
        if ndim == 3:
            warned += (
                "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                "1D dropout behavior is desired",
            )
    elif kind == "Dropout3d":
        if ndim not in (4, 5):
            warned += (f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated",)
        noise_ndim = ndim if ndim == 5 else ndim + 1
    elif kind in ("Dropout", "AlphaDropout"):
        return RankRule((), None)
    elif kind != "FeatureAlphaDropout":
        raise ValueError(f"no dropout rule for kind={kind!r}")
    error = (RuntimeError, FEATURE_RANK_ERROR) if draws and noise_ndim < 2 else None
    return RankRule(warned, error)
