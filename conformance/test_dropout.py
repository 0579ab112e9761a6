"""Conformance of the dropout family: Dropout, Dropout1d/2d/3d, AlphaDropout,
FeatureAlphaDropout, and their functional forms.

Plain ``Dropout`` comes from the ``dropout_cls`` fixture (``torch.nn.Dropout``
unless a project overrides it; constructor contract ``cls(p=..., inplace=...)``);
the other kinds come from ``torch.nn`` by name. Each check runs over every kind
that the semantic applies to, as data: :class:`~strategies.DropoutConfig`
knows a kind's ranks, channel dim, whether it is an alpha kind and whether it
honours ``inplace``; :data:`KINDS` below adds its functional form and when an
identity call returns the input object itself. Test ids read
``test_dropout_train_scales_kept[cpu-float32-Dropout2d]``.

Expectations come from :mod:`conformance.oracle.dropout` (NumPy float64, given
the mask read off the output) and the statistical thresholds from
:mod:`conformance.oracle.statistics`, each with its false-positive rate.
torch's RNG is always seeded explicitly from a drawn ``seed``; masks are only
ever compared on one device (CPU and CUDA draw them differently by design).

Dtypes where they matter: the scaled values over float32, float64, float16
and bfloat16; gradients, the drop rate and the masks' independence over
float32 and float16 (the 16-bit kernels differ); the statistics over float32 and float64 (16-bit
rounding would swamp their bounds). Checks of behaviour -- identity, p=1,
in-place, RNG, channels, ranks, argument errors -- run on float32 inputs and
take no ``dtype``: nothing they check goes through dtype-specific code.
Together: 13 checks, 120 cases (12 checks took about 20 s on one CPU core
under the conformance-ci profile; the independence check adds about a tenth
to the suite's time).

Checks that call the layer take the ``mode`` fixture (``--mode``) and call
``mode.wrap(module)`` (:mod:`conformance.modes`); masks drawn by compiled code
are compared with the same compiled call only.

Sources: torch/nn/modules/dropout.py, torch/nn/functional.py,
aten/src/ATen/native/Dropout.cpp (torch 2.13.0), and the ``torch.nn.Dropout``
family's docs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import (
    assert_dtype,
    assert_equal,
    assert_raises,
    assert_shape,
    assert_within,
    fail,
)
from conformance.layers import is_own_implementation
from conformance.modes import Mode
from conformance.oracle import dropout as oracle
from conformance.oracle import statistics
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import float_width, unit_roundoff
from strategies import DropoutConfig, dropout_configs, dropout_inputs, shapes, tensors

ALL_FLOATS = ("float32", "float64", "float16", "bfloat16")
# Small inputs keep examples fast; the rate and statistics checks build their
# own large inputs.
MAX_SIDE = 4
MAX_NUMEL = 64
# The dtype of the checks of behaviour rather than arithmetic (module docstring).
BEHAVIOUR_DTYPE = torch.float32
P_ERROR = "dropout probability has to be between 0 and 1, but got {p}"


# --- the kinds, as data -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kind:
    """What a dropout kind adds to :class:`~strategies.DropoutConfig`'s description.

    ``functional``: the ``torch.nn.functional`` function its ``forward``
    calls, looked up on each call (so a patched ``F`` is what runs).
    ``trains_by_default``: that function's ``training`` default -- True for
    the plain kinds, False for the alpha ones (functional.py).
    ``batched_rank``: the one rank the functional form takes as it is; other
    ranks get a batch dim by ``unsqueeze(0)`` and lose it again, so an
    identity call (eval, ``p == 0``, empty input) returns a view instead of
    the input object -- unless ``inplace``, whose ``unsqueeze_``/``squeeze_``
    hand back the input itself. None: every rank is taken as it is.
    ``large_shape``: 2**16 independent units (each element its own channel)
    for the rate and statistics checks.
    """

    name: str
    functional: str
    trains_by_default: bool
    batched_rank: int | None
    large_shape: tuple[int, ...]

    def functional_form(self) -> Callable[..., torch.Tensor]:
        fn: Callable[..., torch.Tensor] = getattr(F, self.functional)
        return fn

    def returns_input(self, ndim: int, inplace: bool) -> bool:
        """Does an identity call return the input object itself (``out is x``)?"""
        return self.batched_rank is None or ndim == self.batched_rank or inplace

    def config(self) -> DropoutConfig:
        """A config of this kind, for its rank and channel facts."""
        return DropoutConfig(kind=self.name, p=0.5, inplace=False)

    def __str__(self) -> str:
        return self.name


KINDS = (
    Kind("Dropout", "dropout", True, None, (2**16,)),
    Kind("Dropout1d", "dropout1d", True, 3, (2**8, 2**8, 1)),
    Kind("Dropout2d", "dropout2d", True, None, (2**8, 2**8, 1, 1)),
    Kind("Dropout3d", "dropout3d", True, 5, (2**8, 2**8, 1, 1, 1)),
    Kind("AlphaDropout", "alpha_dropout", False, None, (2**16,)),
    Kind("FeatureAlphaDropout", "feature_alpha_dropout", False, None, (2**8, 2**8)),
)
CHANNEL_KINDS = tuple(k for k in KINDS if k.config().channel_dim is not None)
ALPHA_KINDS = tuple(k for k in KINDS if k.config().alpha)
# Kinds with rank rules beyond "any rank": warnings, errors, reinterpretation.
RANK_KINDS = CHANNEL_KINDS


#: The other kinds' cases watch torch's own classes only: half the examples.
TORCH_ONLY = (pytest.mark.exercises(), pytest.mark.examples_share(0.5))


def over(kinds: tuple[Kind, ...]) -> pytest.MarkDecorator:
    """Parametrise over ``kinds``. Only plain ``Dropout`` is built from ``dropout_cls``:
    the other kinds' cases exercise no ``--target`` (``exercises()``) and run half the
    profile's examples (``conformance-thorough`` gives them plenty)."""
    return pytest.mark.parametrize(
        "kind",
        [
            pytest.param(k, id=str(k), marks=() if k.name == "Dropout" else TORCH_ONLY)
            for k in kinds
        ],
    )


