"""The ``nn.Module`` contract every module keeps, checked on every registered layer
kind and on any module of yours.

The module under test comes from the ``contract_subject`` fixture, once per
registered kind (``test_state_dict_round_trips[cpu-linear]``) and once for
``module``: the kit's own small nested models (Sequential, ModuleList,
ModuleDict, a two-branch model), or under ``--target
module=pkg.mod:factory --module-inputs 2,8`` (or
:func:`conformance.check_module`) the modules your factory builds.

- ``state_dict`` round trip: A's state loaded into a B built from another
  seed makes ``B(x) == A(x)`` exactly, in eval; the keys are the named
  parameters plus the persistent buffers; ``strict=True`` names missing and
  unexpected keys in its error, ``strict=False`` returns them;
- ``to(dtype)``, ``double()``, ``half()`` convert floating parameters and
  buffers only (integer buffers such as ``num_batches_tracked`` keep their
  dtype) and return the module itself; ``to("meta")`` and ``to_empty()`` keep
  the structure;
- ``copy.deepcopy`` and ``torch.save``/``torch.load(weights_only=True)`` of the
  state dict give identical outputs; a deep copy shares no storage;
- ``parameters()``, ``named_parameters()``, ``buffers()`` agree with the
  state dict and never repeat a tensor; ``requires_grad_(False)`` stops
  gradients; ``zero_grad()`` leaves ``.grad`` None;
- ``train()``/``eval()`` return the module itself and reach every submodule;
- ``torch.func.functional_call`` with the module's own state equals calling it;
- a call in eval leaves torch's RNG state as it was, for modules deterministic
  in eval (every other global setting is guarded around every check:
  :mod:`conformance.global_state`).

Sources: torch/nn/modules/module.py (``state_dict``, ``load_state_dict``,
``_apply``, ``to``, ``to_empty``, ``train``, ``zero_grad``), torch.func docs.
"""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from conformance.assertions import assert_equal, assert_raises, fail
from conformance.seeding import SEEDS
from conformance.support.subjects import Drawn, Subject, flat_outputs
from conformance.tolerances import tf32

#: The contract is dtype-independent; one dtype keeps these checks cheap.
DTYPE = torch.float32
#: Structural promises that any example of a module breaking them shows: a quarter
#: of the profile's examples (25 under conformance-ci) per check and subject.
pytestmark = pytest.mark.examples_share(0.25)


def _draw(data: st.DataObject, subject: Subject, device: torch.device) -> Drawn:
    drawn = subject.draw(data, device, DTYPE)
    drawn.module.eval()
    return drawn


