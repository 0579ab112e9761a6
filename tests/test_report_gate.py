"""``diff A B --fail-on-regression``: a gate that an interrupted, empty or
partial run B cannot pass by running less (unless ``--allow-missing``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import a_record, a_run, a_v1_report

from conformance.report.__main__ import main

IDS = ("test_m::test_a[cpu]", "test_m::test_b[cpu]", "test_m::test_c[cpu]")


def write(path: Path, report: dict) -> str:
    path.write_text(json.dumps(report))
    return str(path)


@pytest.fixture
def before(tmp_path: Path) -> str:
    return write(tmp_path / "before.json", a_v1_report([a_record(i) for i in IDS]))


def gate(capsys, *args: str) -> tuple[int, str]:
    status = main(["diff", *args, "--fail-on-regression"])
    return status, capsys.readouterr().err


def test_an_interrupted_run_fails_the_gate(before, tmp_path, capsys):
    # Interrupted after the first test: what ran passed, the rest never ran.
    after = a_v1_report([a_record(IDS[0])], [a_run(interrupted=True, exitstatus=2)])
    status, err = gate(capsys, before, after_path := write(tmp_path / "after.json", after))
    assert status == 1
    assert f"error: {after_path} is incomplete: interrupted (exit status 2)" in err
    assert "--allow-missing" in err


def test_a_run_of_no_tests_fails_the_gate(before, tmp_path, capsys):
    after = a_v1_report([], [a_run(exitstatus=5)])
    status, err = gate(capsys, before, after_path := write(tmp_path / "after.json", after))
    assert status == 1
    assert f"error: {after_path} holds no tests" in err


def test_tests_missing_from_b_fail_the_gate(before, tmp_path, capsys):
    after = a_v1_report([a_record(IDS[0]), a_record(IDS[2])])
    status, err = gate(capsys, before, after_path := write(tmp_path / "after.json", after))
    assert status == 1
    assert f"error: 1 test(s) of {before} are missing from {after_path}: {IDS[1]}\n" in err


def test_allow_missing_passes_the_gate_and_still_says_why(before, tmp_path, capsys):
    after = a_v1_report([a_record(IDS[0])], [a_run(interrupted=True, exitstatus=2)])
    after_path = write(tmp_path / "after.json", after)
    status, err = gate(capsys, before, after_path, "--allow-missing")
    assert status == 0
    assert f"warning: {after_path} is incomplete" in err
    assert f"warning: 2 test(s) of {before} are missing from {after_path}" in err
    assert "error" not in err


def test_allow_missing_does_not_hide_a_regression(before, tmp_path, capsys):
    after = a_v1_report([a_record(IDS[0], "failed", message="broke")])
    status, _ = gate(capsys, before, write(tmp_path / "after.json", after), "--allow-missing")
    assert status == 1


def test_a_complete_run_of_the_same_tests_passes_the_gate(before, tmp_path, capsys):
    after = a_v1_report([a_record(i, "skipped" if i == IDS[1] else "passed") for i in IDS])
    status, err = gate(capsys, before, write(tmp_path / "after.json", after))
    assert status == 0
    assert err == ""


def test_without_the_gate_an_incomplete_run_is_a_warning(before, tmp_path, capsys):
    after = a_v1_report([a_record(IDS[0])], [a_run(interrupted=True, exitstatus=2)])
    after_path = write(tmp_path / "after.json", after)
    status = main(["diff", before, after_path])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == f"warning: {after_path} is incomplete: interrupted (exit status 2)\n"
    assert f"Only in {before} (2)" in captured.out
    assert "INCOMPLETE: interrupted (exit status 2)" in captured.out
