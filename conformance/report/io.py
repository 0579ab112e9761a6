"""Reading, validating and atomically writing reports.

Every file is written to a temporary file in the same directory and then
renamed over the old one (``os.replace``, atomic on POSIX and Windows), so a
run that is interrupted while writing leaves the previous file whole and no
truncated one. Reading accepts JSON only (nothing in a report is executed):
strict JSON (no ``NaN`` or ``Infinity``, which ``json`` would otherwise take
and write back), nested no deeper than Python's recursion limit, checked
against ``schema.json`` and for counts that agree with the records, before
anything uses it. Either schema version is read (:data:`READABLE_VERSIONS`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from conformance.report import READABLE_VERSIONS, SCHEMA_VERSION

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
    """Raise :class:`ReportError` unless ``report`` follows the schema of its
    version and holds what it says it holds."""
    version = report.get("schema") if isinstance(report, dict) else None
    if isinstance(report, dict) and version not in (None, *READABLE_VERSIONS):
        raise ReportError(
            f"{name}: schema {version!r} is not one this kit reads ({', '.join(READABLE_VERSIONS)})"
        )
    errors = validation_errors(report)
    if errors:
        raise ReportError(
            f"{name} does not follow the {version or SCHEMA_VERSION} schema:\n  "
            + "\n  ".join(errors)
        )
    runs = len(report["runs"])
    bad = next((i for i, r in enumerate(report["records"]) if r["run"] >= runs), None)
    if bad is not None:
        raise ReportError(
            f"{name}: records[{bad}] names run {report['records'][bad]['run']}, "
            f"but there are {runs} runs"
        )
    _check_counts(report, name)
    _check_complete(report, name)


def _counted(counts: dict[str, int]) -> str:
    from conformance.report.combine import OUTCOMES

    parts = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
    return f"{counts['total']} tests" + (f" ({parts})" if parts else "")


def _check_counts(report: dict[str, Any], name: str) -> None:
    """The summaries are what readers show first: they must be the records' counts."""
    from conformance.report.combine import counts

    held = counts(report["records"])
    if report["summary"] != held:
        raise ReportError(
            f"{name}: summary counts {_counted(report['summary'])}, "
            f"but the records hold {_counted(held)}"
        )
    for index, run in enumerate(report["runs"]):
        held = counts(r for r in report["records"] if r["run"] == index)
        if run["summary"] != held:
            raise ReportError(
                f"{name}: runs[{index}].summary counts {_counted(run['summary'])}, "
                f"but its records hold {_counted(held)}"
            )


def _check_complete(report: dict[str, Any], name: str) -> None:
    from conformance.report.completeness import run_incomplete_reason

    if "complete" not in report:
        return
    partial = [i for i, run in enumerate(report["runs"]) if run_incomplete_reason(run)]
    if report["complete"] and partial:
        raise ReportError(f"{name}: complete is true, but run {partial[0]} is not")
    if not report["complete"] and not partial:
        raise ReportError(f"{name}: complete is false, but every run is complete")


class _NotFinite(ValueError):
    """A number JSON has no room for; ``json`` reads (and writes) these unless told."""


def _reject_constant(text: str) -> Any:
    raise _NotFinite(f"{text} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{text} is out of the range of a float")
    return value


def parse(text: str, name: str) -> Any:
    """Strict JSON: no NaN or Infinity, nesting within the recursion limit."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise ReportError(
            f"{name}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        ) from None
    except _NotFinite as e:
        raise ReportError(f"{name}: not valid JSON: {e}") from None
    except RecursionError:
        raise ReportError(
            f"{name}: nested too deeply for a report (arrays or objects inside "
            "each other past Python's recursion limit)"
        ) from None


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate one ``conformance.json``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text, so not a JSON report") from None
    report: dict[str, Any] = parse(text, str(path))
    try:
        validate(report, str(path))
    except RecursionError:  # deep nesting where the schema allows any value
        raise ReportError(f"{path}: nested too deeply for a report") from None
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
    # allow_nan=False: a NaN would be written as bare NaN, which is not JSON.
    return json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


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
