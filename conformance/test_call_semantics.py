"""Conformance of ``nn.Module.__call__``: forward, its arguments, and every hook rule.

Hook scenarios are drawn by Hypothesis (how many global and module hooks of
each stage, which are ``prepend``, ``with_kwargs``, ``always_call``, which
return replacements or raise, in which order they are registered) and the
call's log is compared with :mod:`conformance.oracle.hooks`, which states the
rules as data. Values are tagged tensors (:class:`Tags`), so the log says who
produced every value a hook or ``forward`` was given.

Sources: torch/nn/modules/module.py (``Module._wrapped_call_impl``,
``Module._call_impl``, the ``register_*hook`` methods and the
``register_module_*`` functions), torch/utils/hooks.py (``BackwardHook``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_close, assert_equal, assert_raises, assert_shape, fail
from conformance.oracle.hooks import (
    CALLER_ARGS,
    CALLER_GRAD,
    CALLER_KWARGS,
    FORWARD,
    Hook,
    Site,
    expected_backward,
    expected_call,
    format_event,
    joins_current_call,
)
from conformance.seeding import SEEDS, seeded
from conformance.support.hooks import (
    BACKWARD_STAGES,
    FORWARD_STAGES,
    MIXED_BACKWARD_HOOKS_ERROR,
    PRE_HOOK_RETURN_ERROR,
    SCOPES,
    Scenario,
    call_probe,
    check_call,
    global_hooks_restored,
    hook_scenarios,
    make_hook,
    new_probe,
    register,
    registered,
)
from conformance.support.subjects import flat_outputs
from conformance.tolerances import tf32
from strategies import linear_configs, linear_inputs, model_configs, tensors

# --- __call__ versus forward --------------------------------------------------


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_call_without_hooks_matches_forward(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """With no hooks, ``module(x)`` is ``module.forward(x)``, and records the graph.

    ``_call_impl`` calls ``forward`` directly when no hook dict is non-empty.
    Dropout in training mode is random, so both calls get the same seed.
    """
    config = data.draw(model_configs(), label="config")
    seed = data.draw(SEEDS, label="seed")
    with seeded(seed, device):
        model = config.build(dtype=dtype, device=device).train(
            data.draw(st.booleans(), label="train")
        )
    x = data.draw(tensors(shape=(2, config.in_features), dtype=dtype, device=device), label="x")
    with seeded(seed, device):
        called = flat_outputs(model(x))
    with seeded(seed, device):
        direct = flat_outputs(model.forward(x))
    context = f"{config}, training={model.training}"
    for i, (out, ref) in enumerate(zip(called, direct, strict=True)):
        assert_equal(f"model(x)[{i}]", out, ref, context)
        if out.grad_fn is None:
            fail(
                f"model(x)[{i}].grad_fn=None, but should be set (parameters require grad)", context
            )


class Variadic(nn.Module):
    """``forward(*tensors, **options)``: records what it received and returned."""

    def forward(self, *tensors: Any, **options: Any) -> Any:
        self.received = (tensors, options)
        self.returned = object()
        return self.returned


class KeywordOnly(nn.Module):
    """``forward(x, *, alpha, beta, gamma, delta)``, each keyword defaulting to None."""

    def forward(
        self, x: Any, *, alpha: Any = None, beta: Any = None, gamma: Any = None, delta: Any = None
    ) -> Any:
        self.received = ((x,), {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta})
        self.returned = object()
        return self.returned


KEYWORDS = ("alpha", "beta", "gamma", "delta")


def _naming(values: dict[str, Any]) -> Callable[[Any], str]:
    """Names objects by identity: a copy of a value is ``<another object>``."""

    def name(value: Any) -> str:
        if value is None:
            return "None"
        return next((n for n, v in values.items() if v is value), "<another object>")

    return name


@given(data=st.data())
def test_arguments_reach_forward_unchanged(data: st.DataObject, device: torch.device) -> None:
    """Positional and keyword arguments reach ``forward`` as the very objects given.

    ``_call_impl`` calls ``forward(*args, **kwargs)``, with or without hooks
    (hooks returning None change nothing): keywords bind by name whatever
    their order, keyword-only parameters not given keep their defaults, a
    variadic ``forward`` gets every positional argument in order, and the
    call returns ``forward``'s result object.
    """
    variadic = data.draw(st.booleans(), label="variadic forward")
    n_positional = data.draw(st.integers(0, 3), label="positional") if variadic else 1
    keywords = data.draw(st.permutations(KEYWORDS), label="keyword order")
    keywords = keywords[: data.draw(st.integers(0, len(KEYWORDS)), label="keywords")]
    through_hooks = data.draw(st.booleans(), label="through no-op hooks")
    module: Variadic | KeywordOnly = Variadic() if variadic else KeywordOnly()
    names = [*(f"arg{i}" for i in range(n_positional)), *keywords]
    values = {n: torch.full((1,), float(i), device=device) for i, n in enumerate(names)}
    args = tuple(values[n] for n in names[:n_positional])
    kwargs = {n: values[n] for n in keywords}
    shown = ", ".join([*names[:n_positional], *(f"{k}={k}" for k in keywords)])
    context = (
        f"{type(module).__name__}()({shown}){', through no-op hooks' if through_hooks else ''}"
    )
    with global_hooks_restored() as handles:
        if through_hooks:
            handles.append(module.register_forward_pre_hook(lambda m, a, k: None, with_kwargs=True))
            handles.append(module.register_forward_hook(lambda m, a, o: None))
        try:
            out = module(*args, **kwargs)
        except TypeError as e:
            fail(f"the call raised TypeError({e}), but forward accepts these arguments", context)
    name = _naming(values)
    expected_kwargs = kwargs if variadic else {k: kwargs.get(k) for k in KEYWORDS}
    received_args, received_kwargs = module.received
    got = ([*map(name, received_args)], {k: name(v) for k, v in received_kwargs.items()})
    want = ([*map(name, args)], {k: name(v) for k, v in expected_kwargs.items()})
    if got != want:
        fail(f"forward received (args, kwargs)={got}, but should be {want}", context)
    if out is not module.returned:
        fail(f"module(...) returned {out!r}, but should return forward's result", context)


@given(data=st.data())
def test_forward_runs_once_per_call(data: st.DataObject, device: torch.device) -> None:
    """Each ``module(...)`` runs ``forward`` exactly once, with or without hooks of any stage."""
    scenario = data.draw(hook_scenarios((*FORWARD_STAGES, *BACKWARD_STAGES)), label="scenario")
    calls = data.draw(st.integers(1, 3), label="calls")
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log)
    with registered(probe, scenario.registrations, tags, log, scenario.bare):
        for _ in range(calls):
            probe(tags[CALLER_ARGS], k=tags[CALLER_KWARGS])
    if probe.calls != calls:
        fail(f"forward ran {probe.calls} times, but should run {calls}", scenario.describe())


@given(data=st.data())
def test_direct_forward_runs_no_hooks(data: st.DataObject, device: torch.device) -> None:
    """``module.forward(...)`` bypasses ``__call__``: no hook of any stage runs.

    Hooks live in ``_call_impl`` only; calling ``forward`` skips them, and
    the backward hooks are never attached to the graph.
    """
    scenario = data.draw(hook_scenarios((*FORWARD_STAGES, *BACKWARD_STAGES)), label="scenario")
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log, identity=True)
    x = tags[CALLER_ARGS].clone().requires_grad_()
    with registered(probe, scenario.registrations, tags, log, scenario.bare):
        probe.forward(x, k=tags[CALLER_KWARGS]).backward(tags[CALLER_GRAD])
    expected = [format_event(FORWARD, args=CALLER_ARGS, kwargs=CALLER_KWARGS)]
    if log != expected:
        fail(
            f"call log={log}, but should be {expected}",
            f"module.forward(x, k=k); {scenario.describe()}",
        )
    assert_equal("x.grad", x.grad, tags[CALLER_GRAD], scenario.describe())


# --- forward pre-hooks and forward hooks ----------------------------------------


@given(data=st.data())
def test_forward_hooks_run_in_order_and_pass_results_on(
    data: st.DataObject, device: torch.device
) -> None:
    """Forward pre-hooks and forward hooks run in the documented order and thread values.

    Order: global before the module's, each in registration order, a module
    hook with ``prepend=True`` before those registered earlier. A pre-hook's
    return replaces ``args`` (a bare value becomes a 1-tuple), a
    ``with_kwargs`` pre-hook's return replaces ``(args, kwargs)``; a forward
    hook's return replaces the output and the next hook sees it. When a hook
    or ``forward`` raises, the ``always_call`` forward hooks not yet run are
    called (result None if forward did not return), their own exceptions
    become warnings, and the original exception propagates
    (``Module._call_impl``; oracle: :func:`conformance.oracle.hooks.expected_call`).
    """
    scenario = data.draw(hook_scenarios(FORWARD_STAGES, allow_raises=True), label="scenario")
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log, raises=scenario.forward_raises)
    with registered(probe, scenario.registrations, tags, log, scenario.bare):
        observed = call_probe(probe, tags)
    expected = expected_call(scenario.registrations, forward_raises=scenario.forward_raises)
    check_call(log, observed, expected, scenario.describe())


@pytest.mark.xfail(
    strict=False,
    reason="torch 2.13 _call_impl's except branch calls global always_call hooks as "
    "hook(module, args, result), ignoring with_kwargs; the TypeError becomes a warning",
)
def test_global_always_call_hook_gets_kwargs_when_forward_raises(device: torch.device) -> None:
    """A global ``with_kwargs=True, always_call=True`` forward hook is given the kwargs
    when ``forward`` raises, as it is when ``forward`` returns (documented rule:
    ``register_module_forward_hook``). Drawn scenarios avoid this case."""
    hook = Hook("g_fwd0", "forward", "global", with_kwargs=True, always_call=True)
    scenario = Scenario((hook,), frozenset(), forward_raises=True)
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log, raises=True)
    with registered(probe, scenario.registrations, tags, log):
        observed = call_probe(probe, tags)
    check_call(log, observed, expected_call((hook,), forward_raises=True), scenario.describe())


BAD_PRE_HOOK_RETURNS: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], Any]] = {
    "a tensor": lambda args, kwargs: args[0],
    "a 1-tuple": lambda args, kwargs: (args,),
    "a 3-tuple": lambda args, kwargs: (args, kwargs, None),
    "a list [args, kwargs]": lambda args, kwargs: [args, kwargs],
}


@given(data=st.data())
def test_with_kwargs_pre_hook_must_return_args_and_kwargs(
    data: st.DataObject, device: torch.device
) -> None:
    """A ``with_kwargs`` pre-hook returns None or ``(args, kwargs)``; anything else raises
    ``RuntimeError("forward pre-hook must return None or a tuple of (new_args, new_kwargs), but
    got ...")`` before ``forward`` runs (``Module._call_impl``: ``isinstance(r, tuple) and
    len(r) == 2``)."""
    what = data.draw(st.sampled_from(sorted(BAD_PRE_HOOK_RETURNS)), label="returns")
    prepend = data.draw(st.booleans(), label="prepend")
    log: list[str] = []
    probe, tags = new_probe(Scenario((), frozenset(), False), device, log)
    bad = BAD_PRE_HOOK_RETURNS[what]
    probe.register_forward_pre_hook(lambda m, a, k: bad(a, k), with_kwargs=True, prepend=prepend)
    context = f"with_kwargs pre-hook returning {what}"
    assert_raises(
        RuntimeError,
        lambda: probe(tags[CALLER_ARGS], k=tags[CALLER_KWARGS]),
        what="module(x, k=k)",
        match=PRE_HOOK_RETURN_ERROR,
        context=context,
    )
    if probe.calls:
        fail(f"forward ran {probe.calls} times, but should not run", context)


# --- handles and registration during a call ------------------------------------


@given(data=st.data())
def test_removed_hooks_stop_running(data: st.DataObject, device: torch.device) -> None:
    """``handle.remove()`` takes the hook out of every later call; the others keep
    their order (``RemovableHandle.remove`` deletes the entry from the ordered dict).
    Removing twice is harmless."""
    scenario = data.draw(hook_scenarios(FORWARD_STAGES), label="scenario")
    names = sorted(scenario.names)
    removed = data.draw(st.sets(st.sampled_from(names)), label="removed") if names else set()
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log)
    with registered(probe, scenario.registrations, tags, log, scenario.bare) as handles:
        call_probe(probe, tags)
        for name in sorted(removed):
            handles[name].remove()
            handles[name].remove()
        log.clear()
        observed = call_probe(probe, tags)
    kept = tuple(h for h in scenario.registrations if h.name not in removed)
    check_call(
        log, observed, expected_call(kept), f"{scenario.describe()}; removed {sorted(removed)}"
    )


SITES: tuple[Site, ...] = ("forward_pre", "forward_call", "forward")


@given(data=st.data())
def test_hook_registered_during_a_call_runs_from_the_next_call(
    data: st.DataObject, device: torch.device
) -> None:
    """A hook registered while a call runs joins it only if its stage starts later.

    ``_call_impl`` picks the fast path (no hooks) at entry and copies each
    stage's hooks when that stage starts, so a hook registered by a hook of
    its own stage, or during a call that had no hooks, runs from the next
    call; a forward hook registered in a pre-hook or in ``forward`` runs in
    the same call (oracle: :func:`conformance.oracle.hooks.joins_current_call`).
    """
    site = data.draw(st.sampled_from(SITES), label="registered in")
    stage = data.draw(st.sampled_from(FORWARD_STAGES), label="new hook stage")
    scope = data.draw(st.sampled_from(SCOPES), label="new hook scope")
    other_hooks = site != "forward_call" or data.draw(st.booleans(), label="other hooks")
    late = Hook("late", stage, scope)
    log: list[str] = []
    probe, tags = new_probe(Scenario((late,), frozenset(), False), device, log)
    context = f"a {scope} {stage} hook registered in {site}, other hooks={other_hooks}"
    with global_hooks_restored() as handles:

        def register_late() -> None:
            if not handles:  # only during the first call
                handles.append(register(probe, late, make_hook(late, tags, log)))

        if site == "forward_call":
            probe.on_forward = register_late
            if other_hooks:
                probe.register_forward_pre_hook(lambda m, a: None)
        elif site == "forward_pre":
            probe.register_forward_pre_hook(lambda m, a: register_late())
        else:
            probe.register_forward_hook(lambda m, a, o: register_late())
        runs = []
        for _ in range(2):
            log.clear()
            call_probe(probe, tags)
            runs.append(sum(event.startswith("late(") for event in log))
    expected = [int(joins_current_call(site, stage, call_had_hooks=other_hooks)), 1]
    if runs != expected:
        fail(f"runs of the new hook in calls 1, 2={runs}, but should be {expected}", context)


# --- backward hooks -----------------------------------------------------------


@given(data=st.data())
def test_backward_hooks_run_in_order_and_replace_gradients(
    data: st.DataObject, device: torch.device
) -> None:
    """Backward pre-hooks, then full backward hooks, each global before the module's.

    Pre-hooks see ``grad_output`` and may replace it; full backward hooks see
    ``grad_input`` (computed from the replaced ``grad_output``) and
    ``grad_output``, and may replace ``grad_input``, which is what reaches
    ``x.grad`` (``Module._call_impl`` builds a ``BackwardHook``; oracle:
    :func:`conformance.oracle.hooks.expected_backward`, for a module whose
    backward is the identity).
    """
    scenario = data.draw(hook_scenarios(BACKWARD_STAGES), label="scenario")
    log: list[str] = []
    probe, tags = new_probe(scenario, device, log, identity=True)
    x = tags[CALLER_ARGS].clone().requires_grad_()
    with registered(probe, scenario.registrations, tags, log):
        probe(x, k=tags[CALLER_KWARGS]).backward(tags[CALLER_GRAD])
    expected = expected_backward(scenario.registrations)
    want = [format_event(FORWARD, args=CALLER_ARGS, kwargs=CALLER_KWARGS), *expected.log]
    if log != want:
        fail(f"call log={log}, but should be {want}", scenario.describe())
    got = tags.name_of(x.grad)
    if got != expected.grad_input:
        fail(f"x.grad={got}, but should be {expected.grad_input}", scenario.describe())


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_backward_hooks_see_gradients_of_the_right_shapes(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """A full backward hook gets ``grad_input`` shaped like the positional inputs and
    ``grad_output`` like the outputs; a backward pre-hook gets ``grad_output``. What
    either returns replaces the gradient downstream: a replaced ``grad_input`` is
    ``x.grad``, a replaced ``grad_output`` is what the layer backpropagates
    (``register_full_backward_hook``, ``register_full_backward_pre_hook`` docs).
    Each hook runs once per backward -- also when ``x`` does not require grad and
    only the parameters do: then ``grad_input`` is ``(None,)`` ("Entries in
    grad_input and grad_output will be None for all non-Tensor arguments" and
    inputs that need no gradient; pytorch#56380: the hooks did not fire at all),
    and the replaced ``grad_output`` is what reaches ``weight.grad``.
    """
    config = data.draw(linear_configs(dtype=dtype, device=str(device)), label="config")
    with seeded(data.draw(SEEDS, label="seed"), device):
        layer = config.build(linear_cls)
    x_grad = data.draw(st.booleans(), label="x requires grad")
    x = data.draw(linear_inputs(config, requires_grad=x_grad), label="x")
    out_shape = (*x.shape[:-1], config.out_features)
    g = data.draw(tensors(shape=out_shape, dtype=dtype, device=device), label="g")
    replaceable = ("nothing", "grad_output", "grad_input") if x_grad else ("nothing", "grad_output")
    replace = data.draw(st.sampled_from(replaceable), label="replace")
    new_shape = {"nothing": (), "grad_output": out_shape, "grad_input": tuple(x.shape)}[replace]
    new = data.draw(tensors(shape=new_shape, dtype=dtype, device=device), label="replacement")
    seen: dict[str, tuple[Any, ...]] = {}
    runs = {"backward pre-hook": 0, "full backward hook": 0}

    def pre_hook(m: nn.Module, grad_output: tuple[Any, ...]) -> Any:
        runs["backward pre-hook"] += 1
        seen["pre-hook's grad_output"] = grad_output
        return (new,) if replace == "grad_output" else None

    def hook(m: nn.Module, grad_input: tuple[Any, ...], grad_output: tuple[Any, ...]) -> Any:
        runs["full backward hook"] += 1
        seen["grad_input"], seen["grad_output"] = grad_input, grad_output
        return (new,) if replace == "grad_input" else None

    context = f"{config!r}, x.shape={tuple(x.shape)}, x.requires_grad={x_grad}, replacing {replace}"
    # What the gradient reaches: x, or (when x needs none) the weight.
    target_name, target = ("x", x) if x_grad else ("weight", cast(torch.Tensor, layer.weight))
    with tf32(False):
        handles = [
            layer.register_full_backward_pre_hook(pre_hook),
            layer.register_full_backward_hook(hook),
        ]
        with warnings.catch_warnings():
            # torch says so when no input requires grad (as documented): expected here.
            warnings.filterwarnings("ignore", "Full backward hook is firing when gradients")
            layer(x).backward(g)
        for handle in handles:
            handle.remove()
        (unhooked,) = torch.autograd.grad(layer(x), target, new if replace == "grad_output" else g)
    if runs != {"backward pre-hook": 1, "full backward hook": 1}:
        fail(f"hook runs={runs}, but each hook should run once per backward", context)
    shapes = {"pre-hook's grad_output": out_shape, "grad_output": out_shape}
    if x_grad:
        shapes["grad_input"] = tuple(x.shape)
    elif len(seen["grad_input"]) != 1 or seen["grad_input"][0] is not None:
        fail(f"grad_input={seen['grad_input']}, but should be (None,): x needs none", context)
    for key, shape in shapes.items():
        if len(seen.get(key, ())) != 1:
            fail(f"{key}={seen.get(key)}, but should be a 1-tuple", context)
        assert_shape(key, seen[key][0].shape, shape, context)
    grad = target.grad
    if grad is None:
        fail(f"{target_name}.grad=None, but should be set", context)
    elif replace == "grad_input":
        assert_equal("x.grad", grad, new, f"{context}; expected: the replacement")
    else:
        assert_close(
            f"{target_name}.grad",
            grad,
            unhooked,
            context=f"{context}; expected: backward of {replace}",
        )


@pytest.mark.parametrize("first", ["register_backward_hook", "register_full_backward_hook"])
def test_regular_and_full_backward_hooks_cannot_be_mixed(first: str) -> None:
    """One module takes either ``register_backward_hook`` or ``register_full_backward_hook``
    hooks: the other kind raises ``RuntimeError("Cannot use both regular backward hooks and
    full backward hooks on a single Module. ...")`` (``Module._is_full_backward_hook``)."""
    second = {
        "register_backward_hook": "register_full_backward_hook",
        "register_full_backward_hook": "register_backward_hook",
    }[first]
    module = nn.Identity()
    getattr(module, first)(lambda m, gi, go: None)
    assert_raises(
        RuntimeError,
        lambda: getattr(module, second)(lambda m, gi, go: None),
        what=f"{second}(...) after {first}(...)",
        match=MIXED_BACKWARD_HOOKS_ERROR,
    )


# --- hooks on every submodule -----------------------------------------------------

BATCH = st.integers(1, 3)

#: The grad modes a model is called in: recording, ``torch.no_grad()``,
#: ``torch.inference_mode()`` (where fused inference fast paths kick in).
GRAD_MODES: dict[str, Callable[[], Any]] = {
    "grad": contextlib.nullcontext,
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}


def is_called(module: nn.Module) -> bool:
    """Whether a model's ``forward`` calls ``module``: every module but the
    ``nn.ModuleList`` / ``nn.ModuleDict`` holders, which have no ``forward`` of
    their own (the modules in them are called instead)."""
    return not isinstance(module, (nn.ModuleList, nn.ModuleDict))


@given(data=st.data())
def test_hooks_on_every_submodule_run_once_per_call(
    data: st.DataObject, device: torch.device
) -> None:
    """Hooks registered on every module of a nested model -- forward pre-hooks and
    forward hooks, and with grad enabled full backward pre-hooks and full backward
    hooks -- each run exactly once per call (and per backward), in training and in
    eval, with grad, under ``no_grad`` and under ``inference_mode``: every module
    the model calls goes through its own ``__call__`` (``Module._call_impl``). A
    fused fast path that calls its submodules' ``forward`` directly skips their
    hooks (TransformerEncoderLayer in eval, pytorch#128413).
    """
    config = data.draw(model_configs(), label="config")
    with seeded(data.draw(SEEDS, label="seed"), device):
        model = config.build(device=device)
    training = data.draw(st.booleans(), label="training")
    model.train(training)
    grad_mode = data.draw(st.sampled_from(sorted(GRAD_MODES)), label="grad mode")
    calls = data.draw(st.integers(1, 2), label="calls")
    x = data.draw(
        tensors(shape=(data.draw(BATCH, label="batch"), config.in_features), device=device),
        label="x",
    )
    recording = grad_mode == "grad"
    stages: tuple[str, ...] = ("forward pre-hook", "forward hook")
    if recording:
        stages += ("backward pre-hook", "backward hook")
    runs: Counter[tuple[str, str]] = Counter()
    for name, module in model.named_modules():
        shown = name or "model"

        def count(stage: str, shown: str = shown) -> Callable[..., None]:
            return lambda *args: runs.update([(shown, stage)])

        module.register_forward_pre_hook(count("forward pre-hook"))
        module.register_forward_hook(count("forward hook"))
        if recording:
            module.register_full_backward_pre_hook(count("backward pre-hook"))
            module.register_full_backward_hook(count("backward hook"))
    with warnings.catch_warnings():
        # The first modules' inputs need no gradient: torch warns (documented) and fires.
        warnings.filterwarnings("ignore", "Full backward hook is firing when gradients")
        for _ in range(calls):
            with GRAD_MODES[grad_mode]():
                outs = flat_outputs(model(x))
            if recording:
                torch.autograd.backward(outs, [torch.ones_like(out) for out in outs])
    expected = Counter(
        {
            (name or "model", stage): calls
            for name, module in model.named_modules()
            if is_called(module)
            for stage in stages
        }
    )
    if runs != expected:
        wrong = sorted(
            f"{name} {stage}: {runs[name, stage]}"
            for name, stage in expected.keys() | runs.keys()
            if runs[name, stage] != expected[name, stage]
        )
        fail(
            f"hook runs {', '.join(wrong)}, but each hook should run {calls} time(s), once "
            "per call",
            f"{config}, training={training}, {grad_mode}, {calls} call(s)",
        )
