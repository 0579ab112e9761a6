"""Running a conformance check directly, for planted-fault tests.

A suite check is a ``@given`` test that takes pytest fixtures. Here its body
(``.hypothesis.inner_test``) is re-wrapped with ``@given(data=st.data())`` under
the ``conformance-ci`` profile minus shrinking and explaining: a planted fault
only has to be *detected*, and shrinking a failure costs far more than finding
it. The suite's own function is left untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from conformance.modes import EAGER
from conformance.profiles import DEFAULT_PROFILE, register_profiles

register_profiles()

NO_SHRINK = settings(
    settings.get_profile(DEFAULT_PROFILE),
    phases=tuple(p for p in Phase if p not in (Phase.shrink, Phase.explain)),
)


#: For a planted fault only: derandomized examples are seeded from a digest of the
#: check's source, and in a long run of the whole kit that digest has been seen to
#: differ (two planted faults, each found within 10 examples on their own, went
#: unfound in 100 in a full ``pytest tests -n 2``). A fault may take up to three
#: times the profile's examples there; a caught fault stops at its first failure,
#: so this costs nothing when the check is as strong as it should be.
UNTIL_CAUGHT = settings(NO_SHRINK, max_examples=3 * NO_SHRINK.max_examples)


def run_until_caught(check: Callable[..., None], fixtures: dict[str, Any], **kwargs: Any) -> None:
    """:func:`run_unshrunk` for a run expected to fail, with :data:`UNTIL_CAUGHT`'s budget."""
    _run(UNTIL_CAUGHT, check, fixtures, kwargs)


def run_unshrunk(check: Callable[..., None], fixtures: dict[str, Any], **kwargs: Any) -> None:
    """Call ``check`` with the ``fixtures`` it takes (others are ignored) and ``kwargs``."""
    _run(NO_SHRINK, check, fixtures, kwargs)


def _run(
    chosen: settings, check: Callable[..., None], fixtures: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    wanted = inspect.signature(check).parameters
    args = {name: value for name, value in fixtures.items() if name in wanted}
    if "mode" in wanted and "mode" not in args and "mode" not in kwargs:
        args["mode"] = EAGER  # module checks run eagerly unless a test says otherwise
    body = check.hypothesis.inner_test  # type: ignore[attr-defined]
    chosen(given(data=st.data())(body))(**args, **kwargs)
