"""Moving tensors into NumPy float64, where the oracles compute."""

from __future__ import annotations

import numpy as np
import torch


def to_float64(t: torch.Tensor) -> np.ndarray:
    """The tensor's values as a float64 (or complex128) NumPy array.

    Exact for every float dtype: float16/bfloat16/float32 values are all
    representable in float64.
    """
    t = t.detach().cpu().resolve_conj()
    target = torch.complex128 if t.dtype.is_complex else torch.float64
    return t.to(target).numpy()
