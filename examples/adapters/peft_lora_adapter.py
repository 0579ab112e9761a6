"""peft's LoRA ``Linear``, ``Embedding`` and ``Conv1d`` on the kit's ``linear``, ``embedding``
and ``conv1d`` contracts.

A user gets this layer from ``get_peft_model(model, LoraConfig(...))``: every
``nn.Linear`` named in ``target_modules`` is replaced by
``peft.tuners.lora.Linear``, which keeps the original layer as ``base_layer``
(frozen), adds ``lora_A[adapter]`` (``nn.Linear(in, r, bias=False)``,
Kaiming-uniform) and ``lora_B[adapter]`` (``nn.Linear(r, out, bias=False)``,
zeros), and computes ``base_layer(x) + lora_B(lora_A(dropout(x))) * scaling``
(``scaling = lora_alpha / r``). Its ``weight`` and ``bias`` are read-only
properties returning ``base_layer.weight`` and ``base_layer.bias``
(``BaseTunerLayer``), so it keeps the contract without an alias of ours.

The factories build exactly that: an ``nn.Linear`` with the contract's
arguments inside a one-layer model, ``get_peft_model`` with its defaults
(``autocast_adapter_dtype=True``: float16/bfloat16 adapters are kept in
float32), and return the LoRA layer that replaced it::

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target linear=peft_lora_adapter:lora_linear

``trained_lora_linear`` then runs one SGD step on fixed random data (its own
generator, so the global RNG the suites seed is left alone), which makes
``lora_B`` non-zero, as in any LoRA layer after training.

``lora_embedding`` and ``trained_lora_embedding`` do the same for an
``nn.Embedding`` (the ``embedding`` contract: ``num_embeddings,
embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, device,
dtype``): ``get_peft_model`` replaces it by ``peft.tuners.lora.Embedding``,
which keeps it as ``base_layer`` (frozen) and adds ``lora_embedding_A[adapter]``
``(r, num_embeddings)`` (zeros) and ``lora_embedding_B[adapter]``
``(embedding_dim, r)`` (normal), and computes ``base_layer(x) +
F.embedding(x, A.T, <base_layer's padding_idx, max_norm, ...>) @ B.T * scaling``.
Fresh (``A = 0``) it computes what the base layer does; after one SGD step
on random indices ``A != 0``::

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target embedding=peft_lora_adapter:lora_embedding

``lora_conv1d`` does the same for an ``nn.Conv1d`` (the ``conv1d`` contract:
``in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
bias, padding_mode, device, dtype``): ``get_peft_model`` replaces it by
``peft.tuners.lora.Conv1d``, which keeps it as ``base_layer`` (frozen) and adds
``lora_A[adapter]`` (``nn.Conv1d(in, r, kernel_size, stride, padding,
bias=False)``, Kaiming-uniform) and ``lora_B[adapter]`` (``nn.Conv1d(r, out, 1,
groups=groups, bias=False)``, zeros), and computes ``base_layer(x) +
lora_B(lora_A(dropout(x))) * scaling``. Fresh only (``lora_B = 0``)::

    PYTHONPATH=examples/adapters pytest --pyargs conformance \\
        --target conv1d=peft_lora_adapter:lora_conv1d

``lora_conv1d_rank_divisible`` is a diagnostic: the same, with the examples whose
``groups`` does not divide ``r`` (which peft refuses) rejected.
"""

from __future__ import annotations

import _torchvision_on_cpu  # noqa: F401  (peft imports transformers, which imports torchvision)
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

RANK = 4
ALPHA = 8
LEARNING_RATE = 0.5
TRAIN_SEED = 0
TRAIN_BATCH = 8


