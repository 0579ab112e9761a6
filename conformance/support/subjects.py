"""What the module-call suites call: a module under test and its inputs.

A :class:`Subject` draws a module and positional inputs for it: small nested
models from :func:`strategies.model_configs` in a conformance run
(:class:`ModelSubject`), or any module a user's factory builds through the
Python API (:class:`FactorySubject`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from hypothesis import strategies as st
from torch import nn

from conformance.seeding import SEEDS, seeded
from strategies import model_configs, tensors


def flat_outputs(out: Any) -> tuple[torch.Tensor, ...]:
    """A module's output as a tuple of tensors (``TwoBranch`` returns a pair)."""
    return tuple(out) if isinstance(out, tuple) else (out,)


@dataclasses.dataclass(frozen=True)
class Drawn:
    """A module under test, positional inputs for it, and a few words naming both.

    ``rebuild(seed)`` builds another module of the same configuration from another
    seed (for state-dict and copy checks: same structure, other values).
    """

    module: nn.Module
    args: tuple[Any, ...]
    context: str
    rebuild: Callable[[int], nn.Module] | None = None


class Subject:
    """Where the checks get the module under test and its inputs from."""

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> Drawn:
        raise NotImplementedError

    def draw_args(
        self, data: st.DataObject, drawn: Drawn, label: str, *, requires_grad: bool = False
    ) -> tuple[torch.Tensor, ...]:
        """Other inputs of the same shapes, dtype and device as ``drawn.args``."""
        return tuple(
            data.draw(
                tensors(
                    shape=tuple(a.shape),
                    dtype=a.dtype,
                    device=a.device,
                    requires_grad=requires_grad,
                ),
                label=f"{label}[{i}]" if len(drawn.args) > 1 else label,
            )
            for i, a in enumerate(drawn.args)
        )


class ModelSubject(Subject):
    """Small nested models from :func:`strategies.model_configs`, inputs ``(batch, in)``."""

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> Drawn:
        config = data.draw(model_configs(), label="config")

        def build(seed: int) -> nn.Module:
            with seeded(seed, device):
                return config.build(dtype=dtype, device=device)

        module = build(data.draw(SEEDS, label="seed"))
        batch = data.draw(st.integers(1, 3), label="batch")
        shape = (batch, config.in_features)
        x = data.draw(tensors(shape=shape, dtype=dtype, device=device), label="x")
        return Drawn(module, (x,), f"{config}, x.shape={shape}", build)

    def __repr__(self) -> str:
        return "ModelSubject()"


class FactorySubject(Subject):
    """``factory()`` built from a drawn seed, moved to the device and dtype; inputs of
    fixed ``input_shapes`` with drawn values."""

    def __init__(
        self,
        factory: Callable[[], nn.Module],
        input_shapes: Sequence[tuple[int, ...]],
        name: str | None = None,
    ) -> None:
        self.factory = factory
        self.input_shapes = tuple(tuple(s) for s in input_shapes)
        self.name = name or getattr(factory, "__qualname__", repr(factory))

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> Drawn:
        def build(seed: int) -> nn.Module:
            with seeded(seed, device):
                return self.factory().to(device=device, dtype=dtype)

        module = build(data.draw(SEEDS, label="seed"))
        args = tuple(
            data.draw(
                tensors(shape=shape, dtype=dtype, device=device),
                label=f"x[{i}]" if len(self.input_shapes) > 1 else "x",
            )
            for i, shape in enumerate(self.input_shapes)
        )
        shapes = ", ".join(str(s) for s in self.input_shapes)
        return Drawn(module, args, f"{self.name}() on inputs of shape {shapes}", build)

    def __repr__(self) -> str:
        return f"FactorySubject({self.name})"


class KindSubject(Subject):
    """A registered layer kind (:mod:`conformance.layers`): a drawn config built with
    ``implementation`` from a drawn seed, inputs from the kind's input strategy."""

    def __init__(self, info: Any, implementation: Callable[..., nn.Module]) -> None:
        self.info = info
        self.implementation = implementation

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> Drawn:
        info = self.info
        config = data.draw(info.example_configs(dtype, device), label="config")

        def build(seed: int) -> nn.Module:
            with seeded(seed, device), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
                return cast(nn.Module, config.build(self.implementation))

        module = build(data.draw(SEEDS, label="seed"))
        args = data.draw(info.example_inputs(config, dtype, device), label="inputs")
        shapes = ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
        impl = getattr(self.implementation, "__qualname__", repr(self.implementation))
        return Drawn(module, tuple(args), f"{info.name}={impl}, {config!r}, inputs {shapes}", build)

    def __repr__(self) -> str:
        impl = getattr(self.implementation, "__qualname__", repr(self.implementation))
        return f"KindSubject({self.info.name}={impl})"
