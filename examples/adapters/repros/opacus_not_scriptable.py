# Neither GradSampleModule nor the Linear carrying its hooks can be scripted.
import torch
from opacus import GradSampleModule
from torch import nn

linear = nn.Linear(4, 3)
model = GradSampleModule(linear)
for name, module in (("GradSampleModule", model), ("hooked nn.Linear", linear)):
    try:
        torch.jit.script(module)
    except Exception as e:
        print(f"{name}: {type(e).__name__}: {str(e).strip().splitlines()[0][:110]}")
    else:
        raise AssertionError(f"{name} scripted")
