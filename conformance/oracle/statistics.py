"""Distribution-free bounds for statistical checks, each with a stated false-positive rate.

A statistical check passes a correct implementation with probability at
least ``1 - alpha``, because its threshold comes from an inequality that
holds for every distribution of the kind at hand, never from a normal
approximation -- ``alpha`` is a guarantee, not an estimate:

* Hoeffding (1963): for ``n`` independent values in an interval of width
  ``r``, ``P(|mean - E[mean]| >= t) <= 2 exp(-2 n t**2 / r**2)``.
  A Bernoulli rate (dropout's drop rate; the rate at which two independent
  masks agree, ``p**2 + (1-p)**2``) is the case ``r = 1``.
* Dvoretzky-Kiefer-Wolfowitz with Massart's constant (1990): for ``n``
  independent draws with CDF ``F``, ``P(sup_t |F_n(t) - F(t)| > eps) <=
  2 exp(-2 n eps**2)``; the Kolmogorov-Smirnov distance of the sample is
  that ``sup``. (Massart's constant needs ``exp(-2 n eps**2) <= 1/2``, true
  for every ``alpha <= 1`` used here.)
* Median of means (Nemirovski & Yudin 1983): needs nothing but a variance,
  for unbounded values such as AlphaDropout's output on normal input, where
  Hoeffding does not apply and Chebyshev alone would need ``n`` near 1e16.

The budget: a *check* (one test, all its examples) fails a correct
implementation with probability at most :data:`CHECK_FALSE_POSITIVE_RATE`
(1e-6). Each example is one trial, so by the union bound each gets
:data:`FALSE_POSITIVE_RATE` = 1e-6 / :data:`EXAMPLES_PER_CHECK`; the default
``alpha`` of every bound below. Under ``conformance-ci`` the examples are
derandomized, so a check that passes once passes on every rerun.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CHECK_FALSE_POSITIVE_RATE",
    "EXAMPLES_PER_CHECK",
    "FALSE_POSITIVE_RATE",
    "MEDIAN_OF_MEANS_MISS_RATE",
    "binomial_rate_bound",
    "hoeffding_mean_bound",
    "ks_distance_uniform",
    "median_of_means",
    "median_of_means_blocks",
    "median_of_means_bound",
    "uniform_ks_bound",
]

#: Probability that one statistical check fails a correct implementation, over
#: all its examples.
CHECK_FALSE_POSITIVE_RATE = 1e-6

#: Examples one check may run within that budget: ten times the
#: ``conformance-thorough`` profile's 1000, for projects' own profiles.
EXAMPLES_PER_CHECK = 10_000

#: Probability that one example of a statistical check fails a correct
#: implementation (the union bound over :data:`EXAMPLES_PER_CHECK`).
FALSE_POSITIVE_RATE = CHECK_FALSE_POSITIVE_RATE / EXAMPLES_PER_CHECK

#: The chance ``eta`` that one block mean misses the true mean by the bound.
#: ``1/6`` maximises ``eta * (1/2 - eta)**2``, which gives the smallest bound
#: (see :func:`median_of_means_bound`).
MEDIAN_OF_MEANS_MISS_RATE = 1 / 6


def _check(n: int, alpha: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
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
    0.0344
    """
    if not value_range >= 0.0:
        raise ValueError(f"value_range={value_range!r} must be non-negative")
    return value_range * _two_sided_threshold(n, alpha)


def binomial_rate_bound(n: int, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``t`` with ``P(|k/n - p| >= t) <= alpha`` for ``k ~ Binomial(n, p)``, any ``p``.

    E.g. dropout keeps ``k`` of ``n`` elements: ``|k/n - (1 - p)| < t``.

    >>> round(binomial_rate_bound(10_000), 4)
    0.0344
    """
    return hoeffding_mean_bound(n, alpha, value_range=1.0)


def uniform_ks_bound(n: int, alpha: float = FALSE_POSITIVE_RATE) -> float:
    """``eps`` with ``P(KS distance > eps) <= alpha`` for ``n`` independent draws
    from the distribution compared against (DKW-Massart). Despite the name it
    holds for any continuous ``F``; :func:`ks_distance_uniform` is the usual use.

    >>> round(uniform_ks_bound(4096), 4)
    0.0538
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

    With ``eta = 1/6``: ``k = 105`` for the default ``alpha = 1e-10`` and
    ``t = sqrt(6 * variance / m)``, about ``sqrt(630 * variance / n)``.
    Infinite when there are fewer values than blocks.

    >>> round(median_of_means_bound(2**16, 1.0), 4)
    0.0981
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
