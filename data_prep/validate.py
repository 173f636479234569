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
from dataclasses import dataclass

from tooljudge.data_prep.importers import FORMATS, ImportOptions
from tooljudge.data_prep.jsonl import atomic_write_text, write_jsonl
from tooljudge.data_prep.outputs import OutputError, check_output_file
from tooljudge.data_prep.sources import load_conversations

from tooljudge.config import cli_parser, like, pick, setting

# What a source that cannot be read at all raises (a missing file, an unsupported type, a corrupt gzip or
# Parquet file): reported in one line, never as a traceback.
SOURCE_ERRORS = (OSError, ValueError, TypeError, EOFError, zlib.error, ImportError)


@dataclass(kw_only=True)
class ValidateArgs:
    """The options; ``keep_tool_system_prompt`` is ``ImportOptions``' field."""

    input: str = setting(help=".jsonl, .json, .parquet or a datasets save_to_disk folder")
    format: str = setting("auto", "the source's format (auto: from each row's keys)", choices=("auto", *FORMATS))
    output: str | None = setting(None, "write the kept rows, canonical, as JSON Lines")
    report: str | None = setting(None, "write the full report (every problem with its row) as JSON")
    keep_tool_system_prompt: bool = like(ImportOptions, "keep_tool_system_prompt")
    max_problems: int = setting(20, "problems printed in the summary")
    strict: bool = setting(False, "exit with status 1 if any row was dropped")


def build_parser() -> argparse.ArgumentParser:
    return cli_parser(ValidateArgs, description=__doc__)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a row's text must never stop the run at print time
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    options = pick(ImportOptions, args)
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
