"""Seed 0's SFT checked against the both-directions probe's, and this run's per-seed, per-stage counts, read from
the committed verdict archives (run from the repository root after run.py):

    python benchmarks/results/cpu_2026-12-02_effect_sft60_howpairs_shared_3seeds/compare.py > compare.txt

- seed 0's 0.6 SFT (reused from ``runs/``, trained on this machine by the both-directions probe) against the
  verdicts that probe committed: rows whose output text or verdict differs (0 expected: the same model);
- per stage: the both-directions probe's table (its ``compare.py``: ``print_rows_differing``, ``print_stage_table``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEFORE = HERE.parent / "cpu_2026-12-02_effect_sft60_bothdirections_shared_probe"
_spec = importlib.util.spec_from_file_location("bothdirections_compare", BEFORE / "compare.py")
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def main() -> None:
    seeds = json.loads((HERE / "summary.json").read_text(encoding="utf-8"))["seeds"]
    print("seed 0's 0.6 SFT here vs the both-directions probe's, rows differing (output text / verdict):")
    probe.print_rows_differing(HERE, BEFORE, [0])
    probe.print_stage_table(HERE, seeds)


if __name__ == "__main__":
    main()
