"""benchmarks/effect.py over tooljudge.train.effect: two seeds of base -> SFT -> DPO on a tiny random model, 1
step each, 4 rows per eval set; the summary's schema, and every p-value, CI and recall recomputed here from the
per-row verdicts in the run's archive (an independent Wilson formula, and the paired p by enumerating every
sign pattern of the per-row changes summed over seeds)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
from pathlib import Path

import pytest
import yaml
from tooljudge.train.effect import EffectConfig, run_effect, seed_recipe

from tests.train_support import ROOT, pref_row, recipe_dict, sft_row, tiny_model, write_jsonl, write_recipe

CITIES = ["Paris", "Oslo", "Lima"]
ENTRY_KEYS = {"name", "set", "accuracy", "ci", "n", "n_clusters", "previous_accuracy", "p_vs_previous",
              "irrelevance_recall"}


def _archive_module():
    spec = importlib.util.spec_from_file_location("run_archive", ROOT / "benchmarks" / "run_archive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _eval_rows() -> list[dict]:
    """Held-out rows in the eval JSONL form: three weather calls and three requests no offered tool can do."""
    tools = sft_row(0)["tools"]
    calls = [{"id": f"w{i}", "category": "simple", "tools": tools, "messages": [
        {"role": "user", "content": f"Weather in {c}?"}], "ground_truth": [{"get_weather": {"city": [c]}}]}
        for i, c in enumerate(CITIES)]
    none = [{"id": f"n{i}", "category": "irrelevance", "tools": tools, "messages": [
        {"role": "user", "content": f"Book a flight to {c}."}], "ground_truth": []} for i, c in enumerate(CITIES)]
    return calls + none


def _recipe(tmp_path: Path, sets: list[str]) -> Path:
    from tooljudge.data_prep.families import family_template
    from transformers import AutoTokenizer

    model = tiny_model(tmp_path / "models")
    tok = AutoTokenizer.from_pretrained(model)
    tok.chat_template = family_template("qwen25")
    tok.save_pretrained(model)
    sft = recipe_dict("sft", model, write_jsonl(tmp_path / "sft.jsonl", [sft_row(i) for i in range(4)]),
                      tmp_path / "unused", max_steps=1)
    sft["lora"] = {"enabled": True, "r": 4, "alpha": 8, "target_modules": "all-linear"}
    dpo = recipe_dict("dpo", model, write_jsonl(tmp_path / "dpo.jsonl", [pref_row(i) for i in range(4)]),
                      tmp_path / "unused", max_steps=1)
    dpo["model"]["init_adapter_mode"] = "continue"
    rounds = {"output_dir": "replaced", "rounds": 1,
              "sft": str(write_recipe(tmp_path / "sft.yaml", sft)), "dpo": str(write_recipe(tmp_path / "dpo.yaml", dpo)),
              "eval": {"sets": sets, "max_examples": 4, "max_new_tokens": 4, "batch_size": 12},
              "judge_data": {"enabled": False}, "on_policy": {"enabled": False}, "export": {"enabled": False}}
    path = tmp_path / "effect.yaml"
    path.write_text(yaml.safe_dump(rounds))
    return path


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_effect_run_end_to_end_and_every_number_recomputed_from_the_archive(tmp_path):
    archive = _archive_module()
    # a held-out JSONL set (a path, so set names may hold "/") and a BFCL set; bfcl_simple and bfcl_multiple
    # load the same way (the GPU and CPU recipes name them) and are left out for the test's time
    sets = [str(write_jsonl(tmp_path / "held_out.jsonl", _eval_rows())), "bfcl_irrelevance"]
    results = tmp_path / "results"
    (results / "t").mkdir(parents=True)
    (results / "t" / "effect_summary.json").write_text(json.dumps({"judge": {"protocols": {"qa": {"n": 1}}}}))
    cfg = EffectConfig(recipe=str(_recipe(tmp_path, sets)), seeds=[0, 1], run="t", results_dir=str(results),
                       runs_dir=str(tmp_path / "runs"), machine="cpu: test",
                       overrides=["eval.max_new_tokens=7", "dpo_overrides.training.logging_steps=1"])
    dest, fc = run_effect(cfg, archive.pack)

    # the overrides reached every seed's recipe and are recorded beside the results
    settings = json.loads((dest / "effect_settings.json").read_text())
    assert settings["overrides"] == {"eval.max_new_tokens": 7, "dpo_overrides.training.logging_steps": 1}
    assert settings["recipe"] == cfg.recipe and settings["seeds"] == [0, 1]
    for seed in (0, 1):
        written = yaml.safe_load((tmp_path / "runs" / f"seed_{seed}" / "rounds_recipe.yaml").read_text())
        assert written["eval"]["max_new_tokens"] == 7 and written["dpo_overrides"]["training"]["logging_steps"] == 1

    summary = json.loads((dest / "effect_summary.json").read_text())
    assert summary["judge"] == {"protocols": {"qa": {"n": 1}}}  # another pipeline's key kept
    assert set(summary) == {"fc", "judge"} and summary["fc"] == fc
    assert set(fc) == {"machine", "seeds", "stages"} and fc["machine"] == "cpu: test" and fc["seeds"] == [0, 1]
    assert [(e["set"], e["name"]) for e in fc["stages"]] == [(s, n) for s in sets for n in ("base", "sft", "dpo")]
    assert all(set(e) == ENTRY_KEYS for e in fc["stages"])

    # the verdicts: one file per seed and stage, only in the archive
    members = {name: [json.loads(x) for x in data.decode().splitlines()]
               for name, data in archive.read_all(dest / "fc" / "rows.tar.xz").items()}
    assert sorted(members) == [f"seed_{s}/{n}.jsonl" for s in (0, 1) for n in ("base", "dpo", "sft")]
    assert not list((dest / "fc").rglob("*.jsonl"))
    assert members["seed_0/base.jsonl"] == members["seed_1/base.jsonl"]  # the base is evaluated once

    by_key = {(e["set"], e["name"]): e for e in fc["stages"]}
    for eval_set in sets:
        previous = None
        for stage in ("base", "sft", "dpo"):
            rows = {f"{s}:{r['id']}": r for s in (0, 1) for r in members[f"seed_{s}/{stage}.jsonl"]
                    if r["id"].startswith(eval_set + "/")}
            n = len(rows)
            assert n == 8  # 4 rows x 2 seeds, none repeated
            entry = by_key[(eval_set, stage)]
            k = sum(r["correct"] for r in rows.values())
            assert entry["n"] == n and entry["accuracy"] == k / n and entry["n_clusters"] == 4
            assert entry["ci"] == pytest_approx(_wilson(k, n))
            irrelevant = [r for r in rows.values() if r["no_call_expected"]]
            expected_recall = sum(not r["made_call"] for r in irrelevant) / len(irrelevant) if irrelevant else None
            assert entry["irrelevance_recall"] == expected_recall
            assert len(irrelevant) == (n if eval_set == "bfcl_irrelevance" else 4)
            if previous is None:
                assert entry["previous_accuracy"] is None and entry["p_vs_previous"] is None
            else:
                assert set(rows) == set(previous)  # the paired test compares the same rows
                change: dict[str, int] = {}  # per eval row, summed over seeds: the test's unit is the row
                for key, r in rows.items():
                    row_id = key.split(":", 1)[1]
                    change[row_id] = change.get(row_id, 0) + int(r["correct"]) - int(previous[key]["correct"])
                assert entry["p_vs_previous"] == pytest_approx(_every_sign_pattern(list(change.values())))
                assert entry["previous_accuracy"] == sum(r["correct"] for r in previous.values()) / n
            previous = rows

    per_seed = json.loads((dest / "effect_per_seed.json").read_text())["seeds"]
    assert sorted(per_seed) == ["0", "1"] and all(e["n"] == e["n_clusters"] == 4 for e in per_seed["1"])
    assert (dest / "effect_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _every_sign_pattern(changes: list[int]) -> float:
    """P(|sum of +-change| >= |observed sum|) over all 2^rows sign patterns, counted."""
    patterns = list(itertools.product((1, -1), repeat=len(changes)))
    observed = abs(sum(changes))
    return sum(abs(sum(s * c for s, c in zip(signs, changes, strict=True))) >= observed
               for signs in patterns) / len(patterns)


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_seed_recipe_shifts_training_and_data_seeds_and_keeps_the_eval():
    raw = yaml.safe_load((ROOT / "recipes" / "effect_cpu.yaml").read_text())
    out = seed_recipe(raw, 2, Path("runs/x/seed_2"), baseline=False)
    assert out["output_dir"] == "runs/x/seed_2" and out["baseline"] is False
    for stage, base_seed in (("sft_overrides", 0), ("dpo_overrides", 500)):
        assert out[stage]["training"]["seed"] == 2
        assert [s["options"]["seed"] for s in out[stage]["data"]["sources"]] == [base_seed + 2]
    assert out["eval"] == raw["eval"] and raw["sft_overrides"]["data"]["sources"][0]["options"]["seed"] == 0


@pytest.mark.parametrize("name", ["effect_cpu.yaml", "effect_gpu.yaml"])
def test_shipped_effect_recipes_resolve_their_stages_and_name_the_issue_sets(name, tmp_path, monkeypatch):
    from tooljudge.train.effect import eval_sets
    from tooljudge.train.rounds import _stage_recipe, load_rounds_recipe

    monkeypatch.chdir(ROOT)
    path = ROOT / "recipes" / name
    assert eval_sets(path) == ["builtin", "bfcl_simple", "bfcl_multiple", "bfcl_irrelevance"]
    cfg = load_rounds_recipe(path)
    sft = _stage_recipe(cfg.sft, cfg.sft_overrides, tmp_path / "sft", None, [])
    dpo = _stage_recipe(cfg.dpo, cfg.dpo_overrides, tmp_path / "dpo", None, [])
    assert [s.source for s in sft.data.sources] == [s.source for s in dpo.data.sources] == ["builtin:tool_world"]
    kinds = set(dpo.data.sources[0].options["kinds"])
    if name == "effect_cpu.yaml":  # "how" pairs only, the opening both answers share moved into the prompt
        assert not kinds & {"near_miss_call", "refusal_when_tool_fits"} and "wrong_value" in kinds
        assert (dpo.data.shared_prefix, dpo.data.chosen_span) == ("prompt", "full")
        assert sft.data.sources[0].options["mix"]["irrelevance"] == 0.6
        from tooljudge.eval.hook import EvalHookConfig

        caps = EvalHookConfig.from_any(cfg.eval).fc_config()  # what each stage's eval is given
        assert (caps.max_examples, caps.max_examples_per_set) == (20, {"bfcl_simple": 40, "bfcl_multiple": 40})
    else:
        assert {"near_miss_call", "refusal_when_tool_fits"} <= kinds
    assert not cfg.on_policy.enabled and not cfg.judge_data.enabled


def _verdicts(eval_set: str, correct: list[bool], irrelevant: int = 0) -> list[dict]:
    return [{"id": f"{eval_set}/r{i}", "correct": ok, "made_call": not (i < irrelevant and ok),
             "no_call_expected": i < irrelevant} for i, ok in enumerate(correct)]


def test_stage_entries_on_hand_counted_verdicts():
    """Two seeds of 10 rows: SFT flips rows 0-5 wrong -> right in seed 0 and rows 0-3 in seed 1, none back: per
    row (the test's unit) +2, +2, +2, +2, +1, +1 and four 0, all six changed rows up: p = 2 / 2**6 (pooled
    McNemar would say 2 * 0.5**10). DPO loses one row of seed 1's irrelevance rows."""
    from tooljudge.train.effect import stage_entries

    base = _verdicts("builtin", [False] * 10, irrelevant=2) + _verdicts("bfcl_simple", [False] * 2)
    sft = {0: _verdicts("builtin", [True] * 6 + [False] * 4, irrelevant=2),
           1: _verdicts("builtin", [True] * 4 + [False] * 6, irrelevant=2)}
    dpo1 = _verdicts("builtin", [True] * 4 + [False] * 6, irrelevant=2)
    dpo1[0]["correct"], dpo1[0]["made_call"] = False, True
    verdicts = {s: {"base": base, "sft": sft[s] + _verdicts("bfcl_simple", [True, False]),
                    "dpo": (sft[0] if s == 0 else dpo1) + _verdicts("bfcl_simple", [True, False])} for s in (0, 1)}
    entries = {(e["set"], e["name"]): e for e in stage_entries(verdicts, ["builtin", "bfcl_simple"])}
    b, s, d = (entries[("builtin", n)] for n in ("base", "sft", "dpo"))
    assert (b["accuracy"], b["n"], b["n_clusters"], b["p_vs_previous"], b["irrelevance_recall"]) == (
        0.0, 20, 10, None, 0.0)
    assert b["ci"] == pytest.approx([0.0, 0.16113], abs=1e-5)  # Wilson, 0 of 20
    assert (s["accuracy"], s["previous_accuracy"], s["irrelevance_recall"]) == (0.5, 0.0, 1.0)
    assert s["p_vs_previous"] == 2 / 2**6
    assert (d["accuracy"], d["previous_accuracy"], d["irrelevance_recall"]) == (0.45, 0.5, 0.75)
    assert d["p_vs_previous"] == 1.0  # one row down by 1: both sign patterns are as extreme
    assert entries[("bfcl_simple", "sft")]["irrelevance_recall"] is None
    # one win per seed on the same row: one row up by 2, both patterns as extreme (pooled McNemar: 0.5)
    assert entries[("bfcl_simple", "sft")]["p_vs_previous"] == 1.0


