"""What the BatchNorm checks share: kinds, building, state, inputs, bounds.

``conformance/test_batch_norm.py`` builds each layer through the constructor
contract of its kind (``cls(num_features, eps=..., momentum=..., affine=...,
track_running_stats=..., device=..., dtype=...)``), reads it through
``.weight``, ``.bias``, ``.running_mean``, ``.running_var`` and
``.num_batches_tracked``, and compares it with
:mod:`conformance.oracle.batch_norm`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import fail
from conformance.layers import batch_norm as registry_entry
from conformance.oracle import batch_norm as oracle
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS, seeded
from conformance.tolerances import unit_roundoff
from strategies import BatchNormConfig, seeded_values

#: The registry kinds and the torch.nn class each stands for.
KINDS = {"batch_norm1d": "BatchNorm1d", "batch_norm2d": "BatchNorm2d"}
ONE_VALUE_ERROR = "Expected more than 1 value per channel"
CHANNEL_ERROR = registry_entry.CHANNEL_ERROR
STATE_NAMES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

#: How a check switches the layer between training and eval: on the layer
#: itself, or on a model holding it (``Module.train`` recurses over
#: ``children()``), one or two levels up.
ROUTES = ("layer", "Sequential(layer)", "nested model")


def configs(
    kind: str, dtype: torch.dtype, device: torch.device
) -> st.SearchStrategy[BatchNormConfig]:
    """The registry entry's configs for ``kind``: small, every flag drawn."""
    return registry_entry.configs_of(KINDS[kind])(dtype, device)


def inputs(
    config: BatchNormConfig, *, min_values: int = 2, requires_grad: bool = False
) -> st.SearchStrategy[torch.Tensor]:
    """The registry entry's inputs (built once per config)."""
    return registry_entry.inputs(config, min_values, requires_grad)


def build(data: st.DataObject, cls: Any, config: BatchNormConfig) -> nn.Module:
    with seeded(data.draw(SEEDS, label="seed"), torch.device(config.device)):
        module: nn.Module = config.build(cls)
    return module


#: Counts a layer may have seen before a check's first call.
_COUNTS = st.integers(0, 3)
#: None (keep the layer's initial state) or the seed that fills a new one; None first,
#: so that failures that show from the initial state shrink to it.
_STATE_SEEDS = st.one_of(st.none(), SEEDS)


def randomise_state(data: st.DataObject, module: nn.Module, config: BatchNormConfig) -> None:
    """Give the layer drawn parameters and running statistics (one drawn seed fills
    them, values in [-100, 100], the running variances their absolute values) and a
    drawn ``num_batches_tracked``: the rules must hold from any state, not only from
    the initial one (weight 1, bias 0, mean 0, variance 1), which is drawn too and
    is what failures shrink toward."""
    c = config.num_features
    seed = data.draw(_STATE_SEEDS, label="state seed (None: the initial state)")
    count = data.draw(_COUNTS, label="num_batches_tracked before")
    with torch.no_grad():
        if seed is not None:
            values = seeded_values(seed, 4 * c, config.dtype).to(config.device)
            for i, name in enumerate(("weight", "bias", "running_mean", "running_var")):
                t = getattr(module, name, None)
                if isinstance(t, torch.Tensor):
                    chunk = values[i * c : (i + 1) * c]
                    t.copy_(chunk.abs() if name == "running_var" else chunk)
        nbt = getattr(module, "num_batches_tracked", None)
        if isinstance(nbt, torch.Tensor):
            nbt.fill_(count)


class State(NamedTuple):
    """The layer's parameters and buffers as float64 arrays (None where absent);
    ``num_batches_tracked`` as an int."""

    weight: np.ndarray | None
    bias: np.ndarray | None
    running_mean: np.ndarray | None
    running_var: np.ndarray | None
    num_batches_tracked: int | None


def read_state(module: nn.Module) -> State:
    values: dict[str, Any] = {}
    for name in STATE_NAMES:
        t = getattr(module, name, None)
        if not isinstance(t, torch.Tensor):
            values[name] = None
        elif name == "num_batches_tracked":
            values[name] = int(t.item())
        else:
            values[name] = to_float64(t)
    return State(**values)


