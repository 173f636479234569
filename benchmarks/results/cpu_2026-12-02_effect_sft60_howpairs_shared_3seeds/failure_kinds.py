"""What the 0.6 SFT and the "how" DPO do wrong, per seed and pooled, read from the committed verdict archive
(run from the repository root; twentieth session):

    python benchmarks/results/cpu_2026-12-02_effect_sft60_howpairs_shared_3seeds/failure_kinds.py > failure_kinds.txt

Rows that need a call and got a wrong verdict, by the checker's reason: ``no call, plain text`` (no call made and
no call-like text), ``call cut at the token limit`` (``truncated: unclosed <tool_call>``: the eval's 80 new
tokens ran out inside the call), ``call written wrong`` (other format reasons: not JSON, a call outside
``<tool_call>``), ``wrong function``, ``wrong number of calls``, ``argument missing`` (required, or one the
answer needs), ``argument of the wrong type``, ``argument value wrong``, ``other``. Rows that need no call and were right, by a
keyword rule on the output (``refuses``: it says it cannot or names the missing tool; else ``answers in text``):
a rule, not a grader, stated so that a reader can check the counts against the outputs.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from run_archive import read_rows  # noqa: E402

REFUSAL_WORDS = ("can't", "cannot", "can not", "unable", "not able", "no tool", "not available", "don't have")
FORMAT_PREFIXES = ("wrong_format", "not_json")


def miss_kind(row: dict) -> str:
    reason = row.get("reason") or ""
    if not row["made_call"] and not any(reason.startswith(p) for p in FORMAT_PREFIXES + ("truncated",)):
        return "no call, plain text"
    if reason.startswith("truncated"):
        return "call cut at the token limit"
    if reason.startswith(FORMAT_PREFIXES):
        return "call written wrong"
    if reason.startswith("called "):
        return "wrong function"
    if "call(s), expected" in reason:
        return "wrong number of calls"
    if "required parameter" in reason or "left out" in reason:
        return "argument missing"
    if re.search(r"expected \w+, got \w+", reason):
        return "argument of the wrong type"
    if "is not acceptable" in reason:
        return "argument value wrong"
    return "other"


def pass_kind(row: dict) -> str:
    text = row["output"].lower()
    return "refuses" if any(w in text for w in REFUSAL_WORDS) else "answers in text"


def main() -> None:
    seeds = json.loads((HERE / "summary.json").read_text(encoding="utf-8"))["seeds"]
    for stage in ("sft", "dpo"):
        misses: Counter = Counter()
        passes: Counter = Counter()
        per_seed: dict = {}
        for seed in seeds:
            rows = [r for part in ("bfcl", "builtin") for r in read_rows(HERE / "fc", f"seed_{seed}/{stage}_{part}.jsonl")]
            seed_misses = Counter(miss_kind(r) for r in rows if not r["no_call_expected"] and not r["correct"])
            misses += seed_misses
            passes += Counter(pass_kind(r) for r in rows if r["no_call_expected"] and r["correct"])
            per_seed[seed] = dict(seed_misses.most_common())
        print(f"{stage}: rows needing a call, wrong ({sum(misses.values())}, pooled over seeds {seeds}, BFCL + built-in):")
        for kind, n in misses.most_common():
            print(f"  {n:4d}  {kind}")
        print(f"  per seed: {per_seed}")
        print(f"{stage}: rows needing no call, right ({sum(passes.values())}):")
        for kind, n in passes.most_common():
            print(f"  {n:4d}  {kind}")


if __name__ == "__main__":
    main()
