"""Judge training data from a protocol run: transcripts.jsonl -> judge_sft.jsonl + judge_dpo.jsonl.

    python eval/judge_training_data.py --transcripts runs/judging/transcripts.jsonl --out runs/judge_data

Then train a judge with the ordinary recipes (a data source is just a path), e.g. ``train/sft.py`` with
``data.sources: [{source: runs/judge_data/judge_sft.jsonl}]`` and ``train/dpo.py`` with ``judge_dpo.jsonl``.
Also writes task rows for the eval hook (``--write-tasks``): ``judge:<that file>`` in ``eval.sets``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tooljudge.data_prep.judge_tasks import generate_tasks
from tooljudge.eval.judge_data import judge_dpo_pairs, judge_sft_rows, write_jsonl

from tooljudge.config import cli_parser, setting


@dataclass(kw_only=True)
class JudgeTrainingDataArgs:
    """The options of this CLI."""

    transcripts: str | None = setting(None, "transcripts.jsonl written by eval/run_judging.py")
    protocols: str = setting("consultancy,debate", "which transcripts become training data (default: the "
                             "assigned-role ones)")
    out: str = setting(help="output folder")
    write_tasks: str | None = setting(None, "also write N generated task rows, e.g. extractive:200",
                                      metavar="TASK:N")
    seed: int = setting(0, "seed of the generated task rows")
    blind: bool = setting(False, "prompts without the transcript (question and answers only): the blind control "
                          "of a trained judge")


def build_parser():
    return cli_parser(JudgeTrainingDataArgs, description=__doc__)


def main(argv: list[str] | None = None) -> None:
    ap = build_parser()
    args = ap.parse_args(argv)
    out = Path(args.out)
    summary: dict = {}
    if args.transcripts:
        wanted = set(args.protocols.split(","))
        with open(args.transcripts, encoding="utf-8") as f:
            transcripts = [t for t in map(json.loads, f) if t["protocol"] in wanted]
        sft, sft_report = judge_sft_rows(transcripts, blind=args.blind)
        dpo, dpo_report = judge_dpo_pairs(transcripts, blind=args.blind)
        summary["sft"] = {"path": str(write_jsonl(sft, out / "judge_sft.jsonl")), **sft_report.as_dict()}
        summary["dpo"] = {"path": str(write_jsonl(dpo, out / "judge_dpo.jsonl")), **dpo_report.as_dict()}
        summary["transcripts_used"] = len(transcripts)
    if args.write_tasks:
        task, _, n = args.write_tasks.partition(":")
        rows = generate_tasks(task, int(n or 100), seed=args.seed)
        summary["tasks"] = {"path": str(write_jsonl(rows, out / f"{task}_tasks.jsonl")), "rows": len(rows)}
    if not summary:
        ap.error("nothing to do: give --transcripts and/or --write-tasks")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
