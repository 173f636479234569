"""The A/B runner used for this folder's measurements (a probe, kept as the record of how they ran).

    python ab_probe.py SCRIPT RECIPE STEPS ROUNDS "ARM A" "ARM B" WORK

Each arm is ``train/<SCRIPT>.py RECIPE --training.max_steps STEPS`` (no checkpoints, a log line per step) plus
its own ``--key value`` overrides; ``NAME=value`` tokens in an arm go to that run's environment. One process per
run, arms alternating A, B then B, A; prints one JSON line per run: TRL's ``train_runtime`` / steps, the child's
peak resident memory (``ru_maxrss``, KiB), wall seconds and the logged losses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def split_arm(text: str) -> tuple[list[str], dict[str, str]]:
    """An arm's words: ``--key value`` overrides, and ``NAME=value`` environment settings."""
    words = text.split()
    env = dict(w.split("=", 1) for w in words if "=" in w and w[0].isupper())
    return [w for w in words if not ("=" in w and w[0].isupper())], env


def run(script: str, recipe: str, steps: str, out: Path, overrides: list[str], env: dict[str, str]) -> dict:
    cmd = [sys.executable, str(REPO / "train" / f"{script}.py"), recipe, "--training.max_steps", steps,
           "--training.output_dir", str(out), "--training.save_strategy", "no", "--training.report_to", "none",
           "--training.logging_steps", "1", *overrides]
    start = time.perf_counter()
    with open(f"{out}.log", "w", encoding="utf-8") as handle:
        child = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **env})
        _, _, usage = os.wait4(child.pid, 0)
    history = json.loads((out / "run_info.json").read_text(encoding="utf-8"))["log_history"]
    runtime = next(e["train_runtime"] for e in history if "train_runtime" in e)
    return {"s_per_step": round(runtime / int(steps), 2), "peak_kib": usage.ru_maxrss,
            "wall": round(time.perf_counter() - start, 1), "losses": [e["loss"] for e in history if "loss" in e]}


def main() -> None:
    script, recipe, steps, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    arms = {"A": split_arm(sys.argv[5]), "B": split_arm(sys.argv[6])}
    work = Path(sys.argv[7])
    work.mkdir(parents=True, exist_ok=True)
    for r in range(rounds):
        for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
            result = run(script, recipe, steps, work / f"r{r}_{name}", *arms[name])
            print(json.dumps({"arm": name, "round": r, **result}), flush=True)


if __name__ == "__main__":
    main()
