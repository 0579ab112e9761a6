"""Proof of power for the LayerNorm and Embedding checks: each planted fault fails
the check that guards it, and stock torch passes the same check.

Faults are small ``nn.LayerNorm`` / ``nn.Embedding`` subclasses, handed to the
generic checks of ``test_registered_layers`` as the kind's ``layer`` and to the
kind-specific suites (``test_layer_norm``, ``test_embedding``) as
``layer_norm_cls`` / ``embedding_cls``. They run under the suites' profile
minus shrinking (:func:`planting.run_unshrunk`).

The LayerNorm faults under the generic reference check are the ones the
oracle's error bound must not hide: the unbiased variance, ``eps`` outside
the square root, and normalising over the wrong axes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from planting import run_unshrunk
from torch import nn

from conformance import layers
from conformance import test_embedding as embedding_suite
from conformance import test_layer_norm as layer_norm_suite
from conformance import test_registered_layers as generic
from conformance.layers import LayerUnderTest

# The planted variances warn on one-element rows, where they are NaN: that is the fault.
pytestmark = pytest.mark.filterwarnings(r"ignore:var\(\). degrees of freedom:UserWarning")

CPU = torch.device("cpu")
LAYER_NORM = layers.get("layer_norm")
EMBEDDING = layers.get("embedding")
FIXTURES: dict[str, Any] = {"device": CPU, "dtype": torch.float32}


# --- LayerNorm faults ----------------------------------------------------------


def _dims(module: nn.LayerNorm, x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(x.ndim - len(module.normalized_shape), x.ndim))


def _affine(module: nn.LayerNorm, y: torch.Tensor) -> torch.Tensor:
    if module.weight is not None:
        y = y * module.weight
    if module.bias is not None:
        y = y + module.bias
    return y


class UnbiasedVariance(nn.LayerNorm):
    """Divides the squared deviations by ``N - 1`` (``torch.var``'s default)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = _dims(self, x)
        var = x.var(dims, correction=1, keepdim=True)
        return _affine(self, (x - x.mean(dims, keepdim=True)) / torch.sqrt(var + self.eps))


class EpsOutsideSqrt(nn.LayerNorm):
    """``(x - mean) / (sqrt(var) + eps)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = _dims(self, x)
        var = x.var(dims, correction=0, keepdim=True)
        return _affine(self, (x - x.mean(dims, keepdim=True)) / (torch.sqrt(var) + self.eps))


class LastAxisOnly(nn.LayerNorm):
    """Normalises over the last dim only, whatever ``normalized_shape`` says."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, x.shape[-1:], None, None, self.eps)
        return _affine(self, y)


class BiasAlwaysRegistered(nn.LayerNorm):
    """Ignores ``bias=False``: registers a zero bias parameter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.elementwise_affine and self.bias is None:
            del self.bias
            self.bias = nn.Parameter(torch.zeros_like(self.weight))


class NormalisesAnyTrailingDims(nn.LayerNorm):
    """Normalises over as many trailing dims as ``normalized_shape`` has, whatever
    their sizes, and skips the affine map when the shapes do not fit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - k :]) == tuple(self.normalized_shape):
            return super().forward(x)
        if x.ndim < k:
            return x.clone()
        return F.layer_norm(x, x.shape[x.ndim - k :], None, None, self.eps)


