# timm's BatchNormAct2d refuses a non-4-D input with AssertionError; nn.BatchNorm2d with ValueError.
import torch
from timm.layers import BatchNormAct2d
from torch import nn

x = torch.zeros(2, 3, 4)  # 3-D
raised = []
for layer in (nn.BatchNorm2d(3), BatchNormAct2d(3, apply_act=False)):
    try:
        layer(x)
    except Exception as e:
        print(f"{type(layer).__name__}: {type(e).__name__}: {e}")
        raised.append(type(e))
assert raised == [ValueError, AssertionError]
