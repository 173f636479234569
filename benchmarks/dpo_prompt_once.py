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
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_arm(recipe: str, prompt_once: bool, steps: int, out: Path, extra: list[str]) -> dict:
    """One DPO run in its own process; returns seconds per step, peak RSS and the logged losses."""
    cmd = [sys.executable, str(REPO / "train" / "dpo.py"), recipe, "--data.prompt_once", str(prompt_once).lower(),
           "--training.max_steps", str(steps), "--training.output_dir", str(out), "--training.save_strategy", "no",
           "--training.report_to", "none", *extra]
    log = out.parent / f"{out.name}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; see {log}")
    info = json.loads((out / "run_info.json").read_text(encoding="utf-8"))
    history = info["log_history"]
    runtime = next(e["train_runtime"] for e in history if "train_runtime" in e)
    return {"prompt_once": prompt_once, "seconds_per_step": runtime / steps, "train_runtime": runtime,
            "wall_s": round(wall, 1), "peak_kib": usage.ru_maxrss, "load_1m_after": round(os.getloadavg()[0], 2),
            "losses": [e["loss"] for e in history if "loss" in e]}


def pair_tokens(recipe: str, extra: list[str]) -> dict:
    """Mean prompt / answer tokens of the recipe's pairs (prepared again, after the timed runs)."""
    from tooljudge.train.model_setup import load_tokenizer
    from tooljudge.train.recipe import parse_cli
    from tooljudge.train.run_setup import prepare_data

    config, _ = parse_cli([recipe, *extra])
    rows, _, _ = prepare_data(config, load_tokenizer(config.model, family=config.data.family))
    prompt = statistics.mean(len(r["prompt_ids"]) for r in rows)
    chosen = statistics.mean(len(r["chosen_ids"]) for r in rows)
    rejected = statistics.mean(len(r["rejected_ids"]) for r in rows)
    return {"pairs": len(rows), "prompt_tokens": round(prompt, 1), "chosen_tokens": round(chosen, 1),
            "rejected_tokens": round(rejected, 1),
            "trl_over_packed_tokens": round((2 * prompt + chosen + rejected) / (prompt + chosen + rejected), 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="a DPO recipe (its init_from must exist)")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps per run")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of runs (off/on), alternating order")
    ap.add_argument("--work", required=True, help="folder for the runs' outputs and logs")
    ap.add_argument("--output", default=None, help="write the report as JSON here")
    ap.add_argument("extra", nargs="*", help="more --key value overrides for every run (after --)")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for r in range(args.rounds):
        for prompt_once in ((False, True) if r % 2 == 0 else (True, False)):
            out = work / f"round{r}_{'on' if prompt_once else 'off'}"
            result = {"round": r, **run_arm(args.recipe, prompt_once, args.steps, out, args.extra)}
            print(json.dumps(result), flush=True)
            runs.append(result)
    off = [x for x in runs if not x["prompt_once"]]
    on = [x for x in runs if x["prompt_once"]]
    for a, b in zip(off, on, strict=True):
        for la, lb in zip(a["losses"], b["losses"], strict=True):
            if abs(la - lb) > 1e-4 * max(1.0, abs(la)):
                raise SystemExit(f"round {a['round']}: losses differ ({a['losses']} vs {b['losses']})")
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
