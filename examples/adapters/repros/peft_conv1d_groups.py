# LoRA refuses a grouped Conv1d whose groups do not divide the rank r.
from peft import LoraConfig, get_peft_model
from torch import nn

conv = nn.Conv1d(3, 3, 1, groups=3)  # a valid nn.Conv1d
try:
    get_peft_model(nn.Sequential(conv), LoraConfig(r=4, target_modules=["0"]))
except ValueError as e:
    print("ValueError:", e)
else:
    raise AssertionError("accepted")
