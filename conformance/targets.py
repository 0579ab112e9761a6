"""Targets: running the suites against another implementation of a layer.

``--target linear=mypkg.layers:MyLinear`` makes every check that exercises
the ``linear`` kind exercise ``MyLinear`` instead of ``torch.nn.Linear``; the
same holds for every kind in the layer registry (:mod:`conformance.layers`),
the kit's own and those a package registers. A check exercises a kind when
it takes the kind's fixture (``linear_cls``) or is a generic check
parametrised with that kind, unless a closer ``exercises(...)`` mark says
otherwise (the dropout suite marks its ``Dropout2d`` and other torch-only
cases ``exercises()``). When a target is given, checks exercising none of
the targeted kinds are deselected, not failed.

The contract a target object keeps is the constructor of the layer it stands
in for (:attr:`conformance.layers.LayerInfo.contract`). Any callable keeping
it will do, so an adapter is simply a factory function:
``--target linear=myproject.adapters:lora_linear`` with ``def
lora_linear(in_features, out_features, bias=True, device=None, dtype=None):
return loralib.Linear(in_features, out_features, r=4, bias=bias, ...)``.

A target that cannot be imported, is not callable or breaks the contract is a
:class:`TargetError`; the plugin turns it into a pytest usage error (exit code
4) naming the target and the problem. Importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable
from typing import Any

from conformance import layers

__all__ = [
    "MODULE",
    "Target",
    "TargetError",
    "check_contract",
    "exercised_kinds",
    "item_kinds",
    "load_target",
    "parse_target",
]


#: The target kind for any module: ``--target module=pkg.mod:factory`` with a
#: zero-argument factory, its input shapes from ``--module-inputs``. It is
#: exercised by the module-contract and module-call checks.
MODULE = "module"
MODULE_CONTRACT = (
    "a zero-argument factory returning an nn.Module, called on inputs of the shapes "
    "--module-inputs gives"
)


def _kinds() -> list[str]:
    return [*layers.registry(), MODULE]


class TargetError(ValueError):
    """A target that cannot be used; the message names it and says why."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A loaded target: ``kind=spec`` and the object ``spec`` names."""

    kind: str
    spec: str
    obj: Callable[..., Any]

    def __str__(self) -> str:
        return f"{self.kind}={self.spec}"


