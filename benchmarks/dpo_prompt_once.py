"""DPO step time and peak memory with and without ``data.prompt_once``, the same recipe and rows, one process per
run, the two settings alternating (off, on, on, off, ...) so that the machine's drift falls on both alike.

    python benchmarks/dpo_prompt_once.py --recipe R.yaml --steps 3 --rounds 2 --work /tmp/po [--output out.json]

Each run is ``train/dpo.py R.yaml --data.prompt_once X --training.max_steps N`` (no checkpoints saved); its seconds
per step are TRL's ``train_runtime`` / steps, its peak resident memory the child's ``ru_maxrss``. The runs must log
the same losses step by step (rel 1e-4): speed bought with other numbers is refused. Also printed: the pairs' mean
prompt and answer tokens and the token count TRL computes per pair (2 x (prompt + answer)) against the packed one
(prompt + both answers), the compute the switch can save at most. Reference arm: TRL's own batch (the switch off).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from train_arms import (  # this script's folder is on sys.path
    REPO,
    add_run_arguments,
    alternate,
    check_same_losses,
    prepared_rows,
    timed_run,
)


def run_arm(recipe: str, prompt_once: bool, steps: int, out: Path, extra: list[str]) -> dict:
    """One DPO run in its own process; returns seconds per step, peak RSS and the logged losses."""
    cmd = [sys.executable, str(REPO / "train" / "dpo.py"), recipe, "--data.prompt_once", str(prompt_once).lower(),
           "--training.max_steps", str(steps), "--training.output_dir", str(out), "--training.save_strategy", "no",
           "--training.report_to", "none", *extra]
    return {"prompt_once": prompt_once, **timed_run(cmd, out, steps)}


def pair_tokens(recipe: str, extra: list[str]) -> dict:
    """Mean prompt / answer tokens of the recipe's pairs (prepared again, after the timed runs)."""
    rows, _ = prepared_rows(recipe, extra)
    prompt = statistics.mean(len(r["prompt_ids"]) for r in rows)
    chosen = statistics.mean(len(r["chosen_ids"]) for r in rows)
    rejected = statistics.mean(len(r["rejected_ids"]) for r in rows)
    return {"pairs": len(rows), "prompt_tokens": round(prompt, 1), "chosen_tokens": round(chosen, 1),
            "rejected_tokens": round(rejected, 1),
            "trl_over_packed_tokens": round((2 * prompt + chosen + rejected) / (prompt + chosen + rejected), 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="a DPO recipe (its init_from must exist)")
    add_run_arguments(ap)
    args = ap.parse_args(argv)
    off, on = alternate(args.rounds, Path(args.work), ("off", "on"),
                        lambda prompt_once, out: run_arm(args.recipe, prompt_once, args.steps, out, args.extra))
    runs = off + on
    check_same_losses(off, on)
    report = {
        "recipe": args.recipe, "steps": args.steps, "rounds": args.rounds, "cpu_count": os.cpu_count(),
        "pairs": pair_tokens(args.recipe, args.extra), "runs": runs,
        "seconds_per_step_median": {"off": statistics.median(x["seconds_per_step"] for x in off),
                                    "on": statistics.median(x["seconds_per_step"] for x in on)},
        "speedup_per_round": [round(a["seconds_per_step"] / b["seconds_per_step"], 3)
                              for a, b in zip(off, on, strict=True)],
        "peak_kib": {"off": max(x["peak_kib"] for x in off), "on": max(x["peak_kib"] for x in on)},
        "same_losses": True,
    }
    med = report["seconds_per_step_median"]
    report["speedup_of_medians"] = round(med["off"] / med["on"], 3)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
