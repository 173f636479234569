"""The headline effect index: ``benchmarks/results/effect_summary.json`` and the README block read from it.

Why: every effect run writes its own ``<run>/effect_summary.json`` (``fc`` from ``benchmarks/effect.py``,
``judge`` from ``benchmarks/judge_effect.py``) beside its per-row verdicts. The README's claims come from a few
of those runs; this module copies their records verbatim into one file, each tagged with the run it came from
(so every figure leads back to its verdicts), and writes the README lines from that file, between two marker
comments, so a claim cannot drift from its record. Nothing is recomputed here.

Layout: ``{"fc": <the fc record of one run> + {"run"}, "judge": {"protocols": {"<protocol>": <the record of the
first run named for it> + {"run", "machine", "settings", "other_runs": [<the same protocol's record from every
further run named>]}}}}``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

JUDGE_KEYS = ("trained", "untrained", "blind", "ci", "n", "p_trained_vs_untrained", "p_trained_vs_blind")
FC_STAGE_KEYS = ("name", "set", "accuracy", "ci", "n", "previous_accuracy", "p_vs_previous", "irrelevance_recall")
START, END = "<!-- effect-summary:start -->", "<!-- effect-summary:end -->"
SETTINGS = ("judge_reasoning", "agent", "sft_steps", "batch_size", "sft_learning_rate", "lora_r", "seed", "n_rows")


def _run_summary(results: Path, run: str, key: str) -> dict:
    path = results / run / "effect_summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no effect summary for run {run!r}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if key not in data:
        raise ValueError(f"{path} has no {key!r} record (keys: {sorted(data)})")
    return data[key]


def judge_record(results: Path, run: str, protocol: str) -> dict:
    """One protocol's record of one judge-effect run, tagged with the run, its machine and main settings."""
    judge = _run_summary(results, run, "judge")
    if protocol not in judge.get("protocols", {}):
        raise ValueError(f"run {run!r} has no {protocol!r} judge record (it has {sorted(judge.get('protocols', {}))})")
    rec = dict(judge["protocols"][protocol])
    missing = [k for k in JUDGE_KEYS if k not in rec]
    if missing:
        raise ValueError(f"run {run!r}, {protocol}: the record lacks {missing}")
    config = judge.get("config", {})
    rec.update(run=run, machine=judge.get("machine"),
               settings={k: config.get(k, "none" if k == "judge_reasoning" else None) for k in SETTINGS})
    return rec


def parse_judge_runs(spec: str) -> dict[str, list[str]]:
    """'debate=a,b;consultancy=c' -> {'debate': ['a', 'b'], 'consultancy': ['c']} (the CLI's ``--judge``)."""
    out: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        protocol, eq, runs = part.partition("=")
        names = [r.strip() for r in runs.split(",") if r.strip()]
        if not eq or not names or not protocol.strip():
            raise ValueError(f"--judge: expected PROTOCOL=RUN[,RUN...], got {part!r}")
        out[protocol.strip()] = names
    return out


def build_index(results: Path, fc_run: str | None, judge_runs: dict[str, list[str]]) -> dict[str, Any]:
    """The index from the named runs: ``fc_run``'s fc record; per protocol, the first run's record with the
    others as ``other_runs``."""
    index: dict[str, Any] = {}
    if fc_run:
        fc = dict(_run_summary(results, fc_run, "fc"))
        for stage in fc.get("stages", []):
            missing = [k for k in FC_STAGE_KEYS if k not in stage]
            if missing:
                raise ValueError(f"run {fc_run!r}: a stage entry lacks {missing}")
        index["fc"] = {**fc, "run": fc_run}
    protocols = {}
    for protocol, runs in judge_runs.items():
        if not runs:
            raise ValueError(f"no run named for {protocol}")
        head, *rest = (judge_record(results, run, protocol) for run in runs)
        protocols[protocol] = {**head, "other_runs": rest}
    if protocols:
        index["judge"] = {"protocols": protocols}
    return index


