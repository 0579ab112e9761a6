"""Proof of power for the module-semantics suites: each planted fault in
``nn.Module``'s call or mode machinery fails the check that guards it, and
stock torch passes the same check.

Faults are planted with pytest's ``monkeypatch`` on ``torch.nn.Module`` and
undone at teardown: ``_call_impl`` (what ``__call__``, i.e.
``_wrapped_call_impl``, calls) is wrapped or replaced by a small
reimplementation with one fault, or ``train`` stops recursing. The suites'
Hypothesis-wrapped test functions are called directly, fixtures passed as
keyword arguments, under the conformance-ci profile without shrinking.
The hook oracle itself is checked on hand-worked cases at the end.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.modules.module as module_globals
from planting import run_unshrunk
from torch import nn

from conformance import test_autograd_graph as graph
from conformance import test_call_semantics as call
from conformance import test_train_eval as modes
from conformance.oracle.hooks import Hook, expected_backward, expected_call

STOCK_CALL_IMPL = nn.Module._call_impl
FIXTURES: dict[str, Any] = {"device": torch.device("cpu"), "dtype": torch.float32}


def run_check(check: Callable[..., None]) -> None:
    run_unshrunk(check, FIXTURES)


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


def call_impl_with(fault: str | None) -> Callable[..., Any]:
    """``Module._call_impl``'s forward-stage hook logic, rewritten small, with ``fault``.

    ``fault=None`` is the faithful version (``test_reimplementation_passes``
    shows the guarding check passes it, so a failure is the fault's doing).
    Calls with backward hooks go to the stock implementation.
    """
    ignore_results = fault == "hook results ignored"

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
        pre = _in_order(module_globals._global_forward_pre_hooks, self._forward_pre_hooks, fault)
        post = _in_order(module_globals._global_forward_hooks, self._forward_hooks, fault)
        always = {
            *module_globals._global_forward_hooks_always_called,
            *self._forward_hooks_always_called,
        }
        result, ran = None, set()
        try:
            for hook_id, hook in pre:
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is not None and not ignore_results:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError(
                                "forward pre-hook must return None or a tuple of "
                                f"(new_args, new_kwargs), but got {new}."
                            )
                        args, kwargs = new
                else:
                    new = hook(self, args)
                    if new is not None and not ignore_results:
                        args = new if isinstance(new, tuple) else (new,)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in post:
                ran.add(hook_id)
                new = forward_hook(self, hook_id, hook, args, kwargs, result)
                if new is not None and not ignore_results:
                    result = new
            return result
        except Exception:
            for hook_id, hook in post:
                if fault == "always_call hooks skipped" or hook_id not in always or hook_id in ran:
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


def _eval_stops_at_children(monkeypatch: pytest.MonkeyPatch) -> None:
    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.training = mode  # no recursion: grandchildren keep their mode
        return self

    monkeypatch.setattr(nn.Module, "train", train)


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


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    plant: Callable[[pytest.MonkeyPatch], None]
    check: Callable[..., None]
    message: str  # what the guarding check's failure says (a regex)


def _call_fault(
    name: str, impl: Callable[..., Any], check: Callable[..., None], message: str
) -> Fault:
    return Fault(name, lambda mp: _patch_call(mp, impl), check, message)


HOOK_ORDER = call.test_forward_hooks_run_in_order_and_pass_results_on
TRAIN_EVAL = modes.test_mode_switches_reach_every_submodule
ARGUMENTS = call.test_arguments_reach_forward_unchanged
ONCE = call.test_forward_runs_once_per_call
GRAPH = graph.test_outputs_of_modules_with_parameters_carry_grad_fn


FAULTS = [
    Fault("eval stops at children", _eval_stops_at_children, TRAIN_EVAL, r"training=\w+, but"),
    _call_fault("hooks skipped", _hooks_skipped, HOOK_ORDER, "call log="),
    _call_fault("module hooks before global", call_impl_with("module hooks before global"),
                HOOK_ORDER, "call log="),
    _call_fault("hook results ignored", call_impl_with("hook results ignored"), HOOK_ORDER,
                "call log=|output="),
    _call_fault("global hooks skipped", call_impl_with("global hooks skipped"), HOOK_ORDER,
                "call log="),
    _call_fault("always_call hooks skipped", call_impl_with("always_call hooks skipped"),
                HOOK_ORDER, "call log="),
    _call_fault("kwargs bound positionally", _kwargs_bound_positionally, ARGUMENTS,
                "forward received|raised TypeError"),
    _call_fault("forward run twice", _forward_run_twice, ONCE, "forward ran"),
    _call_fault("__call__ under no_grad", _call_under_no_grad, GRAPH, "grad_fn=None"),
]  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name.replace(" ", "-") for f in FAULTS])
def test_planted_fault_fails_its_check(fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    fault.plant(monkeypatch)
    with pytest.raises(AssertionError, match=fault.message):
        run_check(fault.check)


GUARDS = list(dict.fromkeys(f.check for f in FAULTS))


@pytest.mark.parametrize("check", GUARDS, ids=[c.__name__.removeprefix("test_") for c in GUARDS])
def test_stock_torch_passes(check: Callable[..., None]) -> None:
    run_check(check)


def test_reimplementation_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small ``_call_impl`` without a fault passes the hook-order check, so each
    failure above comes from the planted fault, not from the rewrite."""
    _patch_call(monkeypatch, call_impl_with(None))
    run_check(HOOK_ORDER)


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
