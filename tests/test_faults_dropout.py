"""Proof of power for the dropout suite: each planted fault fails the check that
guards it, and stock PyTorch passes the same check.

Faults in plain ``Dropout`` are small ``nn.Module`` classes passed as
``dropout_cls=``; faults in the other kinds and in the functional forms are
patched into ``torch.nn.functional`` (the layers look their function up there
on every call). The suite's checks are called directly, with the fixtures as
keyword arguments, under the conformance-ci profile minus the shrink phase: a
fault test needs the failure, not the minimal example.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis.errors import Flaky
from planting import run_unshrunk
from torch import nn

from conformance import test_dropout as suite
from conformance.oracle import dropout as oracle

CPU = torch.device("cpu")
KINDS = {kind.name: kind for kind in suite.KINDS}

# The originals, for faults built on top of them.
_dropout = F.dropout
_alpha_dropout = F.alpha_dropout


# --- plain Dropout faults (passed as dropout_cls) -----------------------------


class _Dropout(nn.Module):
    """The constructor contract ``cls(p=..., inplace=...)``; subclasses say what a call does."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def keep_mask(self, x: torch.Tensor, keep: float) -> torch.Tensor:
        """Bernoulli(keep) per element, from torch's seeded default generator."""
        return torch.bernoulli(torch.full_like(x, keep))


class NoRescale(_Dropout):
    """Zeroes elements but forgets the ``1/(1-p)`` scaling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * self.keep_mask(x, 1 - self.p)


class ScalesByKeepRate(_Dropout):
    """Multiplies kept elements by ``1-p`` instead of dividing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * self.keep_mask(x, 1 - self.p) * (1 - self.p)


