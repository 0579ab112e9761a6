"""The pytest plugin (entry point ``pytest11: torch_nn_conformance``).

Installed projects load this module on every pytest run, so it must cost
nothing there: it imports neither torch nor Hypothesis at import, and changes
no Hypothesis setting, until the run is a conformance run. A run becomes one
when an option of ours is given, when the command line points at the
``conformance`` package, or when a conformance suite is collected (its
``conftest.py`` calls :func:`activate`). Activation then loads the
``conformance-ci`` profile (unless ``--hypothesis-profile`` chose one),
validates ``--device`` and records the selection for
:func:`strategies.devices`.

The ``device`` and ``dtype`` fixtures are parametrised from ``--device`` and
``--dtype``: test ids read ``test_x[cpu-float32]``; ``parity_device`` takes
each selected device other than the CPU, for checks that compare it with the
CPU. Collection never depends
on the worker: under pytest-xdist, ``cuda`` is mapped to ``cuda:(worker
index mod device count)`` only when the fixture is set up.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.profiles import DEFAULT_PROFILE, PROFILE_NAMES, register_profiles

if TYPE_CHECKING:
    import torch

_ACTIVE = pytest.StashKey[bool]()
_PREVIOUS = pytest.StashKey["tuple[str, tuple[str, ...] | None]"]()
_TARGETS = pytest.StashKey["dict[str, Any]"]()
_MODES = pytest.StashKey["tuple[Any, ...]"]()
_COMPILE_MAX_EXAMPLES = pytest.StashKey[int]()
_THREADS_BEFORE = pytest.StashKey[int]()
_MODE_PLUGIN_NAME = "torch_nn_conformance_modes"
_PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_DTYPES = ("float32", "float64")
META_SKIP_REASON = "meta tensors carry no values; this check needs them"
NO_PARITY_DEVICE_REASON = (
    "parity checks compare each selected device other than the CPU with the CPU, and "
    "only the CPU is selected: add --device cuda (or --device meta, for shapes, dtypes "
    "and errors)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "PyTorch nn conformance (torch-nn-conformance)")
    for extension in _extensions():
        extension.add_options(group)
    group.addoption(
        "--device",
        action="append",
        default=None,
        metavar="NAME[,NAME...]",
        help="Devices to run the conformance checks on: cpu, cuda, cuda:N, mps, meta. "
        "Repeatable or comma-separated. Default: every available device (meta only "
        "when named). A named device that is unavailable is reported as skipped.",
    )
    group.addoption(
        "--dtype",
        action="append",
        default=None,
        metavar="NAME[,NAME...]",
        help="Only run dtype-parametrised checks for these dtypes (e.g. float32,bfloat16). "
        "Default: each check's own dtypes.",
    )
    group.addoption(
        "--target",
        action="append",
        default=None,
        metavar="KIND=module.path:Name",
        help="Check this implementation instead of torch's (KIND: linear, dropout); "
        "repeatable. Name is a class or factory keeping the torch layer's constructor "
        "contract. Checks that exercise no targeted kind are deselected.",
    )
    group.addoption(
        "--mode",
        action="append",
        default=None,
        metavar="NAME[,NAME...]",
        help="Run the module checks through these execution modes: eager, compile, jit, "
        "functional_call. Repeatable or comma-separated. Default: eager. Without eager, "
        "checks that take no mode are deselected.",
    )
    group.addoption(
        "--compile-backend",
        default=None,
        metavar="NAME",
        help="torch.compile backend of --mode compile: aot_eager (default), inductor, eager.",
    )
    group.addoption(
        "--compile-max-examples",
        type=int,
        default=None,
        metavar="N",
        help="At most N Hypothesis examples per check in --mode compile (default 10: "
        "each example compiles afresh).",
    )


def _extensions() -> tuple[Any, ...]:
    """Reports, expectations and sharding: each adds options and registers its
    hooks only when asked (light modules: no torch at import)."""
    from conformance import expectations, sharding
    from conformance.report import collect

    return (collect, expectations, sharding)


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _our_options_used(config: pytest.Config) -> bool:
    options = ("device", "dtype", "target", "mode", "compile_backend", "compile_max_examples")
    return any(config.getoption(option) is not None for option in options)


def _collects_package(path: Path) -> bool:
    """Would collecting the directory ``path`` reach the conformance package?

    Not through a hidden directory or an installation (pytest collects
    neither): a project whose ``.venv`` holds the kit is no conformance run.
    """
    if path not in _PACKAGE_DIR.parents:
        return False
    route = _PACKAGE_DIR.relative_to(path).parts
    return not any(p.startswith(".") or p in ("site-packages", "dist-packages") for p in route)


def _targets_conformance(config: pytest.Config) -> bool:
    """Does the command line point at (or contain) the conformance package?"""
    for arg in config.args:
        name = arg.split("::", 1)[0]
        if config.getoption("pyargs", False) and name.split(".")[0] == "conformance":
            return True
        path = Path(name).resolve()
        if path == _PACKAGE_DIR or _PACKAGE_DIR in path.parents or _collects_package(path):
            return True
    return False


def _is_active(config: pytest.Config) -> bool:
    return config.stash.get(_ACTIVE, False)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dtypes(*names): the dtypes a conformance check is parametrised over"
    )
    config.addinivalue_line(
        "markers", "supports_meta: the check is meaningful on the meta device (no values)"
    )
    config.addinivalue_line(
        "markers",
        "exercises(*kinds): the --target kinds (linear, dropout) a check exercises; "
        "default: the kinds whose fixtures (linear_cls, dropout_cls) it takes",
    )
    if not config.pluginmanager.has_plugin(_MODE_PLUGIN_NAME):
        config.pluginmanager.register(_ModeParametrization(), _MODE_PLUGIN_NAME)
    # Hypothesis' plugin loads --hypothesis-profile in its own pytest_configure:
    # ours must exist by then. Registering changes no setting.
    if (config.getoption("hypothesis_profile", None) or "") in PROFILE_NAMES:
        register_profiles()
    if _our_options_used(config) or _targets_conformance(config):
        activate(config)
    for extension in _extensions():
        extension.configure(config)


def activate(config: pytest.Config) -> None:
    """Make this a conformance run (idempotent); see the module docstring."""
    if _is_active(config):
        return
    config.stash[_ACTIVE] = True
    from conformance.expectations import load_builtin

    load_builtin(config)  # the kit's known_deviations.toml
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    from strategies.devices import select_devices
    from strategies.dtypes import resolve_dtype

    # What pytest_unconfigure puts back (one process may run pytest twice).
    config.stash[_PREVIOUS] = (settings.get_current_profile_name(), select_devices(None))
    register_profiles()
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(DEFAULT_PROFILE)
    for option in ("device", "dtype"):
        given = config.getoption(option)
        if given is not None and not _split(given):
            raise pytest.UsageError(f"--{option}={','.join(given)!r} names no {option}")
    try:
        select_devices(_split(config.getoption("device")))
        for dt in _split(config.getoption("dtype")) or ():
            resolve_dtype(dt, "--dtype")
    except InvalidArgument as e:
        raise pytest.UsageError(str(e).replace("device=", "--device=")) from None
    _configure_modes(config)
    _configure_targets(config)
    _share_cores_between_workers(config)


#: Where one of these is set, the user chose torch's thread count.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_worker(workers: int) -> int | None:
    """torch intra-op threads for each of ``workers`` xdist workers, or None to
    leave torch's default (one worker, or a thread count the user chose).

    torch starts one thread per core in every process: two workers on two
    cores run four, whose OpenMP barriers spin against each other, and the
    suite barely gains from the second worker (benchmarks/RESULTS.md, part 2).
    """
    if workers < 2 or any(os.environ.get(var) for var in THREAD_VARIABLES):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // workers)


def _share_cores_between_workers(config: pytest.Config) -> None:
    threads = threads_per_worker(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")))
    if threads is None:
        return
    import torch

    config.stash[_THREADS_BEFORE] = torch.get_num_threads()
    torch.set_num_threads(threads)


def _configure_modes(config: pytest.Config) -> None:
    from conformance.modes import (
        COMPILE_BACKENDS,
        DEFAULT_COMPILE_BACKEND,
        DEFAULT_COMPILE_MAX_EXAMPLES,
        Mode,
        parse_modes,
    )

    backend = config.getoption("compile_backend") or DEFAULT_COMPILE_BACKEND
    if backend not in COMPILE_BACKENDS:
        raise pytest.UsageError(
            f"--compile-backend={backend!r} is not one of {', '.join(COMPILE_BACKENDS)}"
        )
    cap = config.getoption("compile_max_examples")
    if cap is not None and cap < 1:
        raise pytest.UsageError(f"--compile-max-examples={cap} must be at least 1")
    config.stash[_COMPILE_MAX_EXAMPLES] = DEFAULT_COMPILE_MAX_EXAMPLES if cap is None else cap
    given = config.getoption("mode")
    try:
        names = parse_modes(["eager"] if given is None else _split(given) or [])
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[_MODES] = tuple(Mode(name, backend) for name in names)


def _configure_targets(config: pytest.Config) -> None:
    from conformance.targets import TargetError, load_target

    given = config.getoption("target") or []
    probe_device = next((p.values[0] for p in _device_params(config) if not p.marks), "cpu")
    targets: dict[str, Any] = {}
    for text in given:
        try:
            target = load_target(text, probe_device)
        except TargetError as e:
            raise pytest.UsageError(f"--target {e}") from None
        if target.kind in targets:
            raise pytest.UsageError(
                f"--target {target} and --target {targets[target.kind]} both target "
                f"{target.kind!r}; give one per kind"
            )
        targets[target.kind] = target
    config.stash[_TARGETS] = targets


def selected_targets(config: pytest.Config) -> dict[str, Any]:
    """The ``--target`` objects by kind (:class:`conformance.targets.Target`); empty if none."""
    return config.stash.get(_TARGETS, {})


def selected_modes(config: pytest.Config) -> tuple[Any, ...]:
    """The ``--mode`` selection as :class:`conformance.modes.Mode` objects (eager by default)."""
    from conformance.modes import EAGER

    return config.stash.get(_MODES, (EAGER,))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Undo the activation's global changes: the profile and the device selection."""
    previous = config.stash.get(_PREVIOUS, None)
    if previous is None:
        return
    from hypothesis import settings

    from strategies.devices import select_devices

    profile, selection = previous
    settings.load_profile(profile)
    select_devices(selection)
    threads = config.stash.get(_THREADS_BEFORE, None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _device_params(config: pytest.Config) -> list[Any]:
    from strategies.devices import available_devices, device_unavailable_reason, parse_device

    names = _split(config.getoption("device")) or list(available_devices())
    params = []
    for name in dict.fromkeys(parse_device(n) for n in names):
        reason = device_unavailable_reason(name)
        marks = [pytest.mark.skip(reason=f"device unavailable: {reason}")] if reason else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def _dtype_name(dtype: Any, what: str) -> str:
    """The canonical name (``float32``) of a dtype given as a name or a torch.dtype."""
    from strategies.dtypes import resolve_dtype

    return str(resolve_dtype(dtype, what)).removeprefix("torch.")


def _dtype_params(metafunc: pytest.Metafunc) -> list[Any]:
    marker = metafunc.definition.get_closest_marker("dtypes")
    names = marker.args if marker else DEFAULT_DTYPES
    # Compared by canonical name: --dtype=torch.float32 selects "float32".
    candidates = list(dict.fromkeys(_dtype_name(d, "@pytest.mark.dtypes") for d in names))
    wanted = _split(metafunc.config.getoption("dtype"))
    wanted_names = None if wanted is None else {_dtype_name(d, "--dtype") for d in wanted}
    chosen = [d for d in candidates if wanted_names is None or d in wanted_names]
    if not chosen:
        why = f"--dtype selects none of this check's dtypes ({', '.join(candidates)})"
        return [pytest.param(None, id="no-dtype", marks=pytest.mark.skip(reason=why))]
    return [pytest.param(d, id=d) for d in chosen]


def _uses_our_fixture(metafunc: pytest.Metafunc, name: str) -> bool:
    if name not in metafunc.fixturenames:
        return False
    # A project's own `device`/`dtype` fixture shadows ours: leave it alone.
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get(name)
    if not defs:
        return False
    return getattr(defs[-1].func, "__module__", None) == __name__


def _skip_meta_unless_supported(metafunc: pytest.Metafunc, params: list[Any]) -> list[Any]:
    if metafunc.definition.get_closest_marker("supports_meta") is not None:
        return params
    skip = pytest.mark.skip(reason=META_SKIP_REASON)
    return [
        pytest.param(p.values[0], id=p.id, marks=[skip]) if p.values[0] == "meta" else p
        for p in params
    ]


def _parity_params(metafunc: pytest.Metafunc) -> list[Any]:
    """The selected devices other than the CPU; one skipped param when there are none."""
    params = [p for p in _device_params(metafunc.config) if p.values[0].split(":")[0] != "cpu"]
    if not params:
        skip = pytest.mark.skip(reason=NO_PARITY_DEVICE_REASON)
        return [pytest.param(None, id="no-parity-device", marks=[skip])]
    return _skip_meta_unless_supported(metafunc, params)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _uses_our_fixture(metafunc, "device"):
        activate(metafunc.config)
        params = _skip_meta_unless_supported(metafunc, _device_params(metafunc.config))
        metafunc.parametrize("device", params, indirect=True)
    if _uses_our_fixture(metafunc, "parity_device"):
        activate(metafunc.config)
        metafunc.parametrize("parity_device", _parity_params(metafunc), indirect=True)
    if _uses_our_fixture(metafunc, "dtype"):
        activate(metafunc.config)
        metafunc.parametrize("dtype", _dtype_params(metafunc), indirect=True)


def _without_parity_device(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("parity_device", "") is None


def worker_device(name: str) -> str:
    """The device a test parametrised with ``name`` runs on in this process.

    Under pytest-xdist with several CUDA devices, plain ``cuda`` becomes
    ``cuda:(worker index mod device count)`` so each worker keeps to its own
    GPU; an explicit ``cuda:N`` is left as given.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if name != "cuda" or not worker.startswith("gw"):
        return name
    import torch

    count = torch.cuda.device_count()
    return f"cuda:{int(worker[2:]) % count}" if count > 1 else name


# Session-scoped: Hypothesis rejects function-scoped fixtures in @given tests,
# and a device or dtype is the same for every example anyway.
@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device under test (parametrised by ``--device``)."""
    import torch

    return torch.device(worker_device(request.param))


@pytest.fixture(scope="session")
def parity_device(request: pytest.FixtureRequest) -> torch.device:
    """A selected device other than the CPU, which parity checks compare with the CPU."""
    import torch

    return torch.device(worker_device(request.param))


@pytest.fixture(scope="session")
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The dtype under test (parametrised by the ``dtypes`` marker and ``--dtype``)."""
    from strategies.dtypes import resolve_dtype

    return resolve_dtype(request.param)


@pytest.fixture(scope="session")
def mode(request: pytest.FixtureRequest) -> Any:
    """The execution mode (:class:`conformance.modes.Mode`) a module check calls through.

    Parametrised by ``--mode`` (ids gain ``-compile`` and so on) unless eager
    alone is selected: then the ids stay as they are and this is eager.
    """
    from conformance.modes import EAGER

    chosen = {m.name: m for m in selected_modes(request.config)}
    name = getattr(request, "param", "eager")
    return chosen.get(name, EAGER)


class _ModeParametrization:
    """Parametrises ``mode`` after every other parameter (``[cpu-float32-Dropout-jit]``)."""

    @pytest.hookimpl(trylast=True)
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if not _uses_our_fixture(metafunc, "mode"):
            return
        activate(metafunc.config)
        names = [m.name for m in selected_modes(metafunc.config)]
        if names != ["eager"]:
            metafunc.parametrize("mode", names, indirect=True, ids=names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect what no selection applies to: checks exercising no ``--target`` kind,
    and, when ``--mode`` leaves eager out, checks that take no mode. Without a
    parity device a parity check is one skip, not one per dtype and operation."""
    if not _is_active(config):
        return
    from conformance.targets import exercised_kinds

    targeted = set(selected_targets(config))
    eager = any(m.name == "eager" for m in selected_modes(config))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    skipped_parity: set[tuple[str, str]] = set()
    for item in items:
        names = getattr(item, "fixturenames", ())
        applies = eager or "mode" in names
        if applies and targeted:
            marker = item.get_closest_marker("exercises")
            kinds = exercised_kinds(names, None if marker is None else tuple(marker.args))
            applies = bool(kinds & targeted)
        if applies and _without_parity_device(item):
            check = (str(item.path), getattr(item, "originalname", item.name))
            applies = check not in skipped_parity
            skipped_parity.add(check)
        (keep if applies else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_itemcollected(item: pytest.Item) -> None:
    """Records the ``--target`` objects the check exercises (reports and
    expectations read them as the test's ``target``)."""
    if not _is_active(item.config):
        return
    targets = selected_targets(item.config)
    if not targets:
        return
    from conformance.node_ids import TARGETS
    from conformance.targets import exercised_kinds

    marker = item.get_closest_marker("exercises")
    names = getattr(item, "fixturenames", ())
    kinds = exercised_kinds(names, None if marker is None else tuple(marker.args))
    exercised = [str(targets[kind]) for kind in sorted(kinds & set(targets))]
    if exercised:
        item.stash[TARGETS] = ", ".join(exercised)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A failing check's message ends with the command that reruns it."""
    if not _is_active(item.config):
        yield
        return
    from conformance.rerun import running

    with running(item):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Runs a Hypothesis check in ``--mode compile`` with at most
    ``--compile-max-examples`` examples (each example compiles afresh)."""
    if not _is_active(pyfuncitem.config):
        return None
    callspec = getattr(pyfuncitem, "callspec", None)
    if callspec is None or callspec.params.get("mode") != "compile":
        return None
    from conformance.modes import capped

    test = capped(pyfuncitem.obj, pyfuncitem.config.stash[_COMPILE_MAX_EXAMPLES])
    if test is None:
        return None
    argnames = pyfuncitem._fixtureinfo.argnames
    test(**{name: pyfuncitem.funcargs[name] for name in argnames})
    return True


def _selection_lines(config: pytest.Config) -> list[str]:
    lines = []
    workers = config.getoption("numprocesses", None)
    threads = threads_per_worker(workers) if isinstance(workers, int) else None
    if threads is not None:
        lines.append(
            f"torch threads per xdist worker: {threads} (cores / workers; "
            f"set {' or '.join(THREAD_VARIABLES)} to choose)"
        )
    targets = selected_targets(config)
    if targets:
        lines.append(
            "conformance targets: "
            + ", ".join(str(t) for t in targets.values())
            + " (checks exercising no targeted kind are deselected)"
        )
    modes = selected_modes(config)
    if [m.name for m in modes] != ["eager"]:
        cap = config.stash.get(_COMPILE_MAX_EXAMPLES, 0)
        described = [
            m.describe() + (f", at most {cap} examples per check" if m.name == "compile" else "")
            for m in modes
        ]
        lines.append(f"conformance modes: {'; '.join(described)}")
    return lines


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _is_active(config):
        return None
    from conformance.environment import header_lines

    return header_lines(config) + _selection_lines(config)
