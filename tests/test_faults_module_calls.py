"""Proof of power for the module-call suite (conformance/test_module_calls.py): each
planted fault fails the check that guards it, and the plain models pass it.

A fault is a wrapper module around the suite's own drawn model, given to the
checks as their ``call_subject``: its ``__call__``, ``train`` or backward is
wrong in one way. The checks run eagerly, under the conformance-ci profile
without shrinking.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import strategies as st
from planting import run_unshrunk
from torch import nn

from conformance import test_module_calls as suite
from conformance.modes import EAGER
from conformance.support.subjects import Drawn, ModelSubject, Subject

FIXTURES: dict[str, Any] = {"device": torch.device("cpu"), "dtype": torch.float64, "mode": EAGER}


class Wrapper(nn.Module):
    """Calls the wrapped model; the faults below override one piece."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *args: Any) -> Any:
        return self.inner(*args)


class DetachesOutputs(Wrapper):
    """``__call__`` returns detached outputs: the graph is lost."""

    def __call__(self, *args: Any) -> Any:
        out = super().__call__(*args)
        return tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()


class SkipsHooks(Wrapper):
    """``__call__`` is ``forward``: no hook ever runs."""

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)


class FreezesHooksAtFirstCall(Wrapper):
    """Runs the hooks that were registered at its first call, forever (what a
    compiled module without hook guards does)."""

    def __call__(self, *args: Any) -> Any:
        if "_frozen" not in self.__dict__:
            self.__dict__["_frozen"] = (
                OrderedDict(self._forward_pre_hooks),
                OrderedDict(self._forward_hooks),
            )
        live = (self._forward_pre_hooks, self._forward_hooks)
        self._forward_pre_hooks, self._forward_hooks = (OrderedDict(d) for d in self._frozen)
        try:
            return super().__call__(*args)
        finally:
            self._forward_pre_hooks, self._forward_hooks = live


class FreezesBackwardHooksAtFirstCall(Wrapper):
    """The same for backward hooks: a full backward (pre-)hook registered after the
    first call never runs."""

    def __call__(self, *args: Any) -> Any:
        if "_frozen" not in self.__dict__:
            self.__dict__["_frozen"] = (
                OrderedDict(self._backward_pre_hooks),
                OrderedDict(self._backward_hooks),
            )
        live = (self._backward_pre_hooks, self._backward_hooks)
        self._backward_pre_hooks, self._backward_hooks = (OrderedDict(d) for d in self._frozen)
        try:
            return super().__call__(*args)
        finally:
            self._backward_pre_hooks, self._backward_hooks = live


class TrainDoesNotRecurse(Wrapper):
    """``train(mode)`` sets its own flag only: nested dropout stays as it was."""

    def train(self, mode: bool = True) -> TrainDoesNotRecurse:
        self.training = mode
        return self


class _DoubledGrad(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return 2 * g


class WrongBackward(Wrapper):
    """Right outputs, gradients doubled on the way back."""

    def forward(self, *args: Any) -> Any:
        out = self.inner(*args)
        if isinstance(out, tuple):
            return tuple(_DoubledGrad.apply(o) for o in out)
        return _DoubledGrad.apply(out)


class RecordsUnderNoGrad(Wrapper):
    """Turns grad mode back on inside ``__call__``."""

    def __call__(self, *args: Any) -> Any:
        with torch.enable_grad():
            return super().__call__(*args)


class Wrapped(Subject):
    """The suite's own models, inside ``wrapper``; inputs as the suite draws them."""

    def __init__(self, wrapper: type[Wrapper] | None) -> None:
        self.wrapper = wrapper
        self.models = ModelSubject()

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> Drawn:
        drawn = self.models.draw(data, device, dtype)
        if self.wrapper is None:
            return drawn
        module = self.wrapper(drawn.module)
        return Drawn(module, drawn.args, f"{self.wrapper.__name__}({drawn.context})")

    def __repr__(self) -> str:
        return f"Wrapped({getattr(self.wrapper, '__name__', None)})"


def _case(check: Callable[..., None], wrapper: type[Wrapper] | None, caught: bool) -> Any:
    name = check.__name__.removeprefix("test_")
    shown = wrapper.__name__ if wrapper else "plain"
    return pytest.param(check, wrapper, caught, id=f"{name}-{shown}")


def _guarded(check: Callable[..., None], *faults: type[Wrapper]) -> list[Any]:
    return [_case(check, None, False)] + [_case(check, f, True) for f in faults]


CASES = [
    *_guarded(suite.test_call_matches_eager_forward, DetachesOutputs),
    *_guarded(suite.test_hooks_registered_before_wrapping_run, SkipsHooks),
    *_guarded(suite.test_hooks_registered_after_wrapping_run, FreezesHooksAtFirstCall),
    *_guarded(
        suite.test_backward_hooks_registered_after_wrapping_run, FreezesBackwardHooksAtFirstCall
    ),
    *_guarded(suite.test_eval_after_wrapping_reaches_the_call, TrainDoesNotRecurse),
    *_guarded(suite.test_train_and_eval_reach_every_submodule, TrainDoesNotRecurse),
    *_guarded(suite.test_backward_through_the_mode_is_correct, WrongBackward),
    *_guarded(suite.test_no_graph_under_no_grad, RecordsUnderNoGrad),
    # A wrapper adding nothing is a conforming module: the faults are the pieces.
    _case(suite.test_hooks_registered_after_wrapping_run, Wrapper, False),
]

#: The checks a planted fault above fails (tests/test_fault_coverage.py).
GUARDED = {case.values[0] for case in CASES if case.values[2]}


@pytest.mark.parametrize(("check", "wrapper", "caught"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], wrapper: type[Wrapper] | None, caught: bool
) -> None:
    subject = Wrapped(wrapper)
    if caught:
        with pytest.raises(AssertionError):
            run_unshrunk(check, FIXTURES, call_subject=subject)
    else:
        run_unshrunk(check, FIXTURES, call_subject=subject)
