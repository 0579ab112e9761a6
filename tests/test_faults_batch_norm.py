"""Proof of power for the BatchNorm checks (``conformance/test_batch_norm.py`` and
the generic checks over the ``batch_norm1d`` / ``batch_norm2d`` kinds): each
planted fault fails the check that guards it, and the kind's own implementation
passes (where torch itself departs, a corrected subclass passes instead).

Faults are subclasses of ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` (one per kind,
from a mixin), handed to the checks as ``batch_norm_cls`` (or as the generic
checks' ``layer``). Most get the right answer from torch and then break one
rule: the value returned, a running buffer, the count.
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
from conformance import test_batch_norm as suite
from conformance import test_registered_layers as generic
from conformance.layers import LayerUnderTest
from conformance.modes import EAGER

CPU = torch.device("cpu")
BASES = {"batch_norm1d": nn.BatchNorm1d, "batch_norm2d": nn.BatchNorm2d}


def _dims(x: torch.Tensor) -> list[int]:
    return [0, *range(2, x.ndim)]


def _channel(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return t.reshape(1, -1, *(1,) * (x.ndim - 2))


def _affine(module: Any, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if module.weight is not None:
        y = y * _channel(module.weight, x)
    if module.bias is not None:
        y = y + _channel(module.bias, x)
    return y


def _uses_batch_statistics(module: Any) -> bool:
    return bool(module.training or module.running_mean is None)


def _factor(module: Any) -> float:
    """The update factor torch used for the call just made (the count already raised)."""
    if module.momentum is None:
        return 1.0 / float(module.num_batches_tracked)
    return float(module.momentum)


class UnbiasedNormalisation:
    """Normalises with the batch's unbiased variance (``torch.var`` default) instead of
    the biased one; the running buffers are updated right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)  # type: ignore[misc]
        if not _uses_batch_statistics(self):
            return out
        mean = x.mean(_dims(x), keepdim=True)
        var = x.var(_dims(x), keepdim=True, correction=1)
        return _affine(self, (x - mean) / torch.sqrt(var + self.eps), x)  # type: ignore[attr-defined]


class _RunningFault:
    """Calls torch, then rewrites the running statistics of a training call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tracked = self.training and self.running_mean is not None  # type: ignore[attr-defined]
        old = (
            (self.running_mean.clone(), self.running_var.clone())  # type: ignore[attr-defined]
            if tracked
            else None
        )
        out = super().forward(x)  # type: ignore[misc]
        if old is not None:
            with torch.no_grad():
                self.rewrite(x.detach(), *old, _factor(self))
        return out  # type: ignore[no-any-return]

    def rewrite(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, f: float) -> None:
        raise NotImplementedError


class BiasedRunningVariance(_RunningFault):
    """Blends the batch's *biased* variance into ``running_var``."""

    def rewrite(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, f: float) -> None:
        biased = x.var(_dims(x), correction=0)
        self.running_var.copy_((1 - f) * var + f * biased)  # type: ignore[attr-defined]


class MomentumReversed(_RunningFault):
    """``running = momentum * running + (1 - momentum) * batch``: the convention of
    optimizers and of other frameworks, not torch's."""

    def rewrite(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, f: float) -> None:
        self.running_mean.copy_(f * mean + (1 - f) * x.mean(_dims(x)))  # type: ignore[attr-defined]
        unbiased = x.var(_dims(x), correction=1)
        self.running_var.copy_(f * var + (1 - f) * unbiased)  # type: ignore[attr-defined]


class DoesNotCount:
    """Never moves ``num_batches_tracked`` (the running statistics still follow ``momentum``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)  # type: ignore[misc]
        if self.training and self.num_batches_tracked is not None:  # type: ignore[attr-defined]
            self.num_batches_tracked.sub_(1)  # type: ignore[attr-defined]
        return out  # type: ignore[no-any-return]


class EvalUsesBatchStatistics:
    """Normalises with the batch's statistics in eval too (running ones ignored)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # type: ignore[attr-defined]
            return super().forward(x)  # type: ignore[misc,no-any-return]
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)  # type: ignore[attr-defined]


