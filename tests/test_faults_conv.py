"""Proof of power for the convolution checks (``conformance/test_conv.py`` and the
generic registry checks for the ``conv1d`` / ``conv2d`` kinds): each planted
fault fails the check that guards it, and stock ``nn.Conv1d`` / ``nn.Conv2d``
pass the same check.

Each fault is a mixin written once for both kinds (``FlipsKernel1d``,
``FlipsKernel2d``), passed as ``conv1d_cls=`` / ``conv2d_cls=`` (or as the
``layer`` of a generic check). The checks run under the conformance-ci profile
minus shrinking (:func:`planting.run_unshrunk`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import pytest
import torch
import torch.nn.functional as F
from planting import run_unshrunk, run_until_caught
from torch import nn
from torch.nn import init

from conformance import layers
from conformance import test_conv as suite
from conformance import test_registered_layers as generic
from conformance.layers import LayerUnderTest
from conformance.modes import EAGER

CPU = torch.device("cpu")
STOCK = {1: nn.Conv1d, 2: nn.Conv2d}


def _ndim(module: nn.Module) -> int:
    return 1 if isinstance(module, nn.Conv1d) else 2


def _functional(module: nn.Module) -> Callable[..., torch.Tensor]:
    return F.conv1d if _ndim(module) == 1 else F.conv2d


class _Explicit(nn.Module):
    """Pads explicitly (``F.pad`` with the module's own amounts), then convolves
    without padding: what stock torch computes, the base of the padding faults."""

    _reversed_padding_repeated_twice: list[int]
    padding_mode: str
    stride: Any
    dilation: Any
    groups: int

    def pads(self) -> list[int]:
        """``F.pad``'s list: (left, right) of the last dim, then of the one before."""
        return list(self._reversed_padding_repeated_twice)

    def pad(self, x: torch.Tensor, pads: list[int], mode: str | None = None) -> torch.Tensor:
        mode = mode or self.padding_mode
        return F.pad(x, pads, mode="constant" if mode == "zeros" else mode)

    def fits(self, x: torch.Tensor, pads: list[int], mode: str) -> bool:
        """Whether ``F.pad`` takes ``pads`` in ``mode`` for this input (reflect: every
        pad shorter than its side; circular: at most its side)."""
        sides = list(reversed(x.shape[-len(pads) // 2 :]))
        for i, side in enumerate(sides):
            widest = max(pads[2 * i], pads[2 * i + 1])
            if (mode == "reflect" and widest >= side) or (mode == "circular" and widest > side):
                return False
        return True

    def convolve(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, **overrides: Any
    ) -> torch.Tensor:
        args = {"stride": self.stride, "dilation": self.dilation, "groups": self.groups}
        args.update(overrides)
        return _functional(self)(x, weight, bias, padding=0, **args)


def _pair(mixin: type) -> tuple[type[nn.Module], type[nn.Module]]:
    """The fault as a Conv1d and as a Conv2d subclass."""
    made = []
    for ndim, base in STOCK.items():
        name = f"{mixin.__name__.lstrip('_')}{ndim}d"
        made.append(type(name, (mixin, base), {"__doc__": mixin.__doc__, "__module__": __name__}))
    return cast(type[nn.Module], made[0]), cast(type[nn.Module], made[1])


# --- faults --------------------------------------------------------------------------


class _FlipsKernel(_Explicit):
    """Convolves (the kernel flipped in every spatial dim) instead of cross-correlating."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        spatial = tuple(range(2, weight.ndim))
        return self.convolve(self.pad(x, self.pads()), weight.flip(spatial), bias)


class _BiasAlongLastDim(_Explicit):
    """Adds the bias along the last spatial dim (``bias.view(-1)`` broadcast from the
    right) wherever that dim is as long as the channel dim: the one case that gets
    through the shape check."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        out = self.convolve(self.pad(x, self.pads()), weight, None)
        if bias is None:
            return out
        if out.shape[-1] == bias.shape[0]:
            return out + bias
        return out + bias.view(-1, *([1] * (weight.ndim - 2)))


class _OneSidedPadding(_Explicit):
    """Puts both sides' padding on the left (same output size, shifted values)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        pads = self.pads()
        one_sided = [v for i in range(0, len(pads), 2) for v in (pads[i] + pads[i + 1], 0)]
        if self.fits(x, one_sided, self.padding_mode):
            pads = one_sided
        return self.convolve(self.pad(x, pads), weight, bias)


class _SameExtraOnLeft(_Explicit):
    """``padding="same"`` with an odd total puts the extra element on the left."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        pads = self.pads()
        if self.padding == "same":
            pads = [v for i in range(0, len(pads), 2) for v in (pads[i + 1], pads[i])]
        return self.convolve(self.pad(x, pads), weight, bias)


class _CircularAsReflect(_Explicit):
    """``padding_mode="circular"`` reflects instead of wrapping around (where the
    input is long enough to reflect)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        pads, mode = self.pads(), self.padding_mode
        if mode == "circular" and self.fits(x, pads, "reflect"):
            mode = "reflect"
        return self.convolve(self.pad(x, pads, mode), weight, bias)


class _IgnoresDilation(_Explicit):
    """Convolves with dilation 1 whatever ``dilation`` says (the padding still follows it)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        return self.convolve(self.pad(x, self.pads()), weight, bias, dilation=1)


class _GroupsMixChannels(_Explicit):
    """Lets every output channel see every input channel: the grouped weight repeated
    across the groups, convolved with ``groups=1``."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        repeats = (1, self.groups, *([1] * (weight.ndim - 2)))
        full = weight.repeat(repeats)
        return self.convolve(self.pad(x, self.pads()), full, bias, groups=1)


class _AddBiasFirstPositionGrad(torch.autograd.Function):
    """``out + bias.view(C, 1, ...)``, whose bias gradient sums over the batch but
    reads only the first output position instead of all of them."""

    @staticmethod
    def forward(out: torch.Tensor, bias: torch.Tensor, ndim: int) -> torch.Tensor:
        return out + bias.view(-1, *([1] * ndim))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        out, _, ndim = inputs
        ctx.batched = out.ndim == ndim + 2

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        gb = g if ctx.batched else g.unsqueeze(0)
        return g, gb.flatten(2)[:, :, 0].sum(0), None


class _WrongBiasGrad(_Explicit):
    """Right output, wrong ``dL/db`` (see :class:`_AddBiasFirstPositionGrad`)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        out = self.convolve(self.pad(x, self.pads()), weight, None)
        if bias is None:
            return out
        added: torch.Tensor = _AddBiasFirstPositionGrad.apply(out, bias, weight.ndim - 2)
        return added


class _KeepsBatchDim(nn.Module):
    """Treats an unbatched input as a batch of one and forgets to drop the batch dim."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unbatched = x.ndim == _ndim(self) + 1
        out: torch.Tensor = super().forward(x.unsqueeze(0) if unbatched else x)
        return out


class _NarrowInit(nn.Module):
    """Counts every input channel in ``fan_in`` (``in_channels * prod(kernel_size)``,
    ignoring groups): a bound ``sqrt(groups)`` too narrow."""

    in_channels: int
    kernel_size: tuple[int, ...]

    def reset_parameters(self) -> None:
        fan_in = self.in_channels * math.prod(self.kernel_size)
        _uniform(self, 1 / math.sqrt(fan_in) if fan_in else 0.0)


class _WideInit(nn.Module):
    """Leaves the kernel out of ``fan_in`` (``in_channels / groups``): a bound
    ``sqrt(prod(kernel_size))`` too wide."""

    in_channels: int
    groups: int

    def reset_parameters(self) -> None:
        fan_in = self.in_channels // self.groups
        _uniform(self, 1 / math.sqrt(fan_in) if fan_in else 0.0)


def _uniform(module: nn.Module, bound: float) -> None:
    with torch.no_grad():
        init.uniform_(cast(torch.Tensor, module.weight), -bound, bound)
        if module.bias is not None:
            init.uniform_(cast(torch.Tensor, module.bias), -bound, bound)


class _AcceptsIndivisibleGroups(nn.Module):
    """Quietly builds an ungrouped layer when ``groups`` does not divide ``out_channels``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, *args: Any, **kwargs: Any
    ) -> None:
        groups = kwargs.get("groups", 1)
        if isinstance(groups, int) and groups > 0 and out_channels % groups:
            kwargs["groups"] = 1
        super().__init__(in_channels, out_channels, kernel_size, *args, **kwargs)


class _AcceptsWrongChannels(nn.Module):
    """Crops or zero-pads the channel dim to ``in_channels`` instead of raising."""

    in_channels: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nd = _ndim(self)
        if x.ndim in (nd + 1, nd + 2):
            dim = x.ndim - nd - 1
            have = x.shape[dim]
            if have > self.in_channels:
                x = x.narrow(dim, 0, self.in_channels)
            elif have < self.in_channels:
                shape = list(x.shape)
                shape[dim] = self.in_channels - have
                x = torch.cat([x, x.new_zeros(shape)], dim)
        out: torch.Tensor = super().forward(x)
        return out


class _HandlesEmptyDims(_Explicit):
    """What the documented shapes ask of empty dims (zero channels, an empty side
    padded to a non-empty one): the formula's shape, holding the bias. No fault:
    it shows that ``test_conv*_empty_dims_follow_the_formula`` can pass."""

    out_channels: int
    kernel_size: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nd = _ndim(self)
        if x.numel() and self.out_channels:
            out: torch.Tensor = super().forward(x)
            return out
        pads = self.pads()
        left_right = [(pads[2 * i], pads[2 * i + 1]) for i in reversed(range(nd))]
        dims = zip(
            x.shape[-nd:], left_right, self.kernel_size, self.stride, self.dilation, strict=True
        )
        sizes = [(n + lr[0] + lr[1] - d * (k - 1) - 1) // s + 1 for n, lr, k, s, d in dims]
        lead = list(x.shape[: x.ndim - nd - 1])
        out = x.new_zeros((*lead, self.out_channels, *sizes))
        bias = self.bias
        return out if bias is None else out + cast(torch.Tensor, bias).view(-1, *([1] * nd))


class _Unfolded(_Explicit):
    """No fault: a correct re-implementation that pads with ``F.pad``, unfolds the
    windows (im2col, ``F.unfold``) and multiplies group by group with ``einsum``:
    other kernels and another summation order than ATen's, held to the rounding
    bound, not to torch's bits."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Any) -> torch.Tensor:
        nd = weight.ndim - 2
        batched = x.ndim == nd + 2
        padded = self.pad(x if batched else x.unsqueeze(0), self.pads())
        kernel, stride, dilation = tuple(weight.shape[2:]), tuple(self.stride), tuple(self.dilation)
        if nd == 1:  # as a 2-d input of height 1
            padded = padded.unsqueeze(-2)
            kernel, stride, dilation = (1, *kernel), (1, *stride), (1, *dilation)
        sizes = [
            (n - d * (k - 1) - 1) // s + 1
            for n, k, s, d in zip(padded.shape[-2:], kernel, stride, dilation, strict=True)
        ]
        cols = F.unfold(padded, kernel_size=kernel, dilation=dilation, stride=stride)
        n, groups, out_channels = padded.shape[0], self.groups, weight.shape[0]
        per_group = weight[0].numel()  # in_channels / groups * prod(kernel)
        cols = cols.reshape(n, groups, per_group, cols.shape[-1])  # no -1: n may be 0
        grouped = weight.reshape(groups, out_channels // groups, per_group)
        out = torch.einsum("ngjp,goj->ngop", cols, grouped)
        out = out.reshape(n, out_channels, *sizes[2 - nd :])
        if bias is not None:
            out = out + bias.view(-1, *([1] * nd))
        return out if batched else out[0]


FlipsKernel1d, FlipsKernel2d = _pair(_FlipsKernel)
BiasAlongLastDim1d, BiasAlongLastDim2d = _pair(_BiasAlongLastDim)
OneSidedPadding1d, OneSidedPadding2d = _pair(_OneSidedPadding)
SameExtraOnLeft1d, SameExtraOnLeft2d = _pair(_SameExtraOnLeft)
CircularAsReflect1d, CircularAsReflect2d = _pair(_CircularAsReflect)
IgnoresDilation1d, IgnoresDilation2d = _pair(_IgnoresDilation)
GroupsMixChannels1d, GroupsMixChannels2d = _pair(_GroupsMixChannels)
WrongBiasGrad1d, WrongBiasGrad2d = _pair(_WrongBiasGrad)
KeepsBatchDim1d, KeepsBatchDim2d = _pair(_KeepsBatchDim)
NarrowInit1d, NarrowInit2d = _pair(_NarrowInit)
WideInit1d, WideInit2d = _pair(_WideInit)
AcceptsIndivisibleGroups1d, AcceptsIndivisibleGroups2d = _pair(_AcceptsIndivisibleGroups)
AcceptsWrongChannels1d, AcceptsWrongChannels2d = _pair(_AcceptsWrongChannels)
HandlesEmptyDims1d, HandlesEmptyDims2d = _pair(_HandlesEmptyDims)
Unfolded1d, Unfolded2d = _pair(_Unfolded)


# --- cases ---------------------------------------------------------------------------

FIXTURES: dict[str, Any] = {"device": CPU, "dtype": torch.float32, "mode": EAGER}


def _case(
    check: Callable[..., None], cls: type[nn.Module], caught: bool, match: str = "", **kw: Any
) -> Any:
    name = check.__name__.removeprefix("test_")
    extra = "".join(f"-{v}" for v in kw.values())
    return pytest.param(check, cls, caught, match, kw, id=f"{name}-{cls.__name__}{extra}")


def _guarded(
    checks: tuple[Callable[..., None], Callable[..., None]],
    *faults: tuple[tuple[type[nn.Module], type[nn.Module]], str],
) -> list[Any]:
    """Stock Conv1d passes the 1-d check and Conv2d the 2-d one; each fault fails both."""
    cases = []
    for ndim, check in zip((1, 2), checks, strict=True):
        cases.append(_case(check, STOCK[ndim], False))
        cases.extend(_case(check, pair[ndim - 1], True, match) for pair, match in faults)
    return cases


def _generic(
    check: Callable[..., None], kind: str, cls: type[nn.Module], caught: bool, match: str = ""
) -> Any:
    name = f"{check.__name__.removeprefix('test_')}-{kind}-{cls.__name__}"
    return pytest.param(check, LayerUnderTest(layers.get(kind), cls), caught, match, {}, id=name)


def _both_generic(
    check: Callable[..., None], *faults: tuple[tuple[type[nn.Module], type[nn.Module]], str]
) -> list[Any]:
    cases = []
    for ndim, kind in ((1, "conv1d"), (2, "conv2d")):
        cases.append(_generic(check, kind, STOCK[ndim], False))
        cases.extend(_generic(check, kind, pair[ndim - 1], True, m) for pair, m in faults)
    return cases


FLIPS = (FlipsKernel1d, FlipsKernel2d)
BIAS_DIM = (BiasAlongLastDim1d, BiasAlongLastDim2d)
ONE_SIDED = (OneSidedPadding1d, OneSidedPadding2d)
SAME_LEFT = (SameExtraOnLeft1d, SameExtraOnLeft2d)
CIRCULAR = (CircularAsReflect1d, CircularAsReflect2d)
DILATION = (IgnoresDilation1d, IgnoresDilation2d)
GROUPS = (GroupsMixChannels1d, GroupsMixChannels2d)
BIAS_GRAD = (WrongBiasGrad1d, WrongBiasGrad2d)
BATCH_DIM = (KeepsBatchDim1d, KeepsBatchDim2d)
NARROW = (NarrowInit1d, NarrowInit2d)
WIDE = (WideInit1d, WideInit2d)
INDIVISIBLE = (AcceptsIndivisibleGroups1d, AcceptsIndivisibleGroups2d)
WRONG_CHANNELS = (AcceptsWrongChannels1d, AcceptsWrongChannels2d)
EMPTY_OK = (HandlesEmptyDims1d, HandlesEmptyDims2d)

CASES = [
    # The generic checks, on the conv kinds' registry entries.
    *_both_generic(
        generic.test_layer_matches_reference,
        (FLIPS, "but should be"),
        (BIAS_DIM, "but should be"),
        (ONE_SIDED, "but should be"),
        (CIRCULAR, "padding_mode='circular'"),
        (GROUPS, "but should be"),
    ),
    *_both_generic(generic.test_layer_rejects_error_inputs, (WRONG_CHANNELS, "should raise")),
    # The kind-specific checks.
    *_guarded(
        (suite.test_conv1d_output_size_formula, suite.test_conv2d_output_size_formula),
        (DILATION, "out.shape="),
        (BATCH_DIM, "out.shape="),
    ),
    *_guarded(
        (suite.test_conv1d_padding, suite.test_conv2d_padding),
        (ONE_SIDED, "but should be"),
        (SAME_LEFT, "padding='same'"),
        (CIRCULAR, "padding_mode='circular'"),
        (FLIPS, "but should be"),
    ),
    *_guarded(
        (
            suite.test_conv1d_rejects_invalid_construction,
            suite.test_conv2d_rejects_invalid_construction,
        ),
        (INDIVISIBLE, "out_channels % groups != 0"),
    ),
    *_guarded(
        (suite.test_conv1d_init_distribution, suite.test_conv2d_init_distribution),
        (NARROW, "KS distance"),
        (WIDE, "but should be at most"),
    ),
    *_guarded(
        (suite.test_conv1d_gradients_match_oracle, suite.test_conv2d_gradients_match_oracle),
        (BIAS_GRAD, "grad_bias"),
        (GROUPS, "but should be"),
        (FLIPS, "but should be"),
    ),
    # Why the padding check exists: at sizes of its own, the one-sided fault passes
    # the output size check (the same size, other values).
    _case(suite.test_conv1d_output_size_formula, OneSidedPadding1d, False),
    # No false alarm: a correct re-implementation (im2col, another summation order)
    # passes every check that compares values.
    _generic(generic.test_layer_matches_reference, "conv1d", Unfolded1d, False),
    _generic(generic.test_layer_matches_reference, "conv2d", Unfolded2d, False),
    *(
        _case(check, cls, False)
        for checks in (
            (suite.test_conv1d_output_size_formula, suite.test_conv2d_output_size_formula),
            (suite.test_conv1d_padding, suite.test_conv2d_padding),
            (suite.test_conv1d_gradients_match_oracle, suite.test_conv2d_gradients_match_oracle),
        )
        for check, cls in zip(checks, (Unfolded1d, Unfolded2d), strict=True)
    ),
]

# Empty dims: torch 2.13.0 itself is the fault the check catches (known_deviations.toml);
# an implementation that follows the formula passes.
for _ndim_, _check_ in (
    (1, suite.test_conv1d_empty_dims_follow_the_formula),
    (2, suite.test_conv2d_empty_dims_follow_the_formula),
):
    for _name_ in suite.EMPTY_DIMS:
        CASES.append(_case(_check_, STOCK[_ndim_], True, "but should", case=_name_))
        CASES.append(_case(_check_, EMPTY_OK[_ndim_ - 1], False, case=_name_))

GUARDED = {case.values[0] for case in CASES if case.values[2]}


def _run(
    check: Callable[..., None], cls: type[nn.Module], kwargs: dict[str, Any], caught: bool = False
) -> None:
    fixtures = {**FIXTURES, "conv1d_cls": cls, "conv2d_cls": cls}
    if isinstance(cls, LayerUnderTest):
        fixtures["layer"] = cls
    if hasattr(check, "hypothesis"):
        (run_until_caught if caught else run_unshrunk)(check, fixtures, **kwargs)
        return
    import inspect

    wanted = inspect.signature(check).parameters
    check(**{k: v for k, v in fixtures.items() if k in wanted}, **kwargs)


@pytest.mark.parametrize(("check", "cls", "caught", "match", "kwargs"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], cls: Any, caught: bool, match: str, kwargs: dict[str, Any]
) -> None:
    if caught:
        with pytest.raises(AssertionError) as failure:
            _run(check, cls, kwargs, caught=True)
        assert match in str(failure.value), str(failure.value)
    else:
        _run(check, cls, kwargs)
