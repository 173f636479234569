"""Evaluate a checkpoint, or watch a training run and evaluate each checkpoint as it appears.

    python eval/run.py --model DIR_OR_ADAPTER --tasks function_calls --output_dir DIR
    python eval/run.py --watch RUN_DIR [--once]

Results: ``eval_results.json`` (metrics with 95% CIs), ``fc_examples.jsonl`` (every verdict and why); with
``--watch`` inside each checkpoint, plus ``RUN_DIR/eval_summary/{table.md,metrics.png}``.

``--watch`` evaluates a checkpoint only once it is complete (every weights, torch and JSON file whole: the rule
training's resume uses); an incomplete one is named with its reason and tried again on the next scan. Each eval
is claimed with ``eval.lock`` in the checkpoint, so several watchers can share one run.
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="model folder or LoRA adapter folder")
    target.add_argument("--watch", metavar="RUN_DIR", help="training output folder with checkpoint-N folders")
    ap.add_argument("--output_dir", help="where results go (--model only; required there)")
    ap.add_argument("--tasks", default="function_calls", help="function_calls and/or judge, comma-separated")
    ap.add_argument("--sets", default="builtin",
                    help="function-call eval sets: builtin, tool_world (generated tools never trained on), bfcl, bfcl_<category>, bfcl_multi_turn[_<kind>] "
                         "(multi-turn conversations on BFCL's API classes), or eval JSONL paths (comma-separated)")
    ap.add_argument("--judge_rows", help="judge rows JSONL (for --tasks judge)")
    ap.add_argument("--judge_protocols", default="qa", help="comma-separated judge protocols")
    ap.add_argument("--family", default="auto", help="chat-template family (auto: from the tokenizer)")
    ap.add_argument("--max_examples", type=int, default=None, help="cap per eval set (stratified, seeded)")
    ap.add_argument("--max_new_tokens", type=int, default=256)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bfcl_dir", default=None, help="folder with BFCL_v4_*.json (or v3) and possible_answer/; "
                                                     "default: the installed bfcl-eval package")
    ap.add_argument("--checker", default="bfcl", choices=["bfcl", "strict"],
                    help="AST checker: bfcl (BFCL's own verdicts) or strict (tooljudge's refinements, docs/eval.md)")
    ap.add_argument("--backend", default="transformers", choices=["transformers", "vllm", "openai"])
    ap.add_argument("--base_url", help="OpenAI-compatible server (backend openai)")
    ap.add_argument("--served_model", help="model name on the server (backend openai)")
    ap.add_argument("--once", action="store_true", help="--watch: one pass, then exit")
    ap.add_argument("--poll", type=float, default=60.0, help="--watch: seconds between scans")
    ap.add_argument("--idle_exit", type=float, default=3600.0, help="--watch: stop after this long without a new checkpoint")
    ap.add_argument("--settle", type=float, default=30.0, help="seconds a checkpoint without trainer_state.json must be idle")
    ap.add_argument("--lock_stale", type=float, default=600.0,
                    help="--watch: seconds after which another watcher's unrefreshed eval.lock counts as abandoned")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from tooljudge.eval.checkpoint_jobs import JobConfig, evaluate_model_path, watch
    from tooljudge.eval.hook import EvalHookConfig

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = set(tasks) - {"function_calls", "judge"}
    if unknown:
        raise SystemExit(f"unknown tasks {sorted(unknown)}; choose function_calls and/or judge")
    sets = [s.strip() for s in args.sets.split(",") if s.strip()] if "function_calls" in tasks else []
    if "judge" in tasks:
        if not args.judge_rows:
            raise SystemExit("--tasks judge needs --judge_rows ROWS.jsonl")
        sets.append(f"judge:{args.judge_rows}")
    cfg = EvalHookConfig.from_any(
        sets=sets, max_examples=args.max_examples, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
        temperature=args.temperature, seed=args.seed, bfcl_dir=args.bfcl_dir, checker=args.checker,
        judge_protocols=[p for p in args.judge_protocols.split(",") if p])
    if args.max_examples is None:
        cfg.max_examples = None
    job = JobConfig(backend=args.backend, base_url=args.base_url, served_model=args.served_model,
                    family=args.family, settle_seconds=args.settle, lock_stale_seconds=args.lock_stale)
    if args.model:
        if not args.output_dir:
            raise SystemExit("--model needs --output_dir")
        res = evaluate_model_path(args.model, args.output_dir, cfg, job)
        print(res.get("table", ""))
        print(f"results: {args.output_dir}/eval_results.json (per-example verdicts: fc_examples.jsonl; "
              "multi-turn transcripts and verdicts: mt_examples.jsonl)")
        return
    steps = watch(args.watch, cfg, job, poll_seconds=args.poll, idle_exit_seconds=args.idle_exit, once=args.once)
    print(f"evaluated steps {steps}; summary in {args.watch}/eval_summary/ (table.md, metrics.png)")


if __name__ == "__main__":
    main()