def test_seeds_in_processes_give_the_same_summary_as_one_after_another(tmp_path):
    """``jobs`` > 1 runs each seed's rounds in its own process; the verdicts, and so every number, must equal
    those of the in-process run on the same recipe (greedy decoding, seeded training)."""
    archive = _archive_module()
    recipe = str(_recipe(tmp_path, ["bfcl_irrelevance"]))
    results = tmp_path / "results"
    fcs, dests = {}, {}
    for jobs in (1, 2):
        cfg = EffectConfig(recipe=recipe, seeds=[0, 1], run=f"jobs{jobs}", results_dir=str(results),
                           runs_dir=str(tmp_path / f"runs{jobs}"), machine="cpu: test", jobs=jobs)
        dests[jobs], fcs[jobs] = run_effect(cfg, archive.pack)
    assert fcs[2] == fcs[1]
    assert archive.read_all(dests[2] / "fc" / "rows.tar.xz") == archive.read_all(dests[1] / "fc" / "rows.tar.xz")
    rounds = {j: json.loads((dests[j] / "effect_rounds.json").read_text()) for j in (1, 2)}
    assert all(r["process_seconds"] is None for r in rounds[1].values())
    assert all(r["process_seconds"] > 0 for r in rounds[2].values())
    for seed in (0, 1):
        assert "rounds done" in (tmp_path / "runs2" / f"seed_{seed}" / "rounds.log").read_text()
        assert not (tmp_path / "runs1" / f"seed_{seed}" / "rounds.log").exists()
    # the base is evaluated by the first seed's process only
    assert (tmp_path / "runs2" / "seed_0" / "round_0" / "eval" / "fc_examples.jsonl").exists()
    assert not (tmp_path / "runs2" / "seed_1" / "round_0").exists()


