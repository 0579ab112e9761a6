"""Conformance of ``train()`` / ``eval()``: the mode reaches every registered submodule.

Models come from :func:`strategies.model_configs`: Sequential, ModuleList and
ModuleDict containers, two deep, inside custom modules (``TwoBranch``,
``Gated``, ``ListStack``, ``DictStack``), with dropout at several depths.

Source: torch/nn/modules/module.py (``Module.train``: sets ``self.training``,
calls ``train(mode)`` on each of ``self.children()``, returns ``self``;
``Module.eval`` is ``train(False)``; ``Module.__init__`` starts in training
mode), torch/nn/modules/dropout.py (``Dropout.forward`` passes
``self.training`` to ``F.dropout``).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_equal, assert_raises, fail
from conformance.seeding import SEEDS, seeded
from conformance.support.subjects import flat_outputs
from strategies import model_configs, tensors
from strategies.models import DictStack, ListStack

TRAIN_MODE_ERROR = "training mode is expected to be boolean"

# The calls a user writes, and the mode each sets.
MODE_CALLS: dict[str, bool] = {
    "eval()": False,
    "train()": True,
    "train(False)": False,
    "train(True)": True,
}


def switch(module: nn.Module, call: str) -> nn.Module:
    if call == "eval()":
        return module.eval()
    if call == "train()":
        return module.train()
    return module.train(MODE_CALLS[call])


def check_flags(model: nn.Module, expected: dict[str, bool], context: str) -> None:
    for name, module in model.named_modules():
        if module.training != expected[name]:
            shown = f"model.{name}" if name else "model"
            fail(f"{shown}.training={module.training}, but should be {expected[name]}", context)


@given(data=st.data())
def test_mode_switches_reach_every_submodule(data: st.DataObject) -> None:
    """``m.train(mode)`` / ``m.eval()`` set ``training`` on ``m`` and every module
    registered below it, at any depth, leave the rest of the model alone, and
    return ``m`` itself. A new model starts in training mode.

    The subtree a call must reach is ``m.named_modules()``: the registration
    that ``train`` follows through ``children()``.
    """
    config = data.draw(model_configs(), label="config")
    model = config.build()  # parameter values play no part: no seed needed
    names = [name for name, _ in model.named_modules()]
    expected = dict.fromkeys(names, True)
    check_flags(model, expected, f"{config}, freshly built")
    steps = data.draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.sampled_from(sorted(MODE_CALLS))), max_size=4
        ),
        label="calls (target, call)",
    )
    done: list[str] = []
    for target_name, call in steps:
        target = model.get_submodule(target_name)
        returned = switch(target, call)
        done.append(f"model.{target_name}.{call}" if target_name else f"model.{call}")
        context = f"{config}, after {'; '.join(done)}"
        if returned is not target:
            fail(
                f"{done[-1]} returned {type(returned).__name__}, but should return its module",
                context,
            )
        prefix = f"{target_name}." if target_name else ""
        for name in names:
            if name == target_name or name.startswith(prefix):
                expected[name] = MODE_CALLS[call]
        check_flags(model, expected, context)


NON_BOOL_MODES = st.one_of(
    st.integers(0, 1),
    st.floats(0, 1),
    st.none(),
    st.sampled_from(["True", "False", "", "eval"]),
    st.sampled_from([np.True_, np.False_]),
    st.builds(torch.tensor, st.booleans()),
)


@given(data=st.data())
def test_train_rejects_a_non_bool_mode(data: st.DataObject) -> None:
    """``train(mode)`` with anything but a ``bool`` (1, 0.0, None, "True", numpy or
    tensor booleans) raises ``ValueError("training mode is expected to be boolean")``
    before changing any flag (``Module.train``: ``isinstance(mode, bool)``)."""
    config = data.draw(model_configs(max_depth=2), label="config")
    mode = data.draw(NON_BOOL_MODES, label="mode")
    start = data.draw(st.booleans(), label="starting mode")
    model = config.build().train(start)
    context = f"{config}, train({mode!r})"
    assert_raises(
        ValueError,
        lambda: model.train(mode),
        what=f"train({mode!r})",
        match=TRAIN_MODE_ERROR,
        context=str(config),
    )
    check_flags(model, {name: start for name, _ in model.named_modules()}, context)


def without_dropout(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Dropout`` replaced by ``nn.Identity``."""
    clone = copy.deepcopy(model)
    for name, module in list(clone.named_modules()):
        if isinstance(module, nn.Dropout):
            parent, _, child = name.rpartition(".")
            setattr(clone.get_submodule(parent), child, nn.Identity())
    return clone


