"""Does training help? base -> SFT -> DPO over several seeds, each stage paired against the one before it.

Why a layer over ``train/rounds.py`` and not a second orchestrator: one rounds recipe (``recipes/effect_cpu.yaml``
or ``recipes/effect_gpu.yaml``) is written per seed (``seed_recipe``: the training seeds and the seeds of the
built-in data sources shifted by the seed) and run by ``run_rounds``; this module only gathers what the stages
saved. The base model is evaluated once (the first seed's rounds run; greedy decoding on the same rows gives
the same verdicts for every seed) and its verdicts stand for every seed.

How seeds combine (``effect_summary.json``): each stage's entry per eval set pools the rows of every seed, a
row of seed s keyed ``s:<row id>``, and the Wilson CI is over the pooled rows. The same eval row appears once
per seed, so pooled rows are not independent: the paired test against the stage before takes the eval row as
its unit (``clustered_comparison``: exact sign-flip test on each row's change in right answers summed over
seeds; ``n_clusters`` rows stand behind ``n`` pooled verdicts). Per-seed entries, in the same form (one
observation per row: the exact McNemar test), are in ``effect_per_seed.json``, to check every seed's direction.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tooljudge.data_prep.jsonl import write_jsonl
from tooljudge.eval.fc_metrics import wilson_ci
from tooljudge.eval.paired_stats import clustered_comparison
from tooljudge.train.recipe import read_value
from tooljudge.train.rounds import apply_dotted, load_rounds_recipe, rounds_config_from_dict, run_rounds

from tooljudge.config import setting

Packer = Callable[[Path], object]  # benchmarks/run_archive.py's pack: a folder's per-row files into one archive
STAGES = (("base", "round_0/eval"), ("sft", "round_1/eval_sft"), ("dpo", "round_1/eval_dpo"))
SUMMARY = "effect_summary.json"
PER_SEED = "effect_per_seed.json"
PLOT = "effect_summary.png"  # train/effect_plot.py
VERDICTS_DIR = "fc"  # the per-row verdicts, packed into fc/rows.tar.xz (benchmarks/run_archive.py)
# What a verdict keeps of an eval record (the prompt is left out: it is the eval row rendered, and large)
VERDICT_KEYS = ("id", "category", "correct", "made_call", "no_call_expected", "called_names", "expected_names",
                "error_type", "reason", "output")


@dataclass
class EffectConfig:
    """One effect run: the rounds recipe every seed runs, the seeds, and where results go."""

    recipe: str = setting("recipes/effect_cpu.yaml", "the rounds recipe every seed runs (recipes/effect_gpu.yaml "
                          "on a GPU); its output_dir is replaced per seed")
    seeds: list[int] = setting(default_factory=lambda: [0, 1, 2], help="training and data seeds, one rounds run each")
    run: str = setting("", "results folder name under results_dir (default: <cpu|gpu>_<UTC date>_effect)")
    results_dir: str = setting("benchmarks/results", "where the run's results folder goes")
    runs_dir: str = setting("runs/effect", "where each seed's rounds folders go (checkpoints; not kept in git)")
    machine: str = setting("", "what ran it, in words (default: the GPU's name, or the CPU and its core count)")
    jobs: int = setting(1, "seeds trained and evaluated at once, each in its own process (a GPU holds several "
                        "135M runs, each bound by Python and kernel launches; the CPU cores are shared out among them, "
                        "OMP_NUM_THREADS = cores // jobs, unless you set it); 1: one after another, in this process")
    cpu_heap: str = setting("keep", "glibc heap setting of CPU training (TOOLJUDGE_CPU_HEAP, tooljudge/cpu_memory.py; "
                            "an environment value wins): keep, ~1.35x faster CPU SFT and DPO steps of the CPU preset "
                            "for about 1 GB more peak memory (an effect run is not held to the demo's 2 GB); default: "
                            "glibc's own")
    overrides: list[str] = setting(
        default_factory=list, help="changes to the recipe, each KEY=VALUE: a dotted key of the rounds recipe and a "
        "YAML value (sft_overrides.training.learning_rate=2e-4); a probe is the preset plus these, recorded in "
        "effect_settings.json")


@dataclass
class SeedRun:
    """One seed's rounds run: its folder and the summary ``run_rounds`` returned."""

    seed: int
    output_dir: Path
    summary: dict = field(default_factory=dict)
    process_seconds: float | None = None  # wall time of the seed's own process (``jobs`` > 1); else None


