"""The command that reruns one conformance test, as the run that failed it did.

A failing check's message ends with it and the report keeps it. It repeats
what decides what the test is and does (``--device``, ``--mode``,
``--target``, the Hypothesis profile and seed, ``-p`` plugins); the
conformance-ci profile is derandomized, so the same examples come back.
Under ``--pyargs`` the test is named by its module
(``--pyargs 'conformance.test_linear::test_x[cpu-float32]'``), which works
from any directory; otherwise by its path from where the run started.

Imports nothing heavy: the plugin is loaded by every pytest run.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Options that decide what a test is and does: a rerun repeats them.
RERUN_OPTIONS = (
    "device",
    "dtype",
    "mode",
    "target",
    "compile_backend",
    "compile_max_examples",
    "hypothesis_profile",
    "hypothesis_seed",
)

#: The command of the test running now in this process (set by the plugin).
_current: str | None = None


def rerun_command(item: Any) -> str:
    """``pytest '<file>::<test>[<params>]' --device ...``: reruns ``item``."""
    config = item.config
    _, sep, rest = item.nodeid.partition("::")
    module = getattr(getattr(item, "module", None), "__name__", "")
    if config.getoption("pyargs", False) and module.startswith("conformance."):
        args = ["pytest", "--pyargs", f"{module}{sep}{rest}"]
    else:
        path = Path(item.path)
        try:
            where = path.relative_to(config.invocation_params.dir).as_posix()
        except ValueError:
            where = str(path)
        args = ["pytest", f"{where}{sep}{rest}"]
    given = list(config.invocation_params.args)
    for i, arg in enumerate(given):
        if arg == "-p" and i + 1 < len(given):
            args += ["-p", given[i + 1]]
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
            args += ["-p", arg[2:]]
    for option in RERUN_OPTIONS:
        value = config.getoption(option, None)
        flag = f"--{option.replace('_', '-')}"
        if option == "target" and isinstance(value, list):
            args += [a for v in value for a in (flag, str(v))]
        elif isinstance(value, list) and value:
            args += [flag, ",".join(str(v) for v in value)]
        elif value is not None and not isinstance(value, (bool, list)):
            args += [flag, str(value)]
    return shlex.join(args)


@contextlib.contextmanager
def running(item: Any) -> Iterator[None]:
    """Makes ``item``'s rerun command :func:`current` while it runs."""
    global _current
    previous, _current = _current, rerun_command(item)
    try:
        yield
    finally:
        _current = previous


def current() -> str | None:
    """The rerun command of the test running now; None outside a conformance run."""
    return _current
