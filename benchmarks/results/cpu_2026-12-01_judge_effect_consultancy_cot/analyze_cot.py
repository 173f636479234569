"""Which step of the reasoning the judges got right, per judge and protocol, from a run's archived verdicts.

    python analyze_cot.py benchmarks/results/<run>

For each judgement with a reasoning: the rule's reasoning for it (tooljudge.eval.judge_rationales) against the
judge's own: the exact text; in consultancy the town it says the consultant's quote is about and the
supported / not supported branch; and whether the letter it then chose was right (is_correct).
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
    counts: dict[str, Counter] = {}
    for v in read_rows(run / "judge", f"verdicts_{judge}.jsonl"):
        if "reasoning" not in v:
            continue
        c = counts.setdefault(v["protocol"], Counter())
        want = scripted_rationale(ts[v["transcript_id"]], v["order"]).text
        got = v["reasoning"].split("\nFinal answer")[0].strip()
        c["judgements"] += 1
        c["exact_reasoning"] += got == want
        c["letter_right"] += bool(v["is_correct"])
        if v["protocol"] == "consultancy":
            w, g = about.search(want), about.search(got)
            c["quote_town_right"] += bool(g and w and g.group(1) == w.group(1))
            branch_right = bool(g) and ("not supported" in want) == ("not supported" in got)
            c["branch_right"] += branch_right
            c["letter_right_given_branch_right"] += branch_right and bool(v["is_correct"])
        elif got != want and judge == "trained":
            print(f"{judge} {v['transcript_id']}#{v['order']}: rule {want!r}\n    judge {got!r} -> "
                  f"{'right' if v['is_correct'] else 'wrong'} letter")
    for protocol, c in counts.items():
        print(judge, protocol, dict(c))
