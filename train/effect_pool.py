"""Pool the seeds of several effect runs of one recipe into one summary, from their archived verdicts.

Why: a CPU seed of ``recipes/effect_cpu.yaml`` takes 30-70 minutes, so the three seeds of item 2 (issue 22) come
from runs made on different days (seed 0 in one run, seeds 1 and 2 in another). Nothing is re-run or re-scored:
each run's per-row verdicts (``<run>/fc/rows.tar.xz``, members ``seed_<s>/<stage>.jsonl``) are read back and
``effect.stage_entries`` pools them exactly as if one run had trained every seed.

What makes runs poolable, checked here and refused with the run and the row named otherwise: the same eval sets
in the same order, distinct seeds, and identical base verdicts (same rows, same greedy outputs: the base stage
stands for every seed, so a difference means the runs did not evaluate the same thing). That the runs trained
with the same recipe cannot be read from verdicts; the pooled summary names its runs so a reader can check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, JsonRowError, loads
from tooljudge.train.effect import STAGES, SUMMARY, stage_entries, write_fc_files

from tooljudge.config import setting

Verdicts = dict[int, dict[str, list[dict]]]  # {seed: {stage: verdict rows}}
_MEMBER = re.compile(r"^seed_(-?\d+)/([a-z_]+)\.jsonl$")
# What must agree between runs' base verdicts for them to stand for the same base model on the same rows
_BASE_KEYS = ("id", "correct", "made_call", "output")


@dataclass
class EffectPoolConfig:
    """Which finished effect runs to pool, and where the pooled summary goes."""

    runs: list[str] = setting(default_factory=list, help="results folders of finished effect runs of one recipe "
                              "(each with fc/rows.tar.xz and effect_summary.json), in the order to report them")
    run: str = setting("", "results folder name of the pooled summary (must not hold an effect_summary.json)")
    results_dir: str = setting("benchmarks/results", "where the runs' folders are, and where the pooled one goes")
    machine: str = setting("", "what ran them, in words (default: the runs' own machine, when they all name one)")


def verdicts_from_members(run: str, members: dict[str, bytes]) -> Verdicts:
    """``{seed: {stage: rows}}`` from an archive's members (name -> bytes); any other member, a missing stage or
    a line that is not JSON is an error naming the run and the member."""
    out: Verdicts = {}
    stage_names = [name for name, _ in STAGES]
    for name, data in sorted(members.items()):
        match = _MEMBER.match(name)
        if not match or match.group(2) not in stage_names:
            raise ValueError(f"run {run}: archive member {name!r} is not seed_<s>/<{'|'.join(stage_names)}>.jsonl")
        rows = []
        # split on b"\n" only: a raw model output may hold U+2028 or other characters str.splitlines breaks on
        for lineno, line in enumerate(data.split(b"\n"), 1):
            if line.strip():
                try:
                    rows.append(loads(line, OUTPUT_LIMITS))  # the reader eval records are written for
                except JsonRowError as e:
                    raise ValueError(f"run {run}: {name}:{lineno}: not a JSON row ({e})") from None
        out.setdefault(int(match.group(1)), {})[match.group(2)] = rows
    for seed, stages in out.items():
        missing = [s for s in stage_names if s not in stages]
        if missing:
            raise ValueError(f"run {run}: seed {seed} has no verdicts of stage(s) {missing}")
    if not out:
        raise ValueError(f"run {run}: no verdicts in its archive")
    return out


def run_sets(run: str, summary: dict) -> list[str]:
    """The eval sets of a run, in its order, from its ``fc`` record."""
    stages = (summary.get("fc") or {}).get("stages") or []
    if not stages:
        raise ValueError(f"run {run}: its {SUMMARY} has no fc stages")
    return list(dict.fromkeys(s["set"] for s in stages))


def pool_verdicts(runs: dict[str, Verdicts]) -> Verdicts:
    """The seeds of every run in one mapping. Refuses a seed found in two runs and base verdicts that differ
    (naming the runs, seeds and first differing row)."""
    pooled: Verdicts = {}
    seed_run: dict[int, str] = {}
    first_base: tuple[str, int, list[dict]] | None = None
    for run, verdicts in runs.items():
        for seed, stages in verdicts.items():
            if seed in pooled:
                raise ValueError(f"seed {seed} is in run {seed_run[seed]} and in run {run}: pool distinct seeds")
            base = [{k: row.get(k) for k in _BASE_KEYS} for row in stages["base"]]
            if first_base is None:
                first_base = (run, seed, base)
            elif base != first_base[2]:
                ref_run, ref_seed, ref = first_base
                where = next((f"row {a['id']!r}" if a["id"] == b["id"] else f"position {i}: {a['id']!r} vs "
                              f"{b['id']!r}" for i, (a, b) in enumerate(zip(ref, base, strict=False)) if a != b),
                             f"{len(ref)} vs {len(base)} rows")
                raise ValueError(f"base verdicts of run {run} seed {seed} differ from run {ref_run} seed {ref_seed} "
                                 f"at {where}: the runs did not evaluate the same base model on the same rows")
            pooled[seed] = stages
            seed_run[seed] = run
    return pooled


def pool_runs(cfg: EffectPoolConfig, read_archive: Callable[[Path], dict[str, bytes]]) -> tuple[Path, dict]:
    """Read each run's verdicts (``read_archive(path) -> {member: bytes}``, benchmarks/run_archive.py's
    ``read_all``), pool them, and write ``<run>/effect_summary.json`` (``fc``, other keys kept) and
    ``effect_per_seed.json``, drawn in ``effect_summary.png``; returns (folder, the fc record)."""
    if len(cfg.runs) < 2 or len(set(cfg.runs)) != len(cfg.runs) or not cfg.run:
        raise ValueError(f"name at least two distinct --runs and a --run for the pooled summary, got {cfg.runs}, "
                         f"{cfg.run!r}")
    results = Path(cfg.results_dir)
    dest = results / cfg.run
    if (dest / SUMMARY).exists():
        raise FileExistsError(f"{dest / SUMMARY} exists: pick a new --run name")
    by_run, sets, machines = {}, None, []
    for run in cfg.runs:
        summary = json.loads((results / run / SUMMARY).read_text(encoding="utf-8"))
        these = run_sets(run, summary)
        if sets is not None and these != sets:
            raise ValueError(f"run {run} evaluated sets {these}, run {cfg.runs[0]} {sets}: not poolable")
        sets = these
        machines.append(summary["fc"].get("machine", ""))
        by_run[run] = verdicts_from_members(run, read_archive(results / run / "fc" / "rows.tar.xz"))
    verdicts = pool_verdicts(by_run)
    machine = cfg.machine or (machines[0] if len(set(machines)) == 1 else "; ".join(
        f"{run}: {m}" for run, m in zip(cfg.runs, machines, strict=True)))
    seeds = sorted(verdicts)
    fc = {"machine": machine, "seeds": seeds, "stages": stage_entries(verdicts, sets),
          "pooled_from": [{"run": run, "seeds": sorted(v)} for run, v in by_run.items()]}
    write_fc_files(dest, fc, verdicts, sets)
    return dest, fc

