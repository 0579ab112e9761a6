"""``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` written out in NumPy float64.

The rules, with where they are stated (torch 2.13.0):

* ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` per channel (dim 1),
  the statistics taken over every other dim: ``(N,)`` or ``(N, L)`` for
  BatchNorm1d, ``(N, H, W)`` for BatchNorm2d (``torch.nn.BatchNorm2d`` docs).
* In training the variance that normalises is the *biased* one ("equivalent to
  ``torch.var(input, correction=0)``"), the one stored in the running average
  is the *unbiased* one ("``torch.var(input, correction=1)``") (same docs).
* ``running = (1 - momentum) * running + momentum * batch_statistic`` (the
  docs' note on momentum); ``momentum=None`` makes it a cumulative moving
  average, "i.e. simple average": the factor is ``1 / num_batches_tracked``
  after the count is incremented (``_BatchNorm.forward`` in
  torch/nn/modules/batchnorm.py). Only training calls with
  ``track_running_stats=True`` update them, and each adds 1 to
  ``num_batches_tracked``.
* Batch statistics normalise in training, and in eval when the layer has no
  running buffers (``track_running_stats=False``); otherwise eval normalises
  with ``running_mean`` / ``running_var`` (``bn_training`` in
  ``_BatchNorm.forward``).
* A call that normalises with batch statistics needs more than one value per
  channel: ``ValueError("Expected more than 1 value per channel when
  training, got input size ...")`` (``F.batch_norm``, ``_verify_batch_size``
  in torch/nn/functional.py).

Error bounds. Each value comes with the largest error a correct computation
in a dtype with unit roundoff ``u`` may make (:func:`output_bound`,
:func:`running_update_bound`, :func:`gradient_bounds`). The model: the mean
of a channel's ``n`` values is a sum of ``n`` terms and a division, so it errs
by ``e_m <= (n + 4) u mean|x|``; a stable variance (two-pass, or Welford's
update) of the values centred on the computed mean errs by
``e_v <= e_m**2 + 2 e_m sqrt(v) + (n + 4) u (v + e_m**2)`` (the ``e_m**2``
is exact algebra: ``sum((x - m')**2) / n = v + (m - m')**2``); the
reciprocal ``1 / sqrt(v + eps)`` then has relative error ``rho`` (derived in
:func:`_inverse_std_error` from ``e_v``, with ``sqrt(v + eps)`` at least
``sqrt(eps)``); centring ``x - m`` (or the fused ``x * a + (b - m * a)``)
adds ``3u (|x| + |m|)``. Dividing by ``sqrt(v + eps)`` amplifies the
centring error by up to ``1 / sqrt(eps)`` (about 316 at the default eps):
where a channel is nearly constant the bound is correspondingly wide, and
where it has spread the bound is a few ``n u`` relative. Running statistics
(eval) have ``e_m = e_v = 0``. Nothing here assumes a summation order, so a
re-implementation that sums naively in the dtype is held to the same bound
as torch's kernels, which accumulate in double on the CPU.

Everything here is NumPy float64 on values read out of the module; nothing
calls the code under test.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "Gradients",
    "Statistics",
    "batch_statistics",
    "gradient_bounds",
    "gradients",
    "normalise",
    "output_bound",
    "running_update",
    "running_update_bound",
    "statistic_errors",
    "update_factor",
    "uses_batch_statistics",
]


class Statistics(NamedTuple):
    """A batch's per-channel statistics, each of shape ``(C,)``.

    ``n`` is the number of values per channel (``N * prod(spatial)``);
    ``unbiased_var`` is ``var * n / (n - 1)`` (NaN for ``n <= 1``);
    ``abs_mean`` is ``mean(|x|)``, what the rounding of the mean scales with.
    """

    mean: np.ndarray
    var: np.ndarray
    unbiased_var: np.ndarray
    n: int
    abs_mean: np.ndarray


class Gradients(NamedTuple):
    """Gradients of ``sum(grad_out * y)`` with respect to the input, weight and bias."""

    input: np.ndarray
    weight: np.ndarray
    bias: np.ndarray


def _axes(ndim: int) -> tuple[int, ...]:
    """Every dim but the channel dim (1)."""
    return (0, *range(2, ndim))


def _per_channel(a: np.ndarray, ndim: int) -> np.ndarray:
    """A ``(C,)`` array shaped to broadcast against an input of rank ``ndim``."""
    return np.asarray(a, dtype=np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def _count(x: np.ndarray) -> int:
    return math.prod(x.shape[i] for i in _axes(x.ndim))


def batch_statistics(x: np.ndarray) -> Statistics:
    """Mean, biased and unbiased variance of each channel (dim 1) over the other dims."""
    n = _count(x)
    channels = x.shape[1]
    if n == 0:
        nan = np.full(channels, np.nan)
        return Statistics(nan, nan, nan, 0, np.zeros(channels))
    axes = _axes(x.ndim)
    mean = x.mean(axis=axes)
    # Two-pass in float64: exact enough to be the reference (no cancellation).
    var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
    unbiased = var * n / (n - 1) if n > 1 else np.full(channels, np.nan)
    return Statistics(mean, var, unbiased, n, np.abs(x).mean(axis=axes))


def uses_batch_statistics(training: bool, track_running_stats: bool) -> bool:
    """Training normalises with the batch's statistics, and so does eval without
    running buffers (``bn_training`` in ``_BatchNorm.forward``)."""
    return training or not track_running_stats


def normalise(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps) * weight + bias``, per channel (dim 1)."""
    y = (x - _per_channel(mean, x.ndim)) / np.sqrt(_per_channel(var, x.ndim) + eps)
    if weight is not None:
        y = y * _per_channel(weight, x.ndim)
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)
    return y


