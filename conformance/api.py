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

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CheckReport",
    "ConformanceError",
    "check_call_semantics",
    "check_dropout",
    "check_linear",
]

DEFAULT_MAX_EXAMPLES = 100


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


def _check_modes(modes: Any, compile_backend: str) -> tuple[Any, ...]:
    from conformance.modes import Mode, parse_modes

    if isinstance(modes, str):
        modes = (modes,)
    names = parse_modes(modes, "modes")
    return tuple(Mode(name, compile_backend) for name in names)


# --- finding and expanding checks --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Case:
    check: Callable[..., Any]
    test_id: str  # normalized: test_linear::test_x[cpu-float32-compile]
    kwargs: dict[str, Any]
    fields: dict[str, str | None]
    xfail: str | None  # reason, from an xfail mark on the check


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
    return marks + list(getattr(module, "pytestmark", []))


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


def _parametrizations(fn: Callable[..., Any]) -> list[list[tuple[dict[str, Any], str, list[Any]]]]:
    """For each ``parametrize`` mark: (values by argname, id, marks) per parameter set."""
    from _pytest.mark.structures import ParameterSet

    result = []
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        argnames, argvalues = mark.args[:2]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else argnames
        ids = mark.kwargs.get("ids")
        sets = []
        for index, value in enumerate(argvalues):
            param = value if isinstance(value, ParameterSet) else None
            values = param.values if param is not None else (value if len(names) > 1 else (value,))
            by_name = dict(zip(names, values, strict=True))
            shown = value if param is None else values[0]
            pid = param.id if param is not None and isinstance(param.id, str) else None
            sets.append(
                (
                    by_name,
                    pid or _param_id(shown, ids, names[0], index),
                    list(param.marks) if param else [],
                )
            )
        result.append(sets)
    return result


def _closest_exercises(marks: list[Any]) -> tuple[str, ...] | None:
    for mark in marks:
        if mark.name == "exercises":
            return tuple(mark.args)
    return None


def _cases(
    kind: str | None,
    fixture: str,
    subject: Any,
    devices: tuple[str, ...],
    dtypes: tuple[str, ...] | None,
    modes: tuple[Any, ...],
) -> Iterator[_Case | tuple[str, str]]:
    """The cases to run, or (test id, reason) for those that cannot run here."""
    import itertools

    import torch

    from conformance.plugin import DEFAULT_DTYPES
    from conformance.targets import exercised_kinds
    from strategies.dtypes import resolve_dtype

    for module_name, name, fn in _suite_checks():
        params = _params(fn)
        if fixture not in params:
            continue
        fn_marks = _marks(fn)
        dtype_mark = next((m for m in fn_marks if m.name == "dtypes"), None)
        xfail_mark = next((m for m in fn_marks if m.name == "xfail"), None)
        supports_meta = any(m.name == "supports_meta" for m in fn_marks)
        check_dtypes = [
            str(resolve_dtype(d)).removeprefix("torch.")
            for d in (dtype_mark.args if dtype_mark else DEFAULT_DTYPES)
        ]
        axes: list[list[tuple[dict[str, Any], str, list[Any]]]] = []
        if "device" in params:
            axes.append([({"device": d}, d, []) for d in devices])
        if "parity_device" in params:
            others = [d for d in devices if not d.startswith("cpu")]
            if not others:
                yield (
                    f"{module_name}::{name}",
                    "parity checks compare a device other than the CPU with it: "
                    "pass devices=('cpu', 'cuda')",
                )
                continue
            axes.append([({"parity_device": d}, d, []) for d in others])
        if "dtype" in params:
            chosen = [d for d in check_dtypes if dtypes is None or d in dtypes]
            if not chosen:
                yield (f"{module_name}::{name}", f"none of its dtypes {check_dtypes} selected")
                continue
            axes.append([({"dtype": d}, d, []) for d in chosen])
        axes.extend(_parametrizations(fn))
        if "mode" in params:
            # As in a pytest run, ids name the mode unless eager alone is selected.
            eager_only = [m.name for m in modes] == ["eager"]
            axes.append([({"mode": m}, "" if eager_only else m.name, []) for m in modes])
        for combo in itertools.product(*axes):
            values: dict[str, Any] = {}
            ids, marks = [], []
            for by_name, pid, pmarks in combo:
                values.update(by_name)
                if pid:
                    ids.append(pid)
                marks.extend(pmarks)
            if kind is not None:
                exercised = exercised_kinds(params, _closest_exercises(marks + fn_marks))
                if kind not in exercised:
                    continue
            test_id = f"{module_name}::{name}" + (f"[{'-'.join(ids)}]" if ids else "")
            if values.get("device") == "meta" and not supports_meta:
                yield (test_id, "meta tensors carry no values; this check needs them")
                continue
            kwargs = dict(values)
            for key in ("device", "parity_device"):
                if key in kwargs:
                    kwargs[key] = torch.device(kwargs[key])
            if "dtype" in kwargs:
                kwargs["dtype"] = resolve_dtype(kwargs["dtype"])
            kwargs[fixture] = subject
            fields = {
                "device": values.get("device") or values.get("parity_device"),
                "dtype": values.get("dtype"),
                "mode": values["mode"].name if "mode" in values else None,
                "target": kind,
            }
            yield _Case(
                fn,
                test_id,
                {k: v for k, v in kwargs.items() if k in params},
                fields,
                xfail_mark.kwargs.get("reason", "xfail") if xfail_mark else None,
            )


