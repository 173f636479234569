"""BFCL data from the installed bfcl-eval package (importlib.resources): v4 files under our set names, a folder
that overrides it, the install command when it is missing, and no machine path anywhere in code or tests."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from tooljudge.eval import bfcl_data
from tooljudge.eval.bfcl_data import (
    INSTALL_HINT,
    MULTI_TURN,
    SINGLE_TURN_AST,
    BFCLDataMissing,
    bfcl_data_file,
    bfcl_resource,
    load_bfcl,
    load_bfcl_set,
)

REPO = Path(__file__).resolve().parents[1]
CODE_DIRS = ("eval", "data_prep", "train", "tooljudge", "tests", "scripts", "recipes", "accelerate_configs")
# rows per single-turn set in the bfcl-eval wheel (BFCL v4): 2,351 AST entries + 1,140 (ir)relevance
COUNTS = {"simple": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200, "irrelevance": 240,
          "live_simple": 258, "live_multiple": 1053, "live_parallel": 16, "live_parallel_multiple": 24,
          "live_irrelevance": 884, "live_relevance": 16}


def test_every_single_turn_set_from_the_package():
    rows, report = load_bfcl(categories=SINGLE_TURN_AST)
    assert dict(report.kept) == COUNTS and not report.skipped
    assert bfcl_data_file("simple").name == "BFCL_v4_simple_python.json"
    assert bfcl_data_file("live_multiple", answers=True).name == "BFCL_v4_live_multiple.json"
    first = next(r for r in rows if r["category"] == "simple")
    assert first["id"] == "simple_python_0" and first["ground_truth"] == [
        {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]
    assert {r["category"] for r in rows} == set(COUNTS)


def test_multi_turn_sets_and_other_files_for_other_readers():
    for name in MULTI_TURN:
        questions, answers = load_bfcl_set(name)
        assert len(questions) == 200 and set(answers) == {q["id"] for q in questions}
    doc = bfcl_resource("multi_turn_func_doc/gorilla_file_system.json")
    assert json.loads(doc.read_text(encoding="utf-8").splitlines()[0])["name"]
    with pytest.raises(BFCLDataMissing, match="nope.json"):
        bfcl_resource("multi_turn_func_doc/nope.json")


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("prefix", ["BFCL_v4_simple_python", "BFCL_v3_simple"])
def test_bfcl_dir_overrides_the_package(tmp_path, monkeypatch, prefix):
    q = {"id": "mine_0", "question": [[{"role": "user", "content": "q"}]],
         "function": [{"name": "f", "description": "", "parameters": {"type": "dict", "properties": {
             "x": {"type": "float"}}, "required": ["x"]}}]}
    _write(tmp_path / f"{prefix}.json", [q])
    _write(tmp_path / "possible_answer" / f"{prefix}.json", [{"id": "mine_0", "ground_truth": [{"f": {"x": [1.5]}}]}])
    rows, _ = load_bfcl(tmp_path, ("simple",))
    assert [r["id"] for r in rows] == ["mine_0"]
    assert rows[0]["tools"][0]["function"]["parameters"]["properties"]["x"]["type"] == "number"
    from tooljudge.eval.fc_eval import FCEvalConfig, load_eval_set

    assert [r["id"] for r in load_eval_set("bfcl_simple", FCEvalConfig(bfcl_dir=str(tmp_path)))] == ["mine_0"]
    monkeypatch.setenv("TOOLJUDGE_BFCL_DIR", str(tmp_path))
    assert [r["id"] for r in load_eval_set("bfcl_simple", FCEvalConfig())] == ["mine_0"]
    monkeypatch.delenv("TOOLJUDGE_BFCL_DIR")
    assert len(load_eval_set("bfcl_simple", FCEvalConfig())) == 400  # the package again
    with pytest.raises(BFCLDataMissing, match="no answer key file BFCL_v4_multiple.json or BFCL_v3_multiple.json"):
        _write(tmp_path / "BFCL_v4_multiple.json", [q])
        load_bfcl(tmp_path, ("multiple",))
    with pytest.raises(BFCLDataMissing, match="is not a folder"):
        load_bfcl(tmp_path / "absent", ("simple",))


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(bfcl_data, "BFCL_PACKAGE", "bfcl_eval_not_installed_here")
    with pytest.raises(BFCLDataMissing) as err:
        load_bfcl(categories=("simple",))
    assert INSTALL_HINT == "pip install --no-deps bfcl-eval" and INSTALL_HINT in str(err.value)
    assert "--bfcl_dir" in str(err.value)


def test_unknown_and_non_python_sets_are_errors():
    with pytest.raises(BFCLDataMissing, match="BFCL set 'nope'.*pip install --no-deps bfcl-eval"):
        load_bfcl(categories=("nope",))
    with pytest.raises(ValueError, match="Java/JavaScript"):
        load_bfcl(categories=("simple_java",))


def test_no_machine_path_in_code_or_tests():
    """The library, its scripts, recipes and tests read no machine's folders (benchmarks/device/ holds scripts for
    a lent GPU machine, which set up their own folders there)."""
    files = subprocess.run(["git", "ls-files", "--", *CODE_DIRS, "pyproject.toml", "setup.sh"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    assert any(f.startswith("eval/") for f in files) and any(f.startswith("tests/") for f in files)
    pattern = re.compile(r"(?<![\w.~-])/(?:" + "|".join(["work", "home", "root", "Users"]) + r")/")
    found = [f"{f}:{i}" for f in files if (REPO / f).is_file()
             for i, line in enumerate((REPO / f).read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if pattern.search(line)]
    assert found == []