def update_factor(momentum: float | None, num_batches_tracked: int) -> float:
    """The weight of the new batch in the running average: ``momentum``, or
    ``1 / num_batches_tracked`` (the count after this batch) when it is None."""
    if momentum is None:
        return 1.0 / num_batches_tracked
    return float(momentum)


def running_update(running: np.ndarray, statistic: np.ndarray, factor: float) -> np.ndarray:
    """``(1 - factor) * running + factor * statistic``."""
    return (1.0 - factor) * running + factor * statistic


# --- error bounds -----------------------------------------------------------------


class _StatErrors(NamedTuple):
    """Per channel, shaped to broadcast against the input."""

    mean_error: np.ndarray  # e_m: |computed mean - mean|
    var_error: np.ndarray  # e_v: |computed var - var|
    std: np.ndarray  # s = sqrt(var + eps)
    rho: np.ndarray  # relative error of the computed 1 / s


def _stat_errors(
    mean: np.ndarray,
    var: np.ndarray,
    abs_mean: np.ndarray,
    n: int,
    eps: float,
    u: float,
    batch: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(e_m, e_v) for statistics computed from ``n`` values; zero for stored ones."""
    if not batch:
        return np.zeros_like(var), np.zeros_like(var)
    k = (n + 4) * u
    e_m = k * abs_mean
    e_v = e_m**2 + 2 * e_m * np.sqrt(var) + k * (var + e_m**2)
    return e_m, e_v


def _inverse_std_error(var: np.ndarray, e_v: np.ndarray, eps: float, u: float) -> np.ndarray:
    """Relative error ``rho`` of a computed ``1 / sqrt(v' + eps)`` against ``1 / sqrt(v + eps)``
    for a computed variance ``v'`` within ``e_v`` of ``v`` (and never negative).

    ``t' = fl(v' + eps)`` lies within ``dt = e_v + u (v + eps + e_v)`` of
    ``t = v + eps`` and above ``eps (1 - u)``; ``|sqrt(t') - sqrt(t)| <=
    dt / (sqrt(t_low) + sqrt(t))``, plus ``u sqrt(t + dt)`` for rounding the
    square root; dividing and rounding the reciprocal gives
    ``rho = |s' - s| / s_low * (1 + u) + u``.
    """
    t = var + eps
    dt = e_v + u * (t + e_v)
    t_low = np.maximum(t - dt, eps * (1 - u))
    s, root_low = np.sqrt(t), np.sqrt(t_low)
    ds = dt / (root_low + s) + u * np.sqrt(t + dt)
    s_low = root_low * (1 - u)
    rho: np.ndarray = ds / s_low * (1 + u) + u
    return rho


def _errors(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    u: float,
    batch: bool,
) -> _StatErrors:
    stats = batch_statistics(x)
    e_m, e_v = _stat_errors(mean, var, stats.abs_mean, stats.n, eps, u, batch)
    rho = _inverse_std_error(var, e_v, eps, u)
    nd = x.ndim
    return _StatErrors(
        _per_channel(e_m, nd),
        _per_channel(e_v, nd),
        _per_channel(np.sqrt(var + eps), nd),
        _per_channel(rho, nd),
    )


def _normalised_error(x: np.ndarray, mean: np.ndarray, err: _StatErrors, u: float) -> np.ndarray:
    """Bound on ``|computed (x - m) / s - (x - m) / s|`` per element (``xi``)."""
    m = _per_channel(mean, x.ndim)
    centring = err.mean_error + 3 * u * (np.abs(x) + np.abs(m) + err.mean_error)
    bound: np.ndarray = (1 + err.rho) * centring / err.std + np.abs(x - m) / err.std * err.rho
    return bound


def output_bound(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    u: float,
    *,
    batch: bool,
    tiny: float = 0.0,
) -> np.ndarray:
    """Largest ``|computed - exact|`` of each element of :func:`normalise` in a dtype
    with unit roundoff ``u``.

    ``batch``: the statistics are the batch's own, computed from ``x`` (their
    errors count); otherwise they are stored values (running statistics), exact
    inputs to the computation. ``tiny``: the dtype's smallest normal number, the
    absolute error of a product that underflows (:func:`_underflow`).
    """
    nd = x.ndim
    err = _errors(x, mean, var, eps, u, batch)
    w = np.abs(_per_channel(weight, nd)) if weight is not None else np.ones_like(err.std)
    b = np.abs(_per_channel(bias, nd)) if bias is not None else np.zeros_like(err.std)
    xhat = np.abs(x - _per_channel(mean, nd)) / err.std
    xi = _normalised_error(x, mean, err, u)
    # Then times the weight and plus the bias: two more roundings.
    bound: np.ndarray = w * xi + 3 * u * (b + w * (xhat + xi)) + _underflow(x, w, err, tiny)
    return bound


def _underflow(x: np.ndarray, w: np.ndarray, err: _StatErrors, tiny: float) -> np.ndarray:
    """What underflow may cost on top of the roundings: each of a channel's ``n + 8``
    operations may lose up to ``tiny`` where a result falls below the normal range,
    and the division by ``s`` and the weight carry it on (the relative bounds above
    hold only for normal numbers)."""
    n = _count(x)
    floor: np.ndarray = (n + 8) * tiny * (1 + (1 + w) / err.std) * np.ones_like(x)
    return floor


def running_update_bound(
    running: np.ndarray,
    statistic: np.ndarray,
    statistic_error: np.ndarray,
    factor: float,
    u: float,
    tiny: float = 0.0,
) -> np.ndarray:
    """Largest error of a computed :func:`running_update`: the statistic's own
    error scaled by ``factor``, three roundings of the blend and one of the store
    (each losing up to ``tiny`` where it underflows), and the rounding of the
    factor itself to the dtype: ``1 - fl(factor)`` errs by up to ``u * factor``,
    a large relative error when ``factor`` is near 1."""
    blend = (1 - factor) * np.abs(running) + factor * (np.abs(statistic) + statistic_error)
    weights = 2 * u * factor * (np.abs(running) + np.abs(statistic))
    bound: np.ndarray = factor * statistic_error + 5 * u * blend + weights + 5 * tiny
    return bound


def statistic_errors(x: np.ndarray, eps: float, u: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the computed batch mean and *unbiased* variance of each channel,
    the statistics a training call blends into the running ones."""
    stats = batch_statistics(x)
    n = stats.n
    e_m, e_v = _stat_errors(stats.mean, stats.var, stats.abs_mean, n, eps, u, True)
    scale = n / (n - 1) if n > 1 else math.inf
    return e_m, e_v * scale + 2 * u * np.abs(stats.unbiased_var)


def gradients(
    x: np.ndarray,
    grad_out: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    weight: np.ndarray | None,
    *,
    batch: bool,
) -> Gradients:
    """Gradients of ``sum(grad_out * normalise(x, ...))``.

    With batch statistics (``batch=True``) the mean and variance depend on
    ``x``: ``dx = w / s * (g - mean(g) - xhat * mean(g * xhat))`` with
    ``xhat = (x - m) / s``, means over a channel's values. With running
    statistics they are constants: ``dx = g * w / s``. In both cases
    ``dw = sum(g * xhat)`` and ``db = sum(g)`` over a channel.
    """
    nd = x.ndim
    axes = _axes(nd)
    s = _per_channel(np.sqrt(var + eps), nd)
    w = _per_channel(weight, nd) if weight is not None else np.ones_like(s)
    xhat = (x - _per_channel(mean, nd)) / s
    g = grad_out
    if batch and _count(x) > 0:
        gbar = g.mean(axis=axes, keepdims=True)
        c = (g * xhat).mean(axis=axes, keepdims=True)
        dx = w / s * (g - gbar - xhat * c)
    else:
        dx = g * w / s
    return Gradients(dx, (g * xhat).sum(axis=axes), g.sum(axis=axes))


def gradient_bounds(
    x: np.ndarray,
    grad_out: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    weight: np.ndarray | None,
    u: float,
    *,
    batch: bool,
    tiny: float = 0.0,
) -> Gradients:
    """Largest errors of :func:`gradients` computed in a dtype with unit roundoff ``u``.

    Built from the bound ``xi`` on each computed ``xhat`` (as in
    :func:`output_bound`) and ``(n + 4) u`` for each sum over a channel's
    ``n`` values: ``|dw' - dw| <= sum(|g| xi) + (n + 4) u sum(|g| (|xhat| + xi))``,
    ``|db' - db| <= (n + 4) u sum(|g|)``, and for ``dx`` the errors of ``mean(g)``
    and ``mean(g * xhat)`` carried through ``g - mean(g) - xhat * mean(g * xhat)``
    and the factor ``w / s`` (relative error ``rho``).
    """
    nd = x.ndim
    axes = _axes(nd)
    n = _count(x)
    k = (n + 4) * u
    err = _errors(x, mean, var, eps, u, batch)
    w = np.abs(_per_channel(weight, nd)) if weight is not None else np.ones_like(err.std)
    xhat = (x - _per_channel(mean, nd)) / err.std
    xi = _normalised_error(x, mean, err, u)
    g = np.abs(grad_out)
    dw = (g * xi).sum(axis=axes) + k * (g * (np.abs(xhat) + xi)).sum(axis=axes)
    db = k * g.sum(axis=axes)
    if batch and n > 0:
        gbar = grad_out.mean(axis=axes, keepdims=True)
        c = (grad_out * xhat).mean(axis=axes, keepdims=True)
        e_gbar = k * g.mean(axis=axes, keepdims=True)
        e_c = (g * xi).mean(axis=axes, keepdims=True) + k * (g * (np.abs(xhat) + xi)).mean(
            axis=axes, keepdims=True
        )
        term = g + np.abs(gbar) + np.abs(xhat * c)
        e_term = (
            e_gbar
            + xi * np.abs(c)
            + (np.abs(xhat) + xi) * e_c
            + 3 * u * (g + np.abs(gbar) + (np.abs(xhat) + xi) * (np.abs(c) + e_c))
        )
    else:
        term, e_term = g, np.zeros_like(g)
    factor = w / err.std
    dx = factor * ((1 + err.rho) * e_term + err.rho * term) + 2 * u * factor * (1 + err.rho) * (
        term + e_term
    )
    floor = _underflow(x, w, err, tiny)
    per_channel = (floor * (1 + g)).sum(axis=axes) if n else np.zeros(x.shape[1])
    return Gradients(dx + floor * (1 + g.max(initial=0.0)), dw + per_channel, db + per_channel)
