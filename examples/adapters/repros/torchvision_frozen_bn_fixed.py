# torchvision's FrozenBatchNorm2d normalises with its fixed buffers in training mode too.
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

x = torch.arange(8.0).reshape(2, 1, 2, 2)
for layer in (FrozenBatchNorm2d(1).train(), nn.BatchNorm2d(1).train()):
    out, mean = layer(x)[0, 0, 0].tolist(), layer.running_mean.tolist()
    print(f"{type(layer).__name__}, training: out {out}, running_mean {mean}")
frozen = FrozenBatchNorm2d(1).train()
one = tuple(frozen(torch.ones(1, 1, 1, 1)).shape)
print("one value per channel:", one, "(nn.BatchNorm2d: ValueError)")
assert torch.allclose(frozen(x), x / (1 + 1e-5) ** 0.5)
assert frozen.running_mean.item() == 0.0
