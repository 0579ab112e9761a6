"""The hook harness of the ``__call__`` suites: tagged values, a logging probe
module, hooks that act out a :class:`~conformance.oracle.hooks.Hook`, drawn
hook scenarios, and the comparison of a call's log with the oracle.

Values are tagged tensors (:class:`Tags`), so the log says who produced every
value a hook or ``forward`` was given; :func:`global_hooks_restored` puts
torch's global hook registries back as they were, whatever a check did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.modules.module as module_globals
from hypothesis import strategies as st
from torch import nn
from torch.utils.hooks import RemovableHandle

from conformance.assertions import fail
from conformance.oracle.hooks import (
    CALLER_ARGS,
    CALLER_GRAD,
    CALLER_KWARGS,
    FORWARD,
    CallOutcome,
    Hook,
    Scope,
    Stage,
    format_event,
)

FORWARD_STAGES: tuple[Stage, ...] = ("forward_pre", "forward")
BACKWARD_STAGES: tuple[Stage, ...] = ("backward_pre", "backward")
SCOPES: tuple[Scope, ...] = ("global", "local")
PRE_HOOK_RETURN_ERROR = "forward pre-hook must return None or a tuple of (new_args, new_kwargs)"
MIXED_BACKWARD_HOOKS_ERROR = (
    "Cannot use both regular backward hooks and full backward hooks on a single Module"
)


# --- tagged values, a logging module, hooks acting out a Hook ---------------


class ForwardError(Exception):
    """Raised by :class:`Probe`'s forward when told to."""