def detect_machine() -> str:
    """The GPU's name when torch sees one, else the CPU and how many cores this process may use."""
    import torch

    if torch.cuda.is_available():
        return f"gpu: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {platform.processor() or platform.machine()}, {usable_cores()} cores"


def _shift_source_seeds(sources: list[dict], seed: int) -> list[dict]:
    out = []
    for source in sources:
        source = json.loads(json.dumps(source))
        if str(source.get("source", "")).startswith("builtin:"):
            options = source.setdefault("options", {})
            options["seed"] = int(options.get("seed", 0)) + seed
        out.append(source)
    return out


def seed_recipe(raw: dict[str, Any], seed: int, output_dir: Path, baseline: bool) -> dict[str, Any]:
    """The rounds recipe of one seed: ``output_dir``, the base eval only where ``baseline``, ``training.seed``
    of SFT and DPO set to ``seed``, and every built-in data source's ``options.seed`` shifted by ``seed`` (new
    rows of the same generated tools). Eval rows stay the same for every seed (that is what pairs them)."""
    out = json.loads(json.dumps(raw))
    out["output_dir"] = str(output_dir)
    out["baseline"] = baseline
    out.setdefault("export", {})["enabled"] = False
    for stage in ("sft_overrides", "dpo_overrides"):
        over = out.setdefault(stage, {}) or {}
        out[stage] = over
        over.setdefault("training", {})["seed"] = seed
        data = over.get("data") or {}
        if data.get("sources"):
            data["sources"] = _shift_source_seeds(data["sources"], seed)
    return out


