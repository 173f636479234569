"""Does training with tooljudge help? base -> SFT -> DPO per seed, each stage paired against the one before.

    python benchmarks/effect.py --recipe recipes/effect_cpu.yaml               # CPU preset (docs/effect.md)
    python benchmarks/effect.py --recipe recipes/effect_gpu.yaml --run h200_effect   # one GPU

Each seed runs the rounds recipe (train/rounds.py) with its own training and data seeds; every stage is scored
on the held-out built-in set and BFCL's non-live simple, multiple and irrelevance sets (tools never trained on).
Writes benchmarks/results/<run>/effect_summary.json (the "fc" key; other keys kept), effect_per_seed.json,
effect_rounds.json and every stage's per-row verdicts in fc/rows.tar.xz. The logic is tooljudge.train.effect.
"""

from __future__ import annotations

from run_archive import pack  # this script's folder is on sys.path
from tooljudge.train.effect import EffectConfig, run_effect

from tooljudge.config import cli_parser, parse_cli


def main(argv: list[str] | None = None) -> None:
    cfg, _ = parse_cli(cli_parser(EffectConfig, description=__doc__), EffectConfig, argv)
    run_effect(cfg, pack)


if __name__ == "__main__":
    main()
