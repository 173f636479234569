"""Linear probe on the frozen judge: is the scripted arguers' cue readable from its features? (issue 22 item 3)

    OMP_NUM_THREADS=2 python benchmarks/judge_probe.py --out_dir benchmarks/results/cpu_<date>_judge_probe

Options: every field of ``tooljudge.train.judge_probe.JudgeProbeConfig`` (``--help``); a ``--recipe`` YAML sets
them first, flags on the command line win. Writes ``<out_dir>/probe_summary.json`` and
``<out_dir>/probe_rows.jsonl.gz`` and prints the held-out table. The logic lives in
``tooljudge.train.judge_probe``.
"""

from __future__ import annotations

import json

from tooljudge.train.judge_probe import JudgeProbeConfig, run_judge_probe, table

from tooljudge.config import parse_with_recipe


def parse_config(argv: list[str] | None = None) -> JudgeProbeConfig:
    """The config from ``--recipe`` (if any) overridden by the flags given."""
    return parse_with_recipe(JudgeProbeConfig, argv, __doc__)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(argv)
    summary = run_judge_probe(cfg)
    print(table(summary))
    print(json.dumps({k: summary[k] for k in ("rows", "judgements", "prompts", "timings", "torch_threads")}))
    return summary


if __name__ == "__main__":
    main()
