"""Layers described as data: what a layer kind is, how it is built, what it must do.

In the spirit of PyTorch's ``ModuleInfo`` (torch/testing/_internal/
common_modules.py), each layer kind the kit checks is one :class:`LayerInfo`:
the implementation it stands for, its constructor contract (a strategy of
configs with ``.kwargs`` and ``.build(cls)``), a strategy of inputs for a
config, the float64 NumPy reference it must match, the parameters and
buffers it must have, whether it is random in training and in evaluation,
the dtypes it supports, and the inputs it must reject. The generic checks of
``conformance/test_registered_layers.py`` run over every registered kind, and
``--target KIND=module:Name`` or :func:`conformance.check_layer` run them
(and every kind-specific suite) on another implementation.

>>> from conformance import layers
>>> {'linear', 'dropout'} <= set(layers.registry())
True

A package adds its own kinds without touching the kit: call
:func:`register` from its test setup, or name a :class:`LayerInfo` (or a
callable returning several) under the entry-point group
``torch_nn_conformance.layers``::

    [project.entry-points."torch_nn_conformance.layers"]
    scale = "mypkg.conformance_layers:SCALE"

Importing this module imports no torch: the kit's own entries are built on
first use of the registry.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    import numpy as np
    import torch
    from hypothesis import strategies as st
    from torch import nn

__all__ = [
    "ENTRY_POINT_GROUP",
    "ErrorCase",
    "Example",
    "LayerInfo",
    "LayerUnderTest",
    "Reference",
    "get",
    "is_own_implementation",
    "register",
    "registry",
]

ENTRY_POINT_GROUP = "torch_nn_conformance.layers"
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class Reference(NamedTuple):
    """What a layer must return, in float64, and what its rounding scales with.

    ``value`` is the exact result; ``scale`` holds, per element, the sum of
    the absolute values of the terms it adds up (``|x|`` for an elementwise
    result), and ``terms`` how many roundings one element's computation may
    take, so that :func:`conformance.tolerances.oracle_bound` gives the
    allowed error in any dtype.
    """

    value: np.ndarray
    scale: np.ndarray
    terms: int


class ErrorCase(NamedTuple):
    """Inputs a layer must reject: ``layer(*inputs)`` raises ``exception`` matching ``match``."""

    inputs: tuple[Any, ...]
    exception: type[BaseException]
    match: str
    description: str


class Example(NamedTuple):
    """A canonical case, tried before any drawn one (as ``ModuleInfo``'s
    ``module_inputs_func`` lists its cases): a config and inputs for it that
    catch the obvious faults -- a dropped bias, a transposed square weight, a
    flipped kernel, a missing scale. ``description`` says what it is for."""

    config: Any
    inputs: tuple[Any, ...]
    description: str


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    """One layer kind, as data.

    Attributes:
        name: the kind's name, as in ``--target NAME=...`` (``"linear"``).
        implementation: the implementation checked when no target replaces
            it, as ``"module:Name"`` (imported on first use: ``"torch.nn:Linear"``)
            or a callable.
        contract: the constructor contract in words, for error messages.
        configs: ``configs(dtype, device)``: a strategy of configs, each with
            ``.kwargs`` and ``.build(cls)``, built for that dtype and device.
        inputs: ``inputs(config, dtype, device)``: a strategy of tuples of
            positional inputs for a layer built from ``config``.
        reference: ``reference(config, params, inputs, training)``: the
            expected output as a :class:`Reference`, from the layer's own
            parameters and buffers (``params``, by name) and the inputs, all
            NumPy float64. Never calls the code under test; asked only for
            the modes that are not random.
        parameters: ``parameters(config)``: each parameter's name and shape,
            or None where the contract registers it as None (``bias=False``).
        buffers: ``buffers(config)``: each buffer's name and shape.
        random_in_training / random_in_eval: whether outputs depend on the
            RNG in that mode (dropout in training); such modes are not
            compared with ``reference``.
        dtypes: the floating dtypes the kind supports.
        error_inputs: ``error_inputs(config, dtype, device)``: a strategy of
            :class:`ErrorCase`; None when calls have nothing to reject.
        contract_configs: ``contract_configs(device)``: a few small configs
            that a target is built from when a run starts, to check it keeps
            the contract before anything else runs.
        fixture: the pytest fixture through which kind-specific suites take
            the implementation (``"linear_cls"``); None for kinds that only
            the generic checks exercise.
        examples: ``examples(dtype, device)``: canonical :class:`Example` cases.
            Every generic check draws through :meth:`example_configs` and
            :meth:`example_inputs`, whose first example is the first of these
            (so that five examples already catch the obvious faults) and which
            draw them now and then afterwards; None for no canonical case.
    """

    name: str
    implementation: str | Callable[..., nn.Module]
    contract: str
    configs: Callable[[torch.dtype, torch.device], st.SearchStrategy[Any]]
    inputs: Callable[[Any, torch.dtype, torch.device], st.SearchStrategy[tuple[Any, ...]]]
    reference: Callable[[Any, Mapping[str, np.ndarray], tuple[np.ndarray, ...], bool], Reference]
    parameters: Callable[[Any], Mapping[str, tuple[int, ...] | None]]
    contract_configs: Callable[[torch.device], Iterable[Any]]
    buffers: Callable[[Any], Mapping[str, tuple[int, ...]]] = lambda config: {}
    random_in_training: bool = False
    random_in_eval: bool = False
    dtypes: tuple[str, ...] = ("float32", "float64")
    error_inputs: (
        Callable[[Any, torch.dtype, torch.device], st.SearchStrategy[ErrorCase]] | None
    ) = None
    fixture: str | None = None
    examples: Callable[[torch.dtype, torch.device], Sequence[Example]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(
                f"LayerInfo(name={self.name!r}): a kind's name is lower-case letters, digits "
                "and underscores, starting with a letter"
            )
        if not self.dtypes:
            raise ValueError(f"LayerInfo(name={self.name!r}, dtypes=()) names no dtype")
        for field in ("configs", "inputs", "reference", "parameters", "contract_configs"):
            if not callable(getattr(self, field)):
                raise TypeError(f"LayerInfo(name={self.name!r}).{field} must be callable")

    def default_implementation(self) -> Callable[..., nn.Module]:
        """The implementation checked when no target replaces it."""
        if callable(self.implementation):
            return self.implementation
        module_path, _, name = self.implementation.partition(":")
        obj: Any = importlib.import_module(module_path)
        for part in name.split("."):
            obj = getattr(obj, part)
        return cast("Callable[..., nn.Module]", obj)

    @property
    def reference_name(self) -> str:
        """``"torch.nn.Linear"``: what departures are departures from."""
        if callable(self.implementation):
            impl = self.implementation
            return f"{impl.__module__}.{getattr(impl, '__qualname__', impl)}"
        return self.implementation.replace(":", ".")

    def example_configs(self, dtype: torch.dtype, device: torch.device) -> st.SearchStrategy[Any]:
        """:attr:`configs`, with the canonical examples' configs first
        (:func:`conformance.support.canonical.canonical_first`)."""
        return _example_configs(self, dtype, device)

    def example_inputs(
        self, config: Any, dtype: torch.dtype, device: torch.device
    ) -> st.SearchStrategy[tuple[Any, ...]]:
        """:attr:`inputs` for ``config``, with a canonical example's inputs first
        when ``config`` is that example's."""
        from conformance.support.canonical import canonical_first, cloned

        general = self.inputs(config, dtype, device)
        canonical = [e.inputs for e in self.canonical_examples(dtype, device) if e.config == config]
        return canonical_first(cloned(canonical), general) if canonical else general

    def canonical_examples(self, dtype: torch.dtype, device: torch.device) -> Sequence[Example]:
        """:attr:`examples` for ``dtype`` and ``device``, built once (none without them)."""
        return () if self.examples is None else _examples_of(self, dtype, device)

    def deterministic_in(self, training: bool) -> bool:
        return not (self.random_in_training if training else self.random_in_eval)

    def has(self, feature: str) -> bool:
        """Whether a generic check that needs ``feature`` applies to this kind:
        ``"error_inputs"``, ``"parameters"`` (some config has one) or
        ``"deterministic"`` (some mode does not depend on the RNG)."""
        if feature == "error_inputs":
            return self.error_inputs is not None
        if feature == "parameters":
            import torch

            return any(self.parameters(c) for c in self.contract_configs(torch.device("meta")))
        if feature == "deterministic":
            return not (self.random_in_training and self.random_in_eval)
        raise ValueError(f"feature={feature!r} is not error_inputs, parameters or deterministic")