def _describe_call(obj: Any, kwargs: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{getattr(obj, '__qualname__', repr(obj))}({args})"


def _construct(obj: Callable[..., Any], config: Any) -> Any:
    from torch import nn

    built = _describe_call(obj, config.kwargs)
    try:
        module = config.build(obj)
    except Exception as e:
        raise TargetError(f"{built} raised {type(e).__name__}: {e}".rstrip()) from None
    if not isinstance(module, nn.Module):
        raise TargetError(f"{built} returned {type(module).__name__}, not an nn.Module")
    return module


def _check_tensors(
    module: Any, built: str, declared: dict[str, Any], what: str, contract: str
) -> None:
    """Each declared parameter (or buffer) is an attribute of the declared shape, or None."""
    import torch

    for name, shape in declared.items():
        if not hasattr(module, name):
            raise TargetError(
                f"{built} has no {name} attribute; the contract needs {name}: "
                + ("None for this config" if shape is None else f"a {what} of shape {shape}")
                + f" ({contract})"
            )
        value = getattr(module, name)
        if shape is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise TargetError(
                f"{built} has {name}={type(value).__name__}, but the contract needs a "
                f"{what} of shape {shape} ({contract})"
            )
        if tuple(value.shape) != tuple(shape):
            raise TargetError(
                f"{built}.{name}.shape={tuple(value.shape)}, but the contract needs {shape}; "
                "map a differently shaped layer with an adapter factory"
            )


def parse_target(text: str) -> tuple[str, str, str]:
    """``"linear=pkg.mod:Name"`` -> ``("linear", "pkg.mod", "Name")``; TargetError otherwise."""
    kinds = _kinds()
    kind, eq, spec = text.partition("=")
    kind, spec = kind.strip(), spec.strip()
    if not eq or not kind or not spec:
        raise TargetError(f"{text}: expected KIND=module.path:Name (KIND: {', '.join(kinds)})")
    if kind not in kinds:
        raise TargetError(f"{text}: unknown kind {kind!r}; expected one of {', '.join(kinds)}")
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
    """Raise :class:`TargetError` unless ``obj`` keeps ``kind``'s constructor contract:
    built from each of the kind's contract configs, it is an ``nn.Module`` with the
    declared parameters and buffers, of the declared shapes."""
    import torch
    from torch import nn

    if kind == MODULE:
        if not callable(obj):
            raise TargetError(f"{obj!r} is not callable; the contract is {MODULE_CONTRACT}")
        name = getattr(obj, "__qualname__", repr(obj))
        try:
            module = obj()
        except Exception as e:
            raise TargetError(f"{name}() raised {type(e).__name__}: {e}") from None
        if not isinstance(module, nn.Module):
            raise TargetError(f"{name}() returned {type(module).__name__}, not an nn.Module")
        return
    kinds = layers.registry()
    if kind not in kinds:
        raise TargetError(f"unknown kind {kind!r}; expected one of {', '.join(_kinds())}")
    info = kinds[kind]
    if not callable(obj):
        raise TargetError(f"{obj!r} is not callable; the contract is {info.contract}")
    for config in info.contract_configs(torch.device(device)):
        module = _construct(obj, config)
        built = _describe_call(obj, config.kwargs)
        _check_tensors(module, built, dict(info.parameters(config)), "tensor", info.contract)
        _check_tensors(module, built, dict(info.buffers(config)), "buffer", info.contract)


def probe_module(
    factory: Callable[[], Any], shapes: tuple[tuple[int, ...], ...], device: str
) -> None:
    """Build ``factory()`` on ``device`` in float32 and call it in eval on zeros of
    ``shapes``; :class:`TargetError` naming the problem if that fails."""
    import torch

    name = getattr(factory, "__qualname__", repr(factory))
    module = factory().to(device=device, dtype=torch.float32)
    module.eval()  # not chained: a train() override may return None (the checks say so)
    zeros = [torch.zeros(s, device=device) for s in shapes]
    try:
        module(*zeros)
    except Exception as e:
        shown = ", ".join(str(s) for s in shapes)
        raise TargetError(
            f"{name}()(*inputs) raised {type(e).__name__} on zeros of shape {shown}: {e}"
        ) from None


def parse_shapes(
    values: Iterable[str], what: str = "--module-inputs"
) -> tuple[tuple[int, ...], ...]:
    """``["2,8", "3"]`` (or ``2x8``; ``()`` for a 0-d input) -> ``((2, 8), (3,))``."""
    shapes: list[tuple[int, ...]] = []
    for text in values:
        body = text.strip().strip("()").replace("x", ",")
        try:
            dims = tuple(int(d) for d in body.split(",") if d.strip())
        except ValueError:
            raise TargetError(f"{what}={text!r} is not a shape such as 2,8 or 2x8") from None
        if any(d < 0 for d in dims):
            raise TargetError(f"{what}={text!r} has a negative size")
        shapes.append(dims)
    return tuple(shapes)


def exercised_kinds(fixturenames: Iterable[str], marker_args: tuple[str, ...] | None) -> set[str]:
    """The kinds a check exercises: its ``exercises(...)`` mark, else the fixtures it takes
    (a kind's fixture, or ``call_subject`` for the module kind)."""
    if marker_args is not None:
        return set(marker_args)
    names = set(fixturenames)
    kinds = {info.name for info in layers.registry().values() if info.fixture in names}
    return kinds | ({MODULE} if "call_subject" in names else set())


def item_kinds(item: Any) -> set[str]:
    """:func:`exercised_kinds` of a collected pytest item (its fixtures and its closest
    ``exercises`` mark)."""
    marker = item.get_closest_marker("exercises")
    names = getattr(item, "fixturenames", ())
    return exercised_kinds(names, None if marker is None else tuple(marker.args))
