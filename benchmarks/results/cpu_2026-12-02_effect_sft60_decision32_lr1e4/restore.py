"""Rebuild, from committed results, the files under runs/ that ``cpu_2026-12-01_effect_dpo_relevance/run.py`` reads
from the preset's effect run, for a checkout where runs/ (ignored by git) is empty. Run from the repository root:

    python benchmarks/results/cpu_2026-12-02_effect_sft60_decision32_lr1e4/restore.py

Writes (refusing to overwrite anything that exists):
- runs/effect/seed_1/round_1/sft/recipe.resolved.yaml: seed 1's SFT recipe as the fifteenth session's run saved it
  (``cpu_2026-12-02_effect_sft60_balanced32_lr1e4/seed_1_sft_recipe.yaml``), with the preset's folders; run.py
  replaces the point mix and the folder, so the SFT it trains is that run's, recipe for recipe;
- runs/effect/seed_1/round_1/dpo/recipe.resolved.yaml: seed 1's DPO recipe of the decision-cut lr 1e-4 run
  (``cpu_2026-12-02_effect_dpo_decision_lr1e4/seed_1_dpo_recipe.yaml``, the preset's DPO with ``chosen_span:
  to_first_difference`` and lr 1e-4), with the preset's folders;
- runs/effect/seed_1/round_0/eval/fc_examples.jsonl and runs/effect_rows60/base/fc_examples.jsonl: the base
  model's verdicts (``cpu_2026-12-01_effect_seeds12`` and ``cpu_2026-12-01_effect_rows60``, seed 1), and the
  eval's ``stage_settings.json`` with the family those runs used (``qwen25``, as every saved recipe says).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_archive import read_text  # noqa: E402


def write_new(path: Path, text: str) -> None:
    if path.exists():
        raise FileExistsError(f"{path} exists; restore writes only into an empty runs/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def recipe(source: Path, output_dir: str, init_from: str | None) -> str:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["training"]["output_dir"] = output_dir
    if init_from is not None:
        data["model"]["init_from"] = init_from
    return yaml.safe_dump(data, sort_keys=False)


def main() -> None:
    runs = ROOT / "runs"
    sft = RESULTS / "cpu_2026-12-02_effect_sft60_balanced32_lr1e4" / "seed_1_sft_recipe.yaml"
    dpo = RESULTS / "cpu_2026-12-02_effect_dpo_decision_lr1e4" / "seed_1_dpo_recipe.yaml"
    write_new(runs / "effect/seed_1/round_1/sft/recipe.resolved.yaml",
              recipe(sft, "runs/effect/seed_1/round_1/sft", None))
    write_new(runs / "effect/seed_1/round_1/dpo/recipe.resolved.yaml",
              recipe(dpo, "runs/effect/seed_1/round_1/dpo", "runs/effect/seed_1/round_1/sft"))
    family = {yaml.safe_load(p.read_text())["data"]["family"] for p in (sft, dpo)}
    if family != {"qwen25"}:
        raise ValueError(f"the saved recipes name families {family}, expected qwen25")
    base_builtin = read_text(RESULTS / "cpu_2026-12-01_effect_seeds12" / "fc", "seed_1/base.jsonl")
    base_bfcl = read_text(RESULTS / "cpu_2026-12-01_effect_rows60" / "fc", "seed_1/base.jsonl")
    write_new(runs / "effect/seed_1/round_0/eval/fc_examples.jsonl", base_builtin)
    write_new(runs / "effect/seed_1/round_0/eval/stage_settings.json", json.dumps({"family": "qwen25"}) + "\n")
    write_new(runs / "effect_rows60/base/fc_examples.jsonl", base_bfcl)


if __name__ == "__main__":
    main()
