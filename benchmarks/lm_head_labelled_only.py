"""SFT or DPO step time and peak memory with TRL's LM head scoring every position (TRL's CPU behaviour) against
only the labelled ones (``trl_seam.score_labelled_positions_only``, on by default on CPU): the same recipe and rows,
one process per run, the two arms alternating (off, on, on, off, ...) so that the machine's drift falls on both.

    python benchmarks/lm_head_labelled_only.py --script sft --recipe R.yaml --steps 3 --rounds 2 --work /tmp/lh

Each run is ``train/<script>.py R.yaml --training.max_steps N`` (no checkpoints); the "every position" arm runs the
same entry point with the seam's switch made a no-op before the trainer is built. Seconds per step are TRL's
``train_runtime`` / steps, the peak the child's ``ru_maxrss``. Both arms must log the same losses step by step
(rel 1e-4): speed bought with other numbers is refused. Also printed: the share of positions that carry a label,
the head's work the switch can leave out.
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

EVERY_POSITION = ("import sys; sys.path.insert(0, {repo!r}); import tooljudge.train.trl_seam as seam; "
                  "seam.score_labelled_positions_only = lambda *a, **k: False; "
                  "from train.{script} import main; main(sys.argv[1:])")


def run_arm(script: str, recipe: str, labelled_only: bool, steps: int, out: Path, extra: list[str]) -> dict:
    """One training run in its own process; returns seconds per step, peak RSS and the logged losses."""
    args = [recipe, "--training.max_steps", str(steps), "--training.output_dir", str(out),
            "--training.save_strategy", "no", "--training.report_to", "none", "--training.logging_steps", "1",
            *extra]
    if labelled_only:
        cmd = [sys.executable, str(REPO / "train" / f"{script}.py"), *args]
    else:
        cmd = [sys.executable, "-c", EVERY_POSITION.format(repo=str(REPO), script=script), *args]
    return {"labelled_only": labelled_only, **timed_run(cmd, out, steps)}


def labelled_share(recipe: str, extra: list[str]) -> dict:
    """Positions and labelled positions of the recipe's rows (prepared again after the timed runs)."""
    rows, config = prepared_rows(recipe, extra)
    if config.kind == "sft":
        positions = sum(len(r["input_ids"]) for r in rows)
        labelled = sum(sum(r["assistant_masks"]) for r in rows)
    else:  # TRL's layout: prompt + chosen and prompt + rejected, the completions labelled
        positions = sum(2 * len(r["prompt_ids"]) + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
        labelled = sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
    return {"rows": len(rows), "positions": positions, "labelled": labelled,
            "labelled_share": round(labelled / positions, 4)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", choices=("sft", "dpo"), required=True, help="train/sft.py or train/dpo.py")
    ap.add_argument("--recipe", required=True, help="a recipe of that kind (a DPO recipe's init_from must exist)")
    add_run_arguments(ap)
    args = ap.parse_args(argv)
    off, on = alternate(args.rounds, Path(args.work), ("every", "labelled"),
                        lambda labelled, out: run_arm(args.script, args.recipe, labelled, args.steps, out, args.extra))
    runs = off + on
    check_same_losses(off, on)
    med = {"every": statistics.median(x["seconds_per_step"] for x in off),
           "labelled": statistics.median(x["seconds_per_step"] for x in on)}
    report = {
        "script": args.script, "recipe": args.recipe, "extra": args.extra, "steps": args.steps,
        "rounds": args.rounds, "cpu_count": os.cpu_count(), "positions": labelled_share(args.recipe, args.extra),
        "runs": runs, "seconds_per_step_median": med, "speedup_of_medians": round(med["every"] / med["labelled"], 3),
        "speedup_per_round": [round(a["seconds_per_step"] / b["seconds_per_step"], 3)
                              for a, b in zip(off, on, strict=True)],
        "peak_kib": {"every": max(x["peak_kib"] for x in off), "labelled": max(x["peak_kib"] for x in on)},
        "same_losses": True,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