class SwitchedByEvalOnly:
    """Keeps its own mode flag, set by ``eval()`` and ``train()`` called on it; a parent's
    ``eval()`` calls ``child.train(False)``, which the flag misses (the classic bug of
    overriding ``eval`` instead of ``train``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.frozen = False

    def eval(self) -> Any:
        self.frozen = True
        return super().eval()  # type: ignore[misc]

    def train(self, mode: bool = True) -> Any:
        if mode:
            self.frozen = False
        return super().train(mode)  # type: ignore[misc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        training = self.training  # type: ignore[has-type]
        self.training = not self.frozen
        try:
            return super().forward(x)  # type: ignore[misc,no-any-return]
        finally:
            self.training = training


class KeepsRunningStatistics:
    """Registers and uses running buffers even with ``track_running_stats=False``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["track_running_stats"] = True
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]


class DetachedStatistics:
    """Right outputs and buffers, but the batch statistics are constants to autograd:
    ``dx = g * w / s`` in training too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _uses_batch_statistics(self):
            return super().forward(x)  # type: ignore[misc,no-any-return]
        with torch.no_grad():
            super().forward(x)  # type: ignore[misc]  # the running update
        mean = x.mean(_dims(x), keepdim=True).detach()
        var = x.var(_dims(x), keepdim=True, correction=0).detach()
        return _affine(self, (x - mean) / torch.sqrt(var + self.eps), x)  # type: ignore[attr-defined]


class MomentumNoneAsDefault:
    """Treats ``momentum=None`` as torch's default 0.1: an exponential average where a
    cumulative one was asked for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        momentum = self.momentum  # type: ignore[has-type]
        if momentum is None:
            self.momentum = 0.1
        try:
            return super().forward(x)  # type: ignore[misc,no-any-return]
        finally:
            self.momentum = momentum


def _values_per_channel(x: torch.Tensor) -> int:
    n = x.shape[0]
    for side in x.shape[2:]:
        n *= side
    return n


class AcceptsOneValue:
    """Normalises a one-value-per-channel batch with the running statistics (or leaves
    it as it is) instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim >= 2 and _values_per_channel(x) == 1:
            if self.running_mean is None:  # type: ignore[attr-defined]
                return x
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                False,
                0.0,
                self.eps,  # type: ignore[attr-defined]
            )
        return super().forward(x)  # type: ignore[misc,no-any-return]


class VerifiesBeforeCounting:
    """torch corrected: rejects one value per channel before counting the batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _uses_batch_statistics(self) and x.ndim >= 2 and _values_per_channel(x) == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.size()}"
            )
        return super().forward(x)  # type: ignore[misc,no-any-return]


