"""The one table of numerical tolerances, per dtype and device.

Two kinds of comparison:

* Elementwise results (add, mul, dropout scaling, ...) use
  :func:`elementwise` — ``torch.testing.assert_close``'s defaults, the same on
  every device today; the device is part of the key so a backend that needs
  its own entry gets one here, not in a check.
* Reductions and matrix products use :func:`accumulation_bound`, the
  standard rounding-error bound for a sum of ``k`` products:
  ``|fl(sum) - sum| <= (k + 2) * u * sum(|a_i * b_i|)`` (``k`` roundings in
  the accumulation, one for a bias, one for the output), with ``u`` the unit
  roundoff of the dtype (of TF32 when it is on). The bound scales with the
  inner dimension and the magnitudes, so bfloat16 is checked as tightly as it
  can be rather than with one loose number.

On CUDA, checks pin TF32 with :func:`tf32` instead of trusting global flags.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

__all__ = [
    "Tolerance",
    "accumulation_bound",
    "agreement_bound",
    "elementwise",
    "float_width",
    "oracle_bound",
    "tf32",
    "unit_roundoff",
]


@dataclasses.dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


# torch.testing.assert_close defaults (rtol, atol), which are what users expect.
_ELEMENTWISE: dict[torch.dtype, Tolerance] = {
    torch.float16: Tolerance(1e-3, 1e-5),
    torch.bfloat16: Tolerance(1.6e-2, 1e-5),
    torch.float32: Tolerance(1.3e-6, 1e-5),
    torch.float64: Tolerance(1e-7, 1e-7),
    torch.complex64: Tolerance(1.3e-6, 1e-5),
    torch.complex128: Tolerance(1e-7, 1e-7),
}
# Per-device overrides, keyed (device type, dtype). None are needed on the
# devices measured so far (cpu; cuda runs are recorded in the closing notes).
_ELEMENTWISE_BY_DEVICE: dict[tuple[str, torch.dtype], Tolerance] = {}

# Unit roundoff u = 2**-(mantissa bits + 1).
_UNIT_ROUNDOFF: dict[torch.dtype, float] = {
    torch.float64: 2.0**-53,
    torch.float32: 2.0**-24,
    torch.float16: 2.0**-11,
    torch.bfloat16: 2.0**-8,
    torch.complex128: 2.0**-53,
    torch.complex64: 2.0**-24,
}
_TF32_UNIT_ROUNDOFF = 2.0**-11  # TF32 keeps 10 mantissa bits, like float16


def elementwise(dtype: torch.dtype, device: torch.device | str) -> Tolerance:
    """rtol/atol for an elementwise result; exact (0, 0) for integers and bool."""
    if not (dtype.is_floating_point or dtype.is_complex):
        return Tolerance(0.0, 0.0)
    key = (torch.device(device).type, dtype)
    return _ELEMENTWISE_BY_DEVICE.get(key, _ELEMENTWISE[dtype])


def unit_roundoff(dtype: torch.dtype, *, tf32_enabled: bool = False) -> float:
    if tf32_enabled and dtype == torch.float32:
        return _TF32_UNIT_ROUNDOFF
    return _UNIT_ROUNDOFF[dtype]


def accumulation_bound(
    abs_sum: torch.Tensor | np.ndarray, k: int, dtype: torch.dtype, *, tf32_enabled: bool = False
) -> torch.Tensor:
    """Largest admissible |error| of each computed sum of ``k`` products.

    ``abs_sum`` holds ``sum(|a_i * b_i|) (+ |bias|)`` per output element,
    computed in float64 by the oracle. A tiny floor keeps exact zeros exact
    while allowing for subnormal flushing.
    """
    u = unit_roundoff(dtype, tf32_enabled=tf32_enabled)
    gamma = (k + 2) * u / (1 - (k + 2) * u)
    return gamma * torch.as_tensor(abs_sum).double() + torch.finfo(dtype).tiny


def agreement_bound(
    abs_sum: torch.Tensor | np.ndarray, k: int, dtype: torch.dtype, *, tf32_enabled: bool = False
) -> torch.Tensor:
    """How far two computations of the same sums in ``dtype`` may lie apart.

    Each lies within :func:`accumulation_bound` of the exact value, so they
    differ by at most twice it: the bound for a module against its functional
    form, one device against another, or a user's kernel against torch's.
    """
    return 2 * accumulation_bound(abs_sum, k, dtype, tf32_enabled=tf32_enabled)


def oracle_bound(
    abs_sum: torch.Tensor | np.ndarray, k: int, dtype: torch.dtype, *, tf32_enabled: bool = False
) -> torch.Tensor:
    """Allowed ``|result - oracle|``: the result's rounding plus the float64 oracle's own."""
    return accumulation_bound(abs_sum, k, dtype, tf32_enabled=tf32_enabled) + accumulation_bound(
        abs_sum, k, torch.float64
    )


def float_width(dtype: torch.dtype) -> Literal[16, 32, 64]:
    """The Hypothesis float width whose values ``dtype`` holds exactly.

    bfloat16 draws float32 values, rounded by ``torch.tensor`` (monotonically,
    so drawn bounds still hold); the tensor's values are what oracles read.
    """
    return 16 if dtype == torch.float16 else 64 if dtype == torch.float64 else 32


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Pin TF32 for CUDA matmuls and cuDNN convolutions, restoring it after."""
    matmul = torch.backends.cuda.matmul.allow_tf32
    cudnn = torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn
