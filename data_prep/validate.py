"""Check a conversation file and write its clean canonical rows and a report.

    python data_prep/validate.py --input data.jsonl [--format auto|openai|sharegpt|glaive|xlam|hermes]
                                 [--output clean.jsonl] [--report report.json] [--strict]

Exit status: 0 when the file was read (bad rows are dropped, counted and named), 1 with ``--strict`` when any row
was dropped, 2 when the input cannot be read at all or an output cannot be written (the message says which).
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib

from tooljudge.data_prep.importers import FORMATS, ImportOptions
from tooljudge.data_prep.jsonl import atomic_write_text
from tooljudge.data_prep.outputs import OutputError, check_output_file
from tooljudge.data_prep.sources import load_conversations, write_jsonl

# What a source that cannot be read at all raises (a missing file, an unsupported type, a corrupt gzip or
# Parquet file): reported in one line, never as a traceback.
SOURCE_ERRORS = (OSError, ValueError, TypeError, EOFError, zlib.error, ImportError)


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
    for stream in (sys.stdout, sys.stderr):  # a row's text must never stop the run at print time
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    options = ImportOptions(keep_tool_system_prompt=args.keep_tool_system_prompt)
    try:
        for path in (args.output, args.report):
            if path:
                check_output_file(path)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        rows, report = load_conversations(args.input, fmt=args.format, options=options)
    except SOURCE_ERRORS as exc:
        print(f"error: {args.input}: cannot be read ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    print(report.summary(max_problems=args.max_problems))
    try:
        if args.output:
            print(f"kept rows: {write_jsonl(rows, args.output)}")
        if args.report:
            text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
            print(f"report: {atomic_write_text(args.report, text)}")
    except OSError as exc:
        print(f"error: cannot write the output ({exc}); nothing partial was left behind", file=sys.stderr)
        return 2
    return 1 if args.strict and report.dropped else 0


if __name__ == "__main__":
    sys.exit(main())
