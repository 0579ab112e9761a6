"""``nn.Conv1d`` / ``nn.Conv2d`` written out: padded, strided, dilated, grouped
cross-correlation, its gradients, its output size and its init bound.

Sources (torch 2.13.0): the ``torch.nn.Conv1d`` / ``Conv2d`` docs and
torch/nn/modules/conv.py.

* ``out(N_i, C_out_j) = bias(C_out_j) + sum_k weight(C_out_j, k) * input(N_i, k)``
  where ``*`` is the *valid cross-correlation* (the kernel is not flipped);
  with ``groups`` each output channel sees only the ``in_channels / groups``
  input channels of its own group ("At groups=2, the operation becomes
  equivalent to having two conv layers side by side").
* ``weight`` is ``(out_channels, in_channels / groups, *kernel_size)``; the
  bias is added per output channel (``bias.view(C, 1, ..., 1)``).
* ``L_out = floor((L_in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``
  per spatial dim; ``padding="valid"`` is no padding; ``padding="same"``
  pads ``dilation * (kernel_size - 1)`` in all, ``total // 2`` on the left
  and the rest on the right (``_ConvNd.__init__``'s
  ``_reversed_padding_repeated_twice``), and needs ``stride == 1``.
* ``padding_mode``: ``"zeros"`` pads with zeros; the others pad the input
  with ``F.pad(input, ..., mode=padding_mode)`` first (``_conv_forward``):
  ``"reflect"`` mirrors without repeating the edge, ``"replicate"`` repeats
  the edge, ``"circular"`` wraps around.
* Inputs are ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``.
* ``reset_parameters``: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e.
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = in_channels / groups
  * prod(kernel_size)``, and the bias from the same range (0 when ``fan_in == 0``).

Everything is NumPy float64 on values read out of the module; nothing here
calls the code under test. Each result is a :class:`~conformance.layers.Reference`
whose ``scale`` is the same computation on absolute values, so
:func:`conformance.tolerances.oracle_bound` turns it into a tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from conformance.layers import Reference

__all__ = [
    "PADDING_MODES",
    "ConvGrads",
    "conv",
    "conv_grads",
    "init_bound",
    "output_shape",
    "output_size",
    "padding_pairs",
    "source_index",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

Pairs = tuple[tuple[int, int], ...]


class ConvGrads(NamedTuple):
    """Gradients of ``sum(grad_out * conv(x, w, b))`` with respect to x, w and b."""

    input: Reference
    weight: Reference
    bias: Reference


def padding_pairs(
    padding: int | Sequence[int] | str, kernel_size: Sequence[int], dilation: Sequence[int]
) -> Pairs:
    """``(left, right)`` padding per spatial dim, from the ``padding`` argument.

    An int pads every dim on both sides, a tuple each dim on both sides;
    ``"valid"`` is none; ``"same"`` pads ``total = dilation * (kernel - 1)``,
    ``total // 2`` on the left and the rest on the right.
    """
    n = len(kernel_size)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        raise ValueError(f"padding={padding!r} is not 'same' or 'valid'")
    sides = (padding,) * n if isinstance(padding, int) else tuple(padding)
    return tuple((p, p) for p in sides)


def output_size(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int) -> int:
    """``floor((L + left + right - dilation * (kernel - 1) - 1) / stride + 1)``.

    The documented formula with ``2 * padding`` split into its two sides
    (they differ only for ``padding="same"`` with an odd total).
    """
    return (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1


def output_shape(
    input_shape: Sequence[int],
    out_channels: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    pads: Pairs,
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """``(N, C_out, *L_out)`` for ``(N, C_in, *L_in)``, ``(C_out, *L_out)`` unbatched."""
    n = len(kernel_size)
    spatial = input_shape[-n:]
    lead = tuple(input_shape[: len(input_shape) - n - 1])  # (N,) or ()
    sizes = tuple(
        output_size(s, k, st, p, d)
        for s, k, st, p, d in zip(spatial, kernel_size, stride, pads, dilation, strict=True)
    )
    return (*lead, out_channels, *sizes)


def source_index(size: int, left: int, right: int, mode: str) -> np.ndarray:
    """For each position of the padded dim (``left + size + right`` of them), the
    input position it copies, or ``-1`` for a zero.

    Position ``i`` of the padded dim is input position ``j = i - left``; outside
    ``[0, size)``: ``"zeros"`` gives -1, ``"reflect"`` mirrors about the edge
    element (``-j``, ``2 (size - 1) - j``), ``"replicate"`` clamps to the edge,
    ``"circular"`` wraps (``j mod size``).
    """
    j = np.arange(-left, size + right)
    inside = (j >= 0) & (j < size)
    if mode == "zeros":
        return np.where(inside, j, -1)
    if mode == "reflect":
        mirrored = np.where(j < 0, -j, 2 * (size - 1) - j)
        return np.where(inside, j, mirrored)
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":
        return np.mod(j, size)
    raise ValueError(f"padding_mode={mode!r} is not one of {PADDING_MODES}")


def _pad(x: np.ndarray, pads: Pairs, mode: str) -> np.ndarray:
    """``x`` (``(N, C, *spatial)``) padded over its spatial dims by :func:`source_index`."""
    n = len(pads)
    for axis, (left, right) in zip(range(x.ndim - n, x.ndim), pads, strict=True):
        index = source_index(x.shape[axis], left, right, mode)
        # A zero appended at the end of the dim: index -1 picks it.
        zero = np.zeros((*x.shape[:axis], 1, *x.shape[axis + 1 :]))
        x = np.take(np.concatenate([x, zero], axis=axis), index, axis=axis)
    return x


def _windows(
    out_sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> tuple[np.ndarray, ...]:
    """Index arrays into the padded spatial dims, broadcasting to ``(*out, *kernel)``:
    output position ``o`` with kernel offset ``k`` reads ``o * stride + k * dilation``."""
    n = len(kernel)
    index = []
    for i, (o, k, s, d) in enumerate(zip(out_sizes, kernel, stride, dilation, strict=True)):
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = o, k
        positions = s * np.arange(o)[:, None] + d * np.arange(k)[None, :]
        index.append(positions.reshape(shape))
    return tuple(index)


def _over_spatial(windows: tuple[np.ndarray, ...]) -> Any:
    """An index taking the windows from the spatial dims of ``(N, C, *spatial)``."""
    return (slice(None), slice(None), *windows)


class _Layout(NamedTuple):
    batched: bool
    n: int  # batch size
    groups: int
    in_per_group: int
    out_per_group: int
    kernel: tuple[int, ...]
    out_sizes: tuple[int, ...]
    pads: Pairs


def _layout(
    x: np.ndarray, weight: np.ndarray, stride: Sequence[int], pads: Pairs, dilation: Sequence[int]
) -> _Layout:
    kernel = tuple(weight.shape[2:])
    nd = len(kernel)
    batched = x.ndim == nd + 2
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"x.shape={x.shape} is not (N, C, *spatial) or (C, *spatial)")
    in_channels = x.shape[-nd - 1]
    in_per_group = weight.shape[1]
    groups = in_channels // in_per_group if in_per_group else 1
    if in_per_group * groups != in_channels or weight.shape[0] % groups:
        raise ValueError(f"x.shape={x.shape} does not fit weight.shape={weight.shape}")
    sizes = tuple(
        output_size(s, k, st, p, d)
        for s, k, st, p, d in zip(x.shape[-nd:], kernel, stride, pads, dilation, strict=True)
    )
    if min(sizes) < 1:
        raise ValueError(f"x.shape={x.shape} is too short for the kernel: output sizes {sizes}")
    n = x.shape[0] if batched else 1
    return _Layout(batched, n, groups, in_per_group, weight.shape[0] // groups, kernel, sizes, pads)


def _patches(
    x: np.ndarray,
    lay: _Layout,
    stride: Sequence[int],
    dilation: Sequence[int],
    padding_mode: str,
) -> np.ndarray:
    """``(N, G, P, J)``: for each output position ``p`` (flattened) the ``J = C_g *
    prod(kernel)`` input values its group's kernel meets, in weight order."""
    xb = x if lay.batched else x[None]
    padded = _pad(xb, lay.pads, padding_mode)
    # (N, C, *out, *kernel)
    taken = padded[_over_spatial(_windows(lay.out_sizes, lay.kernel, stride, dilation))]
    positions, taps = math.prod(lay.out_sizes), math.prod(lay.kernel)
    taken = taken.reshape(lay.n, lay.groups, lay.in_per_group, positions, taps)
    # -> (N, G, P, C_g, K) -> (N, G, P, J)
    return taken.transpose(0, 1, 3, 2, 4).reshape(
        lay.n, lay.groups, positions, lay.in_per_group * taps
    )