# --- building and running -----------------------------------------------------


def build(config: DropoutConfig, dropout_cls: Callable[..., nn.Module]) -> nn.Module:
    """The layer for ``config``: ``dropout_cls`` for plain Dropout, ``torch.nn`` otherwise."""
    return config.build(dropout_cls if config.kind == "Dropout" else None)


def call(fn: Callable[..., Any], x: torch.Tensor, seed: int, device: torch.device) -> Any:
    with seeded(seed, device):
        return fn(x)


def context(config: DropoutConfig, x: torch.Tensor, mode: str = "training") -> str:
    """``"Dropout2d(p=0.5, inplace=False) in training, x.shape=(2, 3, 4, 4)"``."""
    return f"{config!r} in {mode}, x.shape={tuple(x.shape)}"


# --- drawing ------------------------------------------------------------------


def floats(dtype: torch.dtype, low: float, high: float) -> st.SearchStrategy[float]:
    """Finite values in ``[low, high]`` at ``dtype``'s width (bfloat16: float32,
    rounded by ``torch.tensor`` -- monotonically, so the bounds still hold)."""
    return st.floats(low, high, width=float_width(dtype), allow_nan=False, allow_subnormal=False)


def separated(config: DropoutConfig, dtype: torch.dtype) -> st.SearchStrategy[float]:
    """Elements whose kept and dropped outputs lie far apart, so the output tells the mask.

    Plain kinds: ``|x| >= 1`` (a dropped 0 against a kept ``x/(1-p)``).
    Alpha kinds: ``x >= -1``: kept ``a*(x + ALPHA*p)`` and dropped
    ``-ALPHA*a*(1-p)`` differ by ``a*(x + ALPHA) >= a*(ALPHA - 1) > 0.65``.
    """
    if config.alpha:
        return floats(dtype, -1.0, 100.0)
    # One draw per element: |v| + 1 (rounding to the dtype keeps it >= 1).
    return floats(dtype, -99.0, 99.0).map(lambda v: v + math.copysign(1.0, v))


def max_training_p(dtype: torch.dtype) -> float:
    """The largest ``p`` whose scaled outputs stay finite for ``|x| <= 100``.

    float16: ``1 - 2**-8`` (kept ``x/(1-p) <= 25600`` below 65504); other
    dtypes ``1 - 2**-30``. ``p == 1`` is the all-zeros case, checked apart.
    """
    return 1 - 2**-8 if dtype == torch.float16 else 1 - 2**-30


def training_configs(kind: Kind, dtype: torch.dtype) -> st.SearchStrategy[DropoutConfig]:
    """Configs with ``0 < p < 1``, where a mask is drawn."""
    return dropout_configs(kinds=[kind.name], min_p=2**-30, max_p=max_training_p(dtype))


def draw_input(
    data: st.DataObject,
    config: DropoutConfig,
    dtype: torch.dtype,
    device: torch.device,
    **kwargs: Any,
) -> torch.Tensor:
    x = dropout_inputs(
        config, dtype=dtype, device=device, max_side=MAX_SIDE, max_numel=MAX_NUMEL, **kwargs
    )
    return data.draw(x, label="x")


# --- tolerances and the mask --------------------------------------------------

#: Roundings allowed between a low-precision result and the float64 oracle:
#: ATen rounds ``1/(1-p)`` (or ``a``, ``b``) into the dtype, then the product
#: and the sum -- at most 5, each within ``u`` of the magnitudes summed; the
#: oracle's own float64 roundings make up the rest. Measured on CPU: <= 2.8.
ROUNDINGS = 8


def tolerance(expected: oracle.Expected, dtype: torch.dtype) -> np.ndarray:
    """``|computed - exact|`` allowed per element; ``tiny`` allows for flushed subnormals."""
    tiny = torch.finfo(dtype).tiny
    return np.asarray(ROUNDINGS * unit_roundoff(dtype) * expected.scale + tiny)


