"""Re-verify the upstream bug reports in this folder, on one or more torch installs.

    python reports/upstream/verify.py                       # the repros, this interpreter's torch
    python reports/upstream/verify.py --python /tmp/venv-newtorch/bin/python --deviations
    python reports/upstream/verify.py --python ... --fixes --deviations --write   # verified.md

For each interpreter (``--python``, repeatable; default: this one) it runs
every script in ``repros/`` (exit status 1: the bug is present, 0: fixed);
with ``--fixes``, runs each again with the suggested fix ``fixes/<repro>.diff``
applied to a copy of that torch's file (loaded in place of the installed one
by an import hook; needs ``patch``); and, with ``--deviations``, the checks
named in the kit's
``conformance/known_deviations.toml`` with the kit's own expectations turned
off, so each entry shows whether the deviation it describes is still there
on that torch (``present``: a matching test failed; ``absent``: all passed).
The kit must be installed in that interpreter for ``--deviations``
(``pip install --no-deps dist/torch_nn_conformance-*.whl``).

Prints a Markdown table; ``--write`` also writes it to ``verified.md``.
Exits 2 if a repro crashed (an exit status other than 0 or 1), else 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPROS = sorted((HERE / "repros").glob("*.py"))
FIXES = HERE / "fixes"
DEVIATIONS = HERE.parent.parent / "conformance" / "known_deviations.toml"
TIMEOUT = 1800


def torch_version(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"(no torch: {done.stderr.strip()[-200:]})"
    return done.stdout.strip()


def run_repro(python: str, script: Path) -> tuple[str, str]:
    done = subprocess.run(
        [python, str(script)], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    last = (done.stdout.strip().splitlines() or [""])[-1]
    status = {0: "fixed", 1: "present"}.get(done.returncode, f"error (exit {done.returncode})")
    if status.startswith("error"):
        last = (done.stderr.strip().splitlines() or [""])[-1]
    return status, last


#: Runs a repro with patched torch modules: {module name: (file, package dirs or None)}.
PREAMBLE = """
import importlib.abc, importlib.util, runpy, sys
PATCHED = {patched!r}
class PatchedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in PATCHED:
            file, locations = PATCHED[name]
            return importlib.util.spec_from_file_location(
                name, file, submodule_search_locations=locations
            )
        return None