class ChecksChannels:
    """torch corrected: checks the channel count of empty inputs too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stateful = self.weight is not None or self.running_mean is not None  # type: ignore[attr-defined]
        if stateful and x.ndim >= 2 and x.shape[1] != self.num_features:  # type: ignore[attr-defined]
            name = "running_mean" if self.running_mean is not None else "weight"  # type: ignore[attr-defined]
            raise RuntimeError(
                f"{name} should contain {x.shape[1]} elements not {self.num_features}"  # type: ignore[attr-defined]
            )
        return super().forward(x)  # type: ignore[misc,no-any-return]


def _make(mixin: type, kind: str) -> type:
    base = BASES[kind]
    return type(f"{mixin.__name__}{kind[-2:]}", (mixin, base), {})


FIXTURES = {"device": CPU, "dtype": torch.float32}


def _case(
    check: Callable[..., None], kind: str, fault: type | None, caught: bool, match: str = ""
) -> Any:
    impl = BASES[kind] if fault is None else _make(fault, kind)
    name = f"{check.__name__.removeprefix('test_')}-{kind}-{impl.__name__}"
    return pytest.param(check, kind, impl, caught, match, id=name)


def _both(
    check: Callable[..., None], fault: type | None, caught: bool, match: str = ""
) -> list[Any]:
    return [_case(check, kind, fault, caught, match) for kind in BASES]


CALLS = suite.test_batch_norm_calls_follow_the_statistics_rules
GRADS = suite.test_batch_norm_gradients
ONE_VALUE = suite.test_batch_norm_rejects_one_value_per_channel
AVERAGE = suite.test_batch_norm_momentum_none_averages_the_batches
CMA = suite.test_batch_norm_cumulative_average_counts_accepted_batches_only
EMPTY = suite.test_batch_norm_rejects_other_channel_counts_in_empty_inputs

CASES = [
    *_both(CALLS, None, False),
    *_both(CALLS, UnbiasedNormalisation, True, "normalised with batch statistics"),
    _case(CALLS, "batch_norm2d", BiasedRunningVariance, True, "running_var"),
    _case(CALLS, "batch_norm1d", MomentumReversed, True, "running_"),
    _case(CALLS, "batch_norm2d", DoesNotCount, True, "num_batches_tracked="),
    _case(CALLS, "batch_norm1d", EvalUsesBatchStatistics, True, "after eval()"),
    _case(
        CALLS,
        "batch_norm2d",
        SwitchedByEvalOnly,
        True,
        "eval() on Sequential(layer)|eval() on nested model",
    ),
    _case(CALLS, "batch_norm1d", KeepsRunningStatistics, True, "should be None"),
    *_both(GRADS, None, False),
    *_both(GRADS, DetachedStatistics, True, "x.grad"),
    *_both(ONE_VALUE, None, False),
    _case(ONE_VALUE, "batch_norm2d", AcceptsOneValue, True, "should raise ValueError"),
    *_both(AVERAGE, None, False),
    *_both(AVERAGE, MomentumNoneAsDefault, True, "running_mean"),
    _case(CALLS, "batch_norm2d", MomentumNoneAsDefault, True, "running_"),
    # torch 2.13.0 itself departs here (known_deviations.toml); the corrections pass.
    *_both(CMA, None, True, "running_mean"),
    *_both(CMA, VerifiesBeforeCounting, False),
    *_both(EMPTY, None, True, "should raise RuntimeError"),
    *_both(EMPTY, ChecksChannels, False),
]

GENERIC_CASES = [
    pytest.param(
        check,
        kind,
        fault,
        caught,
        match,
        id=f"{check.__name__}-{kind}-{getattr(fault, '__name__', 'torch')}",
    )
    for check, kind, fault, caught, match in [
        (generic.test_layer_matches_reference, "batch_norm1d", None, False, ""),
        (generic.test_layer_matches_reference, "batch_norm2d", None, False, ""),
        (generic.test_layer_matches_reference, "batch_norm2d", UnbiasedNormalisation, True, "out["),
        (
            generic.test_layer_matches_reference,
            "batch_norm1d",
            EvalUsesBatchStatistics,
            True,
            "training=False",
        ),
        (generic.test_layer_has_declared_parameters, "batch_norm2d", None, False, ""),
        (generic.test_layer_rejects_error_inputs, "batch_norm1d", None, False, ""),
        (generic.test_layer_rejects_error_inputs, "batch_norm2d", None, False, ""),
        (generic.test_layer_sees_in_place_parameter_updates, "batch_norm2d", None, False, ""),
    ]
]

GUARDED = {case.values[0] for case in [*CASES, *GENERIC_CASES] if case.values[3]}


@pytest.mark.parametrize(("check", "kind", "impl", "caught", "match"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], kind: str, impl: Any, caught: bool, match: str
) -> None:
    fixtures = {**FIXTURES, "kind": kind, "batch_norm_cls": impl}
    run: Callable[[], None]
    if hasattr(check, "hypothesis"):
        run = lambda: run_unshrunk(check, fixtures)  # noqa: E731
    else:
        wanted = inspect.signature(check).parameters
        plain = {"device": CPU, "kind": kind, "batch_norm_cls": impl, "mode": EAGER}
        run = lambda: check(**{k: v for k, v in plain.items() if k in wanted})  # noqa: E731
    if caught:
        with pytest.raises(AssertionError) as failure:
            run()
        assert any(m in str(failure.value) for m in match.split("|")), str(failure.value)
    else:
        run()


@pytest.mark.parametrize(("check", "kind", "fault", "caught", "match"), GENERIC_CASES)
def test_generic_check_over_batch_norm(
    check: Callable[..., None], kind: str, fault: type | None, caught: bool, match: str
) -> None:
    info = layers.get(kind)
    impl = info.default_implementation() if fault is None else _make(fault, kind)
    fixtures = {**FIXTURES, "layer": LayerUnderTest(info, impl)}
    if caught:
        with pytest.raises(AssertionError) as failure:
            run_unshrunk(check, fixtures)
        assert match in str(failure.value), str(failure.value)
    else:
        run_unshrunk(check, fixtures)
