"""``nn.LayerNorm`` written out: the normalisation, its gradients, and honest error bounds.

Sources: the ``torch.nn.LayerNorm`` docs ("``y = (x - E[x]) / sqrt(Var[x] +
eps) * gamma + beta``; the mean and standard deviation are calculated over
the last D dimensions ... the variance is calculated via the biased
estimator, equivalent to ``torch.var(input, unbiased=False)``"; no running
statistics, the same in training and evaluation) and torch/nn/modules/
normalization.py (``forward`` is ``F.layer_norm(input, self.normalized_shape,
self.weight, self.bias, self.eps)``; ``weight`` starts at ones, ``bias`` at
zeros; ``bias=False`` registers None).

Everything is NumPy float64 on values read out of the module; nothing here
calls the code under test.

The error bound
---------------

A computed LayerNorm cannot be compared with a bound that merely scales
with ``|y|``: ``y`` divides by ``sqrt(var + eps)``, so the rounding of the
mean and the variance is *amplified* where the variance is small next to the
values (``x = 100 + small noise``) and ``eps`` is small. The bound below is a
first-principles forward error bound for an implementation that computes in
a precision with unit roundoff ``u`` (float16/bfloat16 computed in float32,
as PyTorch's CPU kernels do, is only more accurate). With ``N`` normalized
elements per row, ``g(k) = k u / (1 - k u)``, ``M1 = mean|x|``,
``V2 = mean(x^2)``, ``d = x - mean``, ``s = 1/sqrt(var + eps)``:

* mean: ``|e_mu| <= g(N+1) M1`` (any summation order, and the division);
* variance: ``|e_var| <= g(3N+8) V2 + u eps``. This covers the two-pass
  ``mean((x - mu)^2)``, Welford's updates (PyTorch's CPU and CUDA kernels)
  and even the one-pass ``E[x^2] - E[x]^2`` of a naive re-implementation,
  whose error is relative to ``V2 = var + mu^2``, not to ``var``; and the
  rounding of ``eps`` into the compute dtype;
* ``s`` lies between ``s_lo = (var + e_var + eps)^-1/2 (1 - g(4))`` and
  ``s_up = (max(var - e_var, 0) + eps)^-1/2 (1 + g(4))`` (the add, the
  square root and the division, or an ``rsqrt`` within a few ulp); the
  variance is clamped at 0 as PyTorch does, so ``s_up`` is at most about
  ``eps^-1/2`` however bad the variance: that is where the amplification
  ends. ``e_s = max(s_up - s, s - s_lo)``;
* the normalised value ``n = d s``, computed as ``(x - mu) s`` or as
  PyTorch's ``x s + (-mu s)``: ``|e_n| <= (e_mu + g(3)(|x| + |mu| +
  e_mu)) s_up + |d| e_s``;
* the affine map and the final rounding to the output dtype:
  ``|e_y| <= e_n |w| (1 + g(2)) + g(2) (|n||w| + |b|)``.

``e_s`` is not linear in ``u`` (the square root of a perturbed variance),
so the bound is evaluated for each unit roundoff in ``units`` (by default
those of bfloat16, float16, float32 and float64) and returned as one
``scale`` with ``terms=0``: ``scale = max_u e_y(u) / (2u)``.
:func:`conformance.tolerances.oracle_bound` turns it into
``g(2) * scale >= e_y(u)`` for the dtype it is asked about, plus the
float64 oracle's own rounding (the same analysis at ``u = 2^-53``). The
bound is therefore sound for every dtype in ``units``, and as tight as the
analysis for the coarsest of them where the error is linear in ``u``; it
asks that ``(3N + 8) u < 1/2`` for each unit (``N`` below 40 for bfloat16)
and raises ValueError otherwise rather than return a bound it cannot back.

Checked on torch 2.13.0 (CPU) over 8,000 random cases per dtype (one or
two normalized dims of 1 to 5, up to two batch dims, empty batches; values
uniform up to 100, integers, normals from 1e-4 to 100, constant rows, and
ill-conditioned rows ``c + noise`` with noise down to 1e-6; ``eps`` from 1e-6
to 100; with and without weight and bias): ``F.layer_norm``'s error never
exceeded 0.48 of the bound in float32, 0.44 in float16, 0.44 in bfloat16
and 0.30 in float64, and its gradients 0.21 (input), 0.18 (weight) and 0.39
(bias) in float32. On the same cases the unbiased variance, ``eps`` outside
the square root and normalising over the last dim only fell outside the
float32 bound in about half of them (the rest are cases where they coincide
with LayerNorm: one element, constant rows, empty batches, a size-1 dim).
``tests/test_faults_norms_embeddings.py`` plants them under the suite.

Gradients get the same treatment (:func:`layer_norm_grads`), with PyTorch's
backward ``dx = s (h - mean(h) - n mean(h n))``, ``h = g w``, computed either
so or as ``a h + b x + c`` (aten/src/ATen/native/cpu/layer_norm_kernel.cpp),
whose ``b x + c`` cancels where ``|mu| >> sqrt(var)``: the bound charges the
products of ``h`` with ``(|x| + |mu|) s`` rather than with ``|n|``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "UNIT_ROUNDOFFS",
    "Bounded",
    "LayerNormGrads",
    "layer_norm",
    "layer_norm_grads",
]

#: Unit roundoffs of bfloat16, float16, float32 and float64: the dtypes a
#: bound from this module holds for by default.
UNIT_ROUNDOFFS: tuple[float, ...] = (2.0**-8, 2.0**-11, 2.0**-24, 2.0**-53)


class Bounded(NamedTuple):
    """An exact value and what its rounding error scales with:
    ``oracle_bound(scale, terms, dtype)`` bounds ``|computed - value|``."""

    value: np.ndarray
    scale: np.ndarray
    terms: int


class LayerNormGrads(NamedTuple):
    """Gradients of ``sum(grad_out * layer_norm(x))``; None for an absent parameter."""

    input: Bounded
    weight: Bounded | None
    bias: Bounded | None


def _g(k: float, u: float) -> float:
    return k * u / (1 - k * u)


class _Rows(NamedTuple):
    """One row per normalised group: ``(B, N)`` arrays and their statistics."""

    x: np.ndarray
    w: np.ndarray  # (N,), ones without an affine weight
    b: np.ndarray  # (N,), zeros without a bias
    mu: np.ndarray  # (B, 1)
    d: np.ndarray
    s: np.ndarray  # (B, 1)
    n: np.ndarray
    m1: np.ndarray  # mean |x|, (B, 1)
    v2: np.ndarray  # mean x^2, (B, 1)
    var: np.ndarray
    eps: float


def _rows(
    x: np.ndarray,
    normalized_ndim: int,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
) -> _Rows:
    if not 1 <= normalized_ndim <= x.ndim:
        raise ValueError(f"normalized_ndim={normalized_ndim} must be between 1 and x.ndim={x.ndim}")
    norm_shape = x.shape[x.ndim - normalized_ndim :]
    n_elems = math.prod(norm_shape)
    batch = math.prod(x.shape[: x.ndim - normalized_ndim])
    xs = np.asarray(x, dtype=np.float64).reshape(batch, n_elems)
    w = np.ones(n_elems) if weight is None else np.asarray(weight, np.float64).reshape(n_elems)
    b = np.zeros(n_elems) if bias is None else np.asarray(bias, np.float64).reshape(n_elems)
    if n_elems == 0:
        empty = np.zeros((batch, 1))
        return _Rows(xs, w, b, empty, xs, empty, xs, empty, empty, empty, eps)
    mu = xs.mean(axis=1, keepdims=True)
    d = xs - mu
    var = (d * d).mean(axis=1, keepdims=True)  # biased: divides by N
    with np.errstate(divide="ignore"):
        s = 1.0 / np.sqrt(var + eps)
    with np.errstate(invalid="ignore"):
        n = d * s
    m1 = np.abs(xs).mean(axis=1, keepdims=True)
    v2 = (xs * xs).mean(axis=1, keepdims=True)
    return _Rows(xs, w, b, mu, d, s, n, m1, v2, var, eps)


class _Errors(NamedTuple):
    """Bounds of the computed intermediates in precision ``u`` (see the module docs)."""

    e_mu: np.ndarray
    s_up: np.ndarray
    e_s: np.ndarray
    e_n: np.ndarray


def _errors(r: _Rows, u: float) -> _Errors:
    n_elems = r.x.shape[1]
    if 3 * n_elems + 8 >= 0.5 / u:
        raise ValueError(
            f"{n_elems} normalized elements are too many for a rounding bound at unit "
            f"roundoff {u:g}: (3N + 8) u must stay below 1/2"
        )
    e_mu = _g(n_elems + 1, u) * r.m1
    e_var = _g(3 * n_elems + 8, u) * r.v2 + u * r.eps
    with np.errstate(divide="ignore"):
        s_up = (1 + _g(4, u)) / np.sqrt(np.maximum(r.var - e_var, 0.0) + r.eps)
        s_lo = (1 - _g(4, u)) / np.sqrt(r.var + e_var + r.eps)
    with np.errstate(invalid="ignore"):
        e_s = np.maximum(s_up - r.s, r.s - s_lo)
        e_n = (e_mu + _g(3, u) * (np.abs(r.x) + np.abs(r.mu) + e_mu)) * s_up + np.abs(r.d) * e_s
    return _Errors(e_mu, s_up, e_s, np.nan_to_num(e_n, nan=np.inf))


def _scale(errors_by_unit: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """``max_u err(u) / (2u)``: with ``terms=0``, ``oracle_bound``'s ``g(2) scale`` covers it."""
    return np.maximum.reduce([err / (2 * u) for u, err in errors_by_unit])


