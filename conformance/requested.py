"""Did every device, dtype and target asked for by name run somewhere?

A run in which no check ran for a requested ``--device``, ``--dtype`` or
``--target`` is not a pass: ``--dtype int8`` selects no check (none is
parametrised over int8), ``--device cuda`` on a machine without a GPU skips
every CUDA test. The plugin records the fields of each test that ran (its
call phase happened: passed, failed or xfailed) and, at the end, names every
requested value that never ran, in the terminal summary (and, with
``--conformance-require-devices``, an unavailable named device is a usage
error before anything runs: for CI jobs that exist to test that device).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["never_ran"]


def never_ran(
    requested: Mapping[str, Iterable[str]], ran: Iterable[Mapping[str, str | None]]
) -> dict[str, list[str]]:
    """For each field (``device``, ``dtype``, ``target``), the requested values no test
    that ran had.

    >>> never_ran({"dtype": ["float32", "int8"]}, [{"dtype": "float32"}])
    {'dtype': ['int8']}
    """
    seen: dict[str, set[str]] = {field: set() for field in requested}
    for fields in ran:
        for field in seen:
            value = fields.get(field)
            if value:
                # A test exercising several targets records them joined by ", ".
                seen[field].update(v.strip() for v in value.split(","))
    missing = {
        field: [v for v in values if v not in seen[field]] for field, values in requested.items()
    }
    return {field: values for field, values in missing.items() if values}
