"""DPO with relevance-heavy pairs on the saved SFT checkpoints of seeds 1 and 2 of the CPU effect preset
(cpu_2026-12-01_effect_seeds12). Kept with its results; run from the repository root:

    TOOLJUDGE_CPU_HEAP=keep python benchmarks/results/cpu_2026-12-01_effect_dpo_relevance/run.py

With ``--chosen-span to_first_difference --dest cpu_2026-12-01_effect_dpo_decision`` it ran the second variant
(this mix, chosen answers cut at the decision too), and with ``--irrelevance 0.4 --chosen-span to_first_difference
--dest cpu_2026-12-01_effect_dpo_decision_mix40`` the third (the preset's mix, cut); defaults are this folder's run.
Later options (each run's README gives its command): ``--learning-rate``, ``--pairs`` (DPO points; steps follow,
one epoch), ``--decision-balance`` (the source's option; steps follow the pairs kept), ``--sft-irrelevance``
(retrain SFT on that irrelevance share instead of reusing the preset's checkpoints), ``--sft-only`` and
``--nll-weight`` (the NLL term's weight in ``loss_weights``), ``--shared-prefix`` (``data.shared_prefix``),
``--dpo-bf16`` (DPO's ``training.bf16``) and ``--prompt-once`` (DPO's ``data.prompt_once``).

Why: in the preset, DPO's pairs were balanced (14 "reply over call", 13 "call over reply", 5 same decision for
seed 1) and the model called more after DPO; BFCL irrelevance recall fell from SFT's 0.608 to 0.567 (60 rows x
2 seeds, cpu_2026-12-01_effect_rows60). This run changes one thing, the DPO point mix: irrelevance 0.4 -> 0.6
(the other categories scaled down), so more pairs prefer a reply to a near-miss call. Everything else is the
recipe as run (runs/effect/seed_<s>/round_1/dpo/recipe.resolved.yaml): same SFT start, pair seed, steps, lr,
loss. Scored with the pipeline's eval path (``rounds.evaluate_stage``): the built-in set on the preset's 20 rows
(paired with that run's SFT verdicts) and 60 rows per BFCL set (paired with the rows60 SFT verdicts).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_archive import pack  # noqa: E402
from tooljudge.eval.paired_stats import clustered_comparison  # noqa: E402
from tooljudge.train.effect import (  # noqa: E402
    format_entries,
    irrelevance_recall,
    keyed,
    read_verdicts,
    set_of,
    stage_entries,
    write_verdicts,
)
from tooljudge.train.rounds import changed_settings, evaluate_stage  # noqa: E402

MIX = {"single": 0.15, "multiple": 0.15, "parallel": 0.05, "parallel_multiple": 0.05, "irrelevance": 0.6}
PRESET_MIX = {"single": 0.2, "multiple": 0.2, "parallel": 0.1, "parallel_multiple": 0.1, "irrelevance": 0.4}
BFCL = ["bfcl_simple", "bfcl_multiple", "bfcl_irrelevance"]
EVAL_BFCL = {"sets": BFCL, "max_examples": 60, "max_new_tokens": 80, "batch_size": 10}
EVAL_BUILTIN = {"sets": ["builtin"], "max_examples": 20, "max_new_tokens": 80, "batch_size": 10}
RUNS = ROOT / "runs" / "effect"
ROWS60 = ROOT / "runs" / "effect_rows60"
WORK = ROOT / "runs" / "effect_dpo_relevance"
DEST = Path(__file__).resolve().parent
CHOSEN_SPAN = "full"
SHARED_PREFIX = "answer"
LEARNING_RATE: float | None = None  # None: the preset's DPO lr (2e-4)
PAIRS: int | None = None  # None: the preset's 32 DPO points, 8 steps of 4; else this many, one epoch
DECISION_BALANCE: float | None = None  # None: pairs as drawn; else the source's decision_balance option
NLL_WEIGHT: float | None = None  # None: the preset's loss_weights [1, 1]; else the weight of the NLL (sft) term
SFT_MIX: dict[str, float] | None = None  # None: the preset run's SFT checkpoints; else SFT retrained on this mix
SEEDS = (1, 2)
KINDS: list[str] | None = None  # None: the preset's DPO pair kinds; else the source's ``kinds``
SFT_WORK: Path | None = None  # None: the retrained SFT lives in WORK; else in this runs/ folder (another run's)
DPO_BF16: str | None = None  # None: the saved recipe's training.bf16 ("auto"); else "true" or "false"
PROMPT_ONCE = False  # data.prompt_once of the DPO recipe (each pair's prompt computed once; the same losses)


PRESET_SETS = ["builtin", *BFCL]  # the preset's eval: its record ids carry their set ("builtin/simple_0001")


def builtin_only(rows: list[dict]) -> list[dict]:
    """The preset's built-in rows with the ids a built-in-only eval gives them (no set prefix)."""
    return [{**r, "id": str(r["id"]).removeprefix("builtin/")} for r in rows
            if set_of(str(r["id"]), PRESET_SETS) == "builtin"]


