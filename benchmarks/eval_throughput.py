"""Function-call eval throughput: sequential HF ``generate`` (one prompt at a time, the reference) against
batched generation on the same rows in one run, on SmolLM2-135M-Instruct with prompts from the built-in eval set.

    python benchmarks/eval_throughput.py --n 24 --max_new_tokens 256 --batch_sizes 8,16
    python benchmarks/eval_throughput.py --n 200 --device cuda --vllm          # on a GPU machine

Runs, all on the same rows, in this order:
- ``hf_generate_b1``: ``model.generate`` per prompt (no padding), greedy, the family's stop tokens as end tokens.
- ``hf_generate_b<N>`` (``--generate_batch``): ``model.generate`` on length-sorted, left-padded batches (what the
  backend did before: finished rows keep computing until the batch's longest row ends).
- ``tooljudge_b<N>``: ``TransformersBackend.generate`` (length-sorted batches, a row leaves the batch when it ends).
Each run reports seconds, examples/s, the ratio to ``hf_generate_b1``, how many rows have exactly the reference's
text (greedy in float32: padding changes float rounding, so a near-tie could flip a token; rows that differ are
listed) and the AST accuracy, so speed is never bought with wrong answers. The machine's load average is
recorded before and after each run (the machine may be shared: rerun when it is far above the core count).

``prefill_only_b1`` times the prompts' forward passes alone: batching that computes every prompt token once cannot
beat sequential time divided by it (``speedup_ceiling_same_prefill``). Also measures whether reusing a shared
prompt prefix's KV cache could pay: for each row, the longest token
prefix it shares with any other row, as a fraction of all prompt tokens (the prefill that reuse could skip at
best). Prints one JSON object (and writes it with --output).
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


def load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def end_token_ids(backend, stop: list[str]) -> tuple[list[int], list[str]]:
    """The end ids and textual stop strings the backend itself uses (model eos + single-token stops)."""
    stop_ids, stop_strings = backend._split_stop(stop)
    eos = backend.model.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    return sorted(set(eos_ids + stop_ids)), stop_strings


def hf_generate(backend, prompts: list[str], max_new_tokens: int, stop: list[str], batch_size: int) -> list[str]:
    """``model.generate`` on length-sorted batches (batch 1: one prompt at a time, no padding), texts cut as the
    backend cuts them."""
    import torch
    from transformers import StoppingCriteriaList

    from tooljudge.core.backends import _eval_mode, _NewTextStop, cut_at_stop

    end_ids, stop_strings = end_token_ids(backend, stop)
    tok = backend.tokenizer
    out: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with _eval_mode(backend.model, tok), torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = backend._encode([prompts[i] for i in idx])
            width = enc["input_ids"].shape[1]
            criteria = StoppingCriteriaList([_NewTextStop(tok, stop_strings, width)]) if stop_strings else None
            seqs = backend.model.generate(**enc, max_new_tokens=max_new_tokens, eos_token_id=end_ids,
                                          pad_token_id=tok.pad_token_id, do_sample=False, temperature=None,
                                          top_p=None, top_k=None, stopping_criteria=criteria)
            for row, i in zip(seqs[:, width:].tolist(), idx, strict=True):
                cut = next((k for k, t in enumerate(row) if t in end_ids), len(row))
                out[i] = cut_at_stop(tok.decode(row[:cut], skip_special_tokens=False), stop_strings)
    return out


def prefill_seconds(model, token_rows: list[list[int]], device: str) -> float:
    """Seconds of the prompts' forward passes alone, one prompt at a time (last position's logits only): what
    any batching that computes every prompt token once still pays, so sequential time over this bounds its gain."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for ids in token_rows:
            model(input_ids=torch.tensor([ids], device=device), logits_to_keep=1)
    return time.perf_counter() - start


