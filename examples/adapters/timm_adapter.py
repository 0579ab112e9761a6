"""timm's ``Linear`` needs no adapter: ``timm.layers.Linear`` subclasses
``nn.Linear`` with the same constructor, and only overrides ``forward``::

    def forward(self, input):
        if torch.jit.is_scripting():
            bias = self.bias.to(dtype=input.dtype) if self.bias is not None else None
            return F.linear(input, self.weight.to(dtype=input.dtype), bias=bias)
        else:
            return F.linear(input, self.weight, self.bias)

("Wraps torch.nn.Linear to support AMP + torchscript usage by manually casting
weight & bias to input.dtype".) This module only re-exports it, after the
torchvision workaround that ``import timm`` needs with a CPU torch (see
``_torchvision_on_cpu``)::

    PYTHONPATH=examples/adapters pytest --pyargs conformance --target linear=timm_adapter:Linear
"""

from __future__ import annotations

import _torchvision_on_cpu  # noqa: F401  (timm imports torchvision)
from timm.layers import Linear

__all__ = ["Linear"]
