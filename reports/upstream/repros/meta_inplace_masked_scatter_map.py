"""On the meta device, masked_scatter_, map_ and map2_ do not raise where the CPU does
(pytorch#72650's repro, narrowed to the ops that still pass).

With ``small`` of shape (1,) and ``large`` of shape (2, 1, 2, 1), the CPU
rejects ``small.masked_scatter_(large < 0.5, ...)``, ``small.map_(large, f)``
and ``small.map2_(large, large, g)`` (the target cannot take the broadcast
shape); on meta they return, ``small`` unchanged. ``copy_`` and
``masked_fill_`` raise on both, as controls.

Exit status: 1 while any op returns on meta where the CPU raises, 0 once none does.
"""

import sys
import warnings

import torch


def call(op, device):
    small = torch.empty([1], device=device)
    large = torch.empty([2, 1, 2, 1], device=device)
    calls = {
        "copy_": lambda: small.copy_(large),
        "masked_fill_": lambda: small.masked_fill_(large < 0.5, 1.0),
        "masked_scatter_": lambda: small.masked_scatter_(large < 0.5, large.clone().flatten()),
        "map_": lambda: small.map_(large, lambda x, y: x + y),
        "map2_": lambda: small.map2_(large, large, lambda x, y, z: x + y + z),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            calls[op]()
        except RuntimeError as e:
            return f"raises: {str(e).splitlines()[0][:60]}"
    return f"returns, target shape {tuple(small.shape)}"


def main():
    print(f"torch {torch.__version__}")
    wrong = []
    for op in ("copy_", "masked_fill_", "masked_scatter_", "map_", "map2_"):
        cpu, meta = call(op, "cpu"), call(op, "meta")
        if cpu.startswith("raises") and not meta.startswith("raises"):
            wrong.append(op)
        print(f"{op:16} cpu: {cpu[:50]:50}  meta: {meta[:50]}")
    if not wrong:
        print("OK: every op raises on meta where it raises on the CPU")
        return 0
    print(f"BUG: {', '.join(wrong)} return on meta where the CPU raises")
    return 1


if __name__ == "__main__":
    sys.exit(main())