def layer_norm(
    x: np.ndarray,
    normalized_ndim: int,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
    *,
    units: Sequence[float] = UNIT_ROUNDOFFS,
) -> Bounded:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last
    ``normalized_ndim`` dims of ``x``, with the biased variance.

    ``weight``/``bias`` have the normalized shape, or are None (no affine
    weight: 1; no bias: 0). An empty normalized shape or batch gives an
    empty result. The bound (``scale``, ``terms=0``) holds for every unit
    roundoff in ``units``; see the module docs.

    >>> import numpy as np
    >>> ref = layer_norm(np.array([[1.0, 3.0]]), 1, None, None, 0.0)
    >>> ref.value.tolist()
    [[-1.0, 1.0]]
    """
    r = _rows(x, normalized_ndim, weight, bias, eps)
    with np.errstate(invalid="ignore"):
        y = r.n * r.w + r.b
    errs = []
    for u in units:
        e = _errors(r, u)
        with np.errstate(invalid="ignore"):
            err = e.e_n * np.abs(r.w) * (1 + _g(2, u)) + _g(2, u) * (
                np.abs(r.n) * np.abs(r.w) + np.abs(r.b)
            )
        errs.append((u, err))
    scale = _scale(errs) if r.x.size else np.zeros_like(r.x)
    return Bounded(y.reshape(x.shape), scale.reshape(x.shape), terms=0)


def layer_norm_grads(
    x: np.ndarray,
    normalized_ndim: int,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
    grad_out: np.ndarray,
    *,
    units: Sequence[float] = UNIT_ROUNDOFFS,
) -> LayerNormGrads:
    """Gradients of ``sum(grad_out * layer_norm(x, ...))`` with respect to x, weight, bias.

    With ``n = (x - mean) s``, ``s = 1/sqrt(var + eps)`` and ``h = grad_out * w``
    per row: ``dx = s (h - mean(h) - n mean(h n))``; ``dweight = sum_batch
    grad_out * n``; ``dbias = sum_batch grad_out`` (zeros for an empty
    batch). The derivation: ``dn/dx_j = s (e_j - 1/N - n n_j / N)`` because
    ``d mean/dx_j = 1/N`` and ``d var/dx_j = 2 d_j / N`` (the biased
    variance: ``N``, not ``N - 1``).

    >>> import numpy as np
    >>> grads = layer_norm_grads(np.array([[1.0, 3.0]]), 1, None, None, 0.0, np.array([[1.0, 0.0]]))
    >>> grads.input.value.tolist()  # n = [-1, 1] is constant under shifts and scalings
    [[0.0, 0.0]]
    """
    r = _rows(x, normalized_ndim, weight, bias, eps)
    g = np.asarray(grad_out, np.float64).reshape(r.x.shape)
    batch, n_elems = r.x.shape
    h = g * r.w
    has_rows = batch > 0 and n_elems > 0
    if has_rows:
        a = h.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore"):
            c = (h * r.n).mean(axis=1, keepdims=True)
            br = h - a - r.n * c
            dx = r.s * br
    else:
        a = c = np.zeros((batch, 1))
        br = dx = np.zeros_like(r.x)
    dw = (g * r.n).sum(axis=0)
    db = g.sum(axis=0)
    dx_errs, dw_errs, db_errs = [], [], []
    for u in units:
        e = _errors(r, u)
        e_h = _g(1, u) * np.abs(g) * np.abs(r.w)
        ah = np.abs(h) + e_h
        if has_rows:
            e_a = _g(n_elems + 1, u) * ah.mean(axis=1, keepdims=True) + e_h.mean(
                axis=1, keepdims=True
            )
            big_n = (np.abs(r.x) + np.abs(r.mu) + e.e_mu) * e.s_up + e.e_n  # >= |n|, |n^|
            with np.errstate(invalid="ignore"):
                e_c = (ah * (np.abs(r.n) + e.e_n)).mean(axis=1, keepdims=True) - (
                    np.abs(h) * np.abs(r.n)
                ).mean(axis=1, keepdims=True)
                e_c = e_c + _g(n_elems + 3, u) * (ah * big_n).mean(axis=1, keepdims=True)
                e_br = (
                    e_h
                    + e_a
                    + e.e_n * (np.abs(c) + e_c)
                    + np.abs(r.n) * e_c
                    + _g(3, u) * (ah + np.abs(a) + e_a + big_n * (np.abs(c) + e_c))
                )
                e_dx = (
                    e.e_s * (np.abs(br) + e_br)
                    + r.s * e_br
                    + _g(2, u) * (r.s + e.e_s) * (np.abs(br) + e_br)
                )
        else:
            e_dx = np.zeros_like(r.x)
        with np.errstate(invalid="ignore"):
            e_dw = (np.abs(g) * e.e_n).sum(axis=0) + _g(batch + 1, u) * (
                np.abs(g) * (np.abs(r.n) + e.e_n)
            ).sum(axis=0)
        e_db = _g(batch + 1, u) * np.abs(g).sum(axis=0)
        dx_errs.append((u, np.nan_to_num(e_dx, nan=np.inf)))
        dw_errs.append((u, np.nan_to_num(e_dw, nan=np.inf)))
        db_errs.append((u, e_db))
    norm_shape = x.shape[x.ndim - normalized_ndim :]
    dx_scale = _scale(dx_errs) if r.x.size else np.zeros_like(r.x)
    grads_x = Bounded(dx.reshape(x.shape), dx_scale.reshape(x.shape), terms=0)
    grads_w = None
    if weight is not None:
        dw_scale = _scale(dw_errs) if n_elems else np.zeros(n_elems)
        grads_w = Bounded(dw.reshape(norm_shape), dw_scale.reshape(norm_shape), terms=0)
    grads_b = None
    if bias is not None:
        db_scale = _scale(db_errs) if n_elems else np.zeros(n_elems)
        grads_b = Bounded(db.reshape(norm_shape), db_scale.reshape(norm_shape), terms=0)
    return LayerNormGrads(grads_x, grads_w, grads_b)
