"""What reports/ecosystem/ covers and how its pages are written.

:data:`TARGETS` are the layers run (one ``reports/ecosystem/<name>/`` each),
:data:`PAGES` the libraries (one page each), :data:`DEPARTURES` every way a
target was seen to depart, classified, with the rules that match a failing
check to it and the minimal repro (``repros/*.py``) that shows it without the
kit. :func:`write_pages` reads the reports a run left, matches each failure,
runs every repro and writes the pages; it returns the problems (an
unmatched failure, a departure that no longer shows, a repro that fails or is
longer than 15 lines), which ``run_ecosystem.py`` turns into exit status 1.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPORTS = ROOT / "reports" / "ecosystem"
REPROS = HERE / "repros"
MAX_REPRO_LINES = 15
MODE_COLUMNS = ("eager", "functional_call", "compile", "jit")

# --- what is run ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    name: str  # directory under reports/ecosystem/
    page: str  # the library's page (a key of PAGES)
    spec: str  # module:Name on PYTHONPATH=examples/adapters
    title: str
    adapter: str  # what the adapter does, one line of markdown
    kind: str = "linear"  # the registered layer kind: --target {kind}={spec}


#: How the module-call checks (``conformance.check_call_semantics``, which ``--target``
#: does not reach) build each kind's layer and what they call it on: (constructor
#: arguments, input shapes). None: not run, for the reason given.
CALLS: dict[str, tuple[tuple[int, ...], list[tuple[int, ...]]] | None] = {
    "linear": ((4, 3), [(2, 4)]),
    "conv1d": ((3, 2, 3), [(2, 3, 5)]),
    "conv2d": ((3, 2, 3), [(2, 3, 5, 5)]),
    "batch_norm2d": ((3,), [(2, 3, 4, 4)]),
    "layer_norm": ((4,), [(2, 4)]),
    "embedding": None,
}
CALLS_SKIPPED = {
    "embedding": "`check_call_semantics` draws floating-point inputs of the shapes it is "
    "given, and an embedding takes integer indices (the suites' own checks call the layer on "
    "drawn indices in every mode)",
}


def reference_name(kind: str) -> str:
    """``torch.nn.Linear`` for ``linear``: what a target of that kind departs from."""
    from conformance import layers  # imports no torch

    return layers.get(kind).reference_name


TARGETS = (
    Target(
        "peft-lora",
        "peft",
        "peft_lora_adapter:lora_linear",
        "peft LoRA `Linear`, fresh",
        "`get_peft_model(one-layer model, LoraConfig(r=4, lora_alpha=8, target_modules=[...]))`; "
        "returns the `lora.Linear` that replaced the `nn.Linear` (`lora_B = 0`)",
    ),
    Target(
        "peft-lora-trained",
        "peft",
        "peft_lora_adapter:trained_lora_linear",
        "peft LoRA `Linear`, after one SGD step",
        "the same, then one SGD step (lr 0.5, MSE on 8 random rows from its own generator, "
        "seed 0): `lora_B != 0`",
    ),
    Target(
        "peft-lora-embedding",
        "peft",
        "peft_lora_adapter:lora_embedding",
        "peft LoRA `Embedding`, fresh",
        "`get_peft_model(one-layer model, LoraConfig(r=4, lora_alpha=8, target_modules=[...]))` "
        "on an `nn.Embedding` built from the contract's arguments; returns the `lora.Embedding` "
        "that replaced it (`lora_embedding_A = 0`)",
        kind="embedding",
    ),
    Target(
        "peft-lora-embedding-trained",
        "peft",
        "peft_lora_adapter:trained_lora_embedding",
        "peft LoRA `Embedding`, after one SGD step",
        "the same, then one SGD step (lr 0.5, MSE on 8 random indices and targets from its own "
        "generator, seed 0): `lora_embedding_A != 0`",
        kind="embedding",
    ),
    Target(
        "peft-lora-conv1d",
        "peft",
        "peft_lora_adapter:lora_conv1d",
        "peft LoRA `Conv1d`, fresh",
        "`get_peft_model(one-layer model, LoraConfig(r=4, lora_alpha=8, target_modules=[...]))` "
        "on an `nn.Conv1d` built from the contract's arguments; returns the `lora.Conv1d` that "
        "replaced it (`lora_B = 0`)",
        kind="conv1d",
    ),
    Target(
        "peft-lora-conv1d-rank-divisible",
        "peft",
        "peft_lora_adapter:lora_conv1d_rank_divisible",
        "peft LoRA `Conv1d`, fresh, `groups` dividing `r` only (diagnostic)",
        "`lora_conv1d`, except that an example drawing `groups=3` (which does not divide "
        "`r=4`) is rejected (`hypothesis.assume`), so no check shrinks to the `ValueError` "
        "peft raises for it: a diagnostic, to see past it",
        kind="conv1d",
    ),
    Target(
        "timm-linear",
        "timm",
        "timm_adapter:Linear",
        "timm `Linear`",
        "none: `timm.layers.Linear` itself (re-exported)",
    ),
    Target(
        "timm-conv2d-same",
        "timm",
        "timm_adapter:conv2d_same",
        "timm `Conv2dSame`",
        "`Conv2dSame(...)` with every argument as given (`padding` too, which it ignores); "
        '`padding_mode` other than `"zeros"` passed on, for its constructor to refuse',
        kind="conv2d",
    ),
    Target(
        "timm-conv2d-same-zeros-only",
        "timm",
        "timm_adapter:conv2d_same_zeros_only",
        "timm `Conv2dSame`, zero-padding configs only (diagnostic)",
        "`conv2d_same`, except that an example drawing a `padding_mode` other than "
        '`"zeros"` is rejected (`hypothesis.assume`), so no check shrinks to the `TypeError` '
        "the library raises for it: a diagnostic, to see past it",
        kind="conv2d",
    ),
    Target(
        "timm-std-conv2d",
        "timm",
        "timm_adapter:std_conv2d",
        "timm `StdConv2d`",
        "`StdConv2d(...)` with every argument as given (its defaults `padding=None`, "
        "`bias=False` kept); `padding_mode` as for `Conv2dSame`",
        kind="conv2d",
    ),
    Target(
        "timm-batch-norm-act2d",
        "timm",
        "timm_adapter:batch_norm_act2d",
        "timm `BatchNormAct2d(apply_act=False)`",
        "`BatchNormAct2d(num_features, eps, momentum, affine, track_running_stats, "
        "apply_act=False, device, dtype)`: its activation and drop layer are `Identity`",
        kind="batch_norm2d",
    ),
    Target(
        "timm-layer-norm",
        "timm",
        "timm_adapter:layer_norm",
        "timm `LayerNorm`",
        "`LayerNorm(normalized_shape, eps=eps, affine=elementwise_affine, bias=bias, device, "
        "dtype)`: timm's argument names, and its default `eps=1e-6` kept",
        kind="layer_norm",
    ),
    Target(
        "gpt2-conv1d",
        "transformers",
        "gpt2_conv1d_adapter:conv1d_linear",
        "GPT-2 `Conv1D`, weight registered as (out, in)",
        "a wrapper registering `weight` `(out, in)` and `bias`, calling `Conv1D.forward` via "
        "`functional_call` with `weight.T`",
    ),
    Target(
        "gpt2-conv1d-nx0-bypassed",
        "transformers",
        "gpt2_conv1d_adapter:conv1d_linear_nx0_bypassed",
        "GPT-2 `Conv1D`, as `gpt2-conv1d` with the `nx=0` bug bypassed (diagnostic)",
        "`conv1d_linear`, except that for `in_features == 0` and a last input dimension of 0 "
        "the adapter computes `F.linear(x, weight, bias)` instead of calling `Conv1D.forward`: a "
        "diagnostic, to see past the one bug every `in_features=0` draw shrinks to",
    ),
    Target(
        "gpt2-conv1d-view",
        "transformers",
        "gpt2_conv1d_adapter:conv1d_view",
        "GPT-2 `Conv1D`, weight a `.T` view",
        "a wrapper holding `Conv1D` whole, `weight` a read-only property `conv.weight.T`",
    ),
    Target(
        "opacus-grad-sample",
        "opacus",
        "opacus_adapter:grad_sample_linear",
        "opacus `GradSampleModule(nn.Linear)`",
        "a `GradSampleModule` subclass adding only read-only `weight`/`bias` properties "
        "(`_module.weight`/`_module.bias`)",
    ),
    Target(
        "opacus-hooked-linear",
        "opacus",
        "opacus_adapter:hooked_linear",
        "the `nn.Linear` inside `GradSampleModule`, with its hooks",
        "returns the wrapped `nn.Linear` after `GradSampleModule(linear)` hooked it",
    ),
    Target(
        "torchvision-frozen-batch-norm2d",
        "torchvision",
        "torchvision_adapter:frozen_batch_norm2d",
        "torchvision `FrozenBatchNorm2d`",
        "`FrozenBatchNorm2d(num_features, eps).to(device, dtype)`; `momentum`, `affine`, "
        "`track_running_stats` ignored (it has none); a plain, unregistered "
        "`num_batches_tracked = tensor(0)` attribute for the contract's start-up check",
        kind="batch_norm2d",
    ),
)


@dataclasses.dataclass(frozen=True)
class Page:
    title: str
    packages: tuple[str, ...]  # distributions whose versions the page names
    about: str  # markdown: what the layer is and does
    # Found while classifying, outside what the suites check: (heading, markdown, repro file).
    beyond: tuple[tuple[str, str, str | None], ...] = ()


PAGES = {
    "peft": Page(
        "peft's LoRA `Linear`, `Embedding` and `Conv1d`",
        ("peft",),
        "A user gets this layer from `get_peft_model(model, LoraConfig(...))`: each "
        "`nn.Linear` named in `target_modules` is replaced by `peft.tuners.lora.Linear`, which "
        "keeps the original as `base_layer` (frozen), adds `lora_A[name]` "
        "(`nn.Linear(in, r, bias=False)`, Kaiming-uniform) and `lora_B[name]` "
        "(`nn.Linear(r, out, bias=False)`, zeros) and computes `base_layer(x) + "
        "lora_B(lora_A(dropout(x))) * lora_alpha / r`. Its `weight` and `bias` are read-only "
        "properties returning `base_layer`'s (`BaseTunerLayer`), so it keeps the contract "
        "without an alias of ours. `get_peft_model`'s default `autocast_adapter_dtype=True` keeps "
        "float16/bfloat16 adapters in float32. Unlike loralib (`reports/examples/loralib.md`), "
        "`eval()` merges nothing: `merge()`/`merge_and_unload()` do, when asked.\n\n"
        "Named in `target_modules`, an `nn.Embedding` is replaced by "
        "`peft.tuners.lora.Embedding`: `base_layer` (frozen), `lora_embedding_A[name]` "
        "(a parameter `(r, num_embeddings)`, zeros) and `lora_embedding_B[name]` "
        "(`(embedding_dim, r)`, normal), and `forward(x) = base_layer(x) + F.embedding(x, A.T, "
        "<base_layer's padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse>) @ B.T "
        "* lora_alpha / r`; `weight` is again `base_layer.weight`, read-only. The adapter "
        "(`lora_embedding`) builds the `nn.Embedding` from the `embedding` contract's arguments "
        "inside a one-layer model, exactly as for Linear. It has no `from_pretrained`, so "
        "`test_embedding_from_pretrained` skips.\n\n"
        "An `nn.Conv1d` named in `target_modules` is replaced by `peft.tuners.lora.Conv1d`: "
        "`base_layer` (frozen), `lora_A[name]` (`nn.Conv1d(in, r, kernel_size, stride, "
        "padding, bias=False)`, Kaiming-uniform) and `lora_B[name]` (`nn.Conv1d(r, out, 1, "
        "groups=groups, bias=False)`, zeros), and `forward(x) = base_layer(x) + "
        "lora_B(lora_A(dropout(x))) * lora_alpha / r`; `weight`/`bias` are again "
        "`base_layer`'s, read-only. `lora_A` takes the base layer's `kernel_size`, `stride` and "
        "`padding`, but not its `dilation` or `padding_mode` (D8). The adapter (`lora_conv1d`) "
        "builds the `nn.Conv1d` from the `conv1d` contract's arguments inside a one-layer "
        "model, as for Linear; fresh only (`lora_B = 0`), so where it runs it computes what "
        "the base layer does. peft refuses `groups` that do not divide `r` (D7), and every "
        "check that draws `groups=3` shrinks to that, so a diagnostic target, "
        "`peft-lora-conv1d-rank-divisible`, rejects those draws (`hypothesis.assume`): what "
        "departs there and not in `peft-lora-conv1d` was behind D7.",
        beyond=(
            (
                "LoRA `Conv1d` zero-pads its adapter whatever the `padding_mode`",
                "Not reached by the fresh targets (`lora_B = 0`: the adapter's term is zero "
                "wherever it is computed). Found reading `update_layer` for D8: `lora_A` is "
                "built without the base layer's `padding_mode`, so with `reflect`, "
                "`replicate` or `circular` padding the base term pads one way and the "
                "adapter's term with zeros. Once `lora_B != 0` the unmerged layer and the same "
                "layer after `merge()` (which adds the delta to the base weight, padded the "
                "base's way) differ at the edge positions: merging changes what the model "
                "computes. The same cause as D8; a bug in the library.",
                "peft_conv1d_padding_mode.py",
            ),
        ),
    ),
    "timm": Page(
        "timm's `Linear`, `Conv2dSame`, `StdConv2d`, `BatchNormAct2d` and `LayerNorm`",
        ("timm",),
        "`timm.layers.Linear` subclasses `nn.Linear` (same constructor, parameters and init) "
        "and overrides `forward` only: under `torch.jit.is_scripting()` it casts `weight` and "
        "`bias` to the input's dtype before `F.linear` (its docstring: \"Wraps torch.nn.Linear "
        'to support AMP + torchscript usage by manually casting weight & bias to input.dtype"); '
        "otherwise it is `F.linear(input, self.weight, self.bias)`. No adapter: the class is the "
        "target.\n\n"
        "The other layers run against the kinds `conv2d`, `batch_norm2d` and `layer_norm` through "
        "thin factories in `timm_adapter.py` that keep each kind's constructor contract and "
        "call the library's constructor. `Conv2dSame` (\"Tensorflow like 'SAME' convolution "
        'wrapper for 2D convolutions", used by the `tf_*` ports such as `tf_efficientnet_*`) '
        "subclasses `nn.Conv2d`, passes `0` as `padding` to it whatever it is given, and in "
        "`forward` pads each input with `pad_same` (zeros; `ceil(side / stride)` outputs, the "
        'odd pixel on the right/bottom) before `F.conv2d`. `StdConv2d` ("Conv2d with Weight '
        'Standardization", BiT/ResNetV2) standardises its weight per output channel on every '
        "call (`F.batch_norm` over the flattened kernel, `eps=1e-6`) before `F.conv2d`; its "
        "defaults are `padding=None` (symmetric padding from the kernel) and `bias=False`. "
        "Neither takes `padding_mode`. `BatchNormAct2d` subclasses `nn.BatchNorm2d` and "
        'copies its `forward` ("to avoid issues with torchscript and tracing"), then applies '
        "a drop layer and an activation; the adapter passes `apply_act=False`, so both are "
        "`Identity` and what is checked is the normalisation. `LayerNorm(num_channels, "
        "eps=1e-6, affine=True, **kwargs)` subclasses `nn.LayerNorm` (`affine` is "
        "`elementwise_affine`; `bias`, `device`, `dtype` reach it through `**kwargs`) and calls "
        "`F.layer_norm` (or timm's fast norm when enabled; it is off by default). "
        "`LayerNorm2d` is left out: it normalises the channel dim of an `(N, C, H, W)` input "
        "(permuting it last and back), which the `layer_norm` contract (normalisation over the "
        "trailing `normalized_shape` of an input of any rank) does not describe; an adapter "
        "would have to permute every input itself, and the suites would check the adapter's "
        "permutes around `F.layer_norm`, not timm.",
    ),
    "transformers": Page(
        "transformers' GPT-2 `Conv1D`",
        ("transformers",),
        "`transformers.pytorch_utils.Conv1D(nf, nx)` is GPT-2's dense layer (\"Basically works "
        'like a linear layer but the weights are transposed"): `nf` outputs, `nx` inputs, '
        "`weight` stored as `(nx, nf)` = `(in, out)` and initialised `N(0, 0.02)`, `bias` always "
        "present and zero, `forward(x) = addmm(bias, x.view(-1, nx), weight).view(*x.shape[:-1], "
        "nf)`; no `bias`, `device` or `dtype` argument. The contract wants `weight` `(out, in)`, "
        "so two adapters, each a thin wrapper that runs the library's `forward` unchanged: "
        "`conv1d_linear` registers `weight` `(out, in)` itself (initial values the library's) and "
        "calls `Conv1D.forward` through `torch.func.functional_call` with `weight.T`; "
        "`conv1d_view` keeps `Conv1D` whole and exposes `weight` as the property "
        "`conv.weight.T` (what a user reading a GPT-2 checkpoint as Linear weights does). What "
        "both show is the library's; what only `conv1d_view` shows comes from that adapter (a "
        "view is a new, unregistered tensor on every access). With `bias=False` both keep the "
        "library's zero bias: `Conv1D` has no bias-free form. Every check that draws "
        "`in_features=0` shrinks to one library bug (D1), which hides what else it would find, "
        "so a third, diagnostic target, `gpt2-conv1d-nx0-bypassed`, is `conv1d_linear` with "
        "that one case computed by `F.linear` in the adapter: what departs there and not in "
        "`gpt2-conv1d` was behind D1.",
    ),
    "opacus": Page(
        "opacus's `GradSampleModule` around an `nn.Linear`",
        ("opacus",),
        "`opacus.GradSampleModule(m)` (what `PrivacyEngine.make_private` wraps a model in) "
        "registers on every trainable submodule a forward hook that appends the input to "
        "`layer.activations` (in training mode, with grad enabled) and a full backward hook that "
        "computes per-sample gradients into `param.grad_sample`, on every call; defaults "
        "`batch_first=True`, `loss_reduction=\"mean\"`. The wrapper's parameters are `m`'s, named "
        "`_module.<name>`, and it has no `weight`. Two targets: `grad_sample_linear`, the wrapper "
        "a user calls (a subclass adding only read-only `weight`/`bias` properties, which the "
        "contract reads), and `hooked_linear`, the wrapped `nn.Linear` itself carrying opacus's "
        "hooks (the layer as it runs inside a DP-SGD model). What both show comes from the hooks; "
        "what only the wrapper shows, from the wrapper (or, where said, from our properties).",
        beyond=(
            (
                "A forward without its backward silences `grad_sample`",
                "The suites compare values and `.grad`, not opacus's own output, `grad_sample`. "
                "Found while writing the repros above: the forward hook counts calls "
                "(`param._forward_counter`) and the backward hook promotes the per-sample "
                "gradients to `grad_sample` only when the count returns to zero. One forward in "
                "training mode with grad enabled that is never backpropagated (a logging or "
                "debugging call) leaves the count one too high, and from then on every "
                "backward sets `.grad` but leaves `grad_sample` None, across `zero_grad()`; the "
                "activation it stored stays in `layer.activations`. Not a departure from "
                "`nn.Linear` (whose `.grad` is right), so not classified here; opacus captures "
                "nothing under `torch.no_grad()` or in eval mode, where such forwards belong.",
                "opacus_unpaired_forward.py",
            ),
        ),
    ),
    "torchvision": Page(
        "torchvision's `FrozenBatchNorm2d`",
        ("torchvision",),
        '`torchvision.ops.misc.FrozenBatchNorm2d(num_features, eps=1e-5)` is "BatchNorm2d '
        'where the batch statistics and the affine parameters are fixed" (its docstring), '
        "what torchvision's detection and segmentation backbones use in place of "
        "`nn.BatchNorm2d` (`torchvision.models.detection`, `norm_layer=FrozenBatchNorm2d`). "
        "`weight`, `bias`, `running_mean` and `running_var` are all *buffers* (ones, zeros, "
        "zeros, ones: the identity), there is no `num_batches_tracked` (its "
        "`_load_from_state_dict` drops that key from BatchNorm checkpoints), and `forward` "
        "computes `x * scale + (b - rm * scale)` with `scale = w * rsqrt(rv + eps)`, the same "
        "in training and eval. It takes no `momentum`, `affine`, `track_running_stats`, "
        "`device` or `dtype`. The adapter (`torchvision_adapter.frozen_batch_norm2d`) keeps "
        "the `batch_norm2d` contract's signature, builds `FrozenBatchNorm2d(num_features, "
        "eps).to(device, dtype)` and ignores the other three; because the contract's start-up "
        "check wants a `num_batches_tracked` tensor of shape `()` and the layer has none, it "
        "sets a plain, unregistered attribute `num_batches_tracked = tensor(0)` (in no "
        "`state_dict`, not yielded by `named_buffers()`). So everything the suites see but "
        "that attribute is the library's. Fixed statistics are the layer's purpose: most of "
        "what departs below is that purpose, which a user swapping it for `nn.BatchNorm2d` (or "
        "the reverse) must know.",
    ),
}

# --- what was found --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    """A failing record matches when every given field matches."""

    targets: tuple[str, ...]
    check: str = ""  # regex searched in the check name (module::test)
    modes: tuple[str | None, ...] | None = None  # None: any mode
    message: str = ""  # regex searched in the failure message


@dataclasses.dataclass(frozen=True)
class Departure:
    key: str
    page: str
    kind: str  # "design", "bug" or "adapter"
    title: str
    explanation: str  # markdown
    repro: str | None  # file in repros/
    rules: tuple[Rule, ...]
    # Set when the suites cannot show it in this run (each check reports the simplest
    # failing example it finds, which this other departure already is): its key.
    masked_by: str | None = None


KIND_LABELS = {
    "design": "design choice of the library",
    "bug": "bug in the library",
    "adapter": "from the adapter, not the library",
}

PEFT = ("peft-lora", "peft-lora-trained")
PEFT_EMBEDDING = ("peft-lora-embedding", "peft-lora-embedding-trained")
PEFT_CONV1D = ("peft-lora-conv1d", "peft-lora-conv1d-rank-divisible")
CONV1D = ("gpt2-conv1d", "gpt2-conv1d-nx0-bypassed", "gpt2-conv1d-view")
OPACUS = ("opacus-grad-sample", "opacus-hooked-linear")
TIMM_CONV = ("timm-conv2d-same", "timm-std-conv2d")
CONV2D_SAME = ("timm-conv2d-same", "timm-conv2d-same-zeros-only")

DEPARTURES: tuple[Departure, ...] = (
    # peft
    Departure(
        "peft-jit",
        "peft",
        "design",
        "not scriptable: `forward(self, x, *args, **kwargs)`",
        "`torch.jit.script` refuses the layer (`NotSupportedError: Compiled functions can't take "
        "variable number of arguments or use keyword-only arguments with defaults`), so every "
        "check under `--mode jit` departs at scripting. peft does not claim TorchScript support "
        "(its layers take `*args, **kwargs` to pass adapter names and variant arguments "
        "through), and TorchScript is deprecated upstream: a design choice, undocumented as such. "
        "The same for the LoRA `Embedding` and `Conv1d` (`forward(self, x, *args, **kwargs)` "
        "too).",
        "peft_not_scriptable.py",
        (
            Rule(
                PEFT + PEFT_EMBEDDING + PEFT_CONV1D,
                modes=("jit",),
                message=r"torch\.jit\.script\((Linear|Embedding|Conv1d)\) raised NotSupportedError",
            ),
        ),
    ),
    Departure(
        "peft-frozen",
        "peft",
        "design",
        "the base layer is frozen",
        "`get_peft_model` sets `requires_grad=False` on everything but the adapters "
        '(`bias="none"` by default freezes the bias too), so `weight.requires_grad` is False '
        "and `dL/dA`, `dL/db` do not exist. That is the point of LoRA and of PEFT methods "
        "generally (they freeze the pre-trained parameters and train small adapters; "
        "`print_trainable_parameters()` reports it). Shrunk to `Linear(0, 0)`: it holds for "
        "every shape, dtype and "
        "mode. The LoRA `Embedding`'s table is frozen the same way, so `weight.grad` stays None "
        "after a backward (shrunk to `Embedding(1, 1)`); only `lora_embedding_A`/`_B` train. "
        "The LoRA `Conv1d`'s weight and bias are frozen too: the gradient check's "
        "`torch.autograd.grad(..., weight)` raises `One of the differentiated Tensors does not "
        "require grad`.",
        "peft_frozen_base.py",
        (
            Rule(
                PEFT,
                check="test_linear_gradients_match_formulas",
                message="requires_grad=False",
            ),
            Rule(
                PEFT_EMBEDDING,
                check="test_embedding_weight_gradient",
                message="weight.grad is None",
            ),
            Rule(
                PEFT_CONV1D,
                check="test_conv1d_gradients_match_oracle",
                message="One of the differentiated Tensors does not require grad",
            ),
        ),
    ),
    Departure(
        "peft-parameters",
        "peft",
        "design",
        "parameters are `base_layer.*` and the adapters' (`lora_A.*`, `lora_B.*`; "
        "`lora_embedding_A.*`, `lora_embedding_B.*`)",
        "`named_parameters()` yields `base_layer.weight`, `base_layer.bias`, "
        "`lora_A.default.weight`, `lora_B.default.weight`, where `nn.Linear` yields exactly "
        "`weight`, `bias`: code that walks a Linear's parameters by name (state-dict converters, "
        "weight tying, optimiser groups) sees other names and two more tensors. The layer is a "
        "wrapper by design (peft saves and loads adapters by these names). The LoRA "
        "`Embedding` likewise yields `base_layer.weight`, `lora_embedding_A.default`, "
        "`lora_embedding_B.default` and no `weight` of its own (its `weight` is the property "
        "below). The LoRA `Conv1d` yields `base_layer.weight`, `base_layer.bias`, "
        "`lora_A.default.weight`, `lora_B.default.weight`, as the LoRA `Linear`.",
        "peft_parameters.py",
        (
            Rule(
                PEFT,
                check="test_linear_registers_weight_and_bias",
                message=r"base_layer\.weight.*lora_A",
            ),
            Rule(
                PEFT_EMBEDDING + PEFT_CONV1D,
                check="test_layer_has_declared_parameters",
                message="weight is not a parameter of the module",
            ),
        ),
    ),
    Departure(
        "peft-weight-property",
        "peft",
        "design",
        "`weight`/`bias` are read-only aliases of `base_layer`'s",
        "`BaseTunerLayer.weight` and `.bias` are properties without setters (added so that "
        "transformers code reading `layer.weight` keeps working, says the source comment). So "
        "`layer.weight = nn.Parameter(A)` raises `KeyError: \"attribute 'weight' already "
        'exists"` (`nn.Module.register_parameter`), and `torch.func.functional_call(layer, '
        "{\"weight\": ...})` raises `AttributeError: property 'weight' ... has no setter`, which "
        "is how the suite's `gradcheck` swaps parameters in. Replacing the weight means "
        "`layer.base_layer.weight = ...`.",
        "peft_weight_property.py",
        (
            Rule(
                PEFT,
                check="test_linear_uses_assigned_weight",
                message="attribute 'weight' already exists",
            ),
            Rule(
                PEFT,
                check="test_linear_gradcheck",
                message="property 'weight' of 'Linear' object has no setter",
            ),
        ),
    ),
    Departure(
        "peft-trained-map",
        "peft",
        "design",
        "trained and unmerged, `weight` does not describe the map",
        "After a training step `lora_B != 0` and the layer computes `x @ (W + s·B@A).T + b` "
        "(`s = lora_alpha / r`) while `layer.weight` is `W`, in training *and* eval mode (peft "
        "merges only on `merge()` / `merge_and_unload()`): every check comparing the output "
        "with the layer's own `weight` departs, and a weight copied into the layer does not "
        "decide its output. For float16/bfloat16 the low-rank term is also computed in float32 "
        "(`autocast_adapter_dtype=True`) and cast back. By design; wrong for anything that "
        "reads `layer.weight` as *the* matrix (exporters, quantisers, `F.linear(x, m.weight, "
        "m.bias)` shortcuts) before merging. The LoRA `Embedding` after a step looks up rows of "
        "`W + s·(B@A).T` while `weight` is `W` (`lora_embedding_A` starts at zero, "
        "`lora_embedding_B` normal, so one step moves `A`). On both embedding targets "
        "`test_layer_sees_in_place_parameter_updates` shows it too: its own optimizer step "
        "on every parameter that requires grad (the adapters only) turns a fresh layer into a "
        "trained one, and the output no longer follows `weight`; so on the LoRA `Conv1d` "
        "targets (`lora_B` moves there).",
        "peft_trained_map.py",
        (
            Rule(
                ("peft-lora-trained",),
                check=r"test_linear_matches_affine|test_linear_matches_functional|"
                r"test_linear_classic_example|test_linear_uses_assigned_weight|"
                r"test_linear_module_matches_functional|test_linear_ignores_input_layout",
                message=r"but should be|differ",
            ),
            Rule(
                ("peft-lora-embedding-trained",),
                check="test_layer_matches_reference",
                message="but should be",
            ),
            Rule(
                PEFT_EMBEDDING + PEFT_CONV1D,
                check="test_layer_sees_in_place_parameter_updates",
                message=r"after the update.*but should be.*optimizer step",
            ),
        ),
    ),
    Departure(
        "peft-embedding-max-norm",
        "peft",
        "bug",
        "LoRA `Embedding` with `max_norm`: the row returned exceeds it, and the adapter is "
        "renormalised in place",
        "`nn.Embedding(max_norm=m)` returns rows of norm at most `m` (renormalising the looked-up "
        "rows of `weight` in place). peft's `Embedding._embed` passes the base layer's "
        "`max_norm` on to `F.embedding(x, lora_embedding_A.T, max_norm=...)` as well, so each "
        "term is renormalised on its own: the base row to `m`, and *the adapter's factor* "
        "`lora_embedding_A[:, i]` (through the `.T` view, in place, under no grad) to `m`; their "
        "sum, the row returned, is not. Once `lora_embedding_A != 0` (after any training step) "
        "rows of norm above `max_norm` come back, a trainable parameter is silently rescaled on "
        "every forward, and `merge()` changes the output (the merged table is renormalised as a "
        "whole). Shrunk to `Embedding(1, 1, max_norm=1.0)`. Neither the docs nor the code say "
        "`max_norm` is meant to act per term: a bug.",
        "peft_embedding_max_norm.py",
        (
            Rule(
                ("peft-lora-embedding-trained",),
                check="test_embedding_max_norm_renormalises_looked_up_rows",
                message="but should be",
            ),
        ),
    ),
    Departure(
        "peft-conv1d-groups",
        "peft",
        "design",
        "LoRA `Conv1d` refuses `groups` that do not divide `r`",
        "`nn.Conv1d` takes any `groups` dividing both channel counts; peft's `_ConvNd.__init__` "
        "raises `ValueError: Targeting a Conv1d with groups=3 and rank 4. Currently, support is "
        "limited to conv layers where the rank is divisible by groups. Either choose a different "
        "rank or do not target this specific layer.` (`lora_B` is a grouped 1×1 convolution "
        "from `r` channels, so `r` must split into the groups). `get_peft_model` raises it, so "
        "a model holding such a layer cannot be adapted with that rank at all. A stated "
        "limitation (the message says so): a design choice. Every check that draws `groups=3` "
        "(3 channels in and out, the suites drawing up to 4) shrinks to it, which hides what else "
        "departs: the diagnostic target `peft-lora-conv1d-rank-divisible` rejects those draws. "
        "(With `groups > 1` dividing `r`, peft also warns that merging is not supported, and "
        "`merge()` raises `NotImplementedError`.)",
        "peft_conv1d_groups.py",
        (
            Rule(
                ("peft-lora-conv1d",),
                message="support is limited to conv layers where the rank is divisible by groups",
            ),
        ),
    ),
    Departure(
        "peft-conv1d-dilation",
        "peft",
        "bug",
        "LoRA `Conv1d` with `dilation > 1`: `lora_A` is not dilated, so the two terms' "
        "lengths differ",
        "`_ConvNd.update_layer` builds `lora_A = nn.Conv1d(in, r, kernel_size, stride, "
        "padding, bias=False)` from the base layer's kernel, stride and padding only: not its "
        "`dilation` (nor its `padding_mode`, see below). With `dilation=d > 1`, a kernel of "
        "`k > 1` and numeric padding, the base layer's output is shorter than the adapter's "
        "(by `(d - 1)(k - 1)` positions at stride 1), and `base_layer(x) + "
        "lora_B(lora_A(x)) * scaling` either "
        "raises (`RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at "
        "non-singleton dimension 2`) or, when the base output has length 1, broadcasts to the "
        "adapter's length: a wrong shape, the base's one position repeated, silently (shrunk to "
        "`Conv1d(1, 1, kernel_size=2, dilation=2)` on a length-3 input: `(N, 1, 2)` for "
        "`(N, 1, 1)`). So a dilated `nn.Conv1d` (WaveNet/TCN-style stacks) cannot be LoRA-"
        "adapted unless `kernel_size=1` or `padding='same'`; nothing documents it, and the "
        "`padding_mode` "
        "omission (the adapter zero-pads whatever the base does, so `merge()` changes the edges "
        "once `lora_B != 0`: *Beyond the suites*) has the same cause: a bug. The checks that "
        "reach it in `peft-lora-conv1d` shrink to D7 first; the diagnostic target shows it.",
        "peft_conv1d_dilation.py",
        (
            Rule(
                PEFT_CONV1D,
                message=r"The size of tensor a \(\d+\) must match the size of tensor b",
            ),
            Rule(PEFT_CONV1D, message=r"out\.shape=.*but should be.*dilation=2"),
        ),
        masked_by="peft-conv1d-groups",
    ),
    # transformers' Conv1D
    Departure(
        "conv1d-zero-in",
        "transformers",
        "bug",
        "`nx=0` inputs: `x.view(-1, 0)` is ambiguous",
        "With zero input features, `forward`'s `x.view(-1, x.size(-1))` is `view(-1, 0)` on a "
        "tensor of 0 elements, which PyTorch refuses (`RuntimeError: cannot reshape tensor of 0 "
        "elements into shape [-1, 0] because the unspecified dimension size -1 can be any value "
        "and is ambiguous`); `nn.Linear(0, out)` returns the bias broadcast. The same line turns "
        'a wrong-sized input with a last dimension of 0 into this message instead of "mat1 and '
        'mat2 shapes cannot be multiplied", and stops the dtype check before it runs. An edge '
        "case no GPT-2 has (`n_embd > 0`), but every check drawing `in_features=0` shrinks to it "
        "(which hides the layout bug below, see the diagnostic target). Unintended: a bug, "
        "harmless in practice.",
        "conv1d_zero_in_features.py",
        (
            Rule(
                CONV1D,
                message=r"cannot reshape tensor of 0 elements into shape \[-1, 0\]",
            ),
        ),
    ),
    Departure(
        "conv1d-0d",
        "transformers",
        "bug",
        "a 0-d input raises `IndexError`, not `RuntimeError`",
        "`x.size(-1)` on a 0-d tensor raises `IndexError: Dimension specified as -1 but tensor "
        "has no dimensions` before any matrix product, where `nn.Linear` raises `RuntimeError: "
        "both arguments to linear need to be at least 1D`. The input is refused either way; "
        "only code catching `RuntimeError` sees a difference. Unintended: a (cosmetic) bug.",
        "conv1d_0d_input.py",
        (
            Rule(
                CONV1D,
                check="test_linear_rejects_0d_input",
                message="IndexError|Dimension specified as -1 but tensor has no dimensions",
            ),
        ),
    ),
    Departure(
        "conv1d-init",
        "transformers",
        "design",
        "initialised `N(0, 0.02)` with a zero bias",
        "`Conv1D.__init__` draws `weight ~ N(0, 0.02)` and sets `bias = 0`: GPT-2's "
        "initialisation (`GPT2PreTrainedModel._init_weights` does the same with "
        "`initializer_range=0.02`, `GPT2Config`'s default), not `nn.Linear`'s "
        "`U(-1/sqrt(in), 1/sqrt(in))`. The KS check sees it at once; the bound check passes "
        "(0.02-scale draws rarely exceed `1/sqrt(in)` for the small `in` drawn).",
        "conv1d_init.py",
        (
            Rule(
                CONV1D,
                check="test_linear_init_spread_uniformly|test_linear_init_within_bound",
            ),
        ),
    ),
    Departure(
        "conv1d-bias",
        "transformers",
        "design",
        "no bias-free form",
        "`Conv1D(nf, nx)` always registers a bias and its `forward` is `addmm(self.bias, ...)`, "
        "so there is no `bias=False`: the adapters keep the library's (zero) bias and `bias` is "
        "a tensor where the contract, with `bias=False`, wants None, and `named_parameters()` "
        "yields `bias` too. (Mapping it to None would make the library's `forward` raise; "
        "dropping it from the call would change what the library computes.)",
        "conv1d_interface.py",
        (
            Rule(
                CONV1D,
                check="test_linear_parameter_shapes",
                message="bias is a tensor, but should be None",
            ),
            Rule(
                CONV1D,
                check="test_linear_registers_weight_and_bias",
                message=r"should yield exactly \['weight'\]",
            ),
        ),
    ),
    Departure(
        "conv1d-repr",
        "transformers",
        "design",
        "`repr` is `Conv1D(nf=3, nx=4)`",
        "The library names its sizes `nf` (outputs) and `nx` (inputs), outputs first, and its "
        "`repr` says so; nothing says `in_features=..., out_features=..., bias=...`. (The "
        "wrappers add no `extra_repr` of their own: it would describe the adapter, not the "
        "library.)",
        "conv1d_interface.py",
        (Rule(CONV1D, check="test_linear_repr_reflects_config"),),
    ),
    Departure(
        "conv1d-noncontiguous",
        "transformers",
        "bug",
        "non-contiguous inputs of 3+ dims fail in `x.view`",
        "`forward` flattens the batch dimensions with `x.view(-1, nx)`, which needs them to be "
        "mergeable without a copy: a transposed, sliced or expanded input of three or more "
        "dimensions raises `RuntimeError: view size is not compatible with input tensor's size "
        "and stride`, where `nn.Linear` accepts any layout (`reshape` would copy only when it "
        "must). GPT-2's own hidden states are contiguous, so models rarely hit it; a user "
        "calling the layer on a permuted tensor does. In `gpt2-conv1d` and `gpt2-conv1d-view` "
        "the layout check shrinks to D1 (`nx=0`) first; the diagnostic target reaches this. "
        "A bug.",
        "conv1d_view_noncontiguous.py",
        (
            Rule(
                CONV1D,
                check="test_linear_ignores_input_layout",
                message="view size is not compatible",
            ),
        ),
        masked_by="conv1d-zero-in",
    ),
    Departure(
        "conv1d-linear-jit",
        "transformers",
        "adapter",
        "`conv1d_linear` (and its diagnostic variant) is not scriptable",
        "`torch.jit.script` compiles the submodule's `forward`, which reads `self.weight`, which "
        "the adapter deleted from the `Conv1D` (it lives on the wrapper and reaches the library "
        "through `functional_call`, which TorchScript cannot compile either); on a second "
        "attempt in the same process TorchScript says `Can't redefine method: forward on class "
        "Conv1D`. The library's `Conv1D` itself scripts (see `gpt2-conv1d-view` under `jit`). "
        "From the adapter; no repro of the library's.",
        None,
        (
            Rule(
                ("gpt2-conv1d", "gpt2-conv1d-nx0-bypassed"),
                modes=("jit",),
                message=r"torch\.jit\.script\(Conv1DLinear\w*\) raised",
            ),
        ),
    ),
    Departure(
        "conv1d-view-adapter",
        "transformers",
        "adapter",
        "`conv1d_view`'s `weight` is a view, not a parameter",
        "The view adapter keeps `Conv1D` whole, so its registered parameters are "
        "`conv.weight` `(in, out)` and `conv.bias`, and `weight` is a property computing "
        "`conv.weight.T` anew on each access: `named_parameters()` does not yield it, "
        "`layer.weight = nn.Parameter(A)` raises `KeyError: \"attribute 'weight' already "
        'exists"`, `functional_call(layer, {"weight": ...})` finds no setter (the suite\'s '
        "`gradcheck`), and a gradient taken with respect to `layer.weight` is None (the view "
        "is not in the graph; the gradient check shrinks to the `nx=0` bug first, so the "
        "matrix does not show this one). `conv1d_linear` has none of these: they are the "
        "adapter's.",
        "conv1d_view_adapter.py",
        (
            Rule(
                ("gpt2-conv1d-view",),
                check="test_linear_registers_weight_and_bias",
                message=r"conv\.weight",
            ),
            Rule(
                ("gpt2-conv1d-view",),
                check="test_linear_uses_assigned_weight",
                message="attribute 'weight' already exists",
            ),
            Rule(("gpt2-conv1d-view",), check="test_linear_gradcheck", message="has no setter"),
        ),
    ),
    # opacus
    Departure(
        "opacus-no-batch",
        "opacus",
        "design",
        "a backward without a batch dimension fails in the hook",
        "`nn.Linear` takes `(*, in_features)`, a 1-D input included. opacus's backward hook "
        'computes per-sample gradients with `einsum("n...i,n...j->nij")`, which needs a batch '
        'dimension (`batch_first=True`: "dimensions on input tensor are expected be '
        '[batch_size, ...]", says its docstring), so the forward works and the backward raises '
        "`RuntimeError: einsum(): the number of subscripts in the equation (2) is more than the "
        "number of dimensions (1) for operand 0`. Every gradient check shrinks to that 1-D "
        "input; what it computes with a batch dimension, this run does not reach (each "
        "check reports its simplest failure).",
        "opacus_no_batch_dim.py",
        (Rule(OPACUS, message=r"einsum\(\): the number of subscripts"),),
    ),
    Departure(
        "opacus-eval-backward",
        "opacus",
        "design",
        "a backward in eval mode raises `ValueError`",
        'The forward hook captures activations only in training mode (opacus PR #87, "Do not '
        'store activations during eval"), but the backward hook still runs and finds none: '
        "`ValueError: No activations detected for <class 'torch.nn.modules.linear.Linear'>, run "
        "forward after add_hooks(model)`. So `model.eval()` followed by a backward (gradients "
        "for attribution, `gradcheck`, a validation loss's gradient) fails where `nn.Linear` "
        "differentiates in any mode. Deliberate and known (a 2023 PR to capture in eval mode "
        "too, opacus #613, was closed); `disable_hooks()` is the way around.",
        "opacus_eval_backward.py",
        (Rule(OPACUS, message="No activations detected"),),
    ),
    Departure(
        "opacus-jit",
        "opacus",
        "design",
        "not scriptable, wrapper or hooked layer",
        "`torch.jit.script(GradSampleModule(...))` fails on its `forward(self, *args, "
        "**kwargs)`; the hooked `nn.Linear` fails too, because TorchScript tries to compile "
        "opacus's Python hooks (`Unknown type name 'nn.Module'`). opacus does not support "
        "TorchScript (its per-sample gradients live in Python hooks); every `--mode jit` check "
        "departs at scripting.",
        "opacus_not_scriptable.py",
        (Rule(OPACUS, modes=("jit",), message=r"torch\.jit\.script\("),),
    ),
    Departure(
        "opacus-replaced-parameter",
        "opacus",
        "bug",
        "a parameter replaced after wrapping crashes the hooks",
        "`GradSampleModule` stores per-parameter state (`_forward_counter`) on each parameter "
        "when it wraps the model, and its forward hook reads it on every call. A tensor put in "
        "a parameter's place later has none: `layer.weight = nn.Parameter(A)` (which "
        "`nn.Linear` allows, and weight tying or loading code does) makes the next call raise "
        "`AttributeError: 'Parameter' object has no attribute '_forward_counter'`, and "
        "`torch.func.functional_call` with parameters that require grad (the suite's "
        "`gradcheck`, `torch.func` transforms) raises the same for a `'Tensor'`. The wrapper "
        "target shows the adapter's `KeyError` first (below); on `model._module.weight` it is "
        "the same crash, as the repro shows. An internal `AttributeError` rather than a "
        "documented restriction or a clear message: a bug, whether or not replacing parameters "
        "is meant to be supported.",
        "opacus_replaced_parameter.py",
        (Rule(OPACUS, message=r"has no attribute '_forward_counter'"),),
        masked_by="opacus-adapter-alias",
    ),
    Departure(
        "opacus-wrapper-parameters",
        "opacus",
        "design",
        "the wrapper's parameters are `_module.weight`, `_module.bias`",
        "`GradSampleModule` is a wrapper: its `named_parameters()` are the wrapped layer's under "
        "`_module.`, and it has no `weight` or `bias` of its own (the adapter's read-only "
        "properties supply them for the contract). Code that walks a Linear's parameters by "
        "name sees other names. The hooked `nn.Linear` keeps `weight`, `bias`.",
        "opacus_wrapper_parameters.py",
        (
            Rule(
                ("opacus-grad-sample",),
                check="test_linear_registers_weight_and_bias",
                message=r"_module\.weight",
            ),
        ),
    ),
    Departure(
        "opacus-adapter-alias",
        "opacus",
        "adapter",
        "the adapter's `weight`/`bias` properties cannot be assigned",
        "`grad_sample_linear`'s `weight` and `bias` are read-only properties of our subclass, so "
        "`module.weight = nn.Parameter(A)` raises `KeyError: \"attribute 'weight' already "
        'exists"` and `functional_call(module, {"weight": ...})` (the suite\'s `gradcheck`) '
        "finds no setter. On opacus's own wrapper there is no `weight` to assign at all "
        "(`model._module.weight = ...` works); `hooked_linear` passes both checks.",
        None,
        (
            Rule(
                ("opacus-grad-sample",),
                check="test_linear_uses_assigned_weight",
                message="attribute 'weight' already exists",
            ),
            Rule(("opacus-grad-sample",), check="test_linear_gradcheck", message="has no setter"),
        ),
    ),
    # timm
    Departure(
        "timm-jit-cast",
        "timm",
        "design",
        "scripted, it casts parameters to the input's dtype instead of raising",
        "Under `torch.jit.script` timm's `forward` takes its other branch and computes "
        "`F.linear(x, weight.to(x.dtype), bias.to(x.dtype))`, so an input of another floating "
        "dtype is accepted and the output has the input's dtype, where `nn.Linear` raises "
        "`RuntimeError: mat1 and mat2 must have the same dtype`. Documented in its docstring, "
        "for AMP with TorchScript.",
        "timm_jit_casts.py",
        (
            Rule(
                ("timm-linear",),
                check="test_linear_rejects_mismatched_dtype",
                modes=("jit",),
            ),
        ),
    ),
    Departure(
        "timm-conv-padding-mode",
        "timm",
        "design",
        "`Conv2dSame` and `StdConv2d` take no `padding_mode`",
        "`nn.Conv2d` takes `padding_mode` (`zeros`, `reflect`, `replicate`, `circular`); neither "
        "timm class has the argument (their `__init__` lists every other one and no "
        "`**kwargs`), so any `padding_mode=...` is `TypeError: ... got an unexpected keyword "
        "argument 'padding_mode'` (the adapters pass the contract's default, `\"zeros\"`, as "
        "nothing, and any other value on). Both always pad with zeros. Every check that draws "
        "configs departs as soon as it draws another mode; in some (the gradient and "
        "output-size checks, the `nn.Module` contract checks, the reference check) this is "
        "the failure reported, which hides what the same check would find with zero padding "
        "(each check reports one failure): the diagnostic target "
        "`timm-conv2d-same-zeros-only` rejects those examples, to show it.",
        "timm_conv_padding_mode.py",
        (Rule(TIMM_CONV, message="unexpected keyword argument 'padding_mode'"),),
    ),
    Departure(
        "timm-conv2d-same-padding",
        "timm",
        "design",
        '`Conv2dSame` ignores `padding` and pads TF-style "SAME" from each input',
        "`Conv2dSame.__init__` passes `0` to `nn.Conv2d` whatever `padding` it is given, and "
        "`forward` pads every input with `pad_same`: `max((ceil(side / stride) - 1) * stride + "
        "(kernel - 1) * dilation + 1 - side, 0)` zeros per dim, the odd one on the right/bottom, "
        "so the output has `ceil(side / stride)` positions whatever `padding` says. So "
        "`padding=1` with a 1×1 kernel gives no padding, outputs have other shapes and values "
        "than `nn.Conv2d`'s with the same arguments, and an input smaller than the (dilated) "
        "kernel is padded up to it instead of refused (`Kernel size can't be greater than "
        "actual input size`). Since the value never reaches `nn.Conv2d`, the constructor also "
        "accepts what `nn.Conv2d` refuses: `padding=\"same\"` with a stride (`padding='same' "
        "is not supported for strided convolutions`) and any unknown string. TensorFlow's "
        '`padding="SAME"`, on purpose (its docstring; timm\'s `tf_*` model ports use it to '
        "load TF weights); the accepted-and-ignored `padding` argument is what a caller of the "
        "`nn.Conv2d` signature must know.",
        "timm_conv2d_same_padding.py",
        (
            Rule(
                CONV2D_SAME,
                check=r"test_conv2d_padding|test_layer_matches_reference|"
                r"test_layer_sees_in_place_parameter_updates|test_conv2d_output_size_formula|"
                r"test_conv2d_gradients_match_oracle|test_conv2d_empty_dims_follow_the_formula",
                message=r"shape=.*but should be",
            ),
            Rule(
                CONV2D_SAME,
                check="test_layer_rejects_error_inputs",
                message=r"but should raise RuntimeError.*sides \(",
            ),
            Rule(
                CONV2D_SAME,
                check="test_conv2d_rejects_invalid_construction",
                message=r"'padding': '\w+'.*returned Conv2dSame",
            ),
        ),
    ),
    Departure(
        "timm-std-conv2d-standardizes",
        "timm",
        "design",
        "`StdConv2d` convolves with its weight standardised, not with `weight`",
        "On every call `StdConv2d.forward` standardises the weight per output channel "
        "(`F.batch_norm(weight.reshape(1, out, -1), None, None, training=True, eps=1e-6)`: "
        "mean 0 and variance 1 over each output channel's `in / groups × kh × kw` weights) and "
        "convolves with that, so the output is not `F.conv2d(x, layer.weight, layer.bias, "
        "...)`: every check comparing the output with the layer's own `weight` departs. Weight "
        "Standardization (Qiao et al., 2019), the point of the class (BiT / ResNetV2), "
        "documented in its docstring; a user swapping it for `nn.Conv2d` (or reading "
        "`layer.weight` as the kernel it applies) must know it.",
        "timm_std_conv2d_standardizes.py",
        (
            Rule(
                ("timm-std-conv2d",),
                check=r"test_layer_matches_reference|test_layer_sees_in_place_parameter_updates|"
                r"test_conv2d_padding|test_conv2d_gradients_match_oracle|"
                r"test_conv2d_output_size_formula|test_conv2d_empty_dims_follow_the_formula",
                message=r"\]=.*but should be",
            ),
        ),
    ),
    Departure(
        "timm-std-conv2d-single-weight",
        "timm",
        "bug",
        "`StdConv2d` with one weight per output channel raises on every call",
        "With `in_channels / groups × kh × kw == 1` (a 1×1 convolution with one input channel "
        "per group: depthwise 1×1, or a 1-channel 1×1) the standardisation is "
        "`F.batch_norm` in training mode over a single value per channel, which raises "
        "`ValueError: Expected more than 1 value per channel when training` (under "
        "`torch.jit.script` the same, as `torch.jit.Error`). The constructor accepts the "
        "arguments, and every forward fails with a message about BatchNorm statistics the "
        "user never asked for; nothing documents the restriction. The standardisation of one "
        "value is degenerate (it would be 0), so refusing may be right, but not like this: a "
        "(minor) bug, which no BiT model meets.",
        "timm_std_conv2d_single_weight.py",
        (
            Rule(
                ("timm-std-conv2d",),
                message="Expected more than 1 value per channel when training",
            ),
        ),
    ),
    Departure(
        "timm-batch-norm-act-assert",
        "timm",
        "design",
        "`BatchNormAct2d` refuses a non-4-D input with `AssertionError`, not `ValueError`",
        '`BatchNormAct2d.forward` is a copy of `nn.BatchNorm2d.forward` ("to avoid issues with '
        'torchscript and tracing", says its comment), with the rank check written '
        "`_assert(x.ndim == 4, f'expected 4D input (got {x.ndim}D input)')` (`torch._assert`, "
        "which `torch.fx` can trace) instead of `_check_input_dim`'s `raise ValueError`. The "
        "message is the same; the exception type is not, so code catching `ValueError` around "
        "a BatchNorm does not catch this one, and `python -O` would not strip it "
        "(`torch._assert` is a function). Chosen for tracing: a design choice, cosmetic. With "
        "`apply_act=False` it is the only departure the suites find.",
        "timm_batch_norm_act_assert.py",
        (
            Rule(
                ("timm-batch-norm-act2d",),
                check="test_layer_rejects_error_inputs",
                message=r"AssertionError: expected 4D input",
            ),
        ),
    ),
    # torchvision
    Departure(
        "frozen-bn-fixed",
        "torchvision",
        "design",
        "statistics fixed: training mode normalises with the buffers too, and updates nothing",
        "`FrozenBatchNorm2d.forward` is `x * scale + (b - rm * scale)` with `scale = w * "
        "rsqrt(rv + eps)` whatever `training` is: in training mode it does not normalise with "
        "the batch's statistics and does not update `running_mean`/`running_var` (there is no "
        "`momentum`; with the initial buffers the output is `x / sqrt(1 + eps)`), so every "
        "check of training-mode output or running statistics departs, and a batch of one "
        "value per channel, which `nn.BatchNorm2d` refuses in training "
        "(`ValueError: Expected more than 1 value per channel when training`), goes through. "
        "`momentum`, `affine` and `track_running_stats` do not exist (the adapter ignores "
        "them). The class's purpose (\"BatchNorm2d where the batch statistics and the affine "
        'parameters are fixed"): fine-tuning detection backbones with small per-GPU batches.',
        "torchvision_frozen_bn_fixed.py",
        (
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check=r"test_layer_matches_reference|test_layer_sees_in_place_parameter_updates|"
                r"test_batch_norm_momentum_none_averages_the_batches|"
                r"test_batch_norm_cumulative_average_counts_accepted_batches_only|"
                r"test_batch_norm_calls_follow_the_statistics_rules",
                message=r"\]=.*but should be",
            ),
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check="test_batch_norm_rejects_one_value_per_channel",
                message="one value per channel returned a tensor",
            ),
        ),
    ),
    Departure(
        "frozen-bn-buffers",
        "torchvision",
        "design",
        "`weight` and `bias` are buffers: no parameters, nothing to differentiate",
        "`FrozenBatchNorm2d` registers `weight` and `bias` with `register_buffer`, next to "
        "the running statistics: `named_parameters()` is empty, `weight.requires_grad` is "
        "False, an optimiser built from `parameters()` gets nothing, and asking for `dL/dweight` "
        "raises `RuntimeError: One of the differentiated Tensors does not require grad` (the "
        "input's gradient is there: it is a fixed affine map). By design (frozen affine "
        "parameters); they are in the `state_dict`, so BatchNorm checkpoints load into it.",
        "torchvision_frozen_bn_buffers.py",
        (
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check="test_layer_has_declared_parameters",
                message="weight is not a parameter of the module",
            ),
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check="test_batch_norm_gradients",
                message="One of the differentiated Tensors does not require grad",
            ),
        ),
    ),
    Departure(
        "frozen-bn-no-counter",
        "torchvision",
        "design",
        "no `num_batches_tracked` buffer",
        "`FrozenBatchNorm2d` registers no `num_batches_tracked` (nothing to count: it never "
        "updates its statistics) and its `_load_from_state_dict` deletes that key from a "
        "BatchNorm checkpoint before loading. The contract's start-up check reads the "
        "attribute, so the adapter sets a plain tensor `num_batches_tracked = tensor(0)` that "
        "is not a buffer; the check of the statistics rules then finds it is not a buffer, "
        "and stops there (it would next find the fixed statistics above).",
        "torchvision_frozen_bn_buffers.py",
        (
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check="test_batch_norm_calls_follow_the_statistics_rules",
                message="num_batches_tracked is not a buffer of the layer",
            ),
        ),
    ),
    Departure(
        "frozen-bn-rank",
        "torchvision",
        "bug",
        "no rank check: any input broadcastable against `(1, C, 1, 1)` is accepted",
        "`nn.BatchNorm2d` refuses anything but a 4-D input (`ValueError: expected 4D input (got "
        "2D input)`). `FrozenBatchNorm2d.forward` checks nothing and broadcasts the input "
        "against its `(1, C, 1, 1)` scale and shift, so a 0-d input returns `(1, C, 1, 1)`, and "
        "an `(N, C)` input (what a BatchNorm1d takes) returns a `(1, C, N, C)` tensor, "
        "normalised along the wrong dim, without an error. A 3-D `(C, H, W)` input happens to "
        "come back right, with a batch dim added. Its docstring says the input is `(N, C, H, "
        "W)`; that other ranks silently give tensors of other shapes is not something the "
        "code or docs choose: a (minor) bug, reached only by a caller passing the wrong rank.",
        "torchvision_frozen_bn_rank.py",
        (
            Rule(
                ("torchvision-frozen-batch-norm2d",),
                check="test_layer_rejects_error_inputs",
                message=r"returned a tensor of shape .* but should raise ValueError",
            ),
        ),
    ),
)

# --- reading a run -----------------------------------------------------------------------


@dataclasses.dataclass
class Record:
    target: str
    source: str  # "suites" or "call"
    id: str
    check: str
    dtype: str | None
    mode: str | None
    outcome: str  # passed, failed, error, skipped, xfailed, xpassed
    message: str = ""
    departure: str | None = None


def _call_record(target: str, test_id: str, outcome: str, message: str = "") -> Record:
    check, _, params = test_id.partition("[")
    parts = params.rstrip("]").split("-")
    mode = parts[-1] if parts and parts[-1] in MODE_COLUMNS else None
    dtype = next((p for p in parts if p.startswith(("float", "bfloat"))), None)
    return Record(target, "call", test_id, check, dtype, mode, outcome, message)


def load_records(reports: Path, target: Target) -> tuple[list[Record], dict]:
    base = reports / target.name
    report = json.loads((base / "conformance.json").read_text())
    records = [
        Record(
            target.name,
            "suites",
            r["id"],
            r["check"],
            r.get("dtype"),
            r.get("mode"),
            r["outcome"],
            r.get("message") or "",
        )
        for r in report["records"]
    ]
    call = json.loads((base / "call_semantics.json").read_text())
    records += [_call_record(target.name, i, "passed") for i in call["passed"]]
    records += [_call_record(target.name, i, "failed", m) for i, m in call["failed"]]
    records += [_call_record(target.name, i, "xfailed", m) for i, m in call["expected_failures"]]
    records += [_call_record(target.name, i, "skipped", m) for i, m in call["skipped"]]
    run = report["runs"][0]
    counts = run["summary"]
    outcomes = ("failed", "error", "passed", "skipped", "xfailed", "xpassed")
    line = ", ".join(f"{counts[o]} {o}" for o in outcomes if counts.get(o))
    meta = {
        "environment": run["environment"],
        "call": call["call"],
        "not_run": call.get("not_run"),
        "summary_line": f"{line} in {run['duration']:.0f} s",
    }
    return records, meta


def classify(record: Record) -> str | None:
    for departure in DEPARTURES:
        for rule in departure.rules:
            if record.target not in rule.targets:
                continue
            if rule.modes is not None and record.mode not in rule.modes:
                continue
            if rule.check and not re.search(rule.check, record.check):
                continue
            if rule.message and not re.search(rule.message, record.message, re.S):
                continue
            return departure.key
    return None


# --- repros --------------------------------------------------------------------------------


@dataclasses.dataclass
class ReproResult:
    code: str
    output: str
    ok: bool
    problem: str = ""


def run_repro(name: str, env: dict[str, str]) -> ReproResult:
    path = REPROS / name
    code = path.read_text()
    lines = code.rstrip("\n").count("\n") + 1
    runner = (
        "import runpy, sys, warnings; warnings.simplefilter('ignore'); "
        "import _torchvision_on_cpu; runpy.run_path(sys.argv[1], run_name='__main__')"
    )
    with tempfile.TemporaryDirectory(prefix="repro-") as cwd:
        proc = subprocess.run(
            [sys.executable, "-c", runner, str(path)],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    output = (proc.stdout + proc.stderr).strip()
    problem = ""
    if proc.returncode != 0:
        problem = f"repros/{name} exited {proc.returncode}: {output.splitlines()[-1:]}"
    elif lines > MAX_REPRO_LINES:
        problem = f"repros/{name} has {lines} lines (at most {MAX_REPRO_LINES})"
    return ReproResult(code, output, not problem, problem)


# --- rendering -------------------------------------------------------------------------------


def _versions(packages: tuple[str, ...]) -> str:
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)


def _short(check: str) -> str:
    return check.split("::", 1)[1] if "::" in check else check


def _counts(records: list[Record]) -> collections.Counter[str]:
    return collections.Counter(r.outcome for r in records)


def _cell(records: list[Record], labels: dict[str, str]) -> str:
    if not records:
        return ""
    c = _counts(records)
    n = len(records)
    parts: list[str] = []
    failed = [r for r in records if r.outcome in ("failed", "error")]
    if failed:
        keys = sorted({labels.get(r.departure or "", "**?**") for r in failed})
        parts.append(f"❌ {len(failed)}/{n} {' '.join(keys)}")
    if c["passed"]:
        parts.append(f"✅ {c['passed']}")
    if c["xfailed"]:
        parts.append(f"➖ {c['xfailed']}")
    if c["skipped"]:
        parts.append(f"⏭️ {c['skipped']}")
    if c["xpassed"]:
        parts.append(f"❗xpass {c['xpassed']}")
    return " · ".join(parts)


def _matrix(records: list[Record], labels: dict[str, str]) -> list[str]:
    modes = [m for m in MODE_COLUMNS if any(r.mode == m for r in records)]
    columns: list[str | None] = [*modes, None]
    by_check: dict[tuple[str, str], dict[str | None, list[Record]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    for r in records:
        by_check[(r.source, r.check)][r.mode].append(r)
    head = ["check", *[f"`{m}`" for m in modes], "no mode"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " :---: |" * (len(head) - 1)]
    for (source, check), cells in sorted(
        by_check.items(), key=lambda kv: (kv[0][0] != "suites", kv[0][1])
    ):
        name = f"`{_short(check)}`" + (" (API)" if source == "call" else "")
        row = [name, *[_cell(cells.get(m, []), labels) for m in columns]]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _first_line(message: str) -> str:
    line = next((ln for ln in message.splitlines() if ln.strip()), "")
    line = re.sub(r"^AssertionError: ", "", line)
    return line if len(line) <= 300 else line[:297] + "..."


def _summary_row(target: Target, records: list[Record], labels: dict[str, str]) -> str:
    c = _counts(records)
    ran = c["passed"] + c["failed"] + c["error"] + c["xfailed"] + c["xpassed"]
    departs = c["failed"] + c["error"]
    keys = sorted({r.departure for r in records if r.departure}, key=list(labels).index)
    where = ", ".join(f"{labels[k]} {_title(k)}" for k in keys) or "—"
    unclassified = sum(1 for r in records if r.outcome in ("failed", "error") and not r.departure)
    if unclassified:
        where += f"; **{unclassified} unclassified** (below)"
    return (
        f"| {target.title} (`{target.spec}`) | {ran} | {c['passed']} | {departs} | "
        f"{c['xfailed']} | {where} |"
    )


def _departure(key: str) -> Departure:
    return next(d for d in DEPARTURES if d.key == key)


def _title(key: str) -> str:
    return _departure(key).title


def _repro_block(name: str, repros: dict[str, ReproResult]) -> list[str]:
    result = repros[name]
    out = [f"Repro (`examples/adapters/repros/{name}`):", "", "```python"]
    out += [result.code.rstrip("\n"), "```", "", "Output:", "", "```text"]
    out += [result.output or "(none)", "```"]
    if not result.ok:
        out += ["", f"**Repro problem: {result.problem}**"]
    return out


def _joined(targets: list[Target], form: str, last: str = " and ") -> str:
    names = [form.format(reference_name(k)) for k in dict.fromkeys(t.kind for t in targets)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + last + names[-1]


def _references(targets: list[Target]) -> str:
    """The page title's reference: one PyTorch layer's semantics, or a list for several kinds."""
    if len({t.kind for t in targets}) == 1:
        return f"`{reference_name(targets[0].kind)}`'s semantics"
    return "the semantics of " + _joined(targets, "`{}`")


def render_page(
    page_key: str,
    targets: list[Target],
    data: dict[str, tuple[list[Record], dict]],
    repros: dict[str, ReproResult],
) -> str:
    page = PAGES[page_key]
    departures = [d for d in DEPARTURES if d.page == page_key]
    seen = {r.departure for t in targets for r in data[t.name][0] if r.departure}
    labels = {d.key: f"**D{i}**" for i, d in enumerate(departures, 1)}
    env = data[targets[0].name][1]["environment"]
    refs = _references(targets)
    out = [
        f"# {page.title} against {refs}",
        "",
        f"{_versions(page.packages)}, on torch {env['torch']}, Hypothesis {env['hypothesis']}, "
        f"Python {env['python']}; profile `{env['profile']}` ({env['max_examples']} derandomized "
        "examples per check); CPU only (parity checks skip: they need a second device). "
        "Generated by `python examples/adapters/run_ecosystem.py`; the adapters are in "
        "`examples/adapters/`, the runs' reports beside this page "
        f"({', '.join(f'`{t.name}/`' for t in targets)}: `conformance.json`, `conformance.md`, "
        "`call_semantics.json`).",
        "",
        page.about,
        "",
        "## Summary",
        "",
        "Checks run count every check × dtype × mode that ran (expected failures included); "
        "*PyTorch's* are the kit's known PyTorch deviations (`conformance/known_deviations.toml`), "
        f"expected failures for {_joined(targets, '`{}`', ' or ')} too.",
        "",
        "| target | checks run | passed | depart | PyTorch's | departures |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    out += [_summary_row(t, data[t.name][0], labels) for t in targets]
    out += ["", "| | departure | kind | targets |", "| --- | --- | --- | --- |"]
    for d in departures:
        hit = [t.name for t in targets if any(r.departure == d.key for r in data[t.name][0])]
        status = ", ".join(f"`{h}`" for h in hit) or (
            f"masked by {labels[d.masked_by]}; repro only"
            if d.masked_by
            else "**not seen in this run**"
        )
        if hit and d.masked_by:
            status += f" (masked by {labels[d.masked_by]} in the others)"
        out.append(f"| {labels[d.key]} | {d.title} | {KIND_LABELS[d.kind]} | {status} |")
    for t in targets:
        records, meta = data[t.name]
        modes = sorted({r.mode for r in records if r.mode}, key=MODE_COLUMNS.index)
        out += [
            "",
            f"## `{t.name}`: {t.title}",
            "",
            f"Adapter: {t.adapter}.",
            "",
            "```bash",
            "PYTHONPATH=examples/adapters pytest --pyargs conformance \\",
            f"    --target {t.kind}={t.spec} --mode {','.join(modes)} -n 2",
            f"# {meta['summary_line']}",
            "```",
            "",
            (
                f"and, for the module-call checks `--target` does not reach, `{meta['call']}`."
                if meta["call"]
                else f"The module-call checks `--target` does not reach are not run: "
                f"{meta['not_run']}."
            ),
            "Cells: ❌ departs (failing/all, departure), ✅ passed, ➖ expected failure "
            f"(PyTorch's own, as for `{reference_name(t.kind).replace('torch.', '')}`), ⏭️ "
            "skipped; one cell sums the dtypes.",
            "",
        ]
        out += _matrix(records, labels)
    out += ["", "## Departures"]
    for d in departures:
        hits = [r for t in targets for r in data[t.name][0] if r.departure == d.key]
        out += [
            "",
            f"### {labels[d.key]}: {d.title}",
            "",
            f"*{KIND_LABELS[d.kind]}.*",
            "",
        ]
        if d.key not in seen and d.masked_by:
            out += [
                f"Not reached by the suites in this run: the check that would show it shrinks "
                f"to {labels[d.masked_by]} first (each check reports the simplest failing example "
                "it finds, one per check). Found by reading the code the failures pointed at; the "
                "repro shows it.",
                "",
            ]
        elif d.key not in seen:
            out += ["**Not seen in this run.**", ""]
        else:
            by_target = collections.Counter(r.target for r in hits)
            out.append(
                "Seen in "
                + ", ".join(f"`{k}` ({v} test{'s' if v > 1 else ''})" for k, v in by_target.items())
                + ", e.g. `"
                + hits[0].id
                + "`:"
            )
            out += ["", "```text", _first_line(hits[0].message), "```", ""]
        out += [d.explanation, ""]
        if d.repro:
            out += _repro_block(d.repro, repros)
    if page.beyond:
        out += ["", "## Beyond the suites"]
        for heading, text, repro in page.beyond:
            out += ["", f"### {heading}", "", text, ""]
            if repro:
                out += _repro_block(repro, repros)
    unmatched = [
        r
        for t in targets
        for r in data[t.name][0]
        if r.outcome in ("failed", "error") and not r.departure
    ]
    if unmatched:
        out += ["", "## Unclassified failures", ""]
        out += [f"- `{r.target}` `{r.id}`: {_first_line(r.message)}" for r in unmatched]
    return "\n".join(out) + "\n"


def render_index(data: dict[str, tuple[list[Record], dict]]) -> str:
    env = next(iter(data.values()))[1]["environment"]
    packages = sorted({p for page in PAGES.values() for p in page.packages})
    out = [
        "# Real third-party layers against the semantics of the PyTorch layers they stand for",
        "",
        "The conformance suites run, through `--target` and the adapters in "
        "`examples/adapters/`, against layers a user already has. One page per library, with "
        "the matrix of checks and outcomes and every departure classified, with a minimal "
        "repro; the runs' reports (`conformance.json`, `conformance.md`, `call_semantics.json`) "
        "in one directory per target. Each target stands in for the PyTorch layer of its kind "
        "(`--target KIND=module:factory`, the factory keeping that kind's constructor contract, "
        "`conformance.layers`): *against* names it.",
        "",
        "Pinned: "
        + ", ".join(f"{p}=={importlib.metadata.version(p)}" for p in packages)
        + f"; torch {env['torch']}, Hypothesis {env['hypothesis']}, Python {env['python']} "
        "(`examples/adapters/requirements.txt`). Profile `conformance-ci`, CPU, modes "
        + ", ".join(
            f"`{m}`"
            for m in sorted(
                {r.mode for recs, _ in data.values() for r in recs if r.mode},
                key=MODE_COLUMNS.index,
            )
        )
        + " (`compile` is left out: about twice the time on a 2-core machine; "
        "`--modes eager,functional_call,compile,jit` adds it). Regenerate: "
        "`python examples/adapters/run_ecosystem.py` (or `tox -e ecosystem`); a "
        "`conformance.json` over 300 KB has each failure's `traceback` cut to its last 400 "
        "characters.",
        "",
        "| layer | against | adapter | checks run | passed | depart "
        "| departures: design / bug / adapter | page |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for t in TARGETS:
        if t.name not in data:
            continue
        records, _ = data[t.name]
        c = _counts(records)
        ran = c["passed"] + c["failed"] + c["error"] + c["xfailed"] + c["xpassed"]
        keys = [d for d in DEPARTURES if any(r.departure == d.key for r in records)]
        masked = [
            d
            for d in DEPARTURES
            if d.masked_by and d not in keys and any(m.key == d.masked_by for m in keys)
        ]
        kinds = collections.Counter(d.kind for d in keys + masked)
        titles = "; ".join(
            [f"{d.title} ({d.kind})" for d in keys]
            + [f"{d.title} ({d.kind}; masked here by another, shown elsewhere)" for d in masked]
        )
        unclassified = sum(
            1 for r in records if r.outcome in ("failed", "error") and not r.departure
        )
        if unclassified:
            titles += f"; **{unclassified} failures unclassified** (see the page)"
        out.append(
            f"| {t.title} | `{reference_name(t.kind)}` | `{t.spec}` | {ran} | {c['passed']} | "
            f"{c['failed'] + c['error']} | "
            f"{kinds['design']} / {kinds['bug']} / {kinds['adapter']}: {titles or 'none'} | "
            f"[{t.page}]({t.page}.md) |"
        )
    bugs = [d for d in DEPARTURES if d.kind == "bug"]
    if bugs:
        out += ["", "Bugs found (repro on the page):", ""]
        out += [f"- {d.page}: {d.title} ([{d.page}]({d.page}.md))" for d in bugs]
    out += [
        "",
        "*Depart* counts failing tests (check × dtype × mode); a departure is one cause, "
        "often behind many of them. *design*: a choice the library made (documented, or "
        "evident in its code), which a user relying on the PyTorch layer's semantics must know; "
        "*bug*: behaviour the library does not intend; *adapter*: caused by our mapping onto "
        "the contract, not by the library.",
    ]
    return "\n".join(out) + "\n"


def write_pages(reports: Path, env: dict[str, str]) -> list[str]:
    problems: list[str] = []
    data: dict[str, tuple[list[Record], dict]] = {}
    for t in TARGETS:
        if not (reports / t.name / "conformance.json").exists():
            problems.append(f"{t.name}: no report in {reports / t.name} (not run?)")
            continue
        records, meta = load_records(reports, t)
        for r in records:
            if r.outcome in ("failed", "error"):
                r.departure = classify(r)
                if r.departure is None:
                    problems.append(
                        f"{t.name}: unclassified failure {r.id}: {_first_line(r.message)}"
                    )
            elif r.outcome == "xpassed":
                problems.append(f"{t.name}: {r.id} passed, but was expected to fail")
        data[t.name] = (records, meta)
    repros: dict[str, ReproResult] = {}
    names = [d.repro for d in DEPARTURES if d.repro]
    names += [r for page in PAGES.values() for _, _, r in page.beyond if r]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # each is a subprocess
        futures = {name: pool.submit(run_repro, name, env) for name in dict.fromkeys(names)}
    for name, future in futures.items():
        repros[name] = future.result()
        if not repros[name].ok:
            problems.append(repros[name].problem)
    for page_key in PAGES:
        targets = [t for t in TARGETS if t.page == page_key and t.name in data]
        if not targets:
            continue
        for d in DEPARTURES:
            if (
                d.page == page_key
                and not d.masked_by
                and not any(r.departure == d.key for t in targets for r in data[t.name][0])
            ):
                problems.append(f"{page_key}: departure {d.key} not seen in this run")
        (reports / f"{page_key}.md").write_text(render_page(page_key, targets, data, repros))
    if data:
        (reports / "README.md").write_text(render_index(data))
    return problems
