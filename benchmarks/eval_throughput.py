"""Function-call eval throughput: sequential HF ``generate`` (one prompt at a time, the reference) against
batched ``generate`` and our backend, on the same rows, interleaved, on SmolLM2-135M-Instruct with prompts from the
built-in eval set (what ``eval/run.py --sets builtin`` scores).

    python benchmarks/eval_throughput.py --n 32 --max_new_tokens 256 --rounds 3 --generate_batch 8 --batch_sizes 32
    python benchmarks/eval_throughput.py --n 200 --device cuda --vllm          # on a GPU machine

Arms, all on the same rows, run in turn once per round (``--rounds``), so that a shared machine's load falls on
every arm alike; each arm's figure is its median over rounds:
- ``hf_generate_b1``: ``model.generate`` per prompt (no padding), greedy, the family's stop tokens as end tokens.
- ``hf_generate_b<N>`` (``--generate_batch``): ``model.generate`` on length-sorted, left-padded batches (finished
  rows keep computing until the batch's longest row ends).
- ``hf_continuous`` (``--hf_continuous``): transformers' own continuous batching, ``model.generate_batch`` (paged KV
  cache, its scheduler's defaults), greedy, the same end tokens; texts cut as the backend cuts them.
- ``tooljudge_b<N>``: ``TransformersBackend.generate`` (``greedy_decode_rows``: each distinct prompt prefix
  prefilled once, continuous batching of up to N rows, a row leaves when it ends and the next one takes its slot).
Each run reports seconds, examples/s, how many rows have exactly the reference's text (greedy in float32: other
batch shapes change float rounding, so a near-tie could flip a token; rows that differ are listed) and the AST
accuracy, so speed is never bought with wrong answers; the machine's 1-minute load average is recorded before and
after each run. The summary gives per arm the median seconds, rows/s and the ratio of medians to ``hf_generate_b1``,
and the ratio within each round.

``prefill_only_b1`` times the prompts' forward passes alone, once: its share of the sequential time is the prefill
part (the rest is decoding). ``prefix_reuse`` counts the prompt tokens prefilling in ``prefix_order`` skips (each
row on top of the previous row's cache): every distinct prefix computed once. Prints JSON lines (and writes the
report with --output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import tooljudge  # noqa: F401  before torch, as the CLIs import it: huge pages on (tooljudge/cpu_memory.py)


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


def hf_continuous(backend, token_rows: list[list[int]], max_new_tokens: int, stop: list[str]) -> list[str]:
    """transformers' ``generate_batch`` (continuous batching, paged cache) on every row at once, texts cut as the
    backend cuts them; a row that comes back with an error raises (never scored as an empty answer)."""
    import torch
    from transformers import GenerationConfig

    from tooljudge.core.backends import _eval_mode, cut_at_stop

    end_ids, stop_strings = end_token_ids(backend, stop)
    tok = backend.tokenizer
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end_ids,
                              pad_token_id=tok.pad_token_id)
    with _eval_mode(backend.model, tok), torch.inference_mode():
        results = backend.model.generate_batch(inputs=[list(r) for r in token_rows], generation_config=config,
                                               progress_bar=False)
    if len(results) != len(token_rows):
        raise RuntimeError(f"generate_batch returned {len(results)} of {len(token_rows)} rows")
    out = []
    for result in results.values():  # in the order of the inputs (generate_batch re-orders them)
        if result.error:
            raise RuntimeError(f"generate_batch: request {result.request_id}: {result.error}")
        row = list(result.generated_tokens)
        cut = next((k for k, t in enumerate(row) if t in end_ids), len(row))
        out.append(cut_at_stop(tok.decode(row[:cut], skip_special_tokens=False), stop_strings))
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
    """Prompt tokens that prefilling in ``prefix_order`` (each row on the previous row's cache) skips; also each
    row's longest prefix shared with any other row."""
    from tooljudge.core.backends import common_prefix_length, prefix_order

    order = prefix_order(token_rows)
    skipped = sum(min(common_prefix_length(token_rows[a], token_rows[b]), len(token_rows[b]) - 1)
                  for a, b in zip(order, order[1:], strict=False))
    best = [max((common_prefix_length(a, b) for j, b in enumerate(token_rows) if j != i), default=0)
            for i, a in enumerate(token_rows)]
    total = sum(len(r) for r in token_rows)
    return {"prompt_tokens": total, "prefilled_tokens_with_reuse": total - skipped,
            "skipped_fraction": round(skipped / total, 3),
            "shared_prefix_tokens_mean": round(sum(best) / len(best), 1)}


def summarise(runs: list[dict], n: int) -> list[dict]:
    """Per arm: median seconds over rounds, rows/s, and the ratio of medians to ``hf_generate_b1``."""
    import statistics

    names = list(dict.fromkeys(r["run"] for r in runs))
    med = {name: statistics.median(r["seconds"] for r in runs if r["run"] == name) for name in names}
    out = []
    for name in names:
        mine = [r for r in runs if r["run"] == name]
        out.append({"run": name, "rounds": len(mine), "median_seconds": round(med[name], 2),
                    "rows_per_s": round(n / med[name], 3),
                    "ratio_of_medians_vs_hf_generate_b1": round(med["hf_generate_b1"] / med[name], 2),
                    "ratio_per_round": [r.get("speedup_vs_hf_generate_b1_same_round", 1.0) for r in mine],
                    "same_text_as_reference": [r.get("same_text_as_reference", n) for r in mine],
                    "load_avg_1m": [[r["load_avg_1m_before"], r["load_avg_1m_after"]] for r in mine]})
    return out


def format_summary(summary: list[dict]) -> str:
    lines = ["| arm | median s | rows/s | vs hf_generate_b1 (ratio of medians) | per round | same text | load 1m |",
             "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['run']} | {s['median_seconds']} | {s['rows_per_s']} | "
                     f"{s['ratio_of_medians_vs_hf_generate_b1']}x | {s['ratio_per_round']} | "
                     f"{s['same_text_as_reference']} | {s['load_avg_1m']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--family", default="qwen25")
    ap.add_argument("--n", type=int, default=24, help="rows of the built-in set (a stratified subsample)")
    ap.add_argument("--max_new_tokens", type=int, default=256, help="the function-call eval's default")
    ap.add_argument("--batch_sizes", default="8,16", help="TransformersBackend batch sizes to time")
    ap.add_argument("--generate_batch", type=int, default=8, help="batched model.generate run (0: skip it)")
    ap.add_argument("--hf_continuous", action="store_true",
                    help="also time transformers' continuous batching (model.generate_batch)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--vllm", action="store_true", help="also time VLLMBackend (needs vllm and a CUDA GPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--rounds", type=int, default=3, help="times each arm runs, interleaved; figures are medians")
    ap.add_argument("--output", default=None)
    args = ap.parse_args(argv)

    import torch
    from tooljudge.data_prep.families import get_family
    from tooljudge.eval.fc_eval import score_outputs
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.core.backends import TransformersBackend
    from tooljudge.core.control_text import encode_rendered
    from tooljudge.cpu_memory import describe
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
        "huge_pages": describe(), "prompt_tokens_mean": round(sum(map(len, token_rows)) / len(token_rows), 1),
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
        same_round = [r for r in report["runs"] if r["run"] == "hf_generate_b1" and r["round"] == extra["round"]]
        if same_round:
            run["speedup_vs_hf_generate_b1_same_round"] = round(same_round[0]["seconds"] / secs, 2)
        if reference:  # the first round's hf_generate_b1 texts
            run["same_text_as_reference"] = sum(a == b for a, b in zip(outs, reference, strict=True))
            run["rows_differing"] = [rows[i]["id"] for i, (a, b) in enumerate(zip(outs, reference, strict=True))
                                     if a != b]
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
        return run

    arms: list[tuple[str, dict, object]] = [
        ("hf_generate_b1", {"batch_size": 1},  # first in every round: the others' reference
         lambda: hf_generate(ref_backend, prompts, args.max_new_tokens, stop, batch_size=1))]
    if args.generate_batch:
        arms.append((f"hf_generate_b{args.generate_batch}", {"batch_size": args.generate_batch},
                     lambda: hf_generate(ref_backend, prompts, args.max_new_tokens, stop,
                                         batch_size=args.generate_batch)))
    if args.hf_continuous:
        arms.append(("hf_continuous", {}, lambda: hf_continuous(ref_backend, token_rows, args.max_new_tokens, stop)))
    for bs in [int(b) for b in args.batch_sizes.split(",") if b]:
        backend = TransformersBackend(model, tok, batch_size=bs)
        arms.append((f"tooljudge_b{bs}", {"batch_size": bs},
                     lambda backend=backend: backend.generate(prompts, max_new_tokens=args.max_new_tokens, stop=stop)))
    if args.vllm:
        from tooljudge.core.backends import VLLMBackend

        vllm_backend = VLLMBackend(path)
        vllm_backend.generate(prompts[:1], max_new_tokens=4, stop=stop)
        arms.append(("vllm", {}, lambda: vllm_backend.generate(prompts, max_new_tokens=args.max_new_tokens, stop=stop)))

    reference: list[str] = []
    for rnd in range(args.rounds):
        for name, extra, fn in arms:
            before = load()
            start = time.perf_counter()
            outs = fn()
            secs = time.perf_counter() - start
            record(name, outs, secs, before, {**extra, "round": rnd})
            reference = reference or outs
        if rnd == 0:
            before = load()
            secs = prefill_seconds(model, token_rows, args.device)
            ref_secs = report["runs"][0]["seconds"]
            report["prefill_only_b1"] = {"seconds": round(secs, 2), "load_avg_1m_before": before,
                                         "load_avg_1m_after": load(), "share_of_hf_generate_b1": round(secs / ref_secs, 3)}
            print(json.dumps({"prefill_only_b1": report["prefill_only_b1"]}), flush=True)
        # after every round, so that a run cut short still leaves its medians so far
        report["summary"] = summarise(report["runs"], len(prompts))
        print(f"after round {rnd + 1}:\n" + format_summary(report["summary"]), flush=True)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
