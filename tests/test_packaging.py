"""The kit as users get it: the sdist and wheel built by ``python -m build``,
the wheel installed into a new virtual environment, the suites run from there.

The run mimics ``tox -e conformance`` and a user's ``.venv``: the venv lies
inside a project whose ``pyproject.toml`` configures pytest, so pytest takes
that project as its rootdir and its node ids carry
``.venv/lib/python3.X/site-packages/conformance/...``. The report still holds
the kit's normalized ids, and skip lines name ``conformance/<file>.py``
(``-p conformance.node_ids``; see tests/test_node_ids.py).

Marked ``packaging`` (about a minute: a build, a venv, torch installed from
the CPU wheel pinned in constraints/ci.txt); ``-m "not packaging"`` leaves it
out. Needs ``build`` (in the ``dev`` extra and the tox ``tests`` env).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("strategies", "conformance")
#: Data files that must be in the wheel for the kit to work installed.
DATA_FILES = (
    "conformance/report/schema.json",
    "conformance/known_deviations.toml",
    "conformance/py.typed",
    "strategies/py.typed",
)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    """Run a command; on failure, fail the test with its output."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"
        )
    return done


def clean_env() -> dict[str, str]:
    """This process's environment without what would leak into a child Python or pytest."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))
    }


def package_files() -> set[str]:
    """Every file of the two packages in this checkout, as wheel paths (no caches, no dotfiles)."""
    files = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT)
            if (
                path.is_file()
                and "__pycache__" not in rel.parts
                and not any(part.startswith(".") for part in rel.parts)
                and path.suffix not in (".pyc", ".pyo")
            ):
                files.add(rel.as_posix())
    return files


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=ROOT, env=clean_env())
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_the_wheel_holds_every_package_file_and_the_data(dist: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    for data in DATA_FILES:
        assert data in names, f"{data} is not in {dist['wheel'].name}"
    missing = sorted(package_files() - names)
    assert not missing, (
        f"not in the wheel: {missing}; a data file needs a pattern in "
        "[tool.setuptools.package-data] (pyproject.toml), a package an __init__.py"
    )
    tops = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == set(PACKAGES), f"unexpected top-level entries: {sorted(tops)}"
    (info,) = dist_info
    entry_points = zipfile.ZipFile(dist["wheel"]).read(f"{info}/entry_points.txt").decode()
    assert "[pytest11]" in entry_points
    assert "torch_nn_conformance = conformance.plugin" in entry_points


def test_the_sdist_holds_what_the_wheel_is_built_from(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", *DATA_FILES):
        assert needed in names, f"{needed} is not in {dist['sdist'].name}"
    missing = sorted(package_files() - names)
    assert not missing, f"not in the sdist: {missing}"


def test_the_installed_wheel_runs_the_suites_from_a_fresh_venv(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    # A project of the user's with its own pytest configuration and its venv inside.
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = ["--strict-markers"]\n', encoding="utf-8"
    )
    venv = project / ".venv"
    env = clean_env()
    run([sys.executable, "-m", "venv", venv], cwd=project, env=env)
    python = venv / "bin" / "python"
    run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-c", ROOT / "constraints" / "ci.txt", "torch==2.13.0", dist["wheel"]],
        cwd=project, env=env, timeout=900,
    )  # fmt: skip
    where = run(
        [python, "-c", "import conformance, strategies; print(conformance.__file__)"],
        cwd=project,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), f"conformance imported from {where}, not the venv"

    scratch = project / "run"  # like tox's env_tmp_dir: inside the project, not its root
    scratch.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "pytest"), "--pyargs", "conformance", "-x", "-rs",
         "-p", "no:cacheprovider", "-p", "conformance.node_ids",
         "--device", "cpu,meta", "-k", "shapes or meta-pow_",
         "--conformance-report", "report"],
        cwd=scratch, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert " passed" in output, output[-3000:]
    assert "rootdir: " + str(project) in output, "the user's project is not pytest's rootdir"

    report = json.loads((scratch / "report" / "conformance.json").read_text(encoding="utf-8"))
    records = report["records"]
    assert records
    for record in records:  # the kit's normalized ids, though pytest's carry .venv/lib/...
        assert record["id"].startswith("test_"), record["id"]
        assert "/" not in record["id"].split("::")[0], record["id"]
    outcomes = {r["outcome"] for r in records}
    # known_deviations.toml reached the installed kit (meta pow_), and a skip reason is recorded.
    assert "xfailed" in outcomes, "the kit's known deviation for meta pow_ did not apply"
    assert "skipped" in outcomes, outcomes
    skip_lines = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert skip_lines, output[-3000:]
    for line in skip_lines:
        assert line.split()[2].startswith("conformance/"), line
