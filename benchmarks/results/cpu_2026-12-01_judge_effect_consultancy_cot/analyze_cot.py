"""Which step of the reasoning the judges got right, per judge, from the archived verdicts and transcripts.

    python analyze_cot.py benchmarks/results/<run>

For each judgement with a reasoning: the rule's reasoning for it (tooljudge.eval.judge_rationales) and the
judge's own, compared: exact text, the town it says the quote is about, the supported / not supported branch,
and the letter it then chose (is_correct).
"""
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, "benchmarks")
from run_archive import read_rows  # noqa: E402
from tooljudge.data_prep.judge_tasks import TOWNS  # noqa: E402
from tooljudge.eval.judge_rationales import scripted_rationale  # noqa: E402

run = Path(sys.argv[1])
ts = {t["transcript_id"]: t for t in read_rows(run / "judge", "heldout_transcripts.jsonl")}
about = re.compile(r"quote about (" + "|".join(map(re.escape, TOWNS)) + ")")
for judge in ("untrained", "trained"):
    c = Counter()
    for v in read_rows(run / "judge", f"verdicts_{judge}.jsonl"):
        if "reasoning" not in v:
            continue
        want = scripted_rationale(ts[v["transcript_id"]], v["order"]).text
        got = v["reasoning"].split("\nFinal answer")[0].strip()
        c["judgements"] += 1
        c["exact_reasoning"] += got == want
        w, g = about.search(want), about.search(got)
        c["quote_town_right"] += bool(g and w and g.group(1) == w.group(1))
        branch_w, branch_g = "not supported" in want, "not supported" in got
        c["branch_right"] += bool(g) and branch_w == branch_g
        c["letter_right"] += bool(v["is_correct"])
        c["letter_right_given_branch_right"] += bool(g) and branch_w == branch_g and bool(v["is_correct"])
    print(judge, dict(c))
