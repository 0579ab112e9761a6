# The conv1d_view adapter's weight is a fresh .T view on each access, not a parameter.
import torch
from gpt2_conv1d_adapter import conv1d_view  # examples/adapters

layer, x = conv1d_view(4, 3), torch.ones(2, 4)
w = layer.weight  # what a check differentiates against
grads = torch.autograd.grad(layer(x).sum(), [w, layer.bias], allow_unused=True)
print("grad wrt layer.weight:", grads[0], "| grad wrt bias:", tuple(grads[1].shape))
print("named_parameters:", [name for name, _ in layer.named_parameters()])
try:
    layer.weight = torch.nn.Parameter(torch.zeros(3, 4))
except KeyError as e:
    print("layer.weight = nn.Parameter(...) ->", repr(e))
assert grads[0] is None
