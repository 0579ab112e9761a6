"""GPT-2's ``Conv1D`` (transformers) on the kit's Linear contract.

``transformers.pytorch_utils.Conv1D(nf, nx)`` is GPT-2's dense layer: ``nf``
outputs, ``nx`` inputs, ``weight`` stored transposed, ``(nx, nf)`` =
``(in, out)``, initialised ``N(0, 0.02)``, ``bias`` always present, zeros, and
``forward(x) = addmm(bias, x.view(-1, nx), weight).view(*x.shape[:-1], nf)``.
It takes no ``bias``, ``device`` or ``dtype`` argument.

The contract wants ``weight`` as ``(out, in)``. Two honest mappings, each a
thin wrapper that runs the library's own ``forward`` unchanged:

``conv1d_view``
    keeps the library module whole (its parameters, their names and storage)
    and exposes ``weight`` as a read-only property ``conv.weight.T``, a view:
    what a user reading a GPT-2 checkpoint as Linear weights does. A view is a
    new tensor on each access and is not a registered parameter, so checks
    that differentiate with respect to ``module.weight``, assign it, or swap
    it by name depart *because of this adapter*.

``conv1d_linear``
    holds the parameter in the contract's orientation, ``weight`` ``(out,
    in)``, registered, and calls ``Conv1D.forward`` through
    ``torch.func.functional_call`` with ``weight.T`` (the library code sees
    its ``(nx, nf)`` weight, as a transposed view). The initial values are the
    library's own (``N(0, 0.02)``, zero bias).

What both report is the library; what only ``conv1d_view`` reports is that
adapter. ``Conv1D`` has no bias-free form (its ``forward`` is
``addmm(self.bias, ...)``), so with ``bias=False`` both keep the library's
zero bias as a tensor: the one contract point no wrapper can map without
changing what the library computes.

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target linear=gpt2_conv1d_adapter:conv1d_linear
"""

from __future__ import annotations

import _torchvision_on_cpu  # noqa: F401  (transformers may import torchvision)
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


def _conv1d(in_features: int, out_features: int, device, dtype) -> Conv1D:
    return Conv1D(out_features, in_features).to(device=device, dtype=dtype)


class Conv1DView(nn.Module):
    """The library's ``Conv1D`` as ``self.conv``; ``weight`` is ``conv.weight.T``."""

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None) -> None:
        super().__init__()
        self.conv = _conv1d(in_features, out_features, device, dtype)
        self.in_features, self.out_features = in_features, out_features

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight.T

    @property
    def bias(self) -> torch.Tensor:
        return self.conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Conv1DLinear(nn.Module):
    """``weight`` ``(out, in)`` and ``bias`` registered here; ``Conv1D.forward`` runs on
    ``weight.T``."""

    def __init__(self, in_features: int, out_features: int, device=None, dtype=None) -> None:
        super().__init__()
        conv = _conv1d(in_features, out_features, device, dtype)
        self.weight = nn.Parameter(conv.weight.detach().T.contiguous())
        self.bias = nn.Parameter(conv.bias.detach().clone())
        del conv.weight, conv.bias  # the library module keeps its code, not its storage
        self.conv = conv
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = {"weight": self.weight.T, "bias": self.bias}
        return torch.func.functional_call(self.conv, params, (x,))


class Conv1DLinearNx0Bypassed(Conv1DLinear):
    """A diagnostic, not a mapping: ``Conv1DLinear`` except that with ``in_features == 0``
    and an input whose last dimension is 0 it computes ``F.linear(x, weight, bias)`` (what
    ``nn.Linear`` does) instead of calling ``Conv1D.forward``, whose ``x.view(-1, 0)``
    raises there. Every check that draws ``in_features=0`` shrinks to that one library bug;
    bypassing it shows what else the library's ``forward`` does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_features == 0 and x.dim() > 0 and x.shape[-1] == 0:
            return nn.functional.linear(x, self.weight, self.bias)
        return super().forward(x)


def conv1d_view(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``Conv1D(out_features, in_features)`` whole, ``weight`` a ``.T`` view (bias kept
    whatever ``bias`` says: Conv1D has no bias-free form)."""
    return Conv1DView(in_features, out_features, device=device, dtype=dtype)


def conv1d_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``Conv1D.forward`` on a registered ``(out, in)`` weight (bias kept whatever ``bias``
    says: Conv1D has no bias-free form)."""
    return Conv1DLinear(in_features, out_features, device=device, dtype=dtype)


def conv1d_linear_nx0_bypassed(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``conv1d_linear`` with the ``nx=0`` bug bypassed by the adapter (a diagnostic)."""
    return Conv1DLinearNx0Bypassed(in_features, out_features, device=device, dtype=dtype)
