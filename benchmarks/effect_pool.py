"""Pool the seeds of finished effect runs of one recipe into one summary, from their archived verdicts.

    python benchmarks/effect_pool.py --runs cpu_2026-11-30_effect cpu_2026-12-01_effect_seeds12 \
        --run cpu_2026-12-01_effect_pooled

Nothing is re-run or re-scored: each run's fc/rows.tar.xz is read back and pooled as benchmarks/effect.py pools
the seeds of one run. Refused (naming the run) when the runs evaluated other sets, share a seed, or their base
verdicts differ. The logic is tooljudge.train.effect_pool.
"""

from __future__ import annotations

from run_archive import read_all  # this script's folder is on sys.path
from tooljudge.train.effect import format_entries
from tooljudge.train.effect_pool import EffectPoolConfig, pool_runs

from tooljudge.config import cli_parser, parse_cli


def main(argv: list[str] | None = None) -> None:
    cfg, _ = parse_cli(cli_parser(EffectPoolConfig, description=__doc__), EffectPoolConfig, argv)
    dest, fc = pool_runs(cfg, read_all)
    print(format_entries(fc["stages"]), flush=True)
    print(f"[tooljudge] effect: seeds {fc['seeds']} pooled from {cfg.runs} into {dest}", flush=True)


if __name__ == "__main__":
    main()
