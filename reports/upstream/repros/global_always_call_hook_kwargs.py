"""A global forward hook registered with with_kwargs=True, always_call=True is
called without kwargs when forward raises.

torch.nn.modules.module.register_module_forward_hook(hook, with_kwargs=True,
always_call=True) promises hook(module, args, kwargs, output), also when
forward raises. On the exception path _call_impl calls every global
always-call hook as hook(self, args, result): the hook gets three arguments,
raises TypeError, and that error is turned into a warning, so the hook never
runs. The same flags on a module's own hook (Module.register_forward_hook)
work: that branch checks _forward_hooks_with_kwargs.

Exit status: 1 while the bug is present, 0 once it is fixed.
"""

import sys
import warnings

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook


class Failing(nn.Module):
    def forward(self, x, *, scale=1.0):
        raise RuntimeError("forward failed")


def call(module):
    """Call ``module`` (whose forward raises); return the warnings raised on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            module(torch.ones(1), scale=2.0)
        except RuntimeError as e:
            if "forward failed" not in str(e):
                raise
        else:
            raise AssertionError("forward did not raise")
    return [str(w.message) for w in caught]


def main():
    print(f"torch {torch.__version__}")
    seen_global, seen_local = [], []

    # Control: the module's own hook with the same flags gets the kwargs.
    module = Failing()
    handle = module.register_forward_hook(
        lambda m, args, kwargs, out: seen_local.append(kwargs), with_kwargs=True, always_call=True
    )
    call(module)
    handle.remove()
    print(f"module hook (with_kwargs, always_call): called with {seen_local}")

    # The global hook with the same flags.
    handle = register_module_forward_hook(
        lambda m, args, kwargs, out: seen_global.append(kwargs), with_kwargs=True, always_call=True
    )
    try:
        messages = call(Failing())
    finally:
        handle.remove()
    print(f"global hook (with_kwargs, always_call): called with {seen_global}")
    for message in messages:
        print(f"  warning: {message}")

    if seen_global == [{"scale": 2.0}]:
        print("OK: the global always-call hook got (module, args, kwargs, output)")
        return 0
    print("BUG: the global always-call hook was not called with kwargs when forward raised")
    return 1


if __name__ == "__main__":
    sys.exit(main())