def for_seed(recipe: dict, seed: int, kind: str) -> dict:
    """Seed 1's resolved recipe of one stage as the preset would resolve it for ``seed`` (only the seeds and the
    folders depend on it: the data seed is the source's base seed plus the run's, the training seed the run's)."""
    recipe = yaml.safe_load(yaml.safe_dump(recipe))
    [source] = recipe["data"]["sources"]
    source["options"]["seed"] = source["options"]["seed"] - 1 + seed
    recipe["training"]["seed"] = seed
    recipe["training"]["output_dir"] = f"runs/effect/seed_{seed}/round_1/{kind}"
    if kind == "dpo":
        recipe["model"]["init_from"] = f"runs/effect/seed_{seed}/round_1/sft"
    return recipe


def sft_dir(seed: int) -> Path:
    """Where the seed's SFT checkpoint is: the preset run's, or this variant's own when the SFT mix changed."""
    return sft_work() / f"seed_{seed}" / "sft" if SFT_MIX is not None else RUNS / f"seed_{seed}" / "round_1" / "sft"


def sft_work() -> Path:
    """The runs/ folder of the retrained SFT stage (its checkpoints, recipe and evals)."""
    return SFT_WORK or WORK


def own_sft_stage(seed: int, family: str) -> tuple[list[dict], list[dict]]:
    """SFT retrained from seed 1's resolved SFT recipe for ``seed`` with only the point mix changed (``SFT_MIX``),
    then scored like the preset's SFT (built-in 20 rows, BFCL 60 per set); a finished stage is reused only when
    its saved recipe is the same."""
    recipe = for_seed(yaml.safe_load((RUNS / "seed_1" / "round_1" / "sft" / "recipe.resolved.yaml").read_text()),
                      seed, "sft")
    recipe["training"]["output_dir"] = str(sft_dir(seed).relative_to(ROOT))
    [source] = recipe["data"]["sources"]
    source["options"]["mix"] = dict(SFT_MIX)
    out = run_stage("sft", recipe, sft_dir(seed), sft_work() / f"seed_{seed}" / "sft_recipe.yaml")
    builtin_dir, bfcl_dir = sft_work() / f"seed_{seed}" / "eval_sft_builtin", sft_work() / f"seed_{seed}" / "eval_sft_bfcl"
    for folder, settings in ((builtin_dir, EVAL_BUILTIN), (bfcl_dir, EVAL_BFCL)):
        evaluate_stage(out, folder, dict(settings), family, name=f"{seed}/sft")
    return read_verdicts(builtin_dir / "fc_examples.jsonl"), read_verdicts(bfcl_dir / "fc_examples.jsonl")


