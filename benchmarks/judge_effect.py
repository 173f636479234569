"""Trained judge vs its untrained self vs a blind control, on held-out questions (issue 22 item 3).

    OMP_NUM_THREADS=2 python benchmarks/judge_effect.py --recipe recipes/judge_effect_cpu.yaml \
        --out_dir benchmarks/results/cpu_<date>_judge_effect
    python benchmarks/judge_effect.py --recipe recipes/judge_effect_gpu.yaml --out_dir benchmarks/results/<run>

Options: every field of ``tooljudge.train.judge_effect.JudgeEffectConfig`` (``--help``); a ``--recipe`` YAML
sets them first, flags on the command line win. Writes the "judge" key of ``<out_dir>/effect_summary.json``
(other keys kept) and packs the verdicts into ``<out_dir>/judge/rows.tar.xz``. The logic lives in
``tooljudge.train.judge_effect``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from run_archive import pack
from tooljudge.train.judge_effect import JudgeEffectConfig, run_judge_effect

from tooljudge.config import check_keys, cli_parser, field_names, pick


def parse_config(argv: list[str] | None = None) -> JudgeEffectConfig:
    """The config from ``--recipe`` (if any) overridden by the flags given."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = cli_parser(JudgeEffectConfig, description=__doc__)
    parser.add_argument("--recipe", default=None, help="YAML file of JudgeEffectConfig fields (flags win)")
    first, _ = parser.parse_known_args(argv)
    preset = argparse.Namespace()
    if first.recipe:
        raw = yaml.safe_load(Path(first.recipe).read_text(encoding="utf-8")) or {}
        check_keys(raw, field_names(JudgeEffectConfig), first.recipe)
        preset = argparse.Namespace(**raw)  # argparse fills only the attributes a namespace lacks
    return pick(JudgeEffectConfig, parser.parse_args(argv, namespace=preset))


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(argv)
    judge = run_judge_effect(cfg)
    names = pack(Path(cfg.out_dir) / "judge")
    print(json.dumps({p: {k: v for k, v in r.items() if not k.startswith("trained_vs")}
                      for p, r in judge["protocols"].items()}, indent=1))
    print(f"packed {len(names)} verdict files into {cfg.out_dir}/judge/rows.tar.xz; timings {judge['timings']}")
    return judge


if __name__ == "__main__":
    main()
