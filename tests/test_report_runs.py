"""Reports of real runs of the suites: under pytest-xdist, in shards, merged, diffed.

Each run is a separate ``python -m pytest`` process over a quick part of
the real suites (on ``cpu`` and ``meta``, so records differ by device), made
once per module. The CLI is run as users run it, ``python -m conformance.report``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import conformance
from conformance.report import io as report_io
from conformance.report.diff import diff

# The installed package's parent: the suites run from there, so a tox env
# (which installs the kit) imports the copy it installed.
ROOT = Path(conformance.__file__).resolve().parent.parent
CHECKOUT = Path(__file__).resolve().parent.parent
SUBSET = ("conformance/test_broadcasting_shapes.py", "conformance/test_train_eval.py")
DEVICES = ("--device", "cpu,meta")


def clean_env() -> dict[str, str]:
    """This process may itself be an xdist worker: the runs must not think so."""
    env = dict(os.environ)
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(var, None)
    return env


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_suites(out: Path, *args: str) -> dict:
    result = run("-m", "pytest", *SUBSET, *DEVICES, "-p", "no:cacheprovider", "-q",
                 "--conformance-report", str(out), *args)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return report_io.load(out / "conformance.json")


def report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run("-m", "conformance.report", *args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The same tests run serially, under xdist with 2 workers, and as 2 shards."""
    base = tmp_path_factory.mktemp("runs")
    variants = {
        "serial": (),
        "xdist": ("-n", "2"),
        "shard1": ("--conformance-shard", "1/2"),
        "shard2": ("--conformance-shard", "2/2"),
    }
    return {name: (base / name, run_suites(base / name, *args)) for name, args in variants.items()}


def essence(report: dict) -> dict[str, tuple]:
    """What must not depend on how a run was split: per test id, the outcome,
    device, dtype and (derandomized) the number of examples run."""
    return {
        r["id"]: (r["outcome"], r["device"], r["dtype"], r["examples"]) for r in report["records"]
    }


def test_a_real_run_follows_the_schema(runs):
    directory, report = runs["serial"]
    assert (
        report_io.validation_errors(json.loads((directory / "conformance.json").read_text())) == []
    )
    records = report["records"]
    assert {r["device"] for r in records} == {"cpu", "meta", None}  # None: no device parameter
    assert any(r["outcome"] == "passed" and r["examples"] for r in records)
    assert any(r["outcome"] == "skipped" for r in records)  # checks that need values, on meta
    (run_,) = report["runs"]
    assert run_["environment"]["devices"] == ["cpu", "meta"]
    assert run_["environment"]["xdist_workers"] == 0


def test_an_xdist_run_leaves_exactly_one_report(runs):
    directory, report = runs["xdist"]
    assert sorted(p.name for p in directory.iterdir()) == [
        "conformance.html",
        "conformance.json",
        "conformance.md",
    ]
    ids = [r["id"] for r in report["records"]]
    assert len(ids) == len(set(ids))  # each test once: the controller alone aggregates
    assert {r.get("worker") for r in report["records"]} == {"gw0", "gw1"}
    assert report["runs"][0]["environment"]["xdist_workers"] == 2
    # Nothing lost between the workers and the controller.
    assert essence(report) == essence(runs["serial"][1])


def test_shards_are_disjoint_and_together_are_the_full_run(runs):
    one, two = (set(essence(runs[name][1])) for name in ("shard1", "shard2"))
    assert one
    assert two
    assert not one & two
    assert one | two == set(essence(runs["serial"][1]))
    assert runs["shard1"][1]["runs"][0]["shard"] == "1/2"


def test_merging_two_shards_equals_the_single_run(runs, tmp_path):
    # A directory or the file itself.
    shards = (str(runs["shard1"][0]), str(runs["shard2"][0] / "conformance.json"))
    result = report_cli("merge", *shards, "-o", str(tmp_path / "merged"))
    assert result.returncode == 0, result.stderr
    assert "merged 2 report(s), 2 run(s)" in result.stdout
    merged = report_io.load(tmp_path / "merged" / "conformance.json")
    single = runs["serial"][1]
    assert essence(merged) == essence(single)
    assert merged["summary"] == single["summary"]
    assert [r["shard"] for r in merged["runs"]] == ["1/2", "2/2"]
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == [
        "conformance.html",
        "conformance.json",
        "conformance.md",
    ]
    # The matrix of the merged report is the single run's.
    md = (tmp_path / "merged" / "conformance.md").read_text()
    single_md = (runs["serial"][0] / "conformance.md").read_text()

    def matrix(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("| <code>")]

    assert matrix(md) == matrix(single_md)