def test_a_failed_seed_process_is_named_with_its_log(tmp_path):
    from tooljudge.train.effect import run_seed_processes

    bad = tmp_path / "seed_3" / "rounds_recipe.yaml"
    bad.parent.mkdir()
    bad.write_text("rounds: 1\nsft: no/such/recipe.yaml\n")
    with pytest.raises(RuntimeError, match=r"seed 3 \(exit code [1-9]\d*; log .*seed_3/rounds.log\)"):
        run_seed_processes({3: bad}, jobs=2)
    assert (tmp_path / "seed_3" / "rounds.log").read_text()


def test_seed_processes_import_the_installed_package_not_a_folder_of_the_working_directory(tmp_path, monkeypatch):
    """A checkout's root holds the source folder ``tooljudge/`` (no ``train`` package: pyproject maps it), and
    ``python -m`` puts the working directory first on sys.path: the first GPU run's three seeds died on
    ``No module named 'tooljudge.train'``. Here a module of the same name sits in the working directory (exits
    3) and on PYTHONPATH (the installed one, exits 0): the seed process must run the installed one."""
    from tooljudge.train.effect import run_seed_processes

    for folder, code in ((tmp_path / "cwd", 3), (tmp_path / "site", 0)):
        (folder / "seedmod").mkdir(parents=True)
        (folder / "seedmod" / "__init__.py").write_text("")
        (folder / "seedmod" / "__main__.py").write_text(f"import sys; print(__file__); sys.exit({code})\n")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    recipe = tmp_path / "seed_0" / "rounds_recipe.yaml"
    recipe.parent.mkdir()
    recipe.write_text("{}\n")
    seconds = run_seed_processes({0: recipe}, jobs=2, module="seedmod")
    assert set(seconds) == {0} and str(tmp_path / "site") in (recipe.parent / "rounds.log").read_text()


