"""Proof of power for the Linear suites: each planted fault fails the check that
guards it, and stock ``torch.nn.Linear`` passes the same check.

Faults are small ``nn.Linear`` subclasses passed as ``linear_cls=`` to the
suite's test functions, called directly with the fixtures as keyword
arguments. They run under the suites' conformance-ci profile minus the shrink
phase: a fault test needs the failure, not the minimal example, and shrinking
takes seconds per fault.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from device_faults import BrokenOffReference
from planting import run_unshrunk
from torch import nn
from torch.nn import init

from conformance import test_linear as suite
from conformance import test_parity as parity

CPU = torch.device("cpu")
# Parity needs two devices. "cpu:0" is the same hardware under another name:
# the device-dependent faults below break only when built for it, standing
# in for a kernel bug on one backend.
SECOND_CPU = torch.device("cpu:0")


# --- faults ------------------------------------------------------------------


class DropsBias(nn.Linear):
    """Forgets to add the bias."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class TransposesSquareWeight(nn.Linear):
    """Applies ``A`` instead of ``A^T``; only square weights get through the shape check."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        square = self.in_features == self.out_features
        return F.linear(x, self.weight.T if square else self.weight, self.bias)


class MishandlesEmptyBatch(nn.Linear):
    """Returns ``(0, out)`` for any empty batch, losing the batch dims."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim > 1 and math.prod(x.shape[:-1]) == 0:
            return x.new_zeros(0, self.out_features)
        return super().forward(x)


class Mishandles1D(nn.Linear):
    """Treats a 1-D input as a batch of one and forgets to squeeze: ``(1, out)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(0) if x.ndim == 1 else x)


class _LastItemWeightGrad(torch.autograd.Function):
    """The affine map, whose weight gradient uses only the last batch item
    instead of summing over the batch."""

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        batch = math.prod(x.shape[:-1])
        xs, gs = x.reshape(batch, x.shape[-1]), g.reshape(batch, g.shape[-1])
        grad_weight = gs[-1:].T @ xs[-1:]
        return g @ weight, grad_weight, gs.sum(0) if ctx.has_bias else None


class WrongWeightGrad(nn.Linear):
    """Right forward, wrong ``dL/dW`` (see :class:`_LastItemWeightGrad`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = _LastItemWeightGrad.apply(x, self.weight, self.bias)
        return out


class NarrowInit(nn.Linear):
    """Draws from ``U(-1/in, 1/in)``: inside the documented range, not spread over it."""

    def reset_parameters(self) -> None:
        bound = 1 / self.in_features if self.in_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)


class WideInit(nn.Linear):
    """``kaiming_uniform_`` with its default ``a=0``: ``U(-sqrt(6/in), sqrt(6/in))``."""

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound)


def _fit_features(x: torch.Tensor, in_features: int) -> torch.Tensor:
    """Zero-pads or crops the last dim to ``in_features`` (the silent-acceptance bug)."""
    return F.pad(x, (0, in_features - x.shape[-1])) if x.ndim else x


class AcceptsWrongFeatures(nn.Linear):
    """Pads or crops the input to ``in_features`` instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_fit_features(x, self.in_features))


class CachesTransposedWeight(nn.Linear):
    """Pre-transposes ``weight`` once, at construction, for a contiguous matmul:
    later writes into ``weight`` (``copy_`` under ``no_grad``) never reach it."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.weight_t = self.weight.detach().T.contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight_t
        return out if self.bias is None else out + self.bias


class BindsWeightOnce(nn.Linear):
    """Binds its weight into the forward once (as a compiled or fused kernel
    would): ``module.weight = nn.Parameter(A)`` registers ``A``, but calls
    still use the weight it was built with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weight = self.weight
        self.kernel: Callable[[torch.Tensor], torch.Tensor] = lambda x: F.linear(
            x, weight, self.bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernel(x)


def _read_row_major(x: torch.Tensor) -> torch.Tensor:
    """What a kernel that takes ``x``'s data pointer and assumes row-major
    strides reads: ``numel`` consecutive elements from the storage offset
    (past the end of the memory, as for an expanded tensor: zeros here)."""
    n = x.numel()
    memory = x.new_empty(0).set_(x.untyped_storage())
    flat = memory[x.storage_offset() : x.storage_offset() + n]
    return F.pad(flat, (0, n - flat.numel())).reshape(x.shape)


class IgnoresStrides(nn.Linear):
    """Reads the input's memory as if it were contiguous (a kernel on
    ``data_ptr()`` that never looks at the strides)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_read_row_major(x))


