# In eval mode opacus captures no activations, yet its backward hook still runs and raises.
import torch
from opacus import GradSampleModule
from torch import nn

model = GradSampleModule(nn.Linear(4, 3))
model.eval()  # e.g. gradients for attribution, or a validation loss's gradient
x = torch.ones(2, 4, requires_grad=True)
try:
    model(x).sum().backward()
except ValueError as e:
    print("backward in eval mode:", e)
else:
    raise AssertionError("backward worked")