class _OneLayer(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def lora_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A fresh LoRA layer (``lora_B = 0``): computes what its frozen base layer does."""
    base = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["linear"])
    model = get_peft_model(_OneLayer(base), config)
    return model.base_model.model.linear


def train_one_step(layer: nn.Module) -> None:
    """One SGD step on the mean squared error against random targets (fixed seed)."""
    weight = layer.weight
    gen = torch.Generator().manual_seed(TRAIN_SEED)
    x = torch.randn(TRAIN_BATCH, layer.in_features, generator=gen)
    target = torch.randn(TRAIN_BATCH, layer.out_features, generator=gen)
    x, target = (t.to(device=weight.device, dtype=weight.dtype) for t in (x, target))
    params = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)
    loss = (layer(x) - target).float().pow(2).sum() / max(target.numel(), 1)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def trained_lora_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A LoRA layer after one training step: ``lora_B != 0`` (unless ``in`` or ``out``
    is 0), so it computes ``x @ (W + scaling * B @ A).T + b`` while ``weight`` is ``W``."""
    layer = lora_linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
    train_one_step(layer)
    return layer


class _OneEmbedding(nn.Module):
    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)


def lora_embedding(
    num_embeddings: int,
    embedding_dim: int,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A fresh LoRA embedding (``lora_embedding_A = 0``): looks up what its frozen
    base layer does."""
    base = nn.Embedding(
        num_embeddings,
        embedding_dim,
        padding_idx=padding_idx,
        max_norm=max_norm,
        norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq,
        device=device,
        dtype=dtype,
    )
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["embedding"])
    model = get_peft_model(_OneEmbedding(base), config)
    return model.base_model.model.embedding


def train_embedding_one_step(layer: nn.Module) -> None:
    """One SGD step on the mean squared error against random targets, for random
    indices (fixed seed)."""
    weight = layer.weight
    num_embeddings, dim = weight.shape
    gen = torch.Generator().manual_seed(TRAIN_SEED)
    idx = torch.randint(0, num_embeddings, (TRAIN_BATCH,), generator=gen)
    target = torch.randn(TRAIN_BATCH, dim, generator=gen)
    idx = idx.to(device=weight.device)
    target = target.to(device=weight.device, dtype=weight.dtype)
    params = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)
    loss = (layer(idx) - target).float().pow(2).sum() / max(target.numel(), 1)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def trained_lora_embedding(
    num_embeddings: int,
    embedding_dim: int,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A LoRA embedding after one training step: ``lora_embedding_A != 0`` (in the
    columns of the indices drawn, but the padding row's), so it looks up rows of
    ``W + scaling * (B @ A).T`` while ``weight`` is ``W``."""
    layer = lora_embedding(
        num_embeddings,
        embedding_dim,
        padding_idx=padding_idx,
        max_norm=max_norm,
        norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq,
        device=device,
        dtype=dtype,
    )
    train_embedding_one_step(layer)
    return layer


class _OneConv1d(nn.Module):
    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _conv1d(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] = 1,
    padding: int | str | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Conv1d:
    return nn.Conv1d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
        device=device,
        dtype=dtype,
    )


def _lora_conv1d(base: nn.Conv1d) -> nn.Module:
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["conv"])
    model = get_peft_model(_OneConv1d(base), config)
    return model.base_model.model.conv


def lora_conv1d(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] = 1,
    padding: int | str | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A fresh LoRA convolution (``lora_B = 0``): computes what its frozen base layer does
    (where peft accepts the configuration and its adapter's output has the base's shape)."""
    base = _conv1d(
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode, device, dtype,
    )  # fmt: skip
    return _lora_conv1d(base)


def lora_conv1d_rank_divisible(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] = 1,
    padding: int | str | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A diagnostic: :func:`lora_conv1d` for the configs peft accepts (``groups`` divides
    the rank ``r = 4``).

    Once ``nn.Conv1d`` has accepted the arguments (so an invalid construction still raises
    torch's ``ValueError``), a ``groups`` not dividing ``r`` (``groups=3``) rejects the
    example (``hypothesis.assume``), so the checks draw other configs instead of shrinking
    to the ``ValueError`` peft raises for it, and show what else departs. Everything else
    is :func:`lora_conv1d`."""
    from hypothesis import assume

    base = _conv1d(
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode, device, dtype,
    )  # fmt: skip
    assume(RANK % base.groups == 0)
    return _lora_conv1d(base)