def sft_stage(seed: int, family: str) -> tuple[list[dict], list[dict]]:
    """The seed's SFT verdicts (built-in 20 rows, BFCL 60 rows per set). Seeds 1 and 2 were trained and scored by
    the preset's run; another seed is trained here from seed 1's resolved SFT recipe with its own seeds, and
    scored the same way. With ``SFT_MIX`` every seed's SFT is this variant's own (``own_sft_stage``)."""
    return own_sft_stage(seed, family) if SFT_MIX is not None else preset_sft(seed, family)


def preset_sft(seed: int, family: str, train_missing: bool = True) -> tuple[list[dict], list[dict]]:
    """The preset run's SFT of ``seed`` and its verdicts (what a retrained SFT is compared with). A seed other than
    1 and 2 is trained here when ``train_missing`` (its own stage), else its absence is an error."""
    if seed in (1, 2):
        return (builtin_only(read_verdicts(RUNS / f"seed_{seed}" / "round_1" / "eval_sft" / "fc_examples.jsonl")),
                read_verdicts(ROWS60 / f"{seed}_sft" / "fc_examples.jsonl"))
    out = RUNS / f"seed_{seed}" / "round_1" / "sft"
    if not (out / "DONE").exists():
        if not train_missing:
            raise FileNotFoundError(f"{out}: the preset's seed-{seed} SFT is not here to compare with")
        recipe = for_seed(yaml.safe_load((RUNS / "seed_1" / "round_1" / "sft" / "recipe.resolved.yaml").read_text()),
                          seed, "sft")
        run_stage("sft", recipe, out, RUNS / f"seed_{seed}" / "sft_recipe.yaml")
    builtin_dir, bfcl_dir = RUNS / f"seed_{seed}" / "eval_sft_builtin", ROWS60 / f"{seed}_sft"
    for folder, settings in ((builtin_dir, EVAL_BUILTIN), (bfcl_dir, EVAL_BFCL)):  # reused when done, same settings
        evaluate_stage(out, folder, dict(settings), family, name=f"{seed}/sft")
    return read_verdicts(builtin_dir / "fc_examples.jsonl"), read_verdicts(bfcl_dir / "fc_examples.jsonl")


