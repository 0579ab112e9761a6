"""Where reports go and what is read as one: an output that cannot be written
is refused before any work, and an input that is not a sound report (nested
past reason, NaN, counts that disagree) is refused naming its file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch  # noqa: F401  (imported once: in-process runs drop modules they import)
from test_report import a_record, a_run, a_v1_report

from conformance.report import io as report_io
from conformance.report.__main__ import main

# Leaves a file behind if the test body runs: a refused option must stop the run first.
SUITE = """
import pathlib

def test_runs():
    pathlib.Path("ran").touch()
"""


def refused(pytester: pytest.Pytester, directory: str) -> str:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--conformance-report", directory, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (pytester.path / "ran").exists()
    err = result.stderr.str()
    assert "Traceback" not in err
    return err


# -- --conformance-report DIR, checked at configure time ------------------------


def test_a_report_directory_that_is_a_file_is_a_usage_error(pytester):
    (pytester.path / "taken").write_text("not a directory")
    err = refused(pytester, "taken")
    assert "--conformance-report taken:" in err
    assert "is a file, not a directory" in err
    assert (pytester.path / "taken").read_text() == "not a directory"


def test_a_report_directory_under_a_file_is_a_usage_error(pytester):
    (pytester.path / "somefile").write_text("")
    err = refused(pytester, "somefile/sub")
    assert "--conformance-report somefile/sub:" in err
    assert "somefile is a file, not a directory" in err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_a_read_only_report_directory_is_a_usage_error(pytester):
    locked = pytester.path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        err = refused(pytester, "locked/out")
    finally:
        locked.chmod(0o700)
    assert "cannot create or write" in err


def test_a_missing_report_directory_is_created_at_the_end(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--conformance-report", "new/dir", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert (pytester.path / "new" / "dir" / "conformance.json").exists()


# -- merge -o DIR, checked before reading anything --------------------------------


def write(path: Path, report: dict) -> str:
    path.write_text(json.dumps(report))
    return str(path)


@pytest.mark.parametrize("output", ["taken", "taken/sub"])
def test_merge_refuses_an_output_it_cannot_write_before_reading_inputs(tmp_path, capsys, output):
    (tmp_path / "taken").write_text("keep")
    # The input does not exist: the output must be refused first, without reading it.
    status = main(["merge", str(tmp_path / "missing.json"), "-o", str(tmp_path / output)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"-o {tmp_path / output}:" in err
    assert "is a file, not a directory" in err
    assert "missing.json" not in err
    assert (tmp_path / "taken").read_text() == "keep"


# -- inputs that are JSON but no sound report -------------------------------------


def good_text() -> str:
    return json.dumps(a_v1_report([a_record("test_m::test_a"), a_record("test_m::test_b")]))


@pytest.mark.parametrize("command", ["validate", "merge"])
def test_json_nested_past_reason_is_refused_naming_the_file(tmp_path, capsys, command):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    args = [command, str(deep)] + (["-o", str(tmp_path / "out")] if command == "merge" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{deep}: nested too deeply" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_naming_the_file(tmp_path, capsys, constant):
    text = good_text().replace('"duration": 0.0', f'"duration": {constant}', 1)
    assert constant in text
    path = tmp_path / "nan.json"
    path.write_text(text)
    assert main(["merge", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not valid JSON: {constant} is not a number JSON allows" in err
    assert not (tmp_path / "out").exists()


def test_a_report_is_never_written_with_a_non_finite_number(tmp_path):
    report = json.loads(good_text())
    report["records"][0]["duration"] = float("nan")
    with pytest.raises(ValueError):
        report_io.dumps(report)


def test_validate_fails_when_the_summary_disagrees_with_the_records(tmp_path, capsys):
    report = json.loads(good_text())
    report["summary"]["total"] = 5
    report["summary"]["passed"] = 5
    path = write(tmp_path / "inflated.json", report)
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    counted = "summary counts 5 tests (5 passed), but the records hold 2 tests (2 passed)"
    assert f"{path}: {counted}" in err


def test_validate_fails_when_a_run_summary_disagrees_with_its_records(tmp_path, capsys):
    report = a_v1_report(
        [a_record("test_m::test_a"), a_record("test_m::test_b", "failed", run=1)],
        [a_run(label="one"), a_run(label="two")],
    )
    report["runs"][1]["summary"] = report["runs"][0]["summary"]
    path = write(tmp_path / "runs.json", report)
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    counted = "runs[1].summary counts 1 tests (1 passed), but its records hold 1 tests (1 failed)"
    assert f"{path}: {counted}" in err


def test_validate_counts_the_records(tmp_path, capsys):
    assert main(["validate", write(tmp_path / "ok.json", json.loads(good_text()))]) == 0
    assert "ok.json: valid conformance-report/1, 2 tests" in capsys.readouterr().out
