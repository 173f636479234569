"""Score this run's checkpoints (base, and each seed's 0.6 SFT and decision-cut DPO) on more rows of the built-in set
than the run's 20, so that item 2 of issue 22 (each stage better than the one before, p < 0.05) can be read on the
built-in set with more power. Run from the repository root after ``run.py`` has finished:

    python benchmarks/results/cpu_2026-12-02_effect_sft60_decision32_lr1e4/more_builtin.py --rows 80

The built-in set's subsample is stratified and seeded: it holds the run's 20 rows (a missing one stops the
script); those whose output or verdict differs from the run's are named in ``run_rows_check`` (other rows share
their batches now, so prompts are padded otherwise, which can move float32 logits). The base model is deterministic
(greedy), so its one eval pairs with every seed. Stages are paired row by row over seeds, clustered by row
(``effect.stage_entries``, exact McNemar), as in the run. Writes ``builtin_<rows>.json`` / ``.md`` and the verdicts
(``fc_builtin_<rows>/rows.tar.xz``) beside this file. ``--extra-dpo`` scores other DPO variants trained on the
same SFT checkpoints too, each paired with the same base and SFT verdicts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_archive import pack, read_rows  # noqa: E402
from tooljudge.train.effect import format_entries, irrelevance_recall, read_verdicts, stage_entries  # noqa: E402
from tooljudge.train.rounds import evaluate_stage  # noqa: E402

from tooljudge.models import resolve_model_path  # noqa: E402

WORK = ROOT / "runs" / "cpu_2026-12-02_effect_sft_irrelevance60_probe"
FAMILY = "qwen25"
SEEDS = (0, 1, 2)


def settings(rows: int) -> dict:
    return {"sets": ["builtin"], "max_examples": rows, "max_new_tokens": 80, "batch_size": 10}


def run_verdicts(results: Path, seed: int, stage: str) -> list[dict]:
    """A run's own built-in verdicts (20 rows) of one seed and stage, from its results folder's archive."""
    return read_rows(results / "fc", f"seed_{seed}/{stage}_builtin.jsonl")


def differing_rows(mine: list[dict], theirs: list[dict], what: str) -> dict:
    """The rows the run scored that come out otherwise here (output text, verdict): batches of other rows pad the
    prompts differently, which may move float32 logits; counted and named, not hidden. A row missing here is an
    error (the subsample would not hold the run's rows)."""
    by_id = {r["id"]: r for r in mine}
    missing = [r["id"] for r in theirs if r["id"] not in by_id]
    if missing:
        raise RuntimeError(f"{what}: the run's rows {missing} are not in this subsample")
    text = [r["id"] for r in theirs if by_id[r["id"]]["output"] != r["output"]]
    verdict = [r["id"] for r in theirs if by_id[r["id"]]["correct"] != r["correct"]]
    return {"rows": len(theirs), "output_differs": text, "verdict_differs": verdict}


def by_category(verdicts: dict[int, dict[str, list[dict]]], stages: list[str]) -> dict:
    """Right answers per built-in category and the irrelevance recall, per stage, pooled over seeds."""
    out: dict[str, dict] = {}
    for stage in stages:
        rows = [r for per_seed in verdicts.values() for r in per_seed[stage]]
        out[stage] = {cat: {"n": sum(r["category"] == cat for r in rows),
                            "correct": sum(bool(r["correct"]) for r in rows if r["category"] == cat)}
                      for cat in sorted({r["category"] for r in rows})}
        out[stage]["irrelevance_recall"] = irrelevance_recall(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=80, help="built-in rows per stage (the run scored 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="seeds whose checkpoints to score")
    parser.add_argument("--extra-dpo", nargs="*", default=[],
                        help="other DPO variants on the same SFT checkpoints: names of their runs/ folders, which are "
                             "also their results folders; each is paired with the same base and SFT rows")
    args = parser.parse_args()
    seeds = tuple(args.seeds)
    started = time.time()
    out = WORK / f"builtin_{args.rows}"
    evaluate_stage(Path(resolve_model_path("bundled:smollm2")), out / "base", settings(args.rows), FAMILY, name="base")
    base = read_verdicts(out / "base" / "fc_examples.jsonl")
    base20 = [{**r, "id": r["id"].removeprefix("builtin/")} for r in
              read_verdicts(ROOT / "runs" / "effect" / "seed_1" / "round_0" / "eval" / "fc_examples.jsonl")
              if r["id"].startswith("builtin/")]
    checks = {"base": differing_rows(base, base20, "base")}
    variants = {"dpo": (WORK, HERE)} | {f"dpo_{name}": (ROOT / "runs" / name, HERE.parent / name) for name in args.extra_dpo}
    verdicts: dict[int, dict[str, list[dict]]] = {s: {"base": base} for s in seeds}
    for s in seeds:
        for stage, (work, results) in {"sft": (WORK, HERE), **variants}.items():
            folder = out / f"seed_{s}_{stage}"
            model = work / f"seed_{s}" / ("sft" if stage == "sft" else "dpo")
            evaluate_stage(model, folder, settings(args.rows), FAMILY, name=f"{s}/{stage}")
            verdicts[s][stage] = read_verdicts(folder / "fc_examples.jsonl")
            theirs = run_verdicts(results, s, "sft" if stage == "sft" else "dpo")
            checks[f"{s}/{stage}"] = differing_rows(verdicts[s][stage], theirs, f"seed {s} {stage}")
    tables = {}
    for name in variants:
        per_seed = {s: {"base": base, "sft": verdicts[s]["sft"], "dpo": verdicts[s][name]} for s in seeds}
        tables[name] = stage_entries(per_seed, ["builtin"])
    summary = {"rows_per_stage": args.rows, "seeds": list(seeds), "family": FAMILY,
               "variants": {name: str(results.relative_to(ROOT)) for name, (_, results) in variants.items()},
               "stages": tables, "by_category": by_category(verdicts, ["base", "sft", *variants]),
               "run_rows_check": checks, "seconds": round(time.time() - started, 1)}
    (HERE / f"builtin_{args.rows}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    text = "\n\n".join(f"{name} ({summary['variants'][name]}):\n\n{format_entries(t)}" for name, t in tables.items())
    (HERE / f"builtin_{args.rows}.md").write_text(text + "\n", encoding="utf-8")
    dest = HERE / f"fc_builtin_{args.rows}"
    for s in seeds:
        for stage, rows in verdicts[s].items():
            if stage == "base" and s != seeds[0]:
                continue
            path = dest / f"seed_{s}" / f"{stage}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pack(dest)
    print(text)
    print(json.dumps(summary["by_category"], indent=1))
    print(json.dumps(checks))
    print(f"[more_builtin] done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