def shared_prefix_stats(token_rows: list[list[int]]) -> dict:
    """Prefill a prefix KV cache could skip at best: each row's longest token prefix shared with another row."""
    def lcp(a: list[int], b: list[int]) -> int:
        k = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            k += 1
        return k

    best = [max((lcp(a, b) for j, b in enumerate(token_rows) if j != i), default=0)
            for i, a in enumerate(token_rows)]
    total = sum(len(r) for r in token_rows)
    return {"prompt_tokens": total, "shared_prefix_tokens_mean": round(sum(best) / len(best), 1),
            "shared_prefix_fraction": round(sum(best) / total, 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--family", default="qwen25")
    ap.add_argument("--n", type=int, default=24, help="rows of the built-in set (a stratified subsample)")
    ap.add_argument("--max_new_tokens", type=int, default=256, help="the function-call eval's default")
    ap.add_argument("--batch_sizes", default="8,16", help="TransformersBackend batch sizes to time")
    ap.add_argument("--generate_batch", type=int, default=8, help="batched model.generate run (0: skip it)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--vllm", action="store_true", help="also time VLLMBackend (needs vllm and a CUDA GPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--output", default=None)
    args = ap.parse_args(argv)

    import torch
    from tooljudge.data_prep.families import get_family
    from tooljudge.eval.fc_eval import score_outputs
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.core.backends import TransformersBackend
    from tooljudge.core.control_text import encode_rendered
    from tooljudge.models import smollm2_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.model or str(smollm2_checkpoint())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32 if args.device == "cpu" else torch.bfloat16)
    model.to(args.device)
    fam = get_family(args.family)
    rows, prompts = build_prompts(tok, args.n, args.family)
    token_rows = [encode_rendered(tok, p) for p in prompts]
    stop = list(fam.stop_tokens)
    report = {
        "model": path, "family": args.family, "n": len(prompts), "max_new_tokens": args.max_new_tokens,
        "device": args.device, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "torch": torch.__version__, "stop": stop,
        "prompt_tokens_mean": round(sum(map(len, token_rows)) / len(token_rows), 1),
        "prefix_reuse": shared_prefix_stats(token_rows), "runs": [],
    }
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}), flush=True)
    ref_backend = TransformersBackend(model, tok, batch_size=1)
    ref_backend.generate(prompts[:1], max_new_tokens=4, stop=stop)  # warm-up

    def record(name: str, outs: list[str], secs: float, load_before: float | None, extra: dict) -> dict:
        metrics, _ = score_outputs(rows, outs, args.family)
        new_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in outs)
        run = {"run": name, **extra, "seconds": round(secs, 2), "examples_per_s": round(len(prompts) / secs, 3),
               "new_tokens": new_tokens, "new_tokens_per_s": round(new_tokens / secs, 1),
               "ast_accuracy": metrics["overall"]["ast_accuracy"]["value"],
               "load_avg_1m_before": load_before, "load_avg_1m_after": load()}
        if report["runs"]:
            ref_run, ref_outs = report["runs"][0], reference
            run["speedup_vs_hf_generate_b1"] = round(ref_run["seconds"] / secs, 2)
            run["same_text_as_reference"] = sum(a == b for a, b in zip(outs, ref_outs, strict=True))
            run["rows_differing"] = [rows[i]["id"] for i, (a, b) in enumerate(zip(outs, ref_outs, strict=True))
                                     if a != b]
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
        return run

    before = load()
    start = time.perf_counter()
    reference = hf_generate(ref_backend, prompts, args.max_new_tokens, stop, batch_size=1)
    record("hf_generate_b1", reference, time.perf_counter() - start, before, {"batch_size": 1})
    before = load()
    secs = prefill_seconds(model, token_rows, args.device)
    report["prefill_only_b1"] = {"seconds": round(secs, 2), "load_avg_1m_before": before, "load_avg_1m_after": load(),
                                 "share_of_hf_generate_b1": round(secs / report["runs"][0]["seconds"], 3),
                                 "speedup_ceiling_same_prefill": round(report["runs"][0]["seconds"] / secs, 2)}
    print(json.dumps({"prefill_only_b1": report["prefill_only_b1"]}), flush=True)
    if args.generate_batch:
        before = load()
        start = time.perf_counter()
        outs = hf_generate(ref_backend, prompts, args.max_new_tokens, stop, batch_size=args.generate_batch)
        record(f"hf_generate_b{args.generate_batch}", outs, time.perf_counter() - start, before,
               {"batch_size": args.generate_batch})
    for bs in [int(b) for b in args.batch_sizes.split(",") if b]:
        backend = TransformersBackend(model, tok, batch_size=bs)
        before = load()
        start = time.perf_counter()
        outs = backend.generate(prompts, max_new_tokens=args.max_new_tokens, stop=stop)
        record(f"tooljudge_b{bs}", outs, time.perf_counter() - start, before, {"batch_size": bs})
    if args.vllm:
        from tooljudge.core.backends import VLLMBackend

        backend = VLLMBackend(path)
        backend.generate(prompts[:1], max_new_tokens=4, stop=stop)
        before = load()
        start = time.perf_counter()
        outs = backend.generate(prompts, max_new_tokens=args.max_new_tokens, stop=stop)
        record("vllm", outs, time.perf_counter() - start, before, {})
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
