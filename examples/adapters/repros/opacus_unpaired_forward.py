# One forward without a backward (train mode, grad on) and grad_sample stays None from then on.
import torch
from opacus import GradSampleModule
from torch import nn

model = GradSampleModule(nn.Linear(4, 3))
x = torch.ones(2, 4)
model(x)  # e.g. a forward for logging, not backpropagated
for step in range(2):
    model.zero_grad()
    model(x).sum().backward()
    weight = model._module.weight
    print(f"step {step}: grad set: {weight.grad is not None}, grad_sample: {weight.grad_sample}")
assert model._module.weight.grad_sample is None
