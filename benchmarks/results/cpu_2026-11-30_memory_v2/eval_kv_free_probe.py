"""Peak RSS of greedy_decode_rows, old vs new tooljudge/core/backends.py, on the demo's eval prompts (built-in set,
40 rows, batch 8, one thread), one process per arm; each arm writes its token ids so the two can be compared.

    git show 74c1e6c:tooljudge/core/backends.py > OLD/backends.py
    MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 \
        python eval_kv_free_probe.py OLD/backends.py 80 OLD/tokens.json
    MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 \
        python eval_kv_free_probe.py tooljudge/core/backends.py 80 NEW_tokens.json
    cmp OLD/tokens.json NEW_tokens.json

(run as 2026-11-30 with OLD = /tmp, arms named old and new in eval_kv_free.txt)
"""
import importlib.util
import json
import resource
import sys
import time

import torch
from tooljudge.eval.fc_eval import FCEvalConfig, load_eval_rows, render_prompts
from transformers import AutoModelForCausalLM, AutoTokenizer

from tooljudge.models import smollm2_checkpoint


def load_backends(path: str):
    spec = importlib.util.spec_from_file_location("backends_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    torch.set_num_threads(1)
    backends_path, new_tokens, tokens_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    backends = load_backends(backends_path)
    checkpoint = smollm2_checkpoint()
    tok = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    rows = load_eval_rows(FCEvalConfig(sets=["builtin"], max_examples=40))
    prompts, _, _ = render_prompts(tok, rows, "qwen25")
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.time()
    with torch.no_grad():
        out = backends.greedy_decode_rows(model, ids, new_tokens, [tok.convert_tokens_to_ids("<|im_end|>")], 8)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"arm": backends_path, "rows": len(ids), "new_tokens": new_tokens, "prompt_tokens_max": max(map(len, ids)),
                      "peak_before_decode_kb": before, "peak_kb": peak, "added_kb": peak - before,
                      "s": round(time.time() - start, 1)}))
    with open(tokens_out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