def _grouped_weight(weight: np.ndarray, lay: _Layout) -> np.ndarray:
    """``(G, O_g, J)``: each group's output channels and their flattened kernels."""
    taps = math.prod(lay.kernel)
    return weight.reshape(lay.groups, lay.out_per_group, lay.in_per_group * taps)


def _unflatten(y: np.ndarray, lay: _Layout) -> np.ndarray:
    """``(N, G, O_g, P)`` -> ``(N, C_out, *out)`` (no batch dim when unbatched)."""
    out = y.reshape(lay.n, lay.groups * lay.out_per_group, *lay.out_sizes)
    return out if lay.batched else out[0]


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    *,
    stride: Sequence[int],
    pads: Pairs,
    dilation: Sequence[int],
    padding_mode: str = "zeros",
) -> Reference:
    """The convolution layer's output for ``x`` (``(N, C_in, *L)`` or ``(C_in, *L)``).

    ``groups`` is read off the shapes (``C_in / weight.shape[1]``). Each output
    element sums ``terms = C_in / groups * prod(kernel)`` products (plus the
    bias); ``scale`` is the same sum over ``|x|``, ``|w|`` and ``|b|``.
    """
    lay = _layout(x, weight, stride, pads, dilation)
    patches = _patches(x, lay, stride, dilation, padding_mode)
    w = _grouped_weight(weight, lay)
    value = _unflatten(np.einsum("ngpj,goj->ngop", patches, w), lay)
    scale = _unflatten(np.einsum("ngpj,goj->ngop", np.abs(patches), np.abs(w)), lay)
    if bias is not None:
        per_channel = bias.reshape(-1, *([1] * len(lay.kernel)))  # bias.view(C, 1, ..., 1)
        value = value + per_channel
        scale = scale + np.abs(per_channel)
    return Reference(value, scale, lay.in_per_group * math.prod(lay.kernel))


