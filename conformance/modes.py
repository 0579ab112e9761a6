"""Execution modes: running a module eagerly, compiled, scripted or functionally.

A check that calls a module takes the ``mode`` fixture (parametrised by
``--mode``) and calls ``mode.wrap(module)`` instead of ``module``; the
deviations that appear only through one mode then fail that mode's test id
(``test_linear_matches_affine[cpu-float32-compile]``), in the spirit of chex's
variants. The modes:

- ``eager``: the module itself.
- ``compile``: ``torch.compile(module, fullgraph=True, backend=...)``,
  ``aot_eager`` by default (Dynamo and AOTAutograd, the layers where module
  semantics are traced; ``--compile-backend inductor`` adds code generation,
  which on CPU needs a C++ compiler). Dynamo is reset each time a module is
  wrapped, so one example's compiled code cannot serve (or, past the
  recompile limit, silently turn off compilation for) the next.
- ``jit``: ``torch.jit.script(module)``.
- ``functional_call``: ``torch.func.functional_call(module, params_and_buffers,
  args, kwargs)`` with the module's own parameters and buffers, read at each
  call.

Known PyTorch facts these modes expose rather than hide (see
``conformance/known_deviations.toml``): Dynamo does not guard on hooks
registered after compilation (``torch._dynamo.config.skip_nnmodule_hook_guards``),
and ``torch.jit.script`` cannot script Python hooks and ignores hooks
registered on the original module later.

Importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "COMPILE_BACKENDS",
    "DEFAULT_COMPILE_BACKEND",
    "DEFAULT_COMPILE_MAX_EXAMPLES",
    "EAGER",
    "MODES",
    "FunctionalCall",
    "Mode",
    "capped",
    "example_cap",
    "parse_modes",
    "selected",
]

MODES: tuple[str, ...] = ("eager", "compile", "jit", "functional_call")
#: torch.compile backends a conformance run may choose; ``eager`` (Dynamo
#: alone) is there for triage: a deviation under ``aot_eager`` but not under
#: ``eager`` lives in AOTAutograd.
COMPILE_BACKENDS: tuple[str, ...] = ("aot_eager", "inductor", "eager")
DEFAULT_COMPILE_BACKEND = "aot_eager"
#: Compiling costs ~0.15 s per example on a CPU (aot_eager, torch 2.13): the
#: compile mode runs at most this many examples per check unless told otherwise.
DEFAULT_COMPILE_MAX_EXAMPLES = 10


class FunctionalCall:
    """``module`` called through ``torch.func.functional_call`` with its own state.

    The parameters and buffers are read at each call, so an assignment such
    as ``module.weight = nn.Parameter(a)`` reaches the next call, as it does
    eagerly.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        state = {**dict(self.module.named_parameters()), **dict(self.module.named_buffers())}
        return torch.func.functional_call(self.module, state, args, kwargs)

    def __repr__(self) -> str:
        return f"functional_call({self.module!r})"


