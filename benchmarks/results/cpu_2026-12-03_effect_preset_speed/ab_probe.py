"""The A/B runner used for this folder's measurements (a probe, kept as the record of how they ran).

    python ab_probe.py SCRIPT RECIPE STEPS ROUNDS "ARM A" "ARM B" WORK

Each arm is ``train/<SCRIPT>.py RECIPE --training.max_steps STEPS`` (no checkpoints, a log line per step) plus
its own ``--key value`` overrides; ``NAME=value`` tokens in an arm go to that run's environment. One process per
run, arms alternating A, B then B, A; prints one JSON line per run: TRL's ``train_runtime`` / steps, the child's
peak resident memory (``ru_maxrss``, KiB), wall seconds and the logged losses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/, for its shared run helper
from train_arms import REPO, timed_run  # noqa: E402


def split_arm(text: str) -> tuple[list[str], dict[str, str]]:
    """An arm's words: ``--key value`` overrides, and ``NAME=value`` environment settings."""
    words = text.split()
    env = dict(w.split("=", 1) for w in words if "=" in w and w[0].isupper())
    return [w for w in words if not ("=" in w and w[0].isupper())], env


def run(script: str, recipe: str, steps: str, out: Path, overrides: list[str], env: dict[str, str]) -> dict:
    cmd = [sys.executable, str(REPO / "train" / f"{script}.py"), recipe, "--training.max_steps", steps,
           "--training.output_dir", str(out), "--training.save_strategy", "no", "--training.report_to", "none",
           "--training.logging_steps", "1", *overrides]
    result = timed_run(cmd, out, int(steps), env)
    return {"s_per_step": round(result["seconds_per_step"], 2), "peak_kib": result["peak_kib"],
            "wall": result["wall_s"], "losses": result["losses"]}


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
