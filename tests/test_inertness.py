"""Installing the kit costs nothing to projects that do not use it.

pytest loads the plugin in every project of an environment where the kit is
installed, so there it must import no torch and change no Hypothesis setting;
``import strategies`` must not touch Hypothesis' profiles either. Each check
runs in a fresh interpreter: this process has imported everything already.
"""

from __future__ import annotations

import sys

import pytest

from conformance.profiles import PROFILE_NAMES

# A project with Hypothesis tests of its own and a `device` parameter of its
# own, that never asks for the kit.
PLAIN_PROJECT = """
import sys

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.errors import InvalidArgument

def test_plugin_is_loaded_but_inert(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("torch_nn_conformance")
    assert "torch" not in sys.modules
    assert settings.get_current_profile_name() == "default"
    for name in {profiles!r}:
        with pytest.raises(InvalidArgument):
            settings.get_profile(name)

@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_own_device_parameter(device):
    assert device in ("cpu", "cuda")

@given(st.integers())
def test_own_hypothesis_test(x):
    assert settings.get_current_profile_name() == "default"
    assert "torch" not in sys.modules
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


@pytest.mark.usefixtures("not_on_ci")
def test_plugin_imports_no_torch_and_changes_no_setting_in_other_projects(pytester):
    pytester.makepyfile(PLAIN_PROJECT.format(profiles=PROFILE_NAMES))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=4)
    assert "conformance profile" not in result.stdout.str()  # no header either


@pytest.mark.usefixtures("not_on_ci")
def test_import_strategies_registers_and_loads_no_profile(pytester):
    result = pytester.run(sys.executable, "-c", IMPORT_STRATEGIES.format(profiles=PROFILE_NAMES))
    assert result.ret == 0, result.stderr.str()


def test_importing_the_plugin_imports_nothing_heavy(pytester):
    result = pytester.run(sys.executable, "-c", IMPORT_PLUGIN)
    assert result.ret == 0, result.stderr.str()
