"""The order in which ``nn.Module.__call__`` runs hooks, and what each one sees.

Source: torch/nn/modules/module.py, read on torch 2.13.0:

- ``Module._call_impl``: with no hook of any kind registered, ``forward`` is
  called directly. Otherwise the forward pre-hooks run (global ones, then the
  module's), ``forward`` runs, then the forward hooks (global, then the
  module's). A pre-hook's non-None return replaces ``args`` (a non-tuple is
  wrapped into a 1-tuple); a ``with_kwargs`` pre-hook's return replaces
  ``(args, kwargs)``. A forward hook's non-None return replaces the result and
  later hooks see the replacement. If a pre-hook, ``forward`` or a forward
  hook raises, every ``always_call`` forward hook that has not run yet is
  called with the current ``args``/``kwargs`` and result (``None`` unless a
  forward hook raised); an exception such a hook raises becomes a warning and
  the original exception propagates.
- ``register_forward_pre_hook`` / ``register_forward_hook`` /
  ``register_full_backward_pre_hook`` / ``register_full_backward_hook``:
  hooks live in an insertion-ordered dict; ``prepend=True`` moves the new one
  to the front (``move_to_end(last=False)``).
- ``register_module_forward_pre_hook`` and the other global registrations
  have no ``prepend``; global pre-hooks take no ``with_kwargs`` either.
- ``torch.utils.hooks.BackwardHook``: backward pre-hooks (global, then the
  module's) see ``grad_output`` and may replace it; then the full backward
  hooks (global, then the module's) see ``grad_input`` and the (replaced)
  ``grad_output`` and may replace ``grad_input``.

Everything here is plain data and Python: nothing calls torch. A call is told
as a log of events, one string per hook or ``forward`` call, naming the
values each was given. Values are named by who produced them: the caller's
positional argument is ``x``, its keyword argument ``k``, the cotangent fed to
``backward`` is ``g``, ``forward``'s result is ``forward``, and a hook's
replacement carries the hook's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

__all__ = [
    "CALLER_ARGS",
    "CALLER_GRAD",
    "CALLER_KWARGS",
    "FORWARD",
    "STAGES",
    "BackwardOutcome",
    "CallOutcome",
    "Hook",
    "Scope",
    "Site",
    "Stage",
    "expected_backward",
    "expected_call",
    "firing_order",
    "format_event",
    "joins_current_call",
]

Stage = Literal["forward_pre", "forward", "backward_pre", "backward"]
Scope = Literal["global", "local"]
STAGES: tuple[Stage, ...] = ("forward_pre", "forward", "backward_pre", "backward")

CALLER_ARGS = "x"
CALLER_KWARGS = "k"
CALLER_GRAD = "g"
FORWARD = "forward"


@dataclasses.dataclass(frozen=True)
class Hook:
    """One registration, in the words of the call that registers it.

    ``scope="global"`` means ``torch.nn.modules.module.register_module_*``;
    ``"local"`` the module's own ``register_*`` method. ``replaces``: the hook
    returns a replacement (args, and kwargs when ``with_kwargs``, for a
    pre-hook; the result for a forward hook; ``grad_output`` for a backward
    pre-hook; ``grad_input`` for a backward hook). ``raises``: the hook raises.
    """

    name: str
    stage: Stage
    scope: Scope = "local"
    prepend: bool = False
    with_kwargs: bool = False
    always_call: bool = False
    replaces: bool = False
    raises: bool = False

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage={self.stage!r} is not one of {STAGES}")
        if self.scope == "global" and self.prepend:
            raise ValueError(f"{self.name}: global hooks take no prepend")
        if self.with_kwargs and not (
            self.stage == "forward" or (self.stage == "forward_pre" and self.scope == "local")
        ):
            raise ValueError(
                f"{self.name}: with_kwargs exists for forward hooks and local pre-hooks"
            )
        if self.always_call and self.stage != "forward":
            raise ValueError(f"{self.name}: always_call exists for forward hooks only")
        if self.raises and self.stage not in ("forward_pre", "forward"):
            raise ValueError(f"{self.name}: raising is modelled for forward-stage hooks only")


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """What one ``module(x, k=k)`` does.

    ``output`` names the returned value (None when the call raises);
    ``raised`` names who raised the propagating exception (``"forward"`` or a
    hook); ``silenced`` the ``always_call`` hooks whose own exceptions became
    warnings.
    """

    log: tuple[str, ...]
    output: str | None
    raised: str | None
    silenced: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BackwardOutcome:
    """What ``backward(g)`` through a module whose backward is the identity does.

    For such a module ``grad_input`` carries ``grad_output``'s values, so the
    log can name both; ``grad_input`` is what reaches the input's ``.grad``.
    """

    log: tuple[str, ...]
    grad_input: str


def format_event(name: str, **seen: str | None) -> str:
    """``"l_fwd0(args=x, out=forward)"``: who ran and the values it was given.

    Fields whose value is None are left out; ``str`` values print as given,
    and the literal string ``"None"`` stands for a ``None`` argument.
    """
    fields = ", ".join(f"{key}={value}" for key, value in seen.items() if value is not None)
    return f"{name}({fields})"


def firing_order(registrations: Sequence[Hook], stage: Stage) -> tuple[Hook, ...]:
    """The hooks of ``stage`` in the order a call runs them.

    Global hooks first, in registration order; then the module's, where each
    ``prepend=True`` registration goes to the front of those registered so far.

    >>> registrations = [
    ...     Hook("l_fwd0", "forward"),
    ...     Hook("g_fwd0", "forward", "global"),
    ...     Hook("l_fwd1", "forward", prepend=True),
    ... ]
    >>> [hook.name for hook in firing_order(registrations, "forward")]
    ['g_fwd0', 'l_fwd1', 'l_fwd0']
    """
    local: list[Hook] = []
    for hook in registrations:
        if hook.stage != stage or hook.scope != "local":
            continue
        if hook.prepend:
            local.insert(0, hook)
        else:
            local.append(hook)
    global_ = [h for h in registrations if h.stage == stage and h.scope == "global"]
    return (*global_, *local)


def _forward_hook_event(hook: Hook, args: str, kwargs: str, result: str | None) -> str:
    out = "None" if result is None else result
    return format_event(hook.name, args=args, kwargs=kwargs if hook.with_kwargs else None, out=out)


def expected_call(registrations: Sequence[Hook], *, forward_raises: bool = False) -> CallOutcome:
    """The events of one ``module(x, k=k)`` with these hooks registered.

    Backward-stage registrations do not change the forward events (they only
    turn inputs and outputs into views, which keep their values).
    """
    args, kwargs, result = CALLER_ARGS, CALLER_KWARGS, None
    log: list[str] = []
    raised: str | None = None
    for hook in firing_order(registrations, "forward_pre"):
        log.append(format_event(hook.name, args=args, kwargs=kwargs if hook.with_kwargs else None))
        if hook.raises:
            raised = hook.name
            break
        if hook.replaces:
            args = hook.name
            kwargs = hook.name if hook.with_kwargs else kwargs
    if raised is None:
        log.append(format_event(FORWARD, args=args, kwargs=kwargs))
        raised, result = (FORWARD, None) if forward_raises else (None, FORWARD)
    post = firing_order(registrations, "forward")
    already_run: set[str] = set()
    if raised is None:
        for hook in post:
            already_run.add(hook.name)
            log.append(_forward_hook_event(hook, args, kwargs, result))
            if hook.raises:
                raised = hook.name
                break
            result = hook.name if hook.replaces else result
    if raised is None:
        return CallOutcome(tuple(log), result, None, ())
    # The except branch of _call_impl: always_call hooks not yet run, in order.
    silenced: list[str] = []
    for hook in post:
        if hook.always_call and hook.name not in already_run:
            log.append(_forward_hook_event(hook, args, kwargs, result))
            if hook.raises:
                silenced.append(hook.name)
            elif hook.replaces:
                result = hook.name
    return CallOutcome(tuple(log), None, raised, tuple(silenced))


def expected_backward(registrations: Sequence[Hook]) -> BackwardOutcome:
    """The backward-hook events of ``module(x).backward(g)`` (identity backward)."""
    grad_output = CALLER_GRAD
    log: list[str] = []
    for hook in firing_order(registrations, "backward_pre"):
        log.append(format_event(hook.name, grad_output=grad_output))
        grad_output = hook.name if hook.replaces else grad_output
    grad_input = grad_output
    for hook in firing_order(registrations, "backward"):
        log.append(format_event(hook.name, grad_input=grad_input, grad_output=grad_output))
        grad_input = hook.name if hook.replaces else grad_input
    return BackwardOutcome(tuple(log), grad_input)


Site = Literal["forward_pre", "forward_call", "forward"]
_SITE_POSITION: dict[str, int] = {"forward_pre": 0, "forward_call": 1, "forward": 2}


def joins_current_call(registered_in: Site, stage: Stage, *, call_had_hooks: bool) -> bool:
    """Does a forward-stage hook registered during a call run in that same call?

    ``registered_in`` is where the registration happens: in a forward
    pre-hook, in ``forward`` itself (``"forward_call"``) or in a forward hook.
    ``_call_impl`` decides at entry whether any hook exists (if none, it just
    calls ``forward``), and copies each stage's hooks when that stage's loop
    starts (``(*_global_forward_hooks.items(), *self._forward_hooks.items())``).
    So a hook joins the current call only if the call had hooks at entry and
    its stage's loop starts after the registration: a forward hook registered
    in a pre-hook or in ``forward`` runs in the same call; a hook registered
    by a hook of its own stage runs from the next call.
    """
    if stage not in ("forward_pre", "forward"):
        raise ValueError(f"stage={stage!r}: only forward-stage hooks are modelled")
    return call_had_hooks and _SITE_POSITION[stage] > _SITE_POSITION[registered_in]
