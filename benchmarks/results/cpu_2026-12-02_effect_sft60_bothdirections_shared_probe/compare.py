"""The retrained SFT checked against the sixteenth session's, and this run's per-stage counts, read from the
committed verdict archives (run from the repository root after run.py):

    python benchmarks/results/cpu_2026-12-02_effect_sft60_bothdirections_shared_probe/compare.py > compare.txt

- the 0.6 SFT of seed 0 retrained here (``runs/`` was empty) against the one saved by
  ``cpu_2026-12-02_effect_sft60_decision32_lr1e4`` (itself identical to the fifteenth session's): rows whose output
  text or verdict differs;
- per stage: BFCL irrelevance recall, calls made on the 120 relevant BFCL rows, correct simple / multiple rows,
  built-in call rows right, calls on the built-in call rows and built-in irrelevance recall.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from run_archive import read_rows  # noqa: E402

BEFORE = HERE.parent / "cpu_2026-12-02_effect_sft60_decision32_lr1e4"


def verdicts(results: Path, seed: int, part: str) -> dict[str, dict]:
    """One seed's verdicts of one stage and eval part (``sft_bfcl`` ...), by row id, from a results folder."""
    return {r["id"]: r for r in read_rows(results / "fc", f"seed_{seed}/{part}.jsonl")}


def main() -> None:
    seeds = json.loads((HERE / "summary.json").read_text(encoding="utf-8"))["seeds"]
    print("retrained 0.6 SFT vs the saved one, rows differing (output text / verdict):")
    print_rows_differing(HERE, BEFORE, seeds)
    print_stage_table(HERE, seeds)


def print_rows_differing(results: Path, before: Path, seeds: list[int]) -> None:
    """Per seed, the SFT rows whose output text or verdict differs between two results folders (the same rows
    scored in both, else an error naming them)."""
    for s in seeds:
        for part in ("sft_builtin", "sft_bfcl"):
            a, b = verdicts(results, s, part), verdicts(before, s, part)
            if a.keys() != b.keys():
                raise ValueError(f"seed {s} {part}: the two runs scored different rows (only here: "
                                 f"{sorted(a.keys() - b.keys())}; only before: {sorted(b.keys() - a.keys())})")
            text = sum(a[k]["output"] != b[k]["output"] for k in a)
            verdict = sum(a[k]["correct"] != b[k]["correct"] for k in a)
            print(f"  seed {s} {part}: {len(a)} rows, output differs {text}, verdict differs {verdict}")


def print_stage_table(results: Path, seeds: list[int]) -> None:
    """Per seed and stage (SFT, DPO) of a results folder: the counts item 1 of issue 22 is read from."""
    print("\nper stage (BFCL: 60 rows per set; built-in: 20 rows, 4 irrelevance):")
    print("seed stage | BFCL recall | calls on 120 relevant | simple | multiple | built-in call rows right "
          "| calls on built-in call rows | built-in recall")
    for s in seeds:
        for stage in ("sft", "dpo"):
            bfcl = list(verdicts(results, s, f"{stage}_bfcl").values())
            builtin = list(verdicts(results, s, f"{stage}_builtin").values())
            irr = [r for r in bfcl if r["no_call_expected"]]
            rel = [r for r in bfcl if not r["no_call_expected"]]
            simple = sum(r["correct"] for r in bfcl if r["id"].startswith("bfcl_simple/"))
            multiple = sum(r["correct"] for r in bfcl if r["id"].startswith("bfcl_multiple/"))
            b_irr = [r for r in builtin if r["no_call_expected"]]
            b_call = [r for r in builtin if not r["no_call_expected"]]
            print(f"{s} {stage} | {sum(not r['made_call'] for r in irr)}/{len(irr)} | "
                  f"{sum(r['made_call'] for r in rel)}/{len(rel)} | {simple} | {multiple} | "
                  f"{sum(r['correct'] for r in b_call)}/{len(b_call)} | {sum(r['made_call'] for r in b_call)}/{len(b_call)} | "
                  f"{sum(not r['made_call'] for r in b_irr)}/{len(b_irr)}")


if __name__ == "__main__":
    main()
