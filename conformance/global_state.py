"""torch's process-wide state, snapshotted around each check and put back after it.

Code under test runs inside the checks: a ``--target`` whose ``forward`` calls
``torch.set_default_dtype(torch.float64)``, registers a global forward hook or
turns grad mode off would otherwise pass its own checks and leave the change
behind, where it makes later, correct checks fail with misleading messages (or
leaks into the caller's process through the Python API). :func:`guarded` takes
a snapshot, runs the check, puts every changed setting back and then fails the
check, naming what changed.

What is watched: the default dtype and device, grad and inference mode, every
global module hook registry of ``torch.nn.modules.module``, the intra-op and
inter-op thread counts, the deterministic-algorithms flags, anomaly
detection, TF32 and the float32 matmul precision. Not the RNG: checks seed it
on purpose (a layer that must not draw from it in some mode is a separate
check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["GlobalStateChanged", "guarded", "snapshot"]

#: The registries ``register_module_*`` fill (``torch.nn.modules.module``).
_HOOK_DICTS = (
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_buffer_registration_hooks",
    "_global_forward_hooks",
    "_global_forward_hooks_always_called",
    "_global_forward_hooks_with_kwargs",
    "_global_forward_pre_hooks",
    "_global_module_registration_hooks",
    "_global_parameter_registration_hooks",
)


class GlobalStateChanged(AssertionError):
    """A check's code under test left torch's global state changed (now restored)."""


def _settings() -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
    """Each watched setting: how to read it and how to put it back."""
    import torch

    def set_grad(on: bool) -> None:
        torch.set_grad_enabled(on)

    def set_deterministic(flags: tuple[bool, bool]) -> None:
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])

    def set_matmul_tf32(on: bool) -> None:
        torch.backends.cuda.matmul.allow_tf32 = on

    def set_cudnn_tf32(on: bool) -> None:
        torch.backends.cudnn.allow_tf32 = on

    settings: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
        "default dtype": (torch.get_default_dtype, torch.set_default_dtype),
        "grad mode": (torch.is_grad_enabled, set_grad),
        "threads": (torch.get_num_threads, torch.set_num_threads),
        "deterministic algorithms (enabled, warn_only)": (
            lambda: (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            ),
            set_deterministic,
        ),
        "anomaly detection": (torch.is_anomaly_enabled, torch.set_anomaly_enabled),
        "TF32 for CUDA matmul": (lambda: torch.backends.cuda.matmul.allow_tf32, set_matmul_tf32),
        "TF32 for cuDNN": (lambda: torch.backends.cudnn.allow_tf32, set_cudnn_tf32),
        "float32 matmul precision": (
            torch.get_float32_matmul_precision,
            torch.set_float32_matmul_precision,
        ),
    }
    if hasattr(torch, "get_default_device"):  # torch >= 2.3
        settings["default device"] = (torch.get_default_device, torch.set_default_device)
    return settings


def _hooks() -> dict[str, dict[Any, Any]]:
    import torch.nn.modules.module as module_globals

    return {name: getattr(module_globals, name) for name in _HOOK_DICTS}


def snapshot() -> dict[str, Any]:
    """The watched settings' values and a copy of every global hook registry."""
    state = {name: read() for name, (read, _) in _settings().items()}
    state.update({name: dict(hooks) for name, hooks in _hooks().items()})
    return state


def _restore(before: dict[str, Any]) -> list[str]:
    """Put back what differs from ``before``; describe each change."""
    changes = []
    for name, (read, write) in _settings().items():
        now = read()
        if now != before[name]:
            changes.append(f"{name} {before[name]!r} -> {now!r}")
            write(before[name])
    for name, hooks in _hooks().items():
        if hooks != before[name]:
            added = [h for h in hooks if h not in before[name]]
            removed = [h for h in before[name] if h not in hooks]
            what = []
            if added:
                what.append(f"{len(added)} added ({_describe(hooks[added[0]])})")
            if removed:
                what.append(f"{len(removed)} removed")
            changes.append(f"torch.nn.modules.module.{name}: {', '.join(what) or 'changed'}")
            hooks.clear()
            hooks.update(before[name])
    return changes


def _describe(hook: Any) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


@contextlib.contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run a check; afterwards put torch's global state back as it was, and raise
    :class:`GlobalStateChanged` naming each change if the check itself passed.

    A check that fails anyway keeps its own failure (the state is restored all
    the same): that message is the one to read first.
    """
    before = snapshot()
    try:
        yield
    except BaseException:
        _restore(before)
        raise
    changes = _restore(before)
    if changes:
        raise GlobalStateChanged(
            f"{what} changed torch's global state, which the kit has put back: "
            + "; ".join(changes)
            + ". Code under test must leave process-wide settings as it found them."
        )
