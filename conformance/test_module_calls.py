"""Conformance of calling a module in each execution mode: the call, hooks, mode flags, autograd.

Every check here calls the module under test through ``mode.wrap(module)``
(``--mode``: eager, compile, jit, functional_call), so one deviation that
appears in one mode only fails that mode's test id
(``test_hooks_registered_after_wrapping_run[cpu-float32-compile]``).

The module under test comes from the ``call_subject`` fixture: in a
conformance run, small nested models from :func:`strategies.model_configs`
(Linear, ReLU, Dropout, a gated layer, Sequential/ModuleList/ModuleDict
containers, a two-branch model returning a tuple); through
:func:`conformance.check_call_semantics`, any module a user's factory builds.
Hooks here are the module's own (``register_forward_pre_hook`` /
``register_forward_hook``): global hooks would fire for every submodule.

Known PyTorch departures in some modes are listed in
``conformance/known_deviations.toml`` rather than hidden: Dynamo does not
guard on hooks registered after compilation (forward hooks and full backward
hooks alike); ``torch.jit.script`` cannot
script Python hooks, ignores hooks added to the original module later, and
returns a separate module whose ``training`` flag the original's
``train()``/``eval()`` do not reach.

Sources: torch/nn/modules/module.py (``_call_impl``, ``train``,
``register_forward_pre_hook``, ``register_forward_hook``), the autograd notes
(``no_grad`` records no graph), ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.autograd.gradcheck import GradcheckError

from conformance.assertions import assert_close, assert_equal, assert_shape, fail
from conformance.modes import Mode
from conformance.oracle.hooks import Hook, firing_order
from conformance.seeding import SEEDS, seeded
from conformance.support.subjects import Drawn, Subject, flat_outputs
from conformance.tolerances import tf32


def _eager(drawn: Drawn, args: tuple[torch.Tensor, ...] | None = None) -> tuple[Any, ...]:
    """The eager reference: ``forward`` itself, no hooks."""
    return flat_outputs(drawn.module.forward(*(drawn.args if args is None else args)))


def _assert_outputs(
    got: tuple[Any, ...], expected: tuple[Any, ...], context: str, *, exact: bool = False
) -> None:
    if len(got) != len(expected):
        fail(f"{len(got)} outputs, but should be {len(expected)}", context)
    for i, (out, ref) in enumerate(zip(got, expected, strict=True)):
        name = f"out[{i}]" if len(got) > 1 else "out"
        if not isinstance(out, torch.Tensor):
            fail(f"{name} is {type(out).__name__}, but should be a tensor", context)
        assert_shape(name, out.shape, ref.shape, context)
        if exact:
            assert_equal(name, out, ref, context)
        else:
            assert_close(name, out.detach(), ref.detach(), context=context)


def _mode_context(drawn: Drawn, mode: Mode, what: str = "") -> str:
    return f"{drawn.context}; {mode.describe()}{f'; {what}' if what else ''}"


# --- the call -------------------------------------------------------------------


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_call_matches_eager_forward(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """In eval mode, calling the module through the mode gives what ``module.forward``
    gives eagerly -- bitwise when eager (``_call_impl`` calls ``forward`` directly
    when no hook is registered), within the elementwise tolerance otherwise -- and
    records a graph when a parameter requires grad."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    ctx = _mode_context(drawn, mode, "eval()")
    with tf32(False):
        expected = _eager(drawn)
        got = flat_outputs(mode.wrap(drawn.module)(*drawn.args))
    _assert_outputs(got, expected, ctx, exact=mode.bitwise_with_forward)
    if any(p.requires_grad for p in drawn.module.parameters()):
        for i, out in enumerate(got):
            if out.grad_fn is None:
                fail(f"out[{i}].grad_fn=None, but should be set (parameters require grad)", ctx)


