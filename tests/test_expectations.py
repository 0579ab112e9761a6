"""Known deviations: expectations files turn known failures into xfail or skip.

Small suites run through pytester; the kit's own ``known_deviations.toml``
is checked against the real suites (its ids exist; on ``meta`` it turns the
known failures into xfail and skip, and without it they fail).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import settings

import conformance
from conformance.expectations import BUILTIN_FILE, Deviation, as_paths, load
from conformance.modes import MODES
from conformance.node_ids import normalized_id

ROOT = Path(conformance.__file__).resolve().parent.parent

# Each test leaves a file behind when its body runs.
SUITE = """
import pathlib
import pytest
from hypothesis import given, strategies as st

def ran(name):
    pathlib.Path(name + ".ran").touch()

@pytest.mark.supports_meta
def test_broken(device, dtype):
    ran(f"broken-{device.type}-{dtype}".replace("torch.", ""))
    assert False, "departs"

@pytest.mark.supports_meta
def test_fine(device):
    ran(f"fine-{device.type}")

@given(x=st.integers())
def test_property_broken(device, x):
    ran("property")
    assert x < 0

@pytest.mark.parametrize("op", ["add_", "pow_"])
def test_op(device, op):
    ran(op)
    assert op != "pow_"
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def expectations(pytester: pytest.Pytester, text: str, name: str = "expected.toml") -> str:
    path = pytester.path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def outcomes(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    reprec = pytester.inline_run("-p", "no:cacheprovider", *args)
    result = {}
    for rep in reprec.getreports("pytest_runtest_logreport"):
        name = rep.nodeid.split("::")[-1]
        if rep.when == "call" or (rep.when == "setup" and not rep.passed):
            if hasattr(rep, "wasxfail"):
                result[name] = "xpassed" if rep.passed else "xfailed"
            else:
                result[name] = rep.outcome
    return result


def ran(pytester: pytest.Pytester) -> set[str]:
    return {p.stem for p in pytester.path.glob("*.ran")}


def test_entry_matches_by_id_prefix_and_makes_xfail(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_broken[cpu"
        action = "xfail"
        reason = "known"
        """,
    )
    result = outcomes(pytester, "--device", "cpu", "--conformance-expectations", file)
    assert result["test_broken[cpu-float32]"] == "xfailed"
    assert result["test_broken[cpu-float64]"] == "xfailed"
    assert result["test_property_broken[cpu]"] == "failed"
    assert result["test_fine[cpu]"] == "passed"


def test_device_and_dtype_narrow_the_match(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_broken"
        device = "meta"
        dtype = "float64"
        action = "xfail"
        reason = "only meta, float64"
        """,
    )
    result = outcomes(pytester, "--device", "cpu,meta", "--conformance-expectations", file)
    assert result["test_broken[meta-float64]"] == "xfailed"
    assert result["test_broken[meta-float32]"] == "failed"
    assert result["test_broken[cpu-float64]"] == "failed"


def test_skip_action_does_not_run_the_test(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_op[cpu-pow_]"
        action = "skip"
        reason = "pow_ is known to depart"
        """,
    )
    reprec = pytester.inline_run("--device", "cpu", "--conformance-expectations", file)
    skipped = [r for r in reprec.getreports("pytest_runtest_logreport") if r.skipped]
    assert [r.nodeid.split("::")[-1] for r in skipped] == ["test_op[cpu-pow_]"]
    assert "pow_ is known to depart" in skipped[0].longrepr[2]
    assert "expected.toml#1" in skipped[0].longrepr[2]
    assert "pow_" not in ran(pytester)
    assert "add_" in ran(pytester)


@pytest.mark.parametrize(("spec", "applies"), [(">=2.1", True), ("<2.0", False)])
def test_torch_versions_narrow_the_match(pytester, spec, applies):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        f"""
        [[deviation]]
        id = "test_suite::test_op[cpu-pow_]"
        torch = "{spec}"
        action = "xfail"
        reason = "versions"
        """,
    )
    result = outcomes(pytester, "--device", "cpu", "--conformance-expectations", file)
    assert result["test_op[cpu-pow_]"] == ("xfailed" if applies else "failed")


def test_skip_expected_skips_what_would_be_xfailed_without_running_it(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_property_broken"
        action = "xfail"
        reason = "known"
        """,
    )
    args = ("--device", "cpu", "--conformance-expectations", file, "-k", "property")
    assert outcomes(pytester, *args) == {"test_property_broken[cpu]": "xfailed"}
    assert "property" in ran(pytester)  # xfail: Hypothesis ran (and shrank) it
    (pytester.path / "property.ran").unlink()
    assert outcomes(pytester, *args, "--conformance-skip-expected") == {
        "test_property_broken[cpu]": "skipped"
    }
    assert "property" not in ran(pytester)  # costs nothing


UNMATCHED = """
[[deviation]]
id = "test_suite::test_broken"
action = "xfail"
reason = "matches"

[[deviation]]
id = "test_suite::test_renamed_long_ago"
action = "xfail"
reason = "stale"
"""


def test_entries_matching_nothing_are_reported(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(pytester, UNMATCHED)
    result = pytester.runpytest(
        "--device", "cpu", "--conformance-expectations", file, "-k", "broken"
    )
    result.stdout.fnmatch_lines(
        [
            "*conformance expectations: 1 unmatched*",
            "warning: *expected.toml#2: id 'test_suite::test_renamed_long_ago' matches no test",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_property_broken fails
    result = pytester.runpytest(
        "--device", "cpu", "--conformance-expectations", file, "-k", "test_broken"
    )
    assert result.ret == pytest.ExitCode.OK  # a warning only


def test_strict_expectations_fail_on_unmatched_entries(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(pytester, UNMATCHED)
    args = ("--device", "cpu", "--conformance-expectations", file, "-k", "test_broken")
    result = pytester.runpytest(*args, "--conformance-strict-expectations")
    result.stdout.fnmatch_lines(["error: *expected.toml#2: id *matches no test"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(xfailed=2)


def test_strict_expectations_fail_an_xfail_that_passes(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_fine"
        action = "xfail"
        reason = "was broken once"
        """,
    )
    args = ("--device", "cpu", "--conformance-expectations", file, "-k", "fine")
    assert outcomes(pytester, *args) == {"test_fine[cpu]": "xpassed"}
    assert outcomes(pytester, *args, "--conformance-strict-expectations") == {
        "test_fine[cpu]": "failed"
    }


def test_strict_unmatched_entries_fail_an_xdist_run_too(pytester):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(pytester, UNMATCHED)
    args = ("-n", "2", "--device", "cpu", "--conformance-expectations", file, "-k", "test_broken")
    result = pytester.runpytest(*args, "--conformance-strict-expectations")
    result.assert_outcomes(xfailed=2)
    result.stdout.fnmatch_lines(["error: *expected.toml#2: *matches no test"])
    result.stdout.no_fnmatch_line("*expected.toml#1*")  # the workers saw it match
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_ids_match_whatever_directory_the_suite_was_collected_from(pytester):
    pytester.mkpydir("pkg")
    (pytester.path / "pkg" / "test_suite.py").write_text(SUITE)
    file = expectations(
        pytester,
        """
        [[deviation]]
        id = "test_suite::test_op[cpu-pow_]"
        action = "xfail"
        reason = "known"
        """,
    )
    result = outcomes(pytester, "pkg", "--device", "cpu", "--conformance-expectations", file)
    assert result["test_op[cpu-pow_]"] == "xfailed"


def test_files_given_come_before_the_builtin_and_the_first_match_applies(pytester):
    pytester.makepyfile(test_suite=SUITE)
    first = expectations(
        pytester,
        '[[deviation]]\nid = "test_suite::test_op"\naction = "skip"\nreason = "first"\n',
        "a.toml",
    )
    second = expectations(
        pytester,
        '[[deviation]]\nid = "test_suite::test_op[cpu-pow_]"\naction = "xfail"\nreason = "x"\n',
        "b.toml",
    )
    args = ("--device", "cpu", "-k", "test_op")
    result = outcomes(pytester, *args, "--conformance-expectations", first,
                      "--conformance-expectations", second)  # fmt: skip
    assert result == {"test_op[cpu-add_]": "skipped", "test_op[cpu-pow_]": "skipped"}


# -- bad files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[deviation]\nid=", "not valid TOML"),
        ('[[deviation]]\nid = "x"\naction = "xfail"\n', "#1: 'reason' is required"),
        ('[[deviation]]\nid = "x"\naction = "fail"\nreason = "r"\n', "action = 'fail'; expected"),
        ('[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\ndevcie = "cpu"\n', "['devcie']"),
        (
            '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\ntorch = "2.x"\n',
            "torch = '2.x'",
        ),
        ('[[deviation]]\nid = ""\naction = "skip"\nreason = "r"\n', "id must be a non-empty"),
        ('[deviation]\nid = "x"\n', "must be [[deviation]]"),
        ('[[deviations]]\nid = "x"\n', "unknown top-level key(s) ['deviations']"),
        (
            '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\ndevice = "tpu"\n',
            "expected.toml#1: device = 'tpu' is not a device this kit knows; expected cpu",
        ),
        (
            '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\ndevice = "cuda:x"\n',
            "expected.toml#1: device = 'cuda:x' is not a device",
        ),
        (
            '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\n'
            '[[deviation]]\nid = "y"\naction = "skip"\nreason = "r"\ndtype = "float8"\n',
            "expected.toml#2: dtype = 'float8' is not a dtype; expected",
        ),
        (
            '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\nmode = "turbo"\n',
            "expected.toml#1: mode = 'turbo' is not an execution mode; expected eager, compile",
        ),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_the_entry(pytester, text, message):
    pytester.makepyfile(test_suite=SUITE)
    file = expectations(pytester, text)
    result = pytester.runpytest("--device", "cpu", "--conformance-expectations", file)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "expected.toml" in result.stderr.str()


def test_a_missing_file_is_a_usage_error(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--conformance-expectations", "nowhere.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "nowhere.toml" in result.stderr.str()


def test_device_and_dtype_are_read_in_their_canonical_spelling(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(
        '[[deviation]]\nid = "x"\naction = "skip"\nreason = "r"\n'
        'device = " CUDA:1"\ndtype = "torch.float16"\nmode = "jit"\n'
    )
    (entry,) = load(str(path))  # a str path is a path, too
    assert (entry.device, entry.dtype, entry.mode) == ("cuda:1", "float16", "jit")
    assert entry.matches("x[cuda:1-float16-jit]", {"device": "cuda:1", "dtype": "float16",
                                                   "mode": "jit"}, lambda: None)  # fmt: skip


@pytest.mark.parametrize("given", ["a.toml", Path("a.toml")])
def test_as_paths_takes_one_path_as_one_path(given):
    assert as_paths(given) == [Path("a.toml")]


def test_as_paths_takes_a_sequence_of_paths_in_order():
    assert as_paths(["b.toml", Path("a.toml")]) == [Path("b.toml"), Path("a.toml")]
    assert as_paths(()) == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (3, "expectations must be a path or a list of paths, not int"),
        (b"a.toml", "expectations must be a path or a list of paths, not bytes"),
        ({"a.toml"}, "not set (the order matters: the first matching entry applies)"),
        (["a.toml", 3], "expectations[1] must be a path (str or os.PathLike), not int"),
    ],
)
def test_as_paths_names_the_argument_when_given_something_else(given, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        as_paths(given)
    with pytest.raises(TypeError, match=r"^files"):
        as_paths(given, name="files")


def test_device_condition_takes_a_type_or_a_name():
    def entry(device: str) -> Deviation:
        return Deviation(id="t", action="xfail", reason="r", source="s", device=device)

    def matches(e: Deviation, device: str) -> bool:
        return e.matches("t[x]", {"device": device}, lambda: None)

    assert matches(entry("cuda"), "cuda:1")
    assert matches(entry("cuda"), "cuda")
    assert matches(entry("cuda:1"), "cuda:1")
    assert not matches(entry("cuda:1"), "cuda:0")
    assert not matches(entry("cuda:1"), "cuda")
    assert not entry("cuda").matches("t[x]", {"device": None}, lambda: None)  # no device param


# -- the kit's own file ------------------------------------------------------------------


def test_the_builtin_file_is_loaded_in_conformance_runs_and_can_be_turned_off(pytester):
    pytester.makepyfile(test_suite=SUITE)
    on = pytester.inline_run("--device", "cpu", "-k", "fine")
    plugin = on.getcalls("pytest_sessionfinish")[0].session.config.pluginmanager.get_plugin(
        "conformance-expectations"
    )
    assert plugin.files == ["conformance/known_deviations.toml (built-in)"]
    assert plugin.entries == load(BUILTIN_FILE, builtin=True)
    assert plugin.unmatched() == []  # the built-in entries are about meta: no warning
    off = pytester.inline_run(
        "--device", "cpu", "-k", "fine", "--conformance-no-builtin-expectations"
    )
    plugin = off.getcalls("pytest_sessionfinish")[0].session.config.pluginmanager.get_plugin(
        "conformance-expectations"
    )
    assert plugin.entries == []


def test_no_expectations_outside_conformance_runs(pytester):
    pytester.makepyfile("def test_plain():\n    pass\n")
    reprec = pytester.inline_run()
    config = reprec.getcalls("pytest_sessionfinish")[0].session.config
    assert not config.pluginmanager.has_plugin("conformance-expectations")


def run_suites(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEsxX", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_known_deviations_apply_to_a_module_named_from_outside_the_rootdir(pytester):
    """pytest gives such a module's tests ids without a path (``::test_x``)."""
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.test_linear", "-k", "assigned_weight", "--device", "cpu",
        "--dtype", "float32", "--mode", "jit", "-p", "no:cacheprovider", "-rx",
    )  # fmt: skip
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*known deviation (conformance/known_deviations.toml#*"])


DOUBLES = """
import torch.nn.functional as F
from torch import nn

class Doubles(nn.Linear):
    def forward(self, x):
        return 2 * F.linear(x, self.weight, self.bias)
"""


@pytest.mark.parametrize(
    ("wanted", "outcome"),
    [
        ("broken:Doubles", "xfailed"),
        ("linear", "xfailed"),
        ("dropout", "failed"),
    ],
)
def test_an_entry_can_name_the_target(pytester, wanted, outcome):
    """Entries for one implementation: the target as given, its class, or its kind.
    The report's records name the target too."""
    pytester.makepyfile(broken=DOUBLES)
    file = expectations(
        pytester,
        f"""
        [[deviation]]
        id = "test_linear::test_linear_classic_example"
        target = "{wanted}"
        action = "xfail"
        reason = "Doubles doubles"
        """,
    )
    report = pytester.path / "report"
    args = ["--pyargs", "conformance.test_linear", "-k", "classic", "--device", "cpu",
            "--dtype", "float32", "--target", "linear=broken:Doubles",
            "--conformance-expectations", file, "--conformance-report", str(report)]  # fmt: skip
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(**{outcome: 1})
    (record,) = json.loads((report / "conformance.json").read_text())["records"]
    assert record["target"] == "linear=broken:Doubles"


def test_every_builtin_entry_names_tests_of_the_suites():
    # Every device and mode, so that every id an entry can name is collected.
    modes = ",".join(MODES)
    args = ("conformance", "--collect-only", "-q", "--device", "cpu,cuda,meta", "--mode", modes)
    result = run_suites(*args)
    assert result.returncode == 0, result.stdout[-2000:]
    ids = [normalized_id(line) for line in result.stdout.splitlines() if "::" in line]
    for entry in load(BUILTIN_FILE, builtin=True):
        assert any(i.startswith(entry.id) for i in ids), f"{entry.source}: {entry.id}"
        assert entry.torch, f"{entry.source}: say which torch versions it was verified on"


META_DEVIATIONS = (
    "conformance/test_broadcasting_inplace.py::test_inplace_op_follows_broadcast_rule[meta-pow_]",
    "conformance/test_broadcasting_parity.py::test_broadcasting_matches_cpu[meta-float16-inplace]",
    "conformance/test_broadcasting_parity.py::test_broadcasting_matches_cpu[meta-bfloat16-inplace]",
)


@pytest.mark.skipif(
    not torch.__version__.startswith("2.13."), reason="the built-in entries are for torch 2.13"
)
def test_builtin_file_covers_the_known_meta_departures_of_torch_2_13():
    args = (*META_DEVIATIONS, "--device", "cpu,meta")
    without = run_suites(*args, "--conformance-no-builtin-expectations")
    # The departure is real. (Whether the parity cases, which draw their op at
    # random, reach it depends on the examples: the entries skip them.)
    assert f"FAILED {META_DEVIATIONS[0]}" in without.stdout, without.stdout[-3000:]
    with_file = run_suites(*args, "--conformance-strict-expectations")
    assert with_file.returncode == 0, with_file.stdout[-3000:]
    assert "1 xfailed" in with_file.stdout
    assert "2 skipped" in with_file.stdout
    assert "known deviation (conformance/known_deviations.toml#1)" in with_file.stdout