def read_mask(
    config: DropoutConfig, x: torch.Tensor, out: torch.Tensor, dtype: torch.dtype
) -> tuple[oracle.MaskGuess, np.ndarray]:
    """The mask read off ``out`` (``0 < p < 1``), and the tolerance used to read it."""
    xd = to_float64(x)
    kept_all = np.ones(xd.shape, bool)
    tol = tolerance(oracle.expected_output(xd, kept_all, config.p, alpha=config.alpha), dtype)
    return oracle.infer_mask(xd, to_float64(out), config.p, tol, alpha=config.alpha), tol


def assert_kept_or_dropped(
    out: torch.Tensor, x: torch.Tensor, config: DropoutConfig, dtype: torch.dtype, ctx: str
) -> None:
    """Each element of ``out`` is, within rounding, ``x``'s kept or its dropped value."""
    xd, od = to_float64(x), to_float64(out)
    kept = oracle.expected_output(xd, np.ones(xd.shape, bool), config.p, alpha=config.alpha)
    dropped = oracle.expected_output(xd, np.zeros(xd.shape, bool), config.p, alpha=config.alpha)
    tol = tolerance(kept, dtype)  # kept values are the larger: their bound covers both
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(od - kept.value) <= tol) | (np.abs(od - dropped.value) <= tol))
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        at = f"[{', '.join(map(str, i))}]" if i else ""
        fail(
            f"out{at}={float(od[i])!r}, but should be {float(dropped.value[i])!r} (dropped) "
            f"or {float(kept.value[i])!r} (kept) for x{at}={float(xd[i])!r} (allowed error "
            f"{float(tol[i]):.3g}; {int(bad.sum())} of {bad.size} elements are neither)",
            ctx,
        )


def assert_whole_channels(guess: oracle.MaskGuess, dim: int, ctx: str) -> None:
    """Every channel (the entries sharing one index over dims ``0..dim``) is all
    kept or all dropped."""
    channel = oracle.mixed_channel(guess, dim)
    if channel is not None:
        index = ", ".join(map(str, channel))
        fail(
            f"channel x[{index}] has kept and dropped elements, but should be kept or "
            f"dropped whole (channels along dim {dim})",
            ctx,
        )


# --- training: values, rate, gradient -----------------------------------------