@given(data=st.data())
def test_eval_makes_nested_dropout_the_identity(data: st.DataObject, device: torch.device) -> None:
    """After ``model.eval()`` every nested dropout passes its input through: the output
    does not depend on the RNG (two seeds, one output) and equals the output of the
    model with its dropout layers removed (``F.dropout(x, p, training=False)`` returns
    ``x``)."""
    config = data.draw(model_configs(), label="config")
    seeds = data.draw(st.lists(SEEDS, min_size=3, max_size=3, unique=True), label="seeds")
    with seeded(seeds[0], device):
        model = config.build(device=device).eval()
    x = data.draw(tensors(shape=(3, config.in_features), device=device), label="x")
    outputs = []
    for seed in seeds[1:]:
        with seeded(seed, device):
            outputs.append(flat_outputs(model(x)))
    reference = flat_outputs(without_dropout(model)(x))
    context = f"{config}, eval()"
    for i, (first, second, plain) in enumerate(zip(*outputs, reference, strict=True)):
        assert_equal(
            f"out[{i}] (seed {seeds[2]})", second, first, f"{context}; expected: seed {seeds[1]}"
        )
        assert_equal(f"out[{i}]", first, plain, f"{context}; expected: the model without dropout")


def nested_dropout(dropout_cls: type[nn.Module], p: float, depth: int) -> nn.Module:
    """A dropout layer ``depth`` containers deep: Sequential, ModuleList, ModuleDict in turn."""
    containers: list[Any] = [nn.Sequential, ListStack, DictStack]
    module = dropout_cls(p)
    for level in range(depth):
        module = containers[level % 3](module)
    return module


# Each element keeps its value under both of two independent masks, or drops
# it under both, with probability p**2 + (1-p)**2 <= 0.625 for p in [0.25, 0.75].
# With 64 elements all agree with probability <= 0.625**64 < 1e-13: below 1e-10
# for a 1000-example run, the false-positive rate of this check.
MIN_P, MAX_P, ELEMENTS = 0.25, 0.75, 64


@given(data=st.data())
def test_train_makes_nested_dropout_random_again(
    data: st.DataObject, device: torch.device, dropout_cls: type[nn.Module]
) -> None:
    """``eval()`` then ``train()`` on the outer container turns a dropout nested
    three containers deep back on: two seeds drop different elements.

    Probabilistic, with a false-positive rate below 1e-10 per run (see ``ELEMENTS``).
    """
    p = data.draw(st.floats(MIN_P, MAX_P), label="p")
    depth = data.draw(st.integers(1, 3), label="depth")
    seeds = data.draw(st.lists(SEEDS, min_size=2, max_size=2, unique=True), label="seeds")
    model = nested_dropout(dropout_cls, p, depth).eval().train()
    x = torch.ones(ELEMENTS, device=device)
    masks = []
    for seed in seeds:
        with seeded(seed, device):
            masks.append(model(x) != 0)
    if torch.equal(masks[0], masks[1]):
        fail(
            f"masks under seeds {seeds} are equal, but should differ ({ELEMENTS} elements)",
            f"{dropout_cls.__name__}(p={p}) {depth} containers deep, after eval().train()",
        )


class PlainListHolder(nn.Module):
    """Keeps ``registered`` layers in an ``nn.ModuleList`` and ``hidden`` ones in a plain list."""

    def __init__(self, registered: list[nn.Module], hidden: list[nn.Module]) -> None:
        super().__init__()
        self.registered = nn.ModuleList(registered)
        self.hidden = hidden  # a list is not a Module: Module.__setattr__ does not register it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in [*self.registered, *self.hidden]:
            x = layer(x)
        return x


@given(data=st.data())
def test_layers_in_a_plain_list_are_not_registered(data: st.DataObject) -> None:
    """The pitfall, shown: a layer kept in a plain Python list is no submodule. It is
    absent from ``modules()``, ``children()`` and ``parameters()``, and ``eval()`` leaves
    it in training mode, while the same layers in an ``nn.ModuleList`` follow
    (``Module.__setattr__`` registers only Modules, Parameters and buffers)."""
    kind = st.sampled_from(["Linear", "Dropout"])
    registered_kinds = data.draw(st.lists(kind, max_size=3), label="in nn.ModuleList")
    hidden_kinds = data.draw(st.lists(kind, min_size=1, max_size=3), label="in a plain list")

    def make(kind: str) -> nn.Module:
        return nn.Linear(2, 2) if kind == "Linear" else nn.Dropout(0.5)

    registered = [make(k) for k in registered_kinds]
    hidden = [make(k) for k in hidden_kinds]
    holder = PlainListHolder(registered, hidden).eval()
    context = f"ModuleList{registered_kinds} + plain list{hidden_kinds}, after eval()"
    modules = list(holder.modules())
    children = list(holder.children())
    params = {id(p) for p in holder.parameters()}
    for i, layer in enumerate(hidden):
        if any(m is layer for m in modules) or any(c is layer for c in children):
            fail(f"hidden[{i}] is in modules()/children(), but should not be", context)
        if any(id(p) in params for p in layer.parameters()):
            fail(f"hidden[{i}]'s parameters are in parameters(), but should not be", context)
        if not layer.training:
            fail(f"hidden[{i}].training=False, but eval() should not reach it", context)
    for i, layer in enumerate(registered):
        if layer.training:
            fail(f"registered[{i}].training=True, but should be False", context)
