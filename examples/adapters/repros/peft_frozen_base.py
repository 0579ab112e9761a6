# get_peft_model freezes the base layer: LoRA trains only lora_A and lora_B.
from peft import LoraConfig, get_peft_model
from torch import nn

model = get_peft_model(nn.Sequential(nn.Linear(4, 3)), LoraConfig(r=4, target_modules=["0"]))
layer = model.base_model.model[0]  # the peft.tuners.lora.Linear that replaced nn.Linear
print(type(layer).__module__, type(layer).__name__)
print({name: p.requires_grad for name, p in layer.named_parameters()})
assert not layer.weight.requires_grad
assert not layer.bias.requires_grad
