"""dtypes(), resolve_dtype(), devices() and the device selection."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sampling import examples, shrunk

from strategies import (
    DTYPE_KINDS,
    devices,
    dtypes,
    parse_device,
    resolve_dtype,
    selected_devices,
)
from strategies.devices import device_unavailable_reason, select_devices

#: Every dtype the kit draws, written out (not read from the kit).
KIT_DTYPES = {
    torch.float32, torch.float64, torch.float16, torch.bfloat16,
    torch.int64, torch.int32, torch.int16, torch.int8,
    torch.uint8, torch.bool, torch.complex64, torch.complex128,
}  # fmt: skip

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


def kind_of(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "int" if dtype.is_signed else "uint"


@pytest.fixture
def select():
    """Select devices for one test, then put the previous selection back."""
    previous = select_devices(None)
    yield select_devices
    select_devices(previous)


# -- dtypes -------------------------------------------------------------------


@pytest.mark.parametrize("kinds", [["float"], ["int", "uint"], ["bool", "complex"]], ids=str)
@settings(max_examples=30)
@given(data=st.data())
def test_dtypes_draw_only_the_asked_kinds(kinds, data):
    assert kind_of(data.draw(dtypes(kinds=kinds))) in kinds


def test_dtypes_reach_every_dtype_of_every_kind_within_budget():
    assert set(examples(dtypes(kinds=DTYPE_KINDS))) == KIT_DTYPES


def test_low_precision_false_leaves_out_float16_and_bfloat16():
    assert set(examples(dtypes(low_precision=False))) == {torch.float32, torch.float64}


@pytest.mark.parametrize(
    ("kinds", "target"),
    [
        pytest.param(["int", "float"], torch.int64, id="int,float"),
        pytest.param(["float", "int"], torch.float32, id="float,int"),
        pytest.param("complex", torch.complex64, id="complex"),
        # A set has no order of its own: the canonical one, whatever the hash seed.
        pytest.param({"int", "float", "bool"}, torch.float32, id="a set"),
    ],
)
def test_dtypes_shrink_toward_the_first_kinds_most_common_dtype(kinds, target):
    assert shrunk(dtypes(kinds=kinds), lambda _: True, seed=0) == target


@pytest.mark.parametrize(
    ("given_as", "dtype"),
    [
        ("float32", torch.float32),
        ("torch.bfloat16", torch.bfloat16),
        (torch.int8, torch.int8),
        ("complex128", torch.complex128),
        ("bool", torch.bool),
    ],
    ids=str,
)
def test_resolve_dtype_accepts_names_and_dtypes(given_as, dtype):
    assert resolve_dtype(given_as) is dtype


@pytest.mark.parametrize(
    "dtype",
    [
        torch.qint8,
        torch.quint8,
        torch.float8_e4m3fn,
        torch.float8_e5m2,
        torch.uint16,
        torch.complex32,
    ],
    ids=str,
)
def test_resolve_dtype_refuses_dtypes_the_kit_does_not_support(dtype):
    # They fail inside torch on the first value stored (issue 12, item 10).
    with pytest.raises(InvalidArgument, match=rf"dtype={dtype} is not supported; expected one of"):
        resolve_dtype(dtype)
    with pytest.raises(InvalidArgument, match=r"--dtype=torch\."):
        resolve_dtype(dtype, "--dtype")


# -- devices ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_as", "name"),
    [
        ("cpu", "cpu"),
        (" CUDA:1 ", "cuda:1"),
        ("mps", "mps"),
        ("meta", "meta"),
        (torch.device("cpu"), "cpu"),
        (torch.device("cuda", 0), "cuda:0"),
    ],
    ids=str,
)
def test_parse_device_normalises_names(given_as, name):
    assert parse_device(given_as) == name


def test_cpu_and_meta_are_always_usable():
    assert device_unavailable_reason("cpu") is None
    assert device_unavailable_reason("meta") is None


@needs_no_cuda
def test_missing_cuda_has_a_reason_that_says_so():
    reason = device_unavailable_reason("cuda:0")
    assert reason is not None
    assert "cuda:0" in reason
    assert "CUDA" in reason


def test_devices_draw_the_available_devices_by_default(select):
    select(None)
    drawn = set(examples(devices(), n=20))
    assert drawn == {torch.device(n) for n in selected_devices()}
    assert torch.device("cpu") in drawn


def test_devices_draw_meta_only_when_allowed(select):
    strategy, with_meta = devices(), devices(allow_meta=True)  # built before selecting
    select(["meta", "cpu"])
    assert set(examples(strategy, n=20)) == {torch.device("cpu")}
    assert set(examples(with_meta, n=20)) == {torch.device("meta"), torch.device("cpu")}
    # Shrinks toward the first selected device.
    assert shrunk(with_meta, lambda _: True, seed=0) == torch.device("meta")


@needs_no_cuda
def test_selected_but_unavailable_devices_are_not_drawn(select):
    select(["cuda", "cpu"])
    assert selected_devices() == ("cpu",)
    select(["cuda"])
    with pytest.raises(InvalidArgument, match="no selected device is available"):
        examples(devices(), n=1)
