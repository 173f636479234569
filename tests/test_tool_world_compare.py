"""benchmarks/tool_world_sft_compare.py: the two arms get the same recipe but their own data, and the comparison
pairs verdicts per eval set (issue 23, item 5)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("tool_world_sft_compare",
                                                  ROOT / "benchmarks" / "tool_world_sft_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_writes_both_arms_with_one_recipe_and_the_unseen_tool_set(tmp_path):
    mod = _script()
    info = mod.prepare(tmp_path, rows=12, seed=0, eval_rows=10, mask_fraction=0.0,
                       recipe=str(ROOT / "recipes" / "smollm2_demo.yaml"))
    assert info["builtin_report"]["kept"] == info["world_report"]["kept"] == 12
    recipes = {arm: yaml.safe_load((tmp_path / arm / "recipe.yaml").read_text()) for arm in mod.ARMS}
    base = yaml.safe_load((ROOT / "recipes" / "smollm2_demo.yaml").read_text())
    for arm, recipe in recipes.items():
        assert recipe["data"]["sources"] == [{"source": str((tmp_path / f"{arm}.jsonl").resolve()), "weight": 1.0}]
        for section in ("model", "training", "lora"):
            same = {k: v for k, v in recipe[section].items() if k != "output_dir"}
            assert same == {k: v for k, v in base[section].items() if k != "output_dir"}
    unseen = [json.loads(line) for line in (tmp_path / "unseen_tools.jsonl").read_text().splitlines()]
    world_tools = {t["function"]["name"] for line in (tmp_path / "world.jsonl").read_text().splitlines()
                   for t in json.loads(line)["tools"]}
    assert len(unseen) == 10 and not {t["function"]["name"] for r in unseen for t in r["tools"]} & world_tools
    cmds = mod.commands(tmp_path, steps=7, max_examples=None, python="python")
    assert [c[1] for c in cmds] == ["train/sft.py", "eval/run.py"] * 2
    assert all(c[-2:] == ["--training.max_steps", "7"] for c in cmds[::2])


def test_compare_pairs_verdicts_per_set(tmp_path):
    mod = _script()
    unseen = str(tmp_path / "unseen_tools.jsonl")
    verdicts = {  # id -> (builtin correct, world correct)
        f"{unseen}/tool_world_simple_0000": (False, True), f"{unseen}/tool_world_simple_0001": (False, True),
        f"{unseen}/tool_world_irrelevance_0000": (True, True),
        "bfcl_simple/simple_python_0": (True, False), "bfcl_simple/simple_python_1": (True, True),
        "bfcl_irrelevance/irrelevance_0": (False, False),
    }
    for k, arm in enumerate(mod.ARMS):
        (tmp_path / arm / "eval").mkdir(parents=True)
        (tmp_path / arm / "eval" / "fc_examples.jsonl").write_text("".join(
            json.dumps({"id": i, "category": "x", "correct": v[k]}) + "\n" for i, v in verdicts.items()))
    result = mod.compare(tmp_path)
    pairs = result["world_vs_builtin"]
    assert set(pairs) == {"unseen_tools", "bfcl_simple", "bfcl_irrelevance", "all"}
    assert (pairs["unseen_tools"]["n"], pairs["unseen_tools"]["wins"], pairs["unseen_tools"]["losses"]) == (3, 2, 0)
    assert (pairs["bfcl_simple"]["wins"], pairs["bfcl_simple"]["losses"]) == (0, 1)
    assert pairs["all"]["n"] == 6 and pairs["all"]["before_correct"] == 3 and pairs["all"]["after_correct"] == 4
    assert result["accuracy"]["unseen_tools"]["world"]["correct"] == 3
    assert result["accuracy"]["bfcl_simple"]["builtin"]["accuracy"] == 1.0
    assert result["accuracy"]["bfcl_simple"]["builtin"]["ci_low"] < 1.0  # Wilson CI of 2/2
    assert "base" not in result["accuracy"]["all"]
    assert (tmp_path / "comparison.md").read_text().startswith("| set | n | builtin")


def test_compare_adds_the_base_model_on_the_sets_it_ran(tmp_path):
    """The base eval ran one set, so its ids carry no ``SET_NAME/`` prefix; rows still pair by bare id, and
    irrelevance recall counts the irrelevance rows only."""
    mod = _script()
    unseen = str(tmp_path / "unseen_tools.jsonl")
    rows = {"tool_world_simple_0000": ("simple", (False, True, True)),
            "tool_world_irrelevance_0000": ("irrelevance", (True, False, True)),
            "tool_world_irrelevance_0001": ("irrelevance", (True, False, False))}
    for k, arm in enumerate(mod.ARMS):
        (tmp_path / arm / "eval").mkdir(parents=True)
        (tmp_path / arm / "eval" / "fc_examples.jsonl").write_text("".join(
            json.dumps({"id": f"{unseen}/{i}", "category": c, "correct": v[k + 1]}) + "\n"
            for i, (c, v) in rows.items()))
    (tmp_path / "base" / "eval").mkdir(parents=True)
    (tmp_path / "base" / "eval" / "fc_examples.jsonl").write_text("".join(
        json.dumps({"id": i, "category": c, "correct": v[0]}) + "\n" for i, (c, v) in rows.items()))
    result = mod.compare(tmp_path)
    assert result["accuracy"]["unseen_tools"]["base"]["correct"] == 2
    assert (result["builtin_vs_base"]["unseen_tools"]["wins"], result["builtin_vs_base"]["unseen_tools"]["losses"]) \
        == (1, 2)
    recall = result["irrelevance_recall"]
    assert (recall["base"]["unseen_tools"]["correct"], recall["builtin"]["unseen_tools"]["correct"],
            recall["world"]["unseen_tools"]["correct"], recall["world"]["unseen_tools"]["n"]) == (2, 0, 1, 2)
    assert result["unseen_tools_by_category"]["world"]["simple"]["correct"] == 1
