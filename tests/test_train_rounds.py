"""train/rounds.py: the rounds recipe schema, the summary, and a whole run on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tooljudge.train.recipe import RecipeError
from tooljudge.train.rounds import (
    _flatten,
    headline,
    load_rounds_recipe,
    rounds_config_from_dict,
    run_rounds,
    summary_markdown,
)

from tests.train_support import pref_row, recipe_dict, sft_row, tiny_model, write_jsonl, write_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_demo_recipe_loads():
    cfg = load_rounds_recipe(ROOT / "recipes" / "smollm2_demo_rounds.yaml")
    assert cfg.rounds == 1 and cfg.sft.endswith("smollm2_demo.yaml") and cfg.dpo.endswith("smollm2_demo_dpo.yaml")
    assert cfg.judge_data.enabled and cfg.export.enabled


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*_rounds.yaml")), ids=lambda p: p.stem)
def test_every_shipped_rounds_recipe_resolves_its_stages(path, tmp_path, monkeypatch):
    """Each rounds recipe, with its overrides applied, gives valid SFT and DPO stage recipes (checked whole)."""
    from tooljudge.train.rounds import _stage_recipe

    monkeypatch.chdir(ROOT)  # recipe paths inside are relative to the repo root
    cfg = load_rounds_recipe(path)
    extra = [{"source": str(tmp_path / "pairs.jsonl"), "format": "preference", "weight": 1.0}]
    sft = _stage_recipe(cfg.sft, cfg.sft_overrides, tmp_path / "sft", None, [])
    dpo = _stage_recipe(cfg.dpo, cfg.dpo_overrides, tmp_path / "dpo", None, extra)
    assert sft.kind == "sft" and dpo.kind == "dpo" and dpo.data.sources[-1].source == extra[0]["source"]
    if cfg.dpo_overrides.get("data.sources") == []:
        assert len(dpo.data.sources) == 1  # only what rounds adds


def test_unknown_keys_are_named():
    with pytest.raises(RecipeError, match=r"unknown key 'roundz' in the rounds recipe \(did you mean 'rounds'\?\)"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "roundz": 2})
    with pytest.raises(RecipeError, match=r"unknown key 'judge_data.nn' in judge_data"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "judge_data": {"nn": 3}})
    with pytest.raises(RecipeError, match="'dpo' must name a recipe file"):
        rounds_config_from_dict({"sft": "a.yaml"})
    with pytest.raises(RecipeError, match="rounds must be >= 1"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "rounds": 0})
    with pytest.raises(RecipeError, match=r"on_policy.mix: unknown categories \['irrelevant'\]"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "on_policy": {"mix": {"irrelevant": 1.0}}})
    with pytest.raises(RecipeError, match="on_policy.mix: mix weights must be numbers >= 0"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "on_policy": {"mix": {"single": -1}}})
    with pytest.raises(RecipeError, match="on_policy.mix: mix weights must be numbers >= 0"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "on_policy": {"mix": {"single": 0}}})
    with pytest.raises(RecipeError, match=r"on_policy.sample_from: 'dpo' is not one of previous_round\|sft"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "on_policy": {"sample_from": "dpo"}})


def test_stage_overrides_flatten_to_recipe_override_keys():
    assert _flatten({"training": {"max_steps": 2, "lr": 1e-4}, "lora": {"enabled": True}}) == {
        "training.max_steps": 2, "training.lr": 1e-4, "lora.enabled": True}
    cfg = rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml",
                                   "sft_overrides": {"training": {"max_steps": 3}}})
    assert cfg.sft_overrides == {"training.max_steps": 3}


def test_headline_reads_fc_and_judge_results():
    ast = {"value": 0.25, "k": 5, "n": 20, "ci_low": 0.11, "ci_high": 0.47}
    results = {
        "function_calls": {"metrics": {"overall": {"ast_accuracy": ast, "irrelevance_recall": None}}},
        "judge": {"judge:x.jsonl": {"protocols": {"qa": {
            "accuracy": 0.625, "normal_ci": {"estimate": 0.625, "low": 0.4, "high": 0.85, "n": 8}}}}},
    }
    head = headline(results)
    assert head["fc_ast_accuracy"] == ast
    assert "fc_irrelevance_recall" not in head  # undefined (no irrelevance rows) is not reported as 0
    assert head["judge_qa_accuracy"] == {"value": 0.625, "ci_low": 0.4, "ci_high": 0.85, "n": 8}
    table = summary_markdown([{"stage": "base", "headline": head}])
    assert "| base | 0.250 [0.11, 0.47] (n=20) | 0.625 [0.40, 0.85] (n=8) |" in table


def _tiny_rounds(tmp_path: Path, rounds: int, on_policy: dict, judge: bool = True) -> dict:
    """A rounds recipe over a tiny random model whose tokenizer carries the qwen25 template."""
    from tooljudge.data_prep.families import family_template
    from transformers import AutoTokenizer

    model = tiny_model(tmp_path / "models")
    tok = AutoTokenizer.from_pretrained(model)  # a chat model ships a template; the base stage renders with it
    tok.chat_template = family_template("qwen25")
    tok.save_pretrained(model)
    sft_data = write_jsonl(tmp_path / "sft.jsonl", [sft_row(i) for i in range(8)])
    dpo_data = write_jsonl(tmp_path / "dpo.jsonl", [pref_row(i) for i in range(8)])
    sft = recipe_dict("sft", model, sft_data, tmp_path / "unused_sft", max_steps=2)
    sft["lora"] = {"enabled": True, "r": 4, "alpha": 8, "target_modules": "all-linear"}
    dpo = recipe_dict("dpo", model, dpo_data, tmp_path / "unused_dpo", max_steps=2)
    dpo["model"]["init_adapter_mode"] = "continue"
    return {
        "output_dir": str(tmp_path / "run"), "rounds": rounds,
        "sft": str(write_recipe(tmp_path / "sft.yaml", sft)),
        "dpo": str(write_recipe(tmp_path / "dpo.yaml", dpo)),
        "eval": {"sets": ["builtin"], "max_examples": 5, "max_new_tokens": 12, "batch_size": 5},
        "judge_data": {"enabled": judge, "tasks": ["arithmetic"], "n_train": 2, "n_pairs": 2, "n_eval": 3},
        "on_policy": {"prompts": 2, "n_samples": 2, "max_new_tokens": 12, **on_policy},
        "export": {"enabled": True, "merge": False},
    }


def test_on_policy_pairs_from_this_rounds_sft_model_feed_its_dpo(tmp_path, capsys):
    """sample_from: sft -- round 1's DPO trains on pairs sampled from round 1's SFT model, and every stage
    is compared with the one before it, paired on the same examples. decision_balance: with only one-call
    prompts no pair can teach "reply over call", so at most one teaching "call over reply" is kept."""
    rounds = _tiny_rounds(tmp_path, 1, {"sample_from": "sft", "mix": {"single": 1.0}, "decision_balance": 1.0},
                          judge=False)
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump(rounds))
    summary = run_rounds(load_rounds_recipe(path))

    run = tmp_path / "run"
    pairs_file = run / "data" / "on_policy_round_1.jsonl"
    report = json.loads((run / "round_1" / "on_policy_report.json").read_text())
    assert report["sampled_from"] == str(run / "round_1" / "sft")
    assert report["samples"] == 4 and report["pairs"] == len(pairs_file.read_text().splitlines()) > 0
    # on_policy.mix {"single": 1}: every prompt is a one-call request, so every chosen side is one call
    assert report["by_chosen_side"] == {"call": report["pairs"]}
    chosen = [json.loads(line)["chosen"][0] for line in pairs_file.read_text().splitlines()]
    assert all(len(c["tool_calls"]) == 1 for c in chosen)
    dpo = yaml.safe_load((run / "round_1" / "dpo" / "recipe.resolved.yaml").read_text())
    assert str(pairs_file) in [s["source"] for s in dpo["data"]["sources"]]
    assert summary["on_policy"]["round_1"]["pairs"] == report["pairs"]
    assert report["by_decision"].get("reply_over_call", 0) == 0 and report["by_decision"].get("call_over_reply", 0) <= 1
    assert sum(report["by_decision"].values()) == report["pairs"]
    assert f"on-policy pairs: {report['pairs']} from 4 samples" in capsys.readouterr().out

    stages = summary["stages"]
    assert "fc_vs_previous" not in stages[0]
    for before, after in zip(stages, stages[1:], strict=False):
        c = after["fc_vs_previous"]
        assert c["against"] == before["stage"] and c["paired"]["n"] == 5
        assert c["paired"]["before_correct"] == before["headline"]["fc_ast_accuracy"]["k"]
        assert c["paired"]["after_correct"] == after["headline"]["fc_ast_accuracy"]["k"]
    table = (run / "summary.md").read_text()
    assert "| r1-dpo | r1-sft |" in table and "McNemar p=" in table

    # a rerun reuses every finished stage: nothing is trained, sampled or evaluated again
    stamps = {p: p.stat().st_mtime_ns for p in run.glob("round_1/*/DONE")} | {pairs_file: pairs_file.stat().st_mtime_ns}
    again = run_rounds(load_rounds_recipe(path))
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and len(stamps) == 3
    assert [s["headline"] for s in again["stages"]] == [s["headline"] for s in stages]
    assert again["on_policy"]["round_1"]["pairs_file"] == str(pairs_file)

    # a changed setting is refused, naming the key and the flag, before anything is trained
    from tooljudge.train.rounds import StageSettingsChanged

    changed = {**rounds, "dpo_overrides": {"training": {"learning_rate": 0.02}}}
    path.write_text(yaml.safe_dump(changed))
    with pytest.raises(StageSettingsChanged, match=r"r1-dpo .*training.learning_rate differ.*--rerun r1-dpo"):
        run_rounds(load_rounds_recipe(path))
    sampled = {**rounds, "on_policy": {**rounds["on_policy"], "temperature": 1.3}}
    path.write_text(yaml.safe_dump(sampled))
    with pytest.raises(StageSettingsChanged, match=r"on_policy.temperature differ.*--rerun r1-pairs"):
        run_rounds(load_rounds_recipe(path))
    # told to rerun: that stage and the later ones run again, the earlier ones are reused
    path.write_text(yaml.safe_dump(changed))
    rerun = run_rounds(load_rounds_recipe(path, {"rerun": "r1-dpo"}))
    assert (run / "round_1" / "sft" / "DONE").stat().st_mtime_ns == stamps[run / "round_1" / "sft" / "DONE"]
    assert (run / "round_1" / "dpo" / "DONE").stat().st_mtime_ns != stamps[run / "round_1" / "dpo" / "DONE"]
    redone = yaml.safe_load((run / "round_1" / "dpo" / "recipe.resolved.yaml").read_text())
    assert redone["training"]["learning_rate"] == 0.02
    assert rerun["stages"][1]["headline"] == stages[1]["headline"]  # r1-sft's eval reused


def test_two_rounds_end_to_end_on_a_tiny_model(tmp_path):
    """Base eval, then 2 x (SFT -> eval -> DPO -> eval) with on-policy pairs sampled for round 2, summary files,
    and the exported adapter: every stage's outputs in its own folder."""
    rounds = _tiny_rounds(tmp_path, 2, {})
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump(rounds))
    summary = run_rounds(load_rounds_recipe(path))

    run = tmp_path / "run"
    assert [s["stage"] for s in summary["stages"]] == ["base", "r1-sft", "r1-dpo", "r2-sft", "r2-dpo"]
    for stage in summary["stages"]:
        results = json.loads((Path(stage["eval_dir"]) / "eval_results.json").read_text())
        n = results["function_calls"]["metrics"]["overall"]["n"]
        assert n == 5 and stage["headline"]["fc_ast_accuracy"]["n"] == 5
        assert "judge_qa_accuracy" in stage["headline"]
        verdicts = [json.loads(x) for x in (Path(stage["eval_dir"]) / "judge_examples.jsonl").read_text().splitlines()]
        assert len(verdicts) == 2 * stage["headline"]["judge_qa_accuracy"]["n"]  # each question in both orders
        assert all(v["protocol"] == "qa" and isinstance(v["is_correct"], bool) for v in verdicts)
    # round 2 starts from round 1's DPO output; DPO from the same round's SFT output
    r2 = yaml.safe_load((run / "round_2" / "sft" / "recipe.resolved.yaml").read_text())
    assert r2["model"]["init_from"] == str(run / "round_1" / "dpo")
    r1_dpo = yaml.safe_load((run / "round_1" / "dpo" / "recipe.resolved.yaml").read_text())
    assert r1_dpo["model"]["init_from"] == str(run / "round_1" / "sft")
    assert (run / "round_1" / "on_policy_report.json").exists()
    assert (run / "data" / "judge_sft.jsonl").exists() and (run / "data" / "judge_eval.jsonl").exists()
    eval_q = {json.loads(x)["question"] for x in (run / "data" / "judge_eval.jsonl").read_text().splitlines()}
    train_text = (run / "data" / "judge_sft.jsonl").read_text() + (run / "data" / "judge_dpo.jsonl").read_text()
    assert eval_q and not any(json.dumps(q)[1:-1] in train_text for q in eval_q), "judge eval rows leaked"
    for name in ("summary.md", "summary.json", "summary.png"):
        assert (run / name).stat().st_size > 0
    assert (Path(summary["export"]) / "adapter_config.json").exists()