class HookError(Exception):
    """Raised by a hook whose :class:`Hook` says ``raises``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} raised")
        self.name = name


class Tags:
    """Distinct tensors standing for named values, read back by value.

    Tag ``i`` is a 2-vector filled with ``i``: the same tag survives views,
    copies and identity gradients, and a tensor torch built some other way
    reads as ``<Tensor>``.
    """

    def __init__(self, names: Iterable[str], device: torch.device) -> None:
        self._names = list(dict.fromkeys(names))
        self._values = {
            name: torch.full((2,), float(i), device=device) for i, name in enumerate(self._names)
        }

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._values[name]

    def name_of(self, value: object) -> str:
        if value is None:
            return "None"
        if isinstance(value, torch.Tensor) and value.shape == (2,):
            a, b = value.tolist()
            if a == b and float(a).is_integer() and 0 <= a < len(self._names):
                return self._names[int(a)]
        return f"<{type(value).__name__}>"

    def name_args(self, args: Sequence[object]) -> str:
        if isinstance(args, tuple) and len(args) == 1:
            return self.name_of(args[0])
        return f"({', '.join(self.name_of(a) for a in args)})"

    def name_kwargs(self, kwargs: dict[str, object]) -> str:
        if list(kwargs) == ["k"]:
            return self.name_of(kwargs["k"])
        return "{" + ", ".join(f"{k}: {self.name_of(v)}" for k, v in kwargs.items()) + "}"


class Probe(nn.Module):
    """Logs each ``forward`` call as an event naming the values it was given.

    Returns ``tags["forward"]``, or with ``identity=True`` a copy of its first
    argument (its backward is then the identity, so gradients keep their tags).
    """

    def __init__(
        self, tags: Tags, log: list[str], *, identity: bool = False, raises: bool = False
    ) -> None:
        super().__init__()
        self.tags, self.log, self.identity, self.raises = tags, log, identity, raises
        self.calls = 0
        self.on_forward: Callable[[], None] | None = None

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        self.calls += 1
        seen = {"args": self.tags.name_args(args), "kwargs": self.tags.name_kwargs(kwargs)}
        self.log.append(format_event(FORWARD, **seen))
        if self.on_forward is not None:
            self.on_forward()
        if self.raises:
            raise ForwardError
        return args[0].clone() if self.identity else self.tags[FORWARD]


def make_hook(spec: Hook, tags: Tags, log: list[str], *, bare: bool = False) -> Callable[..., Any]:
    """A hook acting out ``spec``: it logs what it is given, then raises or replaces.

    It accepts every arity torch could call it with, so a call with the wrong
    arguments shows in the log instead of as a TypeError. ``bare``: a plain
    pre-hook returns its replacement as is, not as a 1-tuple.
    """
    new = tags[spec.name]

    def act(**seen: str | None) -> None:
        log.append(format_event(spec.name, **seen))
        if spec.raises:
            raise HookError(spec.name)

    def forward_pre(module: nn.Module, args: tuple[Any, ...], *kwargs: dict[str, Any]) -> Any:
        act(args=tags.name_args(args), kwargs=tags.name_kwargs(kwargs[0]) if kwargs else None)
        if not spec.replaces:
            return None
        if spec.with_kwargs:
            return (new,), {"k": new}
        return new if bare else (new,)

    def forward(module: nn.Module, args: tuple[Any, ...], *rest: Any) -> Any:
        *kwargs, out = rest
        kw = tags.name_kwargs(kwargs[0]) if kwargs else None
        act(args=tags.name_args(args), kwargs=kw, out=tags.name_of(out))
        return new if spec.replaces else None

    def backward_pre(module: nn.Module, grad_output: tuple[Any, ...]) -> Any:
        act(grad_output=tags.name_args(grad_output))
        return (new,) if spec.replaces else None

    def backward(
        module: nn.Module, grad_input: tuple[Any, ...], grad_output: tuple[Any, ...]
    ) -> Any:
        act(grad_input=tags.name_args(grad_input), grad_output=tags.name_args(grad_output))
        return (new,) if spec.replaces else None

    by_stage: dict[str, Callable[..., Any]] = {
        "forward_pre": forward_pre,
        "forward": forward,
        "backward_pre": backward_pre,
        "backward": backward,
    }
    return by_stage[spec.stage]


def register(module: nn.Module, spec: Hook, fn: Callable[..., Any]) -> RemovableHandle:
    """Registers ``fn`` the way ``spec`` says: on ``module``, or globally."""
    if spec.scope == "global":
        if spec.stage == "forward_pre":
            return module_globals.register_module_forward_pre_hook(fn)
        if spec.stage == "forward":
            return module_globals.register_module_forward_hook(
                fn, with_kwargs=spec.with_kwargs, always_call=spec.always_call
            )
        if spec.stage == "backward_pre":
            return module_globals.register_module_full_backward_pre_hook(fn)
        return module_globals.register_module_full_backward_hook(fn)
    if spec.stage == "forward_pre":
        return module.register_forward_pre_hook(
            fn, prepend=spec.prepend, with_kwargs=spec.with_kwargs
        )
    if spec.stage == "forward":
        return module.register_forward_hook(
            fn, prepend=spec.prepend, with_kwargs=spec.with_kwargs, always_call=spec.always_call
        )
    if spec.stage == "backward_pre":
        return module.register_full_backward_pre_hook(fn, prepend=spec.prepend)
    return module.register_full_backward_hook(fn, prepend=spec.prepend)


@contextlib.contextmanager
def global_hooks_restored() -> Iterator[list[RemovableHandle]]:
    """Collects handles and removes them all on exit, whatever happens.

    Global hooks fire for every module in the process, so none may outlive
    the example. torch also sets a process-wide flag when a global full
    backward hook is registered (``_global_is_full_backward_hook``, never
    reset on removal), which would forbid a later
    ``register_module_backward_hook`` anywhere in the process: it is restored.
    Removing a global forward hook registered ``with_kwargs=True`` leaves its
    id in ``_global_forward_hooks_with_kwargs`` (the handle does not know that
    dict), and ``torch.compile`` then warns of global hooks that are gone: the
    ids are dropped too.
    """
    flag = module_globals._global_is_full_backward_hook
    handles: list[RemovableHandle] = []
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()
            module_globals._global_forward_hooks_with_kwargs.pop(handle.id, None)
        module_globals._global_is_full_backward_hook = flag


@contextlib.contextmanager
def registered(
    module: nn.Module,
    specs: Sequence[Hook],
    tags: Tags,
    log: list[str],
    bare: frozenset[str] = frozenset(),
) -> Iterator[dict[str, RemovableHandle]]:
    """Registers hooks acting out ``specs``, in order; removes every one on exit."""
    with global_hooks_restored() as handles:
        by_name = {}
        for spec in specs:
            hook = make_hook(spec, tags, log, bare=spec.name in bare)
            by_name[spec.name] = register(module, spec, hook)
            handles.append(by_name[spec.name])
        yield by_name


# --- drawing hook scenarios ---------------------------------------------------

# The options each registration function offers (module.py signatures).
_OPTIONS: dict[tuple[Scope, Stage], tuple[str, ...]] = {
    ("global", "forward_pre"): ("replaces",),
    ("local", "forward_pre"): ("prepend", "with_kwargs", "replaces"),
    ("global", "forward"): ("with_kwargs", "always_call", "replaces"),
    ("local", "forward"): ("prepend", "with_kwargs", "always_call", "replaces"),
    ("global", "backward_pre"): ("replaces",),
    ("local", "backward_pre"): ("prepend", "replaces"),
    ("global", "backward"): ("replaces",),
    ("local", "backward"): ("prepend", "replaces"),
}
_SHORT = {"forward_pre": "pre", "forward": "fwd", "backward_pre": "bpre", "backward": "bwd"}
_MAX_HOOKS: dict[Scope, int] = {"global": 2, "local": 3}


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Hooks in registration order, how plain pre-hooks return, whether forward raises."""

    registrations: tuple[Hook, ...]
    bare: frozenset[str]
    forward_raises: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.registrations)

    def describe(self) -> str:
        """``"registered g_pre0, l_fwd0(prepend, always_call); forward raises"``."""
        parts = []
        for hook in self.registrations:
            flags = [
                f
                for f in ("prepend", "with_kwargs", "always_call", "replaces", "raises")
                if getattr(hook, f)
            ]
            flags += ["bare return"] if hook.name in self.bare else []
            parts.append(f"{hook.name}({', '.join(flags)})" if flags else hook.name)
        raises = "; forward raises" if self.forward_raises else ""
        return f"registered {', '.join(parts) or 'no hooks'}{raises}"


