"""The suites as a Python API: run the conformance checks inside another project's test.

>>> import conformance
>>> conformance.check_linear(MyLinear, max_examples=25)  # doctest: +SKIP
>>> conformance.check_dropout(MyDropout, modes=("eager", "functional_call"))  # doctest: +SKIP
>>> conformance.check_call_semantics(MyBlock, inputs=[(2, 8)])  # doctest: +SKIP

Each function runs the suite checks that exercise the layer (the same check
bodies ``pytest --pyargs conformance --target ...`` runs), over the devices,
dtypes and execution modes asked for, under explicit Hypothesis settings
(derandomized: the same examples on every run; no example database; no
deadline; shrinking on). When every check passes it returns a
:class:`CheckReport`; otherwise it raises one :class:`ConformanceError` (an
``AssertionError``) listing each failing check with its message and shrunk,
labelled example. PyTorch's own known deviations (the kit's
``known_deviations.toml``) count as expected failures, as in a pytest run.

Arguments are checked before anything runs: an unknown or unavailable
device, a bad dtype, mode or ``max_examples``, or an implementation that
breaks the constructor contract raise ``ValueError`` / ``TypeError`` naming
the argument.

Call these from a plain test function, not from inside a Hypothesis test
(Hypothesis does not nest).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.modes import (
    DEFAULT_COMPILE_BACKEND,
    DEFAULT_COMPILE_MAX_EXAMPLES,
    EAGER,
    Mode,
    example_cap,
)
from conformance.selection import Param

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CheckReport",
    "ConformanceError",
    "check_call_semantics",
    "check_dropout",
    "check_layer",
    "check_linear",
    "check_module",
]

DEFAULT_MAX_EXAMPLES = 100
API_PARITY_REASON = (
    "parity checks compare a device other than the CPU with it: pass devices=('cpu', 'cuda')"
)


class ConformanceError(AssertionError):
    """Some checks departed from PyTorch's semantics: ``failures`` holds (id, message)
    pairs, ``report`` the whole :class:`CheckReport`."""

    def __init__(self, message: str, report: CheckReport) -> None:
        super().__init__(message)
        self.report = report
        self.failures = report.failures


@dataclasses.dataclass
class CheckReport:
    """What a ``check_*`` call ran: test ids that passed, expected failures and skips
    (each with its reason)."""

    subject: str
    passed: list[str] = dataclasses.field(default_factory=list)
    expected_failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.passed)} passed"]
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        if self.expected_failures:
            parts.append(f"{len(self.expected_failures)} expected failures (known deviations)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return f"{self.subject}: {', '.join(parts)}"


# --- arguments ------------------------------------------------------------------


def _check_devices(devices: Any) -> tuple[str, ...]:
    import torch
    from hypothesis.errors import InvalidArgument

    from strategies.devices import device_unavailable_reason, parse_device

    if isinstance(devices, (str, torch.device)):
        devices = (devices,)
    try:
        names = tuple(dict.fromkeys(parse_device(d) for d in devices))
    except InvalidArgument as e:
        raise ValueError(f"devices={devices!r}: {e}") from None
    except TypeError:
        raise TypeError(f"devices={devices!r} must be a sequence of device names") from None
    if not names:
        raise ValueError("devices=() names no device")
    for name in names:
        reason = device_unavailable_reason(name)
        if reason:
            raise ValueError(f"devices={devices!r}: {name} is not available here ({reason})")
    return names


def _check_dtypes(dtypes: Any) -> tuple[str, ...] | None:
    from hypothesis.errors import InvalidArgument

    from strategies.dtypes import resolve_dtype

    if dtypes is None:
        return None
    if isinstance(dtypes, str) or not isinstance(dtypes, Iterable):
        dtypes = (dtypes,)
    try:
        names = tuple(
            dict.fromkeys(str(resolve_dtype(d, "dtypes")).removeprefix("torch.") for d in dtypes)
        )
    except InvalidArgument as e:
        raise ValueError(str(e)) from None
    if not names:
        raise ValueError("dtypes=() names no dtype")
    return names


def _check_max_examples(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r} must be an int")
    if value < 1:
        raise ValueError(f"{name}={value!r} must be at least 1")
    return value


def _check_modes(modes: Any, compile_backend: str, compile_max_examples: Any) -> tuple[Mode, ...]:
    from conformance.modes import parse_modes, selected

    cap = _check_max_examples(compile_max_examples, "compile_max_examples")
    if isinstance(modes, str):
        modes = (modes,)
    return selected(parse_modes(modes, "modes"), compile_backend, cap)


# --- finding and expanding checks --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Case:
    check: Callable[..., Any]
    test_id: str  # normalized: test_linear::test_x[cpu-float32-compile]
    kwargs: dict[str, Any]
    fields: dict[str, str | None]
    xfail: str | None  # reason, from an xfail mark on the check
    max_examples: int | None  # the mode's cap, if any
    share: float | None  # the check's share of the examples (examples_share mark)


#: ``pytest.param`` is public; the class it returns is not exported by name.
_PARAMETER_SET = type(pytest.param())


def _suite_checks() -> Iterator[tuple[str, str, Callable[..., Any]]]:
    import conformance

    for info in pkgutil.iter_modules(conformance.__path__, "conformance."):
        module_name = info.name.rpartition(".")[2]
        if not module_name.startswith("test_"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and fn.__module__ == module.__name__:
                yield module_name, name, fn


def _marks(fn: Callable[..., Any]) -> list[Any]:
    marks = list(getattr(fn, "pytestmark", []))
    module = inspect.getmodule(fn)
    # A module's pytestmark may be one mark or a list of them, as pytest allows.
    module_marks = getattr(module, "pytestmark", [])
    if not isinstance(module_marks, (list, tuple)):
        module_marks = [module_marks]
    return marks + [getattr(m, "mark", m) for m in module_marks]


def _mark_args(marks: list[Any], name: str) -> tuple[Any, ...] | None:
    return next((tuple(m.args) for m in marks if m.name == name), None)


def _params(fn: Callable[..., Any]) -> list[str]:
    inner = getattr(getattr(fn, "hypothesis", None), "inner_test", fn)
    return [p for p in inspect.signature(inner).parameters if p != "data"]


def _param_id(value: Any, ids: Any, argname: str, index: int) -> str:
    if callable(ids):
        return str(ids(value))
    if isinstance(ids, (list, tuple)) and index < len(ids):
        return str(ids[index])
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    return f"{argname}{index}"


Axis = tuple[tuple[str, ...], list[Param]]


def _parametrizations(fn: Callable[..., Any]) -> list[Axis]:
    """The check's own ``@pytest.mark.parametrize`` marks, as axes of :class:`Param`."""
    axes = []
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        argnames, argvalues = mark.args[:2]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else argnames
        ids = mark.kwargs.get("ids")
        params = []
        for index, value in enumerate(argvalues):
            explicit = value if isinstance(value, _PARAMETER_SET) else None
            if explicit is not None:
                values = tuple(explicit.values)
            else:
                values = tuple(value) if len(names) > 1 else (value,)
            shown = values[0] if explicit is not None else value
            pid = explicit.id if explicit is not None and isinstance(explicit.id, str) else None
            marks = list(explicit.marks) if explicit is not None else []
            params.append(
                Param(
                    values,
                    pid or _param_id(shown, ids, names[0], index),
                    exercises=_mark_args(marks, "exercises"),
                    share=(_mark_args(marks, "examples_share") or (None,))[0],
                )
            )
        axes.append((tuple(names), params))
    return axes