# --- hooks ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HookPlan:
    """Module hooks in registration order (oracle :class:`Hook` objects)."""

    hooks: tuple[Hook, ...]

    def describe(self) -> str:
        parts = []
        for hook in self.hooks:
            flags = [f for f in ("prepend", "replaces") if getattr(hook, f)]
            parts.append(f"{hook.name}({', '.join(flags)})" if flags else hook.name)
        return f"hooks {', '.join(parts) or 'none'}"


@st.composite
def hook_plans(draw: st.DrawFn, *, min_hooks: int = 0) -> HookPlan:
    """0-2 forward pre-hooks and 0-2 forward hooks of the module, each maybe
    ``prepend`` and maybe replacing; shrinks toward the fewest plain hooks."""
    hooks: list[Hook] = []
    for stage, short in (("forward_pre", "pre"), ("forward", "fwd")):
        count = draw(st.integers(0, 2), label=f"{short} hooks")
        for i in range(count):
            flags = draw(
                st.fixed_dictionaries({"prepend": st.booleans(), "replaces": st.booleans()}),
                label=f"{short}{i}",
            )
            hooks.append(Hook(f"{short}{i}", stage, "local", **flags))  # type: ignore[arg-type]
    if len(hooks) < min_hooks:
        hooks.append(Hook("fwd_extra", "forward", "local"))
    order = draw(st.permutations(hooks), label="registration order")
    return HookPlan(tuple(order))


def _scaled(out: Any, factor: float) -> Any:
    return tuple(o * factor for o in out) if isinstance(out, tuple) else out * factor


def register_plan(
    module: nn.Module,
    plan: HookPlan,
    replacements: dict[str, tuple[torch.Tensor, ...]],
    log: list[str],
) -> list[Any]:
    """Registers the plan's hooks on ``module``: each logs its name; a replacing
    pre-hook returns its replacement args, a replacing forward hook the output
    doubled. Returns the handles."""
    handles = []
    for hook in plan.hooks:
        if hook.stage == "forward_pre":

            def pre(m: nn.Module, args: tuple[Any, ...], hook: Hook = hook) -> Any:
                log.append(hook.name)
                return replacements[hook.name] if hook.replaces else None

            handles.append(module.register_forward_pre_hook(pre, prepend=hook.prepend))
        else:

            def post(m: nn.Module, args: tuple[Any, ...], out: Any, hook: Hook = hook) -> Any:
                log.append(hook.name)
                return _scaled(out, 2.0) if hook.replaces else None

            handles.append(module.register_forward_hook(post, prepend=hook.prepend))
    return handles


def expected_hooked_call(
    drawn: Drawn, plan: HookPlan, replacements: dict[str, tuple[torch.Tensor, ...]]
) -> tuple[list[str], tuple[Any, ...]]:
    """The log and outputs of one hooked call (:func:`~conformance.oracle.hooks.firing_order`)."""
    pre = firing_order(plan.hooks, "forward_pre")
    post = firing_order(plan.hooks, "forward")
    args = drawn.args
    for hook in pre:
        if hook.replaces:
            args = replacements[hook.name]
    factor = 2.0 ** sum(hook.replaces for hook in post)
    outputs = tuple(o * factor for o in _eager(drawn, args))
    return [h.name for h in (*pre, *post)], outputs