def single_value_shape(config: BatchNormConfig, ndim: int) -> tuple[int, ...]:
    """An input of rank ``ndim`` with exactly one value per channel."""
    return (1, config.num_features, *(1,) * (ndim - 2))


def wrap_in(route: str, module: nn.Module) -> nn.Module:
    """The model a check calls and switches: the layer, or a model holding it."""
    if route == "layer":
        return module
    if route == "Sequential(layer)":
        return nn.Sequential(module)
    return nn.Sequential(nn.Identity(), nn.Sequential(nn.Identity(), module))


def switch(root: nn.Module, training: bool) -> None:
    """``root.train()`` or ``root.eval()``, as users write them."""
    if training:
        root.train()
    else:
        root.eval()


def u(config: BatchNormConfig) -> float:
    return unit_roundoff(config.dtype)


def tiny(config: BatchNormConfig) -> float:
    """The smallest normal number of the dtype: what an underflowing operation may lose."""
    return float(torch.finfo(config.dtype).tiny)


#: The unit roundoff of the float64 oracle itself.
ORACLE_U = 2.0**-53


def output_bound(
    config: BatchNormConfig,
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    *,
    batch: bool,
) -> np.ndarray:
    """:func:`conformance.oracle.batch_norm.output_bound` for the layer's dtype, plus the
    float64 oracle's own share (as large as the layer's when the layer is float64)."""
    args = (x, mean, var, config.eps, weight, bias)
    layer = oracle.output_bound(*args, u(config), batch=batch, tiny=tiny(config))
    return layer + oracle.output_bound(*args, ORACLE_U, batch=batch)


def update_bound(
    config: BatchNormConfig,
    running: np.ndarray,
    statistic: np.ndarray,
    x: np.ndarray,
    factor: float,
    *,
    variance: bool,
) -> np.ndarray:
    """:func:`conformance.oracle.batch_norm.running_update_bound` for the batch ``x``'s
    mean (or unbiased variance) computed in the layer's dtype, plus the oracle's share."""
    layer = oracle.statistic_errors(x, config.eps, u(config))[variance]
    own = oracle.statistic_errors(x, config.eps, ORACLE_U)[variance]
    return oracle.running_update_bound(
        running, statistic, layer, factor, u(config), tiny(config)
    ) + oracle.running_update_bound(running, statistic, own, factor, ORACLE_U)


def gradient_bounds(
    config: BatchNormConfig,
    x: np.ndarray,
    grad_out: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray | None,
    *,
    batch: bool,
) -> oracle.Gradients:
    """:func:`conformance.oracle.batch_norm.gradient_bounds`, plus the oracle's share."""
    args = (x, grad_out, mean, var, config.eps, weight)
    layer = oracle.gradient_bounds(*args, u(config), batch=batch, tiny=tiny(config))
    own = oracle.gradient_bounds(*args, ORACLE_U, batch=batch)
    return oracle.Gradients(*(a + b for a, b in zip(layer, own, strict=True)))


def context(config: BatchNormConfig, cls: Any, x: torch.Tensor, extra: str = "") -> str:
    impl = getattr(cls, "__qualname__", repr(cls))
    layout = "contiguous" if x.is_contiguous() else f"strides {x.stride()}"
    return f"{impl}: {config!r}, x.shape={tuple(x.shape)} ({layout}){f'; {extra}' if extra else ''}"


def running_statistics(state: State, context: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The running mean and variance, which a layer tracking them must have."""
    if state.running_mean is None or state.running_var is None:
        fail("running_mean or running_var is None, but should be a buffer", context)
    return state.running_mean, state.running_var


def expected_output(
    config: BatchNormConfig, state: State, x: np.ndarray, training: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The output and its bound, from the state before the call."""
    batch = oracle.uses_batch_statistics(training, config.track_running_stats)
    if batch:
        stats = oracle.batch_statistics(x)
        mean, var = stats.mean, stats.var
    else:
        mean, var = running_statistics(state)
    value = oracle.normalise(x, mean, var, config.eps, state.weight, state.bias)
    bound = output_bound(config, x, mean, var, state.weight, state.bias, batch=batch)
    return value, bound
