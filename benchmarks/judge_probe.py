"""Linear probe on the frozen judge: is the scripted arguers' cue readable from its features? (issue 22 item 3)

    OMP_NUM_THREADS=2 python benchmarks/judge_probe.py --out_dir benchmarks/results/cpu_<date>_judge_probe

Options: every field of ``tooljudge.eval.judge_probe.JudgeProbeConfig`` (``--help``); a ``--recipe`` YAML sets
them first, flags on the command line win. Writes ``<out_dir>/probe_summary.json`` and
``<out_dir>/probe_rows.jsonl.gz`` and prints the held-out table. The logic lives in
``tooljudge.eval.judge_probe``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from tooljudge.eval.judge_probe import JudgeProbeConfig, run_judge_probe, table

from tooljudge.config import check_keys, cli_parser, field_names, pick


def parse_config(argv: list[str] | None = None) -> JudgeProbeConfig:
    """The config from ``--recipe`` (if any) overridden by the flags given."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = cli_parser(JudgeProbeConfig, description=__doc__)
    parser.add_argument("--recipe", default=None, help="YAML file of JudgeProbeConfig fields (flags win)")
    first, _ = parser.parse_known_args(argv)
    preset = argparse.Namespace()
    if first.recipe:
        raw = yaml.safe_load(Path(first.recipe).read_text(encoding="utf-8")) or {}
        check_keys(raw, field_names(JudgeProbeConfig), first.recipe)
        preset = argparse.Namespace(**raw)  # argparse fills only the attributes a namespace lacks
    return pick(JudgeProbeConfig, parser.parse_args(argv, namespace=preset))


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(argv)
    summary = run_judge_probe(cfg)
    print(table(summary))
    print(json.dumps({k: summary[k] for k in ("rows", "judgements", "prompts", "timings", "torch_threads")}))
    return summary


if __name__ == "__main__":
    main()