def _draw_hooks(draw: st.DrawFn, scope: Scope, stage: Stage) -> list[Hook]:
    count = draw(st.integers(0, _MAX_HOOKS[scope]), label=f"{scope} {stage} hooks")
    options = st.fixed_dictionaries({o: st.booleans() for o in _OPTIONS[(scope, stage)]})
    hooks = []
    for i in range(count):
        name = f"{scope[0]}_{_SHORT[stage]}{i}"
        flags: dict[str, Any] = draw(options, label=name)
        hooks.append(dataclasses.replace(Hook(name, stage, scope), **flags))
    return hooks


@st.composite
def hook_scenarios(
    draw: st.DrawFn, stages: Sequence[Stage], *, allow_raises: bool = False
) -> Scenario:
    """Hooks of ``stages`` (0-2 global and 0-3 module hooks each), shrinking to none.

    With ``allow_raises``, up to two of ``forward`` and the forward-stage
    hooks raise.
    """
    hooks = [h for stage in stages for scope in SCOPES for h in _draw_hooks(draw, scope, stage)]
    order = draw(st.permutations(hooks), label="registration order")
    plain_pre = sorted(h.name for h in hooks if h.stage == "forward_pre" and not h.with_kwargs)
    bare = draw(st.sets(st.sampled_from(plain_pre)), label="bare returns") if plain_pre else set()
    raisers: list[str] = []
    if allow_raises:
        candidates = [FORWARD, *(h.name for h in order if h.stage in FORWARD_STAGES)]
        raisers = draw(
            st.lists(st.sampled_from(candidates), unique=True, max_size=2), label="raisers"
        )
    registrations = tuple(_with_raises(h, h.name in raisers, bool(raisers)) for h in order)
    return Scenario(registrations, frozenset(bare), FORWARD in raisers)


def _with_raises(hook: Hook, raises: bool, call_raises: bool) -> Hook:
    if call_raises and hook.scope == "global" and hook.always_call:
        # Known departure, see test_global_always_call_hook_gets_kwargs_when_forward_raises.
        hook = dataclasses.replace(hook, with_kwargs=False)
    return dataclasses.replace(hook, raises=raises)


# --- running a call and comparing it with the oracle ------------------------


@dataclasses.dataclass(frozen=True)
class Observed:
    output: str | None
    raised: str | None
    silenced: int  # "always_call=True ... raised an exception" warnings


def call_probe(probe: Probe, tags: Tags) -> Observed:
    """``probe(x, k=k)``, with its result, exception and warnings named."""
    output = raised = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            output = tags.name_of(probe(tags[CALLER_ARGS], k=tags[CALLER_KWARGS]))
        except ForwardError:
            raised = FORWARD
        except HookError as e:
            raised = e.name
        except Exception as e:
            raised = f"{type(e).__name__}({e})"
    silenced = sum("always_call=True" in str(w.message) for w in caught)
    return Observed(output, raised, silenced)


def check_call(log: list[str], observed: Observed, expected: CallOutcome, context: str) -> None:
    if log != list(expected.log):
        fail(f"call log={log}, but should be {list(expected.log)}", context)
    if observed.raised != expected.raised:
        fail(f"exception from {observed.raised}, but should be from {expected.raised}", context)
    if observed.output != expected.output:
        fail(f"output={observed.output}, but should be {expected.output}", context)
    if observed.silenced != len(expected.silenced):
        fail(
            f"{observed.silenced} silenced always_call exceptions, but should be "
            f"{len(expected.silenced)} {list(expected.silenced)}",
            context,
        )


def new_probe(
    scenario: Scenario, device: torch.device, log: list[str], **kw: Any
) -> tuple[Probe, Tags]:
    tags = Tags([CALLER_ARGS, CALLER_KWARGS, CALLER_GRAD, FORWARD, *scenario.names], device)
    return Probe(tags, log, **kw), tags
