"""On the meta device, in-place binary ops resize a target that is smaller
than the broadcast shape instead of raising.

The broadcasting rules (https://pytorch.org/docs/stable/notes/broadcasting.html#in-place-semantics)
say an in-place op may not change the shape of its target: on the CPU
``torch.empty(3).pow_(torch.empty(2, 3))`` raises "output with shape [3]
doesn't match the broadcast shape [2, 3]". On meta (and under FakeTensor, so
in torch.compile's tracing) 19 in-place ops whose meta kernel is the
reference from torch._refs._make_inplace (``fn(a, *args, out=a)``) resize
``a`` to (2, 3) through out_wrapper's _maybe_resize_out, with only a
deprecation warning. add_, mul_ and div_ have their own meta kernels and
raise, as on the CPU.

Exit status: 1 while any op resizes on meta where the CPU raises, 0 once none does.
"""

import sys
import warnings

import torch

#: op name -> (dtype, extra positional arguments after ``other``)
OPS = {
    "pow_": (torch.float32, ()),
    "eq_": (torch.float32, ()),
    "ne_": (torch.float32, ()),
    "lt_": (torch.float32, ()),
    "le_": (torch.float32, ()),
    "gt_": (torch.float32, ()),
    "ge_": (torch.float32, ()),
    "atan2_": (torch.float32, ()),
    "hypot_": (torch.float32, ()),
    "fmod_": (torch.float32, ()),
    "remainder_": (torch.float32, ()),
    "copysign_": (torch.float32, ()),
    "nextafter_": (torch.float32, ()),
    "xlogy_": (torch.float32, ()),
    "clamp_": (torch.float32, None),  # clamp_(min=other, max=other)
    "igamma_": (torch.float32, ()),
    "floor_divide_": (torch.float32, ()),
    "bitwise_and_": (torch.int64, ()),
    "heaviside_": (torch.float32, ()),
}
#: Controls: their meta kernels check the shape, as the CPU does.
CONTROLS = {"add_": (torch.float32, ()), "mul_": (torch.float32, ()), "div_": (torch.float32, ())}


def apply(op, dtype, extra, device):
    """``small.op(large)``, small (3,) and large (2, 3): the resulting shape, or the error."""
    small = torch.ones(3, dtype=dtype, device=device)
    large = torch.ones(2, 3, dtype=dtype, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if extra is None:
                getattr(small, op)(min=large, max=large)
            else:
                getattr(small, op)(large, *extra)
        except RuntimeError as e:
            return f"raises: {str(e).splitlines()[0]}"
    return f"returns, target resized to {tuple(small.shape)}"


def main():
    print(f"torch {torch.__version__}")
    wrong = []
    for op, (dtype, extra) in {**OPS, **CONTROLS}.items():
        cpu = apply(op, dtype, extra, "cpu")
        meta = apply(op, dtype, extra, "meta")
        differs = cpu.startswith("raises") and not meta.startswith("raises")
        if differs:
            wrong.append(op)
        control = " (control)" if op in CONTROLS else ""
        print(f"{op:15} cpu: {cpu[:60]:60}  meta: {meta[:60]}{control}")
    if not wrong:
        print("OK: every op raises on meta where it raises on the CPU")
        return 0
    print(
        f"BUG: {len(wrong)} in-place ops resize their target on meta where the CPU raises: "
        + ", ".join(wrong)
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
