"""Torch profiler over one ``TransformersBackend.generate`` of 32 built-in rows (batch ``BS``, default 32), after
timing the prompts' forward passes alone; run from the repository root: ``python <this file>``."""
import os
import sys
import time

import tooljudge  # noqa: F401  first, as the CLIs do (huge pages on)

# isort: split
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForCausalLM, AutoTokenizer

from tooljudge.core.backends import TransformersBackend
from tooljudge.core.control_text import encode_rendered
from tooljudge.models import smollm2_checkpoint

sys.path.insert(0, "benchmarks")
from eval_throughput import build_prompts  # noqa: E402  the benchmark's rows and prompts

STOP = ["<|im_end|>"]


def main() -> None:
    path = str(smollm2_checkpoint())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    _, prompts = build_prompts(tok, 32, "qwen25")
    token_rows = [encode_rendered(tok, p) for p in prompts]
    print(model.config._attn_implementation, sum(map(len, token_rows)))
    backend = TransformersBackend(model, tok, batch_size=int(os.environ.get("BS", "32")))
    backend.generate(prompts[:1], max_new_tokens=4, stop=STOP)  # warm-up
    start = time.perf_counter()
    with torch.inference_mode():
        for ids in token_rows:
            model(input_ids=torch.tensor([ids]), logits_to_keep=1)
    print("prefill", time.perf_counter() - start)
    start = time.perf_counter()
    backend.generate(prompts, max_new_tokens=80, stop=STOP)
    print("ours", time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        backend.generate(prompts, max_new_tokens=80, stop=STOP)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
