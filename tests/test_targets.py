"""``--target``: the suites run against another implementation; bad targets are usage
errors; checks that exercise nothing targeted are deselected.

Driven through pytester on the installed suites (``--pyargs conformance...``),
with target modules written into the pytester directory.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from hypothesis import settings
from torch import nn

import conformance.test_dropout as dropout_suite
from conformance import targets
from conformance.api import _suite_checks

# Imported now, before any in-process run: pytester drops the modules a run
# imports afresh, and a later import would make new check objects.
SUITE_CHECKS = list(_suite_checks())

TARGETS = """
import torch
import torch.nn.functional as F
from torch import nn


class Good(nn.Linear):
    pass


class Doubles(nn.Linear):
    def forward(self, x):
        return 2 * F.linear(x, self.weight, self.bias)


def factory(in_features, out_features, bias=True, device=None, dtype=None):
    return nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)


NOT_CALLABLE = 42


class TransposedWeight(nn.Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None


class NoBias(nn.Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))


def not_a_module(in_features, out_features, bias=True, device=None, dtype=None):
    return torch.zeros(out_features, in_features)


class NoDeviceArgument(nn.Linear):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__(in_features, out_features, bias=bias)


class Dropout(nn.Dropout):
    pass


class DropoutWithoutInplace(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    """In-process runs may load a profile (Hypothesis' own plugin never puts it back)."""
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(mytargets=TARGETS)
    pytester.syspathinsert()
    return pytester


def outcomes(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    reprec = pytester.inline_run("-p", "no:cacheprovider", *args)
    passed, skipped, failed = reprec.listoutcomes()
    result = {r.nodeid.split("::")[-1]: "passed" for r in passed}
    result |= {r.nodeid.split("::")[-1]: "skipped" for r in skipped}
    result |= {r.nodeid.split("::")[-1]: "failed" for r in failed}
    return result


CLASSIC = ["--pyargs", "conformance.test_linear", "-k", "classic", "--device", "cpu"]


def test_without_a_target_the_suite_checks_torch(project):
    result = outcomes(project, *CLASSIC, "--dtype", "float32")
    assert result == {"test_linear_classic_example[cpu-float32]": "passed"}


@pytest.mark.parametrize(
    ("target", "outcome"),
    [
        ("mytargets:Good", "passed"),
        ("mytargets:factory", "passed"),
        ("mytargets:Doubles", "failed"),
    ],
)
def test_the_target_is_what_the_linear_checks_build(project, target, outcome):
    """A faulty target fails the check stock torch passes: the check built the target.
    A factory function (an adapter) is a target like a class."""
    result = outcomes(project, *CLASSIC, "--dtype", "float32", "--target", f"linear={target}")
    assert result == {"test_linear_classic_example[cpu-float32]": outcome}


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("linear=no_such_module_xyz:Linear", "cannot import 'no_such_module_xyz'"),
        ("linear=mytargets:Missing", "has no attribute 'Missing'"),
        ("linear=mytargets:NOT_CALLABLE", "42 is not callable"),
        ("linear=mytargets:TransposedWeight", "weight.shape=(3, 2)"),
        ("linear=mytargets:NoBias", "has no bias attribute"),
        ("linear=mytargets:not_a_module", "returned Tensor, not an nn.Module"),
        ("linear=mytargets:NoDeviceArgument", "raised TypeError"),
        ("dropout=mytargets:DropoutWithoutInplace", "raised TypeError"),
        ("linear", "expected KIND=module.path:Name"),
        ("conv=mytargets:Good", "unknown kind 'conv'"),
        ("linear=mytargets", "is not module.path:Name"),
    ],
)
def test_a_bad_target_is_a_usage_error_naming_it(project, target, problem):
    result = project.runpytest("--pyargs", "conformance.test_linear", "--target", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"--target {target.split('=')[0]}" in err, err
    assert problem in err, err


def test_one_target_per_kind(project):
    result = project.runpytest(
        "--pyargs",
        "conformance.test_linear",
        "--target",
        "linear=mytargets:Good",
        "--target",
        "linear=mytargets:factory",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "give one per kind" in result.stderr.str()


def collected(pytester: pytest.Pytester, *args: str) -> tuple[set[str], int]:
    """The ids a collection selects, and how many it deselected."""
    reprec = pytester.inline_run("-p", "no:cacheprovider", "--collect-only", *args)
    items = [
        "::".join([i.nodeid.split("::")[0].rsplit("/", 1)[-1], i.nodeid.split("::")[-1]])
        for i in reprec.getcalls("pytest_collection_finish")[0].session.items
    ]
    deselected = sum(len(c.items) for c in reprec.getcalls("pytest_deselected"))
    return set(items), deselected


def _checks_taking(fixture: str) -> set[str]:
    """``module.py::test_name`` of every suite check whose signature takes ``fixture``."""
    found = set()
    for module, name, fn in SUITE_CHECKS:
        inner = getattr(getattr(fn, "hypothesis", None), "inner_test", fn)
        if fixture in inspect.signature(inner).parameters:
            found.add(f"{module}.py::{name}")
    return found


def _generic_checks_for(kind: str) -> set[str]:
    """Generic checks over the registry (they take ``layer``) that apply to ``kind``, and
    the module contract checks (``contract_subject``), which run for every kind."""
    from conformance import layers

    info = layers.get(kind)
    found = set()
    for module, name, fn in SUITE_CHECKS:
        inner = getattr(getattr(fn, "hypothesis", None), "inner_test", fn)
        if "contract_subject" in inspect.signature(inner).parameters:
            found.add(f"{module}.py::{name}")
            continue
        if "layer" not in inspect.signature(inner).parameters:
            continue
        requires = next(
            (m.args for m in getattr(fn, "pytestmark", []) if m.name == "layer_requires"), ()
        )
        if all(info.has(r) for r in requires):
            found.add(f"{module}.py::{name}")
    return found


def _without_plain_dropout() -> set[str]:
    """Checks of the dropout suite whose kinds leave plain ``Dropout`` out."""
    found = set()
    for name, fn in inspect.getmembers(dropout_suite, inspect.isfunction):
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "kind":
                kinds = {p.values[0].name for p in mark.args[1]}
                if "Dropout" not in kinds:
                    found.add(f"test_dropout.py::{name}")
    return found


def _checks_of(ids: set[str]) -> set[str]:
    return {i.split("[")[0] for i in ids}


def test_a_linear_target_keeps_exactly_the_checks_that_build_linear(project):
    everything, none = collected(project, "--pyargs", "conformance", "--device", "cpu")
    kept, deselected = collected(
        project, "--pyargs", "conformance", "--device", "cpu", "--target", "linear=mytargets:Good"
    )
    # Without a target only parity checks' repeated skips are deselected
    # (no parity device here: one skip per check).
    assert all("no-parity-device" in i for i in everything if "parity" in i.split("::")[0])
    assert _checks_of(kept) == _checks_taking("linear_cls") | _generic_checks_for("linear")
    assert kept < everything
    assert deselected == len(everything) + none - len(kept) > 0


def test_a_dropout_target_keeps_only_the_plain_dropout_cases(project):
    everything, none = collected(project, "--pyargs", "conformance", "--device", "cpu")
    kept, deselected = collected(
        project,
        "--pyargs",
        "conformance",
        "--device",
        "cpu",
        "--target",
        "dropout=mytargets:Dropout",
    )
    without = _without_plain_dropout()
    assert without  # the channel and alpha checks
    assert _checks_of(kept) == (_checks_taking("dropout_cls") - without) | _generic_checks_for(
        "dropout"
    )
    dropout_cases = {i for i in kept if i.startswith("test_dropout.py")}
    assert dropout_cases
    assert all("-Dropout]" in i or i.endswith("-Dropout") for i in dropout_cases), dropout_cases
    other_kinds = {k.name for k in dropout_suite.KINDS} - {"Dropout"}
    assert not any(f"-{k}]" in i for i in kept for k in other_kinds)
    assert deselected == len(everything) + none - len(kept)


def test_both_targets_keep_the_union(project):
    kept, _ = collected(
        project,
        "--pyargs",
        "conformance",
        "--device",
        "cpu",
        "--target",
        "dropout=mytargets:Dropout",
        "--target",
        "linear=mytargets:Good",
    )
    both = _checks_taking("linear_cls") | _checks_taking("dropout_cls")
    generic = _generic_checks_for("linear") | _generic_checks_for("dropout")
    assert _checks_of(kept) == (both - _without_plain_dropout()) | generic


def test_the_header_names_the_targets(project):
    result = project.runpytest(*CLASSIC, "--target", "linear=mytargets:Good")
    assert "conformance targets: linear=mytargets:Good" in result.stdout.str()


# --- the module's own functions -------------------------------------------------


def test_check_contract_accepts_torch_layers():
    targets.check_contract("linear", nn.Linear)
    targets.check_contract("dropout", nn.Dropout)


def test_exercised_kinds_prefers_the_mark_over_the_fixtures():
    assert targets.exercised_kinds(["linear_cls", "device"], None) == {"linear"}
    assert targets.exercised_kinds(["dropout_cls"], ()) == set()
    assert targets.exercised_kinds(["device"], ("linear",)) == {"linear"}


class _CpuOnly(nn.Linear):
    def __init__(self, *args, device=None, **kwargs):
        if torch.device(device or "cpu").type != "cpu":
            raise RuntimeError("CPU only")
        super().__init__(*args, device=device, **kwargs)


def test_the_contract_is_probed_on_the_device_given():
    targets.check_contract("linear", _CpuOnly, "cpu")
    with pytest.raises(targets.TargetError, match=r"device='meta'.* raised RuntimeError: CPU only"):
        targets.check_contract("linear", _CpuOnly, "meta")