def _draw_replacements(
    data: st.DataObject, subject: Subject, drawn: Drawn, plan: HookPlan
) -> dict[str, tuple[torch.Tensor, ...]]:
    return {
        hook.name: subject.draw_args(data, drawn, f"{hook.name} replacement")
        for hook in plan.hooks
        if hook.stage == "forward_pre" and hook.replaces
    }


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_hooks_registered_before_wrapping_run(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """Forward pre-hooks and forward hooks registered before the module is wrapped run
    on every call, in order (``prepend`` first), and their replacements take effect:
    a pre-hook's return becomes ``forward``'s args, a forward hook's return the
    output (``Module._call_impl``)."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    plan = data.draw(hook_plans(), label="hooks")
    replacements = _draw_replacements(data, call_subject, drawn, plan)
    calls = data.draw(st.integers(1, 2), label="calls")
    log: list[str] = []
    ctx = _mode_context(drawn, mode, f"{plan.describe()}, registered before wrapping")
    with tf32(False):
        handles = register_plan(drawn.module, plan, replacements, log)
        try:
            wrapped = mode.wrap(drawn.module)
            for call in range(calls):
                log.clear()
                got = flat_outputs(wrapped(*drawn.args))
                want_log, want = expected_hooked_call(drawn, plan, replacements)
                if log != want_log:
                    fail(f"call {call + 1}: hooks ran {log}, but should run {want_log}", ctx)
                _assert_outputs(got, want, f"{ctx}; call {call + 1}")
        finally:
            for handle in handles:
                handle.remove()


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_hooks_registered_after_wrapping_run(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """A hook registered on the module after it was wrapped and called runs from the
    next call, and stops after ``handle.remove()`` (eagerly, ``_call_impl`` reads
    the hook dicts on every call). torch.compile and torch.jit.script depart from
    this; see known_deviations.toml."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    plan = data.draw(hook_plans(min_hooks=1), label="hooks")
    replacements = _draw_replacements(data, call_subject, drawn, plan)
    log: list[str] = []
    ctx = _mode_context(drawn, mode, f"{plan.describe()}, registered after a first call")
    with tf32(False):
        wrapped = mode.wrap(drawn.module)
        wrapped(*drawn.args)
        handles = register_plan(drawn.module, plan, replacements, log)
        try:
            got = flat_outputs(wrapped(*drawn.args))
        finally:
            for handle in handles:
                handle.remove()
        want_log, want = expected_hooked_call(drawn, plan, replacements)
        if log != want_log:
            fail(f"hooks ran {log}, but should run {want_log}", ctx)
        _assert_outputs(got, want, ctx)
        log.clear()
        after = flat_outputs(wrapped(*drawn.args))
        if log:
            fail(f"hooks ran {log} after handle.remove(), but none should", ctx)
        _assert_outputs(after, _eager(drawn), f"{ctx}; after handle.remove()")


#: The backward hooks a check registers after wrapping: each doubles (pre-hook,
#: ``grad_output``) or triples (full hook, ``grad_input``) the gradients when it
#: replaces them, so the factor tells which replacements took effect.
BACKWARD_HOOK_SETS = (("pre",), ("full",), ("pre", "full"))
_FACTORS = {"pre": 2.0, "full": 3.0}


def _scaled_grads(grads: tuple[Any, ...], factor: float) -> tuple[Any, ...]:
    return tuple(None if g is None else g * factor for g in grads)


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_backward_hooks_registered_after_wrapping_run(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """A full backward pre-hook and/or a full backward hook registered on the module
    after it was wrapped, called and backpropagated through once run on the next
    backward, once each, and what they return takes effect as it does eagerly: a
    pre-hook's ``grad_output`` is what the module backpropagates, a hook's
    ``grad_input`` is what reaches the inputs. After ``handle.remove()`` neither
    runs (``register_full_backward_pre_hook``, ``register_full_backward_hook``;
    ``_call_impl`` reads the hook dicts on every call). torch.compile once ignored
    such a hook (pytorch#117265); see known_deviations.toml for the modes that
    still depart.
    """
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    hooks = data.draw(st.sampled_from(BACKWARD_HOOK_SETS), label="hooks")
    replaces = data.draw(st.booleans(), label="hooks replace gradients")
    args = tuple(a.detach().clone().requires_grad_() for a in drawn.args)
    factor = 1.0
    for stage in hooks:
        factor *= _FACTORS[stage] if replaces else 1.0
    described = " and ".join(
        f"a full backward {'pre-hook' if h == 'pre' else 'hook'}" for h in hooks
    )
    ctx = _mode_context(
        drawn,
        mode,
        f"{described}{' replacing gradients' if replaces else ''}, registered "
        "after a first call and backward",
    )
    log: list[str] = []

    def pre_hook(module: nn.Module, grad_output: tuple[Any, ...]) -> Any:
        log.append("pre")
        return _scaled_grads(grad_output, _FACTORS["pre"]) if replaces else None

    def full_hook(module: nn.Module, grad_input: tuple[Any, ...], grad_output: Any) -> Any:
        log.append("full")
        return _scaled_grads(grad_input, _FACTORS["full"]) if replaces else None

    def call_and_backward() -> list[torch.Tensor | None]:
        for a in args:
            a.grad = None
        outs = [o for o in flat_outputs(wrapped(*args)) if o.requires_grad]
        if outs:
            torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])
        return [a.grad for a in args]

    with tf32(False):
        leaves = tuple(a.detach().clone().requires_grad_() for a in drawn.args)
        eager_outs = [o for o in _eager(drawn, leaves) if o.requires_grad]
        if not eager_outs:
            return  # nothing to backpropagate through (a user's module may have no graph)
        eager = torch.autograd.grad(
            eager_outs, leaves, [torch.ones_like(o) for o in eager_outs], allow_unused=True
        )
        wrapped = mode.wrap(drawn.module)
        call_and_backward()
        registered = [
            drawn.module.register_full_backward_pre_hook(pre_hook)
            if stage == "pre"
            else drawn.module.register_full_backward_hook(full_hook)
            for stage in hooks
        ]
        try:
            hooked = call_and_backward()
        finally:
            for handle in registered:
                handle.remove()
        ran = sorted(log)
        log.clear()
        after = call_and_backward()
    if ran != sorted(hooks):
        fail(f"backward hooks ran {ran}, but should run {sorted(hooks)} (once each)", ctx)
    if log:
        fail(f"backward hooks ran {log} after handle.remove(), but none should", ctx)
    for i, (got, got_after, want) in enumerate(zip(hooked, after, eager, strict=True)):
        if (got is None) != (want is None):
            fail(f"args[{i}].grad is {got}, but should be {want}", ctx)
        if got is None or want is None or got_after is None:
            continue
        assert_close(f"args[{i}].grad", got, want * factor, context=f"{ctx}; eager x {factor:g}")
        assert_close(f"args[{i}].grad", got_after, want, context=f"{ctx}; after handle.remove()")


