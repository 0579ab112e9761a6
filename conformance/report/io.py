"""Reading, validating and atomically writing reports.

Every file is written to a temporary file in the same directory and then
renamed over the old one (``os.replace``, atomic on POSIX and Windows), so a
run that is interrupted while writing leaves the previous file whole and no
truncated one. Reading accepts JSON only (nothing in a report is executed)
and checks it against ``schema.json`` before anything uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from conformance.report import SCHEMA_VERSION

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.json"


class ReportError(Exception):
    """A report that cannot be read: not JSON, or not following the schema."""


@cache
def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return result


def validation_errors(report: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` schema violations, each as ``at <path>: <message>``."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    result = []
    for error in errors[:limit]:
        where = "".join(f"[{p!r}]" for p in error.absolute_path) or "(top level)"
        message = error.message if len(error.message) < 300 else error.message[:300] + "..."
        result.append(f"at {where}: {message}")
    return result


def validate(report: Any, name: str = "report") -> None:
    """Raise :class:`ReportError` unless ``report`` follows the schema."""
    if isinstance(report, dict) and report.get("schema") not in (None, SCHEMA_VERSION):
        raise ReportError(
            f"{name}: schema {report.get('schema')!r} is not {SCHEMA_VERSION!r}, "
            "the version this kit reads"
        )
    errors = validation_errors(report)
    if errors:
        raise ReportError(
            f"{name} does not follow the {SCHEMA_VERSION} schema:\n  " + "\n  ".join(errors)
        )
    runs = len(report["runs"])
    bad = next((i for i, r in enumerate(report["records"]) if r["run"] >= runs), None)
    if bad is not None:
        raise ReportError(
            f"{name}: records[{bad}] names run {report['records'][bad]['run']}, "
            f"but there are {runs} runs"
        )


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate one ``conformance.json``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text, so not a JSON report") from None
    try:
        report: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(
            f"{path}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        ) from None
    validate(report, str(path))
    return report


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` in one step: whole old file or whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a report is not
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False) + "\n"


def write_report(directory: str | os.PathLike[str], report: dict[str, Any]) -> list[Path]:
    """Write the three files into ``directory`` (created if missing); JSON last."""
    from conformance.report.render_html import render_html
    from conformance.report.render_md import render_md

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "conformance.html": render_html(report),
        "conformance.md": render_md(report),
        "conformance.json": dumps(report),
    }
    written = []
    for name, text in files.items():
        atomic_write_text(directory / name, text)
        written.append(directory / name)
    return written