def test_merge_refuses_a_test_twice_under_one_label(runs, tmp_path):
    shard = str(runs["shard1"][0])
    result = report_cli("merge", shard, shard, "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "appear more than once under one label" in result.stderr
    assert not (tmp_path / "out").exists()


def test_merge_keeps_runs_of_different_labels_apart(runs, tmp_path):
    # The same tests from another configuration (here: relabelled) are kept side by side.
    other = json.loads((runs["serial"][0] / "conformance.json").read_text())
    other["runs"][0]["label"] = "torch 9.9 (other runner)"
    (tmp_path / "other.json").write_text(json.dumps(other))
    result = report_cli("merge", str(runs["serial"][0]), str(tmp_path / "other.json"),
                        "-o", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    merged = report_io.load(tmp_path / "out" / "conformance.json")
    assert len(merged["records"]) == 2 * len(other["records"])
    header = next(
        line
        for line in (tmp_path / "out" / "conformance.md").read_text().splitlines()
        if line.startswith("| check |")
    )
    assert "torch 9.9 (other runner) · cpu" in header


def malformed(good: dict) -> dict[str, str]:
    missing = json.loads(json.dumps(good))
    del missing["records"][0]["outcome"]
    bad_outcome = json.loads(json.dumps(good))
    bad_outcome["records"][0]["outcome"] = "exploded"
    bad_run = json.loads(json.dumps(good))
    bad_run["records"][0]["run"] = 7
    future = {**good, "schema": "conformance-report/3"}
    return {
        "truncated.json": json.dumps(good)[:500],
        "missing.json": json.dumps(missing),
        "bad_outcome.json": json.dumps(bad_outcome),
        "bad_run.json": json.dumps(bad_run),
        "future.json": json.dumps(future),
        "list.json": "[1, 2, 3]",
    }


def test_merge_validates_every_input_and_refuses_malformed_ones(runs, tmp_path):
    good = json.loads((runs["serial"][0] / "conformance.json").read_text())
    expected = {
        "truncated.json": "not valid JSON",
        "missing.json": "'outcome' is a required property",
        "bad_outcome.json": "'exploded' is not one of",
        "bad_run.json": "names run 7, but there are 1 runs",
        "future.json": "schema 'conformance-report/3' is not one this kit reads",
        "list.json": "is not of type 'object'",
    }
    for name, text in malformed(good).items():
        (tmp_path / name).write_text(text)
        result = report_cli("merge", str(runs["serial"][0]), str(tmp_path / name),
                            "-o", str(tmp_path / "out"))  # fmt: skip
        assert result.returncode == 2, name
        assert name in result.stderr
        assert expected[name] in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_validate_command_accepts_real_reports(runs):
    result = report_cli("validate", *(str(runs[name][0]) for name in runs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("valid conformance-report/2") == 4
    assert result.stderr == ""  # complete runs: no warning


def test_diff_of_two_runs_of_the_same_tests_shows_no_change(runs):
    result = report_cli("diff", str(runs["serial"][0]), str(runs["xdist"][0]))
    assert result.returncode == 0, result.stderr
    assert "Compared by test id." in result.stdout
    assert "Outcome changed (0):\n  none" in result.stdout
    assert "Environment changes:\n  xdist_workers: 0 -> 2" in result.stdout


def on_device(report: dict, device: str) -> dict:
    records = [r for r in report["records"] if r["device"] in (device, None)]
    return {**report, "records": records}


def test_diff_lines_up_one_device_against_another(runs):
    report = runs["serial"][1]
    cpu, meta = on_device(report, "cpu"), on_device(report, "meta")
    result = diff(cpu, meta, compare_devices=("cpu", "meta"))
    changes = {key: (a["outcome"], b["outcome"]) for key, a, b in result.changed}
    # Checks that need values are skipped on meta: passed -> skipped, by case.
    assert changes
    assert set(changes.values()) == {("passed", "skipped")}
    assert all("[cpu" not in key and "[meta" not in key for key in changes)
    # Checks that run on meta too line up with their CPU selves: no "only in".
    assert not [r for r in result.only_a + result.only_b if r["device"] is not None]


def test_diff_fails_on_regression_when_asked(runs, tmp_path):
    after = json.loads((runs["serial"][0] / "conformance.json").read_text())
    victim = next(r for r in after["records"] if r["outcome"] == "passed")
    victim.update(outcome="failed", message="AssertionError: out=1, but should be 2")
    for summary in (after["summary"], after["runs"][0]["summary"]):  # validate checks both
        summary["passed"] -= 1
        summary["failed"] += 1
    (tmp_path / "after.json").write_text(json.dumps(after))
    before = str(runs["serial"][0])
    plain = report_cli("diff", before, str(tmp_path / "after.json"))
    assert plain.returncode == 0
    assert f"  passed -> failed   {victim['id']}  -- AssertionError: out=1" in plain.stdout
    strict = report_cli("diff", before, str(tmp_path / "after.json"), "--fail-on-regression")
    assert strict.returncode == 1
    assert "Newly failing in" in strict.stdout


def test_the_report_command_imports_no_torch(runs):
    # The merge job of a CI workflow installs the kit without torch.
    code = (
        "import sys\n"
        "from conformance.report.__main__ import main\n"
        f"assert main(['validate', {str(runs['serial'][0])!r}]) == 0\n"
        "heavy = {'torch', 'numpy', 'hypothesis'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = run("-c", code)
    assert result.returncode == 0, result.stderr


def test_the_committed_sample_is_a_valid_report_of_a_real_cpu_run():
    sample = CHECKOUT / "reports" / "sample"
    report = report_io.load(sample / "conformance.json")
    (run_,) = report["runs"]
    assert run_["environment"]["devices"] == ["cpu"]
    assert run_["exitstatus"] == 0
    assert report["summary"]["total"] > 250
    assert report["summary"]["passed"] > 200
    assert {p.name for p in sample.iterdir()} == {
        "conformance.json",
        "conformance.md",
        "conformance.html",
    }
