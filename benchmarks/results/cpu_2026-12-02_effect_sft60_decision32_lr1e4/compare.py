"""Hypothesis 1 and the per-seed counts of this run, read from the committed verdict archives (run from the
repository root after run.py):

    python benchmarks/results/cpu_2026-12-02_effect_sft60_decision32_lr1e4/compare.py > compare.txt

- the retrained 0.6 SFT against the fifteenth session's (``cpu_2026-12-02_effect_sft60_balanced32_lr1e4``): rows
  whose output text or verdict differs, per seed and set;
- per seed and stage: BFCL irrelevance recall, calls made on the 120 relevant BFCL rows, correct simple / multiple
  rows, built-in call rows right and built-in irrelevance recall.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from run_archive import read_all  # noqa: E402

BEFORE = HERE.parent / "cpu_2026-12-02_effect_sft60_balanced32_lr1e4"


def rows(archive: Path) -> dict[str, list[dict]]:
    return {name: [json.loads(line) for line in data.decode().splitlines()]
            for name, data in read_all(archive / "fc" / "rows.tar.xz").items()}


def main() -> None:
    now, before = rows(HERE), rows(BEFORE)
    seeds = sorted({int(name.split("/")[0].removeprefix("seed_")) for name in now})
    print("retrained 0.6 SFT vs the fifteenth session's, rows differing (output text / verdict):")
    for s in seeds:
        for part in ("sft_builtin", "sft_bfcl"):
            name = f"seed_{s}/{part}.jsonl"
            a, b = {r["id"]: r for r in now[name]}, {r["id"]: r for r in before[name]}
            if a.keys() != b.keys():
                raise ValueError(f"{name}: the two runs scored different rows")
            text = sum(a[k]["output"] != b[k]["output"] for k in a)
            verdict = sum(a[k]["correct"] != b[k]["correct"] for k in a)
            print(f"  seed {s} {part}: {len(a)} rows, output differs {text}, verdict differs {verdict}")
    print("\nper seed (BFCL: 60 rows per set; built-in: 20 rows, 4 irrelevance):")
    print("seed stage | BFCL recall | calls on 120 relevant | simple | multiple | built-in call rows right | built-in recall")
    for s in seeds:
        for stage in ("sft", "dpo"):
            bfcl, builtin = now[f"seed_{s}/{stage}_bfcl.jsonl"], now[f"seed_{s}/{stage}_builtin.jsonl"]
            irr = [r for r in bfcl if r["no_call_expected"]]
            rel = [r for r in bfcl if not r["no_call_expected"]]
            simple = sum(r["correct"] for r in bfcl if r["id"].startswith("bfcl_simple/"))
            multiple = sum(r["correct"] for r in bfcl if r["id"].startswith("bfcl_multiple/"))
            b_irr = [r for r in builtin if r["no_call_expected"]]
            b_call = [r for r in builtin if not r["no_call_expected"]]
            print(f"{s} {stage} | {sum(not r['made_call'] for r in irr)}/{len(irr)} | "
                  f"{sum(r['made_call'] for r in rel)}/{len(rel)} | {simple} | {multiple} | "
                  f"{sum(r['correct'] for r in b_call)}/{len(b_call)} | {sum(not r['made_call'] for r in b_irr)}/{len(b_irr)}")


if __name__ == "__main__":
    main()
