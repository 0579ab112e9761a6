"""Targets: running the suites against another implementation of a layer.

``--target linear=mypkg.layers:MyLinear`` makes every check that exercises
``torch.nn.Linear`` exercise ``MyLinear`` instead (through the ``linear_cls``
fixture); ``--target dropout=...`` does the same for ``torch.nn.Dropout``
(``dropout_cls``). What a check exercises is data: a check exercises a kind
when it takes the kind's fixture, unless a closer ``exercises(...)`` mark says
otherwise (the dropout suite marks its ``Dropout2d`` and other torch-only
cases ``exercises()``). When a target is given, checks exercising none of
the targeted kinds are deselected, not failed.

The contract a target object keeps is the constructor of the layer it stands
in for (see :data:`KINDS`). Any callable keeping it will do, so an adapter is
simply a factory function: ``--target linear=myproject.adapters:lora_linear``
with ``def lora_linear(in_features, out_features, bias=True, device=None,
dtype=None): return loralib.Linear(in_features, out_features, r=4, bias=bias,
...).to(device, dtype)``.

A target that cannot be imported, is not callable or breaks the contract is a
:class:`TargetError`; the plugin turns it into a pytest usage error (exit code
4) naming the target and the problem. Importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "KINDS",
    "Target",
    "TargetError",
    "TargetKind",
    "check_contract",
    "exercised_kinds",
    "load_target",
    "parse_target",
]


class TargetError(ValueError):
    """A target that cannot be used; the message names it and says why."""


@dataclasses.dataclass(frozen=True)
class TargetKind:
    """A layer the suites can exercise in another implementation."""

    name: str
    fixture: str
    reference: str
    contract: str
    validate: Callable[[Callable[..., Any], str], None]


@dataclasses.dataclass(frozen=True)
class Target:
    """A loaded target: ``kind=spec`` and the object ``spec`` names."""

    kind: str
    spec: str
    obj: Callable[..., Any]

    def __str__(self) -> str:
        return f"{self.kind}={self.spec}"


def _describe_call(obj: Any, args: str) -> str:
    return f"{getattr(obj, '__qualname__', repr(obj))}({args})"


def _construct(obj: Callable[..., Any], args: str, **kwargs: Any) -> Any:
    from torch import nn

    try:
        module = obj(**kwargs)
    except Exception as e:
        raise TargetError(
            f"{_describe_call(obj, args)} raised {type(e).__name__}: {e}".rstrip()
        ) from None
    if not isinstance(module, nn.Module):
        raise TargetError(
            f"{_describe_call(obj, args)} returned {type(module).__name__}, not an nn.Module"
        )
    return module


def _validate_linear(obj: Callable[..., Any], device: str) -> None:
    import torch

    in_features, out_features = 3, 2
    for bias in (True, False):
        args = (
            f"in_features={in_features}, out_features={out_features}, bias={bias}, "
            f"device={device!r}, dtype=torch.float32"
        )
        module = _construct(
            obj,
            args,
            in_features=in_features,
            out_features=out_features,
            bias=bias,
            device=device,
            dtype=torch.float32,
        )
        built = _describe_call(obj, args)
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor):
            raise TargetError(
                f"{built} has weight={type(weight).__name__}, but the contract needs a "
                "weight tensor of shape (out_features, in_features)"
            )
        if tuple(weight.shape) != (out_features, in_features):
            raise TargetError(
                f"{built}.weight.shape={tuple(weight.shape)}, but the contract needs "
                f"(out_features, in_features)=({out_features}, {in_features}); "
                "map a differently shaped layer with an adapter factory"
            )
        if not hasattr(module, "bias"):
            raise TargetError(
                f"{built} has no bias attribute; the contract needs bias: a tensor of "
                "shape (out_features,), or None when bias=False"
            )
        b = module.bias
        if bias and not (isinstance(b, torch.Tensor) and tuple(b.shape) == (out_features,)):
            got = tuple(b.shape) if isinstance(b, torch.Tensor) else b
            raise TargetError(
                f"{built}.bias={got!r}, but the contract needs a tensor of shape "
                f"(out_features,)=({out_features},)"
            )


def _validate_dropout(obj: Callable[..., Any], device: str) -> None:
    for p, inplace in ((0.5, False), (0.0, True)):
        _construct(obj, f"p={p}, inplace={inplace}", p=p, inplace=inplace)


KINDS: dict[str, TargetKind] = {
    "linear": TargetKind(
        "linear",
        "linear_cls",
        "torch.nn.Linear",
        "Name(in_features, out_features, bias=..., device=..., dtype=...) returning an "
        "nn.Module with .weight of shape (out_features, in_features) and .bias of shape "
        "(out_features,) or None",
        _validate_linear,
    ),
    "dropout": TargetKind(
        "dropout",
        "dropout_cls",
        "torch.nn.Dropout",
        "Name(p=..., inplace=...) returning an nn.Module",
        _validate_dropout,
    ),
}


def parse_target(text: str) -> tuple[str, str, str]:
    """``"linear=pkg.mod:Name"`` -> ``("linear", "pkg.mod", "Name")``; TargetError otherwise."""
    kind, eq, spec = text.partition("=")
    kind, spec = kind.strip(), spec.strip()
    if not eq or not kind or not spec:
        raise TargetError(f"{text}: expected KIND=module.path:Name (KIND: {', '.join(KINDS)})")
    if kind not in KINDS:
        raise TargetError(f"{text}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    module_path, colon, name = spec.partition(":")
    if not colon or not module_path.strip() or not name.strip():
        raise TargetError(f"{text}: {spec!r} is not module.path:Name")
    return kind, module_path.strip(), name.strip()


def load_target(text: str, device: str = "cpu") -> Target:
    """Import, check callable and check the contract of ``KIND=module.path:Name``.

    The contract is checked by constructing tiny instances on ``device``.
    """
    kind, module_path, name = parse_target(text)
    spec = f"{module_path}:{name}"
    try:
        obj: Any = importlib.import_module(module_path)
    except Exception as e:
        raise TargetError(
            f"{kind}={spec}: cannot import {module_path!r} ({type(e).__name__}: {e})"
        ) from None
    for part in name.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{kind}={spec}: {module_path!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    target = Target(kind, spec, obj)
    try:
        check_contract(kind, obj, device)
    except TargetError as e:
        raise TargetError(f"{target}: {e}") from None
    return target


def check_contract(kind: str, obj: Any, device: str = "cpu") -> None:
    """Raise :class:`TargetError` unless ``obj`` keeps ``kind``'s constructor contract."""
    if kind not in KINDS:
        raise TargetError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not callable(obj):
        raise TargetError(f"{obj!r} is not callable; the contract is {KINDS[kind].contract}")
    KINDS[kind].validate(obj, device)


def exercised_kinds(fixturenames: Iterable[str], marker_args: tuple[str, ...] | None) -> set[str]:
    """The kinds a check exercises: its ``exercises(...)`` mark, else the fixtures it takes."""
    if marker_args is not None:
        return set(marker_args)
    names = set(fixturenames)
    return {kind.name for kind in KINDS.values() if kind.fixture in names}