class CachesAffineOnFirstCall(nn.LayerNorm):
    """Keeps copies of weight and bias from the first call (a fused-kernel cache)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not hasattr(self, "_cached"):
            self._cached = tuple(
                None if p is None else p.detach().clone() for p in (self.weight, self.bias)
            )
        weight, bias = self._cached
        return F.layer_norm(x, self.normalized_shape, weight, bias, self.eps)


class _DropsProjectionGrad(torch.autograd.Function):
    """Normalisation without affine map whose backward forgets the ``n mean(h n)``
    term: ``dx = s (h - mean(h))``."""

    @staticmethod
    def forward(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
        mean = x.mean(dims, keepdim=True)
        return (x - mean) / torch.sqrt(x.var(dims, correction=0, keepdim=True) + eps)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, dims, eps = inputs
        ctx.dims = dims
        ctx.save_for_backward(torch.rsqrt(x.var(dims, correction=0, keepdim=True) + eps))

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (s,) = ctx.saved_tensors
        return s * (g - g.mean(ctx.dims, keepdim=True)), None, None


class WrongInputGrad(nn.LayerNorm):
    """Right forward, ``dx`` without the projection term (see :class:`_DropsProjectionGrad`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0:
            return super().forward(x)
        return _affine(self, _DropsProjectionGrad.apply(x, _dims(self, x), self.eps))


class WeightGradFromLastRow(nn.LayerNorm):
    """Right forward, but the weight's gradient comes from the last batch row only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, self.normalized_shape, None, None, self.eps)
        if self.weight is None or x.ndim == len(self.normalized_shape) or x.numel() == 0:
            return _affine(self, y)
        rows = y.reshape(-1, *self.normalized_shape)
        mask = torch.zeros(rows.shape[0], *([1] * len(self.normalized_shape)), dtype=y.dtype)
        mask[-1] = 1
        w = self.weight
        scaled = rows * (w * mask + w.detach() * (1 - mask))
        out = scaled.reshape(y.shape)
        return out if self.bias is None else out + self.bias


class RandomInit(nn.LayerNorm):
    """Starts its weight at U(0.5, 1.5) instead of ones."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.weight is not None:
            with torch.no_grad():
                self.weight.uniform_(0.5, 1.5)


class KeepsRunningMean(nn.LayerNorm):
    """Registers a running mean buffer and updates it in training (BatchNorm's habit);
    the output is right."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shape = self.normalized_shape
        self.register_buffer("running_mean", torch.zeros(shape, device=kwargs.get("device")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        running = self.running_mean
        assert isinstance(running, torch.Tensor)
        if self.training and x.numel() > 0:
            with torch.no_grad():
                batch = x.reshape(-1, *self.normalized_shape).mean(0)
                running.mul_(0.9).add_(0.1 * batch.to(running.dtype))
        return super().forward(x)


# --- Embedding faults ------------------------------------------------------------


class RenormalisesOutputOnly(nn.Embedding):
    """Returns the renormalised rows but leaves the weight as it was."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if self.max_norm is None:
            return super().forward(idx)
        with torch.no_grad():
            copy = self.weight.detach().clone()
            torch.embedding_renorm_(copy, idx.contiguous(), self.max_norm, self.norm_type)
        rows = F.embedding(idx, self.weight, self.padding_idx)
        return rows + (F.embedding(idx, copy) - rows).detach()


class FlattensIndices(nn.Embedding):
    """A kernel written for 1-D indices: any index tensor gives ``(numel, dim)``."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return super().forward(idx.reshape(-1))


class ClampsIndices(nn.Embedding):
    """Clamps indices into range instead of raising."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dtype not in (torch.int64, torch.int32):
            return super().forward(idx)
        return super().forward(idx.clamp(0, self.num_embeddings - 1))


class CachesTableOnFirstCall(nn.Embedding):
    """Looks rows up in a copy of the weight taken at the first call."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if not hasattr(self, "_table"):
            self._table = self.weight.detach().clone()
        return F.embedding(idx, self._table)


class TransposedTable(nn.Embedding):
    """Stores its table as ``(embedding_dim, num_embeddings)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weight = nn.Parameter(self.weight.detach().t().contiguous())

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight.t())


class PaddingRowGetsGradient(nn.Embedding):
    """Forgets ``padding_idx`` in the lookup: the padding row is trained."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(
            idx, self.weight, None, self.max_norm, self.norm_type, self.scale_grad_by_freq
        )


class IgnoresGradFrequency(nn.Embedding):
    """Forgets ``scale_grad_by_freq``."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight, self.padding_idx, self.max_norm, self.norm_type)


class PaddingRowNotZeroed(nn.Embedding):
    """Draws every row from N(0, 1), the padding row too."""

    def _fill_padding_idx_with_zero(self) -> None:
        pass


class IgnoresMaxNorm(nn.Embedding):
    """Forgets ``max_norm``: nothing is renormalised."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight, self.padding_idx)


class RenormalisesWholeTable(nn.Embedding):
    """Renormalises every row of the table, not only the looked-up ones."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if self.max_norm is not None:
            every = torch.arange(self.num_embeddings, device=idx.device)
            with torch.no_grad():
                torch.embedding_renorm_(self.weight, every, self.max_norm, self.norm_type)
        return super().forward(idx)