def _outputs(module: Any, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    with tf32(False), torch.no_grad():
        return tuple(o.clone() for o in flat_outputs(module(*args)))


def _assert_same_outputs(
    name: str, got: tuple[torch.Tensor, ...], want: tuple[torch.Tensor, ...], context: str
) -> None:
    if len(got) != len(want):
        fail(f"{name} returned {len(got)} outputs, but should return {len(want)}", context)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_equal(f"{name}[{i}]" if len(got) > 1 else name, g, w, context)


def _persistent_keys(module: nn.Module) -> set[str]:
    """Named parameters plus the buffers not registered with ``persistent=False``."""
    keys = {name for name, _ in module.named_parameters(remove_duplicate=False)}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        # torch keeps the non-persistent names in this set (module.py, register_buffer).
        hidden: set[str] = getattr(sub, "_non_persistent_buffers_set", set())
        for name, buf in sub.named_buffers(recurse=False):
            if buf is not None and name not in hidden:
                keys.add(f"{prefix}.{name}" if prefix else name)
    return keys


def _rebuilt(data: st.DataObject, drawn: Drawn) -> nn.Module:
    assert drawn.rebuild is not None  # every subject can rebuild
    other = drawn.rebuild(data.draw(SEEDS, label="other seed"))
    other.eval()
    return other


@given(data=st.data())
def test_state_dict_round_trips(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """A's ``state_dict()`` loaded into B (same config, another seed) makes B compute
    what A computes, exactly, in eval; the keys are the parameters and persistent
    buffers."""
    drawn = _draw(data, contract_subject, device)
    a, ctx = drawn.module, drawn.context
    state = a.state_dict()
    if set(state) != _persistent_keys(a):
        fail(
            f"state_dict() keys are {sorted(state)}, but should be the named parameters "
            f"and persistent buffers {sorted(_persistent_keys(a))}",
            ctx,
        )
    b = _rebuilt(data, drawn)
    result = b.load_state_dict(state)
    if list(result.missing_keys) or list(result.unexpected_keys):
        fail(f"load_state_dict(strict=True) returned {result}, but should report nothing", ctx)
    _assert_same_outputs("B(x)", _outputs(b, drawn.args), _outputs(a, drawn.args), ctx)


@given(data=st.data())
def test_load_state_dict_names_missing_and_unexpected_keys(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """``strict=True`` raises naming a missing and an unexpected key; ``strict=False``
    loads the rest and returns both."""
    drawn = _draw(data, contract_subject, device)
    state = drawn.module.state_dict()
    if not state:
        return  # nothing to leave out: the check is vacuous for a stateless module
    missing = data.draw(st.sampled_from(sorted(state)), label="left out")
    # A copy keeps the state dict's metadata (each module's version): without it a
    # module may read the dict as an older version's and fill keys in on purpose
    # (BatchNorm's num_batches_tracked).
    broken = copy.copy(state)
    del broken[missing]
    broken["not_a_key_of_this_module"] = torch.zeros(1)
    b = _rebuilt(data, drawn)
    ctx = f"{drawn.context}; state dict without {missing!r}, with 'not_a_key_of_this_module'"
    error = assert_raises(
        RuntimeError,
        lambda: b.load_state_dict(broken),
        what="load_state_dict(strict=True)",
        context=ctx,
    )
    for key in (missing, "not_a_key_of_this_module"):
        if repr(key).strip("'") not in str(error):
            fail(f"the error does not name {key!r}: {str(error)[:300]}", ctx)
    result = b.load_state_dict(broken, strict=False)
    if list(result.missing_keys) != [missing]:
        fail(f"missing_keys={list(result.missing_keys)}, but should be [{missing!r}]", ctx)
    if list(result.unexpected_keys) != ["not_a_key_of_this_module"]:
        fail(
            f"unexpected_keys={list(result.unexpected_keys)}, but should be "
            "['not_a_key_of_this_module']",
            ctx,
        )


_CONVERSIONS = {
    "to(torch.float64)": (lambda m: m.to(torch.float64), torch.float64),
    "double()": (lambda m: m.double(), torch.float64),
    "half()": (lambda m: m.half(), torch.float16),
    "to(dtype=torch.bfloat16)": (lambda m: m.to(dtype=torch.bfloat16), torch.bfloat16),
}


@given(data=st.data())
def test_dtype_conversion_converts_floating_state_only(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """``to(dtype)``, ``double()``, ``half()`` return the module itself, convert every
    floating parameter and buffer and leave integer and bool buffers as they were;
    ``to("meta")`` and ``to_empty(device=...)`` keep every name and shape."""
    drawn = _draw(data, contract_subject, device)
    module, ctx = drawn.module, drawn.context
    before = {n: (t.dtype, tuple(t.shape)) for n, t in module.state_dict().items()}
    how = data.draw(st.sampled_from(sorted(_CONVERSIONS)), label="conversion")
    convert, target = _CONVERSIONS[how]
    ctx = f"{ctx}; {how}"
    if convert(module) is not module:
        fail(f"{how} returned another object, but should return the module itself", ctx)
    for name, t in module.state_dict().items():
        old_dtype, shape = before[name]
        want = target if old_dtype.is_floating_point else old_dtype
        if t.dtype != want:
            fail(f"{name}.dtype={t.dtype}, but should be {want} (was {old_dtype})", ctx)
        if tuple(t.shape) != shape:
            fail(f"{name}.shape={tuple(t.shape)}, but should stay {shape}", ctx)
    on_meta = copy.deepcopy(module).to("meta")
    empty = on_meta.to_empty(device=device)
    for what, m in (("to('meta')", on_meta), ("to_empty()", empty)):
        shapes = {n: tuple(t.shape) for n, t in m.state_dict().items()}
        if shapes != {n: s for n, (_, s) in before.items()}:
            fail(f"after {what} the state is {shapes}, but should keep {before}", ctx)


@given(data=st.data())
def test_copies_and_saved_state_compute_the_same(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """A deep copy computes what the original computes and shares no storage with it;
    so does a module of another seed loaded from ``torch.save``d / ``torch.load``ed
    (``weights_only=True``) state."""
    drawn = _draw(data, contract_subject, device)
    module, ctx = drawn.module, drawn.context
    want = _outputs(module, drawn.args)
    clone = copy.deepcopy(module)
    _assert_same_outputs("deepcopy(m)(x)", _outputs(clone, drawn.args), want, ctx)
    ours = {t.untyped_storage().data_ptr() for t in module.state_dict().values() if t.numel()}
    shared = [
        n
        for n, t in clone.state_dict().items()
        if t.numel() and t.untyped_storage().data_ptr() in ours
    ]
    if shared:
        fail(f"deepcopy(m).{shared[0]} shares storage with the original's", ctx)
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True, map_location=device)
    other = _rebuilt(data, drawn)
    other.load_state_dict(loaded)
    _assert_same_outputs("loaded(x)", _outputs(other, drawn.args), want, ctx)


@given(data=st.data())
def test_parameters_agree_with_state_dict_and_gradients(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """``named_parameters()`` and the persistent ``named_buffers()`` are the state
    dict's tensors (the same objects), no tensor is listed twice by ``parameters()``;
    ``requires_grad_(False)`` leaves the output without a graph and ``zero_grad()``
    leaves every ``.grad`` None."""
    drawn = _draw(data, contract_subject, device)
    module, ctx = drawn.module, drawn.context
    state = module.state_dict(keep_vars=True)
    persistent = _persistent_keys(module)
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if name in persistent and (name not in state or state[name] is not t):
            fail(f"{name} is not the state dict's tensor of that name", ctx)
    params = list(module.parameters())
    if len({id(p) for p in params}) != len(params):
        fail(f"parameters() lists a tensor twice ({len(params)} entries)", ctx)
    trainable = [p for p in params if p.requires_grad]
    if trainable:
        outs = flat_outputs(module(*drawn.args))
        sum(o.float().sum() for o in outs if o.requires_grad).backward()  # type: ignore[union-attr]
        module.zero_grad()
        graded = [n for n, p in module.named_parameters() if p.grad is not None]
        if graded:
            fail(f"after zero_grad() {graded[0]}.grad is set, but should be None", ctx)
    if module.requires_grad_(False) is not module:
        fail("requires_grad_(False) should return the module itself", ctx)
    outs = flat_outputs(module(*drawn.args))
    tracked = [i for i, o in enumerate(outs) if o.requires_grad]
    if tracked:
        fail(f"out[{tracked[0]}] requires grad after requires_grad_(False)", ctx)


@given(data=st.data())
def test_train_and_eval_return_self_and_reach_every_submodule(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """``train()``, ``train(False)`` and ``eval()`` return the module itself and set
    ``training`` on it and every submodule, whatever the container."""
    drawn = _draw(data, contract_subject, device)
    module, ctx = drawn.module, drawn.context
    for call, flag in (
        ("train()", True),
        ("eval()", False),
        ("train(True)", True),
        ("train(False)", False),
    ):
        returned = module.eval() if call == "eval()" else module.train(flag)
        if returned is not module:
            fail(f"{call} returned {type(returned).__name__}, but should return the module", ctx)
        stale = [n or "(the module)" for n, m in module.named_modules() if m.training != flag]
        if stale:
            fail(f"after {call} {stale[0]}.training={not flag}, but should be {flag}", ctx)


@given(data=st.data())
def test_functional_call_with_own_state_equals_call(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """``torch.func.functional_call(m, own state, args)`` is ``m(*args)``, exactly, in eval."""
    drawn = _draw(data, contract_subject, device)
    module, ctx = drawn.module, drawn.context
    state = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    with tf32(False), torch.no_grad():
        got = flat_outputs(torch.func.functional_call(module, state, drawn.args))
    _assert_same_outputs("functional_call(m, state, x)", got, _outputs(module, drawn.args), ctx)


@given(data=st.data())
def test_call_in_eval_leaves_the_rng_alone(
    data: st.DataObject, device: torch.device, contract_subject: Subject
) -> None:
    """A call in eval, where the kit's modules are deterministic, draws nothing from
    torch's RNG: its state after the call is the state before."""
    drawn = _draw(data, contract_subject, device)
    before = torch.random.get_rng_state()
    _outputs(drawn.module, drawn.args)
    if not torch.equal(torch.random.get_rng_state(), before):
        fail("the call in eval advanced torch's RNG, but should draw nothing", drawn.context)