def _fixtures_for(kind: str, implementation: Any) -> dict[str, Any]:
    """What the checks exercising ``kind`` take in place of the kit's own subjects: the
    kind's fixture (``linear_cls``) and its contract subject; for ``module``, the
    factory's modules as both the call and the contract subject."""
    from conformance import layers
    from conformance.support.subjects import KindSubject
    from conformance.targets import MODULE

    if kind == MODULE:
        return {"call_subject": implementation, "contract_subject": implementation}
    info = layers.get(kind)
    fixtures = {"contract_subject": KindSubject(info, implementation)}
    if info.fixture is not None:
        fixtures[info.fixture] = implementation
    return fixtures


def _cases(
    kind: str,
    implementation: Any,
    devices: tuple[str, ...],
    dtypes: tuple[str, ...] | None,
    modes: tuple[Mode, ...],
) -> Iterator[_Case | tuple[str, str]]:
    """The cases of every check exercising ``kind`` (a registered kind, or ``module``)
    on ``implementation``, or (test id, reason) for those that cannot run here."""
    import itertools

    import torch

    from conformance import layers, selection
    from conformance.targets import exercised_kinds
    from strategies.dtypes import resolve_dtype

    by_mode = {m.name: m for m in modes}
    device_axis = selection.device_params(devices)
    fixtures = _fixtures_for(kind, implementation)
    for module_name, name, fn in _suite_checks():
        params = _params(fn)
        generic = "layer" in params and kind in layers.registry()
        if not (generic or set(fixtures) & set(params)):
            continue
        fn_marks = _marks(fn)
        supports_meta = _mark_args(fn_marks, "supports_meta") is not None
        fn_share = (_mark_args(fn_marks, "examples_share") or (None,))[0]
        axes: list[Axis] = []
        if "device" in params:
            axes.append((("device",), selection.meta_skipped(device_axis, supports_meta)))
        if "parity_device" in params:
            axes.append(
                (
                    ("parity_device",),
                    selection.parity_params(device_axis, supports_meta, API_PARITY_REASON),
                )
            )
        if "contract_subject" in params:
            axes.append((("contract_subject",), [Param((kind,), kind, exercises=(kind,))]))
        if generic:
            info = layers.get(kind)
            with_dtype = "dtype" in params
            layer_axis = selection.layer_params(
                {info.name: info},
                dtypes,
                with_dtype=with_dtype,
                requires=_mark_args(fn_marks, "layer_requires") or (),
                one_dtype=any(m.name == "one_dtype" for m in fn_marks),
            )
            axes.append((("layer", "dtype") if with_dtype else ("layer",), layer_axis))
        elif "dtype" in params:
            dtype_axis = selection.dtype_params(_mark_args(fn_marks, "dtypes"), dtypes)
            axes.append((("dtype",), dtype_axis))
        axes.extend(_parametrizations(fn))
        if "mode" in params:
            mode_axis = selection.mode_params(modes)
            # As in a pytest run, ids name the mode unless eager alone is selected.
            axes.append((("mode",), mode_axis or [Param(("eager",), "")]))
        fn_exercises = _mark_args(fn_marks, "exercises")
        xfail = next((m for m in fn_marks if m.name == "xfail"), None)
        skipped: set[str] = set()
        for combo in itertools.product(*(ps for _, ps in axes)):
            values: dict[str, Any] = {}
            for (names, _), param in zip(axes, combo, strict=True):
                values.update(zip(names, param.values, strict=True))
            ids = [p.id for p in combo if p.id]
            test_id = f"{module_name}::{name}" + (f"[{'-'.join(ids)}]" if ids else "")
            marked = next((p.exercises for p in combo if p.exercises is not None), None)
            if kind not in exercised_kinds(params, fn_exercises if marked is None else marked):
                continue
            skip = next((p.skip for p in combo if p.skip), None)
            if skip is not None:
                # One skip per check for what no combination can have (no parity device).
                key = test_id if values.get("device") == "meta" else f"{module_name}::{name}"
                if key not in skipped:
                    skipped.add(key)
                    yield (key, skip)
                continue
            kwargs = dict(values)
            for key in ("device", "parity_device"):
                if key in kwargs:
                    kwargs[key] = torch.device(kwargs[key])
            if "dtype" in kwargs:
                kwargs["dtype"] = resolve_dtype(kwargs["dtype"])
            mode = by_mode.get(values.get("mode", "eager"), EAGER) if "mode" in params else None
            if mode is not None:
                kwargs["mode"] = mode
            kwargs.update(fixtures)
            if generic:
                kwargs["layer"] = layers.LayerUnderTest(layers.get(kind), implementation)
            fields = {
                "device": values.get("device") or values.get("parity_device"),
                "dtype": values.get("dtype"),
                "mode": mode.name if mode is not None else None,
                "target": kind,
            }
            yield _Case(
                fn,
                test_id,
                {k: v for k, v in kwargs.items() if k in params},
                fields,
                xfail.kwargs.get("reason", "xfail") if xfail else None,
                mode.max_examples if mode is not None else None,
                # The smallest share of the check's and its parameters' (as in a run).
                min(
                    (s for s in (fn_share, *(p.share for p in combo)) if s is not None),
                    default=None,
                ),
            )


