"""Wall time and peak RSS of greedy_decode_rows, the KV slots (3e59eb1) against the code before them, one process
per arm, arms interleaved (ABBA) so that the VM's drift hits both alike; each arm writes its token ids.

    git show 3e59eb1~1:tooljudge/core/backends.py > /tmp/kvprobe/backends_old.py
    bash run_interleaved.sh > interleaved.jsonl   # from the repository root

One arm: python interleaved_probe.py BACKENDS_PY ROWS BATCH NEW_TOKENS TOKENS_OUT
(built-in eval rows, qwen25 prompts, SmolLM2-135M float32, torch's default threads).
"""
import json
import resource
import sys
import time
from pathlib import Path

import tooljudge  # noqa: F401  first, as the CLIs do (huge pages on)

# isort: split
import torch
from tooljudge.eval.fc_eval import FCEvalConfig, load_eval_rows, render_prompts
from transformers import AutoModelForCausalLM, AutoTokenizer

from tooljudge.models import smollm2_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cpu_2026-11-30_memory_v2"))
from eval_kv_free_probe import load_backends  # noqa: E402  the earlier probe's loader of a backends file


def main() -> None:
    backends_path, n_rows, batch, new_tokens, tokens_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5]
    backends = load_backends(backends_path)
    checkpoint = smollm2_checkpoint()
    tok = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    rows = load_eval_rows(FCEvalConfig(sets=["builtin"], max_examples=n_rows))
    prompts, _, _ = render_prompts(tok, rows, "qwen25")
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with torch.no_grad():
        out = backends.greedy_decode_rows(model, ids, new_tokens, [tok.convert_tokens_to_ids("<|im_end|>")], batch)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(json.dumps({"arm": "new" if "tooljudge/core" in backends_path else "old", "rows": len(ids), "batch": batch,
                      "new_tokens": new_tokens, "prompt_tokens_mean": round(sum(map(len, ids)) / len(ids), 1),
                      "threads": torch.get_num_threads(), "s": round(seconds, 2), "peak_kb": peak,
                      "peak_before_decode_kb": before, "added_kb": peak - before, "load_after": load}), flush=True)
    with open(tokens_out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