sys.meta_path.insert(0, PatchedFinder())
sys.argv = [{script!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


def run_with_fix(python: str, script: Path, diff: Path) -> str:
    """The repro's result with ``diff`` applied to a copy of that interpreter's torch."""
    where = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('torch').origin)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if where.returncode != 0:
        return "no torch"
    site = Path(where.stdout.strip()).parent.parent  # .../site-packages
    targets = [
        line.split()[1].removeprefix("b/")
        for line in diff.read_text(encoding="utf-8").splitlines()
        if line.startswith("+++ ")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        patched = {}
        for target in targets:
            copy = Path(tmp, target)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / target, copy)
            parts = Path(target).with_suffix("").parts
            if parts[-1] == "__init__":
                name = ".".join(parts[:-1])
                patched[name] = (str(copy), [str((site / target).parent)])
            else:
                patched[".".join(parts)] = (str(copy), None)
        applied = subprocess.run(
            ["patch", "--forward", "-p1", "-d", tmp, "-i", str(diff)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if applied.returncode != 0:
            return "fix does not apply"
        done = subprocess.run(
            [python, "-c", PREAMBLE.format(patched=patched, script=str(script))],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    return {0: "fixed", 1: "present"}.get(done.returncode, f"error (exit {done.returncode})")


def entries() -> list[dict[str, str]]:
    with DEVIATIONS.open("rb") as f:
        return list(tomllib.load(f).get("deviation", []))


def run_deviations(python: str, found: list[dict[str, str]]) -> dict[int, str]:
    """Entry index -> present / absent / not run (or why nothing ran).

    Collects the entries' modules first and runs only tests whose normalized id
    an entry's id is a prefix of (naming a missing test would stop pytest).
    """
    modules = sorted({f"conformance.{entry['id'].split('::', 1)[0]}" for entry in found})
    modes = sorted({"eager", *(e["mode"] for e in found if e.get("mode"))})
    base = [
        python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--device", "cpu,meta",
        "--mode", ",".join(modes), "--conformance-no-builtin-expectations",
        "--log-disable=torch.__trace",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        installed = subprocess.run(
            [
                python,
                "-c",
                "import importlib.util as u, sys; import conformance.plugin; "
                "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is not None))",
                *modules,
            ],
            cwd=scratch,  # not this checkout: its conformance/ would shadow the install
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:
            return dict.fromkeys(range(len(found)), "kit not installed")
        present = installed.stdout.split()
        collected = subprocess.run(
            [*base, "--collect-only", "--pyargs", "conformance"],  # ids: test_x.py::...
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        ids = [
            f"{path.rsplit('/', 1)[-1].removesuffix('.py')}::{rest}"
            for path, sep, rest in (line.partition("::") for line in collected.stdout.splitlines())
            if sep and path.endswith(".py")
        ]
        wanted = [i for i in ids if any(i.startswith(e["id"]) for e in found)]
        records: list[dict[str, str]] = []
        if wanted:
            cmd = [*base, "-n", "2", "--conformance-report", "out", "--pyargs"]
            cmd += [f"conformance.{i}" for i in wanted]
            done = subprocess.run(
                cmd, cwd=scratch, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
            tail = " / ".join(done.stdout.splitlines()[-1:])
            print(f"{python}: {len(wanted)} tests, exit {done.returncode}: {tail}", file=sys.stderr)
            report = Path(scratch, "out", "conformance.json")
            if report.exists():
                records = json.loads(report.read_text(encoding="utf-8"))["records"]
    result = {}
    for i, entry in enumerate(found):
        matched = [
            r
            for r in records
            if r["id"].startswith(entry["id"])
            and all(
                entry.get(field) in (None, (r.get(field) or "").split(":")[0], r.get(field))
                for field in ("device", "mode", "dtype")
            )
        ]
        if f"conformance.{entry['id'].split('::', 1)[0]}" not in present:
            result[i] = "not in the installed kit"
        elif not matched:
            result[i] = "not run"
        elif any(r["outcome"] in ("failed", "error") for r in matched):
            bad = sum(r["outcome"] in ("failed", "error") for r in matched)
            result[i] = f"present ({bad}/{len(matched)} failed)"
        else:
            passed = sum(r["outcome"] == "passed" for r in matched)
            result[i] = f"absent ({passed} passed, {len(matched) - passed} skipped)"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", help="an interpreter with torch (repeatable)")
    parser.add_argument("--fixes", action="store_true", help="also run each repro with its fix")
    parser.add_argument("--deviations", action="store_true", help="also run known_deviations.toml")
    parser.add_argument("--write", action="store_true", help="write the table to verified.md")
    args = parser.parse_args(argv)
    pythons = args.python or [sys.executable]

    versions = {p: torch_version(p) for p in pythons}
    lines = [
        "# Verified",
        "",
        f"Written by `python reports/upstream/verify.py` on {datetime.now(timezone.utc):%Y-%m-%d}"
        " (exit status of each repro: 1 = bug present, 0 = fixed).",
        "",
        "| repro | " + " | ".join(f"torch {versions[p]}" for p in pythons) + " |",
        "| --- |" + " --- |" * len(pythons),
    ]
    crashed = False
    for script in REPROS:
        cells = []
        for python in pythons:
            status, last = run_repro(python, script)
            crashed |= status.startswith("error")
            cells.append(status)
            print(f"{script.name} on torch {versions[python]}: {status}: {last}", file=sys.stderr)
        lines.append(f"| `repros/{script.name}` | " + " | ".join(cells) + " |")
        diff = FIXES / f"{script.stem}.diff"
        if args.fixes and diff.exists():
            bug = dict(zip(pythons, cells, strict=True))
            cells = []
            for python in pythons:
                if bug[python] != "present":
                    cells.append("(not needed)")
                    continue
                status = run_with_fix(python, script, diff)
                crashed |= status.startswith("error")
                cells.append(status)
            lines.append(f"| ... with `fixes/{diff.name}` applied | " + " | ".join(cells) + " |")

    if args.deviations:
        found = entries()
        results = {p: run_deviations(p, found) for p in pythons}
        lines += [
            "",
            "The kit's known deviations (`conformance/known_deviations.toml`), run with"
            " `--conformance-no-builtin-expectations`:",
            "",
            "| entry | torch range | " + " | ".join(f"torch {versions[p]}" for p in pythons) + " |",
            "| --- | --- |" + " --- |" * len(pythons),
        ]
        for i, entry in enumerate(found):
            where = ", ".join(f"{k}={entry[k]}" for k in ("device", "mode") if entry.get(k))
            name = f"`{entry['id']}`" + (f" ({where})" if where else "")
            cells = [results[p][i] for p in pythons]
            lines.append(f"| {name} | `{entry.get('torch', 'any')}` | " + " | ".join(cells) + " |")

    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (HERE / "verified.md").write_text(text, encoding="utf-8")
    return 2 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
