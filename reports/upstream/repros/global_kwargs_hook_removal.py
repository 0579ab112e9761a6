"""Removing a global with_kwargs=True forward hook leaves its id in
torch.nn.modules.module._global_forward_hooks_with_kwargs.

register_module_forward_hook builds its RemovableHandle with
extra_dict=_global_forward_hooks_always_called only, so handle.remove()
deletes the id from _global_forward_hooks and _global_forward_hooks_always_called
but not from _global_forward_hooks_with_kwargs. _has_any_global_hook() then
stays true with no global hook registered (torch.compile checks it and warns
about global hooks), and the dict grows by one id per registration.

Exit status: 1 while the bug is present, 0 once it is fixed.
"""

import sys

import torch
from torch.nn.modules import module as module_mod


def main():
    print(f"torch {torch.__version__}")
    before = dict(module_mod._global_forward_hooks_with_kwargs)
    handle = module_mod.register_module_forward_hook(
        lambda m, args, kwargs, out: None, with_kwargs=True
    )
    handle.remove()
    kwargs_ids = module_mod._global_forward_hooks_with_kwargs
    left = {k: v for k, v in kwargs_ids.items() if k not in before}
    hooks = dict(module_mod._global_forward_hooks)
    print(f"after handle.remove(): _global_forward_hooks = {hooks}")
    print(f"after handle.remove(): _global_forward_hooks_with_kwargs = {left}")
    any_global = bool(module_mod._has_any_global_hook())
    print(f"after handle.remove(): _has_any_global_hook() is {any_global}")
    if handle.id not in left:
        print("OK: the removed hook's id is gone from _global_forward_hooks_with_kwargs")
        return 0
    print("BUG: the removed hook's id is still in _global_forward_hooks_with_kwargs")
    return 1


if __name__ == "__main__":
    sys.exit(main())
