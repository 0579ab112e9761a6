"""The layer registry: a kind of the user's own, registered three ways (``register``,
a ``conftest.py``, the entry point), is checked end to end through ``--target`` and
through :func:`conformance.check_layer`; bad registrations are clear errors.

The kind is ``examples/custom_kind.py``'s ``Scale`` (the README's worked example).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from torch import nn

import conformance
from conformance import layers, selection
from conformance.api import ConformanceError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
import custom_kind  # noqa: E402  (examples/ is no package)

FAST = {"max_examples": 10, "dtypes": ["float32"]}


class ScaleIgnoresBias(custom_kind.Scale):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if self.bias is None else out - self.bias


@pytest.fixture
def scale_registered():
    layers.register(custom_kind.SCALE)
    yield custom_kind.SCALE
    layers.unregister("scale")


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def test_the_kits_own_kinds_are_registered():
    kinds = layers.registry()
    assert {"linear", "dropout"} <= set(kinds)
    assert kinds["linear"].default_implementation() is nn.Linear
    assert kinds["linear"].reference_name == "torch.nn.Linear"


def test_check_layer_runs_the_generic_checks_on_a_registered_kind(scale_registered):
    report = conformance.check_layer("scale", custom_kind.Scale, **FAST)
    assert not report.failures
    assert {
        "test_registered_layers::test_layer_matches_reference[cpu-scale-float32]",
        "test_registered_layers::test_layer_has_declared_parameters[cpu-scale]",
        "test_registered_layers::test_layer_rejects_error_inputs[cpu-scale-float32]",
        "test_registered_layers::test_layer_sees_in_place_parameter_updates[cpu-scale-float32]",
        "test_module_contract::test_state_dict_round_trips[cpu-scale]",
    } <= set(report.passed)
    # Exactly the generic checks and the module contract: the kind has no suite of its own.
    assert {i.split("::")[0] for i in report.passed} == {
        "test_registered_layers",
        "test_module_contract",
    }
    with pytest.raises(ConformanceError) as info:
        conformance.check_layer("scale", ScaleIgnoresBias, **FAST)
    failed = {test_id for test_id, _ in info.value.failures}
    assert "test_registered_layers::test_layer_matches_reference[cpu-scale-float32]" in failed
    assert str(info.value).startswith("check_layer('scale', ScaleIgnoresBias): ")


def test_check_linear_is_check_layer_of_linear():
    report = conformance.check_linear(nn.Linear, **FAST)
    assert "test_registered_layers::test_layer_matches_reference[cpu-linear-float32]" in (
        report.passed
    )
    assert "test_linear::test_linear_matches_affine[cpu-float32]" in report.passed


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda: conformance.check_layer("conv9d", nn.Linear), ValueError, "'conv9d'"),
        (lambda: conformance.check_linear(nn.Linear, dtypes=["int8"]), ValueError, "int8"),
        (
            lambda: conformance.check_linear(nn.Linear, expectations=42),
            TypeError,
            "expectations must be a path",
        ),
    ],
    ids=["unknown kind", "no check runs in the dtype", "expectations not paths"],
)
def test_bad_arguments_name_the_problem(call, error, named):
    with pytest.raises(error, match=named):
        call()


def test_registering_twice_needs_replace(scale_registered):
    with pytest.raises(ValueError, match="already registered"):
        layers.register(
            layers.LayerInfo(**{**vars(custom_kind.SCALE), "implementation": nn.Linear})
        )
    layers.register(custom_kind.SCALE)  # the same entry again is a no-op


def test_a_bad_name_is_refused():
    with pytest.raises(ValueError, match="lower-case"):
        layers.LayerInfo(**{**vars(custom_kind.SCALE), "name": "My Kind"})


CONFTEST = """
from conformance import layers
from custom_kind import SCALE

layers.register(SCALE, replace=True)
"""

FAULTY = """
from custom_kind import Scale


class IgnoresBias(Scale):
    def forward(self, x):
        out = super().forward(x)
        return out if self.bias is None else out - self.bias
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    # The subprocess imports from the project directory (on its PYTHONPATH).
    pytester.makepyfile(faulty=FAULTY, custom_kind=(EXAMPLES / "custom_kind.py").read_text())
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "conformance.test_registered_layers",
        "--dtype",
        "float32",
        "--hypothesis-seed",
        "0",
        *args,
    )


def test_a_kind_registered_by_entry_point_is_a_target(project):
    """A package's entry point registers the kind: ``--target scale=...`` checks it,
    and the header lists it."""
    dist = project.mkdir("mykit-0.1.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mykit\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[torch_nn_conformance.layers]\nscale = custom_kind:SCALE\n"
    )
    good = _run(project, "--target", "scale=custom_kind:Scale")
    assert "scale (custom_kind.Scale)" in good.stdout.str()
    good.assert_outcomes(passed=4)  # the generic checks' module only
    bad = _run(project, "--target", "scale=faulty:IgnoresBias")
    bad.assert_outcomes(passed=2, failed=2)
    assert "test_layer_matches_reference[cpu-scale-float32]" in bad.stdout.str()


def test_a_kind_registered_in_conftest_is_a_target(project):
    project.makeconftest(CONFTEST)
    result = _run(project, "--target", "scale=custom_kind:Scale", "-p", "conftest")
    result.assert_outcomes(passed=4)


def test_an_entry_point_that_fails_to_load_is_named(project):
    dist = project.mkdir("broken-0.1.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[torch_nn_conformance.layers]\nnope = no_such_module_abc:KIND\n"
    )
    result = _run(project)
    assert "entry point 'nope'" in result.stderr.str() + result.stdout.str()
    assert result.ret != 0


def test_the_worked_example_reads_as_documented():
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert "examples/custom_kind.py" in readme
    assert "conformance.check_layer(" in readme
    assert textwrap.dedent(custom_kind.__doc__ or "").strip()


def test_a_dtype_independent_generic_check_runs_each_kind_in_one_dtype():
    kinds = {name: layers.get(name) for name in ("linear", "layer_norm", "conv1d")}
    every = selection.layer_params(kinds, None, with_dtype=True)
    one = selection.layer_params(kinds, None, with_dtype=True, one_dtype=True)
    assert [p.id for p in every].count("linear-float16") == 1
    assert [p.id for p in one] == ["linear-float32", "layer_norm-float32", "conv1d-float32"]
    # An explicit --dtype still chooses: the one dtype is among those it selects.
    only_half = selection.layer_params(kinds, ["float16"], with_dtype=True, one_dtype=True)
    assert [p.id for p in only_half] == ["linear-float16"]
    assert all(p.exercises == (p.values[0],) for p in one)
