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
from conformance.selection import Param, split
from conformance.targets import MODULE

if TYPE_CHECKING:
    import torch

_ACTIVE = pytest.StashKey[bool]()
_PREVIOUS = pytest.StashKey["tuple[str, tuple[str, ...] | None]"]()
_TARGETS = pytest.StashKey["dict[str, Any]"]()
_MODES = pytest.StashKey["tuple[Any, ...]"]()
_MODULE_INPUTS = pytest.StashKey["tuple[tuple[int, ...], ...]"]()
#: The report attribute carrying a test's device/dtype/mode/target to the
#: process that summarises (the xdist controller).
_FIELDS_ATTRIBUTE = "conformance_fields"
_COMPILE_MAX_EXAMPLES = pytest.StashKey[int]()
_THREADS_BEFORE = pytest.StashKey[int]()
_MODE_PLUGIN_NAME = "torch_nn_conformance_modes"
_RAN_PLUGIN_NAME = "torch_nn_conformance_ran"
_PACKAGE_DIR = Path(__file__).resolve().parent


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
        "--conformance-require-devices",
        action="store_true",
        default=False,
        help="Make a --device that is not available here a usage error instead of a "
        "skip (for CI jobs that exist to test that device).",
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
        help="Check this implementation instead of torch's (KIND: a registered layer "
        "kind: linear, dropout, or one a package registers; the header lists them); "
        "repeatable. Name is a class or factory keeping the kind's constructor contract. "
        "Checks that exercise no targeted kind are deselected.",
    )
    group.addoption(
        "--module-inputs",
        action="append",
        default=None,
        metavar="SHAPE",
        help="With --target module=pkg.mod:factory: the shape of one positional input of "
        "the modules factory() builds (2,8 or 2x8); repeat for each input.",
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


def _our_options_used(config: pytest.Config) -> bool:
    options = (
        "device",
        "dtype",
        "target",
        "module_inputs",
        "mode",
        "compile_backend",
        "compile_max_examples",
    )
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
    config.addinivalue_line(
        "markers",
        "examples_share(fraction): the check runs this share of the profile's examples "
        "(structural checks that a handful of examples falsifies)",
    )
    config.addinivalue_line(
        "markers",
        "one_dtype: a generic check over the layer registry of a property that does not "
        "depend on the dtype runs each kind in one dtype (float32 where the kind has it)",
    )
    config.addinivalue_line(
        "markers",
        "layer_requires(*features): a generic check over the layer registry runs only for "
        "kinds that have these (error_inputs, parameters, deterministic)",
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
        if given is not None and not split(given):
            raise pytest.UsageError(f"--{option}={','.join(given)!r} names no {option}")
    try:
        select_devices(split(config.getoption("device")))
        for dt in split(config.getoption("dtype")) or ():
            resolve_dtype(dt, "--dtype")
    except InvalidArgument as e:
        raise pytest.UsageError(str(e).replace("device=", "--device=")) from None
    if config.getoption("conformance_require_devices", False):
        unavailable = [p for p in device_params(config) if p.skip]
        if unavailable:
            raise pytest.UsageError(
                "--conformance-require-devices: "
                + "; ".join(f"--device {p.value}: {p.skip}" for p in unavailable)
            )
    _configure_modes(config)
    _configure_targets(config)
    if not hasattr(config, "workerinput"):  # where reports arrive
        config.pluginmanager.register(_RanRecorder(config), _RAN_PLUGIN_NAME)
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
        parse_modes,
        selected,
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
        names = parse_modes(["eager"] if given is None else split(given) or [])
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[_MODES] = selected(names, backend, config.stash[_COMPILE_MAX_EXAMPLES])


def _configure_targets(config: pytest.Config) -> None:
    from conformance.targets import TargetError, load_target

    given = config.getoption("target") or []
    probe_device = next((p.value for p in device_params(config) if p.skip is None), "cpu")
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
    _configure_module_inputs(config, targets.get(MODULE), probe_device)


def _configure_module_inputs(config: pytest.Config, target: Any, device: str) -> None:
    from conformance.targets import TargetError, parse_shapes, probe_module

    given = config.getoption("module_inputs")
    if target is None:
        if given is not None:
            raise pytest.UsageError("--module-inputs needs --target module=pkg.mod:factory")
        return
    if not given:
        raise pytest.UsageError(
            f"--target {target} needs --module-inputs SHAPE, once per positional input "
            "of the modules it builds (e.g. --module-inputs 2,8)"
        )
    try:
        shapes = parse_shapes(given)
        probe_module(target.obj, shapes, device)
    except TargetError as e:
        raise pytest.UsageError(f"--target {target}: {e}") from None
    config.stash[_MODULE_INPUTS] = shapes


def module_subject(config: pytest.Config) -> Any:
    """What the module checks call: a ``--target module=...`` factory's modules on
    ``--module-inputs``, or the kit's own small nested models."""
    from conformance.support.subjects import FactorySubject, ModelSubject

    target = selected_targets(config).get(MODULE)
    if target is None:
        return ModelSubject()
    shapes: tuple[tuple[int, ...], ...] = config.stash[_MODULE_INPUTS]
    return FactorySubject(target.obj, shapes, target.spec)


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


def device_params(config: pytest.Config) -> list[Param]:
    """The ``--device`` selection (default: every available device), as :class:`Param`."""
    from conformance.selection import device_params as expand

    return expand(split(config.getoption("device")))


def _as_pytest(params: list[Param]) -> list[Any]:
    """:class:`Param` -> ``pytest.param``, with its skip and ``exercises`` marks."""
    converted = []
    for p in params:
        marks: list[Any] = [pytest.mark.skip(reason=p.skip)] if p.skip else []
        if p.exercises is not None:
            marks.append(pytest.mark.exercises(*p.exercises))
        converted.append(pytest.param(*p.values, id=p.id, marks=marks))
    return converted


def _uses_our_fixture(metafunc: pytest.Metafunc, name: str) -> bool:
    if name not in metafunc.fixturenames:
        return False
    # A project's own `device`/`dtype` fixture shadows ours: leave it alone.
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get(name)
    if not defs:
        return False
    return getattr(defs[-1].func, "__module__", None) == __name__


def _marker_args(metafunc: pytest.Metafunc, name: str) -> tuple[Any, ...] | None:
    marker = metafunc.definition.get_closest_marker(name)
    return None if marker is None else tuple(marker.args)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from conformance import selection

    config = metafunc.config
    supports_meta = _marker_args(metafunc, "supports_meta") is not None
    if _uses_our_fixture(metafunc, "device"):
        activate(config)
        params = selection.meta_skipped(device_params(config), supports_meta)
        metafunc.parametrize("device", _as_pytest(params), indirect=True)
    if _uses_our_fixture(metafunc, "parity_device"):
        activate(config)
        params = selection.parity_params(device_params(config), supports_meta)
        metafunc.parametrize("parity_device", _as_pytest(params), indirect=True)
    if _uses_our_fixture(metafunc, "contract_subject"):
        activate(config)
        from conformance import layers

        params = selection.subject_params(layers.registry())
        metafunc.parametrize("contract_subject", _as_pytest(params), indirect=True)
    wanted = split(config.getoption("dtype"))
    if _uses_our_fixture(metafunc, "layer"):
        activate(config)
        from conformance import layers

        with_dtype = _uses_our_fixture(metafunc, "dtype")
        params = selection.layer_params(
            layers.registry(),
            wanted,
            with_dtype=with_dtype,
            requires=_marker_args(metafunc, "layer_requires") or (),
            one_dtype=metafunc.definition.get_closest_marker("one_dtype") is not None,
        )
        names = ("layer", "dtype") if with_dtype else ("layer",)
        metafunc.parametrize(names, _as_pytest(params), indirect=True)
    elif _uses_our_fixture(metafunc, "dtype"):
        activate(config)
        params = selection.dtype_params(_marker_args(metafunc, "dtypes"), wanted)
        metafunc.parametrize("dtype", _as_pytest(params), indirect=True)


def _param_order(item: pytest.Item) -> tuple[int, ...]:
    callspec = getattr(item, "callspec", None)
    return () if callspec is None else tuple(callspec.indices.values())


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
def contract_subject(request: pytest.FixtureRequest) -> Any:
    """What a module-contract check runs on: a registered kind (built from its configs
    with its implementation or ``--target``), or ``module``: :func:`module_subject`."""
    from conformance.layers import get
    from conformance.support.subjects import KindSubject

    if request.param == MODULE:
        return module_subject(request.config)
    return KindSubject(get(request.param), implementation(request.config, request.param))


@pytest.fixture(scope="session")
def layer(request: pytest.FixtureRequest) -> Any:
    """The layer kind a generic check runs over (parametrised by the registry), with the
    implementation under test: a ``--target`` of that kind, or the kind's own."""
    from conformance.layers import LayerUnderTest, get

    info = get(request.param)
    return LayerUnderTest(info, implementation(request.config, info.name))


def implementation(config: pytest.Config, kind: str) -> Any:
    """What a check exercising ``kind`` builds: its ``--target``, or the kind's own
    implementation (``torch.nn.Linear`` for ``linear``)."""
    target = selected_targets(config).get(kind)
    if target is not None:
        return target.obj
    from conformance.layers import get

    return get(kind).default_implementation()


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
        from conformance.selection import mode_params

        params = mode_params(selected_modes(metafunc.config))
        if params is not None:
            metafunc.parametrize("mode", _as_pytest(params), indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect what no selection applies to: checks exercising no ``--target`` kind,
    and, when ``--mode`` leaves eager out, checks that take no mode. Without a
    parity device a parity check is one skip, not one per dtype and operation."""
    if not _is_active(config):
        return
    from conformance.targets import item_kinds

    targeted = set(selected_targets(config))
    eager = any(m.name == "eager" for m in selected_modes(config))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    # Without a parity device, one skip per check: the one with the first parameters
    # (by each parameter's index, so the kept id does not depend on collection order).
    parity_skip: dict[tuple[str, str], pytest.Item] = {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        applies = eager or "mode" in names
        if applies and targeted:
            applies = bool(item_kinds(item) & targeted)
        if applies and _without_parity_device(item):
            check = (str(item.path), getattr(item, "originalname", item.name))
            first = parity_skip.setdefault(check, item)
            if _param_order(item) < _param_order(first):
                parity_skip[check] = item
        (keep if applies else drop).append(item)
    chosen = set(map(id, parity_skip.values()))
    for item in [i for i in keep if _without_parity_device(i) and id(i) not in chosen]:
        keep.remove(item)
        drop.append(item)
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
    from conformance.targets import item_kinds

    kinds = item_kinds(item)
    exercised = [str(targets[kind]) for kind in sorted(kinds & set(targets))]
    if exercised:
        item.stash[TARGETS] = ", ".join(exercised)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A failing check's message ends with the command that reruns it; a check whose
    code under test changes torch's global state fails, naming the change, and the
    state is put back (:mod:`conformance.global_state`)."""
    if not _is_active(item.config):
        return (yield)
    from conformance.global_state import guarded
    from conformance.rerun import running

    with running(item), guarded(item.nodeid.rpartition("/")[2]):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Runs a Hypothesis check with at most its mode's example cap (``--mode compile``:
    ``--compile-max-examples``, since each example compiles afresh) and its own share
    of the profile's examples (``@pytest.mark.examples_share``)."""
    if not _is_active(pyfuncitem.config):
        return None
    from hypothesis import settings

    from conformance.modes import capped, example_cap

    callspec = getattr(pyfuncitem, "callspec", None)
    name = None if callspec is None else callspec.params.get("mode")
    mode = next((m for m in selected_modes(pyfuncitem.config) if m.name == name), None)
    # The smallest share any mark gives (a check's own, and its parameter's).
    shares = [m.args[0] for m in pyfuncitem.iter_markers("examples_share")]
    cap = example_cap(
        settings().max_examples,
        mode_cap=None if mode is None else mode.max_examples,
        share=min(shares, default=None),
    )
    test = None if cap is None else capped(pyfuncitem.obj, cap)
    if test is None:
        return None
    import inspect

    wanted = inspect.signature(pyfuncitem.obj).parameters
    test(**{k: v for k, v in pyfuncitem.funcargs.items() if k in wanted})
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
    from conformance import layers

    kinds = ", ".join(f"{k} ({info.reference_name})" for k, info in layers.registry().items())
    lines.append(f"conformance layer kinds (--target KIND=module:Name): {kinds}")
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if _is_active(item.config) and call.when == "call":
        from conformance.node_ids import item_fields

        setattr(report, _FIELDS_ATTRIBUTE, item_fields(item))
    return report


class _RanRecorder:
    """Records the fields of each test that ran, where reports arrive (the only
    process, or the xdist controller), and names in the summary each requested
    device, dtype and target none of them had (:mod:`conformance.requested`)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ran: list[dict[str, str | None]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        fields = getattr(report, _FIELDS_ATTRIBUTE, None)
        if fields is not None and report.when == "call":
            self.ran.append(fields)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from conformance.requested import never_ran

        missing = never_ran(_requested(self.config), self.ran)
        if not missing:
            return
        terminalreporter.section(
            "conformance: requested but never run", sep="!", red=True, bold=True
        )
        for field, values in missing.items():
            for value in values:
                terminalreporter.line(
                    f"--{field} {value}: no check ran for it (every test with it was skipped, "
                    "deselected or never parametrised over it); this run says nothing about it",
                    red=True,
                )


def _requested(config: pytest.Config) -> dict[str, list[str]]:
    from strategies.devices import parse_device

    requested: dict[str, list[str]] = {}
    devices = split(config.getoption("device"))
    if devices:
        requested["device"] = list(dict.fromkeys(parse_device(d) for d in devices))
    dtypes = split(config.getoption("dtype"))
    if dtypes:
        from conformance.selection import dtype_name

        requested["dtype"] = list(dict.fromkeys(dtype_name(d, "--dtype") for d in dtypes))
    targets = selected_targets(config)
    if targets:
        requested["target"] = [str(t) for t in targets.values()]
    return requested


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _is_active(config):
        return None
    from conformance.environment import header_lines

    return header_lines(config) + _selection_lines(config)
