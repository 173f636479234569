"""What the row checks of ``prepare_example`` cost, and what ``parallel_calls`` does to a synthesized set.

    python benchmarks/data_prep_checks.py --n 300 [--output benchmarks/results/data_prep_checks.json.gz]

Rows come from ``data_prep/synthesize.py``'s generator (templated backend, seed 0). For each family with its
reference tokenizer, conversations per second of ``prepare_example`` with the semantic validation on (default)
and off (``MaskConfig(validate=False)``), serial, best of two passes after a warm-up; then the same rows prepared
for ``llama31`` with ``parallel_calls`` ``split`` and ``reject`` (rows kept, dropped by reason, rows split).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-only helpers: reference encoders, corpus


def synthesized_rows(n: int, seed: int) -> list[dict]:
    script = Path(__file__).resolve().parent.parent / "data_prep" / "synthesize.py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.jsonl"
        subprocess.run([sys.executable, str(script), "--n", str(n), "--seed", str(seed), "--output", str(out)],
                       check=True, capture_output=True)
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def rate(tok, rows, family, config) -> float:
    from tooljudge.data_prep.masking import prepare_example

    start = time.perf_counter()
    for row in rows:
        prepare_example(tok, row, family=family, config=config)
    return len(rows) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows
    from tooljudge.data_prep.masking import MaskConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="write the figures as gzipped JSON")
    a = p.parse_args(argv)
    rows = synthesized_rows(a.n, a.seed)
    result: dict = {"rows": len(rows), "load_average": os.getloadavg()[0], "conv_per_s": {}}
    for family, tok_name in (("qwen25", "smollm2"), ("llama31_meta", "llama31"), ("mistral_v3", "mistral_v3")):
        tok = reference_tokenizer(tok_name)
        rate(tok, rows, family, MaskConfig())  # warm-up: tokenizer caches, compiled templates
        figures = {"validate": 0.0, "no_validate": 0.0}
        for _ in range(2):
            figures["validate"] = max(figures["validate"], rate(tok, rows, family, MaskConfig()))
            figures["no_validate"] = max(figures["no_validate"], rate(tok, rows, family, MaskConfig(validate=False)))
        result["conv_per_s"][family] = {k: round(v, 1) for k, v in figures.items()}
    tok = reference_tokenizer("llama31")
    result["llama31_parallel_calls"] = {}
    for policy in ("split", "reject"):
        _, report = prepare_rows(tok, rows, PrepareConfig(family="llama31", parallel_calls=policy), progress=False)
        result["llama31_parallel_calls"][policy] = {"kept": report.kept, "dropped": report.dropped_by_reason,
                                                    "split_rows": report.parallel_split_rows}
    print(json.dumps(result, indent=2))
    if a.output:
        with gzip.open(a.output, "wt", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