class AccumulatesInFloat64(nn.Linear):
    """Computes in float64 and rounds once at the end: more accurate than
    ``F.linear`` (so within every rounding bound), but not its bits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.double()
        return F.linear(x.double(), self.weight.double(), bias).to(x.dtype)


def _truncate_to_bfloat16(t: torch.Tensor) -> torch.Tensor:
    """``t`` (float32) converted to bfloat16 the cheap way, by dropping the low
    16 bits (rounding toward zero), and back."""
    return (t.view(torch.int32) & ~0xFFFF).view(torch.float32)


class BFloat16WhenTF32Allowed(nn.Linear):
    """Reads ``allow_tf32`` as leave to use bfloat16 operands (7 mantissa bits,
    where TF32 keeps 10), truncated rather than rounded: with TF32 pinned off
    it is exact float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (torch.backends.cuda.matmul.allow_tf32 and x.dtype == torch.float32):
            return super().forward(x)
        weight = _truncate_to_bfloat16(self.weight)
        return F.linear(_truncate_to_bfloat16(x), weight, self.bias)


def _round_to_tf32(t: torch.Tensor) -> torch.Tensor:
    """``t`` (float32) rounded to TF32's 10 mantissa bits, to nearest even."""
    bits = t.view(torch.int32)
    rounded = (bits + 0x0FFF + ((bits >> 13) & 1)) & ~0x1FFF
    return rounded.view(torch.float32)


class AlwaysTF32(nn.Linear):
    """Rounds float32 operands to TF32 whatever the flags say (as a kernel that
    ignores the pinned ``allow_tf32=False`` would)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            return super().forward(x)
        return F.linear(_round_to_tf32(x), _round_to_tf32(self.weight), self.bias)


class SwapsPositionalFeatures(nn.Linear):
    """Takes ``(out_features, in_features)`` positionally (the order of the
    weight's shape), so only keyword construction builds what was asked."""

    def __init__(
        self,
        out_features: int,
        in_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)


class StoresWeightInOut(nn.Linear):
    """Keeps the weight as ``(in, out)`` and computes ``x @ W`` (the Keras and JAX
    convention): right values, wrong ``weight.shape``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, **kw: Any) -> None:
        super().__init__(in_features, out_features, bias=bias, **kw)
        self.weight = nn.Parameter(self.weight.detach().T.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight
        return out if self.bias is None else out + self.bias


class RegistersBiasFirst(nn.Linear):
    """Creates ``bias`` before ``weight``, so ``named_parameters()`` yields them
    in that order (optimizer param groups and state dicts that go by position
    then pair them up wrongly)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, **kw: Any) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = in_features, out_features
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **kw))
        self.reset_parameters()


class ReprOmitsBiasFalse(nn.Linear):
    """Mentions ``bias`` only when it is on: ``Linear(in_features=4, out_features=3)``
    for a layer without bias reads like the default, which has one."""

    def extra_repr(self) -> str:
        bias = ", bias=True" if self.bias is not None else ""
        return f"in_features={self.in_features}, out_features={self.out_features}{bias}"


class BroadcastsScalarInput(nn.Linear):
    """Takes a 0-d input as one value for every feature instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.expand(self.in_features) if x.ndim == 0 else x)


class CastsInputDtype(nn.Linear):
    """Casts the input to the weight's dtype instead of raising (silent promotion
    or demotion, e.g. float64 data through a float32 layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.to(self.weight.dtype))


class DropsBiasOffReference(BrokenOffReference):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, None if self.broken else self.bias)


