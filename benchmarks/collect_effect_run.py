"""Copy one effect run's evidence from its rounds folder into ``benchmarks/results/<name>/``.

Per-row verdicts of each stage, the summary, the on-policy report and pairs, the DPO health trajectory and run
info, and the DPO training log parsed from the run's stdout (``save_strategy: "no"`` leaves no trainer_state).
The per-row files (verdicts, pairs, training logs) then go into the folder's ``rows.tar.xz`` (run_archive.py).
This is how ``results/cpu_2026-11-26_effect_v{2,3,4}/`` were made (archived afterwards).

    python train/rounds.py RECIPE.yaml > run.log 2>&1
    python benchmarks/collect_effect_run.py runs/NAME benchmarks/results/NAME run.log
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

from run_archive import ARCHIVE, pack

STAGES = {"base": "round_0/eval", "sft": "round_1/eval_sft", "dpo": "round_1/eval_dpo"}
_LOGGED = re.compile(r"\{'(?:loss|train_runtime)'[^{}]*\}")  # the dicts TRL prints at each logging step


_SFT_EVAL = "[tooljudge] eval r1-sft"  # rounds prints this after SFT and before sampling and DPO


def training_log_rows(stdout: str) -> list[dict]:
    """The trainers' logged metrics, in order, as floats (TRL prints them as a dict of strings). Rows printed
    before the runner's "eval r1-sft" line are SFT's (a run that trained its SFT stage), the rest DPO's."""
    split = stdout.find(_SFT_EVAL)
    return [{"stage": "sft" if m.start() < split else "dpo",
             **{k: float(v) for k, v in ast.literal_eval(m.group(0)).items()}}
            for m in _LOGGED.finditer(stdout)]


def collect(run: Path, dest: Path, log: Path) -> None:
    if (dest / ARCHIVE).exists():
        raise FileExistsError(f"{dest} already holds a collected run ({ARCHIVE}); choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    for stage, folder in STAGES.items():
        shutil.copy(run / folder / "fc_examples.jsonl", dest / f"effect_examples_{stage}.jsonl")
    for name in ("summary.json", "summary.md", "summary.png"):
        shutil.copy(run / name, dest / f"effect_{name}")
    shutil.copy(run / "round_1" / "on_policy_report.json", dest / "effect_on_policy_report.json")
    shutil.copy(run / "data" / "on_policy_round_1.jsonl", dest / "on_policy_pairs.jsonl")
    shutil.copy(run / "round_1" / "dpo" / "dpo_health.json", dest / "dpo_health.json")
    shutil.copy(run / "round_1" / "dpo" / "run_info.json", dest / "dpo_run_info.json")
    rows = training_log_rows(log.read_text(encoding="utf-8", errors="replace"))
    for stage in ("sft", "dpo"):
        kept = [r for r in rows if r["stage"] == stage]
        if kept:
            (dest / f"effect_{stage}_training_log.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            print(f"wrote {dest}/effect_{stage}_training_log.jsonl ({len(kept)} log rows)")
    print(f"packed {len(pack(dest))} per-row files into {dest}/rows.tar.xz")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python benchmarks/collect_effect_run.py RUN_DIR DEST_DIR STDOUT_LOG")
    collect(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
