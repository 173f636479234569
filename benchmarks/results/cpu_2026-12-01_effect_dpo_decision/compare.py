"""This run's DPO against the relevance-mix run's DPO (same SFT checkpoints, same pairs; only
``data.chosen_span`` differs), row by row, pooled over seeds 1 and 2 with the eval row as the unit (the effect
pipeline's clustered test). Run from the repository root after ``run.py`` finished both runs:

    python benchmarks/results/cpu_2026-12-01_effect_dpo_decision/compare.py
"""

from __future__ import annotations

import json
from pathlib import Path

from tooljudge.eval.paired_stats import clustered_comparison
from tooljudge.train.effect import irrelevance_recall, read_verdicts

ROOT = Path(__file__).resolve().parents[3]
RUNS = {"whole chosen (relevance mix)": ROOT / "runs" / "effect_dpo_relevance",
        "chosen cut (this run)": ROOT / "runs" / "effect_dpo_decision"}
EVALS = {"builtin": "eval_builtin", "bfcl": "eval_bfcl"}
SEEDS = (1, 2)


def keyed(run: Path, folder: str) -> dict[str, dict]:
    return {f"{s}:{r['id']}": r for s in SEEDS for r in read_verdicts(run / f"seed_{s}" / folder / "fc_examples.jsonl")}


def eval_set(row_id: str) -> str:
    head = row_id.split("/", 1)[0]
    return head if head.startswith("bfcl_") else "builtin"


def main() -> None:
    (before_name, before_run), (after_name, after_run) = RUNS.items()
    out = []
    for folder in EVALS.values():
        before, after = keyed(before_run, folder), keyed(after_run, folder)
        for name in sorted({eval_set(r["id"]) for r in before.values()}):
            keys = [k for k, r in before.items() if eval_set(r["id"]) == name]
            row_of = {k: before[k]["id"] for k in keys}
            paired = clustered_comparison({k: bool(before[k]["correct"]) for k in keys},
                                          {k: bool(after[k]["correct"]) for k in keys}, row_of)
            out.append({"set": name, "n": len(keys), before_name: paired.before_correct / paired.n,
                        after_name: paired.after_correct / paired.n, "p": paired.p_value,
                        "calls_before": sum(bool(before[k]["made_call"]) for k in keys),
                        "calls_after": sum(bool(after[k]["made_call"]) for k in keys),
                        "recall_before": irrelevance_recall(before[k] for k in keys),
                        "recall_after": irrelevance_recall(after[k] for k in keys)})
    path = Path(__file__).resolve().parent / "compare.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for e in out:
        print(json.dumps(e))


if __name__ == "__main__":
    main()
