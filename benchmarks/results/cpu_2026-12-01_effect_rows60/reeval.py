"""Seeds 1 and 2 of the CPU effect preset (cpu_2026-12-01_effect_seeds12), their trained stages scored again on 60
rows per BFCL set instead of 20. Kept with its results; run from the repository root:

    python benchmarks/results/cpu_2026-12-01_effect_rows60/reeval.py

Why: pooled over 3 seeds the 20-row sets gave p = 0.0625 for SFT vs base, the floor of the row-clustered test
when 5 distinct rows change. More rows, not more seeds, can lower it. Same code path as the pipeline's evals
(``rounds.evaluate_stage``: same family, 80 new tokens, batch 10); only the sets and the cap differ. Nothing is
retrained: the checkpoints are the ones that run saved under runs/effect/seed_<s>/.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_archive import pack  # noqa: E402
from tooljudge.train.effect import (  # noqa: E402
    format_entries,
    read_verdicts,
    stage_entries,
    write_fc_files,
    write_verdicts,
)
from tooljudge.train.rounds import evaluate_stage  # noqa: E402

SETS = ["bfcl_simple", "bfcl_multiple", "bfcl_irrelevance"]
EVAL = {"sets": SETS, "max_examples": 60, "max_new_tokens": 80, "batch_size": 10}
RUNS = ROOT / "runs" / "effect"
DEST = Path(__file__).resolve().parent
WORK = ROOT / "runs" / "effect_rows60"


def main() -> None:
    started = time.time()
    settings = json.loads((RUNS / "seed_1" / "round_0" / "eval" / "stage_settings.json").read_text())
    family = settings["family"]
    models = {"base": Path(settings["model"])}
    for seed in (1, 2):
        models[f"{seed}/sft"] = RUNS / f"seed_{seed}" / "round_1" / "sft"
        models[f"{seed}/dpo"] = RUNS / f"seed_{seed}" / "round_1" / "dpo"
    verdict_rows, seconds = {}, {}
    for key, model in models.items():
        t = time.time()
        out = WORK / key.replace("/", "_")
        evaluate_stage(model, out, dict(EVAL), family, name=key)
        verdict_rows[key] = read_verdicts(out / "fc_examples.jsonl")
        seconds[key] = round(time.time() - t, 1)
        print(f"[reeval] {key}: {len(verdict_rows[key])} rows in {seconds[key]} s", flush=True)
    verdicts = {s: {"base": verdict_rows["base"], "sft": verdict_rows[f"{s}/sft"], "dpo": verdict_rows[f"{s}/dpo"]}
                for s in (1, 2)}
    write_verdicts(verdicts, DEST, pack)
    fc = {"machine": "AMD EPYC (AVX2, no native bf16), 2 cores, shared", "seeds": [1, 2],
          "stages": stage_entries(verdicts, SETS)}
    write_fc_files(DEST, fc, verdicts, SETS)
    (DEST / "eval_seconds.json").write_text(json.dumps(seconds, indent=2) + "\n", encoding="utf-8")
    print(format_entries(fc["stages"]))
    print(f"[reeval] done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