class HalfRate(_Dropout):
    """Drops with probability ``p/2`` but scales by ``1/(1-p)``: every value is
    one of the two right ones, only their frequency is wrong."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0):
            return _dropout(x, self.p, self.training, self.inplace)
        return x * self.keep_mask(x, 1 - self.p / 2) / (1 - self.p)


class ActiveInEval(_Dropout):
    """Drops whatever the mode (the pytorch#26338 mistake, inside the layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _dropout(x, self.p, True, self.inplace)


class Unseeded(_Dropout):
    """Draws masks from its own generator, seeded from the OS: ``torch.manual_seed``
    cannot reproduce them."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p, inplace)
        self.generator = torch.Generator()
        self.generator.seed()

    def keep_mask(self, x: torch.Tensor, keep: float) -> torch.Tensor:
        return torch.bernoulli(torch.full_like(x, keep), generator=self.generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0):
            return _dropout(x, self.p, self.training, self.inplace)
        return x * self.keep_mask(x, 1 - self.p) / (1 - self.p)


class RowReusedMask(_Dropout):
    """One Bernoulli draw per position of the last dim, reused for every row (every
    leading index): the rate and the scaling are right, the rows are copies."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0) or x.dim() == 0:
            return _dropout(x, self.p, self.training, self.inplace)
        row = torch.full(x.shape[-1:], 1 - self.p, dtype=x.dtype, device=x.device)
        return x * torch.bernoulli(row) / (1 - self.p)


class MaskReusedAcrossCalls(_Dropout):
    """Draws a mask once per input shape and reuses it on every later call (a cached
    noise buffer that is never redrawn): each mask alone is right."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p, inplace)
        self.masks: dict[tuple[Any, ...], torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0):
            return _dropout(x, self.p, self.training, self.inplace)
        key = (tuple(x.shape), x.dtype, x.device)
        if key not in self.masks:
            self.masks[key] = self.keep_mask(x, 1 - self.p)
        return x * self.masks[key] / (1 - self.p)


class IgnoresInplace(_Dropout):
    """Always returns a new tensor, whatever ``inplace`` says."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _dropout(x, self.p, self.training, False)


class AcceptsAnyP(_Dropout):
    """Clamps ``p`` into [0, 1] instead of raising."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__(min(max(p, 0.0), 1.0), inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _dropout(x, self.p, self.training, self.inplace)


class EvalShortcut(_Dropout):
    """Validates ``p`` as ``p < 0 or p > 1`` (as torch's Python layer does, which
    lets NaN through) and returns the input in eval before ATen ever sees
    ``p``: nothing rejects ``p = nan``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        nn.Module.__init__(self)
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return _dropout(x, self.p, self.training, self.inplace)


class NaNAtP1(_Dropout):
    """``x * mask / (1-p)`` with no special case for ``p = 1``: ``0 / 0`` is NaN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * self.keep_mask(x, 1 - self.p) / (1 - self.p)


class IdentityAtP1(_Dropout):
    """Treats ``p = 1`` like ``p = 0`` (an ``if p in (0, 1): return x`` shortcut
    meant for "nothing to draw")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p in (0.0, 1.0):
            return x
        return _dropout(x, self.p, self.training, self.inplace)


# --- functional faults (patched into torch.nn.functional) ----------------------


def elementwise_dropout2d(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """``dropout2d`` that drops single elements instead of channels."""
    return _dropout(input, p, training, inplace)


def elementwise_feature_alpha_dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> torch.Tensor:
    """``feature_alpha_dropout`` that masks single elements instead of channels."""
    return _alpha_dropout(input, p, training, inplace)


def unshifted_alpha_dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> torch.Tensor:
    """``alpha_dropout`` without its shift ``b``: dropped elements become 0 and the
    variance ``a**2 (1-p)`` falls short of 1."""
    if not training or p in (0.0, 1.0):
        return _alpha_dropout(input, p, training, inplace)
    keep = torch.bernoulli(torch.full_like(input, 1 - p))
    return input * keep * oracle.alpha_affine(p).a


def dropout2d_any_rank(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """``dropout2d`` straight to the channel-dropout kernel, without the rank
    checks: no warning for ranks other than 3 and 4, nor that a 3-D input is
    read as ``(N, C, L)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    kernel = torch.feature_dropout_ if inplace else torch.feature_dropout
    return kernel(input, p, training)


def dropout_trains_only_when_told(
    input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> torch.Tensor:
    """``F.dropout`` with ``training=False`` as its default."""
    return _dropout(input, p, training, inplace)


# --- the cases ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    """A fault, and a fragment that the check's failure message must contain
    (what it names as broken; empty: any AssertionError)."""

    name: str
    dropout_cls: type[nn.Module] = nn.Dropout
    patches: tuple[tuple[str, Callable[..., torch.Tensor]], ...] = ()
    match: str = ""


STOCK = Fault("stock")


def _case(check: Callable[..., None], kind: str, fault: Fault, caught: bool) -> Any:
    name = check.__name__.removeprefix("test_dropout_")
    return pytest.param(check, KINDS[kind], fault, caught, id=f"{name}-{kind}-{fault.name}")


def _guarded(check: Callable[..., None], kind: str, *faults: Fault) -> list[Any]:
    """Stock PyTorch passes ``check``; each fault fails it."""
    return [_case(check, kind, STOCK, False)] + [_case(check, kind, f, True) for f in faults]


def _plain(cls: type[nn.Module], match: str = "") -> Fault:
    return Fault(cls.__name__, dropout_cls=cls, match=match)


def _patched(name: str, fn: Callable[..., torch.Tensor], match: str = "") -> Fault:
    return Fault(fn.__name__, patches=((name, fn),), match=match)


CASES = [
    *_guarded(
        suite.test_dropout_train_scales_kept,
        "Dropout",
        _plain(NoRescale),
        _plain(ScalesByKeepRate),
    ),
    *_guarded(suite.test_dropout_train_grad, "Dropout", _plain(NoRescale)),
    *_guarded(suite.test_dropout_train_drop_rate, "Dropout", _plain(HalfRate)),
    *_guarded(
        suite.test_dropout_masks_are_independent,
        "Dropout",
        _plain(RowReusedMask, "agreement of rows 2i and 2i+1"),
        _plain(MaskReusedAcrossCalls, "agreement of the masks of two calls"),
    ),
    # Why the independence check exists: the rate check passes both.
    _case(suite.test_dropout_train_drop_rate, "Dropout", _plain(RowReusedMask), False),
    _case(suite.test_dropout_train_drop_rate, "Dropout", _plain(MaskReusedAcrossCalls), False),
    # Why the rate check exists: the value check passes HalfRate.
    _case(suite.test_dropout_train_scales_kept, "Dropout", _plain(HalfRate), False),
    *_guarded(suite.test_dropout_identity_in_eval_and_at_p0, "Dropout", _plain(ActiveInEval)),
    *_guarded(suite.test_dropout_seeded_masks_repeat, "Dropout", _plain(Unseeded)),
    *_guarded(suite.test_dropout_inplace, "Dropout", _plain(IgnoresInplace)),
    *_guarded(suite.test_dropout_rejects_p_outside_unit_interval, "Dropout", _plain(AcceptsAnyP)),
    *_guarded(
        suite.test_dropout_zeroes_whole_channels,
        "Dropout2d",
        _patched("dropout2d", elementwise_dropout2d),
    ),
    *_guarded(
        suite.test_dropout_zeroes_whole_channels,
        "FeatureAlphaDropout",
        _patched("feature_alpha_dropout", elementwise_feature_alpha_dropout),
    ),
    *_guarded(
        suite.test_dropout_alpha_keeps_mean_and_std,
        "AlphaDropout",
        _patched("alpha_dropout", unshifted_alpha_dropout),
    ),
    *_guarded(
        suite.test_dropout_train_scales_kept,
        "AlphaDropout",
        _patched("alpha_dropout", unshifted_alpha_dropout),
    ),
    *_guarded(
        suite.test_dropout_functional_ignores_eval,
        "Dropout",
        _patched("dropout", dropout_trains_only_when_told),
    ),
    *_guarded(
        suite.test_dropout_nan_p, "Dropout", _plain(EvalShortcut, "Module(p=nan)(x) returned")
    ),
    *_guarded(
        suite.test_dropout_p1_zeros,
        "Dropout",
        _plain(NaNAtP1, "=nan, but should be 0.0"),
        _plain(IdentityAtP1, "but should be 0.0"),
    ),
    *_guarded(
        suite.test_dropout_rank_rules,
        "Dropout2d",
        _patched("dropout2d", dropout2d_any_rank, "warnings=[], but should include one starting"),
    ),
]

#: The checks a planted fault above fails (tests/test_fault_coverage.py).
GUARDED = {case.values[0] for case in CASES if case.values[3]}

# A nondeterministic fault may pass when Hypothesis replays the failing example
# to report it; Hypothesis then raises Flaky, which is a detection too.
EXPECTED: dict[str, type[BaseException] | tuple[type[BaseException], ...]] = {
    "Unseeded": (AssertionError, Flaky)
}

FIXTURES: dict[str, Any] = {"device": CPU, "dtype": torch.float32}


def run_check(check: Callable[..., None], kind: suite.Kind, dropout_cls: type[nn.Module]) -> None:
    fixtures = {**FIXTURES, "dropout_cls": dropout_cls}
    if hasattr(check, "hypothesis"):
        run_unshrunk(check, fixtures, kind=kind)
        return
    # A fixed-example check: called with the fixtures it takes, eagerly (as
    # run_unshrunk runs the others).
    wanted = inspect.signature(check).parameters
    args = {k: v for k, v in fixtures.items() if k in wanted}
    if "mode" in wanted:
        from conformance.modes import EAGER

        args["mode"] = EAGER
    check(**args, kind=kind)


@pytest.mark.parametrize(("check", "kind", "fault", "caught"), CASES)
def test_fault_is_caught(
    check: Callable[..., None],
    kind: suite.Kind,
    fault: Fault,
    caught: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, fn in fault.patches:
        monkeypatch.setattr(F, name, fn)
    if caught:
        with pytest.raises(EXPECTED.get(fault.name, AssertionError)) as failure:
            run_check(check, kind, fault.dropout_cls)
        assert fault.match in str(failure.value), str(failure.value)
    else:
        run_check(check, kind, fault.dropout_cls)


# --- the oracle's own facts -------------------------------------------------------


def test_alpha_is_selu_saturation() -> None:
    """The oracle's ``ALPHA`` (SELU's ``scale * alpha``) is ATen's literal
    ``1.7580993408473766`` to the last bit."""
    assert oracle.ALPHA == 1.7580993408473766


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_alpha_affine_keeps_mean_and_variance(p: float) -> None:
    """For standard-normal input the oracle's alpha map has mean 0 and variance 1,
    computed exactly: ``E[kept] = a*ALPHA*p``, ``E[kept**2] = a**2 (1 + (ALPHA p)**2)``."""
    m = oracle.alpha_affine(p)
    mean = (1 - p) * m.kept_shift + p * m.dropped
    second = (1 - p) * (m.a**2 + m.kept_shift**2) + p * m.dropped**2
    assert math.isclose(mean, 0.0, abs_tol=1e-12)
    assert math.isclose(second, 1.0, rel_tol=1e-12)
    assert oracle.alpha_fourth_moment(p) >= second**2  # Jensen
