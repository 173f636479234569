import json
import resource

import torch
import torch.distributed as dist
from tooljudge.train.heap import limit_heap_retention

limit_heap_retention()  # before the model's allocations, as the train scripts do

from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from tooljudge.models import smollm2_checkpoint  # noqa: E402

dist.init_process_group("gloo")


def peak() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


m = AutoModelForCausalLM.from_pretrained(smollm2_checkpoint(), dtype=torch.float32)
m = get_peft_model(m, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
for p in m.parameters():
    p.data.add_(0)  # touch every page
a = peak()
m._ddp_params_and_buffers_to_ignore = [n for n, p in m.named_parameters() if not p.requires_grad]
ddp = torch.nn.parallel.DistributedDataParallel(m)
print(json.dumps({"rank": dist.get_rank(), "peak_before_ddp_mib": a, "peak_after_ddp_mib": peak()}), flush=True)
dist.destroy_process_group()