def _scatter_to_input(
    per_patch: np.ndarray,
    x_shape: tuple[int, ...],
    lay: _Layout,
    stride: Sequence[int],
    dilation: Sequence[int],
    padding_mode: str,
) -> np.ndarray:
    """The adjoint of :func:`_patches`: ``(N, G, P, J)`` summed back onto the
    input positions each entry was read from (through the padding)."""
    nd = len(lay.kernel)
    taps = math.prod(lay.kernel)
    values = per_patch.reshape(lay.n, lay.groups, math.prod(lay.out_sizes), lay.in_per_group, taps)
    values = values.transpose(0, 1, 3, 2, 4).reshape(
        lay.n, lay.groups * lay.in_per_group, *lay.out_sizes, *lay.kernel
    )
    spatial = x_shape[-nd:]
    padded_sizes = tuple(
        s + left + right for s, (left, right) in zip(spatial, lay.pads, strict=True)
    )
    padded = np.zeros((lay.n, lay.groups * lay.in_per_group, *padded_sizes))
    windows = _windows(lay.out_sizes, lay.kernel, stride, dilation)
    np.add.at(padded, _over_spatial(windows), values)
    # Back through the padding: each padded position adds onto its source.
    grad = padded
    for i, (size, (left, right)) in enumerate(zip(spatial, lay.pads, strict=True)):
        axis = 2 + i
        index = source_index(size, left, right, padding_mode)
        keep = index >= 0
        moved = np.moveaxis(grad, axis, 0)
        out = np.zeros((size, *moved.shape[1:]))
        np.add.at(out, index[keep], moved[keep])
        grad = np.moveaxis(out, 0, axis)
    return grad if lay.batched else grad[0]


