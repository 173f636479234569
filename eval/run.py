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

from dataclasses import dataclass

from tooljudge.eval.checkpoint_jobs import JobConfig
from tooljudge.eval.hook import EvalHookConfig

from tooljudge.config import cli_parser, like, setting


@dataclass(kw_only=True)
class RunArgs:
    """The options besides --model/--watch; those that fill ``EvalHookConfig`` and ``JobConfig`` are their
    fields (``like``). ``max_examples`` is the one deliberate difference: the hook caps evals during training
    (100), this CLI evaluates every example unless told."""

    output_dir: str | None = setting(None, "where results go (--model only; required there)")
    tasks: str = setting("function_calls", "function_calls and/or judge, comma-separated")
    sets: str = setting("builtin", "function-call eval sets: builtin, tool_world (generated tools never trained "
                        "on), bfcl, bfcl_<category>, bfcl_multi_turn[_<kind>] (multi-turn conversations on BFCL's "
                        "API classes), or eval JSONL paths (comma-separated)")
    judge_rows: str | None = setting(None, "judge rows JSONL (for --tasks judge)")
    judge_protocols: str = setting("qa", "comma-separated judge protocols")
    family: str = like(JobConfig, "family")
    max_examples: int | None = setting(None, "cap per eval set (stratified, seeded)")
    max_examples_per_set: str | None = setting(None, "caps of some sets instead of --max_examples, as "
                                               "SET=N items joined by commas (bfcl_simple=40,builtin=20)")
    max_new_tokens: int = like(EvalHookConfig, "max_new_tokens")
    batch_size: int = like(EvalHookConfig, "batch_size")
    temperature: float = like(EvalHookConfig, "temperature")
    seed: int = like(EvalHookConfig, "seed")
    bfcl_dir: str | None = like(EvalHookConfig, "bfcl_dir")
    checker: str = like(EvalHookConfig, "checker")
    backend: str = like(JobConfig, "backend")
    base_url: str | None = like(JobConfig, "base_url")
    served_model: str | None = like(JobConfig, "served_model")
    once: bool = setting(False, "--watch: one pass, then exit")
    poll: float = setting(60.0, "--watch: seconds between scans")
    idle_exit: float = setting(3600.0, "--watch: stop after this long without a new checkpoint")
    settle: float = like(JobConfig, "settle_seconds")
    lock_stale: float = like(JobConfig, "lock_stale_seconds")


def parse_set_caps(text: str | None) -> dict[str, int] | None:
    """``bfcl_simple=40,builtin=20`` -> ``{"bfcl_simple": 40, "builtin": 20}``; a malformed item is named."""
    if not text:
        return None
    caps: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        name, eq, number = item.partition("=")
        if not item or not eq or not name.strip() or not number.strip().isdigit():
            raise SystemExit(f"--max_examples_per_set: {item!r} is not SET=N (N a whole number)")
        caps[name.strip()] = int(number)
    return caps


def build_parser():
    ap = cli_parser(RunArgs, description=__doc__)
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="model folder or LoRA adapter folder")
    target.add_argument("--watch", metavar="RUN_DIR", help="training output folder with checkpoint-N folders")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from tooljudge.eval.checkpoint_jobs import evaluate_model_path, watch

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
        sets=sets, max_examples=args.max_examples, max_examples_per_set=parse_set_caps(args.max_examples_per_set),
        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
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
