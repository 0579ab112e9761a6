# FrozenBatchNorm2d checks no rank: it broadcasts any input against (1, C, 1, 1).
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

for x in (torch.zeros(()), torch.zeros(2, 3)):  # 0-d; (N, C) as for BatchNorm1d
    try:
        nn.BatchNorm2d(3).eval()(x)
    except ValueError as e:
        print(f"nn.BatchNorm2d on {tuple(x.shape)}: ValueError: {e}")
    out = FrozenBatchNorm2d(3)(x)
    print(f"FrozenBatchNorm2d on {tuple(x.shape)}: returns shape {tuple(out.shape)}")
assert FrozenBatchNorm2d(3)(torch.zeros(2, 3)).shape == (1, 3, 2, 3)
