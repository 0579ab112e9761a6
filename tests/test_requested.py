"""A requested device, dtype or target that no check ran for is named at the end of
the run; ``--conformance-require-devices`` makes an unavailable device a usage error."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from conformance.requested import never_ran

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
CLASSIC = ("-p", "no:cacheprovider", "--pyargs", "conformance.test_linear", "-k", "classic")


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def test_a_dtype_no_check_runs_in_is_named(pytester):
    result = pytester.runpytest_inprocess(*CLASSIC, "--dtype", "float32,int8")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "conformance: requested but never run" in out
    assert "--dtype int8: no check ran for it" in out
    assert "--dtype float32: no check" not in out


def test_nothing_is_named_when_everything_requested_ran(pytester):
    result = pytester.runpytest_inprocess(*CLASSIC, "--dtype", "float32", "--device", "cpu")
    result.assert_outcomes(passed=1)
    assert "requested but never run" not in result.stdout.str()


@NO_CUDA
def test_an_unavailable_device_is_named_and_can_be_required(pytester):
    result = pytester.runpytest_inprocess(*CLASSIC, "--device", "cpu,cuda")
    assert "--device cuda: no check ran for it" in result.stdout.str()
    required = pytester.runpytest_inprocess(
        *CLASSIC, "--device", "cuda", "--conformance-require-devices"
    )
    assert required.ret == pytest.ExitCode.USAGE_ERROR
    assert "--conformance-require-devices: --device cuda: device unavailable" in (
        required.stderr.str()
    )


def test_never_ran_splits_joined_targets():
    ran = [{"target": "linear=a:B, dropout=c:D"}]
    assert never_ran({"target": ["linear=a:B", "dropout=c:D"]}, ran) == {}
    assert never_ran({"target": ["module=e:f"]}, ran) == {"target": ["module=e:f"]}
