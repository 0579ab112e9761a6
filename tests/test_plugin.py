"""The pytest plugin, driven through pytester: options, test ids, skips, header, profiles.

Runs are in-process (``inline_run``/``runpytest``) unless a check needs a
fresh interpreter: Hypothesis reads the ``CI`` variable once, at import.
"""

from __future__ import annotations

import inspect
import os

import pytest
import torch
from hypothesis import settings

from conformance import plugin, selection
from conformance.profiles import DEFAULT_PROFILE, PROFILE_NAMES, _profiles
from strategies import selected_devices

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")

SUITE = """
import pytest
import torch

def test_values(device, dtype):
    assert device.type != "meta"
    assert torch.zeros(2, device=device, dtype=dtype).sum().item() == 0

@pytest.mark.supports_meta
def test_shapes_only(device, dtype):
    assert torch.zeros(2, 3, device=device, dtype=dtype).shape == (2, 3)
"""

DTYPE_SUITE = """
import pytest
import torch

@pytest.mark.dtypes("bfloat16", "torch.float16")
def test_marked(device, dtype):
    assert dtype in (torch.bfloat16, torch.float16)

def test_default(device, dtype):
    assert dtype in (torch.float32, torch.float64)
"""

# Run inside a project: the active profile must be the named one, every
# setting as its table states it.
PROFILE_PROBE = """
from hypothesis import settings
from conformance.profiles import _profiles

def test_profile(device):
    assert settings.get_current_profile_name() == {name!r}
    active = settings()
    for key, value in _profiles()[{name!r}].items():
        assert getattr(active, key) == value, key
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    """In-process runs may load a profile (Hypothesis' own plugin never puts it back)."""
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def outcomes(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    """Run in-process; map each test id (``test_x[cpu-float32]``) to its outcome.

    A skip reads ``skipped: <reason>``.
    """
    reprec = pytester.inline_run(*args)
    passed, skipped, failed = reprec.listoutcomes()
    result = {r.nodeid.split("::")[-1]: "passed" for r in passed}
    result |= {
        r.nodeid.split("::")[-1]: f"skipped: {r.longrepr[2].removeprefix('Skipped: ')}"
        for r in skipped
    }
    result |= {r.nodeid.split("::")[-1]: "failed" for r in failed}
    return result


def ids(tests: list[str], devices: list[str], dtypes: list[str]) -> set[str]:
    return {f"{t}[{d}-{dt}]" for t in tests for d in devices for dt in dtypes}


def available_devices() -> list[str]:
    """What torch says this machine has (the plugin's default selection)."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


# -- --device -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["--device", "cpu,meta"], ["--device", "cpu", "--device", "meta"], ["--device= cpu , meta"]],
    ids=" ".join,
)
def test_device_option_is_repeatable_and_comma_separated(pytester, args):
    pytester.makepyfile(SUITE)
    result = outcomes(pytester, *args)
    tests = ["test_values", "test_shapes_only"]
    assert set(result) == ids(tests, ["cpu", "meta"], ["float32", "float64"])
    assert {result[i] for i in ids(tests, ["cpu"], ["float32", "float64"])} == {"passed"}


def test_default_devices_are_the_available_ones(pytester):
    pytester.makepyfile(SUITE)
    result = outcomes(pytester)
    tests = ["test_values", "test_shapes_only"]
    assert set(result) == ids(tests, available_devices(), ["float32", "float64"])
    assert set(result.values()) == {"passed"}


@needs_no_cuda
def test_selected_but_unavailable_device_is_skipped_with_the_reason(pytester):
    pytester.makepyfile(SUITE)
    result = outcomes(pytester, "--device", "cuda")
    assert set(result) == ids(["test_values", "test_shapes_only"], ["cuda"], ["float32", "float64"])
    for outcome in result.values():
        assert outcome.startswith("skipped: device unavailable")
        assert "CUDA" in outcome


def test_meta_runs_only_the_checks_marked_supports_meta(pytester):
    pytester.makepyfile(SUITE)
    result = outcomes(pytester, "--device", "meta")
    for dtype in ("float32", "float64"):
        assert result[f"test_shapes_only[meta-{dtype}]"] == "passed"
        assert result[f"test_values[meta-{dtype}]"].startswith("skipped: meta")


PARITY_SUITE = """
import pytest
import torch

def test_values_agree(parity_device):
    assert parity_device.type != "cpu"
    assert parity_device.type != "meta"

@pytest.mark.supports_meta
def test_shapes_agree(parity_device):
    assert parity_device.type != "cpu"

@pytest.mark.parametrize("op", ["add", "mul"])
def test_ops_agree(parity_device, dtype, op):
    assert parity_device.type != "cpu"
"""


@needs_no_cuda
def test_parity_device_without_a_second_device_is_one_clear_skip(pytester):
    pytester.makepyfile(PARITY_SUITE)
    result = outcomes(pytester, "--device", "cpu")
    # One skip per check, however many dtypes and operations it takes.
    assert set(result) == {
        "test_values_agree[no-parity-device]",
        "test_shapes_agree[no-parity-device]",
        "test_ops_agree[no-parity-device-float32-add]",
    }
    for outcome in result.values():
        assert outcome == f"skipped: {selection.NO_PARITY_DEVICE_REASON}"


def test_parity_device_is_each_selected_non_cpu_device(pytester):
    """meta stands in for an accelerator: selected, it is compared (where supported)."""
    pytester.makepyfile(PARITY_SUITE)
    result = outcomes(pytester, "--device", "cpu,meta")
    assert result == {
        "test_shapes_agree[meta]": "passed",
        "test_values_agree[meta]": f"skipped: {selection.META_SKIP_REASON}",
        **{
            f"test_ops_agree[meta-{dtype}-{op}]": f"skipped: {selection.META_SKIP_REASON}"
            for dtype in ("float32", "float64")
            for op in ("add", "mul")
        },
    }


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--device", "cpu,gpu", "--device='gpu'"),
        ("--device", "cpu:1", "--device='cpu:1'"),
        ("--dtype", "float128", "--dtype='float128'"),
        ("--device", ",", "--device=',' names no device"),
        ("--dtype", "", "--dtype='' names no dtype"),
    ],
)
def test_unknown_device_or_dtype_is_a_usage_error(pytester, option, value, named):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert named in result.stderr.str()


# -- --dtype and the dtypes marker --------------------------------------------


@pytest.mark.parametrize("spelling", ["float64", "torch.float64"])
def test_dtype_option_narrows_the_default_dtypes(pytester, spelling):
    pytester.makepyfile(SUITE)
    result = outcomes(pytester, "--device", "cpu", "--dtype", spelling)
    assert set(result) == ids(["test_values", "test_shapes_only"], ["cpu"], ["float64"])
    assert set(result.values()) == {"passed"}


def test_dtypes_marker_sets_the_dtypes_and_ids_use_canonical_names(pytester):
    pytester.makepyfile(DTYPE_SUITE)
    result = outcomes(pytester, "--device", "cpu")
    assert set(result) == ids(["test_marked"], ["cpu"], ["bfloat16", "float16"]) | ids(
        ["test_default"], ["cpu"], ["float32", "float64"]
    )
    assert set(result.values()) == {"passed"}


def test_dtype_option_intersects_each_checks_dtypes(pytester):
    pytester.makepyfile(DTYPE_SUITE)
    result = outcomes(pytester, "--device", "cpu", "--dtype", "float32,float16")
    assert result["test_marked[cpu-float16]"] == "passed"
    assert result["test_default[cpu-float32]"] == "passed"
    assert "test_marked[cpu-bfloat16]" not in result
    assert "test_default[cpu-float64]" not in result


def test_dtype_option_selecting_none_of_a_checks_dtypes_skips_it(pytester):
    pytester.makepyfile(DTYPE_SUITE)
    result = outcomes(pytester, "--device", "cpu", "--dtype", "float64")
    assert result["test_default[cpu-float64]"] == "passed"
    assert result["test_marked[cpu-no-dtype]"].startswith("skipped: --dtype selects none")


def test_a_projects_own_device_fixture_shadows_the_plugins(pytester):
    pytester.makeconftest("import pytest\n@pytest.fixture\ndef device():\n    return 'mine'\n")
    pytester.makepyfile("def test_mine(device):\n    assert device == 'mine'\n")
    assert outcomes(pytester) == {"test_mine": "passed"}


# -- the run header -----------------------------------------------------------


def test_header_describes_a_conformance_run(pytester):
    pytester.makepyfile(SUITE)
    text = pytester.runpytest("--device", "cpu").stdout.str()
    assert f"torch {torch.__version__}" in text
    assert "conformance devices: cpu" in text
    assert f"conformance profile: {DEFAULT_PROFILE}" in text
    assert "seed: derandomized" in text


def test_header_names_a_chosen_profile_and_seed(pytester):
    pytester.makepyfile(SUITE)
    args = ["--device", "cpu", "--hypothesis-profile=conformance-dev", "--hypothesis-seed=7"]
    text = pytester.runpytest(*args).stdout.str()
    dev = settings.get_profile("conformance-dev")
    assert f"conformance profile: conformance-dev (max_examples={dev.max_examples})" in text
    assert "seed: 7" in text


@needs_no_cuda
def test_header_lists_unavailable_devices_with_the_reason(pytester):
    pytester.makepyfile(SUITE)
    text = pytester.runpytest("--device", "cpu,cuda").stdout.str()
    assert "conformance devices: cpu; skipped" in text
    assert "CUDA" in text


@pytest.mark.parametrize("args", [[], ["-q", "--device", "cpu"]], ids=["no option", "quiet"])
def test_no_header_outside_conformance_runs_or_when_quiet(pytester, args):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.OK
    assert "conformance profile" not in result.stdout.str()


# -- profiles -----------------------------------------------------------------


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_profile_states_every_setting(name):
    every_setting = set(inspect.signature(settings).parameters) - {"parent"}
    assert set(_profiles()[name]) == every_setting


def test_dev_profile_can_be_chosen(pytester):
    pytester.makepyfile(PROFILE_PROBE.format(name="conformance-dev"))
    result = outcomes(pytester, "--hypothesis-profile=conformance-dev")
    assert result == {"test_profile[cpu]": "passed"}


@pytest.mark.parametrize("ci", [None, "true"], ids=["CI unset", "CI=true"])
def test_default_profile_is_conformance_ci_whether_or_not_on_ci(pytester, monkeypatch, ci):
    # A fresh interpreter: Hypothesis picks its `ci` profile at import.
    for var in ("CI", "TF_BUILD"):
        monkeypatch.delenv(var, raising=False)
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(PROFILE_PROBE.format(name=DEFAULT_PROFILE))
    pytester.runpytest_subprocess("--device", "cpu").assert_outcomes(passed=1)


def test_dev_profile_stays_random_with_a_database_on_ci(pytester, monkeypatch):
    # Inheriting from the active profile would make it Hypothesis' `ci` one.
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(PROFILE_PROBE.format(name="conformance-dev"))
    result = pytester.runpytest_subprocess("--hypothesis-profile=conformance-dev")
    result.assert_outcomes(passed=1)


def test_a_run_puts_back_the_profile_and_device_selection(pytester):
    # The same process may run pytest again (pytester, IDEs): leave no trace.
    settings.load_profile("default")
    before = selected_devices()
    pytester.makepyfile(SUITE)
    result = outcomes(pytester, "--device", "meta")
    assert result["test_shapes_only[meta-float32]"] == "passed"  # meta was selected
    assert settings.get_current_profile_name() == "default"
    assert selected_devices() == before


# -- pytest-xdist -------------------------------------------------------------


def test_xdist_run_collects_the_same_tests_and_passes(pytester, monkeypatch):
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(SUITE)
    serial = outcomes(pytester, "--device", "cpu,meta")
    # xdist fails the run if the workers' collections differ.
    result = pytester.runpytest("-n", "2", "--device", "cpu,meta")
    result.assert_outcomes(
        passed=list(serial.values()).count("passed"),
        skipped=sum(v.startswith("skipped") for v in serial.values()),
    )


THREADS_PROBE = """
import os
import torch

def test_threads(device):
    assert torch.get_num_threads() == int(os.environ["EXPECTED_THREADS"])
"""


@pytest.mark.parametrize("chosen", [None, "2"], ids=["default", "omp-set"])
def test_xdist_workers_share_the_cores_unless_the_user_chose(pytester, monkeypatch, chosen):
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", *plugin.THREAD_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    cores = len(os.sched_getaffinity(0))
    if chosen is None:
        expected = max(1, cores // 2)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", chosen)
        expected = int(chosen)
    monkeypatch.setenv("EXPECTED_THREADS", str(expected))
    pytester.makepyfile(THREADS_PROBE)
    result = pytester.runpytest_subprocess("-n", "2", "--device", "cpu")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("workers", "env", "expected"),
    [(0, {}, None), (1, {}, None), (2, {}, 4), (3, {}, 2), (16, {}, 1),
     (2, {"OMP_NUM_THREADS": "3"}, None), (2, {"MKL_NUM_THREADS": "1"}, None)],
)  # fmt: skip
def test_threads_per_worker_divides_the_cores(monkeypatch, workers, env, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    for var in plugin.THREAD_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert plugin.threads_per_worker(workers) == expected


@pytest.mark.parametrize(
    ("name", "worker", "count", "expected"),
    [
        ("cuda", "gw0", 2, "cuda:0"),
        ("cuda", "gw3", 2, "cuda:1"),  # worker index mod device count
        ("cuda", "gw5", 3, "cuda:2"),
        ("cuda", "gw1", 1, "cuda"),  # one GPU: every worker shares it
        ("cuda", None, 4, "cuda"),  # not under xdist
        ("cuda:1", "gw0", 2, "cuda:1"),  # an explicit index is kept
        ("cpu", "gw1", 2, "cpu"),
    ],
)
def test_worker_device_spreads_cuda_over_the_workers(monkeypatch, name, worker, count, expected):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert plugin.worker_device(name) == expected


# -- what makes a run a conformance run ---------------------------------------


@pytest.mark.parametrize(
    ("route", "contains_suites"),
    [
        ("", True),  # a checkout: running the project runs the suites
        ("src", True),
        (".venv/lib/python3.11/site-packages", False),  # installed below the project
        ("venv/lib/python3.11/site-packages", False),
        (".tox/py311/lib/python3.11/site-packages", False),
    ],
)
def test_a_directory_holding_the_package_is_a_conformance_run_only_if_collected(
    pytester, monkeypatch, route, contains_suites
):
    package = pytester.path / route / "conformance"
    package.mkdir(parents=True)
    monkeypatch.setattr(plugin, "_PACKAGE_DIR", package)
    assert plugin._targets_conformance(pytester.parseconfig(str(pytester.path))) is contains_suites
    assert plugin._targets_conformance(pytester.parseconfig(str(package)))


SHARED_SUITE = """
import pytest
from hypothesis import given, strategies as st

RUNS = {}

@pytest.mark.examples_share(0.5)
@pytest.mark.parametrize(
    "part", ["half", pytest.param("quarter", marks=pytest.mark.examples_share(0.25))]
)
@given(data=st.data())
def test_counted(data, device, part):
    data.draw(st.integers(), label="any")
    RUNS[part] = RUNS.get(part, 0) + 1

def test_zz_counts(device):
    assert RUNS == {"half": 50, "quarter": 25}
"""


def test_a_check_runs_the_smallest_share_its_marks_and_its_parameters_give(pytester):
    pytester.makepyfile(SHARED_SUITE)
    result = outcomes(pytester, "--device", "cpu")
    assert result["test_zz_counts[cpu]"] == "passed", result