def test_a_missing_stage_data_file_stops_before_the_base_eval(tmp_path):
    """The stages are preflighted first: a missing SFT data file is named in seconds, not after the base eval."""
    from tooljudge.train.preflight import PreflightError

    sft = recipe_dict("sft", tmp_path / "no-model", tmp_path / "missing.jsonl", tmp_path / "unused")
    dpo = recipe_dict("dpo", tmp_path / "no-model", tmp_path / "pairs.jsonl", tmp_path / "unused")
    rounds = {"output_dir": str(tmp_path / "run"), "sft": str(write_recipe(tmp_path / "sft.yaml", sft)),
              "dpo": str(write_recipe(tmp_path / "dpo.yaml", dpo)), "judge_data": {"enabled": False}}
    with pytest.raises(PreflightError, match=r"data.sources\[0\].source: .*missing.jsonl does not exist"):
        run_rounds(rounds_config_from_dict(rounds))
    assert not (tmp_path / "run" / "round_0" / "eval").exists()


def test_a_dpo_stage_of_only_this_rounds_on_policy_pairs_passes_preflight(tmp_path):
    """``dpo_overrides: {data: {sources: []}}`` with on-policy pairs sampled from the SFT model: the pairs file
    is written later, so preflight counts it as the DPO stage's source instead of refusing an empty list (the
    effect probe of 2026-12-03 was refused so); without on-policy pairs the empty list is still refused."""
    from tooljudge.train.rounds import preflight_stages

    rounds = _tiny_rounds(tmp_path, 1, {"sample_from": "sft"}, judge=False)
    rounds["dpo_overrides"] = {"data": {"sources": []}}
    out = tmp_path / "run"
    preflight_stages(rounds_config_from_dict(rounds), out, {})
    assert not (out / "data").exists()  # nothing sampled, nothing written
    for on_policy in ({"enabled": False}, {"sample_from": "previous_round"}):  # round 1's DPO would get no pairs
        with pytest.raises(RecipeError, match="data.sources must list at least one source"):
            preflight_stages(rounds_config_from_dict({**rounds, "on_policy": {**rounds["on_policy"], **on_policy}}),
                             out, {})


