"""``nn.Embedding`` written out: the lookup, ``max_norm``'s renormalisation, the gradient.

Sources, read on torch 2.13.0: the ``torch.nn.Embedding`` docs and
torch/nn/modules/sparse.py (``forward`` is ``F.embedding(input, self.weight,
self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq,
self.sparse)``; ``reset_parameters`` draws ``N(0, 1)`` and fills the
``padding_idx`` row with zeros; ``from_pretrained`` builds the module around
the given tensor, ``requires_grad = not freeze``, and does not zero the
padding row), torch/nn/functional.py (``embedding``: a negative
``padding_idx`` counts from the end; with ``max_norm`` the looked-up rows
are renormalised in place, under no_grad, before the lookup) and
aten/src/ATen/native/Embedding.cpp (``embedding_renorm_cpu_``: for each
distinct index, ``norm = row.norm(norm_type)``; if ``norm > max_norm`` the
row is multiplied by ``max_norm / (norm + 1e-7)``; ``embedding_backward``:
the padding row's gradient is zero, and with ``scale_grad_by_freq`` each
row's gradient is divided by how often its index occurs in the batch).

Everything is NumPy float64; nothing here calls the code under test.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from conformance.oracle.layer_norm import Bounded

__all__ = [
    "RENORM_EPS",
    "Bounded",
    "Renorm",
    "lookup",
    "padding_row",
    "renorm",
    "weight_grad",
]

#: What ``embedding_renorm_`` adds to the norm before dividing (Embedding.cpp).
RENORM_EPS = 1e-7


class Renorm(NamedTuple):
    """The weight after ``max_norm``'s in-place renormalisation, row by row.

    ``renormed`` holds the weight with every row that must be renormalised
    renormalised (its rounding bound: ``scale``, ``terms``); ``must``,
    ``either`` and ``kept`` split the rows: renormalised, within rounding of
    the threshold (either result is right), and left exactly as they were
    (not looked up, or norm at most ``max_norm`` beyond rounding).
    """

    renormed: np.ndarray
    scale: np.ndarray
    terms: int
    must: np.ndarray
    either: np.ndarray
    kept: np.ndarray


def padding_row(padding_idx: int | None, num_embeddings: int) -> int | None:
    """The row ``padding_idx`` names: a negative one counts from the end.

    >>> padding_row(-1, 5)
    4
    """
    if padding_idx is None:
        return None
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def lookup(weight: np.ndarray, indices: np.ndarray) -> Bounded:
    """``weight[indices]``: shape ``(*indices.shape, embedding_dim)``; exact.

    >>> lookup(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 1, 0])).value.tolist()
    [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]
    """
    value = np.asarray(weight, np.float64)[np.asarray(indices).astype(np.int64)]
    return Bounded(value, np.abs(value), terms=0)


def _norms(rows: np.ndarray, norm_type: float) -> np.ndarray:
    if rows.shape[-1] == 0:
        return np.zeros(rows.shape[:-1])
    return np.linalg.norm(rows, ord=norm_type, axis=-1)


def renorm(
    weight: np.ndarray,
    indices: np.ndarray,
    max_norm: float,
    norm_type: float,
    *,
    unit_roundoff: float,
) -> Renorm:
    """``max_norm``'s renormalisation of the rows ``indices`` looks up, in place.

    Each distinct looked-up row whose ``norm_type``-norm exceeds ``max_norm``
    is multiplied by ``max_norm / (norm + 1e-7)``; every other row is left
    as it is. A row whose norm lies within the rounding of a norm computed at
    ``unit_roundoff`` of ``max_norm`` may go either way (``either``). The
    renormalised value is within ``g(D + 7)`` relative of exact: the norm's
    ``D`` products or powers, its root, the scale's sum and division, the
    product (``terms = D + 5``, ``oracle_bound`` adds two).

    >>> r = renorm(np.array([[3.0, 4.0], [0.3, 0.4]]), np.array([0, 1]), 1.0, 2.0,
    ...            unit_roundoff=2.0**-24)
    >>> np.round(r.renormed, 6).tolist(), r.must.tolist(), r.kept.tolist()
    ([[0.6, 0.8], [0.3, 0.4]], [True, False], [False, True])
    """
    w = np.asarray(weight, np.float64)
    rows, dim = w.shape
    looked_up = np.zeros(rows, dtype=bool)
    looked_up[np.unique(np.asarray(indices).astype(np.int64))] = True
    norms = _norms(w, norm_type)
    # A computed p-norm is within g(D + 4) relative of the exact one.
    k = dim + 4
    tau = k * unit_roundoff / (1 - k * unit_roundoff)
    must = looked_up & (norms * (1 - tau) > max_norm)
    either = looked_up & ~must & (norms * (1 + tau) > max_norm)
    factor = np.where(must | either, max_norm / (norms + RENORM_EPS), 1.0)
    renormed = w * factor[:, None]
    return Renorm(renormed, np.abs(renormed), dim + 5, must, either, ~(must | either))


def weight_grad(
    num_embeddings: int,
    indices: np.ndarray,
    grad_out: np.ndarray,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> Bounded:
    """``d sum(grad_out * weight[indices]) / d weight``: each index's row of
    ``grad_out`` added into its row; the padding row's gradient is zero;
    with ``scale_grad_by_freq`` each contribution divided by how often its
    index occurs in ``indices``. ``terms`` is the most contributions one row
    sums (plus the division).

    >>> g = np.array([[1.0], [2.0], [4.0]])
    >>> weight_grad(3, np.array([0, 2, 2]), g, 2, False).value.tolist()
    [[1.0], [0.0], [0.0]]
    >>> weight_grad(3, np.array([0, 2, 2]), g, None, True).value.tolist()
    [[1.0], [0.0], [3.0]]
    """
    idx = np.asarray(indices).astype(np.int64).reshape(-1)
    dim = np.asarray(grad_out).shape[-1]
    g = np.asarray(grad_out, np.float64).reshape(idx.size, dim)
    counts = np.bincount(idx, minlength=num_embeddings).astype(np.float64)
    weights = 1.0 / counts[idx] if scale_grad_by_freq and idx.size else np.ones(idx.size)
    contrib = g * weights[:, None]
    value = np.zeros((num_embeddings, dim))
    scale = np.zeros((num_embeddings, dim))
    np.add.at(value, idx, contrib)
    np.add.at(scale, idx, np.abs(contrib))
    row = padding_row(padding_idx, num_embeddings)
    if row is not None:
        value[row] = 0.0
        scale[row] = 0.0
    most = int(counts.max()) if counts.size else 0
    return Bounded(value, scale, terms=most + 1)
