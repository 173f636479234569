"""The headline effect index (issue 22 item 4): benchmarks/results/effect_summary.json and the README's effect lines.

    python benchmarks/effect_summary.py --fc cpu_2026-11-30_effect \
        --judge "debate=cpu_2026-12-01_judge_effect_debate_seed1,cpu_2026-12-01_judge_effect_debate_epochs" \
        --readme README.md

Copies the named runs' records verbatim (each run's own effect_summary.json, written by the script that ran its
stages) into one file, each tagged with its run, and rewrites the README block between
``<!-- effect-summary:start -->`` and ``<!-- effect-summary:end -->`` from that file. The logic is
``tooljudge.train.effect_index``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tooljudge.train.effect_index import parse_judge_runs, write_index

from tooljudge.config import cli_parser, parse_cli, setting

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(kw_only=True)
class EffectIndexArgs:
    """The options of this CLI."""

    fc: str | None = setting(None, "the run folder (under benchmarks/results) whose fc record is the headline")
    judge: str = setting("", "per protocol, its run folders, the headline first: 'debate=RUN,RUN;consultancy=RUN'")
    readme: str | None = setting(None, "a README whose effect block is rewritten from the index")
    results: str = setting(str(RESULTS), "the results folder")


def main(argv: list[str] | None = None) -> dict:
    args, _ = parse_cli(cli_parser(EffectIndexArgs, description=__doc__), EffectIndexArgs, argv)
    index = write_index(Path(args.results), args.fc, parse_judge_runs(args.judge),
                        Path(args.readme) if args.readme else None)
    print(f"wrote {Path(args.results) / 'effect_summary.json'}: {sorted(index)}")
    return index


if __name__ == "__main__":
    main()
