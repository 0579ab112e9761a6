"""Adapters mapping loralib's ``Linear`` onto the kit's Linear contract.

``loralib.Linear(in_features, out_features, r=0, lora_alpha=1, lora_dropout=0.0,
fan_in_fan_out=False, merge_weights=True, **kwargs)`` takes ``bias``, ``device``
and ``dtype`` only through ``**kwargs`` (passed on to ``nn.Linear``); with
``r > 0`` it adds the low-rank factors ``lora_A`` (r, in) and ``lora_B``
(out, r), freezes ``weight`` and merges ``B @ A * lora_alpha / r`` into it
on ``eval()``. A factory with the contract's signature is the adapter:

    PYTHONPATH=examples pytest --pyargs conformance \\
        --target linear=loralib_adapter:lora_linear

loralib is not a dependency of the kit: ``pip install loralib`` to run this.
"""

from __future__ import annotations

import loralib
import torch
from torch import nn

RANK = 4


def lora_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A freshly initialised LoRA layer: ``lora_B`` is zero, so it computes what its
    frozen ``weight`` does."""
    return loralib.Linear(in_features, out_features, r=RANK, bias=bias, device=device, dtype=dtype)


def trained_lora_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A LoRA layer as after some training: ``lora_B`` is no longer zero, so in
    training mode the layer computes ``x @ (W + B @ A * scaling).T + b`` while its
    ``weight`` is still ``W`` (``eval()`` merges the product into ``weight``)."""
    layer = loralib.Linear(in_features, out_features, r=RANK, bias=bias, device=device, dtype=dtype)
    with torch.no_grad():
        nn.init.uniform_(layer.lora_B, -0.5, 0.5)
    return layer