# --- running ---------------------------------------------------------------------


def _run(case: _Case, max_examples: int) -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from conformance.global_state import guarded
    from conformance.selection import api_settings

    inner = getattr(getattr(case.check, "hypothesis", None), "inner_test", None)
    with guarded(case.test_id):
        if inner is None:
            case.check(**case.kwargs)
            return
        api_settings(max_examples)(given(data=st.data())(inner))(**case.kwargs)


def _message(error: BaseException) -> str:
    text = (
        f"{type(error).__name__}: {error}" if not isinstance(error, AssertionError) else str(error)
    )
    notes = [n for n in getattr(error, "__notes__", []) if "reproduce_failure" not in n]
    return "\n".join([text.rstrip(), *notes]).rstrip()


def _deviations(expectations: Sequence[str | Path]) -> list[Any]:
    from conformance.expectations import BUILTIN_FILE, load

    entries = [d for path in expectations for d in load(Path(path))]
    return entries + load(BUILTIN_FILE, builtin=True)


def _torch_version() -> Any:
    import torch
    from packaging.version import Version

    return Version(torch.__version__)


def _run_all(
    title: str,
    reference: str,
    cases: Iterable[_Case | tuple[str, str]],
    max_examples: int,
    expectations: Sequence[str | Path],
    requested: dict[str, tuple[str, ...] | None],
) -> CheckReport:
    cases = list(cases)
    _check_requested_ran(cases, requested)
    deviations = _deviations(expectations)
    report = CheckReport(title)
    for case in cases:
        if isinstance(case, tuple):
            report.skipped.append(case)
            continue
        entry = next(
            (d for d in deviations if d.matches(case.test_id, case.fields, _torch_version)), None
        )
        if entry is not None and entry.action == "skip":
            report.skipped.append((case.test_id, f"known deviation: {entry.reason}"))
            continue
        expected = f"known deviation: {entry.reason}" if entry is not None else case.xfail
        examples = example_cap(max_examples, mode_cap=case.max_examples, share=case.share)
        try:
            _run(case, examples or max_examples)
        except Exception as e:
            if expected is not None:
                report.expected_failures.append((case.test_id, expected))
            else:
                report.failures.append((case.test_id, _message(e)))
            continue
        report.passed.append(case.test_id)
    if report.failures:
        ran = len(report.passed) + len(report.failures) + len(report.expected_failures)
        blocks = [f"FAILED {test_id}\n{_indent(text)}" for test_id, text in report.failures]
        raise ConformanceError(
            f"{title}: {len(report.failures)} of {ran} checks depart from {reference}'s "
            f"semantics\n\n" + "\n\n".join(blocks),
            report,
        )
    return report