def conv_grads(
    x: np.ndarray,
    weight: np.ndarray,
    grad_out: np.ndarray,
    *,
    stride: Sequence[int],
    pads: Pairs,
    dilation: Sequence[int],
    padding_mode: str = "zeros",
) -> ConvGrads:
    """``dL/dx``, ``dL/dw`` and ``dL/db`` for ``L = sum(grad_out * conv(x, w, b))``.

    * ``dL/dw[o, c, k] = sum_{n, p} g[n, o, p] * x_padded[n, c_o, p * s + k * d]``
      (``N * prod(L_out)`` terms);
    * ``dL/db[o] = sum_{n, p} g[n, o, p]`` (as many terms);
    * ``dL/dx``: each output channel's ``g * w`` added back onto the input
      positions it read, through the padding (a reflected, replicated or
      wrapped position adds onto its source): ``O_g`` terms for every time
      a position is read; ``terms`` is the most any input position gets.
    """
    lay = _layout(x, weight, stride, pads, dilation)
    patches = _patches(x, lay, stride, dilation, padding_mode)
    w = _grouped_weight(weight, lay)
    positions = math.prod(lay.out_sizes)
    gb = grad_out if lay.batched else grad_out[None]
    g = gb.reshape(lay.n, lay.groups, lay.out_per_group, positions)
    shape_w = weight.shape
    grad_w = np.einsum("ngop,ngpj->goj", g, patches).reshape(shape_w)
    scale_w = np.einsum("ngop,ngpj->goj", np.abs(g), np.abs(patches)).reshape(shape_w)
    out_channels = lay.groups * lay.out_per_group
    grad_b = g.reshape(lay.n, out_channels, positions).sum(axis=(0, 2))
    scale_b = np.abs(g).reshape(lay.n, out_channels, positions).sum(axis=(0, 2))
    batch_terms = lay.n * positions

    scatter = (x.shape, lay, stride, dilation, padding_mode)
    grad_x = _scatter_to_input(np.einsum("ngop,goj->ngpj", g, w), *scatter)
    scale_x = _scatter_to_input(np.einsum("ngop,goj->ngpj", np.abs(g), np.abs(w)), *scatter)
    # How often the most-read input position is read (through every window and pad).
    ones = np.ones((1, lay.groups, positions, lay.in_per_group * math.prod(lay.kernel)))
    one_lay = lay._replace(n=1, batched=True)
    reads = _scatter_to_input(ones, (1, *x.shape[-len(lay.kernel) - 1 :]), one_lay, *scatter[2:])
    most = int(reads.max()) if reads.size else 0
    return ConvGrads(
        input=Reference(grad_x, scale_x, lay.out_per_group * max(most, 1)),
        weight=Reference(grad_w, scale_w, batch_terms),
        bias=Reference(grad_b, scale_b, batch_terms),
    )


def init_bound(weight_shape: Sequence[int]) -> float:
    """``b`` such that the initial weight and bias are drawn from ``U(-b, b)``.

    ``fan_in = weight.shape[1] * prod(weight.shape[2:])`` (``in_channels /
    groups * prod(kernel_size)``; ``init._calculate_fan_in_and_fan_out``);
    ``kaiming_uniform_(a=sqrt(5))`` gives ``sqrt(3) * sqrt(2 / (1 + 5)) /
    sqrt(fan_in) = 1 / sqrt(fan_in)``, the bias ``1 / sqrt(fan_in)``, and
    ``0`` for ``fan_in == 0``.
    """
    fan_in = math.prod(weight_shape[1:])
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
