"""Proof of power for the ``nn.Module`` contract checks
(``conformance/test_module_contract.py``): each planted fault, a small module
breaking one promise the way real modules do, fails the check that guards it;
a well-behaved module of the same shape passes every check.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from planting import run_unshrunk
from torch import nn

from conformance import test_module_contract as suite
from conformance.support.subjects import FactorySubject

CPU = torch.device("cpu")
IN, OUT = 3, 2


class Good(nn.Module):
    """A linear layer with an integer step buffer and a non-persistent cache."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(IN, OUT)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("scale", torch.ones(OUT))
        self.register_buffer("cache", torch.zeros(OUT), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.scale


class NonPersistentState(Good):
    """Keeps a buffer the output depends on out of the state dict (``persistent=False``):
    a module loaded from A's state computes something else."""

    def __init__(self) -> None:
        super().__init__()
        del self.scale
        self.register_buffer("scale", torch.rand(OUT) + 0.5, persistent=False)


class LoadsLeniently(Good):
    """Ignores ``strict``: missing and unexpected keys pass silently."""

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return super().load_state_dict(state_dict, strict=False, assign=assign)


class ConvertsParametersOnly(Good):
    """``_apply`` reaches the parameters but not the buffers."""

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> Any:
        for p in self.lin.parameters():
            p.data = fn(p.data)
        return self


class ShallowDeepcopy(Good):
    """``__deepcopy__`` that returns a shallow copy: the copy shares its tensors."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)
        clone._parameters = dict(self._parameters)
        clone._buffers = dict(self._buffers)
        clone._modules = dict(self._modules)
        return clone


class ZeroGradFillsZeros(Good):
    """``zero_grad`` as before torch 2.0: gradients set to zeros, not None."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none=False)


class RepeatsParameters(Good):
    """``parameters()`` chaining two views of one submodule lists each tensor twice."""

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        yield from self.lin.parameters()
        yield from self.lin.parameters()


class TrainWithoutRecursion(Good):
    """``train()`` that sets its own flag and forgets the children."""

    def train(self, mode: bool = True) -> TrainWithoutRecursion:
        self.training = mode
        return self


class CountsCalls(Good):
    """Updates a buffer on every call, in eval too: a call through functional_call
    leaves it changed for the next."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        return super().forward(x) + self.steps


class NoisyInEval(Good):
    """Adds noise whatever the mode (ignores ``training``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + 0 * torch.rand(OUT)


def _subject(factory: Callable[[], nn.Module]) -> FactorySubject:
    return FactorySubject(factory, [(2, IN)], factory.__name__)


def _case(check: Callable[..., None], factory: Any, caught: bool, match: str = "") -> Any:
    name = f"{check.__name__.removeprefix('test_')}-{factory.__name__}"
    return pytest.param(check, factory, caught, match, id=name)


CHECKS = [
    suite.test_state_dict_round_trips,
    suite.test_load_state_dict_names_missing_and_unexpected_keys,
    suite.test_dtype_conversion_converts_floating_state_only,
    suite.test_copies_and_saved_state_compute_the_same,
    suite.test_parameters_agree_with_state_dict_and_gradients,
    suite.test_train_and_eval_return_self_and_reach_every_submodule,
    suite.test_functional_call_with_own_state_equals_call,
    suite.test_call_in_eval_leaves_the_rng_alone,
]

CASES = [
    *[_case(check, Good, False) for check in CHECKS],
    _case(suite.test_state_dict_round_trips, NonPersistentState, True, "B(x)"),
    _case(
        suite.test_load_state_dict_names_missing_and_unexpected_keys,
        LoadsLeniently,
        True,
        "but should raise RuntimeError",
    ),
    _case(
        suite.test_dtype_conversion_converts_floating_state_only,
        ConvertsParametersOnly,
        True,
        "scale.dtype=torch.float32",
    ),
    _case(suite.test_copies_and_saved_state_compute_the_same, ShallowDeepcopy, True, "shares"),
    _case(
        suite.test_parameters_agree_with_state_dict_and_gradients,
        ZeroGradFillsZeros,
        True,
        "should be None",
    ),
    _case(
        suite.test_parameters_agree_with_state_dict_and_gradients,
        RepeatsParameters,
        True,
        "lists a tensor twice",
    ),
    _case(
        suite.test_train_and_eval_return_self_and_reach_every_submodule,
        TrainWithoutRecursion,
        True,
        "lin.training",
    ),
    _case(suite.test_functional_call_with_own_state_equals_call, CountsCalls, True, "but should"),
    _case(suite.test_call_in_eval_leaves_the_rng_alone, NoisyInEval, True, "advanced"),
]

GUARDED = {case.values[0] for case in CASES if case.values[2]}


@pytest.mark.parametrize(("check", "factory", "caught", "match"), CASES)
def test_fault_is_caught(
    check: Callable[..., None], factory: Callable[[], nn.Module], caught: bool, match: str
) -> None:
    fixtures = {"device": CPU, "contract_subject": _subject(factory)}
    if caught:
        with pytest.raises(AssertionError) as failure:
            run_unshrunk(check, fixtures)
        assert match in str(failure.value), str(failure.value)
    else:
        run_unshrunk(check, fixtures)