def _check_requested_ran(
    cases: list[_Case | tuple[str, str]], requested: dict[str, tuple[str, ...] | None]
) -> None:
    """A device or dtype asked for by name that no check runs on is an error, not a
    quiet "4 passed, 18 skipped" with nothing run there."""
    runnable = [c for c in cases if isinstance(c, _Case)]
    if not runnable:
        raise ValueError("no check runs for these arguments: " + _skip_summary(cases))
    for field, names in requested.items():
        if names is None:
            continue
        ran = {c.fields.get(field) for c in runnable}
        missing = [n for n in names if n not in ran]
        if missing:
            covered = sorted(str(v) for v in ran if v is not None)
            raise ValueError(
                f"{field}s={list(names)!r}: no check runs on {', '.join(missing)} "
                f"(the checks run on {', '.join(covered) or 'nothing'})"
            )


def _skip_summary(cases: list[_Case | tuple[str, str]]) -> str:
    reasons = sorted({c[1] for c in cases if isinstance(c, tuple)})
    return "; ".join(reasons) or "no check exercises this kind"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _describe(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or repr(obj)


def check_layer(
    kind: str,
    factory: Callable[..., nn.Module],
    *,
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = DEFAULT_COMPILE_BACKEND,
    compile_max_examples: int = DEFAULT_COMPILE_MAX_EXAMPLES,
    expectations: Sequence[str | Path] = (),
) -> CheckReport:
    """Run every check that exercises the registered layer ``kind`` against ``factory``:
    the generic checks over the registry (reference, parameters, errors, in-place
    parameter updates, ...) and the kind's own suites (``test_linear`` for ``linear``).

    ``factory`` is a class or factory keeping the kind's constructor contract
    (:attr:`conformance.layers.LayerInfo.contract`; ``linear``:
    ``factory(in_features, out_features, bias=..., device=..., dtype=...)``).
    ``dtypes=None`` runs each check over its own dtypes. ``modes``: some of
    eager, compile, jit, functional_call; compile runs at most
    ``compile_max_examples`` examples per check. ``expectations``: TOML files
    of known deviations of your own, applied before the kit's. Raises
    :class:`ConformanceError` listing each failing check with its shrunk
    example; returns a :class:`CheckReport` otherwise.
    """
    run = _options(
        devices=devices,
        dtypes=dtypes,
        max_examples=max_examples,
        modes=modes,
        compile_backend=compile_backend,
        compile_max_examples=compile_max_examples,
        expectations=expectations,
    )
    return _check_kind(f"check_layer({kind!r}, {_describe(factory)})", kind, factory, run)


@dataclasses.dataclass(frozen=True)
class _Run:
    """The validated options of a ``check_*`` call."""

    devices: tuple[str, ...]
    dtypes: tuple[str, ...] | None
    max_examples: int
    modes: tuple[Mode, ...]
    expectations: tuple[Path, ...]

    def requested(self) -> dict[str, tuple[str, ...] | None]:
        return {"device": self.devices, "dtype": self.dtypes}


def _options(
    *,
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = DEFAULT_COMPILE_BACKEND,
    compile_max_examples: int = DEFAULT_COMPILE_MAX_EXAMPLES,
    expectations: Sequence[str | Path] = (),
) -> _Run:
    """Every option checked before anything runs, each error naming its argument."""
    from conformance.expectations import as_paths

    return _Run(
        _check_devices(devices),
        _check_dtypes(dtypes),
        _check_max_examples(max_examples, "max_examples"),
        _check_modes(modes, compile_backend, compile_max_examples),
        tuple(as_paths(expectations)),
    )


def _check_kind(title: str, kind: str, factory: Callable[..., nn.Module], run: _Run) -> CheckReport:
    from conformance import layers
    from conformance.targets import TargetError, check_contract

    try:
        info = layers.get(kind)
    except KeyError as e:
        raise ValueError(f"kind={kind!r}: {e.args[0]}") from None
    try:
        check_contract(kind, factory, run.devices[0])
    except TargetError as e:
        raise ValueError(f"{_describe(factory)} breaks the {kind} contract: {e}") from None
    cases = _cases(kind, factory, run.devices, run.dtypes, run.modes)
    return _run_all(
        title, info.reference_name, cases, run.max_examples, run.expectations, run.requested()
    )


def check_linear(linear_cls: Callable[..., nn.Module], **options: Any) -> CheckReport:
    """``check_layer("linear", linear_cls, ...)``: every check that exercises
    ``torch.nn.Linear``, on ``linear_cls`` (``linear_cls(in_features, out_features,
    bias=..., device=..., dtype=...)`` returns an ``nn.Module`` with ``.weight`` of
    shape ``(out, in)`` and ``.bias`` of shape ``(out,)`` or None)."""
    title = f"check_linear({_describe(linear_cls)})"
    return _check_kind(title, "linear", linear_cls, _options(**options))


def check_dropout(dropout_cls: Callable[..., nn.Module], **options: Any) -> CheckReport:
    """``check_layer("dropout", dropout_cls, ...)``: every check that exercises
    ``torch.nn.Dropout`` (``dropout_cls(p=..., inplace=...)`` returns an ``nn.Module``)."""
    title = f"check_dropout({_describe(dropout_cls)})"
    return _check_kind(title, "dropout", dropout_cls, _options(**options))


def _check_shapes(inputs: Any) -> tuple[tuple[int, ...], ...]:
    problem = (
        f"inputs={inputs!r} must be a non-empty sequence of shapes, one per positional "
        "input, e.g. inputs=[(2, 8)]"
    )
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        raise TypeError(problem)
    shapes = []
    for shape in inputs:
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
            raise TypeError(problem)
        dims = tuple(shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
            raise ValueError(f"{problem}; {shape!r} is not a shape")
        shapes.append(dims)
    if not shapes:
        raise ValueError(problem)
    return tuple(shapes)


def check_module(
    module_factory: Callable[[], nn.Module],
    *,
    inputs: Sequence[Sequence[int]],
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = DEFAULT_COMPILE_BACKEND,
    compile_max_examples: int = DEFAULT_COMPILE_MAX_EXAMPLES,
    expectations: Sequence[str | Path] = (),
) -> CheckReport:
    """Run every check that exercises any module (the ``module`` kind, as ``--target
    module=...``) on the modules ``module_factory()`` builds:

    - the ``nn.Module`` contract (``conformance/test_module_contract.py``):
      ``state_dict`` round trips and strictness, dtype and device conversion,
      deep copies and saved state, parameters against the state dict,
      ``requires_grad_``/``zero_grad``, ``train()``/``eval()`` reaching every
      submodule, ``functional_call``, no RNG use in eval;
    - the module calls (``conformance/test_module_calls.py``): calling matches
      ``forward``; forward pre-hooks and hooks registered before or after
      wrapping run in order and replace what they return; ``eval()`` after
      wrapping reaches the call; gradients through each mode are right;
      ``no_grad`` records no graph.

    ``module_factory()`` takes no arguments and returns an ``nn.Module`` (built
    under a drawn seed, then moved with ``.to(device, dtype)``); ``inputs`` are
    the shapes of its positional inputs, whose values are drawn. Other arguments
    as for :func:`check_layer`.
    """
    run = _options(
        devices=devices,
        dtypes=dtypes,
        max_examples=max_examples,
        modes=modes,
        compile_backend=compile_backend,
        compile_max_examples=compile_max_examples,
        expectations=expectations,
    )
    return _check_any_module("check_module", module_factory, inputs, run)


def check_call_semantics(
    module_factory: Callable[[], nn.Module], *, inputs: Sequence[Sequence[int]], **options: Any
) -> CheckReport:
    """The former name of :func:`check_module` (it runs the module-call and module
    contract checks on your modules; the hook rules of ``test_call_semantics`` run on
    the kit's own probe modules, not on yours)."""
    return _check_any_module("check_call_semantics", module_factory, inputs, _options(**options))


def _check_any_module(
    title: str, module_factory: Callable[[], nn.Module], inputs: Any, run: _Run
) -> CheckReport:
    from conformance.support.subjects import FactorySubject
    from conformance.targets import MODULE, TargetError, check_contract, probe_module

    if not callable(module_factory):
        raise TypeError(f"module_factory={module_factory!r} is not callable")
    shapes = _check_shapes(inputs)
    name = _describe(module_factory)
    try:
        check_contract(MODULE, module_factory)
        probe_module(module_factory, shapes, run.devices[0])
    except TargetError as e:
        raise ValueError(str(e)) from None
    subject = FactorySubject(module_factory, shapes, name)
    cases = _cases(MODULE, subject, run.devices, run.dtypes, run.modes)
    return _run_all(
        f"{title}({name})",
        "torch.nn.Module",
        cases,
        run.max_examples,
        run.expectations,
        run.requested(),
    )
