"""Cost of the byte-level reader and of every hostile kind (issue 17).

    python benchmarks/hostile_input.py [--rows 20000] [--json OUT.json]

1. Rows/s of ``load_conversations`` on a JSON Lines file of the import fixtures repeated to ``--rows`` (read,
   import, normalize, validate), next to ``json.loads`` of each line alone and ``jsonl.loads`` (the strict
   decoder with the limits) alone. Best of three.
2. Seconds per hostile kind of tests/hostile_corpus.py: a file of good row, hostile line, good row through
   ``load_conversations`` (fresh process state for the pattern kinds: the first timeout is the one measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile_corpus as hc  # noqa: E402
from tooljudge.data_prep import jsonl  # noqa: E402
from tooljudge.data_prep.sources import load_conversations  # noqa: E402


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(n_rows: int, folder: Path) -> dict:
    fixtures = ROOT / "tests" / "data" / "import_fixtures"
    rows = []
    for fmt in ("openai", "sharegpt", "glaive", "xlam", "hermes"):
        rows += [c["input"] for c in json.loads((fixtures / f"{fmt}.json").read_text())]
    rows = (rows * (n_rows // len(rows) + 1))[:n_rows]
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    lines = path.read_bytes().split(b"\n")[:-1]
    full = _best(lambda: load_conversations(path, progress=False))
    plain = _best(lambda: [json.loads(x) for x in lines])
    strict = _best(lambda: [jsonl.loads(x) for x in lines])
    return {"rows": n_rows, "mb": round(path.stat().st_size / 1e6, 2),
            "load_conversations_rows_per_s": round(n_rows / full), "json_loads_rows_per_s": round(n_rows / plain),
            "strict_loads_rows_per_s": round(n_rows / strict)}


def kinds(folder: Path) -> dict:
    out = {}
    for kind, data, expected in hc.KINDS:
        path = folder / f"{kind}.jsonl"
        path.write_bytes(hc.line(hc.good(0)) + b"\n" + data + b"\n" + hc.line(hc.good(1)) + b"\n")
        start = time.perf_counter()
        _, report = load_conversations(path, progress=False)
        seconds = time.perf_counter() - start
        got = "blank" if report.blank_lines else next(iter(report.dropped_by_reason), None)
        out[kind] = {"seconds": round(seconds, 3), "expected": expected, "got": got,
                     "adds_up": report.rows_read == report.kept + report.dropped}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        per_kind = kinds(Path(tmp))
        result = {"throughput": throughput(args.rows, Path(tmp)), "kinds": per_kind,
                  "slowest_kind_s": max(v["seconds"] for v in per_kind.values()),
                  "all_as_expected": all(v["got"] == v["expected"] and v["adds_up"] for v in per_kind.values())}
    print(json.dumps(result["throughput"]))
    slow = sorted(per_kind.items(), key=lambda kv: -kv[1]["seconds"])[:5]
    print("slowest kinds:", ", ".join(f"{k} {v['seconds']} s" for k, v in slow))
    print(f"{len(per_kind)} kinds, all as expected: {result['all_as_expected']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