class AcceptsWrongFeaturesOffReference(BrokenOffReference):
    """pytorch#62537 in miniature: one device accepts a wrong ``in_features``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_fit_features(x, self.in_features) if self.broken else x)


# --- running a suite check directly ------------------------------------------

FIXTURES: dict[str, Any] = {"device": CPU, "dtype": torch.float32, "parity_device": SECOND_CPU}


def run_check(check: Callable[..., None], linear_cls: type[nn.Module]) -> None:
    if hasattr(check, "hypothesis"):
        run_unshrunk(check, FIXTURES, linear_cls=linear_cls)
        return
    # A fixed-example check: called with the fixtures it takes, eagerly (as
    # run_unshrunk runs the others).
    wanted = inspect.signature(check).parameters
    args = {k: v for k, v in FIXTURES.items() if k in wanted}
    if "mode" in wanted:
        from conformance.modes import EAGER

        args["mode"] = EAGER
    check(**args, linear_cls=linear_cls)


#: A fault, or a fault and a fragment that the check's failure message must
#: contain (what it names as broken).
Planted = type[nn.Module] | tuple[type[nn.Module], str]


def _case(
    check: Callable[..., None], linear_cls: type[nn.Module], caught: bool, match: str = ""
) -> Any:
    name = check.__name__.removeprefix("test_")
    return pytest.param(check, linear_cls, caught, match, id=f"{name}-{linear_cls.__name__}")


def _guarded(check: Callable[..., None], *faults: Planted) -> list[Any]:
    """The stock class passes ``check``; each fault fails it."""
    planted = [f if isinstance(f, tuple) else (f, "") for f in faults]
    return [_case(check, nn.Linear, False)] + [_case(check, f, True, m) for f, m in planted]


CASES = [
    *_guarded(
        suite.test_linear_matches_affine,
        DropsBias,
        TransposesSquareWeight,
        MishandlesEmptyBatch,
        Mishandles1D,
    ),
    *_guarded(suite.test_linear_gradients_match_formulas, WrongWeightGrad),
    *_guarded(suite.test_linear_gradcheck, WrongWeightGrad),
    *_guarded(suite.test_linear_init_within_bound, WideInit),
    *_guarded(suite.test_linear_init_spread_uniformly, NarrowInit),
    *_guarded(suite.test_linear_rejects_wrong_feature_size, AcceptsWrongFeatures),
    # Why the distributional check exists: the range check alone passes NarrowInit.
    _case(suite.test_linear_init_within_bound, NarrowInit, False),
    # Parity, CPU against "cpu:0": device-dependent faults that every
    # single-device check passes on CPU, and that only parity catches.
    *_guarded(parity.test_parity_forward_and_backward, DropsBiasOffReference),
    *_guarded(parity.test_parity_errors, AcceptsWrongFeaturesOffReference),
    _case(suite.test_linear_matches_affine, DropsBiasOffReference, False),
    _case(suite.test_linear_rejects_wrong_feature_size, AcceptsWrongFeaturesOffReference, False),
    *_guarded(suite.test_linear_classic_example, (CachesTransposedWeight, "but should be 30.0")),
    # Either the output or the (absent) weight gradient gives it away.
    *_guarded(suite.test_linear_uses_assigned_weight, (BindsWeightOnce, "but should be")),
    *_guarded(suite.test_linear_ignores_input_layout, (IgnoresStrides, "x.stride=")),
    # A re-implementation that rounds differently is no fault: within rounding of
    # F.linear is what a target owes (issue 12's false alarm). The bitwise check
    # is torch's own: see test_torchs_linear_must_match_functional_bitwise.
    _case(suite.test_linear_matches_functional, AccumulatesInFloat64, False),
    # Why the bitwise check exists: within rounding, the affine check passes it.
    _case(suite.test_linear_matches_affine, AccumulatesInFloat64, False),
    *_guarded(suite.test_linear_matches_affine_with_tf32, (BFloat16WhenTF32Allowed, "> allowed")),
    # TF32 rounding is allowed when TF32 is, and only then: a kernel that
    # ignores the pinned flag passes the TF32 check and fails the pinned one.
    _case(suite.test_linear_matches_affine_with_tf32, AlwaysTF32, False),
    _case(suite.test_linear_matches_affine, AlwaysTF32, True, "> allowed"),
    *_guarded(
        suite.test_linear_keyword_construction_matches_positional,
        (SwapsPositionalFeatures, "weight.shape="),
    ),
    *_guarded(suite.test_linear_parameter_shapes, (StoresWeightInOut, "weight.shape=")),
    *_guarded(
        suite.test_linear_registers_weight_and_bias,
        (RegistersBiasFirst, "named_parameters() yields ['bias', 'weight']"),
    ),
    *_guarded(suite.test_linear_repr_reflects_config, (ReprOmitsBiasFalse, "bias=False'")),
    *_guarded(
        suite.test_linear_rejects_0d_input,
        (BroadcastsScalarInput, "module(x) returned a tensor of shape"),
    ),
    *_guarded(
        suite.test_linear_rejects_mismatched_dtype,
        (CastsInputDtype, "returned a tensor of shape"),
    ),
]

#: The checks a planted fault fails (tests/test_fault_coverage.py).
GUARDED = {case.values[0] for case in CASES if case.values[2]} | {
    suite.test_linear_matches_functional,
    suite.test_linear_low_precision_sums_in_float32,
}


class SumsInOwnPrecision(nn.Linear):
    """float16/bfloat16 products summed one after another with the running sum
    rounded to the dtype (a naive loop without a float32 accumulator). A pairwise
    (tree) sum in the dtype errs by only about log2(k) roundings of random sign
    and stays within the check's two-rounding bound: the check is not meant to
    tell it from a float32 sum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype not in (torch.float16, torch.bfloat16):
            return super().forward(x)
        products = x.unsqueeze(-2) * self.weight  # (..., out, in), each rounded
        total = products.new_zeros(products.shape[:-1])
        for k in range(self.in_features):
            total = total + products[..., k]
        return total if self.bias is None else total + self.bias


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_low_precision_accumulation_is_caught(dtype: torch.dtype) -> None:
    """A running sum in the dtype leaves the two-roundings bound; stock torch passes."""
    fixtures = {**FIXTURES, "dtype": dtype}
    run_unshrunk(suite.test_linear_low_precision_sums_in_float32, fixtures, linear_cls=nn.Linear)
    with pytest.raises(AssertionError, match=r"out\[.*> allowed"):
        run_unshrunk(
            suite.test_linear_low_precision_sums_in_float32,
            fixtures,
            linear_cls=SumsInOwnPrecision,
        )