# ``python -m`` puts the working directory first on sys.path: run from a checkout, it finds the source folder
# ``tooljudge/`` (no ``train`` package: pyproject maps it) before the installed package, which broke all three
# seeds of the first GPU run. ``-P`` would fix it from Python 3.11 on; this works on 3.10 too.
_RUN_MODULE_OFF_CWD = ("import os, runpy, sys; cwd = os.getcwd(); "
                       "sys.path[:] = [p for p in sys.path if p not in ('', '.', cwd)]; "
                       "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def seed_process_env(jobs: int) -> dict[str, str]:
    """The environment of each seed process: the cores shared out (``OMP_NUM_THREADS`` = cores // jobs) unless
    the user set ``OMP_NUM_THREADS``. Why: torch gives every process one thread per core, so ``jobs`` processes
    would run ``jobs`` times as many threads as cores, and OpenMP threads that wait on each other slow far more
    than ``jobs`` times (measured on 2 cores: an eval beside a 2-thread run took 11 min for 17 rows, 2 min
    for the other 63 alone)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, usable_cores() // jobs)))
    return env


def run_seed_processes(recipes: dict[int, Path], jobs: int, module: str = "tooljudge.train.rounds"
                       ) -> dict[int, float]:
    """Each seed's rounds run as ``python -m <module> <recipe>`` (the working directory kept off sys.path),
    ``jobs`` at a time with the cores shared out (``seed_process_env``), its output in ``rounds.log`` beside
    the recipe; returns each seed's wall seconds. Raises naming every seed whose process failed and its log."""
    waiting, running, failed, seconds = list(recipes.items()), [], [], {}
    env = seed_process_env(min(jobs, len(recipes)))
    print(f"[tooljudge] effect: {min(jobs, len(recipes))} seed process(es) at once, OMP_NUM_THREADS="
          f"{env['OMP_NUM_THREADS']} each" + (" (yours)" if "OMP_NUM_THREADS" in os.environ else
                                              f" ({usable_cores()} cores shared out)"), flush=True)
    while waiting or running:
        while waiting and len(running) < jobs:
            seed, path = waiting.pop(0)
            log = path.parent / "rounds.log"
            with log.open("w", encoding="utf-8") as sink:
                proc = subprocess.Popen([sys.executable, "-c", _RUN_MODULE_OFF_CWD, module, str(path)],
                                        stdout=sink, stderr=subprocess.STDOUT, env=env)
            print(f"[tooljudge] effect: seed {seed} started (process {proc.pid}, log {log})", flush=True)
            running.append((seed, proc, log, time.time()))
        time.sleep(1.0)
        for item in [r for r in running if r[1].poll() is not None]:
            running.remove(item)
            seed, proc, log, started = item
            seconds[seed] = round(time.time() - started, 1)
            print(f"[tooljudge] effect: seed {seed} finished with exit code {proc.returncode}", flush=True)
            if proc.returncode != 0:
                failed.append(f"seed {seed} (exit code {proc.returncode}; log {log})")
    if failed:
        raise RuntimeError("effect: rounds run failed for " + ", ".join(failed))
    return seconds


def apply_cpu_heap(cfg: EffectConfig, environ: dict | None = None) -> str:
    """Set ``TOOLJUDGE_CPU_HEAP`` for this process and the seed processes unless already set; returns the value in
    force. Each CPU stage applies it when it starts (``train/run_setup.plan_run``); GPU runs never read it."""
    from tooljudge.cpu_memory import HEAP_CHOICES, HEAP_ENV

    environ = os.environ if environ is None else environ
    if cfg.cpu_heap not in HEAP_CHOICES:
        raise ValueError(f"cpu_heap={cfg.cpu_heap!r}: use one of {', '.join(HEAP_CHOICES)}")
    return environ.setdefault(HEAP_ENV, cfg.cpu_heap)


def parse_recipe_overrides(items: list[str]) -> dict[str, Any]:
    """``["a.b=VALUE", ...]`` -> ``{"a.b": value}``, each value read as on the training CLI (``recipe.read_value``:
    YAML, ``no`` a word; typed recipe fields coerce ``2e-4`` when the stage recipe loads).
    A malformed item, an empty key part or a key given twice raises naming the item."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part.strip() for part in key.split(".")):
            raise ValueError(f"override {item!r}: expected KEY=VALUE with a dotted key (dpo_overrides.training.seed=1)")
        if key in out:
            raise ValueError(f"override {item!r}: {key} is given twice")
        try:
            out[key] = read_value(text.strip())
        except yaml.YAMLError as err:
            raise ValueError(f"override {item!r}: the value is not YAML ({err.__class__.__name__})") from None
    return out


def effect_recipe(cfg: EffectConfig) -> dict[str, Any]:
    """The rounds recipe every seed starts from: ``cfg.recipe`` with ``cfg.overrides`` set, checked whole
    (an unknown key or a value of the wrong type raises ``RecipeError`` naming it) before anything runs."""
    raw = yaml.safe_load(Path(cfg.recipe).read_text(encoding="utf-8")) or {}
    raw = apply_dotted(raw, parse_recipe_overrides(cfg.overrides))
    rounds_config_from_dict(raw, source_path=cfg.recipe)
    return raw


def run_seeds(cfg: EffectConfig, raw: dict[str, Any] | None = None) -> list[SeedRun]:
    """Each seed's rounds run (a finished stage with the same settings is reused, so a stopped run resumes).
    With ``jobs`` > 1 the seeds run in processes first; the in-process pass then only reads their stages.
    ``raw``: the checked recipe (``effect_recipe(cfg)``) when the caller has it."""
    if cfg.jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {cfg.jobs}")
    print(f"[tooljudge] effect: CPU heap {apply_cpu_heap(cfg)} (TOOLJUDGE_CPU_HEAP)", flush=True)
    raw = effect_recipe(cfg) if raw is None else raw
    recipes: dict[int, Path] = {}
    for i, seed in enumerate(cfg.seeds):
        out = Path(cfg.runs_dir) / f"seed_{seed}"
        out.mkdir(parents=True, exist_ok=True)
        path = out / "rounds_recipe.yaml"
        path.write_text(yaml.safe_dump(seed_recipe(raw, seed, out, baseline=i == 0), sort_keys=False),
                        encoding="utf-8")
        recipes[seed] = path
    process_seconds = run_seed_processes(recipes, cfg.jobs) if cfg.jobs > 1 and len(recipes) > 1 else {}
    runs = []
    for i, (seed, path) in enumerate(recipes.items()):
        print(f"[tooljudge] effect: seed {seed} ({i + 1} of {len(cfg.seeds)}): {path}", flush=True)
        runs.append(SeedRun(seed, path.parent, run_rounds(load_rounds_recipe(path)), process_seconds.get(seed)))
    return runs


# ------------------------------------------------------------------------------------------------ gather


def set_of(record_id: str, sets: list[str]) -> str:
    """The eval set of a record: ``fc_eval.load_eval_rows`` prefixes ids with their set when there are several."""
    if len(sets) == 1:
        return sets[0]
    names = [s for s in sets if record_id.startswith(s + "/")]
    if not names:
        raise ValueError(f"eval record id {record_id!r} names none of the eval sets {sets}")
    return max(names, key=len)  # a set that is a path may hold "/" itself


def read_verdicts(path: Path) -> list[dict]:
    """The verdicts of one stage's ``fc_examples.jsonl``, each cut to ``VERDICT_KEYS``."""
    from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows

    if not path.exists():
        raise FileNotFoundError(f"{path}: the stage saved no per-row verdicts")
    return [{k: row.get(k) for k in VERDICT_KEYS} for _line, row in iter_rows(path, OUTPUT_LIMITS)]


def collect_verdicts(runs: list[SeedRun]) -> dict[int, dict[str, list[dict]]]:
    """``{seed: {stage: verdicts}}``; the base stage's verdicts come from the run that evaluated the base."""
    base_dirs = [r.output_dir for r in runs if (r.output_dir / STAGES[0][1] / "fc_examples.jsonl").exists()]
    if not base_dirs:
        raise FileNotFoundError("no seed's rounds run holds a base eval (round_0/eval/fc_examples.jsonl)")
    base = read_verdicts(base_dirs[0] / STAGES[0][1] / "fc_examples.jsonl")
    return {r.seed: {"base": base, **{name: read_verdicts(r.output_dir / sub / "fc_examples.jsonl")
                                      for name, sub in STAGES[1:]}} for r in runs}


def write_verdicts(verdicts: dict[int, dict[str, list[dict]]], dest: Path, pack: Packer) -> Path:
    """``dest/fc/seed_<s>/<stage>.jsonl`` for every seed and stage, then moved by ``pack`` (benchmarks/
    run_archive.py's, which checks the archive against the files before it deletes them) into one archive."""
    folder = dest / VERDICTS_DIR
    if folder.exists():
        raise FileExistsError(f"{folder} exists: pick a new --run name")
    for seed, stages in verdicts.items():
        for stage, rows in stages.items():
            write_jsonl(rows, folder / f"seed_{seed}" / f"{stage}.jsonl", allow_nan=True)  # eval records
    pack(folder)
    archives = sorted(p for p in folder.iterdir() if p.is_file())
    if len(archives) != 1 or any(p.suffix == ".jsonl" for p in folder.rglob("*")):
        raise RuntimeError(f"{folder}: pack left {[p.name for p in archives]}, expected one archive")
    return archives[0]


# ------------------------------------------------------------------------------------------------- stats


def keyed(verdicts_by_seed: dict[int, list[dict]], eval_set: str, sets: list[str]) -> dict[str, dict]:
    """``{"<seed>:<row id>": verdict}`` for the rows of ``eval_set``; a repeated key is an error (not pairable)."""
    out: dict[str, dict] = {}
    for seed, rows in verdicts_by_seed.items():
        for row in rows:
            if set_of(str(row["id"]), sets) != eval_set:
                continue
            key = f"{seed}:{row['id']}"
            if key in out:
                raise ValueError(f"eval row {row['id']!r} appears twice in seed {seed}'s verdicts")
            out[key] = row
    return out


def irrelevance_recall(rows: Iterable[dict]) -> float | None:
    """Share of the rows that need no call on which the model made none (None when no row needs none)."""
    irrelevant = [r for r in rows if r["no_call_expected"]]
    return sum(not r["made_call"] for r in irrelevant) / len(irrelevant) if irrelevant else None


def stage_entries(verdicts: dict[int, dict[str, list[dict]]], sets: list[str]) -> list[dict]:
    """One entry per (stage, eval set), in the issue's form, over the pooled rows of every seed in
    ``verdicts``; ``p_vs_previous`` is the p of this stage against the one before on the same keys, clustered
    by eval row (the row id after ``<seed>:``), and ``n_clusters`` the number of distinct rows."""
    entries = []
    stage_names = [name for name, _ in STAGES]
    for eval_set in sets:
        previous: dict[str, dict] | None = None
        for name in stage_names:
            rows = keyed({s: v[name] for s, v in verdicts.items()}, eval_set, sets)
            if not rows:
                raise ValueError(f"stage {name}: no verdicts of eval set {eval_set!r}")
            k, n = sum(bool(r["correct"]) for r in rows.values()), len(rows)
            row_of = {key: str(r["id"]) for key, r in rows.items()}
            entry = {"name": name, "set": eval_set, "accuracy": k / n, "ci": list(wilson_ci(k, n)), "n": n,
                     "n_clusters": len(set(row_of.values())), "previous_accuracy": None, "p_vs_previous": None,
                     "irrelevance_recall": irrelevance_recall(rows.values())}
            if previous is not None:
                paired = clustered_comparison({key: bool(r["correct"]) for key, r in previous.items()},
                                              {key: bool(r["correct"]) for key, r in rows.items()}, row_of)
                entry["previous_accuracy"] = paired.before_correct / paired.n
                entry["p_vs_previous"] = paired.p_value
            entries.append(entry)
            previous = rows
    return entries


def eval_sets(recipe: str | Path | dict[str, Any]) -> list[str]:
    """The function-call eval sets of a rounds recipe (a file or its dict), in the order the evals ran them."""
    cfg = rounds_config_from_dict(recipe) if isinstance(recipe, dict) else load_rounds_recipe(recipe)
    return [s for s in (cfg.eval.get("sets") or ["builtin"]) if not s.startswith("judge")]


def merge_summary(path: Path, key: str, value: dict) -> dict:
    """Write ``value`` under ``key`` of ``effect_summary.json`` (``fc`` here, ``judge`` from the judge pipeline),
    keeping every other key already there; atomic replace."""
    from tooljudge.data_prep.jsonl import atomic_write_text

    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return data


def write_fc_files(dest: Path, fc: dict, verdicts: dict[int, dict[str, list[dict]]], sets: list[str]) -> None:
    """``fc`` into ``dest/effect_summary.json`` (other keys kept), each seed's own entries into
    ``effect_per_seed.json``, both drawn in ``effect_summary.png``."""
    merge_summary(dest / SUMMARY, "fc", fc)
    per_seed = {"pooling": "each entry over one seed's rows; effect_summary.json pools every seed's rows",
                "seeds": {str(s): stage_entries({s: verdicts[s]}, sets) for s in fc["seeds"]}}
    (dest / PER_SEED).write_text(json.dumps(per_seed, indent=2) + "\n", encoding="utf-8")
    from tooljudge.train.effect_plot import plot_effect  # matplotlib only where a summary is written

    plot_effect(fc, per_seed["seeds"], dest / PLOT)


def summarize(runs: list[SeedRun], sets: list[str], dest: Path, machine: str, pack: Packer) -> dict:
    """Verdicts archived, pooled entries into ``effect_summary.json`` (``fc`` key), per-seed entries into
    ``effect_per_seed.json`` (both drawn in ``effect_summary.png``), each seed's rounds summary into
    ``effect_rounds.json``."""
    verdicts = collect_verdicts(runs)
    dest.mkdir(parents=True, exist_ok=True)
    write_verdicts(verdicts, dest, pack)
    seeds = [r.seed for r in runs]
    fc = {"machine": machine, "seeds": seeds, "stages": stage_entries(verdicts, sets)}
    write_fc_files(dest, fc, verdicts, sets)
    rounds = {str(r.seed): {"output_dir": str(r.output_dir), "seconds": r.summary.get("seconds"),
                            "process_seconds": r.process_seconds,
                            "stages": [{k: s.get(k) for k in ("stage", "seconds", "headline")}
                                       for s in r.summary.get("stages", [])]} for r in runs}
    (dest / "effect_rounds.json").write_text(json.dumps(rounds, indent=2, default=str) + "\n", encoding="utf-8")
    return fc


def format_entries(entries: list[dict]) -> str:
    lines = ["| set | stage | accuracy [95% CI] | n (rows) | previous | p vs previous | irrelevance recall |",
             "|---|---|---|---|---|---|---|"]
    for e in entries:
        prev = "-" if e["previous_accuracy"] is None else f"{e['previous_accuracy']:.3f}"
        p = "-" if e["p_vs_previous"] is None else f"{e['p_vs_previous']:.3g}"
        irr = "-" if e["irrelevance_recall"] is None else f"{e['irrelevance_recall']:.3f}"
        lines.append(f"| {e['set']} | {e['name']} | {e['accuracy']:.3f} [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}] | "
                     f"{e['n']} ({e['n_clusters']}) | {prev} | {p} | {irr} |")
    return "\n".join(lines)


def default_run_name(machine: str) -> str:
    return f"{machine.split(':', 1)[0]}_{time.strftime('%Y-%m-%d', time.gmtime())}_effect"


def write_settings(cfg: EffectConfig, dest: Path) -> Path:
    """``dest/effect_settings.json``: the recipe file, the overrides applied to it and the run's other options,
    so that a probe (the preset plus overrides) can be told apart from the preset and run again."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "effect_settings.json"
    settings = {"recipe": cfg.recipe, "overrides": parse_recipe_overrides(cfg.overrides), "seeds": cfg.seeds,
                "jobs": cfg.jobs, "cpu_heap": cfg.cpu_heap, "runs_dir": cfg.runs_dir}
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def run_effect(cfg: EffectConfig, pack: Packer) -> tuple[Path, dict]:
    """Every seed's stages, then the summary (verdicts archived by ``pack``): returns (results folder, the ``fc``
    section written)."""
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {cfg.seeds}")
    raw = effect_recipe(cfg)  # the recipe with its overrides, checked whole before any training
    sets = eval_sets(raw)
    machine = cfg.machine or detect_machine()
    dest = Path(cfg.results_dir) / (cfg.run or default_run_name(machine))
    if (dest / VERDICTS_DIR).exists():
        raise FileExistsError(f"{dest / VERDICTS_DIR} exists: pick a new --run name")
    write_settings(cfg, dest)
    started = time.time()
    runs = run_seeds(cfg, raw)
    fc = summarize(runs, sets, dest, machine, pack)
    print(format_entries(fc["stages"]), flush=True)
    print(f"[tooljudge] effect: {len(cfg.seeds)} seeds in {time.time() - started:.0f}s; {dest / SUMMARY}", flush=True)
    return dest, fc
