# Conv1D(nf, nx): outputs first, weight (in, out), always a bias, repr names nf/nx.
import inspect

from transformers.pytorch_utils import Conv1D

layer = Conv1D(3, 4)  # 3 outputs, 4 inputs
print(inspect.signature(Conv1D))
print(repr(layer), tuple(layer.weight.shape), [n for n, _ in layer.named_parameters()])
try:
    Conv1D(3, 4, bias=False)
except TypeError as e:
    print(e)
assert "bias" not in inspect.signature(Conv1D).parameters
