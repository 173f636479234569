"""The CPU DPO variants of 2026-11-26 side by side: same SFT model, different DPO pairs.

Reads the raw files under ``benchmarks/results/cpu_2026-11-26_effect*/`` (per-row verdicts after SFT and after
DPO and the pairs, loose or in the run's ``rows.tar.xz``; the DPO run's data report) and prints, per run, the
chosen-side balance of the pairs, rows right per eval category, outputs that repeat an identical call (the "does
not stop" failure), and the paired comparison with the SFT model; and how many rejected answers
``data.rejected_span: to_first_difference`` cut.
Writes ``results/cpu_2026-11-26_dpo_variants.png``.

    python benchmarks/effect_dpo_variants.py
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from run_archive import read_rows, read_text
from tooljudge.eval.paired_stats import correct_by_id, format_comparison, paired_comparison

RESULTS = Path(__file__).parent / "results"
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.S)


def repeats_a_call(output: str) -> bool:
    """Two or more identical calls in one answer: the model did not stop after its call."""
    calls = _CALL.findall(output)
    return len(calls) >= 2 and len(set(calls)) < len(calls)


def per_category(rows: list[dict]) -> Counter:
    return Counter(r["category"] for r in rows if r["correct"])


def pair_counts(run_dir: Path) -> dict[str, int]:
    """DPO pairs by source: on-policy pairs by chosen side (a call or a plain reply), and rule-made pairs."""
    pairs = read_rows(run_dir, "on_policy_pairs.jsonl")
    calls = sum(1 for p in pairs if p["chosen"][0].get("tool_calls"))
    info = json.loads(read_text(run_dir, "dpo_run_info.json"))
    rule = sum(src["kept"] for src in info["data_report"]["train"] if src["source"].startswith("builtin:"))
    cut = sum(src.get("rejected_cut", 0) for src in info["data_report"]["train"])
    return {"chosen_call": calls, "chosen_reply": len(pairs) - calls, "rule_pairs": rule, "rejected_cut": cut}


def describe(run_dir: Path) -> dict:
    sft = read_rows(run_dir, "effect_examples_sft.jsonl")
    dpo = read_rows(run_dir, "effect_examples_dpo.jsonl")
    comparison = paired_comparison(correct_by_id(sft), correct_by_id(dpo))
    suffix = run_dir.name.removeprefix("cpu_2026-11-26_effect").lstrip("_v")  # effect -> run 1, effect_v2 -> run 2
    return {"run": f"run {suffix or 1}", **pair_counts(run_dir),
            "sft": per_category(sft), "dpo": per_category(dpo),
            "repeats_sft": sum(repeats_a_call(r["output"]) for r in sft),
            "repeats_dpo": sum(repeats_a_call(r["output"]) for r in dpo), "comparison": comparison}


def check_same_sft(runs: list[dict]) -> None:
    """The table shows one SFT row, so every run must start from the same SFT verdicts (else ValueError)."""
    for r in runs[1:]:
        if r["sft"] != runs[0]["sft"] or r["repeats_sft"] != runs[0]["repeats_sft"]:
            raise ValueError(f"{r['run']} starts from another SFT model than {runs[0]['run']}; keep it out of "
                             "this table (its own folder name, not cpu_2026-11-26_effect*)")


def main() -> None:
    runs = [describe(d) for d in sorted(RESULTS.glob("cpu_2026-11-26_effect*")) if d.is_dir()]
    head = ("| run | on-policy pairs (call / reply chosen) | rule pairs | rejected answers cut | "
            + " | ".join(CATEGORIES) + " | repeated call | DPO vs SFT |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    check_same_sft(runs)
    sft = runs[0]["sft"]
    print(f"| SFT (all runs) | | | | {' | '.join(str(sft[c]) for c in CATEGORIES)} | {runs[0]['repeats_sft']} | |")
    for r in runs:
        cells = " | ".join(str(r["dpo"][c]) for c in CATEGORIES)
        print(f"| {r['run']} | {r['chosen_call']} / {r['chosen_reply']} | {r['rule_pairs']} | {r['rejected_cut']} | {cells} | {r['repeats_dpo']} | "
              f"{format_comparison(r['comparison'])} |")
    plot(runs)


def plot(runs: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["SFT model", *[f"DPO {r['run']} ({r['chosen_call'] + r['rule_pairs']} call / {r['chosen_reply']} reply "
                             "chosen" + (", rejected cut" if r["rejected_cut"] else "") + ")" for r in runs]]
    series = [runs[0]["sft"], *[r["dpo"] for r in runs]]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(series)
    for k, (label, counts) in enumerate(zip(labels, series, strict=True)):
        xs = [i + k * width for i in range(len(CATEGORIES))]
        ax.bar(xs, [counts[c] for c in CATEGORIES], width, label=label)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(CATEGORIES))], CATEGORIES)
    ax.set_ylabel("rows right (of 40)")
    ax.set_title("SmolLM2-135M on CPU: the same SFT model, DPO on different pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / "cpu_2026-11-26_dpo_variants.png"
    fig.savefig(out, dpi=120)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
