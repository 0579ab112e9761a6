"""opacus's per-sample gradients around an ``nn.Linear`` on the kit's Linear contract.

``opacus.GradSampleModule(m)`` (what ``PrivacyEngine.make_private`` wraps a
model in) registers, on every trainable submodule of ``m``, a forward hook
that appends the layer's input to ``layer.activations`` and a full backward
hook that computes per-sample gradients into ``param.grad_sample``; both run
on every call (the forward hook only in training mode with grad enabled).
The wrapper's parameters are ``m``'s, named ``_module.<name>``, and it has no
``weight`` of its own. Defaults: ``batch_first=True``, ``loss_reduction="mean"``.

``grad_sample_linear``
    ``GradSampleModule(nn.Linear(...))``, the module a user calls, as a
    subclass whose only addition is read-only ``weight``/``bias`` properties
    returning ``_module.weight``/``_module.bias`` (the contract reads them).
    Assigning ``module.weight`` therefore departs *because of this adapter*:
    on opacus's wrapper there is no ``weight`` to assign.

``hooked_linear``
    the wrapped ``nn.Linear`` itself, returned after ``GradSampleModule`` has
    put its hooks on it: the layer as it runs inside a DP-SGD model, with no
    wrapper in between (the wrapper stays alive through the hooks).

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target linear=opacus_adapter:grad_sample_linear
"""

from __future__ import annotations

import torch
from opacus import GradSampleModule
from torch import nn


class GradSampleLinear(GradSampleModule):
    """``GradSampleModule`` with ``weight``/``bias`` aliases of the wrapped Linear's."""

    @property
    def weight(self) -> torch.Tensor:
        return self._module.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self._module.bias


def grad_sample_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """``GradSampleModule(nn.Linear(...))`` with opacus's defaults."""
    linear = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
    return GradSampleLinear(linear)


def hooked_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """The ``nn.Linear`` inside ``GradSampleModule(linear)``, carrying opacus's hooks."""
    linear = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
    GradSampleModule(linear)
    return linear
