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

import json
from pathlib import Path

from run_archive import pack
from tooljudge.train.judge_effect import JudgeEffectConfig, run_judge_effect

from tooljudge.config import parse_with_recipe


def parse_config(argv: list[str] | None = None) -> JudgeEffectConfig:
    """The config from ``--recipe`` (if any) overridden by the flags given."""
    return parse_with_recipe(JudgeEffectConfig, argv, __doc__)


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
