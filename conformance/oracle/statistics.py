"""Distribution-free bounds for statistical checks, each with a stated false-positive rate.

A statistical check passes a correct implementation with probability at
least ``1 - alpha``, whatever the distribution's finer details, because its
threshold comes from an inequality that holds for every distribution of the
kind, not from a normal approximation:

* Hoeffding (1963): for ``n`` independent values in an interval of width
  ``r``, ``P(|mean - E[mean]| >= t) <= 2 exp(-2 n t**2 / r**2)``.
  A Bernoulli rate (dropout's keep rate) is the case ``r = 1``.
* Dvoretzky-Kiefer-Wolfowitz with Massart's constant (1990): for ``n``
  independent draws with CDF ``F``, ``P(sup_t |F_n(t) - F(t)| > eps) <=
  2 exp(-2 n eps**2)``; the Kolmogorov-Smirnov distance of the sample is
  that ``sup``. (Massart's constant needs ``exp(-2 n eps**2) <= 1/2``, true
  for every ``alpha <= 1`` used here.)

Solving ``alpha = 2 exp(-2 n t**2)`` gives the threshold
``t = sqrt(ln(2 / alpha) / (2 n))`` shared by both.

Each check that uses these bounds is one example of a Hypothesis test, so a
run of ``m`` examples has a false-positive probability of at most ``m *
alpha`` (100 examples at the default rate: 1e-4 per test).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "FALSE_POSITIVE_RATE",
    "binomial_rate_bound",
    "hoeffding_mean_bound",
    "ks_distance_uniform",
    "uniform_ks_bound",
]

#: Probability that one statistical check fails a correct implementation.
FALSE_POSITIVE_RATE = 1e-6


def _check(n: int, alpha: float) -> None:
    if not (isinstance(n, int) and n >= 0):
        raise ValueError(f"n={n!r} must be a non-negative int")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1)")


def _two_sided_threshold(n: int, alpha: float) -> float:
    """``t`` solving ``alpha = 2 exp(-2 n t**2)``; infinite when there is no sample."""
    _check(n, alpha)
    if n == 0:
        return math.inf
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def hoeffding_mean_bound(
    n: int, alpha: float = FALSE_POSITIVE_RATE, *, value_range: float = 1.0
) -> float:
    """``t`` with ``P(|mean - E[mean]| >= t) <= alpha`` for ``n`` independent
    values lying in an interval of width ``value_range`` (Hoeffding).

    >>> round(hoeffding_mean_bound(10_000), 4)
    0.0269
    """
    if not value_range >= 0.0:
        raise ValueError(f"value_range={value_range!r} must be non-negative")
    return value_range * _two_sided_threshold(n, alpha)


def binomial_rate_bound(n: int, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``t`` with ``P(|k/n - p| >= t) <= alpha`` for ``k ~ Binomial(n, p)``, any ``p``.

    E.g. dropout keeps ``k`` of ``n`` elements: ``|k/n - (1 - p)| < t``.

    >>> round(binomial_rate_bound(10_000), 4)
    0.0269
    """
    return hoeffding_mean_bound(n, alpha, value_range=1.0)


def uniform_ks_bound(n: int, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``eps`` with ``P(KS distance > eps) <= alpha`` for ``n`` independent draws
    from the distribution compared against (DKW-Massart). Despite the name it
    holds for any continuous ``F``; :func:`ks_distance_uniform` is the usual use.

    >>> round(uniform_ks_bound(4096), 4)
    0.0421
    """
    return _two_sided_threshold(n, alpha)


def ks_distance_uniform(samples: np.ndarray, low: float, high: float) -> float:
    """``sup_t |F_n(t) - F(t)|`` between the samples' empirical CDF and U(low, high).

    0.0 for an empty sample (nothing to compare).

    >>> ks_distance_uniform(np.array([-0.5, 0.5]), -1.0, 1.0)
    0.25
    """
    if not low < high:
        raise ValueError(f"low={low!r} must be smaller than high={high!r}")
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        return 0.0
    cdf = np.clip((x - low) / (high - low), 0.0, 1.0)
    # The empirical CDF jumps at each sample: compare both sides of each step.
    above = np.arange(1, n + 1) / n - cdf
    below = cdf - np.arange(n) / n
    return float(max(above.max(), below.max()))
