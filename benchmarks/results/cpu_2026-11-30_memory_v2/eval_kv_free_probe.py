"""Peak RSS of greedy_decode_rows, old vs new tooljudge/core/backends.py, on the demo's eval prompts (built-in set,
40 rows, batch 8, one thread), one process per arm; each arm writes its token ids so the two can be compared.

    git show 74c1e6c:tooljudge/core/backends.py > /tmp/old_backends.py
    MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 python eval_kv_free_probe.py old 80
    MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 python eval_kv_free_probe.py new 80
    cmp /tmp/kvmem_old.json /tmp/kvmem_new.json
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


def load_backends(which: str):
    path = "/tmp/old_backends.py" if which == "old" else "tooljudge/core/backends.py"
    spec = importlib.util.spec_from_file_location("bk_" + which, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    torch.set_num_threads(1)
    which, new_tokens = sys.argv[1], int(sys.argv[2])
    backends = load_backends(which)
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
    print(json.dumps({"arm": which, "rows": len(ids), "new_tokens": new_tokens, "prompt_tokens_max": max(map(len, ids)),
                      "peak_before_decode_kb": before, "peak_kb": peak, "added_kb": peak - before,
                      "s": round(time.time() - start, 1)}))
    with open(f"/tmp/kvmem_{which}.json", "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
