# torch.jit.script cannot compile peft's LoRA layer: forward(self, x, *args, **kwargs).
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

model = get_peft_model(nn.Sequential(nn.Linear(4, 3)), LoraConfig(r=4, target_modules=["0"]))
try:
    torch.jit.script(model.base_model.model[0])
except Exception as e:
    print(type(e).__name__, str(e).splitlines()[0])
else:
    raise AssertionError("scripted")
