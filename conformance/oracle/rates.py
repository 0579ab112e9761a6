"""Bounds for the dropout suite's statistical checks, each with its false-positive rate.

A statistical check passes a correct implementation with probability at
least ``1 - alpha``. Its threshold comes from an inequality that holds for
every distribution of the kind at hand, never from a normal approximation,
so ``alpha`` is a guarantee rather than an estimate. Each check is one
Hypothesis example: a run of ``m`` examples fails a correct implementation
with probability at most ``m * alpha`` (100 examples at the default rate:
1e-4 per test).

Two tools:

* :func:`rate_bound` -- Hoeffding's inequality for the kept (or dropped)
  fraction of ``n`` independent Bernoulli trials.
* :func:`median_of_means_bound` -- the median-of-means estimate of a mean,
  which needs nothing but the variance: AlphaDropout's output is unbounded
  (its input is normal), so Hoeffding does not apply, and Chebyshev alone
  would need ``n`` near 1e12 for a useful bound at ``alpha = 1e-6``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "FALSE_POSITIVE_RATE",
    "MEDIAN_OF_MEANS_MISS_RATE",
    "median_of_means",
    "median_of_means_blocks",
    "median_of_means_bound",
    "rate_bound",
]

#: Probability that one statistical check fails a correct implementation.
FALSE_POSITIVE_RATE = 1e-6

#: The chance ``eta`` that one block mean misses the true mean by the bound.
#: ``1/6`` maximises ``eta * (1/2 - eta)**2``, which gives the smallest bound
#: (see :func:`median_of_means_bound`).
MEDIAN_OF_MEANS_MISS_RATE = 1 / 6


def _check(n: int, alpha: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative int")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1)")


def rate_bound(n: int, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``t`` with ``P(|k/n - q| >= t) <= alpha`` for ``k ~ Binomial(n, q)``, any ``q``.

    Hoeffding (1963): for ``n`` independent values in ``[0, 1]``,
    ``P(|mean - E[mean]| >= t) <= 2 exp(-2 n t**2)``; solving
    ``alpha = 2 exp(-2 n t**2)`` gives ``t = sqrt(ln(2 / alpha) / (2 n))``.
    Dropout drops each of ``n`` independent units with probability ``p``, so
    the dropped fraction lies within ``t`` of ``p`` but with probability
    ``alpha``. Infinite for ``n = 0`` (nothing observed, nothing to check).

    >>> round(rate_bound(2**16), 4)
    0.0105
    """
    _check(n, alpha)
    if n == 0:
        return math.inf
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def median_of_means_blocks(alpha: float = FALSE_POSITIVE_RATE) -> int:
    """The number ``k`` of blocks for a median of means that errs with probability <= ``alpha``.

    The smallest odd ``k >= ln(1/alpha) / (2 (1/2 - eta)**2)`` (see
    :func:`median_of_means_bound`); odd, so the median is one block mean.

    >>> median_of_means_blocks(1e-6)
    63
    """
    _check(1, alpha)
    eta = MEDIAN_OF_MEANS_MISS_RATE
    k = math.ceil(math.log(1.0 / alpha) / (2.0 * (0.5 - eta) ** 2))
    return k if k % 2 else k + 1


def median_of_means_bound(n: int, variance: float, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``t`` with ``P(|median_of_means(v) - mu| >= t) <= alpha`` for ``n`` independent
    values ``v`` of mean ``mu`` and the given ``variance``, any distribution.

    Derivation (Nemirovski & Yudin 1983; Lugosi & Mendelson 2019, Thm 2).
    Split the values into ``k`` blocks of ``m = n // k`` (the rest unused)
    and let ``Z_j`` be the block means, independent with variance
    ``variance / m``.

    1. Chebyshev: ``P(|Z_j - mu| >= t) <= variance / (m t**2)``, which is
       ``eta`` for ``t = sqrt(variance / (m * eta))``.
    2. The median of the ``Z_j`` misses ``mu`` by ``t`` only if at least
       half of the blocks do. Their number ``B`` is a sum of ``k``
       independent indicators, each 1 with probability at most ``eta``, so by
       Hoeffding ``P(B >= k/2) <= exp(-2 k (1/2 - eta)**2)``, which is at most
       ``alpha`` for ``k`` from :func:`median_of_means_blocks`.

    With ``eta = 1/6``: ``k = 63`` for ``alpha = 1e-6`` and
    ``t = sqrt(6 * variance / m)``, about ``sqrt(378 * variance / n)``.
    Infinite when there are fewer values than blocks.

    >>> round(median_of_means_bound(2**16, 1.0), 4)
    0.076
    """
    _check(n, alpha)
    if not variance >= 0.0:
        raise ValueError(f"variance={variance!r} must be non-negative")
    m = n // median_of_means_blocks(alpha)
    if m == 0:
        return math.inf
    return math.sqrt(variance / (m * MEDIAN_OF_MEANS_MISS_RATE))


def median_of_means(values: np.ndarray, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """The median of the block means of ``values`` (flattened, in order), with
    the blocks of :func:`median_of_means_bound` for the same ``alpha``.

    >>> median_of_means(np.arange(126.0), alpha=1e-6)
    62.5
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    k = median_of_means_blocks(alpha)
    m = v.size // k
    if m == 0:
        raise ValueError(f"{v.size} values do not fill {k} blocks")
    return float(np.median(v[: k * m].reshape(k, m).mean(axis=1)))
