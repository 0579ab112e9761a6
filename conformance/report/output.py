"""Whether reports can be written where asked: checked before a run or a merge
does its work, so that a bad path costs nothing and loses no results.

Only ``os`` and ``pathlib``: the plugin checks ``--conformance-report`` while
pytest configures, in every run that gives the option.
"""

from __future__ import annotations

import os
from pathlib import Path


def output_problem(directory: str | os.PathLike[str]) -> str | None:
    """Why reports cannot be written into ``directory`` (created if missing), or None.

    The directory itself, or else its nearest existing ancestor, must be a
    directory this process may write in (``os.access``: root passes, but a
    path under a regular file does not).
    """
    path = Path(directory)
    try:
        if path.exists() and not path.is_dir():
            return f"{path} is a file, not a directory"
        existing = path
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if not existing.is_dir():
            return f"cannot create it: {existing} is a file, not a directory"
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"cannot create or write files in {existing}: permission denied"
    except OSError as e:
        return f"cannot use it: {e.strerror or e}"
    return None
