"""A Linear broken only on a device other than plain ``"cpu"``, for parity faults.

Parity checks compare each device with the CPU. The kit's own tests run them CPU
against ``"cpu:0"`` (the same hardware under another name), so a fault that
breaks only when built for ``"cpu:0"`` stands in for a kernel bug on one backend
(most of the historical ones were CUDA's).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class BrokenOffReference(nn.Linear):
    """Sets ``self.broken`` when built for a device other than plain ``"cpu"``;
    subclasses misbehave only then."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.broken = str(device) != "cpu"
