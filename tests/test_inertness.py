"""Installing the kit costs nothing to projects that do not use it.

pytest loads the plugin in every project of an environment where the kit is
installed, so there it must import no torch and change no Hypothesis setting;
``import strategies`` must not touch Hypothesis' profiles either. Each check
runs in a fresh interpreter: this process has imported everything already.
"""

from __future__ import annotations

import json
import sys

import pytest

from conformance.profiles import PROFILE_NAMES

# A project with Hypothesis tests of its own and a `device` parameter of its
# own, that never asks for the kit. It records what its tests see, so that a
# run with the plugin can be compared with a run without it: where Hypothesis
# detects a CI service it loads its own `ci` profile, and that is no business
# of ours.
PLAIN_PROJECT = """
import json
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.errors import InvalidArgument

RECORDED = set()

def record(what):
    if what in RECORDED:
        return
    RECORDED.add(what)
    with open(os.environ["INERTNESS_RECORD"], "a") as f:
        f.write(json.dumps({{
            "where": what,
            "profile": settings.get_current_profile_name(),
            "settings": repr(settings()),
            "torch": "torch" in sys.modules,
        }}) + "\\n")

def test_plugin_leaves_settings_and_profiles_alone(pytestconfig):
    record("test")
    for name in {profiles!r}:
        with pytest.raises(InvalidArgument):
            settings.get_profile(name)

@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_own_device_parameter(device):
    assert device in ("cpu", "cuda")

@given(st.integers())
def test_own_hypothesis_test(x):
    record("given")
"""


# Run with `python -c`: importing the strategies touches no profile.
IMPORT_STRATEGIES = """
from hypothesis import settings
from hypothesis.errors import InvalidArgument

before = settings.get_current_profile_name()
import strategies

assert settings.get_current_profile_name() == before, settings.get_current_profile_name()
for name in {profiles!r}:
    try:
        settings.get_profile(name)
    except InvalidArgument:
        continue
    raise AssertionError(f"import strategies registered the profile {{name}}")
"""

IMPORT_PLUGIN = """
import sys
import conformance.plugin

heavy = {"torch", "hypothesis", "numpy"} & set(sys.modules)
assert not heavy, heavy
"""


@pytest.fixture
def not_on_ci(monkeypatch):
    """Hypothesis loads its `ci` profile where these are set; these checks want 'default'."""
    for var in ("CI", "TF_BUILD"):
        monkeypatch.delenv(var, raising=False)


def run_plain_project(pytester, monkeypatch, *args: str) -> list[dict]:
    record = pytester.path / f"record{len(args)}.jsonl"
    monkeypatch.setenv("INERTNESS_RECORD", str(record))
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4)
    assert "conformance profile" not in result.stdout.str()  # no header either
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.mark.parametrize("ci", [False, True], ids=["local", "ci"])
def test_plugin_imports_no_torch_and_changes_no_setting_in_other_projects(
    pytester, monkeypatch, ci
):
    if ci:
        monkeypatch.setenv("CI", "true")
    pytester.makepyfile(PLAIN_PROJECT.format(profiles=PROFILE_NAMES))
    with_plugin = run_plain_project(pytester, monkeypatch)
    without = run_plain_project(pytester, monkeypatch, "-p", "no:torch_nn_conformance")
    assert with_plugin == without
    assert not any(seen["torch"] for seen in with_plugin)


def test_the_plain_project_really_loads_the_plugin(pytester):
    pytester.makepyfile(
        "def test_loaded(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('torch_nn_conformance')\n"
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.usefixtures("not_on_ci")
def test_import_strategies_registers_and_loads_no_profile(pytester):
    result = pytester.run(sys.executable, "-c", IMPORT_STRATEGIES.format(profiles=PROFILE_NAMES))
    assert result.ret == 0, result.stderr.str()


def test_importing_the_plugin_imports_nothing_heavy(pytester):
    result = pytester.run(sys.executable, "-c", IMPORT_PLUGIN)
    assert result.ret == 0, result.stderr.str()