# --- running ---------------------------------------------------------------------


def _settings(max_examples: int) -> Any:
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=tuple(p for p in Phase if p != Phase.explain),
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.differing_executors],
        verbosity=Verbosity.normal,
    )


def _run(case: _Case, max_examples: int) -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    inner = getattr(getattr(case.check, "hypothesis", None), "inner_test", None)
    if inner is None:
        case.check(**case.kwargs)
        return
    _settings(max_examples)(given(data=st.data())(inner))(**case.kwargs)


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
    compile_max_examples: int,
    expectations: Sequence[str | Path],
) -> CheckReport:
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
        examples = max_examples
        if case.fields.get("mode") == "compile":
            examples = min(max_examples, compile_max_examples)
        try:
            _run(case, examples)
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


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _describe(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or repr(obj)


def _check_layer(
    kind: str,
    obj: Any,
    *,
    devices: Any,
    dtypes: Any,
    max_examples: Any,
    modes: Any,
    compile_backend: str,
    compile_max_examples: Any,
    expectations: Sequence[str | Path],
) -> CheckReport:
    from conformance.targets import KINDS, TargetError, check_contract

    device_names = _check_devices(devices)
    dtype_names = _check_dtypes(dtypes)
    examples = _check_max_examples(max_examples, "max_examples")
    compile_examples = _check_max_examples(compile_max_examples, "compile_max_examples")
    chosen_modes = _check_modes(modes, compile_backend)
    try:
        check_contract(kind, obj, device_names[0])
    except TargetError as e:
        raise ValueError(f"{_describe(obj)} breaks the {kind} contract: {e}") from None
    title = f"check_{kind}({_describe(obj)})"
    cases = _cases(kind, KINDS[kind].fixture, obj, device_names, dtype_names, chosen_modes)
    return _run_all(title, KINDS[kind].reference, cases, examples, compile_examples, expectations)


def check_linear(
    linear_cls: Callable[..., nn.Module],
    *,
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = "aot_eager",
    compile_max_examples: int = 10,
    expectations: Sequence[str | Path] = (),
) -> CheckReport:
    """Run every check that exercises ``torch.nn.Linear`` against ``linear_cls``.

    ``linear_cls`` is a class or factory keeping Linear's constructor contract:
    ``linear_cls(in_features, out_features, bias=..., device=..., dtype=...)``
    returns an ``nn.Module`` with ``.weight`` of shape ``(out, in)`` and
    ``.bias`` of shape ``(out,)`` or None. ``dtypes=None`` runs each check over
    its own dtypes. ``modes``: some of eager, compile, jit, functional_call;
    compile runs at most ``compile_max_examples`` examples per check.
    ``expectations``: TOML files of known deviations of your own, applied
    before the kit's. Raises :class:`ConformanceError` listing each failing
    check with its shrunk example; returns a :class:`CheckReport` otherwise.
    """
    return _check_layer(
        "linear",
        linear_cls,
        devices=devices,
        dtypes=dtypes,
        max_examples=max_examples,
        modes=modes,
        compile_backend=compile_backend,
        compile_max_examples=compile_max_examples,
        expectations=expectations,
    )


def check_dropout(
    dropout_cls: Callable[..., nn.Module],
    *,
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = "aot_eager",
    compile_max_examples: int = 10,
    expectations: Sequence[str | Path] = (),
) -> CheckReport:
    """Run every check that exercises ``torch.nn.Dropout`` against ``dropout_cls``
    (``dropout_cls(p=..., inplace=...)`` returns an ``nn.Module``). Arguments as
    for :func:`check_linear`."""
    return _check_layer(
        "dropout",
        dropout_cls,
        devices=devices,
        dtypes=dtypes,
        max_examples=max_examples,
        modes=modes,
        compile_backend=compile_backend,
        compile_max_examples=compile_max_examples,
        expectations=expectations,
    )


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


def check_call_semantics(
    module_factory: Callable[[], nn.Module],
    *,
    inputs: Sequence[Sequence[int]],
    devices: Sequence[str | torch.device] = ("cpu",),
    dtypes: Sequence[str | torch.dtype] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    modes: Sequence[str] = ("eager",),
    compile_backend: str = "aot_eager",
    compile_max_examples: int = 10,
    expectations: Sequence[str | Path] = (),
) -> CheckReport:
    """Run the module-call checks (``conformance/test_module_calls.py``) on the modules
    ``module_factory()`` builds: calling matches ``forward``; forward pre-hooks and
    hooks registered before or after wrapping run in order and replace what they
    return; ``eval()`` after wrapping reaches the call; ``train()``/``eval()`` reach
    every submodule; gradients through each mode are right; ``no_grad`` records no
    graph.

    ``module_factory()`` takes no arguments and returns an ``nn.Module`` (built
    under a drawn seed, then moved with ``.to(device, dtype)``); ``inputs`` are
    the shapes of its positional inputs, whose values are drawn. Other arguments
    as for :func:`check_linear`.
    """
    import torch
    from torch import nn

    from conformance.support.subjects import FactorySubject

    if not callable(module_factory):
        raise TypeError(f"module_factory={module_factory!r} is not callable")
    shapes = _check_shapes(inputs)
    device_names = _check_devices(devices)
    dtype_names = _check_dtypes(dtypes)
    examples = _check_max_examples(max_examples, "max_examples")
    compile_examples = _check_max_examples(compile_max_examples, "compile_max_examples")
    chosen_modes = _check_modes(modes, compile_backend)
    name = _describe(module_factory)
    try:
        module = module_factory()
    except Exception as e:
        raise ValueError(f"{name}() raised {type(e).__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name}() returned {type(module).__name__}, not an nn.Module")
    probe_dtype = torch.float32 if dtype_names is None else getattr(torch, dtype_names[0])
    module.to(device=device_names[0], dtype=probe_dtype)
    module.eval()  # not chained: a train() override may return None (the checks say so)
    zeros = [torch.zeros(s, device=device_names[0], dtype=probe_dtype) for s in shapes]
    try:
        module(*zeros)
    except Exception as e:
        shown = ", ".join(str(s) for s in shapes)
        raise ValueError(
            f"{name}()(*inputs) raised {type(e).__name__} on zeros of shape {shown}: {e}"
        ) from None
    subject = FactorySubject(module_factory, shapes, name)
    cases = _cases(None, "call_subject", subject, device_names, dtype_names, chosen_modes)
    return _run_all(
        f"check_call_semantics({name})",
        "torch.nn.Module",
        cases,
        examples,
        compile_examples,
        expectations,
    )
