"""Figure-2-like plot: judge accuracy by protocol (colour) and judge (x axis), one facet per task type,
with 95% CIs as error bars. Written with the Agg backend so it works on headless machines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PROTOCOL_COLOURS = {"qa": "#8c8c8c", "qa_article": "#7b3fa0", "consultancy": "#1f77b4", "debate": "#d62728",
                    "open_consultancy": "#6baed6", "open_debate": "#fc9272"}


def colour(protocol: str) -> str | None:
    """Fixed colours per protocol; debate cut after fewer rounds (``debate_rN``) in darker reds."""
    if protocol in PROTOCOL_COLOURS:
        return PROTOCOL_COLOURS[protocol]
    if protocol.startswith("debate_r"):
        reds = ["#67000d", "#a50f15", "#cb181d"]
        return reds[(int(protocol[8:]) - 1) % len(reds)] if protocol[8:].isdigit() else reds[0]
    return None


def plot_results_files(paths: list[str | Path], out: str | Path, ci: str = "normal_ci") -> Path:
    """Figure 2 across several judges: one ``results.json`` per judge (from ``evaluate_judge``)."""
    import json

    rows = []
    for p in paths:
        res = json.loads(Path(p).read_text())
        rows += [{"judge": res["judge"], "task_type": tt, "protocols": protos}
                 for tt, protos in res["by_task_type"].items()]
    return plot_accuracy(rows, out, ci=ci)


def plot_accuracy(results: list[dict], path: str | Path, ci: str = "normal_ci", title: str | None = None) -> Path:
    """``results``: one dict per (judge, task type) with ``judge``, ``task_type`` and ``protocols``
    ``{name: {"accuracy": x, normal_ci: {estimate, low, high}}}`` as produced by ``judge_eval``."""
    task_types = sorted({r["task_type"] for r in results})
    judges = list(dict.fromkeys(r["judge"] for r in results))
    protocols = [p for p in PROTOCOL_COLOURS if any(p in r["protocols"] for r in results)]
    protocols += sorted({p for r in results for p in r["protocols"]} - set(protocols))
    fig, axes = plt.subplots(1, len(task_types), figsize=(max(4.0, 1.6 * len(judges) * len(protocols) / 3 + 2)
                                                          * len(task_types), 4), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(protocols))
    for ax, tt in zip(axes[0], task_types, strict=True):
        for pi, proto in enumerate(protocols):
            xs, ys, lo, hi = [], [], [], []
            for ji, judge in enumerate(judges):
                r = next((r for r in results if r["judge"] == judge and r["task_type"] == tt), None)
                if r is None or proto not in r["protocols"]:
                    continue
                c = r["protocols"][proto][ci]
                xs.append(ji - 0.4 + width * (pi + 0.5))
                ys.append(c["estimate"])
                lo.append(max(0.0, c["estimate"] - c["low"]) if c["low"] == c["low"] else 0.0)
                hi.append(max(0.0, c["high"] - c["estimate"]) if c["high"] == c["high"] else 0.0)
            if xs:
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=proto, color=colour(proto))
        ax.axhline(0.5, color="black", lw=0.8, ls="--", label="chance (0.5)")
        ax.set_xticks(range(len(judges)), judges)
        ax.set_ylim(0, 1)
        ax.set_title(f"{tt} questions")
        ax.set_xlabel("judge model")
    axes[0][0].set_ylabel("judge accuracy (share right, 95% CI)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # every protocol once, also those only some task types have
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    axes[0][-1].legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                       title="protocol", title_fontsize=8)
    fig.suptitle(title or "Judge accuracy by protocol (bars: 95% CI; dashed: chance)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