@dataclasses.dataclass(frozen=True)
class Mode:
    """One execution mode; ``str(mode)`` is its name (and its test-id part).

    What checks must allow for in a mode is said here, not in the checks:
    :attr:`same_arithmetic`, :attr:`same_rng_stream`, :attr:`transforms` and
    the example cap :attr:`max_examples`.
    """

    name: str
    compile_backend: str = DEFAULT_COMPILE_BACKEND
    #: At most this many Hypothesis examples per check in this mode (None: the
    #: profile's); compiling costs ~0.15 s per example.
    max_examples: int | None = None

    @property
    def transforms(self) -> bool:
        """Whether the module is called through something other than itself."""
        return self.name != "eager"

    @property
    def same_arithmetic(self) -> bool:
        """Whether results are torch's eager kernels' to the bit. Compiled code may
        fuse and reorder sums: within rounding of them, not bitwise."""
        return self.name != "compile"

    @property
    def bitwise_with_forward(self) -> bool:
        """Whether a call returns exactly what eager ``forward`` returns: only eager
        promises that (``_call_impl`` calls ``forward`` directly without hooks)."""
        return self.name == "eager"

    @property
    def same_rng_stream(self) -> bool:
        """Whether random ops draw from torch's eager RNG stream. Compiled code may
        draw masks from another stream by design (inductor does): there only the
        repeat under one seed is promised."""
        return self.name != "compile"

    def __post_init__(self) -> None:
        if self.name not in MODES:
            raise ValueError(f"mode={self.name!r} is not one of {', '.join(MODES)}")
        if self.compile_backend not in COMPILE_BACKENDS:
            raise ValueError(
                f"compile_backend={self.compile_backend!r} is not one of "
                f"{', '.join(COMPILE_BACKENDS)}"
            )

    def wrap(self, module: nn.Module) -> Callable[..., Any]:
        """What a check calls in place of ``module`` in this mode."""
        if self.name == "eager":
            return module
        import torch

        if self.name == "compile":
            torch._dynamo.reset()
            compiled: Callable[..., Any] = torch.compile(
                module, fullgraph=True, backend=self.compile_backend
            )
            return compiled
        if self.name == "jit":
            try:
                with warnings.catch_warnings():
                    # torch 2.9+ deprecates TorchScript; the mode exists to check it.
                    warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
                    scripted: Callable[..., Any] = torch.jit.script(module)
            except Exception as e:
                # A module TorchScript cannot compile departs in this mode: an
                # assertion, reported like any other check failure.
                first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
                raise AssertionError(
                    f"torch.jit.script({type(module).__name__}) raised "
                    f"{type(e).__name__}: {first_line}"
                ) from e
            return scripted
        return FunctionalCall(module)

    def describe(self) -> str:
        """``"compile (torch.compile, fullgraph=True, backend='aot_eager')"``."""
        return {
            "eager": "eager",
            "compile": f"compile (torch.compile, fullgraph=True, backend={self.compile_backend!r})",
            "jit": "jit (torch.jit.script)",
            "functional_call": "functional_call (torch.func.functional_call)",
        }[self.name]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        if self.name == "compile":
            return f"Mode('compile', compile_backend={self.compile_backend!r})"
        return f"Mode({self.name!r})"

    def __eq__(self, other: object) -> bool:
        # The cap is how a run is budgeted, not what the mode is.
        if not isinstance(other, Mode):
            return NotImplemented
        return (self.name, self.compile_backend) == (other.name, other.compile_backend)

    def __hash__(self) -> int:
        return hash((self.name, self.compile_backend))


EAGER = Mode("eager")


def selected(
    names: Iterable[str],
    compile_backend: str = DEFAULT_COMPILE_BACKEND,
    compile_max_examples: int = DEFAULT_COMPILE_MAX_EXAMPLES,
) -> tuple[Mode, ...]:
    """The modes of a run: compile capped at ``compile_max_examples`` examples."""
    return tuple(
        Mode(name, compile_backend, compile_max_examples if name == "compile" else None)
        for name in names
    )


def capped(test: Callable[..., Any], max_examples: int) -> Callable[..., Any] | None:
    """``test``'s body re-wrapped to run at most ``max_examples`` examples, or None.

    For checks written ``@given(data=st.data())`` (every check of this kit):
    the body (``test.hypothesis.inner_test``) is wrapped again under the active
    settings with ``max_examples`` lowered; the suite's own function is left as
    it is. None when ``test`` is no such check or already runs few enough.
    """
    import inspect

    inner = getattr(getattr(test, "hypothesis", None), "inner_test", None)
    if inner is None or "data" not in inspect.signature(inner).parameters:
        return None
    from hypothesis import given, settings
    from hypothesis import strategies as st

    current = settings()
    if current.max_examples <= max_examples:
        return None
    rewrapped: Callable[..., Any] = settings(current, max_examples=max_examples)(
        given(data=st.data())(inner)
    )
    return rewrapped


def example_cap(
    profile_examples: int, *, mode_cap: int | None = None, share: float | None = None
) -> int | None:
    """How many examples a check runs: the profile's, cut to the mode's cap and to the
    check's own share of them (at least one); None when nothing cuts them.

    >>> example_cap(100, share=0.25), example_cap(1000, mode_cap=10), example_cap(100)
    (25, 10, None)
    """
    import math

    caps = [c for c in (mode_cap,) if c is not None]
    if share is not None:
        caps.append(max(1, math.ceil(profile_examples * share)))
    if not caps or min(caps) >= profile_examples:
        return None
    return min(caps)


def parse_modes(names: Iterable[str], what: str = "--mode") -> tuple[str, ...]:
    """Validated, de-duplicated mode names; ``ValueError`` naming ``what`` otherwise."""
    chosen = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not chosen:
        raise ValueError(f"{what} names no mode; expected some of {', '.join(MODES)}")
    unknown = [n for n in chosen if n not in MODES]
    if unknown:
        raise ValueError(
            f"{what}={','.join(unknown)!r} is not a mode; expected some of {', '.join(MODES)}"
        )
    return chosen
