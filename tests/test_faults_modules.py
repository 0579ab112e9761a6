"""Proof of power for the module-semantics suites: each planted fault in
``nn.Module``'s call or mode machinery fails the check that guards it, and
stock torch passes the same check.

Faults are planted with pytest's ``monkeypatch`` and undone at teardown:
``_call_impl`` (what ``__call__``, i.e. ``_wrapped_call_impl``, calls) is
wrapped or replaced by a small reimplementation with one fault; the backward
hook machinery (``_get_backward_hooks``, ``BackwardHook``) or a
``register_*`` method loses a rule; ``train`` / ``eval`` stop recursing or
validating; ``__setattr__`` registers plain lists; the two-branch test model
forks its trunk through a backward that overwrites instead of summing. The
suites' Hypothesis-wrapped test functions are called directly, fixtures
passed as keyword arguments, under the conformance-ci profile without
shrinking. The hook oracle itself is checked on hand-worked cases at the end.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.modules.module as module_globals
from planting import run_unshrunk
from torch import nn
from torch.utils.hooks import BackwardHook, RemovableHandle

from conformance import test_autograd_graph as graph
from conformance import test_call_semantics as call
from conformance import test_train_eval as modes
from conformance.oracle.hooks import Hook, expected_backward, expected_call
from conformance.support import hooks
from strategies.models import TwoBranch

STOCK_CALL_IMPL = nn.Module._call_impl
STOCK_SETATTR = nn.Module.__setattr__
FIXTURES: dict[str, Any] = {
    "device": torch.device("cpu"),
    "dtype": torch.float32,
    "linear_cls": nn.Linear,
    "dropout_cls": nn.Dropout,
}


def run_check(check: Callable[..., None], **kwargs: Any) -> None:
    """A ``@given`` check runs without shrinking; a plain one (which the suite
    parametrizes with pytest) is called once, with ``kwargs``."""
    if hasattr(check, "hypothesis"):
        run_unshrunk(check, FIXTURES, **kwargs)
        return
    wanted = inspect.signature(check).parameters
    check(**{k: v for k, v in FIXTURES.items() if k in wanted}, **kwargs)


# --- a small _call_impl, for the faults that need one --------------------------


def _in_order(
    global_hooks: dict[int, Any], local_hooks: dict[int, Any], fault: str | None
) -> list[Any]:
    globals_ = [] if fault == "global hooks skipped" else list(global_hooks.items())
    locals_ = list(local_hooks.items())
    return locals_ + globals_ if fault == "module hooks before global" else globals_ + locals_


def _has_backward_hooks(module: nn.Module) -> bool:
    return bool(
        module._backward_hooks
        or module._backward_pre_hooks
        or module_globals._global_backward_hooks
        or module_globals._global_backward_pre_hooks
    )


def _always_called(module: nn.Module, hook_id: int) -> bool:
    return (
        hook_id in module._forward_hooks_always_called
        or hook_id in module_globals._global_forward_hooks_always_called
    )


#: The faults that run the forward hooks from a list read before ``forward`` ran.
_STALE_POST = ("forward hooks snapshotted at entry", "hook lists cached per module")


def call_impl_with(fault: str | None) -> Callable[..., Any]:
    """``Module._call_impl``'s forward-stage hook logic, rewritten small, with ``fault``.

    ``fault=None`` is the faithful version (``test_reimplementation_passes``
    shows the guarding checks pass it, so a failure is the fault's doing): with
    no hook at entry it calls ``forward`` directly; it reads the pre-hooks when
    their stage starts and the forward hooks after ``forward`` returns.
    Calls with backward hooks go to the stock implementation.
    """
    ignore_results = fault == "hook results ignored"
    cache: weakref.WeakKeyDictionary[nn.Module, tuple[list[Any], list[Any]]] = (
        weakref.WeakKeyDictionary()
    )

    def hooks_now(self: nn.Module) -> tuple[list[Any], list[Any]]:
        """The pre-hooks and forward hooks, in firing order, as registered now."""
        return (
            _in_order(module_globals._global_forward_pre_hooks, self._forward_pre_hooks, fault),
            _in_order(module_globals._global_forward_hooks, self._forward_hooks, fault),
        )

    def forward_hook(
        self: nn.Module, hook_id: int, hook: Any, args: Any, kwargs: Any, result: Any
    ) -> Any:
        with_kwargs = hook_id in self._forward_hooks_with_kwargs or (
            hook_id in module_globals._global_forward_hooks_with_kwargs
        )
        return hook(self, args, kwargs, result) if with_kwargs else hook(self, args, result)

    def _call_impl(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if _has_backward_hooks(self):
            return STOCK_CALL_IMPL(self, *args, **kwargs)
        if fault == "hook lists cached per module":
            # e.g. a "fast" call path that resolves the hooks once per module
            pre, post_at_entry = cache.setdefault(self, hooks_now(self))
        else:
            pre, post_at_entry = hooks_now(self)
        if not (pre or post_at_entry):
            return self.forward(*args, **kwargs)

        def post() -> list[Any]:
            return post_at_entry if fault in _STALE_POST else hooks_now(self)[1]

        result, ran = None, set()
        try:
            for hook_id, hook in pre:
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is None or ignore_results:
                        continue
                    if isinstance(new, tuple) and len(new) == 2:
                        args, kwargs = new
                    elif fault == "with_kwargs pre-hook returns taken as args":
                        args = new if isinstance(new, tuple) else (new,)
                    else:
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of "
                            f"(new_args, new_kwargs), but got {new}."
                        )
                else:
                    new = hook(self, args)
                    if new is not None and not ignore_results:
                        args = new if isinstance(new, tuple) else (new,)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in post():
                ran.add(hook_id)
                new = forward_hook(self, hook_id, hook, args, kwargs, result)
                if new is not None and not ignore_results:
                    result = new
            return result
        except Exception:
            for hook_id, hook in post():
                if (
                    fault == "always_call hooks skipped"
                    or not _always_called(self, hook_id)
                    or hook_id in ran
                ):
                    continue
                try:
                    new = forward_hook(self, hook_id, hook, args, kwargs, result)
                    result = result if new is None or ignore_results else new
                except Exception as e:
                    warnings.warn(
                        f"forward hook with ``always_call=True`` raised: {e}", stacklevel=2
                    )
            raise

    return _call_impl


# --- the faults ---------------------------------------------------------------


def _patch_call(monkeypatch: pytest.MonkeyPatch, impl: Callable[..., Any]) -> None:
    monkeypatch.setattr(nn.Module, "_call_impl", impl)


def _hooks_skipped(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    return self.forward(*args, **kwargs)


def _kwargs_bound_positionally(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    return STOCK_CALL_IMPL(self, *args, *kwargs.values())


def _forward_run_twice(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    STOCK_CALL_IMPL(self, *args, **kwargs)  # e.g. a dry run to infer shapes
    return STOCK_CALL_IMPL(self, *args, **kwargs)


def _call_under_no_grad(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    with torch.no_grad():
        return STOCK_CALL_IMPL(self, *args, **kwargs)


def _hooks_skipped_in_inference_mode(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """A "fast path" for inference: under ``torch.inference_mode()`` modules call
    ``forward`` directly, so no hook of theirs runs."""
    if torch.is_inference_mode_enabled():
        return self.forward(*args, **kwargs)
    return STOCK_CALL_IMPL(self, *args, **kwargs)


def _call_under_enable_grad(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    with torch.enable_grad():  # e.g. "the module always records, for its hooks"
        return STOCK_CALL_IMPL(self, *args, **kwargs)


def _hooks_run_by_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hooks wrapped around ``forward`` itself, the way ``accelerate``'s
    ``add_hook_to_module`` replaces ``module.forward``: ``__call__`` only calls
    ``forward``, so ``module.forward(...)`` runs every hook as well."""
    raw_forward = hooks.Probe.forward

    def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        self.forward = types.MethodType(raw_forward, self)  # what the hook logic calls
        try:
            return STOCK_CALL_IMPL(self, *args, **kwargs)
        finally:
            del self.forward

    monkeypatch.setattr(hooks.Probe, "forward", forward)
    _patch_call(monkeypatch, _hooks_skipped)


def _backward_hooks_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """``BackwardHook`` gets each stage's hooks reversed: they run like a stack
    (as gradients flow backward), the module's newest first, the global ones last."""
    stock_full, stock_pre = nn.Module._get_backward_hooks, nn.Module._get_backward_pre_hooks

    def get_backward_hooks(self: nn.Module) -> tuple[list[Any], list[Any]]:
        full, non_full = stock_full(self)
        return full[::-1], non_full[::-1]

    def get_backward_pre_hooks(self: nn.Module) -> list[Any]:
        return stock_pre(self)[::-1]

    monkeypatch.setattr(nn.Module, "_get_backward_hooks", get_backward_hooks)
    monkeypatch.setattr(nn.Module, "_get_backward_pre_hooks", get_backward_pre_hooks)


def _patch_full_backward_hook_calls(
    monkeypatch: pytest.MonkeyPatch, call_user_hook: Callable[[Any, Any, Any, Any], Any]
) -> None:
    """``BackwardHook``'s call of the full backward hooks, with ``call_user_hook(hook,
    module, grad_input, grad_output)`` standing for ``hook(module, grad_input, grad_output)``
    (what it returns replaces ``grad_input`` unless None)."""

    def set_user_hook(self: BackwardHook, grad_fn: Any) -> None:
        def hook(grad_input: Any, _: Any) -> Any:
            if self.grad_outputs is None:
                return None
            res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
            for user_hook in self.user_hooks:
                out = call_user_hook(user_hook, self.module, res, self.grad_outputs)
                res = res if out is None else out
            self.grad_outputs = None
            return self._unpack_none(self.input_tensors_index, res)

        grad_fn.register_hook(hook)

    monkeypatch.setattr(BackwardHook, "_set_user_hook", set_user_hook)


def _backward_hook_results_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full backward hooks run, but what they return is dropped: the computed
    ``grad_input`` reaches the inputs, never a hook's replacement."""

    def call_user_hook(hook: Any, module: Any, grad_input: Any, grad_output: Any) -> None:
        hook(module, grad_input, grad_output)

    _patch_full_backward_hook_calls(monkeypatch, call_user_hook)


def _backward_hook_gradients_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full backward hooks are called as ``hook(module, grad_output, grad_input)``."""

    def call_user_hook(hook: Any, module: Any, grad_input: Any, grad_output: Any) -> Any:
        return hook(module, grad_output, grad_input)

    _patch_full_backward_hook_calls(monkeypatch, call_user_hook)


def _backward_hook_kind_untracked(monkeypatch: pytest.MonkeyPatch) -> None:
    """``register_full_backward_hook`` neither checks nor records the module's hook
    kind (``_is_full_backward_hook``), so either kind can follow the other."""

    def register_full_backward_hook(
        self: nn.Module, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)  # type: ignore[attr-defined]
        return handle

    monkeypatch.setattr(nn.Module, "register_full_backward_hook", register_full_backward_hook)


class _ForkKeepingTheLastGradient(torch.autograd.Function):
    """Hands one tensor to two consumers; its backward keeps the gradient of the last
    consumer that sent one instead of summing them (overwrite, not accumulate)."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        return h.clone(), h.clone()

    @staticmethod
    def backward(ctx: Any, grad_a: Any, grad_b: Any) -> Any:
        return grad_b if grad_b is not None else grad_a


def _branches_forked_without_summing(monkeypatch: pytest.MonkeyPatch) -> None:
    def forward(self: TwoBranch, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_a, h_b = _ForkKeepingTheLastGradient.apply(self.trunk(x))
        return self.head_a(h_a), self.head_b(h_b)

    monkeypatch.setattr(TwoBranch, "forward", forward)


def _eval_stops_at_children(monkeypatch: pytest.MonkeyPatch) -> None:
    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.training = mode  # no recursion: grandchildren keep their mode
        return self

    monkeypatch.setattr(nn.Module, "train", train)


def _train_sets_its_own_flag_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``eval()`` walks ``modules()``, but ``train(mode)`` only sets the module's own
    flag: after ``eval()``, ``train()`` leaves everything below in eval mode."""

    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        return self

    def eval_(self: nn.Module) -> nn.Module:
        for module in self.modules():
            module.training = False
        return self

    monkeypatch.setattr(nn.Module, "train", train)
    monkeypatch.setattr(nn.Module, "eval", eval_)


def _train_accepts_any_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """``train(mode)`` without its ``isinstance(mode, bool)`` check: ``train(0)`` or
    ``train("False")`` store whatever they are given."""

    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    monkeypatch.setattr(nn.Module, "train", train)


def _lists_of_modules_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """``__setattr__`` wraps a list of modules in an ``nn.ModuleList``, the way Keras
    tracks layers kept in list attributes: layers in a plain list become submodules."""

    def setattr_(self: nn.Module, name: str, value: Any) -> None:
        if isinstance(value, list) and value and all(isinstance(v, nn.Module) for v in value):
            value = nn.ModuleList(value)
        STOCK_SETATTR(self, name, value)

    monkeypatch.setattr(nn.Module, "__setattr__", setattr_)


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    plant: Callable[[pytest.MonkeyPatch], None]
    check: Callable[..., None]
    message: str  # what the guarding check's failure says (a regex)
    params: tuple[tuple[str, Any], ...] = ()  # for a check the suite parametrizes


def _call_fault(
    name: str, impl: Callable[..., Any], check: Callable[..., None], message: str
) -> Fault:
    return Fault(name, lambda mp: _patch_call(mp, impl), check, message)


HOOK_ORDER = call.test_forward_hooks_run_in_order_and_pass_results_on
ARGUMENTS = call.test_arguments_reach_forward_unchanged
ONCE = call.test_forward_runs_once_per_call
CALL_IS_FORWARD = call.test_call_without_hooks_matches_forward
DIRECT_FORWARD = call.test_direct_forward_runs_no_hooks
PRE_HOOK_RETURN = call.test_with_kwargs_pre_hook_must_return_args_and_kwargs
REMOVED = call.test_removed_hooks_stop_running
LATE_HOOK = call.test_hook_registered_during_a_call_runs_from_the_next_call
BACKWARD_ORDER = call.test_backward_hooks_run_in_order_and_replace_gradients
BACKWARD_SHAPES = call.test_backward_hooks_see_gradients_of_the_right_shapes
MIXED_KINDS = call.test_regular_and_full_backward_hooks_cannot_be_mixed
GRAPH = graph.test_outputs_of_modules_with_parameters_carry_grad_fn
NO_GRAD = graph.test_no_graph_is_recorded_under_no_grad
SHARED_TRUNK = graph.test_shared_trunk_gets_the_sum_of_the_branch_gradients
EVERY_SUBMODULE = call.test_hooks_on_every_submodule_run_once_per_call
TRAIN_EVAL = modes.test_mode_switches_reach_every_submodule
EVAL_DROPOUT = modes.test_eval_makes_nested_dropout_the_identity
TRAIN_DROPOUT = modes.test_train_makes_nested_dropout_random_again
NON_BOOL = modes.test_train_rejects_a_non_bool_mode
PLAIN_LIST = modes.test_layers_in_a_plain_list_are_not_registered
FIRST_KINDS = ("register_backward_hook", "register_full_backward_hook")  # MIXED_KINDS' params


FAULTS = [
    Fault("eval stops at children", _eval_stops_at_children, TRAIN_EVAL, r"training=\w+, but"),
    Fault("eval stops at children", _eval_stops_at_children, EVAL_DROPOUT,
          r"out\[\d\].*, but should be"),
    Fault("train sets its own flag only", _train_sets_its_own_flag_only, TRAIN_DROPOUT,
          "masks under seeds .* are equal"),
    Fault("train accepts any mode", _train_accepts_any_mode, NON_BOOL,
          r"(?s)train\(.*\) returned .*, but should raise ValueError"),
    Fault("lists of modules registered", _lists_of_modules_registered, PLAIN_LIST,
          r"hidden\[\d\] is in modules\(\)/children\(\)"),
    _call_fault("hooks skipped", _hooks_skipped, HOOK_ORDER, "call log="),
    _call_fault("module hooks before global", call_impl_with("module hooks before global"),
                HOOK_ORDER, "call log="),
    _call_fault("hook results ignored", call_impl_with("hook results ignored"), HOOK_ORDER,
                "call log=|output="),
    _call_fault("global hooks skipped", call_impl_with("global hooks skipped"), HOOK_ORDER,
                "call log="),
    _call_fault("always_call hooks skipped", call_impl_with("always_call hooks skipped"),
                HOOK_ORDER, "call log="),
    _call_fault("with_kwargs pre-hook returns taken as args",
                call_impl_with("with_kwargs pre-hook returns taken as args"), PRE_HOOK_RETURN,
                r"module\(x, k=k\) returned .*, but should raise RuntimeError"),
    _call_fault("hook lists cached per module", call_impl_with("hook lists cached per module"),
                REMOVED, "call log="),
    _call_fault("forward hooks snapshotted at entry",
                call_impl_with("forward hooks snapshotted at entry"), LATE_HOOK,
                r"runs of the new hook in calls 1, 2=\[0, 1\], but should be \[1, 1\]"),
    Fault("hooks run by forward", _hooks_run_by_forward, DIRECT_FORWARD,
          r"call log=.*, but should be \['forward\(args=x, kwargs=k\)'\]"),
    _call_fault("kwargs bound positionally", _kwargs_bound_positionally, ARGUMENTS,
                "forward received|raised TypeError"),
    _call_fault("forward run twice", _forward_run_twice, ONCE, "forward ran"),
    _call_fault("forward run twice", _forward_run_twice, CALL_IS_FORWARD,
                r"model\(x\)\[\d\].*, but should be"),
    _call_fault("__call__ under no_grad", _call_under_no_grad, GRAPH, "grad_fn=None"),
    _call_fault("__call__ under no_grad", _call_under_no_grad, CALL_IS_FORWARD,
                r"model\(x\)\[\d\]\.grad_fn=None"),
    _call_fault("hooks skipped in inference mode", _hooks_skipped_in_inference_mode,
                EVERY_SUBMODULE, r"hook runs .*: 0, but each hook should run"),
    _call_fault("__call__ under enable_grad", _call_under_enable_grad, NO_GRAD,
                r"out\[\d\]\.grad_fn=<.*>, but should be None"),
    Fault("backward hooks newest first", _backward_hooks_newest_first, BACKWARD_ORDER,
          "call log="),
    Fault("backward hook results ignored", _backward_hook_results_ignored, BACKWARD_ORDER,
          "call log=|x.grad="),
    Fault("backward hook gradients swapped", _backward_hook_gradients_swapped, BACKWARD_SHAPES,
          r"\bgrad_(input|output)\.shape=\(.*\), but should be"),
    *(Fault("backward hook kind untracked", _backward_hook_kind_untracked, MIXED_KINDS,
            rf"{second}\(\.\.\.\) after {first}\(\.\.\.\) returned .*, but should raise "
            "RuntimeError", params=(("first", first),))
      for first, second in zip(FIRST_KINDS, FIRST_KINDS[::-1], strict=True)),
    Fault("branches forked without summing", _branches_forked_without_summing, SHARED_TRUNK,
          r"h\.grad(\[[\d, ]*\])?=.*expected: a \+ b"),
]  # fmt: skip


def _fault_id(fault: Fault) -> str:
    check = fault.check.__name__.removeprefix("test_")
    params = "".join(f"-{value}" for _, value in fault.params)
    return f"{fault.name.replace(' ', '-')}--{check}{params}"


@pytest.mark.parametrize("fault", FAULTS, ids=[_fault_id(f) for f in FAULTS])
def test_planted_fault_fails_its_check(fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    fault.plant(monkeypatch)
    with pytest.raises(AssertionError, match=fault.message):
        run_check(fault.check, **dict(fault.params))


GUARDS = list(dict.fromkeys((f.check, f.params) for f in FAULTS))
#: The checks a planted fault above fails (tests/test_fault_coverage.py).
GUARDED = {check for check, _ in GUARDS}


def _guard_id(check: Callable[..., None], params: tuple[tuple[str, Any], ...]) -> str:
    return check.__name__.removeprefix("test_") + "".join(f"-{v}" for _, v in params)


@pytest.mark.parametrize(("check", "params"), GUARDS, ids=[_guard_id(*g) for g in GUARDS])
def test_stock_torch_passes(
    check: Callable[..., None], params: tuple[tuple[str, Any], ...]
) -> None:
    before = _global_hook_state()
    run_check(check, **dict(params))
    assert _global_hook_state() == before, "the check left global hook state behind"


def _global_hook_state() -> dict[str, Any]:
    """torch's process-wide hook registries and flags (module.py ``_global_*``)."""
    return {
        name: dict(value) if isinstance(value, dict) else value
        for name, value in vars(module_globals).items()
        if name.startswith("_global_") and isinstance(value, (dict, bool))
    }


REIMPLEMENTED = [HOOK_ORDER, PRE_HOOK_RETURN, REMOVED, LATE_HOOK]


@pytest.mark.parametrize("check", REIMPLEMENTED, ids=[_guard_id(c, ()) for c in REIMPLEMENTED])
def test_reimplementation_passes(
    check: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The small ``_call_impl`` without a fault passes each check that a fault planted
    in it fails, so each such failure comes from the fault, not from the rewrite."""
    _patch_call(monkeypatch, call_impl_with(None))
    run_check(check)


# --- the hook oracle on hand-worked cases ----------------------------------------


def test_oracle_threads_replacements_and_runs_always_call_hooks_on_raise() -> None:
    """Worked by hand from ``Module._call_impl``: a prepended module pre-hook runs
    before the older one but after the global one; when ``forward`` raises, only
    the ``always_call`` forward hook runs, given the replaced args and ``None``."""
    hooks = [
        Hook("l_pre0", "forward_pre"),
        Hook("g_pre0", "forward_pre", "global", replaces=True),
        Hook("l_pre1", "forward_pre", prepend=True, with_kwargs=True, replaces=True),
        Hook("l_fwd0", "forward"),
        Hook("l_fwd1", "forward", always_call=True, with_kwargs=True),
    ]
    outcome = expected_call(hooks, forward_raises=True)
    assert outcome.log == (
        "g_pre0(args=x)",
        "l_pre1(args=g_pre0, kwargs=k)",
        "l_pre0(args=l_pre1)",
        "forward(args=l_pre1, kwargs=l_pre1)",
        "l_fwd1(args=l_pre1, kwargs=l_pre1, out=None)",
    )
    assert (outcome.output, outcome.raised, outcome.silenced) == (None, "forward", ())


def test_oracle_backward_replacements_reach_the_input() -> None:
    hooks = [
        Hook("l_bwd0", "backward", replaces=True),
        Hook("l_bpre0", "backward_pre", replaces=True),
        Hook("g_bwd0", "backward", "global"),
    ]
    outcome = expected_backward(hooks)
    assert outcome.log == (
        "l_bpre0(grad_output=g)",
        "g_bwd0(grad_input=l_bpre0, grad_output=l_bpre0)",
        "l_bwd0(grad_input=l_bpre0, grad_output=l_bpre0)",
    )
    assert outcome.grad_input == "l_bwd0"