def test_on_policy_sampling_that_makes_no_pairs_for_a_dpo_stage_of_only_them_is_named(tmp_path, monkeypatch):
    """The DPO stage's only data are on-policy pairs and the SFT model's samples made none: the error says so and
    where the report is, instead of the recipe's bare "data.sources must list at least one source"."""
    import tooljudge.train.rounds as rounds_module

    monkeypatch.setattr(rounds_module, "sample_on_policy_pairs", lambda *a, **k: (None, {"pairs": 0, "samples": 4}))
    rounds = _tiny_rounds(tmp_path, 1, {"sample_from": "sft"}, judge=False)
    rounds["dpo_overrides"] = {"data": {"sources": []}}
    with pytest.raises(RecipeError, match=r"r1-dpo: the DPO recipe's only data are on-policy pairs and sampling "
                                          r"made none for round 1 \(on_policy_report.json in .*round_1"):
        run_rounds(rounds_config_from_dict(rounds))
    assert json.loads((tmp_path / "run" / "round_1" / "on_policy_report.json").read_text())["pairs"] == 0


def test_a_setting_added_since_a_stage_ran_counts_as_unchanged_at_its_default():
    from tooljudge.train.recipe import RecipeConfig
    from tooljudge.train.rounds import changed_settings

    defaults = RecipeConfig().to_dict()
    now = RecipeConfig().to_dict()
    now["training"] = {"learning_rate": 1e-4}
    stored = {**now, "data": {k: v for k, v in now["data"].items() if k != "chosen_span"}}  # made before the key
    assert changed_settings(stored, now) == ["data.chosen_span"]  # without defaults: a new key is a change
    assert changed_settings(stored, now, defaults) == []
    now["data"] = {**now["data"], "chosen_span": "to_first_difference"}  # asked for something else: a change
    assert changed_settings(stored, now, defaults) == ["data.chosen_span"]
    removed = {**now, "data": {k: v for k, v in now["data"].items() if k != "seed"}}  # a key gone now
    assert "data.seed" in changed_settings(now, removed, defaults)
    other_lr = {**stored, "training": {"learning_rate": 2e-4}}
    assert changed_settings(other_lr, now, defaults) == ["data.chosen_span", "training.learning_rate"]