class RenormalisesWithoutEpsilon(nn.Embedding):
    """Scales rows to exactly ``max_norm`` (``max_norm / norm``, no ``1e-7``):
    within float32 rounding of torch for norms near 1, not for small ``max_norm``."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if self.max_norm is not None:
            with torch.no_grad():
                for r in torch.unique(idx).tolist():
                    norm = float(self.weight[r].norm(self.norm_type))
                    if norm > self.max_norm:
                        self.weight[r] *= self.max_norm / norm
        return F.embedding(idx, self.weight, self.padding_idx)


def _from_pretrained(cls: Any, embeddings: torch.Tensor, **kwargs: Any) -> Any:
    """``nn.Embedding.from_pretrained`` building ``cls``."""
    return nn.Embedding.from_pretrained.__func__(cls, embeddings, **kwargs)  # type: ignore[attr-defined]


class FromPretrainedIgnoresFreeze(nn.Embedding):
    """``from_pretrained`` always trains the weight."""

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: Any = True, **kwargs: Any) -> Any:  # type: ignore[override]
        return _from_pretrained(cls, embeddings, freeze=False, **kwargs)


class FromPretrainedZeroesPadding(nn.Embedding):
    """``from_pretrained`` zeroes the padding row, as ``reset_parameters`` does."""

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: Any = True, **kwargs: Any) -> Any:  # type: ignore[override]
        module = _from_pretrained(cls, embeddings, freeze=freeze, **kwargs)
        module._fill_padding_idx_with_zero()
        return module


class NegativeIndicesFromTheEnd(nn.Embedding):
    """Reads index ``-k`` as row ``num_embeddings - k`` (Python's indexing)."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dtype in (torch.int64, torch.int32):
            n = self.num_embeddings
            idx = torch.where((idx < 0) & (idx >= -n), idx + n, idx)
        return super().forward(idx)


class ChecksIndicesFirst(nn.Embedding):
    """Correct: rejects out-of-range indices before renormalising anything."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.num_embeddings):
            raise IndexError("index out of range in self")
        return super().forward(idx)


# --- cases -------------------------------------------------------------------------


def _generic(
    check: Callable[..., None],
    info: layers.LayerInfo,
    impl: Any,
    caught: bool,
    match: str = "",
    dtype: torch.dtype = torch.float32,
) -> Any:
    name = f"{check.__name__.removeprefix('test_')}-{info.name}-{impl.__name__}"
    if dtype != torch.float32:
        name += f"-{str(dtype).removeprefix('torch.')}"
    fixtures = {**FIXTURES, "dtype": dtype, "layer": LayerUnderTest(info, impl)}
    return pytest.param(check, fixtures, caught, match, id=name)


def _specific(
    check: Callable[..., None], fixture: str, impl: Any, caught: bool, match: str = ""
) -> Any:
    name = f"{check.__name__.removeprefix('test_')}-{impl.__name__}"
    return pytest.param(check, {**FIXTURES, fixture: impl}, caught, match, id=name)


def _guarded_generic(check: Callable[..., None], info: layers.LayerInfo, *faults: Any) -> list[Any]:
    stock = info.default_implementation()
    planted = [f if isinstance(f, tuple) else (f, "") for f in faults]
    return [_generic(check, info, stock, False)] + [
        _generic(check, info, f, True, m) for f, m in planted
    ]


def _guarded(check: Callable[..., None], fixture: str, stock: Any, *faults: Any) -> list[Any]:
    planted = [f if isinstance(f, tuple) else (f, "") for f in faults]
    return [_specific(check, fixture, stock, False)] + [
        _specific(check, fixture, f, True, m) for f, m in planted
    ]


LN, EMB = "layer_norm_cls", "embedding_cls"

CASES = [
    # The generic checks on the two kinds.
    *_guarded_generic(
        generic.test_layer_matches_reference,
        LAYER_NORM,
        (UnbiasedVariance, "> allowed"),
        (EpsOutsideSqrt, "> allowed"),
        (LastAxisOnly, "> allowed"),
    ),
    # The reference's bound is derived for every unit roundoff up to bfloat16's:
    # stock LayerNorm stays within it in float16 too (the kind's own dtypes
    # leave float16 out), and the faults still fall outside it in float64.
    _generic(
        generic.test_layer_matches_reference, LAYER_NORM, nn.LayerNorm, False, dtype=torch.float16
    ),
    _generic(
        generic.test_layer_matches_reference, LAYER_NORM, nn.LayerNorm, False, dtype=torch.bfloat16
    ),
    _generic(
        generic.test_layer_matches_reference,
        LAYER_NORM,
        EpsOutsideSqrt,
        True,
        "> allowed",
        dtype=torch.float64,
    ),
    _generic(
        generic.test_layer_matches_reference,
        LAYER_NORM,
        UnbiasedVariance,
        True,
        "> allowed",
        dtype=torch.bfloat16,
    ),
    *_guarded_generic(
        generic.test_layer_has_declared_parameters, LAYER_NORM, (BiasAlwaysRegistered, "None")
    ),
    *_guarded_generic(
        generic.test_layer_rejects_error_inputs, LAYER_NORM, (NormalisesAnyTrailingDims, "raise")
    ),
    *_guarded_generic(
        generic.test_layer_sees_in_place_parameter_updates,
        LAYER_NORM,
        (CachesAffineOnFirstCall, "after the update"),
    ),
    *_guarded_generic(
        generic.test_layer_matches_reference, EMBEDDING, (FlattensIndices, "out.shape")
    ),
    *_guarded_generic(
        generic.test_layer_has_declared_parameters, EMBEDDING, (TransposedTable, "weight.shape")
    ),
    *_guarded_generic(generic.test_layer_rejects_error_inputs, EMBEDDING, (ClampsIndices, "raise")),
    *_guarded_generic(
        generic.test_layer_sees_in_place_parameter_updates,
        EMBEDDING,
        (CachesTableOnFirstCall, "after the update"),
    ),
    # test_layer_norm
    *_guarded(
        layer_norm_suite.test_layer_norm_gradients,
        LN,
        nn.LayerNorm,
        (WrongInputGrad, "x.grad"),
        (WeightGradFromLastRow, "weight.grad"),
    ),
    *_guarded(
        layer_norm_suite.test_layer_norm_initial_parameters,
        LN,
        nn.LayerNorm,
        (RandomInit, "weight"),
    ),
    *_guarded(
        layer_norm_suite.test_layer_norm_keeps_no_state,
        LN,
        nn.LayerNorm,
        (KeepsRunningMean, "buffers=['running_mean']"),
    ),
    # test_embedding
    *_guarded(
        embedding_suite.test_embedding_weight_gradient,
        EMB,
        nn.Embedding,
        (PaddingRowGetsGradient, "weight.grad"),
        (IgnoresGradFrequency, "weight.grad"),
    ),
    *_guarded(
        embedding_suite.test_embedding_padding_row_starts_at_zero,
        EMB,
        nn.Embedding,
        (PaddingRowNotZeroed, "the padding row"),
    ),
    *_guarded(
        embedding_suite.test_embedding_max_norm_renormalises_looked_up_rows,
        EMB,
        nn.Embedding,
        (IgnoresMaxNorm, "weight["),
        (RenormalisesWholeTable, "should be unchanged"),
        (RenormalisesOutputOnly, "weight["),
    ),
    *_guarded(
        embedding_suite.test_embedding_from_pretrained,
        EMB,
        nn.Embedding,
        (FromPretrainedIgnoresFreeze, "requires_grad"),
        (FromPretrainedZeroesPadding, "weight["),
    ),
    *_guarded(
        embedding_suite.test_embedding_rejects_out_of_range_indices,
        EMB,
        nn.Embedding,
        (NegativeIndicesFromTheEnd, "should raise"),
    ),
    # torch's own Embedding is the fault here (a known deviation): a rejected
    # call has already renormalised the valid rows. A correct layer passes.
    _specific(
        embedding_suite.test_embedding_rejected_call_leaves_weight_unchanged,
        EMB,
        ChecksIndicesFirst,
        False,
    ),
    _specific(
        embedding_suite.test_embedding_rejected_call_leaves_weight_unchanged,
        EMB,
        nn.Embedding,
        True,
        "weight after the rejected call",
    ),
    # The renormalisation check is within rounding, not bitwise: a layer that
    # leaves out the 1e-7 passes at float32 with max_norm >= 0.5.
    _specific(
        embedding_suite.test_embedding_max_norm_renormalises_looked_up_rows,
        EMB,
        RenormalisesWithoutEpsilon,
        False,
    ),
]

#: The checks a planted fault fails (tests/test_fault_coverage.py).
GUARDED = {case.values[0] for case in CASES if case.values[2]}


@pytest.mark.parametrize(("check", "fixtures", "caught", "match"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], fixtures: dict[str, Any], caught: bool, match: str
) -> None:
    if caught:
        with pytest.raises(AssertionError) as failure:
            _run(check, fixtures)
        assert match in str(failure.value), str(failure.value)
    else:
        _run(check, fixtures)


def _run(check: Callable[..., None], fixtures: dict[str, Any]) -> None:
    if hasattr(check, "hypothesis"):
        run_unshrunk(check, fixtures)
        return
    # A fixed-example check: called with the fixtures it takes.
    wanted = inspect.signature(check).parameters
    check(**{name: value for name, value in fixtures.items() if name in wanted})
