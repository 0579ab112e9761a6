# The LoRA layer's parameters are base_layer.*, lora_A.*, lora_B.*: no own 'weight'/'bias'.
from peft import LoraConfig, get_peft_model
from torch import nn

model = get_peft_model(nn.Sequential(nn.Linear(4, 3)), LoraConfig(r=4, target_modules=["0"]))
layer = model.base_model.model[0]
names = [name for name, _ in layer.named_parameters()]
print(names)
assert names != ["weight", "bias"]
assert layer.weight is layer.base_layer.weight
