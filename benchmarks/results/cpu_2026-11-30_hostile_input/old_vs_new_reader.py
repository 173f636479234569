"""JSONL read + import + validate throughput, written to a file first (the byte-level reader's cost)."""
import json
import pathlib
import sys
import tempfile
import time

from tooljudge.data_prep.sources import load_conversations

FIX = pathlib.Path(__file__).resolve().parents[3] / "tests" / "data" / "import_fixtures"  # from the repository
rows = []
for fmt in ("openai", "sharegpt", "glaive", "xlam", "hermes"):
    rows += [c["input"] for c in json.loads((FIX / f"{fmt}.json").read_text())]
rows = (rows * (20000 // len(rows) + 1))[:20000]
p = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
best = []
for _ in range(3):
    t = time.perf_counter()
    _, rep = load_conversations(p, progress=False)
    best.append(time.perf_counter() - t)
print(f"{sys.argv[1]}: {len(rows)} rows, {p.stat().st_size/1e6:.1f} MB, kept {rep.kept}, best {min(best):.2f} s "
      f"({len(rows)/min(best):.0f} rows/s), runs {[round(b, 2) for b in best]}")
