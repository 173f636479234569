"""``effect_summary.png``: each eval set's accuracy by stage (pooled, Wilson 95% CI) with every seed's own value,
and irrelevance recall where a set has rows that need no call. Written by benchmarks/effect.py and
benchmarks/effect_pool.py beside the summary, because a reader checks "did every seed point the same way" faster
by eye than in ``effect_per_seed.json``. Agg backend: works on headless machines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STAGE_ORDER = ("base", "sft", "dpo")
RECALL_COLOUR = "#d62728"


def _by_set(entries: list[dict]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for e in entries:
        out.setdefault(e["set"], {})[e["name"]] = e
    return out


def plot_effect(fc: dict, per_seed: dict[str, list[dict]], path: str | Path) -> Path:
    """One panel per eval set: pooled accuracy per stage as bars with Wilson CIs, each seed's accuracy as a dot
    joined across stages, the pooled irrelevance recall as a red line where the set has such rows, and each
    stage's ``p_vs_previous`` over its bar. ``fc`` is an ``effect_summary.json`` fc record, ``per_seed`` the
    ``seeds`` mapping of ``effect_per_seed.json``."""
    pooled = _by_set(fc["stages"])
    seeds = {seed: _by_set(entries) for seed, entries in per_seed.items()}
    sets = list(pooled)
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets) + 0.6, 3.8), squeeze=False, sharey=True)
    for ax, eval_set in zip(axes[0], sets, strict=True):
        stages = [s for s in STAGE_ORDER if s in pooled[eval_set]]
        xs = range(len(stages))
        acc = [pooled[eval_set][s]["accuracy"] for s in stages]
        lo = [a - pooled[eval_set][s]["ci"][0] for a, s in zip(acc, stages, strict=True)]
        hi = [pooled[eval_set][s]["ci"][1] - a for a, s in zip(acc, stages, strict=True)]
        ax.bar(xs, acc, color="#9ecae1", yerr=[lo, hi], capsize=4, label="pooled accuracy (95% CI)")
        for seed, by_set in sorted(seeds.items()):
            ys = [by_set.get(eval_set, {}).get(s, {}).get("accuracy") for s in stages]
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=0.8, color="#3182bd", alpha=0.6,
                    label="one seed" if seed == min(seeds) else None)
        recall = [pooled[eval_set][s]["irrelevance_recall"] for s in stages]
        if all(r is not None for r in recall):
            ax.plot(xs, recall, marker="s", color=RECALL_COLOUR, label="irrelevance recall")
        for x, s in zip(xs, stages, strict=True):
            p = pooled[eval_set][s]["p_vs_previous"]
            if p is not None:
                ax.annotate(f"p={p:.2g}", (x, min(1.0, acc[x] + hi[x]) + 0.02), ha="center", fontsize=7)
        first = pooled[eval_set][stages[0]]
        ax.set_title(f"{eval_set}\n{first['n']} verdicts, {first['n_clusters']} rows", fontsize=9)
        ax.set_xticks(list(xs), stages)
        ax.set_ylim(0, 1.15)
    axes[0][0].set_ylabel("AST accuracy (BFCL's checker)")
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(f"{fc.get('machine', '')}; seeds {fc.get('seeds', [])}", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
