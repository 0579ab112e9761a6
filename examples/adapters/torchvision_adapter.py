"""torchvision's ``FrozenBatchNorm2d`` on the kit's ``batch_norm2d`` contract.

``torchvision.ops.misc.FrozenBatchNorm2d(num_features, eps=1e-5)`` is
"BatchNorm2d where the batch statistics and the affine parameters are fixed"
(what torchvision's detection backbones use): ``weight``, ``bias``,
``running_mean`` and ``running_var`` are all *buffers* (ones, zeros, zeros,
ones), there is no ``num_batches_tracked``, and ``forward`` computes
``x * w * rsqrt(rv + eps) + (b - rm * w * rsqrt(rv + eps))`` in training and
eval alike. It takes neither ``momentum``, ``affine``,
``track_running_stats`` nor ``device``/``dtype``.

:func:`frozen_batch_norm2d` keeps the contract's signature, builds
``FrozenBatchNorm2d(num_features, eps)``, moves it with ``.to(device,
dtype)``, and ignores ``momentum``, ``affine`` and ``track_running_stats``
(the layer has one behaviour). The contract's start-up check wants a
``num_batches_tracked`` attribute, a tensor of shape ``()``; the layer has
none, so the adapter sets a plain, unregistered attribute (``torch.tensor(0)``,
not a buffer: it is in no ``state_dict`` and ``named_buffers()`` does not
yield it). Nothing else is added::

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target batch_norm2d=torchvision_adapter:frozen_batch_norm2d
"""

from __future__ import annotations

import _torchvision_on_cpu  # noqa: F401  (torchvision's ops need it with a CPU torch)
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d


def frozen_batch_norm2d(
    num_features: int,
    eps: float = 1e-5,
    momentum: float | None = 0.1,
    affine: bool = True,
    track_running_stats: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``FrozenBatchNorm2d(num_features, eps).to(device, dtype)``; ``momentum``,
    ``affine`` and ``track_running_stats`` are ignored (it has none of them)."""
    layer = FrozenBatchNorm2d(num_features, eps=eps).to(device=device, dtype=dtype)
    # Only for the contract's start-up check: not a buffer (see the module docs).
    layer.num_batches_tracked = torch.tensor(0, device=device)
    return layer
