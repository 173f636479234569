"""Per-category paired comparison of the SFT stage against the base model on the same BFCL rows.

    python benchmarks/results/h200_2026-11-30_bfcl_transfer/paired.py base.jsonl sft.jsonl > summary.json
(the per-row files are in this folder's rows.tar.xz: benchmarks/run_archive.py extracts them)
"""
import json
import sys
from collections import defaultdict

from tooljudge.eval.fc_metrics import wilson_ci
from tooljudge.eval.paired_stats import correct_by_id, paired_comparison


def rows(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


base, sft = rows(sys.argv[1]), rows(sys.argv[2])
groups = defaultdict(lambda: ([], []))
for r in base:
    groups[r["category"]][0].append(r)
    groups["overall"][0].append(r)
for r in sft:
    groups[r["category"]][1].append(r)
    groups["overall"][1].append(r)
out = {}
for name, (b, s) in sorted(groups.items()):
    c = paired_comparison(correct_by_id(b), correct_by_id(s))
    out[name] = {"n": c.n, "base": c.before_correct / c.n, "base_ci": wilson_ci(c.before_correct, c.n),
                 "sft": c.after_correct / c.n, "sft_ci": wilson_ci(c.after_correct, c.n),
                 "diff": c.diff, "diff_ci": [c.ci_low, c.ci_high], "won": c.wins, "lost": c.losses,
                 "p_mcnemar": c.p_value}
print(json.dumps(out, indent=1))
