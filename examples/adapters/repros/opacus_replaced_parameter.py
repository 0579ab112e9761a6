# opacus keeps state on each Parameter at wrap time: a tensor put in its place later crashes.
import torch
from opacus import GradSampleModule
from torch import nn

model, x, w = GradSampleModule(nn.Linear(4, 3)), torch.ones(2, 4), torch.zeros(3, 4)
for what in ("functional_call", "assignment"):
    try:
        if what == "functional_call":  # how gradcheck and torch.func swap parameters in
            torch.func.functional_call(model, {"_module.weight": w.requires_grad_()}, (x,))
        else:
            model._module.weight = nn.Parameter(w.detach())  # nn.Linear allows it
            model(x)
    except AttributeError as e:
        print(f"{what}: AttributeError: {e}")