def test_seed_processes_share_the_cores_out_unless_the_user_set_threads(tmp_path, monkeypatch):
    """torch gives every process a thread per core: ``jobs`` seed processes get cores // jobs threads each, and a
    user's ``OMP_NUM_THREADS`` is passed on unchanged."""
    import tooljudge.train.effect as effect

    (tmp_path / "site" / "threadmod").mkdir(parents=True)
    (tmp_path / "site" / "threadmod" / "__init__.py").write_text("")
    (tmp_path / "site" / "threadmod" / "__main__.py").write_text(
        "import os; print('threads', os.environ['OMP_NUM_THREADS'])\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setattr(effect, "usable_cores", lambda: 8)
    recipes = {}
    for seed in (0, 1, 2):
        recipes[seed] = tmp_path / f"seed_{seed}" / "rounds_recipe.yaml"
        recipes[seed].parent.mkdir()
        recipes[seed].write_text("{}\n")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    effect.run_seed_processes(recipes, jobs=3, module="threadmod")
    assert {(tmp_path / f"seed_{s}" / "rounds.log").read_text() for s in recipes} == {"threads 2\n"}  # 8 // 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    effect.run_seed_processes({0: recipes[0]}, jobs=2, module="threadmod")
    assert (tmp_path / "seed_0" / "rounds.log").read_text() == "threads 5\n"
    assert effect.seed_process_env(16)["OMP_NUM_THREADS"] == "5"
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert effect.seed_process_env(16)["OMP_NUM_THREADS"] == "1"  # never 0


def test_cpu_heap_is_set_for_the_stages_unless_the_user_set_it():
    from tooljudge.train.effect import EffectConfig, apply_cpu_heap

    env: dict[str, str] = {}
    assert apply_cpu_heap(EffectConfig(), env) == "keep" and env == {"TOOLJUDGE_CPU_HEAP": "keep"}
    env = {"TOOLJUDGE_CPU_HEAP": "default"}
    assert apply_cpu_heap(EffectConfig(), env) == "default"  # the user's value wins
    assert apply_cpu_heap(EffectConfig(cpu_heap="default"), {}) == "default"
    with pytest.raises(ValueError, match="cpu_heap='fast': use one of default, keep"):
        apply_cpu_heap(EffectConfig(cpu_heap="fast"), {})


def test_recipe_overrides_read_yaml_values_and_refuse_what_they_cannot_set(tmp_path):
    from tooljudge.train.effect import effect_recipe, parse_recipe_overrides
    from tooljudge.train.recipe import RecipeError

    assert parse_recipe_overrides(["a.b=2.0e-4", "c=[1, 2]", "d={n: 8, mix: {x: 0.5}}", "e=no", "f="]) == {
        "a.b": 2e-4, "c": [1, 2], "d": {"n": 8, "mix": {"x": 0.5}}, "e": "no", "f": ""}
    for bad, said in (("a.b", "KEY=VALUE"), ("=1", "KEY=VALUE"), ("a..b=1", "KEY=VALUE"), ("a=[1", "not YAML")):
        with pytest.raises(ValueError, match=said):
            parse_recipe_overrides([bad])
    with pytest.raises(ValueError, match="given twice"):
        parse_recipe_overrides(["a=1", "a=2"])

    recipe = ROOT / "recipes" / "effect_cpu.yaml"
    sources = [{"source": "builtin:synthetic", "weight": 1.0, "options": {"n": 8, "seed": 0}}]
    raw = effect_recipe(EffectConfig(recipe=str(recipe), overrides=[
        "sft_overrides.training.learning_rate=2e-4", f"sft_overrides.data.sources={json.dumps(sources)}"]))
    from tooljudge.train.rounds import _stage_recipe, rounds_config_from_dict

    rounds = rounds_config_from_dict(raw)
    sft = _stage_recipe(str(ROOT / rounds.sft), rounds.sft_overrides, tmp_path / "sft", None, [])
    assert sft.training["learning_rate"] == 2e-4  # the text 2e-4 is a number once the stage recipe loads
    preset = yaml.safe_load(recipe.read_text())
    assert raw["sft_overrides"]["training"]["learning_rate"] == "2e-4"  # as YAML 1.1 reads it, like the training CLI
    assert raw["sft_overrides"]["data"]["sources"] == sources
    assert raw["dpo_overrides"] == preset["dpo_overrides"] and raw["eval"] == preset["eval"]  # the rest as shipped
    with pytest.raises(RecipeError, match="evall"):
        effect_recipe(EffectConfig(recipe=str(recipe), overrides=["evall.max_new_tokens=7"]))
    with pytest.raises(RecipeError, match="rounds"):
        effect_recipe(EffectConfig(recipe=str(recipe), overrides=["rounds=many"]))
    with pytest.raises(RecipeError, match="output_dir is not a mapping"):
        effect_recipe(EffectConfig(recipe=str(recipe), overrides=["output_dir.x=1"]))