def test_torchs_linear_must_match_functional_bitwise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted in ``torch.nn.Linear`` itself: its forward accumulating in float64 is
    within every rounding bound, but no longer ``F.linear``'s bits."""
    monkeypatch.setattr(nn.Linear, "forward", AccumulatesInFloat64.forward)
    with pytest.raises(AssertionError, match="elements differ"):
        run_check(suite.test_linear_matches_functional, nn.Linear)


@pytest.mark.parametrize(("check", "linear_cls", "caught", "match"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], linear_cls: type[nn.Module], caught: bool, match: str
) -> None:
    if caught:
        with pytest.raises(AssertionError) as failure:
            run_check(check, linear_cls)
        assert match in str(failure.value), str(failure.value)
    else:
        run_check(check, linear_cls)


def test_parity_helpers_pass_cpu_against_cpu() -> None:
    """The helpers themselves, on one fixed example with the very same device twice."""
    config = suite.LinearConfig(3, 2, bias=True, dtype=torch.float32, device="cpu")
    x = torch.linspace(-2.0, 2.0, 12).reshape(4, 3)
    grad_out = torch.ones(4, 2)
    parity.assert_linear_parity(nn.Linear, config, 0, x, grad_out, reference=CPU, other=CPU)
    parity.assert_same_outcome(nn.Linear, config, 0, torch.ones(4, 5), reference=CPU, other=CPU)