def _p(value: float | None) -> str:
    return "n/a" if value is None else (f"{value:.2g}" if value < 0.001 else f"{value:.3f}")


def _how(rec: dict) -> str:
    return "reasoning, then the letter" if rec["settings"]["judge_reasoning"] == "scripted" else "bare letters"


def _link(results_rel: str, run: str) -> str:
    return f"[run]({results_rel}/{run}/README.md)"


def readme_lines(index: dict[str, Any], results_rel: str = "benchmarks/results") -> list[str]:
    """The README's effect lines, every figure from ``index``."""
    lines = []
    for protocol, rec in index.get("judge", {}).get("protocols", {}).items():
        how = _how(rec)
        reps = "; ".join(f"{r['trained']:.3f} / {r['untrained']:.3f} / {r['blind']:.3f} ("
                         + ("" if _how(r) == how else f"{_how(r)}, ") + f"{_link(results_rel, r['run'])})"
                         for r in rec["other_runs"])
        lines.append(
            f"- {protocol.capitalize()} judge ({rec['machine']}, trained on {how}): trained **{rec['trained']:.3f}** "
            f"[{rec['ci'][0]:.2f}, {rec['ci'][1]:.2f}], untrained {rec['untrained']:.3f}, blind {rec['blind']:.3f}; "
            f"p = {_p(rec['p_trained_vs_untrained'])} / {_p(rec['p_trained_vs_blind'])} vs untrained / blind, "
            f"{rec['n']} judgements ({_link(results_rel, rec['run'])})" + (f"; also {reps}" if reps else "") + ".")
    fc = index.get("fc")
    if fc:
        by_set: dict[str, list[dict]] = {}
        for stage in fc["stages"]:
            by_set.setdefault(stage["set"], []).append(stage)
        parts = [f"{name} " + " -> ".join(f"{s['accuracy']:.2f}" for s in stages) for name, stages in by_set.items()]
        tested = [s for s in fc["stages"] if s["p_vs_previous"] is not None]
        low = min(tested, key=lambda s: s["p_vs_previous"]) if tested else None
        rows = rows_per_set(by_set) + (f" x {len(fc['seeds'])} seeds" if len(fc["seeds"]) > 1 else "")
        lines.append(f"- Function calling, {' -> '.join(s['name'] for s in next(iter(by_set.values())))} "
                     f"({fc['machine']}, seeds {fc['seeds']}, {rows}): "
                     + "; ".join(parts) + "; lowest p vs the stage before "
                     + (f"{_p(low['p_vs_previous'])} ({low['set']} {low['name']})" if low else "n/a")
                     + f" ({_link(results_rel, fc['run'])}).")
    return lines


def rows_per_set(by_set: dict[str, list[dict]]) -> str:
    """``20 rows per set``, or with the sets of another size named (``20 rows per set (bfcl_simple 40)``): a preset
    may spend more eval rows on some sets, and the README must not say one count for all."""
    sizes = {name: stages[0].get("n_clusters", stages[0]["n"]) for name, stages in by_set.items()}
    common = Counter(sizes.values()).most_common(1)[0][0]
    others = [f"{name} {size}" for name, size in sizes.items() if size != common]
    return f"{common} rows per set" + (f" ({', '.join(others)})" if others else "")


def replace_block(text: str, lines: list[str]) -> str:
    """``text`` with the lines between the two marker comments replaced by ``lines``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"the README needs exactly one {START} ... {END} block")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return head + START + "\n" + "\n".join(lines) + "\n" + END + tail


def write_index(results: Path, fc_run: str | None, judge_runs: dict[str, list[str]],
                readme: Path | None = None) -> dict[str, Any]:
    """Build the index, write ``<results>/effect_summary.json`` and, given a README, its effect block."""
    from tooljudge.data_prep.jsonl import atomic_write_text

    index = build_index(results, fc_run, judge_runs)
    atomic_write_text(results / "effect_summary.json", json.dumps(index, indent=2) + "\n")
    if readme is not None:
        atomic_write_text(readme, replace_block(readme.read_text(encoding="utf-8"), readme_lines(index)))
    return index
