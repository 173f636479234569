import tooljudge
import sys, time, torch
sys.path.insert(0, "benchmarks")
from eval_throughput import build_prompts
from transformers import AutoModelForCausalLM, AutoTokenizer
from tooljudge.core.backends import TransformersBackend
from tooljudge.core.control_text import encode_rendered
from tooljudge.models import smollm2_checkpoint
path=str(smollm2_checkpoint()); tok=AutoTokenizer.from_pretrained(path)
model=AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
rows,prompts=build_prompts(tok,32,"qwen25")
tr=[encode_rendered(tok,p) for p in prompts]
print(model.config._attn_implementation, sum(map(len,tr)))
b=TransformersBackend(model,tok,batch_size=int(__import__("os").environ.get("BS","32")))
b.generate(prompts[:1],max_new_tokens=4,stop=["<|im_end|>"])
t=time.perf_counter()
with torch.inference_mode():
    for ids in tr: model(input_ids=torch.tensor([ids]), logits_to_keep=1)
print("prefill", time.perf_counter()-t)
t=time.perf_counter(); outs=b.generate(prompts,max_new_tokens=80,stop=["<|im_end|>"]); print("ours b32", time.perf_counter()-t)
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as prof:
    b.generate(prompts,max_new_tokens=80,stop=["<|im_end|>"])
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