@dataclasses.dataclass(frozen=True)
class LayerUnderTest:
    """A registered kind and the implementation a check builds for it."""

    info: LayerInfo
    implementation: Callable[..., nn.Module]

    @property
    def is_own(self) -> bool:
        """Whether this is the kind's own implementation, not a target
        (:func:`is_own_implementation`)."""
        return is_own_implementation(self.info.name, self.implementation)

    def __repr__(self) -> str:
        impl = getattr(self.implementation, "__qualname__", repr(self.implementation))
        return f"{self.info.name}={impl}"


# Built once per kind, dtype and device: the generic checks ask on every example.
@functools.lru_cache(maxsize=256)
def _examples_of(info: LayerInfo, dtype: torch.dtype, device: torch.device) -> tuple[Example, ...]:
    assert info.examples is not None
    return tuple(info.examples(dtype, device))


@functools.lru_cache(maxsize=256)
def _example_configs(info: LayerInfo, dtype: torch.dtype, device: torch.device) -> Any:
    from conformance.support.canonical import canonical_first, cloned

    general = info.configs(dtype, device)
    examples = info.canonical_examples(dtype, device)
    if not examples:
        return general
    return canonical_first(cloned([e.config for e in examples]), general)


_lock = threading.Lock()
_registry: dict[str, LayerInfo] = {}
_loaded = False


