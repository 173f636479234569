"""Function-call eval throughput: examples/s of HF generate one prompt at a time vs batched (left-padded), and
vLLM when it and a GPU are present, on SmolLM2-135M-Instruct with prompts from the built-in eval set.

    python benchmarks/eval_throughput.py --n 16 --max_new_tokens 48 --batch_sizes 1,8
    python benchmarks/eval_throughput.py --n 200 --device cuda --vllm          # on a GPU machine

Also reports how many batched outputs equal the one-at-a-time outputs (greedy: they should all be equal up to
float rounding in padded attention) and the AST accuracy of each run, so speed is never bought with wrong
answers. Prints one JSON object (and writes it with --output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def build_prompts(tokenizer, n: int, family: str) -> tuple[list[dict], list[str]]:
    from tooljudge.data_prep.masking import render_prompt
    from tooljudge.data_prep.synthetic import build_fc_eval_set
    from tooljudge.eval.fc_eval import subsample

    rows = subsample(build_fc_eval_set(), n, seed=0)
    return rows, [render_prompt(tokenizer, r["messages"], r["tools"], family=family) for r in rows]


def timed(backend, prompts, max_new_tokens, stop) -> tuple[list[str], float]:
    start = time.perf_counter()
    outs = backend.generate(prompts, max_new_tokens=max_new_tokens, stop=stop)
    return outs, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--family", default="qwen25")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max_new_tokens", type=int, default=48)
    ap.add_argument("--batch_sizes", default="1,8")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--vllm", action="store_true", help="also time VLLMBackend (needs vllm and a CUDA GPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--output", default=None)
    args = ap.parse_args(argv)

    import torch
    from tooljudge.data_prep.families import get_family
    from tooljudge.eval.backends import TransformersBackend
    from tooljudge.eval.fc_eval import score_outputs
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.model or str(smollm2_checkpoint())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32 if args.device == "cpu" else torch.bfloat16)
    model.to(args.device)
    fam = get_family(args.family)
    rows, prompts = build_prompts(tok, args.n, args.family)
    prompt_tokens = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    stop = list(fam.stop_tokens)
    report = {
        "model": path, "family": args.family, "n": len(prompts), "max_new_tokens": args.max_new_tokens,
        "device": args.device, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(), "torch": torch.__version__,
        "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens), 1), "runs": [],
    }
    TransformersBackend(model, tok, batch_size=1).generate(prompts[:1], max_new_tokens=4, stop=stop)  # warm-up
    reference = None
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        backend = TransformersBackend(model, tok, batch_size=bs)
        outs, secs = timed(backend, prompts, args.max_new_tokens, stop)
        metrics, _ = score_outputs(rows, outs, args.family)
        new_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in outs)
        run = {"backend": "transformers", "batch_size": bs, "seconds": round(secs, 2),
               "load_avg_1m_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
               "examples_per_s": round(len(prompts) / secs, 3), "new_tokens_per_s": round(new_tokens / secs, 1),
               "ast_accuracy": metrics["overall"]["ast_accuracy"]["value"]}
        if reference is None:
            reference = outs
        else:
            run["same_output_as_first_run"] = sum(a == b for a, b in zip(outs, reference, strict=True))
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    if args.vllm:
        from tooljudge.eval.backends import VLLMBackend

        backend = VLLMBackend(path)
        backend.generate(prompts[:1], max_new_tokens=4, stop=stop)
        outs, secs = timed(backend, prompts, args.max_new_tokens, stop)
        metrics, _ = score_outputs(rows, outs, args.family)
        run = {"backend": "vllm", "seconds": round(secs, 2), "examples_per_s": round(len(prompts) / secs, 3),
               "ast_accuracy": metrics["overall"]["ast_accuracy"]["value"],
               "same_output_as_first_run": sum(a == b for a, b in zip(outs, reference or outs, strict=True))}
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
