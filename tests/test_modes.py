"""Execution modes: ``Mode.wrap``, the ``--mode`` options, test ids, deselection, the
compile examples cap, and PyTorch's own mode deviations listed as expectations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import conformance
import conformance.test_module_calls  # imported before pytester's in-process runs
from conformance.modes import MODES, FunctionalCall, Mode, capped, parse_modes


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


# --- Mode.wrap ------------------------------------------------------------------


@pytest.mark.parametrize("name", MODES)
def test_every_mode_computes_what_eager_computes(name):
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    x = torch.randn(2, 4)
    got = Mode(name).wrap(layer)(x)
    torch.testing.assert_close(got, layer(x))
    assert got.grad_fn is not None


def test_eager_is_the_module_itself():
    layer = nn.Linear(2, 2)
    assert Mode("eager").wrap(layer) is layer


def test_functional_call_reads_the_parameters_at_each_call():
    layer = nn.Linear(2, 1, bias=False)
    call = Mode("functional_call").wrap(layer)
    assert isinstance(call, FunctionalCall)
    layer.weight = nn.Parameter(torch.tensor([[1.0, 2.0]]))
    assert call(torch.tensor([1.0, 1.0])).item() == 3.0


def test_compile_starts_afresh_for_each_module():
    """Dynamo is reset at each wrap: a second module of the same class gets its own
    compiled code (its own weights), however many came before."""
    x = torch.ones(1, 2)
    for value in range(12):  # past Dynamo's recompile limit (8) without a reset
        layer = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            layer.weight.fill_(float(value))
        assert Mode("compile", "eager").wrap(layer)(x).item() == 2.0 * value


def test_an_unscriptable_module_is_an_assertion_in_jit_mode():
    class Unscriptable(nn.Module):
        def forward(self, x):
            return sum(t for t in [x])  # a generator: TorchScript cannot compile it

    with pytest.raises(AssertionError, match=r"torch.jit.script\(Unscriptable\) raised"):
        Mode("jit").wrap(Unscriptable())


def test_mode_names_and_backends_are_checked():
    with pytest.raises(ValueError, match="mode='turbo'"):
        Mode("turbo")
    with pytest.raises(ValueError, match="compile_backend='tvm'"):
        Mode("compile", "tvm")
    assert parse_modes([" jit", "eager", "jit"]) == ("jit", "eager")
    with pytest.raises(ValueError, match="--mode='fast'"):
        parse_modes(["eager", "fast"])
    assert str(Mode("jit")) == "jit"
    assert "backend='inductor'" in Mode("compile", "inductor").describe()


def test_capped_runs_at_most_the_cap():
    runs = []

    @given(data=st.data())
    def check(data, tag):
        runs.append(data.draw(st.integers(0, 10**6)))

    capped_check = capped(check, 3)
    assert capped_check is not None
    capped_check(tag="x")
    assert 1 <= len(runs) <= 3
    assert capped(lambda: None, 3) is None  # not a Hypothesis check


# --- the options, through pytester -------------------------------------------------

SUITE = """
import pytest
from hypothesis import given, strategies as st

RUNS = []

@given(data=st.data())
def test_module_check(data, device, mode):
    data.draw(st.integers())
    with open("runs.txt", "a") as f:
        f.write(mode.name + "\\n")

def test_no_mode(device):
    pass
"""


def ids(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    reprec = pytester.inline_run("-p", "no:cacheprovider", "--device", "cpu", *args)
    passed, skipped, failed = reprec.listoutcomes()
    result = {r.nodeid.split("::")[-1]: "passed" for r in passed}
    result |= {r.nodeid.split("::")[-1]: "failed" for r in failed}
    result |= {r.nodeid.split("::")[-1]: "skipped" for r in skipped}
    return result


def test_eager_alone_leaves_the_ids_as_they_are(pytester):
    pytester.makepyfile(SUITE)
    assert ids(pytester) == {"test_module_check[cpu]": "passed", "test_no_mode[cpu]": "passed"}


def test_modes_go_into_the_ids(pytester):
    pytester.makepyfile(SUITE)
    result = ids(pytester, "--mode", "eager,jit", "--mode", "functional_call")
    assert result == {
        "test_module_check[cpu-eager]": "passed",
        "test_module_check[cpu-jit]": "passed",
        "test_module_check[cpu-functional_call]": "passed",
        "test_no_mode[cpu]": "passed",
    }


def test_without_eager_checks_taking_no_mode_are_deselected(pytester):
    pytester.makepyfile(SUITE)
    assert ids(pytester, "--mode", "jit") == {"test_module_check[cpu-jit]": "passed"}


def test_compile_runs_at_most_the_cap(pytester):
    pytester.makepyfile(SUITE)
    result = ids(pytester, "--mode", "compile,jit", "--compile-max-examples", "3")
    assert result == {
        "test_module_check[cpu-compile]": "passed",
        "test_module_check[cpu-jit]": "passed",
    }
    runs = pytester.path.joinpath("runs.txt").read_text().split()
    assert 1 <= runs.count("compile") <= 3
    assert runs.count("jit") > 3  # the profile's own max_examples


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--mode", "turbo"], "--mode='turbo'"),
        (["--mode", ","], "--mode names no mode"),
        (["--compile-backend", "tvm"], "--compile-backend='tvm'"),
        (["--compile-max-examples", "0"], "--compile-max-examples=0"),
    ],
)
def test_bad_mode_options_are_usage_errors(pytester, args, named):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert named in result.stderr.str()


def test_the_header_describes_the_modes(pytester):
    pytester.makepyfile(SUITE)
    text = pytester.runpytest("--mode", "eager,compile", "--device", "cpu").stdout.str()
    assert "conformance modes: eager; compile (torch.compile, fullgraph=True, " in text
    assert "backend='aot_eager'), at most 10 examples per check" in text


# --- PyTorch's own deviations, exposed as expectations ---------------------------


def test_hooks_added_after_compiling_are_an_expected_failure(pytester):
    """Dynamo's missing hook guards fail the check under compile, and the kit's
    known_deviations.toml turns that into an xfail naming the reason."""
    suite = Path(conformance.__file__).parent / "test_module_calls.py"
    reprec = pytester.inline_run(
        "-p",
        "no:cacheprovider",
        # Ids relative to the checkout (or site-packages), where expectations match.
        f"--rootdir={suite.parent.parent}",
        str(suite),
        "-k",
        "hooks_registered_after_wrapping_run and float32",
        "--device",
        "cpu",
        "--mode",
        "eager,compile",
        "--compile-max-examples",
        "2",
    )
    reports = [r for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"]
    outcome = {r.nodeid.split("::")[-1]: (r.outcome, getattr(r, "wasxfail", "")) for r in reports}
    assert outcome["test_hooks_registered_after_wrapping_run[cpu-float32-eager]"][0] == "passed"
    state, reason = outcome["test_hooks_registered_after_wrapping_run[cpu-float32-compile]"]
    assert state == "skipped"  # how pytest reports an xfail
    assert "skip_nnmodule_hook_guards" in reason
