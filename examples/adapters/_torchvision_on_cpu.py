"""An environment workaround, not part of any check: make ``import torchvision``
work when its C++ ops cannot load.

PyPI's torchvision wheels are CUDA builds (``torchvision==0.28.0`` is
``0.28.0+cu130``). With a CPU build of torch, as this repository pins, its
``_C`` extension fails to load (``libc10_cuda.so`` is missing), which
torchvision tolerates, except that ``torchvision/_meta_registrations.py`` then
registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms``
without checking, and ``import torchvision`` raises ``RuntimeError: operator
torchvision::nms does not exist``. timm imports torchvision at import time
(``timm/layers/create_norm.py``), and so does transformers, which peft imports.

:func:`ensure_importable` defines the schemas of those two operators (no
kernels: calling them still fails) when, and only when, torchvision's
extension cannot be loaded, so the import goes through. None of the layers
checked here touches torchvision. With a matching torchvision (the CPU wheel
from PyTorch's own index, or a CUDA torch), it does nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None


def _extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True  # no torchvision: nothing to work around
    for lib in Path(spec.origin).parent.glob("_C*.so"):
        try:
            torch.ops.load_library(str(lib))
        except OSError:
            return False
        return True
    return False


def ensure_importable() -> bool:
    """Define the two schemas if torchvision's ops cannot load; True if it did."""
    global _library
    if _library is not None or _extension_loads():
        return False
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)
    return True


WORKAROUND_APPLIED = ensure_importable()
