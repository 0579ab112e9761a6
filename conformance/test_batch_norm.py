"""Conformance of ``nn.BatchNorm1d`` and ``nn.BatchNorm2d``: statistics, running
buffers, train/eval, errors and gradients.

Each check runs once per kind, ``batch_norm1d`` and ``batch_norm2d``
(``test_batch_norm_gradients[cpu-float32-batch_norm2d]``), and takes the
implementation from the ``batch_norm_cls`` fixture: ``torch.nn.BatchNorm1d`` /
``BatchNorm2d``, or a ``--target batch_norm2d=...`` of that kind, built through
the constructor contract ``cls(num_features, eps=..., momentum=...,
affine=..., track_running_stats=..., device=..., dtype=...)``. The generic
checks of ``test_registered_layers`` add the output against the reference in
train and eval from the initial state, the declared parameters and buffers,
the rejected ranks and channel counts, and in-place parameter updates.

Expectations come from :mod:`conformance.oracle.batch_norm` (NumPy float64 on
values read out of the layer before each call), within its error bounds for
the dtype. The rules (torch 2.13.0: torch/nn/modules/batchnorm.py,
``F.batch_norm`` in torch/nn/functional.py, the ``torch.nn.BatchNorm2d`` docs):

- training normalises with the batch's mean and *biased* variance, and blends
  the batch's mean and *unbiased* variance into ``running_mean`` /
  ``running_var``: ``(1 - momentum) * running + momentum * batch``;
  ``momentum=None`` is the cumulative average (factor ``1 /
  num_batches_tracked``); each training call adds 1 to the integer buffer
  ``num_batches_tracked``;
- eval normalises with the running statistics and changes no buffer;
  without running statistics (``track_running_stats=False``: the three
  buffers are None) both modes use the batch's;
- ``eval()`` / ``train()`` on a model holding the layer switch it;
- a call that normalises with batch statistics rejects one value per channel
  (``ValueError("Expected more than 1 value per channel when training")``);
- gradients of the input, weight and bias are those of the formula, the batch
  statistics differentiated through in training.

Dtypes: float32 (the rules are the same code for every dtype in torch's
kernels, and each dtype costs a full set of checks per kind: add float64 to
``test_batch_norm_gradients``' ``dtypes`` mark to hold a re-implementation to
float64's bound too); the fixed-batch checks of ``momentum=None`` run in float64.

Checks that call the layer take the ``mode`` fixture and call
``mode.wrap(...)``; a check that switches between train and eval wraps again
after each switch (a ScriptModule copies the training flags when it is made).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import (
    assert_declared,
    assert_dtype,
    assert_equal,
    assert_raises,
    assert_shape,
    assert_within,
    fail,
)
from conformance.modes import Mode
from conformance.oracle import batch_norm as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS
from conformance.support import batch_norm as support
from strategies import BatchNormConfig, seeded_values

#: Each check once per kind, the implementation taken (indirectly) from
#: ``batch_norm_cls``; each case exercises only its own kind's ``--target``.
KINDS = pytest.mark.parametrize(
    ("kind", "batch_norm_cls"),
    [pytest.param(k, k, id=k, marks=pytest.mark.exercises(k)) for k in support.KINDS],
    indirect=["batch_norm_cls"],
)


def _assert_buffers(module: nn.Module, config: BatchNormConfig, ctx: str) -> None:
    """The running buffers: ``(C,)`` floats and a 0-d int64 count, or all three None and
    unregistered without ``track_running_stats``."""
    buffers = dict(module.named_buffers())
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        count = name == "num_batches_tracked"
        shape = () if count else (config.num_features,)
        declared = shape if config.track_running_stats else None
        tensor = assert_declared(module, name, declared, buffers, "buffer", ctx)
        if tensor is not None:
            assert_dtype(name, tensor.dtype, torch.int64 if count else config.dtype, ctx)


def _check_running_statistics(
    config: BatchNormConfig,
    before: support.State,
    after: support.State,
    x: np.ndarray,
    training: bool,
    ctx: str,
) -> None:
    """A training call with running statistics counts one batch and blends the batch's
    mean and unbiased variance in; any other call leaves every buffer as it was."""
    if not config.track_running_stats:
        return
    if (
        before.num_batches_tracked is None
        or before.running_mean is None
        or before.running_var is None
    ):
        fail("a running buffer is None, but should be a tensor (track_running_stats=True)", ctx)
    if not training:
        assert_equal(
            "num_batches_tracked", after.num_batches_tracked, before.num_batches_tracked, ctx
        )
        assert_equal("running_mean (eval)", after.running_mean, before.running_mean, ctx)
        assert_equal("running_var (eval)", after.running_var, before.running_var, ctx)
        return
    count = before.num_batches_tracked + 1
    if after.num_batches_tracked != count:
        fail(
            f"num_batches_tracked={after.num_batches_tracked}, but should be {count} "
            "(one more per training call)",
            ctx,
        )
    factor = oracle.update_factor(config.momentum, count)
    stats = oracle.batch_statistics(x)
    how = f"(1 - {factor:.4g}) * running + {factor:.4g} * batch"
    for name, running, stat, updated in (
        ("running_mean", before.running_mean, stats.mean, after.running_mean),
        ("running_var", before.running_var, stats.unbiased_var, after.running_var),
    ):
        expected = oracle.running_update(running, stat, factor)
        bound = support.update_bound(
            config, running, stat, x, factor, variance=name == "running_var"
        )
        what = "the batch's unbiased variance" if name == "running_var" else "the batch's mean"
        assert_within(name, updated, expected, bound, f"{ctx}; {how}, with {what}")


@KINDS
@given(data=st.data())
def test_batch_norm_calls_follow_the_statistics_rules(
    data: st.DataObject,
    device: torch.device,
    kind: str,
    batch_norm_cls: Any,
    mode: Mode,
) -> None:
    """Up to three calls, each in training or eval (switched on the layer or on a model
    holding it), from a drawn state: each output is the input normalised with the
    batch's biased variance (training, or eval without running statistics) or with the
    running statistics (eval); a training call blends the batch's mean and unbiased
    variance into the running buffers with ``momentum`` (``None``: ``1 /
    num_batches_tracked``) and counts one batch; an eval call changes no buffer, and
    takes one value per channel when it has running statistics."""
    config = data.draw(support.configs(kind, torch.float32, device), label="config")
    module = support.build(data, batch_norm_cls, config)
    _assert_buffers(module, config, support.context(config, batch_norm_cls, torch.empty(0)))
    support.randomise_state(data, module, config)
    route = data.draw(st.sampled_from(support.ROUTES), label="switched on")
    root = support.wrap_in(route, module)
    steps = data.draw(st.lists(st.booleans(), min_size=1, max_size=3), label="training")
    call, wrapped_as = None, None
    for i, training in enumerate(steps):
        support.switch(root, training)
        if call is None or training != wrapped_as:
            # Wrapped after each switch: a ScriptModule copies the flags when made.
            call, wrapped_as = mode.wrap(root), training
        # Eval with running statistics takes one value per channel.
        min_values = 2 if oracle.uses_batch_statistics(training, config.track_running_stats) else 1
        x = data.draw(support.inputs(config, min_values=min_values), label=f"x{i}")
        before = support.read_state(module)
        switched = f"{'train()' if training else 'eval()'} on {route}"
        ctx = support.context(
            config,
            batch_norm_cls,
            x,
            f"call {i + 1} of {len(steps)}, after {switched}; num_batches_tracked before: "
            f"{before.num_batches_tracked}; {mode.describe()}",
        )
        try:
            out = call(x)
        except Exception as e:
            fail(f"layer(x) raised {type(e).__name__}({str(e)!r}), but should return a tensor", ctx)
        after = support.read_state(module)
        if not isinstance(out, torch.Tensor):
            fail(f"out is {type(out).__name__}, but should be a tensor", ctx)
        assert_shape("out", out.shape, x.shape, ctx)
        assert_dtype("out", out.dtype, config.dtype, ctx)
        x64 = to_float64(x)
        expected, bound = support.expected_output(config, before, x64, training)
        stats = (
            "batch"
            if oracle.uses_batch_statistics(training, config.track_running_stats)
            else "running"
        )
        assert_within(
            "out", out.detach(), expected, bound, f"{ctx}; normalised with {stats} statistics"
        )
        _check_running_statistics(config, before, after, x64, training, ctx)
    _assert_buffers(module, config, support.context(config, batch_norm_cls, torch.empty(0)))


@KINDS
@pytest.mark.dtypes("float32")
@given(data=st.data())
def test_batch_norm_gradients(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    kind: str,
    batch_norm_cls: Any,
    mode: Mode,
) -> None:
    """The gradients of ``sum(g * layer(x))`` with respect to ``x``, ``weight`` and
    ``bias`` match the formula's in float64 (:func:`conformance.oracle.batch_norm.gradients`):
    with batch statistics the mean and variance are differentiated through,
    ``dx = w / s * (g - mean(g) - xhat * mean(g * xhat))``; with running statistics
    ``dx = g * w / s``; ``dw = sum(g * xhat)``, ``db = sum(g)`` per channel."""
    config = data.draw(support.configs(kind, dtype, device), label="config")
    module = support.build(data, batch_norm_cls, config)
    support.randomise_state(data, module, config)
    training = data.draw(st.booleans(), label="training")
    module.train(training)
    batch = oracle.uses_batch_statistics(training, config.track_running_stats)
    x = data.draw(
        support.inputs(config, min_values=2 if batch else 1, requires_grad=True), label="x"
    )
    # One drawn seed fills grad_out (values in [-100, 100]): cheaper than a draw per value.
    g_seed = data.draw(SEEDS, label="grad_out seed")
    g = seeded_values(g_seed, x.numel(), dtype).reshape(x.shape).to(device)
    before = support.read_state(module)
    out = mode.wrap(module)(x)
    params = [getattr(module, n) for n in ("weight", "bias")] if config.affine else []
    grads = torch.autograd.grad(out, [x, *params], g, allow_unused=True)
    x64, g64 = to_float64(x), to_float64(g)
    if batch:
        stats = oracle.batch_statistics(x64)
        mean, var = stats.mean, stats.var
    else:
        mean, var = support.running_statistics(before)
    expected = oracle.gradients(x64, g64, mean, var, config.eps, before.weight, batch=batch)
    bounds = support.gradient_bounds(config, x64, g64, mean, var, before.weight, batch=batch)
    ctx = support.context(
        config,
        batch_norm_cls,
        x,
        f"training={training}, {'batch' if batch else 'running'} statistics; {mode.describe()}",
    )
    names = ("x.grad", "weight.grad", "bias.grad")
    for name, grad, value, bound in zip(names, grads, expected, bounds, strict=False):
        if grad is None:
            fail(f"{name} is None, but should be a tensor", ctx)
        assert_within(name, grad, value, bound, ctx)


#: (track_running_stats, training): the calls that normalise with batch statistics.
BATCH_STATISTICS_CALLS = [(True, True), (False, True), (False, False)]


@KINDS
def test_batch_norm_rejects_one_value_per_channel(
    device: torch.device, kind: str, batch_norm_cls: Any, mode: Mode
) -> None:
    """An input with one value per channel (``(1, C)``, ``(1, C, 1)``, ``(1, C, 1, 1)``)
    raises ``ValueError("Expected more than 1 value per channel when training, ...")``
    wherever batch statistics would normalise it: in training, and in eval without
    running statistics (torch's message says "when training" there too). The
    rejected call leaves the running statistics as they were. (Eval with running
    statistics takes such inputs: see the statistics-rules check.) A handful of
    fixed configs and every rank: nothing here depends on values."""
    name = support.KINDS[kind]
    for track, training in BATCH_STATISTICS_CALLS:
        for affine in (True, False):
            config = BatchNormConfig(name, 3, 1e-5, 0.1, affine, track, torch.float32, str(device))
            module = config.build(batch_norm_cls)
            module.train(training)
            for ndim in config.ranks:
                shape = support.single_value_shape(config, ndim)
                x = torch.arange(3.0, device=device).reshape(shape)
                before = support.read_state(module)
                ctx = support.context(
                    config, batch_norm_cls, x, f"training={training}; {mode.describe()}"
                )
                assert_raises(
                    ValueError,
                    functools.partial(mode.wrap(module), x),
                    what="layer(x) with one value per channel",
                    match=support.ONE_VALUE_ERROR,
                    context=ctx,
                )
                after = support.read_state(module)
                for state in ("running_mean", "running_var"):
                    assert_equal(
                        f"{state} after the rejected call",
                        getattr(after, state),
                        getattr(before, state),
                        ctx,
                    )


def _fixed_batches(config: BatchNormConfig) -> list[torch.Tensor]:
    """Two small batches of distinct, exactly representable values."""
    shape = (2, config.num_features, *(2,) * (config.ranks[-1] - 2))
    n = int(np.prod(shape))
    first = torch.arange(n, dtype=config.dtype).reshape(shape) * 0.5
    second = (torch.arange(n, dtype=config.dtype).reshape(shape) - 3.0) ** 2
    return [first.to(config.device), second.to(config.device)]


@KINDS
def test_batch_norm_momentum_none_averages_the_batches(
    device: torch.device, kind: str, batch_norm_cls: Any, mode: Mode
) -> None:
    """With ``momentum=None`` the running statistics after ``k`` training calls are the
    simple average of the ``k`` batches' means and unbiased variances ("cumulative
    moving average (i.e. simple average)", the BatchNorm docs; the factor is ``1 /
    num_batches_tracked``), and ``num_batches_tracked`` is ``k``. Fixed batches: the
    statistics-rules check covers the factor from any state; this one always takes
    the ``momentum=None`` path, in every mode (torch.compile with ``fullgraph=True``
    cannot trace it in torch 2.13.0: see known_deviations.toml)."""
    config = BatchNormConfig(
        support.KINDS[kind], 2, 1e-5, None, True, True, torch.float64, str(device)
    )
    module = config.build(batch_norm_cls)
    module.train()
    batches = _fixed_batches(config)
    call = mode.wrap(module)
    for x in batches:
        call(x)
    ctx = support.context(config, batch_norm_cls, batches[0], f"two batches; {mode.describe()}")
    _assert_simple_average(module, batches, ctx)


def _assert_simple_average(module: nn.Module, batches: list[torch.Tensor], ctx: str) -> None:
    stats = [oracle.batch_statistics(to_float64(x)) for x in batches]
    state = support.read_state(module)
    expected_mean = np.mean([s.mean for s in stats], axis=0)
    expected_var = np.mean([s.unbiased_var for s in stats], axis=0)
    tolerance = 1e-12
    n = len(batches)
    assert_within(
        "running_mean",
        state.running_mean,
        expected_mean,
        tolerance * (1 + np.abs(expected_mean)),
        f"{ctx}; the average of the {n} batches' means",
    )
    assert_within(
        "running_var",
        state.running_var,
        expected_var,
        tolerance * (1 + np.abs(expected_var)),
        f"{ctx}; the average of the {n} batches' unbiased variances",
    )
    assert_equal("num_batches_tracked", state.num_batches_tracked, n, ctx)


@KINDS
def test_batch_norm_cumulative_average_counts_accepted_batches_only(
    device: torch.device, kind: str, batch_norm_cls: Any
) -> None:
    """With ``momentum=None`` the running statistics are the simple average of the
    statistics of the batches the layer accepted ("cumulative moving average (i.e.
    simple average)", the BatchNorm docs), also after a call it rejected (one value per
    channel, which a loader's last batch can be), and ``num_batches_tracked`` counts
    the accepted batches. torch 2.13.0 departs: ``_BatchNorm.forward`` adds 1 to
    ``num_batches_tracked`` before ``F.batch_norm`` rejects the input, so every later
    factor is off by one (see known_deviations.toml)."""
    config = BatchNormConfig(
        support.KINDS[kind], 2, 1e-5, None, True, True, torch.float64, str(device)
    )
    module = config.build(batch_norm_cls)
    single = torch.ones(support.single_value_shape(config, config.ranks[0]), dtype=config.dtype)
    ctx = support.context(config, batch_norm_cls, single, "a rejected call, then two batches")
    assert_raises(
        ValueError,
        lambda: module(single.to(device)),
        what="layer(x) with one value per channel",
        match=support.ONE_VALUE_ERROR,
        context=ctx,
    )
    batches = _fixed_batches(config)
    for x in batches:
        module(x)
    _assert_simple_average(module, batches, ctx)


@KINDS
def test_batch_norm_rejects_other_channel_counts_in_empty_inputs(
    device: torch.device, kind: str, batch_norm_cls: Any
) -> None:
    """An input whose channel count is not ``num_features`` raises (``RuntimeError``:
    "running_mean should contain 4 elements not 3"), also when it is empty: the
    shapes ``(N, C, ...)`` with ``C == num_features`` are the documented inputs, and
    an empty batch is still a batch of that shape. torch 2.13.0 returns an empty
    output without checking (pytorch#72821, for ``C == 0``; ``N == 0`` too)."""
    config = BatchNormConfig(
        support.KINDS[kind], 3, 1e-5, 0.1, True, True, torch.float32, str(device)
    )
    module = config.build(batch_norm_cls)
    spatial = config.ranks[-1] - 2
    shapes = [(0, 4, *(2,) * spatial), (2, 0, *(2,) * spatial)]
    if spatial:
        shapes.append((2, 4, 0, *(2,) * (spatial - 1)))
    for shape in shapes:
        x = torch.zeros(shape, dtype=config.dtype, device=device)
        assert_raises(
            RuntimeError,
            functools.partial(module, x),
            what=f"layer(x) with {shape[1]} channels",
            match=support.CHANNEL_ERROR,
            context=support.context(config, batch_norm_cls, x),
        )