def dpo_recipe(seed: int) -> dict:
    """Seed 1's resolved DPO recipe for ``seed`` with this variant's settings (mix, chosen span, lr, points)."""
    recipe = for_seed(yaml.safe_load((RUNS / "seed_1" / "round_1" / "dpo" / "recipe.resolved.yaml").read_text()),
                      seed, "dpo")
    recipe["training"]["output_dir"] = str((WORK / f"seed_{seed}" / "dpo").relative_to(ROOT))
    recipe["model"]["init_from"] = str(sft_dir(seed).relative_to(ROOT))
    [source] = recipe["data"]["sources"]
    source["options"]["mix"] = dict(MIX)
    recipe["data"]["chosen_span"] = CHOSEN_SPAN
    recipe["data"]["shared_prefix"] = SHARED_PREFIX  # a saved recipe without it is matched by train()'s defaults
    if LEARNING_RATE is not None:
        recipe["training"]["learning_rate"] = LEARNING_RATE
    if DPO_BF16 is not None:
        recipe["training"]["bf16"] = DPO_BF16 == "true"
    if PROMPT_ONCE:
        recipe["data"]["prompt_once"] = True
    if NLL_WEIGHT is not None:
        if recipe["training"]["loss_type"] != ["sigmoid", "sft"]:
            raise ValueError(f"--nll-weight expects loss_type [sigmoid, sft], not {recipe['training']['loss_type']}")
        recipe["training"]["loss_weights"] = [recipe["training"]["loss_weights"][0], NLL_WEIGHT]
    if PAIRS is not None:
        source["options"]["n"] = PAIRS
    if DECISION_BALANCE is not None:
        source["options"]["decision_balance"] = DECISION_BALANCE
    if KINDS is not None:
        source["options"]["kinds"] = list(KINDS)
    if PAIRS is not None or DECISION_BALANCE is not None or KINDS is not None:  # one epoch over the kept pairs, as the preset's 32 in 8 steps
        recipe["training"]["max_steps"] = -(-len(kept_pairs(source)) // recipe["training"]["per_device_train_batch_size"])
    return recipe


def kept_pairs(source: dict) -> list[dict]:
    """The DPO rows the recipe's source gives (after ``decision_balance`` drops the excess of one direction), read
    the way the trainer reads them, so that the step count is one epoch over what is actually trained on."""
    from tooljudge.data_prep.data_mix import load_source
    from tooljudge.train.recipe import DataSource

    rows, _ = load_source(DataSource(**source), "dpo")
    return rows


def train(seed: int) -> Path:
    out = WORK / f"seed_{seed}" / "dpo"
    # a recipe written before data.chosen_span (data.shared_prefix) existed trained the default, "full" ("answer")
    return run_stage("dpo", dpo_recipe(seed), out, WORK / f"seed_{seed}" / "dpo_recipe.yaml",
                     {"data": {"chosen_span": "full", "shared_prefix": "answer"}})


def run_stage(kind: str, recipe: dict, out: Path, path: Path, defaults: dict | None = None) -> Path:
    """Train one stage (``train/<kind>.py`` on ``recipe`` written to ``path``) into ``out``, or reuse ``out`` when an
    earlier start of this script trained it with the same recipe (``defaults`` fill keys older recipes lack)."""
    if (out / "DONE").exists():
        changed = changed_settings(yaml.safe_load(path.read_text()), recipe, defaults)
        if changed:
            raise FileExistsError(f"{out} was trained with other settings ({', '.join(changed)}; its recipe: {path})")
        return out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    subprocess.run([sys.executable, str(ROOT / "train" / f"{kind}.py"), str(path)], cwd=ROOT, check=True)
    return out


def configure(argv: list[str] | None = None) -> argparse.Namespace:
    """Point the module's settings at one variant: the DPO point mix's irrelevance share (the other categories
    keep the preset's proportions), the chosen span, the other options, and the results and work folders."""
    global MIX, CHOSEN_SPAN, DEST, WORK, SEEDS, LEARNING_RATE, PAIRS, DECISION_BALANCE, SFT_MIX, NLL_WEIGHT, KINDS
    global SFT_WORK, SHARED_PREFIX, DPO_BF16, PROMPT_ONCE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--irrelevance", type=float, default=MIX["irrelevance"], help="irrelevance share of DPO points")
    parser.add_argument("--chosen-span", default=CHOSEN_SPAN, choices=("full", "to_first_difference"),
                        help="data.chosen_span of the DPO recipe")
    parser.add_argument("--shared-prefix", default=SHARED_PREFIX, choices=("answer", "prompt"),
                        help="data.shared_prefix of the DPO recipe")
    parser.add_argument("--dest", default=DEST.name, help="folder under benchmarks/results/ for the results")
    parser.add_argument("--learning-rate", type=float, default=None, help="DPO learning rate (default: the preset's)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="DPO points (default: the preset's 32); steps follow, one epoch at the recipe's batch")
    parser.add_argument("--decision-balance", type=float, default=None,
                        help="the DPO source's decision_balance (default: none, pairs as drawn); steps follow the kept pairs")
    parser.add_argument("--nll-weight", type=float, default=None,
                        help="weight of the NLL (sft) term of loss_type [sigmoid, sft] (default: the preset's 1.0)")
    parser.add_argument("--sft-irrelevance", type=float, default=None,
                        help="retrain SFT with this irrelevance share of its points (default: the preset run's SFT)")
    parser.add_argument("--work", default=None,
                        help="folder under runs/ for checkpoints and evals (default: from --dest); another run's folder "
                             "reuses its finished stages when their saved recipes match")
    parser.add_argument("--kinds", nargs="+", default=None,
                        help="the DPO source's pair kinds (default: the preset's); steps follow the pairs made")
    parser.add_argument("--sft-work", default=None,
                        help="with --sft-irrelevance: folder under runs/ that holds (or will hold) the retrained SFT "
                             "stage, when it is not --work (so a new DPO variant can start from another run's SFT)")
    parser.add_argument("--dpo-bf16", choices=("true", "false"), default=None,
                        help="training.bf16 of the DPO recipe (default: the saved recipe's, auto)")
    parser.add_argument("--prompt-once", action="store_true",
                        help="data.prompt_once of the DPO recipe (each pair's prompt computed once; the same losses)")
    parser.add_argument("--sft-only", action="store_true", help="train and score the SFT stage only (no DPO)")
    parser.add_argument("--no-preset-comparison", action="store_true",
                        help="with --sft-irrelevance, do not pair the retrained SFT with the preset's SFT (which "
                             "needs the preset run's SFT of every seed under runs/effect)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="seeds (1 and 2 reuse the preset run's SFT; others are trained and scored here first)")
    args = parser.parse_args(argv)
    SEEDS = tuple(args.seeds)
    LEARNING_RATE = args.learning_rate
    PAIRS = args.pairs
    DECISION_BALANCE = args.decision_balance
    NLL_WEIGHT = args.nll_weight
    KINDS = args.kinds
    if args.irrelevance != MIX["irrelevance"]:
        MIX = with_irrelevance(args.irrelevance)
    if args.sft_irrelevance is not None:
        SFT_MIX = with_irrelevance(args.sft_irrelevance)
    CHOSEN_SPAN = args.chosen_span
    SHARED_PREFIX = args.shared_prefix
    DPO_BF16 = args.dpo_bf16
    PROMPT_ONCE = args.prompt_once
    DEST = DEST.parent / args.dest
    WORK = WORK.parent / (args.work or args.dest.removeprefix("cpu_2026-12-01_"))
    SFT_WORK = WORK.parent / args.sft_work if args.sft_work else None
    DEST.mkdir(parents=True, exist_ok=True)
    return args


def with_irrelevance(share: float) -> dict[str, float]:
    """The preset's point mix with ``share`` of irrelevance, the other categories keeping their proportions."""
    rest = 1.0 - PRESET_MIX["irrelevance"]
    return {k: (share if k == "irrelevance" else round(v * (1.0 - share) / rest, 4)) for k, v in PRESET_MIX.items()}


def sft_comparison(preset: dict[int, list[dict]], variant: dict[int, list[dict]], sets: list[str]) -> list[dict]:
    """Per eval set, the preset's SFT against this variant's retrained SFT on the same rows, pooled over seeds
    (paired, clustered by eval row, as ``stage_entries``)."""
    out = []
    for eval_set in sets:
        before, after = keyed(preset, eval_set, sets), keyed(variant, eval_set, sets)
        row_of = {key: str(r["id"]) for key, r in after.items()}
        paired = clustered_comparison({k: bool(r["correct"]) for k, r in before.items()},
                                      {k: bool(r["correct"]) for k, r in after.items()}, row_of)
        out.append({"set": eval_set, "n": len(after), "preset_sft": paired.before_correct / paired.n,
                    "variant_sft": paired.after_correct / paired.n, "p": paired.p_value,
                    "recall_preset": irrelevance_recall(before.values()),
                    "recall_variant": irrelevance_recall(after.values()),
                    "calls_preset": sum(bool(r["made_call"]) for r in before.values()),
                    "calls_variant": sum(bool(r["made_call"]) for r in after.values())})
    return out


def main() -> None:
    args = configure()
    started = time.time()
    if SFT_MIX is not None and (args.sft_only or not args.no_preset_comparison):
        missing = missing_preset_sft()
        if missing:
            raise SystemExit("the comparison with the preset's SFT needs " + ", ".join(map(str, missing))
                             + " (a run without --sft-irrelevance trains and scores them); or leave the comparison "
                             "out with --no-preset-comparison (not with --sft-only, which is that comparison)")
    settings = json.loads((RUNS / "seed_1" / "round_0" / "eval" / "stage_settings.json").read_text())
    family = settings["family"]
    seconds: dict[str, float] = {}
    verdicts_builtin, verdicts_bfcl = {}, {}
    for seed in SEEDS:
        t = time.time()
        sft_fresh = not (sft_dir(seed) / "DONE").exists()
        sft_builtin, sft_bfcl = sft_stage(seed, family)
        if sft_fresh:
            seconds[f"{seed}/sft_train_and_eval"] = round(time.time() - t, 1)
        if args.sft_only:
            verdicts_builtin[seed], verdicts_bfcl[seed] = sft_builtin, sft_bfcl
            continue
        t = time.time()
        reused = (WORK / f"seed_{seed}" / "dpo" / "DONE").exists()
        model = train(seed)
        seconds[f"{seed}/dpo_train"] = None if reused else round(time.time() - t, 1)  # None: trained by an earlier start
        t = time.time()
        evaluate_stage(model, WORK / f"seed_{seed}" / "eval_builtin", dict(EVAL_BUILTIN), family, name=f"{seed}/dpo")
        evaluate_stage(model, WORK / f"seed_{seed}" / "eval_bfcl", dict(EVAL_BFCL), family, name=f"{seed}/dpo")
        seconds[f"{seed}/dpo_eval"] = round(time.time() - t, 1)
        print(f"[dpo_relevance] seed {seed}: {seconds}", flush=True)
        verdicts_builtin[seed] = {
            "base": builtin_only(read_verdicts(RUNS / "seed_1" / "round_0" / "eval" / "fc_examples.jsonl")),
            "sft": sft_builtin,
            "dpo": read_verdicts(WORK / f"seed_{seed}" / "eval_builtin" / "fc_examples.jsonl")}
        verdicts_bfcl[seed] = {
            "base": read_verdicts(ROWS60 / "base" / "fc_examples.jsonl"),
            "sft": sft_bfcl,
            "dpo": read_verdicts(WORK / f"seed_{seed}" / "eval_bfcl" / "fc_examples.jsonl")}
    if args.sft_only:
        write_sft_only(verdicts_builtin, verdicts_bfcl, family, seconds, started)
        return
    entries = stage_entries(verdicts_builtin, ["builtin"]) + stage_entries(verdicts_bfcl, BFCL)
    kept = {s: {"dpo_builtin": verdicts_builtin[s]["dpo"], "dpo_bfcl": verdicts_bfcl[s]["dpo"]} for s in SEEDS}
    if SFT_MIX is not None:  # the retrained SFT is this run's own stage: keep its verdicts too
        for s in SEEDS:
            kept[s].update(sft_builtin=verdicts_builtin[s]["sft"], sft_bfcl=verdicts_bfcl[s]["sft"])
    write_verdicts(kept, DEST, pack)
    calls = {f"{s}/{stage}": {name: sum(bool(r["made_call"]) for r in rows)
                              for name, rows in (("builtin", verdicts_builtin[s][stage]),
                                                 ("bfcl", verdicts_bfcl[s][stage]))}
             for s in SEEDS for stage in ("sft", "dpo")}
    summary = {"machine": machine(), "seeds": list(SEEDS), "mix": MIX,
               "chosen_span": CHOSEN_SPAN, "shared_prefix": SHARED_PREFIX, "learning_rate": LEARNING_RATE, "pairs": PAIRS,
               "decision_balance": DECISION_BALANCE, "sft_mix": SFT_MIX,
               "nll_weight": NLL_WEIGHT, "kinds": KINDS,
               "stages": entries, "rows_with_a_call": calls, "seconds": seconds}
    if SFT_MIX is not None and not args.no_preset_comparison:
        summary["preset_sft_vs_variant_sft"] = preset_vs_variant_sft(
            {s: verdicts_builtin[s]["sft"] for s in SEEDS}, {s: verdicts_bfcl[s]["sft"] for s in SEEDS}, family)
    (DEST / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    table = format_entries(entries)
    (DEST / "summary.md").write_text(table + "\n", encoding="utf-8")
    for s in SEEDS:
        for name in ("dpo_recipe.yaml", *(("sft_recipe.yaml",) if SFT_MIX is not None else ())):
            folder = sft_work() if name == "sft_recipe.yaml" else WORK
            (DEST / f"seed_{s}_{name}").write_text((folder / f"seed_{s}" / name).read_text(), encoding="utf-8")
        health = WORK / f"seed_{s}" / "dpo" / "dpo_health.json"
        if health.exists():
            (DEST / f"seed_{s}_dpo_health.json").write_text(health.read_text(), encoding="utf-8")
    print(table)
    print(json.dumps(calls))
    print(f"[dpo_relevance] done in {time.time() - started:.0f} s")


def machine() -> str:
    """This machine in words: CPU model, cores, and whether the recipes' ``bf16: auto`` trains in bf16 here (a run on
    a CPU with avx512_bf16 or AMX autocasts, one without trains float32: the same recipe gives other numbers)."""
    import os
    import platform

    from tooljudge.train.trl_seam import native_bf16

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    precision = "bf16 autocast (native bf16)" if native_bf16(True) else "float32 (no native bf16)"
    return f"{model}, {os.cpu_count()} cores, bf16: auto -> {precision}"


def missing_preset_sft() -> list[Path]:
    """What the comparison with the preset's SFT needs and this checkout lacks (checked before any training, so a
    run never trains for hours and then stops, or trains the preset's SFT unasked, at its end)."""
    needed = [p for s in SEEDS for p in (
        (RUNS / f"seed_{s}" / "round_1" / "eval_sft" / "fc_examples.jsonl", ROWS60 / f"{s}_sft" / "fc_examples.jsonl")
        if s in (1, 2) else (RUNS / f"seed_{s}" / "round_1" / "sft" / "DONE",))]
    return [p for p in needed if not p.exists()]


def preset_vs_variant_sft(verdicts_builtin: dict, verdicts_bfcl: dict, family: str) -> list[dict]:
    """The retrained SFT of each seed against the preset's SFT of that seed, per eval set."""
    preset = {s: preset_sft(s, family, train_missing=False) for s in SEEDS}
    return (sft_comparison({s: b for s, (b, _) in preset.items()}, verdicts_builtin, ["builtin"])
            + sft_comparison({s: f for s, (_, f) in preset.items()}, verdicts_bfcl, BFCL))


def write_sft_only(verdicts_builtin: dict, verdicts_bfcl: dict, family: str, seconds: dict, started: float) -> None:
    """Results of a retrained SFT alone: its verdicts, and the comparison with the preset's SFT."""
    rows = preset_vs_variant_sft(verdicts_builtin, verdicts_bfcl, family)
    write_verdicts({s: {"sft_builtin": verdicts_builtin[s], "sft_bfcl": verdicts_bfcl[s]} for s in SEEDS}, DEST, pack)
    summary = {"machine": machine(), "seeds": list(SEEDS), "sft_mix": SFT_MIX,
               "preset_sft_vs_variant_sft": rows, "seconds": seconds}
    (DEST / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for s in SEEDS:
        (DEST / f"seed_{s}_sft_recipe.yaml").write_text((WORK / f"seed_{s}" / "sft_recipe.yaml").read_text(),
                                                        encoding="utf-8")
    print(json.dumps(rows, indent=1))
    print(f"[dpo_relevance] done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
