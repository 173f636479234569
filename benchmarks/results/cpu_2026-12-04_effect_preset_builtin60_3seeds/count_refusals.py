"""Recount this run's README table from fc/rows.tar.xz: per stage and seed, right verdicts on call rows and on
irrelevance rows, and how many irrelevance rows counted right under BFCL's rule (no call decoded) hold a
``<tool_call>`` that did not parse.  Run: python count_refusals.py  (from this folder)."""

import collections
import json
import tarfile
from pathlib import Path

with tarfile.open(Path(__file__).with_name("fc") / "rows.tar.xz") as tar:
    files = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}
for stage in ("base", "sft", "dpo"):
    pooled = collections.Counter()
    for seed in range(3):
        counts = collections.Counter()
        for line in files[f"seed_{seed}/{stage}.jsonl"].splitlines():
            row = json.loads(line)
            name = row["id"].split("/")[0]
            kind = "irrelevance" if row.get("no_call_expected") else "call"
            counts[f"{name} {kind} rows"] += 1
            counts[f"{name} {kind} right"] += row["correct"]
            if kind == "irrelevance" and row["correct"] and "<tool_call>" in row["output"]:
                counts[f"{name} irrelevance right with an undecodable <tool_call>"] += 1
        pooled += counts
        print(stage, f"seed {seed}", dict(sorted(counts.items())))
    print(stage, "pooled", dict(sorted(pooled.items())))
