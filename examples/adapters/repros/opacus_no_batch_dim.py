# opacus's backward hook needs a batch dimension: a 1-D input (fine for nn.Linear) fails.
import torch
from opacus import GradSampleModule
from torch import nn

model = GradSampleModule(nn.Linear(4, 3))  # batch_first=True by default
y = model(torch.ones(4))  # forward works: nn.Linear takes (*, in_features)
try:
    y.sum().backward()
except RuntimeError as e:
    print("backward:", e)
else:
    raise AssertionError("backward worked")
