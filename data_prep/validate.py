"""Check a conversation file and write its clean canonical rows and a report.

    python data_prep/validate.py --input data.jsonl [--format auto|openai|sharegpt|glaive|xlam|hermes]
                                 [--output clean.jsonl] [--report report.json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tooljudge.data_prep.importers import FORMATS, ImportOptions
from tooljudge.data_prep.sources import load_conversations, write_jsonl


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help=".jsonl, .json, .parquet or a datasets save_to_disk folder")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    p.add_argument("--output", help="write the kept rows, canonical, as JSON Lines")
    p.add_argument("--report", help="write the full report (every problem with its row) as JSON")
    p.add_argument("--keep-tool-system-prompt", action="store_true",
                   help="keep Glaive/Hermes system prompts that only carry tool definitions")
    p.add_argument("--max-problems", type=int, default=20, help="problems printed in the summary")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any row was dropped")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = ImportOptions(keep_tool_system_prompt=args.keep_tool_system_prompt)
    rows, report = load_conversations(args.input, fmt=args.format, options=options)
    print(report.summary(max_problems=args.max_problems))
    if args.output:
        print(f"kept rows: {write_jsonl(rows, args.output)}")
    if args.report:
        path = Path(args.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report: {path}")
    return 1 if args.strict and report.dropped else 0


if __name__ == "__main__":
    sys.exit(main())
