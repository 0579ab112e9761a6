"""No false alarms: a correct re-implementation of each targetable kind, computed in
a different but legitimate way, passes every check of its kind.

A fused or re-implemented layer cannot match torch's kernels bit for bit (another
summation order, another way of drawing a dropout mask); the checks hold it to the
documented semantics within the rounding bound, and torch's own classes to their
bits. Each re-implementation here is run through ``conformance.check_layer`` over
every dtype of its checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import conformance
from conformance import layers


class MatmulThenAddLinear(nn.Linear):
    """``x @ W.T`` then ``+ b``: two roundings where ``F.linear``'s addmm makes one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


class BernoulliDropout(nn.Module):
    """Draws its mask with ``torch.bernoulli`` and scales by multiplying with
    ``1/(1-p)``: another mask for one seed, and another rounding of the scale."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.numel() == 0:
            return x
        if self.p == 1:
            return x.mul_(0) if self.inplace else x * 0
        keep = torch.bernoulli(torch.full_like(x, 1 - self.p))
        scaled = keep * (1.0 / (1 - self.p))
        return x.mul_(scaled) if self.inplace else x * scaled


def _low_precision(x: torch.Tensor) -> bool:
    return x.dtype in (torch.float16, torch.bfloat16)


class MeanThenVarLayerNorm(nn.LayerNorm):
    """Mean, then the mean of squared deviations, then ``rsqrt``, in float32 for 16-bit
    inputs (as fused kernels do), rather than torch's one-pass Welford kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[x.ndim - len(self.normalized_shape) :]) != tuple(self.normalized_shape):
            raise RuntimeError(f"input {tuple(x.shape)} does not end in {self.normalized_shape}")
        dims = tuple(range(-len(self.normalized_shape), 0))
        xf = x.float() if _low_precision(x) else x
        mean = xf.mean(dims, keepdim=True)
        var = (xf - mean).square().mean(dims, keepdim=True)
        y = (xf - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.to(y.dtype)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.to(x.dtype)


class _Lookup(torch.autograd.Function):
    """Rows by ``index_select``; the weight gradient summed with ``index_add_``,
    scaled by each row's count in the batch, zero for the padding row."""

    @staticmethod
    def forward(weight: torch.Tensor, idx: torch.Tensor, padding_idx: Any, by_freq: bool) -> Any:
        return weight.index_select(0, idx.reshape(-1)).reshape(*idx.shape, weight.shape[1])

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        weight, idx, padding_idx, by_freq = inputs
        ctx.save_for_backward(idx)
        ctx.rows, ctx.padding_idx, ctx.by_freq = weight.shape[0], padding_idx, by_freq

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (idx,) = ctx.saved_tensors
        flat = idx.reshape(-1)
        rows = grad.reshape(-1, grad.shape[-1])
        if ctx.by_freq:
            counts = torch.bincount(flat, minlength=ctx.rows).to(grad.dtype)
            rows = rows / counts[flat].unsqueeze(1)
        out = grad.new_zeros(ctx.rows, grad.shape[-1]).index_add_(0, flat, rows)
        if ctx.padding_idx is not None:
            out[ctx.padding_idx] = 0
        return out, None, None, None


class IndexSelectEmbedding(nn.Embedding):
    """``index_select`` and a hand-written backward; ``max_norm`` renormalises the
    looked-up rows in place with its own arithmetic."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dtype not in (torch.int32, torch.int64):
            raise RuntimeError(f"indices must be int32 or int64, not {idx.dtype}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.num_embeddings):
            raise IndexError(f"index out of range for {self.num_embeddings} embeddings")
        idx = idx.long()
        if self.max_norm is not None:
            with torch.no_grad():
                rows = idx.unique()
                norms = self.weight[rows].norm(p=self.norm_type, dim=1, keepdim=True)
                scale = torch.where(
                    norms > self.max_norm, self.max_norm / (norms + 1e-7), torch.ones_like(norms)
                )
                self.weight[rows] *= scale
        return _Lookup.apply(self.weight, idx, self.padding_idx, self.scale_grad_by_freq)


class _ManualBatchNorm:
    """Batch statistics by ``mean``/``var``, running statistics updated by hand, in
    float32 for 16-bit inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn: Any = self
        bn._check_input_dim(x)
        if x.shape[1] != bn.num_features:
            raise RuntimeError(f"expected {bn.num_features} channels, got {x.shape[1]}")
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        xf = x.float() if _low_precision(x) else x
        if bn.training or not bn.track_running_stats:
            n = x.numel() // x.shape[1] if x.shape[1] else 0
            if n <= 1:  # batch statistics of one value: as torch, in either mode
                raise ValueError(f"Expected more than 1 value per channel, got {list(x.shape)}")
            mean, var = xf.mean(dims), xf.var(dims, unbiased=False)
            if bn.training and bn.track_running_stats:
                with torch.no_grad():
                    bn.num_batches_tracked += 1
                    m = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
                    unbiased = var * (n / (n - 1))
                    bn.running_mean.copy_((1 - m) * bn.running_mean + m * mean)
                    bn.running_var.copy_((1 - m) * bn.running_var + m * unbiased)
        else:
            mean, var = bn.running_mean.to(xf.dtype), bn.running_var.to(xf.dtype)
        y = (xf - mean.view(shape)) / torch.sqrt(var.view(shape) + bn.eps)
        if bn.weight is not None:
            y = y * bn.weight.to(y.dtype).view(shape) + bn.bias.to(y.dtype).view(shape)
        return y.to(x.dtype)


class ManualBatchNorm1d(_ManualBatchNorm, nn.BatchNorm1d):
    pass


class ManualBatchNorm2d(_ManualBatchNorm, nn.BatchNorm2d):
    pass


class _UnfoldConv:
    """Padding by ``F.pad``, then ``unfold`` and one grouped matrix product: how
    im2col kernels compute a convolution, in another summation order than torch's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv: Any = self
        nd = len(conv.kernel_size)
        unbatched = x.ndim == nd + 1
        if x.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"expected a {nd + 1}-d or {nd + 2}-d input, got {x.ndim}-d")
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != conv.in_channels:
            raise RuntimeError(f"expected {conv.in_channels} channels, got {x.shape[1]}")
        if x.dtype != conv.weight.dtype:
            raise RuntimeError(f"input of dtype {x.dtype}, weight of dtype {conv.weight.dtype}")
        mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
        x = F.pad(x, conv._reversed_padding_repeated_twice, mode=mode)
        if nd == 1:
            x = x.unsqueeze(2)
        kernel = (1, *conv.kernel_size) if nd == 1 else conv.kernel_size
        dilation = (1, *conv.dilation) if nd == 1 else conv.dilation
        stride = (1, *conv.stride) if nd == 1 else conv.stride
        sizes = [
            (x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(2)
        ]
        cols = F.unfold(x, kernel, dilation=dilation, stride=stride)
        g = conv.groups
        n = x.shape[0]
        per_group = conv.in_channels // g * kernel[0] * kernel[1]
        cols = cols.reshape(n, g, per_group, cols.shape[-1])
        weight = conv.weight.reshape(g, conv.out_channels // g, per_group)
        out = torch.einsum("gok,ngkl->ngol", weight, cols).reshape(n, conv.out_channels, *sizes)
        if nd == 1:
            out = out.squeeze(2)
        if conv.bias is not None:
            out = out + conv.bias.view(1, -1, *([1] * nd))
        return out.squeeze(0) if unbatched else out


class UnfoldConv1d(_UnfoldConv, nn.Conv1d):
    pass


class UnfoldConv2d(_UnfoldConv, nn.Conv2d):
    pass


REIMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "linear": MatmulThenAddLinear,
    "dropout": BernoulliDropout,
    "layer_norm": MeanThenVarLayerNorm,
    "embedding": IndexSelectEmbedding,
    "batch_norm1d": ManualBatchNorm1d,
    "batch_norm2d": ManualBatchNorm2d,
    "conv1d": UnfoldConv1d,
    "conv2d": UnfoldConv2d,
}


@pytest.mark.parametrize("kind", sorted(REIMPLEMENTATIONS))
def test_a_correct_reimplementation_passes_every_check_of_its_kind(kind):
    report = conformance.check_layer(kind, REIMPLEMENTATIONS[kind], max_examples=30)
    assert report.passed
    assert not report.failures


def test_every_kit_kind_has_a_reimplementation_here():
    builtin = {name for name, info in layers.registry().items() if info.fixture is not None}
    assert builtin <= set(REIMPLEMENTATIONS), sorted(builtin - set(REIMPLEMENTATIONS))
