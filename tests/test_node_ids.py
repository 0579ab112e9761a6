"""Test ids and skip locations do not depend on where the kit is installed.

Under tox (and in a user's ``.venv`` inside their project) pytest takes the
project as its rootdir, so its node ids and skip locations carry
``.tox/conformance/lib/python3.X/site-packages/conformance/...``. The report's
ids are the kit's normalized ids there too, and with ``conformance.node_ids``
registered (tox.ini passes ``-p conformance.node_ids``) the ``-rs`` lines and
the JUnit skip texts name ``conformance/<file>.py``, as from a checkout.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import node_ids
from conformance.node_ids import INSTALL_ROOT, portable_nodeid, portable_path

SKIPPING = "test_parity_errors"  # skipped in setup when only the CPU is selected: instant


def test_portable_path_of_the_kits_files(tmp_path: Path) -> None:
    assert portable_path(INSTALL_ROOT / "conformance" / "test_parity.py") == (
        "conformance/test_parity.py"
    )
    assert portable_path(str(INSTALL_ROOT / "conformance" / "report" / "collect.py")) == (
        "conformance/report/collect.py"
    )
    assert portable_path(INSTALL_ROOT / "strategies" / "shapes.py") == "strategies/shapes.py"
    # Not the kit's: a user's file, the checkout's tests, the install root itself.
    assert portable_path(tmp_path / "conformance" / "test_parity.py") is None
    assert portable_path(INSTALL_ROOT / "tests" / "test_node_ids.py") is None
    assert portable_path(INSTALL_ROOT / "setup.py") is None


def test_portable_nodeid_keeps_the_test_part() -> None:
    item = SimpleNamespace(
        path=INSTALL_ROOT / "conformance" / "test_linear.py",
        nodeid=".tox/conformance/lib/python3.11/site-packages/conformance/test_linear.py"
        "::test_x[cpu-float32]",
    )
    assert portable_nodeid(item) == "conformance/test_linear.py::test_x[cpu-float32]"
    theirs = SimpleNamespace(path=Path("/elsewhere/test_mine.py"), nodeid="test_mine.py::test_y")
    assert portable_nodeid(theirs) == "test_mine.py::test_y"


def test_only_skip_locations_in_the_kit_are_rewritten() -> None:
    inside = str(INSTALL_ROOT / "conformance" / "test_parity.py")
    report = SimpleNamespace(skipped=True, longrepr=(inside, 169, "Skipped: no device"))
    node_ids.portable_skip_location(report)
    assert report.longrepr == ("conformance/test_parity.py", 169, "Skipped: no device")

    theirs = SimpleNamespace(skipped=True, longrepr=("/elsewhere/test_mine.py", 3, "why"))
    node_ids.portable_skip_location(theirs)
    assert theirs.longrepr == ("/elsewhere/test_mine.py", 3, "why")

    failed = SimpleNamespace(skipped=False, longrepr=(inside, 1, "x"))
    node_ids.portable_skip_location(failed)
    assert failed.longrepr == (inside, 1, "x")


def install_copy(site_packages: Path) -> None:
    """The kit's packages copied where a venv inside the project would hold them."""
    site_packages.mkdir(parents=True)
    for package in ("conformance", "strategies"):
        shutil.copytree(
            INSTALL_ROOT / package,
            site_packages / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


@pytest.mark.parametrize(
    ("workers", "tox_rootdir"),
    [("0", False), ("2", True)],
    ids=["no-xdist", "xdist-and-tox-rootdir"],
)
def test_ids_and_skip_lines_do_not_carry_the_install_path(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str, tox_rootdir: bool
) -> None:
    # A project with its own pytest configuration, the kit installed inside it.
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\naddopts = ["--strict-markers"]\n')
    venv_lib = f".venv/lib/python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = pytester.path / venv_lib / "site-packages"
    install_copy(site_packages)
    monkeypatch.setenv("PYTHONPATH", str(site_packages))
    run_dir = pytester.mkdir("run")  # like tox's env_tmp_dir: below the rootdir
    monkeypatch.chdir(run_dir)

    args = [
        "--pyargs", "conformance", "-p", "no:cacheprovider", "-p", "conformance.node_ids",
        "-n", workers, "-rs", "--device", "cpu", "-k", SKIPPING,
        "--conformance-report", "out", "--junitxml", "out/junit.xml",
    ]  # fmt: skip
    if tox_rootdir:  # what tox.ini's conformance env adds
        args += ["--rootdir", str(site_packages)]
    result = pytester.runpytest_subprocess(*args)
    output = result.stdout.str()
    rootdir = site_packages if tox_rootdir else pytester.path
    assert f"rootdir: {rootdir}" in output, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 1, outcomes
    assert set(outcomes) <= {"skipped", "deselected"}, outcomes

    report = json.loads((run_dir / "out" / "conformance.json").read_text(encoding="utf-8"))
    assert report["records"]
    for record in report["records"]:
        assert record["id"].startswith(f"test_parity::{SKIPPING}["), record["id"]
        assert record["check"] == f"test_parity::{SKIPPING}"
        assert record["outcome"] == "skipped"
        if tox_rootdir:
            assert record["nodeid"].startswith(f"conformance/test_parity.py::{SKIPPING}[")

    skip_lines = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert skip_lines, output
    for line in skip_lines:
        assert re.match(r"SKIPPED \[\d+\] conformance/test_parity\.py:\d+: ", line), line
    junit = (run_dir / "out" / "junit.xml").read_text(encoding="utf-8")
    skips = re.findall(r"<skipped [^>]*>([^<]*)<", junit)
    assert skips
    for text in skips:
        assert text.startswith("conformance/test_parity.py:"), text
    if tox_rootdir:
        classnames = set(re.findall(r'classname="([^"]*)"', junit))
        assert classnames == {"conformance.test_parity"}, classnames
