"""Planted faults from PyTorch's own history, under the checks that should catch them.

The other ``tests/test_faults_*.py`` modules plant faults written by the same
people who wrote the checks, so the two can share blind spots. Every fault
here instead re-enacts a silent-correctness bug (wrong values, shapes,
gradients or state, with no error) that was reported against pytorch/pytorch,
planted the way it occurred: a layer subclass whose forward does what the
buggy kernel did, or a torch function, ``nn.Module`` method or module wrapper
monkeypatched for one test (pytest's ``monkeypatch``, undone at teardown).
Each entry names the upstream issue or pull request, and
``tests/README.md`` keeps the table: reference -> planted fault -> check.

``test_historical_fault_is_killed[<id>]`` runs the named check (its
Hypothesis body, without shrinking: ``planting.run_unshrunk``) with the fault
planted and asserts that it fails. A fault that no current check kills is a
*survivor*: its test is a strict xfail naming the check that would be needed,
so that the day a check kills it the xfail turns into a failure and the entry
moves up. The time each run takes to fail is recorded as the test's
``seconds_to_failure`` property (``--junitxml`` shows it). Runs expected to
pass (survivors, and ``test_check_passes_on_stock_torch``, which shows each
killing check passes unfaulted) use 25 examples; all of them were also run
with the profile's full 100.

Checks are referred to by their function names, and their parametrised
arguments (``op``, ``kind``) are looked up in the suite's own
``@pytest.mark.parametrize`` marks, so the modules' internals can move
(conformance/support/) without touching this table.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import inspect
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import planting
import pytest
import torch
import torch.nn.functional as F
import torch.nn.modules.module as module_globals
from device_faults import BrokenOffReference
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from planting import run_unshrunk, run_until_caught
from torch import nn
from torch.utils.hooks import BackwardHook

from conformance import test_autograd_graph as graph
from conformance import test_broadcasting_inplace as inplace
from conformance import test_broadcasting_matmul as matmul
from conformance import test_broadcasting_ops as ops
from conformance import test_broadcasting_promotion as promotion
from conformance import test_call_semantics as call
from conformance import test_dropout as dropout
from conformance import test_linear as linear
from conformance import test_module_calls as module_calls
from conformance import test_parity as parity
from conformance import test_train_eval as modes
from conformance.modes import EAGER
from strategies import model_configs, tensors

CPU = torch.device("cpu")
# Parity needs a second device: "cpu:0" is the same hardware under another
# name, standing in for the GPU on which a CUDA-only bug occurred.
SECOND_CPU = torch.device("cpu:0")

FIXTURES: dict[str, Any] = {
    "device": CPU,
    "dtype": torch.float32,
    "parity_device": SECOND_CPU,
    "linear_cls": nn.Linear,
    "dropout_cls": nn.Dropout,
}

# The originals, captured before any patch, for the faulty versions to call.
_ADD, _DIV, _MATMUL = torch.add, torch.div, torch.matmul
_STOCK_CALL_IMPL = nn.Module._call_impl
_DROPOUT2D, _DROPOUT3D = F.dropout2d, F.dropout3d
_P_ERROR = "dropout probability has to be between 0 and 1, but got {p}"


# --- broadcasting, promotion, matmul ------------------------------------------


def _shared_memory(t: torch.Tensor) -> bool:
    """Do several elements of ``t`` live at one memory location (an expanded dim)?"""
    return any(stride == 0 and size > 1 for size, stride in zip(t.shape, t.stride(), strict=True))


def _elements(t: torch.Tensor) -> Any:
    return itertools.product(*(range(side) for side in t.shape))


def _element_loop(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """TH's in-place kernels (pytorch#4664): ``self[i] = op(self[i], other[i])`` for every
    logical element in turn, so on an expanded target one memory location is
    updated once per alias (``ones(1, 1).expand(4, 5) += 1`` gives 21)."""

    def method(self: torch.Tensor, other: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not _shared_memory(self):
            return original(self, other, *args, **kwargs)
        spread = other.expand(self.shape) if isinstance(other, torch.Tensor) else None
        for i in _elements(self):
            original(self[i], other if spread is None else spread[i], *args, **kwargs)
        return self

    return method


def _last_write_wins(name: str) -> Callable[..., torch.Tensor]:
    """TensorIterator writing an output with a stride-0 dim (pytorch#23063): every
    logical element is computed from the input and written in turn, and the
    location they share keeps the last one."""
    original = getattr(torch.Tensor, name)
    function = getattr(torch, name.rstrip("_"))

    def method(self: torch.Tensor, other: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not _shared_memory(self):
            return original(self, other, *args, **kwargs)
        result = function(self.clone(), other, *args, **kwargs)
        for i in _elements(self):
            self[i].copy_(result[i])
        return self

    return method


_INPLACE_METHODS = ("add_", "sub_", "mul_", "div_", "pow_")


def _plant_element_loop(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in _INPLACE_METHODS:
        mp.setattr(torch.Tensor, name, _element_loop(getattr(torch.Tensor, name)))
    return {}


def _plant_last_write_wins(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in _INPLACE_METHODS:
        mp.setattr(torch.Tensor, name, _last_write_wins(name))
    return {}


def _refs_add_(self: torch.Tensor, other: Any, *, alpha: Any = 1) -> torch.Tensor:
    """``torch._refs.add_`` (pytorch#101669): the out-of-place result copied back
    through ``_maybe_resize_out``, which resizes ``self`` to the broadcast shape
    instead of raising."""
    result = _ADD(self, other, alpha=alpha)
    if result.shape != self.shape:
        return self.set_(result)
    return self.copy_(result)


def _plant_refs_add_(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    mp.setattr(torch.Tensor, "add_", _refs_add_)
    return {}


def _is_float(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dtype.is_floating_point or value.dtype.is_complex
    return isinstance(value, float)


def _scalar_cast_to_tensor_type(original: Callable[..., Any]) -> Callable[..., Any]:
    """Before type promotion (pytorch#18913, fixed by PR #22273) a Python number was
    cast to the tensor's type: ``torch.tensor(10) * 1.9`` was ``tensor(10)``."""

    def function(*args: Any, **kwargs: Any) -> Any:
        operands = [a for a in args if isinstance(a, torch.Tensor)]
        if operands and not any(_is_float(t) for t in operands):
            dtype = operands[0].dtype
            args = tuple(
                torch.tensor(a, dtype=torch.float64).to(dtype).item() if isinstance(a, float) else a
                for a in args
            )
        return original(*args, **kwargs)

    return function


def _plant_scalar_cast(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in ("add", "mul", "div"):
        mp.setattr(torch, name, _scalar_cast_to_tensor_type(getattr(torch, name)))
    return {}


def _silent_inplace_cast(name: str) -> Callable[..., torch.Tensor]:
    """Before PR #22273 ``int_tensor *= 2.5`` wrote the float result into the integer
    tensor, truncating it, where it now raises (pytorch#79195 shows ``fill_``
    still does)."""
    function = getattr(torch, name.rstrip("_"))

    def method(self: torch.Tensor, other: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.copy_(function(self, other, *args, **kwargs))

    return method


def _plant_silent_inplace_cast(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in ("add_", "mul_", "div_"):
        mp.setattr(torch.Tensor, name, _silent_inplace_cast(name))
    return {}


def _c_style_integer_div(x: Any, y: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """``torch.div`` on integers before 1.6 (deprecated by PR #34570): C-style
    truncating division, and an integer result."""
    if not args and not kwargs and not (_is_float(x) or _is_float(y)):
        return _DIV(x, y, rounding_mode="trunc")
    return _DIV(x, y, *args, **kwargs)


def _plant_integer_div(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    mp.setattr(torch, "div", _c_style_integer_div)
    return {}


def _matmul_uninitialised_when_inner_is_zero(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """bmm/matmul with inner dim 0 on CUDA (pytorch#31421) skipped the zero-fill and
    returned uninitialised memory (NaN stands for it here)."""
    result = _MATMUL(a, b)
    if a.shape[-1] == 0 and result.numel():
        return torch.full_like(result, float("nan"))
    return result


def _round_to_tf32(t: torch.Tensor) -> torch.Tensor:
    """``t`` (float32) rounded to TF32's 10 mantissa bits, to nearest even."""
    bits = t.contiguous().view(torch.int32)
    rounded = (bits + 0x0FFF + ((bits >> 13) & 1)) & ~0x1FFF
    return rounded.view(torch.float32).reshape(t.shape)


def _tf32_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float32 matmul on Ampere with TF32 on by default (pytorch#53635: ``1024.5 @ [[1.]]``
    gave 1025), whatever the caller asked for."""
    if a.dtype == b.dtype == torch.float32:
        return _MATMUL(_round_to_tf32(a), _round_to_tf32(b))
    return _MATMUL(a, b)


def _patch_matmul(impl: Callable[..., torch.Tensor]) -> Callable[..., dict[str, Any]]:
    def plant(mp: pytest.MonkeyPatch) -> dict[str, Any]:
        mp.setattr(torch, "matmul", impl)
        mp.setattr(torch.Tensor, "__matmul__", impl)
        return {}

    return plant


def _plant_maximum_by_comparison(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """``max(a, b)`` as ``a < b ? b : a`` (pytorch#25016, also MPS pytorch#143976): a NaN in
    ``b`` is dropped, a NaN in ``a`` kept, so the result depends on the order."""
    mp.setattr(torch, "maximum", lambda a, b: torch.where(a < b, b, a))
    mp.setattr(torch, "minimum", lambda a, b: torch.where(a > b, b, a))
    return {}


def _plant_truncating_floor_divide(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """``floor_divide`` and ``//`` rounded toward zero, not down (pytorch#43874)."""

    def floor_divide(x: Any, y: Any) -> torch.Tensor:
        return _DIV(x, y, rounding_mode="trunc")

    mp.setattr(torch, "floor_divide", floor_divide)
    mp.setattr(torch.Tensor, "__floordiv__", floor_divide)
    return {}


def _same_numel_pointwise(original: Callable[..., Any]) -> Callable[..., Any]:
    """Before broadcasting (PR #1563), tensors with equal element counts combined
    element by element in memory order, whatever their shapes: ``a (5,) == b (5, 1)``
    gave 5 results, not 25 (pytorch#1629)."""

    def function(x: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            isinstance(x, torch.Tensor)
            and isinstance(y, torch.Tensor)
            and x.shape != y.shape
            and x.numel() == y.numel()
        ):
            y = y.reshape(x.shape)
        return original(x, y, *args, **kwargs)

    return function


def _plant_same_numel_pointwise(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    mp.setattr(torch, "eq", _same_numel_pointwise(torch.eq))
    mp.setattr(torch.Tensor, "__eq__", _same_numel_pointwise(torch.Tensor.__eq__))
    return {}


def _plant_same_numel_inplace(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """In-place ops kept the deprecated fallback with only a warning: "other is not
    broadcastable to self, but they have the same number of elements. Falling back
    to deprecated pointwise behavior" (pytorch#5826, torch 0.3/0.4)."""
    mp.setattr(torch.Tensor, "add_", _same_numel_pointwise(torch.Tensor.add_))
    return {}


# --- Linear ---------------------------------------------------------------------


class InnerZeroUninitialised(nn.Linear):
    """``addmm`` with inner dim 0 (``in_features == 0``) returning uninitialised
    memory instead of the bias (pytorch#71774: int64 matmul, float16
    ``addmm_decomposed``); NaN stands for the garbage."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_features == 0:
            shape = (*x.shape[:-1], self.out_features)
            return torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
        return super().forward(x)


class TF32ByDefault(nn.Linear):
    """float32 Linear through TF32 tensor cores whatever the flags say (TF32 was on
    by default on Ampere from 1.7 to 1.11: the RFC pytorch#67384)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            return super().forward(x)
        return F.linear(_round_to_tf32(x), _round_to_tf32(self.weight), self.bias)


class IgnoresExtraFeatures(BrokenOffReference):
    """CUDA Linear read the first ``in_features`` columns of a wider input and ignored
    the rest instead of raising (pytorch#62537, #62539, #84328); narrower inputs raised."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.broken and x.ndim >= 2 and x.shape[-1] > self.in_features:
            x = x[..., : self.in_features]
        return super().forward(x)


class OneDimReadsPrefix(BrokenOffReference):
    """CUDA Linear on a 1-D input of the wrong size (302 features for
    ``in_features=128``) returned a result from its first ``in_features``
    values (pytorch#89379)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.broken and x.ndim == 1 and x.shape[0] > self.in_features:
            x = x[: self.in_features]
        return super().forward(x)


def _read_row_major(x: torch.Tensor) -> torch.Tensor:
    """What a kernel on ``data_ptr()`` that assumes row-major strides reads."""
    n = x.numel()
    memory = x.new_empty(0).set_(x.untyped_storage())
    flat = memory[x.storage_offset() : x.storage_offset() + n]
    return F.pad(flat, (0, n - flat.numel())).reshape(x.shape)


class WeightReadRowMajor(nn.Linear):
    """``mkldnn_linear`` read a non-contiguous weight as if it were contiguous
    (PR #51713, "fixing mkldnn_linear & backward with silent error")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, _read_row_major(self.weight), self.bias)


class AccumulatesInBFloat16(nn.Linear):
    """bfloat16 matmul on CPU without mkldnn accumulated in bfloat16, so long sums
    stall (pytorch#83863: 1024 ones summed to 256)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.bfloat16:
            return super().forward(x)
        products = x.unsqueeze(-2) * self.weight  # (..., out, in), each rounded
        total = products.new_zeros(products.shape[:-1])
        for k in range(self.in_features):
            total = total + products[..., k]  # rounded to bfloat16 at every step
        return total if self.bias is None else total + self.bias


class MatmulPathSkipsDtypeCheck(nn.Linear):
    """``F.linear`` on an input of 3 or more dims went through ``matmul`` and
    accepted operands of different dtypes (pytorch#76906), computing in the
    input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim >= 3 and x.dtype != self.weight.dtype:
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return F.linear(x, self.weight.to(x.dtype), bias)
        return super().forward(x)


def _linear(cls: type[nn.Module]) -> Callable[[pytest.MonkeyPatch], dict[str, Any]]:
    return lambda mp: {"linear_cls": cls}


# --- dropout ----------------------------------------------------------------------


class _Dropout(nn.Module):
    """The ``cls(p=..., inplace=...)`` contract; subclasses say what a call does."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(_P_ERROR.format(p=p))
        self.p = p
        self.inplace = inplace


class CallsFunctionalDropout(_Dropout):
    """A module calling ``F.dropout(x, p)`` without ``training=self.training``: the
    function's own default (True) applies, so ``eval()`` does not stop it
    (pytorch#26338)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, inplace=self.inplace)


class NoiseDividedBeforeP1Check(_Dropout):
    """Dropout as written before PR #1833: ``noise.bernoulli_(1 - p).div_(1 - p)``
    runs before the ``p == 1`` case, so ``p = 1`` gives ``0/0 = NaN``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = torch.empty_like(x).bernoulli_(1 - self.p)
        noise.div_(1 - self.p)
        return x.mul_(noise) if self.inplace else x * noise


class OwnGenerator(_Dropout):
    """Masks from a generator ``torch.manual_seed`` does not reach, as MPS dropout
    drew them (pytorch#84516: two calls under one seed differ)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p, inplace)
        self.generator = torch.Generator()
        self.generator.seed()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0.0, 1.0):
            return F.dropout(x, self.p, self.training, self.inplace)
        keep = torch.bernoulli(torch.full_like(x, 1 - self.p), generator=self.generator)
        return x * keep / (1 - self.p)


def _dropout(cls: type[nn.Module]) -> Callable[[pytest.MonkeyPatch], dict[str, Any]]:
    return lambda mp: {"dropout_cls": cls}


def _plant_alpha_dropout_forgets_training(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """pytorch#26338's mistake in an AlphaDropout-style module: ``F.alpha_dropout(x, p)``
    defaults to ``training=False``, so it never drops, in training either."""

    def forward(self: nn.AlphaDropout, x: torch.Tensor) -> torch.Tensor:
        return F.alpha_dropout(x, self.p)

    mp.setattr(nn.AlphaDropout, "forward", forward)
    return {}


def _feature_dropout(input: torch.Tensor, p: float, training: bool, inplace: bool) -> torch.Tensor:
    """ATen's channel dropout on ``input`` as it is: dim 0 batch, dim 1 channels."""
    if p < 0.0 or p > 1.0:
        raise ValueError(_P_ERROR.format(p=p))
    kernel = torch.feature_dropout_ if inplace else torch.feature_dropout
    return kernel(input, p, training)


def _plant_dropout3d_assumes_batch(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Dropout3d read an unbatched ``(C, D, H, W)`` input as batched, dropping
    ``(c, d)`` slices instead of channels (pytorch#69801: "Even Dropout3d is affected")."""

    def dropout3d(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        if input.dim() == 4:
            return _feature_dropout(input, p, training, inplace)
        return _DROPOUT3D(input, p, training, inplace)

    mp.setattr(F, "dropout3d", dropout3d)
    return {}


def _plant_dropout2d_3d_as_unbatched(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """1.11-1.12 (PR #69885, reported as pytorch#77081): a 3-D input to Dropout2d was
    silently read as unbatched ``(C, H, W)``, where 3-D inputs had always been
    ``(N, C, L)``; PR #79611 reverted it behind a warning."""

    def dropout2d(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        if input.dim() != 3:
            return _DROPOUT2D(input, p, training, inplace)
        batched = input.unsqueeze(0)
        out = _feature_dropout(batched, p, training, inplace)
        return input if inplace else out.squeeze(0)

    mp.setattr(F, "dropout2d", dropout2d)
    return {}


def _plant_dropout2d_3d_silently_1d(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """1.10 (pytorch#69801): Dropout2d on a 3-D input, documented as ``(C, H, W)``,
    silently did 1-D channel dropout over ``(N, C, L)``, with no warning."""

    def dropout2d(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        if input.dim() != 3:
            return _DROPOUT2D(input, p, training, inplace)
        return _feature_dropout(input, p, training, inplace)

    mp.setattr(F, "dropout2d", dropout2d)
    return {}


def _plant_dropout3d_any_rank(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Dropout2d and Dropout3d "use exactly the same code" and take any rank
    (pytorch#22879): ``feature_dropout`` on the input as it is, no rank checks."""

    def dropout3d(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        return _feature_dropout(input, p, training, inplace)

    mp.setattr(F, "dropout3d", dropout3d)
    return {}


# --- nn.Module.__call__ and hooks -------------------------------------------------


def _plant_backward_hook_on_output_node(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Module backward hooks before PR #46163 (pytorch#598, #7040, #16276): registered on
    the ``grad_fn`` of the module's output, so ``grad_input`` holds the last op's
    input gradients (for Linear: addmm's bias, input and weight gradients)."""

    def register_full_backward_hook(
        self: nn.Module, hook: Callable[..., Any], prepend: bool = False
    ) -> Any:
        return self.register_backward_hook(hook)

    mp.setattr(nn.Module, "register_full_backward_hook", register_full_backward_hook)
    return {}


def _kwargs_dropped(hook: Callable[..., Any], stage: str) -> Callable[..., Any]:
    if stage == "forward_pre":
        return lambda module, args, kwargs: hook(module, args, {})
    return lambda module, args, kwargs, output: hook(module, args, {}, output)


def _plant_hooks_drop_kwargs(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """ "All the keyword arguments are ignored for all the hooks" (pytorch#35643): a
    hook that asks for the kwargs is given none."""
    stock_pre = nn.Module.register_forward_pre_hook
    stock_fwd = nn.Module.register_forward_hook
    stock_global = module_globals.register_module_forward_hook

    def register_forward_pre_hook(
        self: nn.Module,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
    ) -> Any:
        if with_kwargs:
            hook = _kwargs_dropped(hook, "forward_pre")
        return stock_pre(self, hook, prepend=prepend, with_kwargs=with_kwargs)

    def register_forward_hook(self: nn.Module, hook: Callable[..., Any], **options: Any) -> Any:
        if options.get("with_kwargs"):
            hook = _kwargs_dropped(hook, "forward")
        return stock_fwd(self, hook, **options)

    def register_module_forward_hook(hook: Callable[..., Any], **options: Any) -> Any:
        if options.get("with_kwargs"):
            hook = _kwargs_dropped(hook, "forward")
        return stock_global(hook, **options)

    mp.setattr(nn.Module, "register_forward_pre_hook", register_forward_pre_hook)
    mp.setattr(nn.Module, "register_forward_hook", register_forward_hook)
    mp.setattr(module_globals, "register_module_forward_hook", register_module_forward_hook)
    return {}


def _plant_global_hooks_twice(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """``torch.compile(module)`` returns an ``OptimizedModule`` whose own
    ``nn.Module.__call__`` runs the global hooks around the compiled call, which
    runs them again (pytorch#149502; PR #152740 now warns)."""

    def call_impl(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        for hook in list(module_globals._global_forward_pre_hooks.values()):
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        result = _STOCK_CALL_IMPL(self, *args, **kwargs)
        for hook_id, hook in list(module_globals._global_forward_hooks.items()):
            if hook_id in module_globals._global_forward_hooks_with_kwargs:
                new = hook(self, args, kwargs, result)
            else:
                new = hook(self, args, result)
            result = result if new is None else new
        return result

    mp.setattr(nn.Module, "_call_impl", call_impl)
    return {}


def _plant_full_hook_needs_input_grad(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Full backward hooks did not fire when no input required grad, though the
    parameters did (pytorch#56380, fixed by PR #56693)."""
    stock = BackwardHook.setup_output_hook

    def setup_output_hook(self: BackwardHook, args: Any) -> Any:
        if self.input_tensors_index is None:
            self.user_hooks = []
        return stock(self, args)

    mp.setattr(BackwardHook, "setup_output_hook", setup_output_hook)
    return {}


def _plant_sequential_fast_path(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fused inference fast path that calls its submodules' ``forward`` directly,
    so hooks registered on them never run (TransformerEncoderLayer, pytorch#128413),
    planted in ``nn.Sequential`` for the kit's models."""

    def forward(self: nn.Sequential, input: Any) -> Any:
        if self.training:
            for module in self:
                input = module(input)
            return input
        for module in self:
            input = module.forward(input)
        return input

    mp.setattr(nn.Sequential, "forward", forward)
    return {}


def _plant_train_takes_any_mode(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """``model.train(device)`` was silently taken as ``train(True)``: ``train`` stored
    whatever it was given (pytorch#46763, fixed by PR #58247's boolean check)."""

    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    mp.setattr(nn.Module, "train", train)
    return {}


# --- grad mode and the autograd graph ------------------------------------------


def _plant_forward_in_worker_thread(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Grad mode is thread-local: a module whose forward runs on a worker thread
    records a graph under an outer ``torch.no_grad()`` (pytorch#20528)."""

    def call_impl(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_STOCK_CALL_IMPL, self, *args, **kwargs).result()

    mp.setattr(nn.Module, "_call_impl", call_impl)
    return {}


def _plant_no_grad_detaches_parameters(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """DataParallel under ``no_grad`` detached the broadcast parameters in place, so
    they no longer required grad after the block (pytorch#5851, PR #5880)."""

    def call_impl(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            for param in self.parameters(recurse=False):
                param.requires_grad_(False)
        return _STOCK_CALL_IMPL(self, *args, **kwargs)

    mp.setattr(nn.Module, "_call_impl", call_impl)
    return {}


# --- execution modes and module wrappers ------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Drawn:
    """What the module-call checks read of a drawn subject."""

    module: nn.Module
    args: tuple[torch.Tensor, ...]
    context: str


class _Models:
    """The kit's small nested models (as the suite's own subject draws them),
    optionally inside ``wrapper``."""

    def __init__(self, wrapper: Callable[[nn.Module], nn.Module] | None = None) -> None:
        self.wrapper = wrapper

    def draw(self, data: st.DataObject, device: torch.device, dtype: torch.dtype) -> _Drawn:
        config = data.draw(model_configs(), label="config")
        torch.manual_seed(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        module = config.build(dtype=dtype, device=device)
        if self.wrapper is not None:
            module = self.wrapper(module)
        shape = (data.draw(st.integers(1, 3), label="batch"), config.in_features)
        x = data.draw(tensors(shape=shape, dtype=dtype, device=device), label="x")
        return _Drawn(module, (x,), f"{module!r}, x.shape={shape}")

    def draw_args(
        self, data: st.DataObject, drawn: _Drawn, label: str, *, requires_grad: bool = False
    ) -> tuple[torch.Tensor, ...]:
        return tuple(
            data.draw(
                tensors(
                    shape=tuple(a.shape),
                    dtype=a.dtype,
                    device=a.device,
                    requires_grad=requires_grad,
                ),
                label=f"{label}[{i}]",
            )
            for i, a in enumerate(drawn.args)
        )


@dataclasses.dataclass(frozen=True)
class _FaultyMode:
    """An execution mode (``mode.wrap(module)``) standing for a compiler that got
    module semantics wrong."""

    name: str
    wrap: Callable[[nn.Module], Callable[..., Any]]

    def describe(self) -> str:
        return f"{self.name} (a planted execution mode)"

    def __str__(self) -> str:
        return self.name


class _HooksFrozenAtFirstCall:
    """A compiled module without guards on its hooks: the call keeps running the hooks
    of ``kinds`` (forward by default) that were registered when it was first traced
    (Dynamo, pytorch#117758; backward hooks, pytorch#117265)."""

    def __init__(
        self, module: nn.Module, kinds: tuple[str, str] = ("_forward_pre_hooks", "_forward_hooks")
    ) -> None:
        self.module = module
        self.kinds = kinds
        self.frozen: list[OrderedDict[int, Any]] | None = None

    def __call__(self, *args: Any) -> Any:
        module = self.module
        if self.frozen is None:
            self.frozen = [OrderedDict(getattr(module, k)) for k in self.kinds]
        live = [getattr(module, k) for k in self.kinds]
        for kind, frozen in zip(self.kinds, self.frozen, strict=True):
            setattr(module, kind, OrderedDict(frozen))
        try:
            return module(*args)
        finally:
            for kind, hooks in zip(self.kinds, live, strict=True):
                setattr(module, kind, hooks)


def _scripted_without_hooks(module: nn.Module) -> Callable[..., Any]:
    """TorchScript compiled ``forward`` alone: a scripted module "is silently different
    from eager Python since the hooks are not run" (pytorch#34329)."""
    return module.forward


def _backward_hooks_frozen_at_first_call(module: nn.Module) -> _HooksFrozenAtFirstCall:
    """A full backward pre-hook registered after the first call never runs
    (pytorch#117265, "torch.compile silently incorrect with full_backward_pre_hook")."""
    return _HooksFrozenAtFirstCall(module, ("_backward_pre_hooks", "_backward_hooks"))


class _GraphAfterGradCalls:
    """A scripted module whose outputs require grad inside ``no_grad`` blocks
    (pytorch#128261; also #43193), here once it has been called with grad enabled
    (its executor plan specialised on grad mode at the first calls)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.profiled_with_grad = False

    def __call__(self, *args: Any) -> Any:
        if torch.is_grad_enabled():
            self.profiled_with_grad = True
            return self.module(*args)
        if self.profiled_with_grad:
            with torch.enable_grad():
                return self.module(*args)
        return self.module(*args)


class _StaleWrapperFlag(nn.Module):
    """``OptimizedModule.train()``/``.eval()`` changed the wrapped module's flag only, the
    wrapper's ``.training`` stayed (pytorch#132986)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *args: Any) -> Any:
        return self.inner(*args)

    def train(self, mode: bool = True) -> _StaleWrapperFlag:
        self.inner.train(mode)
        return self


def _mode(name: str, wrap: Callable[[nn.Module], Any]) -> Callable[..., dict[str, Any]]:
    return lambda mp: {"mode": _FaultyMode(name, wrap), "call_subject": _Models()}


def _plant_stale_wrapper_flag(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    return {"call_subject": _Models(_StaleWrapperFlag)}


# --- the table ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HistoricalFault:
    """An upstream bug re-enacted under a check.

    ``plant(monkeypatch)`` plants it (patches undone at teardown) and returns
    the fixtures that carry it (a faulty ``linear_cls`` or ``dropout_cls``, a
    ``mode``, a ``call_subject``); ``dtype`` is the ``dtype`` fixture the check
    runs with; ``params`` picks the check's parametrised arguments by id from
    its own marks. ``survivor``: no current check kills the fault; says what
    check would.
    """

    ref: str
    description: str
    plant: Callable[[pytest.MonkeyPatch], dict[str, Any]]
    check: Callable[..., None]
    id: str
    params: tuple[tuple[str, str], ...] = ()
    dtype: torch.dtype = torch.float32
    raises: tuple[type[BaseException], ...] = (AssertionError,)
    survivor: str | None = None


H = HistoricalFault
FAULTS = [
    # broadcasting, promotion, matmul
    H("pytorch/pytorch#4664", "in-place op on an expanded tensor updated the shared element once "
      "per alias (also #4718; #17935 made it an error)", _plant_element_loop,
      inplace.test_inplace_write_into_expanded_tensor_raises, "inplace-expanded-per-alias"),
    H("pytorch/pytorch#23063", "output with a stride-0 dim: the shared element silently kept the "
      "last logical write", _plant_last_write_wins,
      inplace.test_inplace_write_into_expanded_tensor_raises, "inplace-expanded-last-write"),
    H("pytorch/pytorch#101669", "torch._refs in-place ops resize self to the broadcast shape "
      "instead of raising", _plant_refs_add_, inplace.test_inplace_op_follows_broadcast_rule,
      "refs-inplace-resizes-self", params=(("op", "add"),)),
    H("pytorch/pytorch#1629", "before broadcasting, tensors with equal numel combined element "
      "by element: a (5,) == b (5, 1) gave 5 results, not 25", _plant_same_numel_pointwise,
      ops.test_op_matches_numpy, "same-numel-pointwise", params=(("op", "eq"),)),
    H("pytorch/pytorch#5826", "in-place ops fell back to pointwise over equal numel with only a "
      "warning (\"deprecated pointwise behavior\")", _plant_same_numel_inplace,
      inplace.test_inplace_op_follows_broadcast_rule, "same-numel-inplace-fallback",
      params=(("op", "add"),)),
    H("pytorch/pytorch#18913", "a Python float was cast to an integer tensor's dtype: "
      "tensor(10) * 1.9 == 10 (type promotion, PR #22273)", _plant_scalar_cast,
      promotion.test_operands_across_categories_promote_as_documented,
      "float-scalar-cast-to-int", dtype=torch.int32),
    H("pytorch/pytorch#22273", "before this PR int_tensor *= float silently truncated into the "
      "integer tensor (fill_ still does: #79195)", _plant_silent_inplace_cast,
      promotion.test_result_dtype_follows_documented_rule, "inplace-int-truncates-float",
      dtype=torch.int16),
    H("pytorch/pytorch#34570", "torch.div on integer tensors did C-style truncating division and "
      "returned integers (deprecated here, true division from 1.7)", _plant_integer_div,
      promotion.test_result_dtype_follows_documented_rule, "integer-div-truncates",
      dtype=torch.int64),
    H("pytorch/pytorch#31421", "bmm/matmul with inner dim 0 returned uninitialised memory instead "
      "of zeros", _patch_matmul(_matmul_uninitialised_when_inner_is_zero),
      matmul.test_matmul_matches_numpy, "matmul-inner-zero-garbage"),
    H("pytorch/pytorch#53635", "float32 matmul rounded through TF32 on Ampere although full "
      "precision was asked for (1024.5 @ [[1.]] gave 1025)", _patch_matmul(_tf32_matmul),
      matmul.test_matmul_matches_numpy, "matmul-tf32-by-default"),
    H("pytorch/pytorch#25016", "torch.max(x, y) as a < b ? b : a: NaN kept or dropped by operand "
      "order (MPS again: #143976)", _plant_maximum_by_comparison, ops.test_op_matches_numpy,
      "maximum-nan-by-order", params=(("op", "maximum"),)),
    H("pytorch/pytorch#43874", "floor_divide and // rounded toward zero, not down, for negative "
      "operands", _plant_truncating_floor_divide, ops.test_op_matches_numpy,
      "floor-divide-truncates", params=(("op", "floor_divide"),)),
    # Linear
    H("pytorch/pytorch#71774", "matmul/addmm with inner dim 0 returned uninitialised memory "
      "(int64 matmul, float16 addmm_decomposed)", _linear(InnerZeroUninitialised),
      linear.test_linear_matches_affine, "linear-inner-zero-garbage"),
    H("pytorch/pytorch#67384", "TF32 on by default for float32 matmuls (RFC): Linear rounded its "
      "operands to 10 mantissa bits unasked", _linear(TF32ByDefault),
      linear.test_linear_matches_affine, "linear-tf32-by-default"),
    H("pytorch/pytorch#62537", "CUDA Linear ignored the extra columns of a too-wide input instead "
      "of raising (also #62539, #84328)", _linear(IgnoresExtraFeatures),
      parity.test_parity_errors, "linear-cuda-ignores-extra-features"),
    H("pytorch/pytorch#89379", "CUDA Linear on a 1-D input of the wrong size returned a result "
      "from its first in_features values", _linear(OneDimReadsPrefix),
      parity.test_parity_errors, "linear-cuda-1d-wrong-size"),
    H("pytorch/pytorch#76906", "F.linear on a 3-D input went through matmul and accepted "
      "operands of different dtypes", _linear(MatmulPathSkipsDtypeCheck),
      linear.test_linear_rejects_mismatched_dtype, "linear-matmul-path-mixed-dtype"),
    H("pytorch/pytorch#51713", "mkldnn_linear (and its backward) read a non-contiguous weight as "
      "if contiguous", _linear(WeightReadRowMajor), linear.test_linear_uses_assigned_weight,
      "linear-noncontiguous-weight"),
    H("pytorch/pytorch#83863", "bfloat16 matmul on CPU without mkldnn accumulated in bfloat16 "
      "(1024 ones summed to 256)", _linear(AccumulatesInBFloat16),
      linear.test_linear_low_precision_sums_in_float32, "linear-bf16-accumulation",
      dtype=torch.bfloat16),
    # dropout
    H("pytorch/pytorch#26338", "a module calling F.dropout(x, p) without training=self.training "
      "kept dropping after eval()", _dropout(CallsFunctionalDropout),
      dropout.test_dropout_identity_in_eval_and_at_p0, "module-calls-functional-dropout",
      params=(("kind", "Dropout"),)),
    H("pytorch/pytorch#26338", "the same mistake with F.alpha_dropout, whose default is "
      "training=False: an AlphaDropout module that never drops",
      _plant_alpha_dropout_forgets_training,
      dropout.test_dropout_train_scales_kept, "alpha-module-never-drops",
      params=(("kind", "AlphaDropout"),)),
    H("pytorch/pytorch#1833", "dropout divided the noise by 1 - p before the p == 1 case: 0/0 "
      "gave NaN outputs", _dropout(NoiseDividedBeforeP1Check), dropout.test_dropout_p1_zeros,
      "dropout-p1-nan", params=(("kind", "Dropout"),)),
    H("pytorch/pytorch#69801", "Dropout3d read an unbatched (C, D, H, W) input as batched, "
      "dropping (c, d) slices, not channels", _plant_dropout3d_assumes_batch,
      dropout.test_dropout_zeroes_whole_channels, "dropout3d-unbatched-channels",
      params=(("kind", "Dropout3d"),)),
    H("pytorch/pytorch#69801", "Dropout2d on 3-D input (documented as (C, H, W)) silently did "
      "1-D channel dropout over (N, C, L), without a warning", _plant_dropout2d_3d_silently_1d,
      dropout.test_dropout_rank_rules, "dropout2d-3d-silently-1d", params=(("kind", "Dropout2d"),)),
    H("pytorch/pytorch#77081", "1.11: Dropout2d silently started reading 3-D input as (C, H, W) "
      "(PR #69885; PR #79611 reverted it with a warning)", _plant_dropout2d_3d_as_unbatched,
      dropout.test_dropout_rank_rules, "dropout2d-3d-as-unbatched",
      params=(("kind", "Dropout2d"),)),
    H("pytorch/pytorch#22879", "Dropout2d and Dropout3d ran the same feature_dropout on any rank, "
      "with no rank checks", _plant_dropout3d_any_rank, dropout.test_dropout_rank_rules,
      "dropout3d-any-rank", params=(("kind", "Dropout3d"),)),
    H("pytorch/pytorch#84516", "MPS dropout drew masks torch.manual_seed did not reach: two calls "
      "under one seed differed", _dropout(OwnGenerator), dropout.test_dropout_seeded_masks_repeat,
      "dropout-ignores-manual-seed", params=(("kind", "Dropout"),), raises=(AssertionError, Flaky)),
    # __call__ and hooks
    H("pytorch/pytorch#598", "module backward hooks hooked the output's grad_fn: grad_input was "
      "the last op's (also #7040, #16276; PR #46163)", _plant_backward_hook_on_output_node,
      call.test_backward_hooks_see_gradients_of_the_right_shapes, "backward-hook-on-last-node",
      dtype=torch.float64),
    H("pytorch/pytorch#35643", "module hooks ignored keyword arguments: a hook asking for the "
      "kwargs got none", _plant_hooks_drop_kwargs,
      call.test_forward_hooks_run_in_order_and_pass_results_on, "hooks-drop-kwargs"),
    H("pytorch/pytorch#149502", "torch.compile(module): the OptimizedModule's own __call__ and "
      "the compiled one both ran the global hooks", _plant_global_hooks_twice,
      call.test_forward_hooks_run_in_order_and_pass_results_on, "global-hooks-run-twice"),
    H("pytorch/pytorch#56380", "full backward hooks did not fire when no input required grad "
      "(PR #56693)", _plant_full_hook_needs_input_grad,
      call.test_backward_hooks_see_gradients_of_the_right_shapes, "full-hook-needs-input-grad"),
    H("pytorch/pytorch#128413", "TransformerEncoderLayer's fast path skipped its submodules' "
      "__call__: their hooks never ran", _plant_sequential_fast_path,
      call.test_hooks_on_every_submodule_run_once_per_call, "fast-path-skips-submodule-hooks"),
    H("pytorch/pytorch#117758", "Dynamo did not guard on module hooks: hooks registered after "
      "compiling never ran", _mode("hooks-frozen", _HooksFrozenAtFirstCall),
      module_calls.test_hooks_registered_after_wrapping_run, "compiled-hooks-frozen"),
    H("pytorch/pytorch#34329", "a scripted module compiled fine but silently never ran its "
      "forward (pre-)hooks", _mode("scripted-no-hooks", _scripted_without_hooks),
      module_calls.test_hooks_registered_before_wrapping_run, "scripted-skips-hooks"),
    H("pytorch/pytorch#117265", "torch.compile silently ignored a full backward pre-hook "
      "registered after the first call", _mode("backward-hooks-frozen",
      _backward_hooks_frozen_at_first_call),
      module_calls.test_backward_hooks_registered_after_wrapping_run,
      "compiled-backward-hooks-frozen"),
    H("pytorch/pytorch#132986", "OptimizedModule.eval()/.train() set the wrapped module's flag, "
      "not the wrapper's own .training", _plant_stale_wrapper_flag,
      module_calls.test_train_and_eval_reach_every_submodule, "compiled-wrapper-flag-stale"),
    H("pytorch/pytorch#46763", "model.train(device) was silently taken as train(True) (PR "
      "#58247 added the boolean check)", _plant_train_takes_any_mode,
      modes.test_train_rejects_a_non_bool_mode, "train-takes-any-mode"),
    # grad mode and the graph
    H("pytorch/pytorch#20528", "grad mode is thread-local: forward on a worker thread recorded a "
      "graph under an outer no_grad", _plant_forward_in_worker_thread,
      graph.test_no_graph_is_recorded_under_no_grad, "no-grad-lost-in-thread"),
    H("pytorch/pytorch#128261", "a scripted module's outputs required grad inside no_grad "
      "blocks (here after calls with grad)", _mode("grad-specialised", _GraphAfterGradCalls),
      module_calls.test_no_graph_under_no_grad, "scripted-graph-under-no-grad"),
    H("pytorch/pytorch#5851", "DataParallel under no_grad detached the parameters in place: "
      "requires_grad stayed False after the block (PR #5880)", _plant_no_grad_detaches_parameters,
      graph.test_no_graph_is_recorded_under_no_grad, "no-grad-detaches-parameters"),
]  # fmt: skip


#: Pending: upstream bugs in semantics the kit has no kind for yet (state dicts,
#: batch-norm statistics, conv padding: issue 11). Listed in tests/README.md, not planted.
PENDING = {
    "pytorch/pytorch#33867": "cuDNN batch norm with non-contiguous running_mean/var silently "
    "discarded the running-statistics update",
    "pytorch/pytorch#8104": "load_state_dict does not load a tensor into a buffer registered "
    "as None",
    "pytorch/pytorch#104984": "eval() then torch.compile in inference mode froze the weights: "
    "load_state_dict afterwards had no effect on the compiled module",
}


# --- running a check ---------------------------------------------------------------


def _param(check: Callable[..., None], argname: str, pick: str) -> Any:
    """The value the suite parametrises ``check``'s ``argname`` with whose id, ``str()`` or
    ``.name`` is ``pick``, read from the check's own ``@pytest.mark.parametrize``."""
    for mark in getattr(check, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if argname not in names:
            continue
        for value in mark.args[1]:
            label = None
            if type(value).__name__ == "ParameterSet":
                label, value = value.id, value.values
                value = value[names.index(argname)] if len(names) > 1 else value[0]
            elif len(names) > 1:
                value = value[names.index(argname)]
            if pick in (label, str(value), getattr(value, "name", None)):
                return value
    raise LookupError(f"{check.__name__} has no {argname}={pick!r} in its parametrize marks")


def run_check(
    check: Callable[..., None], fixtures: dict[str, Any], *, caught: bool = False, **kwargs: Any
) -> None:
    """A ``@given`` check without shrinking (``run_unshrunk``; ``run_until_caught`` for
    a fault); a fixed-example check called once with the fixtures it takes."""
    if hasattr(check, "hypothesis"):
        (run_until_caught if caught else run_unshrunk)(check, fixtures, **kwargs)
        return
    wanted = inspect.signature(check).parameters
    args = {name: value for name, value in fixtures.items() if name in wanted}
    if "mode" in wanted and "mode" not in args:
        args["mode"] = EAGER
    check(**args, **kwargs)


#: Examples for a run that is expected to pass (a survivor, a control): every
#: survivor below was also run under the full conformance-ci budget (100
#: examples) and survived; a quarter of it keeps this module fast.
PASSING_EXAMPLES = 25


def _cap_examples(mp: pytest.MonkeyPatch, n: int) -> None:
    """``run_unshrunk`` with at most ``n`` examples, for this test only."""
    mp.setattr(planting, "NO_SHRINK", settings(planting.NO_SHRINK, max_examples=n))


def _case(fault: HistoricalFault) -> Any:
    marks = ()
    if fault.survivor is not None:
        reason = f"survivor ({fault.ref}): {fault.survivor}"
        marks = (pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=reason),)
    return pytest.param(fault, id=fault.id, marks=marks)


@pytest.mark.parametrize("fault", [_case(f) for f in FAULTS])
def test_historical_fault_is_killed(
    fault: HistoricalFault,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    if fault.survivor is not None:
        _cap_examples(monkeypatch, PASSING_EXAMPLES)
    fixtures = {**FIXTURES, "dtype": fault.dtype, **fault.plant(monkeypatch)}
    kwargs = {name: _param(fault.check, name, pick) for name, pick in fault.params}
    start = time.perf_counter()
    with pytest.raises(fault.raises):
        run_check(fault.check, fixtures, caught=fault.survivor is None, **kwargs)
    record_property("seconds_to_failure", round(time.perf_counter() - start, 4))


#: The checks a historical fault fails (tests/test_fault_coverage.py).
GUARDED = {f.check for f in FAULTS if f.survivor is None}


def test_table_is_consistent() -> None:
    ids = [f.id for f in FAULTS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(f.ref.startswith("pytorch/pytorch#") for f in FAULTS)
    assert len([f for f in FAULTS if f.survivor is None]) >= 30


# --- each check, as the faults run it, passes on stock torch ----------------------


def _stock_cases() -> list[Any]:
    """One case per distinct (check, params, dtype) a fault is killed by."""
    cases: dict[tuple[Any, ...], Any] = {}
    for f in FAULTS:
        key = (f.check.__name__, f.params, str(f.dtype))
        if f.survivor is None and key not in cases:
            name = "-".join([f.check.__name__.removeprefix("test_"), *(p for _, p in f.params)])
            cases[key] = pytest.param(f, id=f"{name}-{str(f.dtype).removeprefix('torch.')}")
    return list(cases.values())


@pytest.mark.parametrize("fault", _stock_cases())
def test_check_passes_on_stock_torch(
    fault: HistoricalFault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check a fault is killed by passes unfaulted, with the same parameters,
    dtype and (for the module-call checks) the same drawn models: the failure
    above is the fault's. (All of them also pass under the full 100 examples.)"""
    _cap_examples(monkeypatch, PASSING_EXAMPLES)
    fixtures = {**FIXTURES, "dtype": fault.dtype, "call_subject": _Models()}
    kwargs = {name: _param(fault.check, name, pick) for name, pick in fault.params}
    run_check(fault.check, fixtures, **kwargs)
