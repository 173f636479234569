"""The headline effect index (tooljudge.train.effect_index): records copied verbatim with their run, the README
block written from them, and refusals that name what is wrong. Run folders here are made up in tmp_path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from tooljudge.train.effect_index import (
    END,
    START,
    build_index,
    parse_judge_runs,
    readme_lines,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[1]


def _judge_rec(trained: float, p: float) -> dict:
    return {"trained": trained, "untrained": 0.5, "blind": 0.5, "ci": [trained - 0.1, min(1.0, trained + 0.05)],
            "n": 80, "n_questions": 40, "p_trained_vs_untrained": p, "p_trained_vs_blind": p * 2}


def _fc() -> dict:
    stages = []
    for name, acc, prev, p in (("base", 0.2, None, None), ("sft", 0.35, 0.2, 0.004), ("dpo", 0.3, 0.35, 0.21)):
        stages.append({"name": name, "set": "builtin", "accuracy": acc, "ci": [acc - 0.05, acc + 0.05], "n": 600, "n_clusters": 200,
                       "previous_accuracy": prev, "p_vs_previous": p, "irrelevance_recall": 0.9})
    return {"machine": "cpu: x86_64, 2 cores", "seeds": [0, 1, 2], "stages": stages}


def _results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    runs = {"fc_run": {"fc": _fc(), "judge": {"protocols": {}}},
            "debate_a": {"judge": {"machine": "cpu: x86_64, 2 cores", "config": {"seed": 1, "sft_steps": 100},
                                   "protocols": {"debate": _judge_rec(0.986, 1.2e-10)}}},
            "debate_b": {"judge": {"machine": "cpu: x86_64, 2 cores", "config": {"seed": 0},
                                   "protocols": {"debate": _judge_rec(1.0, 1.5e-11)}}},
            "cons": {"judge": {"machine": "h200", "config": {"judge_reasoning": "scripted"},
                               "protocols": {"consultancy": _judge_rec(0.95, 0.0004),
                                             "debate": _judge_rec(0.6, 0.2)}}}}
    for run, data in runs.items():
        (results / run).mkdir(parents=True)
        (results / run / "effect_summary.json").write_text(json.dumps(data))
    return results


def test_index_copies_each_record_verbatim_with_its_run(tmp_path):
    results = _results(tmp_path)
    index = build_index(results, "fc_run", {"debate": ["debate_a", "debate_b"], "consultancy": ["cons"]})
    assert index["fc"] == {**_fc(), "run": "fc_run"}
    debate = index["judge"]["protocols"]["debate"]
    assert {k: debate[k] for k in _judge_rec(0, 0)} == _judge_rec(0.986, 1.2e-10)
    assert debate["run"] == "debate_a" and debate["settings"]["seed"] == 1
    assert debate["settings"]["judge_reasoning"] == "none"  # runs from before the option had bare letters
    assert [r["run"] for r in debate["other_runs"]] == ["debate_b"]
    assert index["judge"]["protocols"]["consultancy"]["settings"]["judge_reasoning"] == "scripted"


def test_readme_lines_carry_the_records_figures(tmp_path):
    _results(tmp_path)
    index = build_index(tmp_path / "results", "fc_run", {"consultancy": ["cons"], "debate": ["debate_a", "debate_b"]})
    lines = readme_lines(index)
    assert lines[0] == ("- Consultancy judge (h200, trained on reasoning, then the letter): trained **0.950** [0.85, "
                        "1.00], untrained 0.500, blind 0.500; p = 0.0004 / 0.0008 vs untrained / blind, 80 judgements "
                        "([run](benchmarks/results/cons/README.md)).")
    assert lines[1] == ("- Debate judge (cpu: x86_64, 2 cores, trained on bare letters): trained **0.986** [0.89, "
                        "1.00], untrained 0.500, blind 0.500; p = 1.2e-10 / 2.4e-10 vs untrained / blind, 80 judgements "
                        "([run](benchmarks/results/debate_a/README.md)); also 1.000 / 0.500 / 0.500 "
                        "([run](benchmarks/results/debate_b/README.md)).")
    assert lines[2] == ("- Function calling, base -> sft -> dpo (cpu: x86_64, 2 cores, seeds [0, 1, 2], 200 rows per "
                        "set x 3 seeds): builtin 0.20 -> 0.35 -> 0.30; lowest p vs the stage before 0.004 (builtin "
                        "sft) ([run](benchmarks/results/fc_run/README.md)).")
    assert len(lines) == 3
    mixed = build_index(tmp_path / "results", None, {"debate": ["debate_a", "cons"]})
    assert readme_lines(mixed)[0].endswith("also 0.600 / 0.500 / 0.500 (reasoning, then the letter, "
                                           "[run](benchmarks/results/cons/README.md)).")


@pytest.mark.parametrize("fc, judge, match", [
    ("missing", {}, "no effect summary for run 'missing'"),
    ("debate_a", {}, "has no 'fc' record"),
    (None, {"consultancy": ["debate_a"]}, "run 'debate_a' has no 'consultancy' judge record"),
    (None, {"debate": []}, "no run named for debate"),
])
def test_refusals_name_the_run_and_what_is_missing(tmp_path, fc, judge, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        build_index(_results(tmp_path), fc, judge)


def test_a_record_without_the_issues_keys_is_refused(tmp_path):
    results = _results(tmp_path)
    data = json.loads((results / "cons" / "effect_summary.json").read_text())
    del data["judge"]["protocols"]["consultancy"]["p_trained_vs_blind"]
    (results / "cons" / "effect_summary.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"lacks \['p_trained_vs_blind'\]"):
        build_index(results, None, {"consultancy": ["cons"]})


def test_replace_block_touches_only_the_block():
    text = f"# T\nbefore\n{START}\nold line\n{END}\nafter\n"
    assert replace_block(text, ["a", "b"]) == f"# T\nbefore\n{START}\na\nb\n{END}\nafter\n"
    for bad in ("no markers", f"{END}\n{START}", f"{START}{START}{END}"):
        with pytest.raises(ValueError, match="exactly one"):
            replace_block(bad, ["x"])


def test_parse_judge_runs():
    assert parse_judge_runs(" debate=a, b ;consultancy=c;") == {"debate": ["a", "b"], "consultancy": ["c"]}
    for bad in ("debate", "debate=", "=a"):
        with pytest.raises(ValueError, match="PROTOCOL=RUN"):
            parse_judge_runs(bad)


def test_script_writes_the_index_and_the_readme_block(tmp_path):
    spec = importlib.util.spec_from_file_location("effect_summary_script", ROOT / "benchmarks" / "effect_summary.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclass resolves annotations through its module
    spec.loader.exec_module(script)
    results = _results(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# X\n{START}\nstale\n{END}\n")
    script.main(["--results", str(results), "--fc", "fc_run", "--judge", "debate=debate_a", "--readme", str(readme)])
    index = json.loads((results / "effect_summary.json").read_text())
    assert index == build_index(results, "fc_run", {"debate": ["debate_a"]})
    assert readme.read_text() == f"# X\n{START}\n" + "\n".join(readme_lines(index)) + f"\n{END}\n"


def test_rows_per_set_names_the_sets_of_another_size():
    from tooljudge.train.effect_index import rows_per_set

    def stage(n):
        return [{"n": 3 * n, "n_clusters": n}]

    assert rows_per_set({"builtin": stage(20), "bfcl_simple": stage(20)}) == "20 rows per set"
    assert rows_per_set({"builtin": stage(20), "bfcl_simple": stage(40), "bfcl_multiple": stage(40),
                         "bfcl_irrelevance": stage(20)}) == "20 rows per set (bfcl_simple 40, bfcl_multiple 40)"