@over(KINDS)
@pytest.mark.dtypes(*ALL_FLOATS)
@given(data=st.data())
def test_dropout_train_scales_kept(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """In training with ``0 < p < 1`` every element is dropped or kept-and-scaled:
    ``0`` or ``x/(1-p)``; for the alpha kinds ``-ALPHA*a*(1-p)`` or
    ``a*x + ALPHA*a*p`` (:func:`~conformance.oracle.dropout.alpha_affine`).

    Source: ``torch.nn.Dropout`` docs ("the outputs are scaled by a factor of
    1/(1-p) during training"), ``_dropout_impl`` in Dropout.cpp.
    """
    config = data.draw(training_configs(kind, dtype), label="config")
    module = build(config, dropout_cls).train()
    x = draw_input(data, config, dtype, device)
    seed = data.draw(SEEDS, label="seed")
    out = call(mode.wrap(module), x.clone(), seed, device)  # a clone: inplace must not clobber x
    ctx = context(config, x)
    assert_shape("out", out.shape, x.shape, ctx)
    assert_dtype("out", out.dtype, dtype, ctx)
    assert_kept_or_dropped(out, x, config, dtype, ctx)


@over(KINDS)
@pytest.mark.dtypes("float32", "float16")
@pytest.mark.examples_share(0.5)  # each example is a test on thousands of units
@given(data=st.data())
def test_dropout_train_drop_rate(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """Each unit (element, or channel) is dropped independently with probability
    ``p``: of ``n = 2**16`` units, the dropped fraction lies within
    :func:`~conformance.oracle.statistics.binomial_rate_bound` of ``p``
    (Hoeffding; false-positive rate 1e-6 per check). float16 stands in for the 16-bit
    dtypes, for which CUDA's fused kernel is instantiated apart.

    Source: the docs ("zeroes some of the elements ... with probability p",
    "using samples from a Bernoulli distribution").
    """
    config = data.draw(
        dropout_configs(kinds=[kind.name], max_p=max_training_p(dtype)), label="config"
    )
    module = build(config, dropout_cls).train()
    seed = data.draw(SEEDS, label="seed")
    x = torch.ones(kind.large_shape, dtype=dtype, device=device)
    out = call(mode.wrap(module), x.clone(), seed, device)
    # On x = 1 a kept output is positive (1/(1-p), or a*(1 + ALPHA*p)) and a
    # dropped one is not (0, or -ALPHA*a*(1-p)); test_dropout_train_scales_kept
    # checks the values themselves.
    n = out.numel()
    dropped = int((out <= 0).sum()) / n
    # False-positive rate: statistics.FALSE_POSITIVE_RATE per example, 1e-6 per check.
    bound = statistics.binomial_rate_bound(n, statistics.FALSE_POSITIVE_RATE)
    if not abs(dropped - config.p) < bound:
        fail(
            f"dropped fraction={dropped:.5f}, but should lie within {bound:.5f} of "
            f"p={config.p!r} ({n} independent units; Hoeffding, false-positive rate "
            f"{statistics.CHECK_FALSE_POSITIVE_RATE:g} per check)",
            context(config, x),
        )


#: The independence check reads each mask as a grid of units: 2**8 rows by 2**8
#: columns -- for the plain kinds a (256, 256) input, for the channel kinds
#: their ``large_shape`` (256 samples by 256 channels, one element each).
GRID = (2**8, 2**8)
#: Away from p = 0 and 1, where any two masks agree almost everywhere anyway.
INDEPENDENCE_MIN_P, INDEPENDENCE_MAX_P = 0.125, 0.875


def grid_shape(kind: Kind) -> tuple[int, ...]:
    return GRID if kind.config().channel_dim is None else kind.large_shape


@over(KINDS)
@pytest.mark.dtypes("float32", "float16")
@pytest.mark.examples_share(0.5)  # each example is a test on thousands of units
@given(data=st.data())
def test_dropout_masks_are_independent(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """Units (elements, or channels) are dropped independently of each other and
    of earlier calls: "The zeroed elements are chosen independently for each
    forward call" (``Dropout``), "Each channel will be zeroed out independently
    on every forward call" (the channel kinds). The drop rate alone cannot see a
    mask drawn once over the last dim and reused for every row, nor one reused
    from call to call.

    Two calls one after the other (the RNG moves on between them) on a grid of
    ``2**8 x 2**8`` units. For two independent units dropped with probability
    ``p`` the masks agree (both kept or both dropped) with probability
    ``q = p**2 + (1-p)**2`` (:func:`~conformance.oracle.dropout.mask_agreement`).
    Three agreement rates, each a mean of independent Bernoulli(q) indicators
    under independence: rows ``2i`` and ``2i+1`` unit by unit (``n = 2**15``),
    columns ``2j`` and ``2j+1`` (``n = 2**15``), the first call against the
    second (``n = 2**16``). Each must lie within
    :func:`~conformance.oracle.statistics.binomial_rate_bound` of ``q``
    (Hoeffding) at a third of the per-example false-positive rate: 1e-6 per
    check in all. ``p`` is drawn from [1/8, 7/8], where reuse is far out of
    bounds (``q <= 0.79``, a reused mask agrees everywhere).
    """
    config = data.draw(
        dropout_configs(kinds=[kind.name], min_p=INDEPENDENCE_MIN_P, max_p=INDEPENDENCE_MAX_P),
        label="config",
    )
    module = build(config, dropout_cls).train()
    seed = data.draw(SEEDS, label="seed")
    x = torch.ones(grid_shape(kind), dtype=dtype, device=device)
    wrapped = mode.wrap(module)
    with seeded(seed, device):
        # As in the rate check: on x = 1 a kept output is positive, a dropped one not.
        first, second = ((wrapped(x.clone()) > 0).cpu().numpy().reshape(GRID) for _ in range(2))
    q = oracle.mask_agreement(config.p)
    # False-positive rate: statistics.FALSE_POSITIVE_RATE per example, 1e-6 per check.
    alpha = statistics.FALSE_POSITIVE_RATE / 3
    rates = {
        "rows 2i and 2i+1 of one mask": first[0::2] == first[1::2],
        "columns 2j and 2j+1 of one mask": first[:, 0::2] == first[:, 1::2],
        "the masks of two calls": first == second,
    }
    ctx = f"{context(config, x)}; masks read as a {GRID[0]}x{GRID[1]} grid of units"
    for what, agree in rates.items():
        rate, n = float(agree.mean()), agree.size
        bound = statistics.binomial_rate_bound(n, alpha)
        if not abs(rate - q) < bound:
            fail(
                f"agreement of {what}={rate:.5f}, but should lie within {bound:.5f} of "
                f"p**2 + (1-p)**2={q:.5f} for independent units ({n} pairs; Hoeffding, "
                f"false-positive rate {statistics.CHECK_FALSE_POSITIVE_RATE:g} per check)",
                ctx,
            )


@over(KINDS)
@pytest.mark.dtypes("float32", "float16")
@given(data=st.data())
def test_dropout_train_grad(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """The gradient is the mask, scaled: ``grad_out * mask / (1-p)`` (alpha kinds:
    ``grad_out * mask * a``), with the mask read off the output; in place too.

    Source: ``_dropout_impl`` computes ``x * noise (+ b)`` with ``noise``
    independent of ``x`` (Dropout.cpp); CUDA's fused kernel has
    ``native_dropout_backward = grad * mask * scale`` (derivatives.yaml).
    """
    config = data.draw(training_configs(kind, dtype), label="config")
    module = build(config, dropout_cls).train()
    x = draw_input(data, config, dtype, device, elements=separated(config, dtype))
    seed = data.draw(SEEDS, label="seed")
    # Any upstream gradient will do; from the seed it costs no draw per element.
    upstream = np.random.default_rng(seed).uniform(-1.0, 1.0, tuple(x.shape))
    g = torch.from_numpy(upstream).to(device=device, dtype=dtype)
    leaf = x.detach().requires_grad_()
    # Through a clone, a non-leaf: inplace=True may write into it.
    out = call(mode.wrap(module), leaf.clone(), seed, device)
    ctx = context(config, x)
    if not out.requires_grad:
        fail("out.requires_grad=False, but should be True for an input that requires grad", ctx)
    (grad,) = torch.autograd.grad(out, leaf, g)
    guess, _ = read_mask(config, x, out.detach(), dtype)
    expected = oracle.expected_grad(to_float64(g), guess.kept, config.p, alpha=config.alpha)
    assert_dtype("x.grad", grad.dtype, dtype, ctx)
    assert_within("x.grad", grad, expected.value, tolerance(expected, dtype), ctx)


# --- p = 0, p = 1, p out of range ----------------------------------------------


def assert_passes_through(
    out: torch.Tensor, x: torch.Tensor, before: torch.Tensor, kind: Kind, inplace: bool, ctx: str
) -> None:
    """``out`` has the values of ``x`` (as they were: ``before``), ``x`` is untouched,
    and ``out is x`` where torch returns the input itself (:meth:`Kind.returns_input`)."""
    assert_equal("out", out, before, ctx)
    assert_equal("x", x, before, ctx)
    if kind.returns_input(x.ndim, inplace) and out is not x:
        fail("out is a new tensor, but should be the input object itself (out is x)", ctx)


@over(KINDS)
@given(data=st.data())
def test_dropout_p1_zeros(
    data: st.DataObject,
    device: torch.device,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """``p == 1`` in training gives zeros for finite input, alpha kinds included
    (``_dropout_impl``: ``if (p == 1) return input * zeros({})``)."""
    config = data.draw(dropout_configs(kinds=[kind.name], min_p=1.0), label="config")
    module = build(config, dropout_cls).train()
    x = draw_input(data, config, BEHAVIOUR_DTYPE, device)
    out = call(mode.wrap(module), x.clone(), data.draw(SEEDS, label="seed"), device)
    ctx = context(config, x)
    assert_dtype("out", out.dtype, BEHAVIOUR_DTYPE, ctx)
    assert_equal("out", out, np.zeros(tuple(x.shape)), ctx)


def outside_unit_interval() -> st.SearchStrategy[float]:
    """Floats below 0 or above 1, infinities included; not NaN (see test_dropout_nan_p)."""
    below = st.floats(max_value=0.0, exclude_max=True, allow_nan=False)
    above = st.floats(min_value=1.0, exclude_min=True, allow_nan=False)
    return st.one_of(below, above)


@over(KINDS)
@given(data=st.data())
def test_dropout_rejects_p_outside_unit_interval(
    data: st.DataObject, device: torch.device, dropout_cls: type[nn.Module], kind: Kind
) -> None:
    """``p < 0`` or ``p > 1`` raises ``ValueError("dropout probability has to be between
    0 and 1, but got {p}")`` from the constructor and from the functional form,
    in either mode (``_DropoutNd.__init__``; each function in functional.py)."""
    p = data.draw(outside_unit_interval(), label="p")
    config = DropoutConfig(kind=kind.name, p=p, inplace=False)
    training = data.draw(st.booleans(), label="training")
    x = torch.ones((2,) * min(config.ranks), device=device)
    message = P_ERROR.format(p=p)
    assert_raises(
        ValueError,
        lambda: build(config, dropout_cls),
        what="constructing",
        match=message,
        context=repr(config),
    )
    assert_raises(
        ValueError,
        lambda: kind.functional_form()(x, p, training),
        what=f"F.{kind.functional}(x, p={p!r}, training={training})",
        match=message,
        context=repr(config),
    )


@over(KINDS)
def test_dropout_nan_p(device: torch.device, dropout_cls: type[nn.Module], kind: Kind) -> None:
    """``p = nan`` is rejected by the time the layer runs, with the range message.

    torch 2.13.0 splits this: ``p < 0 or p > 1`` is False for NaN, so the
    constructor and functional.py let it through; ATen's ``TORCH_CHECK(p >= 0
    && p <= 1)`` then raises ``RuntimeError`` on the call, in either mode.
    Either error, at either point, conforms.
    """
    config = DropoutConfig(kind=kind.name, p=math.nan, inplace=False)
    x = torch.ones((2,) * min(config.ranks), device=device)
    message = P_ERROR.format(p=math.nan)

    def construct_and_call() -> torch.Tensor:
        out: torch.Tensor = build(config, dropout_cls).eval()(x)
        return out

    assert_raises(
        (ValueError, RuntimeError),
        construct_and_call,
        what="Module(p=nan)(x)",
        match=message,
        context=repr(config),
    )


# --- eval and the functional forms' training default --------------------------


@over(KINDS)
@given(data=st.data())
def test_dropout_identity_in_eval_and_at_p0(
    data: st.DataObject,
    device: torch.device,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """In eval (any ``p``) and in training at ``p == 0`` the layer returns its input
    unchanged, whatever the seed -- the object itself where :data:`KINDS` says
    so; and so does ``F.<form>(x, p, training=module.training)``.

    Source: the docs ("during evaluation the module simply computes an
    identity function"); ``_dropout_impl``: ``if (p == 0 || !train ||
    input.numel() == 0) return input``.
    """
    training = data.draw(st.booleans(), label="training")
    max_p = 0.0 if training else 1.0
    config = data.draw(dropout_configs(kinds=[kind.name], max_p=max_p), label="config")
    module = build(config, dropout_cls).train(training)
    x = draw_input(data, config, BEHAVIOUR_DTYPE, device)
    before = x.clone()
    seeds = data.draw(st.lists(SEEDS, min_size=2, max_size=2, unique=True), label="seeds")
    functional = kind.functional_form()
    calls: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "module(x)": mode.wrap(module),
        f"F.{kind.functional}(x, training={training})": lambda t: functional(
            t, config.p, training=training, inplace=config.inplace
        ),
    }
    state = "training" if training else "eval"
    for what, fn in calls.items():
        for seed in seeds:
            out = call(fn, x, seed, device)
            ctx = f"{context(config, x, state)}; {what} under torch.manual_seed({seed})"
            assert_passes_through(out, x, before, kind, config.inplace, ctx)


class _Forgetful(nn.Module):
    """The pytorch#26338 mistake: a module calling a dropout function without
    passing ``training=self.training``."""

    def __init__(self, kind: Kind, p: float) -> None:
        super().__init__()
        self.kind = kind
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kind.functional_form()(x, self.p)


@over(KINDS)
@given(data=st.data())
def test_dropout_functional_ignores_eval(
    data: st.DataObject, device: torch.device, kind: Kind
) -> None:
    """A functional form follows its own ``training`` default, never the calling
    module's mode: ``F.dropout`` (and ``dropout1d/2d/3d``) default to
    ``training=True``, so a module that omits ``training=self.training`` still
    drops after ``.eval()`` (pytorch#26338); ``F.alpha_dropout`` and
    ``F.feature_alpha_dropout`` default to ``training=False`` (functional.py).

    Checked under one seed against the explicit call.
    """
    config = data.draw(training_configs(kind, BEHAVIOUR_DTYPE), label="config")
    x = draw_input(data, config, BEHAVIOUR_DTYPE, device)
    seed = data.draw(SEEDS, label="seed")
    forgetful = _Forgetful(kind, config.p).eval()
    out = call(forgetful, x, seed, device)
    expected = call(
        lambda t: kind.functional_form()(t, config.p, training=kind.trains_by_default),
        x,
        seed,
        device,
    )
    ctx = (
        f"{context(config, x, 'eval')}; a module calling F.{kind.functional}(x, p) "
        f"should run with training={kind.trains_by_default}, the function's default"
    )
    assert_equal("out", out, expected, ctx)


# --- inplace ----------------------------------------------------------------


@over(KINDS)
@given(data=st.data())
def test_dropout_inplace(
    data: st.DataObject,
    device: torch.device,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """In training with ``0 < p <= 1``: ``inplace=True`` writes into ``x`` and returns
    it (``out is x``, ``x._version`` bumped); ``inplace=False`` returns a new
    tensor and leaves ``x`` as it was (values and ``_version``). The alpha
    kinds ignore ``inplace``: their ``forward`` does not pass it on
    (dropout.py). An empty input comes back as it is (nothing to write).
    """
    config = data.draw(dropout_configs(kinds=[kind.name], min_p=2**-30, max_p=1.0), label="config")
    module = build(config, dropout_cls).train()
    x = draw_input(data, config, BEHAVIOUR_DTYPE, device)
    before, version = x.clone(), x._version
    out = call(mode.wrap(module), x, data.draw(SEEDS, label="seed"), device)
    ctx = context(config, x)
    if config.inplace and config.honours_inplace:
        if out is not x:
            fail("out is a new tensor, but should be x itself (inplace=True)", ctx)
        if x.numel() and x._version == version:
            fail(f"x._version={version} is unchanged, but should be bumped (inplace=True)", ctx)
        return
    if x._version != version:
        fail(f"x._version={x._version}, but should be {version}: x must be left alone", ctx)
    assert_equal("x", x, before, ctx)
    if x.numel() and out is x:
        fail("out is x itself, but should be a new tensor (x must be left alone)", ctx)


# --- the RNG ------------------------------------------------------------------


@over(KINDS)
@given(data=st.data())
def test_dropout_seeded_masks_repeat(
    data: st.DataObject,
    device: torch.device,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """Under ``torch.manual_seed(s)`` on one device the mask is a function of ``s``:
    two calls of the layer agree, and agree with ``F.<form>(x, p, training=True,
    inplace=...)``, which its ``forward`` is (dropout.py). Masks are never
    compared across devices (CPU and CUDA draw them differently by design).
    """
    config = data.draw(dropout_configs(kinds=[kind.name]), label="config")
    module = build(config, dropout_cls).train()
    x = draw_input(data, config, BEHAVIOUR_DTYPE, device)
    seed = data.draw(SEEDS, label="seed")
    wrapped = mode.wrap(module)
    first = call(wrapped, x.clone(), seed, device)
    again = call(wrapped, x.clone(), seed, device)
    ctx = f"{context(config, x)}; both under torch.manual_seed({seed})"
    assert_equal("out (second call)", again, first, ctx)
    if not (mode.same_rng_stream and is_own_implementation("dropout", dropout_cls)):
        # Compiled code may draw its masks from another RNG stream, by design
        # (inductor does), and a re-implementation may draw them its own way:
        # only the repeat under one seed is promised there.
        return
    functional = call(
        lambda t: kind.functional_form()(
            t, config.p, training=True, inplace=config.inplace and config.honours_inplace
        ),
        x.clone(),
        seed,
        device,
    )
    assert_equal(f"F.{kind.functional}(x, ...)", functional, first, ctx)


# --- channels and ranks -------------------------------------------------------


@over(CHANNEL_KINDS)
@given(data=st.data())
def test_dropout_zeroes_whole_channels(
    data: st.DataObject,
    device: torch.device,
    dropout_cls: type[nn.Module],
    kind: Kind,
    mode: Mode,
) -> None:
    """Channel kinds keep or drop each channel whole: one Bernoulli draw per
    ``(sample, channel)`` (``make_feature_noise`` in Dropout.cpp; the docs:
    "randomly zero out entire channels"), for every rank they accept --
    unbatched ones included (:func:`~conformance.oracle.dropout.channel_dim`).

    Half the examples are informative by construction: every side at least 2
    and ``p`` in [1/4, 3/4], so that a layer reading the dims wrongly (an
    unbatched ``(C, D, H, W)`` input to Dropout3d read as batched drops
    ``(c, d)`` slices, pytorch#69801) splits some channel with good
    probability; the other half reach empty inputs, size-1 dims and extreme ``p``.
    """
    informative = data.draw(st.booleans(), label="sides >= 2, p in [1/4, 3/4]")
    configs = (
        dropout_configs(kinds=[kind.name], min_p=0.25, max_p=0.75)
        if informative
        else training_configs(kind, BEHAVIOUR_DTYPE)
    )
    config = data.draw(configs, label="config")
    module = build(config, dropout_cls).train()
    elements = separated(config, BEHAVIOUR_DTYPE)
    if informative:
        shape = data.draw(informative_shapes(config.ranks), label="shape")
        x = data.draw(tensors(shape=shape, device=device, elements=elements), label="x")
    else:
        x = draw_input(data, config, BEHAVIOUR_DTYPE, device, elements=elements)
    out = call(mode.wrap(module), x.clone(), data.draw(SEEDS, label="seed"), device)
    guess, _ = read_mask(config, x, out, BEHAVIOUR_DTYPE)
    dim = oracle.channel_dim(kind.name, x.ndim)
    assert dim is not None  # a channel kind
    assert_whole_channels(guess, dim, context(config, x))


@functools.cache
def informative_shapes(ranks: tuple[int, ...]) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of one of ``ranks`` (the ranks a layer takes without warning), every
    side in [2, 4]; built once per kind."""
    return st.one_of(
        [
            shapes(min_dims=r, max_dims=r, min_side=2, max_side=MAX_SIDE, max_numel=MAX_NUMEL)
            for r in ranks
            if 2**r <= MAX_NUMEL
        ]
    )


def _recorded(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, list[str]]:
    """``fn()``'s result or exception, and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn(), None, [str(w.message) for w in caught]
        except Exception as e:
            return None, e, [str(w.message) for w in caught]


def _assert_warnings(got: list[str], expected: tuple[str, ...], ctx: str) -> None:
    for start in expected:
        if not any(message.startswith(start) for message in got):
            fail(f"warnings={got!r}, but should include one starting {start!r}", ctx)
    for message in got:
        if not any(message.startswith(start) for start in expected):
            fail(f"warning {message!r} was given, but none should be", ctx)


@over(RANK_KINDS)
@given(data=st.data())
def test_dropout_rank_rules(
    data: st.DataObject, device: torch.device, dropout_cls: type[nn.Module], kind: Kind
) -> None:
    """Inputs of any rank 0-6, in either mode: the warnings, errors and channel
    dims of :func:`~conformance.oracle.dropout.rank_rule` and
    :func:`~conformance.oracle.dropout.channel_dim`. ``Dropout1d`` raises for
    ranks other than 2 and 3; ``Dropout2d`` warns for ranks other than 3 and 4,
    and for 3-D input that it reads it as ``(N, C, L)``; ``Dropout3d`` warns for
    ranks other than 4 and 5; the feature kinds need 2 dims once they draw a mask.
    """
    ndim = data.draw(st.integers(0, 6), label="ndim")
    shape = data.draw(shapes(min_dims=ndim, max_dims=ndim, max_side=3, max_numel=64), label="shape")
    config = data.draw(dropout_configs(kinds=[kind.name]), label="config")
    training = data.draw(st.booleans(), label="training")
    elements = separated(config, torch.float32)
    x = data.draw(tensors(shape=shape, device=device, elements=elements), label="x")
    module = build(config, dropout_cls).train(training)
    seed = data.draw(SEEDS, label="seed")
    out, error, got = _recorded(lambda: call(module, x.clone(), seed, device))
    ctx = context(config, x, "training" if training else "eval")
    draws = training and 0.0 < config.p < 1.0 and x.numel() > 0
    rule = oracle.rank_rule(kind.name, ndim, draws=draws)
    _assert_warnings(got, rule.warnings, ctx)
    if rule.error is not None:
        exc_type, message = rule.error
        if not isinstance(error, exc_type) or not str(error).startswith(message):
            fail(
                f"module(x) raised {error!r}, but should raise {exc_type.__name__}({message!r}...)",
                ctx,
            )
        return
    if error is not None:
        fail(f"module(x) raised {error!r}, but should return a tensor", ctx)
    assert_shape("out", out.shape, x.shape, ctx)
    if draws:
        guess, _ = read_mask(config, x, out, torch.float32)
        dim = oracle.channel_dim(kind.name, ndim)
        assert dim is not None
        assert_whole_channels(guess, dim, ctx)


# --- alpha dropout's self-normalisation ---------------------------------------

#: Beyond this ``p`` the fourth moment of the output grows like ``1/(1-p)`` and
#: the second-moment bound says little.
ALPHA_STATS_MAX_P = 0.9


@over(ALPHA_KINDS)
@pytest.mark.dtypes("float32", "float64")
@pytest.mark.examples_share(0.5)  # each example is a test on thousands of units
@given(data=st.data())
def test_dropout_alpha_keeps_mean_and_std(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    dropout_cls: type[nn.Module],
    kind: Kind,
) -> None:
    """On standard-normal input the alpha kinds' output has mean 0 and std 1.

    ``n = 2**16`` independent outputs ``Y`` (each element its own channel);
    mean and second moment are estimated by medians of means and checked
    against :func:`~conformance.oracle.statistics.median_of_means_bound` with the
    exact variances (``Var Y = 1``, ``Var Y**2 = E[Y**4] - 1`` from
    :func:`~conformance.oracle.dropout.alpha_fourth_moment`). The two
    estimates share the per-example false-positive rate (1e-6 per check).
    The input is drawn by NumPy from the drawn seed, in float64, and then
    rounded to ``dtype``; rounding moves each output by at most ``tolerance``
    (plus ``a*u*|x|`` for the input), added to the bounds.

    Source: the ``AlphaDropout`` docs ("For an input with zero mean and unit
    standard deviation, the output of Alpha Dropout maintains the original
    mean and standard deviation"); Klambauer et al. 2017.
    """
    config = data.draw(dropout_configs(kinds=[kind.name], max_p=ALPHA_STATS_MAX_P), label="config")
    module = build(config, dropout_cls).train()
    seed = data.draw(SEEDS, label="seed")
    normal = np.random.default_rng(seed).standard_normal(kind.large_shape)
    x = torch.from_numpy(normal).to(device=device, dtype=dtype)
    y = to_float64(call(module, x, seed, device)).ravel()
    p, n = config.p, y.size
    m = oracle.alpha_affine(p)
    # How far rounding can move each output from its exact value.
    exact = oracle.expected_output(normal, np.ones(normal.shape, bool), p, alpha=True)
    err = (tolerance(exact, dtype) + m.a * unit_roundoff(dtype) * np.abs(normal)).ravel()
    half = statistics.FALSE_POSITIVE_RATE / 2  # two estimates per example
    mean = statistics.median_of_means(y, half)
    second = statistics.median_of_means(y * y, half)
    mean_bound = statistics.median_of_means_bound(n, 1.0, half) + float(err.max())
    second_bound = statistics.median_of_means_bound(
        n, oracle.alpha_fourth_moment(p) - 1.0, half
    ) + float((err * (2 * np.abs(y) + err)).max())
    std = math.sqrt(max(second - mean**2, 0.0))
    low, high = math.sqrt(max(1.0 - second_bound - mean_bound**2, 0.0)), math.sqrt(1 + second_bound)
    ctx = (
        f"{context(config, x)}; standard-normal x; median of means, false-positive rate "
        f"{statistics.CHECK_FALSE_POSITIVE_RATE:g} per check"
    )
    if not abs(mean) <= mean_bound:
        fail(f"mean={mean:.5f}, but should lie within {mean_bound:.5f} of 0", ctx)
    if not low <= std <= high:
        fail(f"std={std:.5f}, but should lie in [{low:.5f}, {high:.5f}]", ctx)