# --- train() / eval() -------------------------------------------------------------


def _evaluating_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with ``training=False`` set on every submodule directly."""
    reference = copy.deepcopy(module)
    for m in reference.modules():
        m.training = False
    return reference


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_eval_after_wrapping_reaches_the_call(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """``eval()`` after the module was wrapped and called in training mode -- on the
    module or on the wrapper -- turns training behaviour off for the next calls: the
    output is, under any seed, that of the module with every ``training`` flag off
    (``Module.train`` recurses; compiled code must not keep the old flag:
    pytorch#132986)."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.train()
    seeds = data.draw(st.lists(SEEDS, min_size=3, max_size=3, unique=True), label="seeds")
    wrapped = mode.wrap(drawn.module)
    options = ["module", "wrapper"] if isinstance(wrapped, nn.Module) else ["module"]
    if wrapped is drawn.module:
        options = ["module"]
    on = data.draw(st.sampled_from(options), label="eval() on")
    ctx = _mode_context(drawn, mode, f"eval() on the {on} after a call in training")
    with tf32(False):
        with seeded(seeds[0], device):
            wrapped(*drawn.args)
        # Copied after the training call, which may update state the eval calls read
        # (a BatchNorm's running statistics and num_batches_tracked).
        reference = _evaluating_copy(drawn.module)
        target = drawn.module if on == "module" else wrapped
        assert isinstance(target, nn.Module)
        returned = target.eval()
        if returned is not target:
            fail(f"{on}.eval() returned {returned!r}, but should return the {on} itself", ctx)
        expected = flat_outputs(reference(*drawn.args))
        for seed in seeds[1:]:
            with seeded(seed, device):
                got = flat_outputs(wrapped(*drawn.args))
            _assert_outputs(got, expected, f"{ctx}; under seed {seed}")


MODE_CALLS = ("train()", "train(True)", "train(False)", "eval()")


@given(data=st.data())
def test_train_and_eval_reach_every_submodule(
    data: st.DataObject, device: torch.device, call_subject: Subject
) -> None:
    """``train(mode)`` / ``eval()`` set ``training`` on the module and every registered
    submodule and return the module itself (``Module.train``)."""
    drawn = call_subject.draw(data, device, torch.float32)
    calls = data.draw(st.lists(st.sampled_from(MODE_CALLS), min_size=1, max_size=4), label="calls")
    module = drawn.module
    done = []
    for call in calls:
        flag = call in ("train()", "train(True)")
        returned = module.eval() if call == "eval()" else module.train(flag)
        done.append(call)
        ctx = f"{drawn.context}; after {'; '.join(done)}"
        if returned is not module:
            fail(f"{call} returned {type(returned).__name__}, but should return the module", ctx)
        for name, sub in module.named_modules():
            if sub.training != flag:
                shown = f"module.{name}" if name else "module"
                fail(f"{shown}.training={sub.training}, but should be {flag}", ctx)


# --- autograd -----------------------------------------------------------------------


@pytest.mark.dtypes("float64")
@given(data=st.data())
def test_backward_through_the_mode_is_correct(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """Gradients through the mode are right: with respect to the inputs they match
    finite differences (``torch.autograd.gradcheck``, float64, eval mode), and with
    respect to the parameters they match the eager module's."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    args = tuple(a.detach().clone().requires_grad_() for a in drawn.args)
    wrapped = mode.wrap(drawn.module)
    ctx = _mode_context(drawn, mode, "eval()")

    def call(*inputs: torch.Tensor) -> tuple[Any, ...]:
        return flat_outputs(wrapped(*inputs))

    try:
        torch.autograd.gradcheck(call, args)
    except GradcheckError as e:
        fail(f"gradcheck with respect to the inputs failed: {e}", ctx)
    params = [p for p in drawn.module.parameters() if p.requires_grad]
    if not mode.transforms or not params:
        return
    outs = call(*args)
    cotangents = [torch.ones_like(o) for o in outs]
    got = torch.autograd.grad(outs, params, cotangents, allow_unused=True)
    want = torch.autograd.grad(_eager(drawn, args), params, cotangents, allow_unused=True)
    names = [n for n, p in drawn.module.named_parameters() if p.requires_grad]
    for name, g, w in zip(names, got, want, strict=True):
        if (g is None) != (w is None):
            fail(f"{name}.grad is {g}, but should be {w}", ctx)
        if g is not None and w is not None:
            assert_close(f"{name}.grad", g, w, context=f"{ctx}; expected: eager")


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_no_graph_under_no_grad(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    mode: Mode,
    call_subject: Subject,
) -> None:
    """Under ``torch.no_grad()`` a call records no graph -- outputs have no ``grad_fn``
    and do not require grad, even for inputs that do -- and has the eager values;
    also after calls with grad enabled and their backward (a validation pass after
    training steps)."""
    drawn = call_subject.draw(data, device, dtype)
    drawn.module.eval()
    args = tuple(a.detach().clone().requires_grad_() for a in drawn.args)
    wrapped = mode.wrap(drawn.module)
    ctx = _mode_context(drawn, mode, "under no_grad after 3 calls with backward")
    with tf32(False):
        for _ in range(3):
            outs = [o for o in flat_outputs(wrapped(*args)) if o.requires_grad]
            if outs:
                torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])
        with torch.no_grad():
            got = flat_outputs(wrapped(*args))
            expected = _eager(drawn, args)
    for i, out in enumerate(got):
        if isinstance(out, torch.Tensor) and (out.grad_fn is not None or out.requires_grad):
            fail(f"out[{i}].grad_fn={out.grad_fn}, but should be None under no_grad", ctx)
    _assert_outputs(got, expected, ctx)
