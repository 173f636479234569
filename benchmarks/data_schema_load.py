"""Rows per second through load_conversations (import + normalize + validate), per source format.

    python benchmarks/data_schema_load.py [--rows 10000]

Uses the hand-made fixture rows of tests/data/import_fixtures/, repeated to --rows (tool schemas repeat, as they
do across rows of real datasets, so the cached schema checks hit after the first rows).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tooljudge.data_prep.importers import FORMATS
from tooljudge.data_prep.sources import load_conversations

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "import_fixtures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()
    for fmt in FORMATS:
        cases = [c["input"] for c in json.loads((FIXTURES / f"{fmt}.json").read_text())]
        rows = (cases * (args.rows // len(cases) + 1))[: args.rows]
        start = time.perf_counter()
        _, report = load_conversations(rows, fmt="auto", progress=False)
        seconds = time.perf_counter() - start
        print(f"{fmt:9s} {len(rows)} rows, kept {report.kept}, {seconds:.2f} s, {len(rows) / seconds:.0f} rows/s")


if __name__ == "__main__":
    main()