def _builtin() -> list[LayerInfo]:
    from conformance.layers.batch_norm import BATCH_NORM1D, BATCH_NORM2D
    from conformance.layers.conv import CONV1D, CONV2D
    from conformance.layers.dropout import DROPOUT
    from conformance.layers.embedding import EMBEDDING
    from conformance.layers.layer_norm import LAYER_NORM
    from conformance.layers.linear import LINEAR

    return [LINEAR, DROPOUT, BATCH_NORM1D, BATCH_NORM2D, CONV1D, CONV2D, LAYER_NORM, EMBEDDING]


def _entry_point_infos() -> list[LayerInfo]:
    infos: list[LayerInfo] = []
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as e:
            raise ImportError(
                f"entry point {entry.name!r} = {entry.value!r} in group {ENTRY_POINT_GROUP!r} "
                f"cannot be loaded: {type(e).__name__}: {e}"
            ) from e
        found = loaded() if callable(loaded) and not isinstance(loaded, LayerInfo) else loaded
        found = [found] if isinstance(found, LayerInfo) else list(found)
        for info in found:
            if not isinstance(info, LayerInfo):
                raise TypeError(
                    f"entry point {entry.name!r} = {entry.value!r} gave {info!r}, not a LayerInfo"
                )
        infos.extend(found)
    return infos


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for info in [*_builtin(), *_entry_point_infos()]:
            _add(info, replace=False)
        _loaded = True


def _add(info: LayerInfo, *, replace: bool) -> None:
    if not isinstance(info, LayerInfo):
        raise TypeError(f"register({info!r}): expected a LayerInfo")
    if info.name in _registry and not replace and _registry[info.name] is not info:
        raise ValueError(
            f"a layer kind named {info.name!r} is already registered "
            f"({_registry[info.name].reference_name}); pass replace=True to replace it"
        )
    _registry[info.name] = info


def register(info: LayerInfo, *, replace: bool = False) -> LayerInfo:
    """Add a layer kind to the registry (and return it, so it can decorate a constant).

    Registering a second kind under a taken name is a ``ValueError`` unless
    ``replace=True``. Register before a conformance run collects its tests
    (in a ``conftest.py`` or a plugin), or use the entry point.
    """
    _ensure_loaded()
    with _lock:
        _add(info, replace=replace)
    return info


def unregister(name: str) -> None:
    """Remove a registered kind (for tests that register one for a while)."""
    _ensure_loaded()
    with _lock:
        _registry.pop(name, None)


def registry() -> Mapping[str, LayerInfo]:
    """Every registered kind by name: the kit's own and those registered since."""
    _ensure_loaded()
    return dict(_registry)


def is_own_implementation(kind: str, implementation: object) -> bool:
    """Whether ``implementation`` is the kind's own (``torch.nn.Linear`` for ``linear``),
    not a target: only there may a check demand bitwise agreement with torch's
    kernels or its RNG use. A re-implementation (fused, another summation order,
    another way of drawing a mask) is held to the documented semantics instead."""
    return implementation is get(kind).default_implementation()


def get(name: str) -> LayerInfo:
    """The kind called ``name``; ``KeyError`` naming the registered kinds otherwise."""
    kinds = registry()
    if name not in kinds:
        raise KeyError(
            f"no layer kind named {name!r} is registered; registered: {', '.join(sorted(kinds))}"
        )
    return kinds[name]
