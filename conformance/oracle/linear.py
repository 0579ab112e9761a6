"""``nn.Linear`` written out: the affine map, its gradients and its init bound.

Sources: the ``torch.nn.Linear`` docs ("applies an affine linear
transformation ``y = x A^T + b``") and torch/nn/modules/linear.py
(``forward`` is ``F.linear(input, self.weight, self.bias)``;
``reset_parameters`` draws the weight with ``kaiming_uniform_(a=sqrt(5))``
and the bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, 0 when
``fan_in == 0``).

Everything is NumPy float64 on values read out of the module; nothing here
calls the code under test. Each result comes with what its rounding error
scales with (:class:`Sums`), so a check can turn it into a tolerance with
:func:`conformance.tolerances.accumulation_bound`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["AffineGrads", "Sums", "affine", "affine_grads", "init_bound"]


class Sums(NamedTuple):
    """Elementwise sums of ``terms`` products, and ``sum(|product|)`` per element."""

    value: np.ndarray
    scale: np.ndarray
    terms: int


class AffineGrads(NamedTuple):
    """Gradients of ``sum(grad_out * (x @ A.T + b))`` with respect to x, A and b."""

    input: Sums
    weight: Sums
    bias: Sums


def affine(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> Sums:
    """``x @ A.T + b`` over the last dim of ``x`` (any leading dims, or none).

    ``in_features == 0`` gives ``b`` broadcast (zeros without a bias);
    ``out_features == 0`` gives an empty last dim.
    """
    value = x @ weight.T
    scale = np.abs(x) @ np.abs(weight).T
    if bias is not None:
        value = value + bias
        scale = scale + np.abs(bias)
    return Sums(value, scale, terms=weight.shape[1])


def affine_grads(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray) -> AffineGrads:
    """``dL/dx = g A``, ``dL/dA = g^T x``, ``dL/db = sum(g)`` for upstream ``g``.

    The weight and bias gradients sum over every leading (batch) dim of
    ``x``: with ``N`` batch elements, ``N`` terms (zero for an empty batch,
    whose gradients are zeros).
    """
    out_features, in_features = weight.shape
    batch = math.prod(x.shape[:-1])  # not reshape(-1, ...): sizes may be 0
    xs = x.reshape(batch, in_features)
    gs = grad_out.reshape(batch, out_features)
    return AffineGrads(
        input=Sums(grad_out @ weight, np.abs(grad_out) @ np.abs(weight), terms=out_features),
        weight=Sums(gs.T @ xs, np.abs(gs).T @ np.abs(xs), terms=batch),
        bias=Sums(gs.sum(axis=0), np.abs(gs).sum(axis=0), terms=batch),
    )


def init_bound(in_features: int) -> float:
    """``b`` such that the initial weight and bias are drawn from ``U(-b, b)``.

    ``kaiming_uniform_(a=sqrt(5))`` uses ``gain = sqrt(2 / (1 + a**2)) =
    sqrt(1/3)`` and ``bound = sqrt(3) * gain / sqrt(fan_in) = 1/sqrt(fan_in)``;
    the bias uses ``1/sqrt(fan_in)`` directly, and 0 for ``fan_in == 0``.
    """
    return 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
