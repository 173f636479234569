"""benchmarks/effect_pool.py over tooljudge.train.effect_pool: seeds of separate effect runs pooled from their
archived verdicts, every pooled number counted by hand here, and the refusals (shared seed, other base verdicts,
other eval sets, a stray archive member, an existing summary) naming what is wrong. Run folders are made up."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from tooljudge.train.effect_pool import EffectPoolConfig, pool_runs, pool_verdicts, verdicts_from_members

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def _rows(eval_set: str, correct: list[bool], calls: list[bool] | None = None) -> list[dict]:
    calls = calls or [True] * len(correct)
    return [{"id": f"{eval_set}/r{i}", "correct": ok, "made_call": call, "no_call_expected": False,
             "output": f"out {i} {ok}"} for i, (ok, call) in enumerate(zip(correct, calls, strict=True))]


BASE = _rows("bfcl_simple", [False] * 4) + [
    {"id": "bfcl_irrelevance/r0", "correct": True, "made_call": False, "no_call_expected": True, "output": "no"}]


def _seed(sft_right: int, dpo_right: int, irrelevant_call: bool) -> dict[str, list[dict]]:
    irr = {"id": "bfcl_irrelevance/r0", "correct": not irrelevant_call, "made_call": irrelevant_call,
           "no_call_expected": True, "output": "x"}
    return {"base": BASE,
            "sft": _rows("bfcl_simple", [i < sft_right for i in range(4)]) + [dict(irr, correct=True,
                                                                                   made_call=False)],
            "dpo": _rows("bfcl_simple", [i < dpo_right for i in range(4)]) + [irr]}


def _write_run(results: Path, name: str, seeds: dict[int, dict], sets=("bfcl_simple", "bfcl_irrelevance")) -> None:
    folder = results / name
    for seed, stages in seeds.items():
        for stage, rows in stages.items():
            path = folder / "fc" / f"seed_{seed}" / f"{stage}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _script("run_archive").pack(folder / "fc")
    stages = [{"name": n, "set": s} for s in sets for n in ("base", "sft", "dpo")]
    (folder / "effect_summary.json").write_text(json.dumps({"fc": {"machine": "cpu: test", "stages": stages}}))


def test_three_seeds_of_two_runs_pool_to_hand_counted_figures(tmp_path):
    """Run A holds seed 0 (SFT right on rows 0-1), run B seeds 1 and 2 (rows 0-2). Per row over the three seeds,
    SFT vs base: +3, +3, +2, 0: three rows up, none down, so the exact sign-flip p is 2 / 2**3 = 0.25; pooled
    accuracy 8 of 12. DPO keeps seed 0 and loses row 2 in seed 2 (-1 on one row: p = 1) and calls on the
    irrelevant row in seeds 1 and 2: recall 1/3 after DPO, 1.0 after SFT."""
    results = tmp_path / "results"
    _write_run(results, "run_a", {0: _seed(2, 2, False)})
    _write_run(results, "run_b", {1: _seed(3, 3, True), 2: _seed(3, 2, True)})
    cfg = EffectPoolConfig(runs=["run_a", "run_b"], run="pooled", results_dir=str(results))
    read_all = _script("run_archive").read_all
    dest, fc = pool_runs(cfg, read_all)
    entries = {(e["set"], e["name"]): e for e in fc["stages"]}
    sft, dpo = entries[("bfcl_simple", "sft")], entries[("bfcl_simple", "dpo")]
    assert (sft["accuracy"], sft["n"], sft["n_clusters"], sft["previous_accuracy"]) == (8 / 12, 12, 4, 0.0)
    assert sft["p_vs_previous"] == 2 / 2**3
    assert (dpo["accuracy"], dpo["previous_accuracy"], dpo["p_vs_previous"]) == (7 / 12, 8 / 12, 1.0)
    assert entries[("bfcl_irrelevance", "sft")]["irrelevance_recall"] == 1.0
    assert entries[("bfcl_irrelevance", "dpo")]["irrelevance_recall"] == pytest.approx(1 / 3)
    assert fc["seeds"] == [0, 1, 2] and fc["machine"] == "cpu: test"
    assert fc["pooled_from"] == [{"run": "run_a", "seeds": [0]}, {"run": "run_b", "seeds": [1, 2]}]
    written = json.loads((dest / "effect_summary.json").read_text())
    assert written["fc"] == json.loads(json.dumps(fc))
    per_seed = json.loads((dest / "effect_per_seed.json").read_text())["seeds"]
    seed0 = {(e["set"], e["name"]): e for e in per_seed["0"]}
    assert seed0[("bfcl_simple", "sft")]["accuracy"] == 0.5 and seed0[("bfcl_simple", "sft")]["n"] == 4
    png = (dest / "effect_summary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert int.from_bytes(png[16:20], "big") == round((3.2 * 2 + 0.6) * 110)  # IHDR width: one panel per set
    with pytest.raises(FileExistsError, match="pick a new --run"):
        pool_runs(cfg, read_all)


def test_the_script_prints_the_pooled_table(tmp_path, capsys):
    results = tmp_path / "results"
    _write_run(results, "a", {0: _seed(1, 1, False)})
    _write_run(results, "b", {1: _seed(2, 2, False)})
    _script("effect_pool").main(["--runs", "a", "b", "--run", "p", "--results_dir", str(results)])
    out = capsys.readouterr().out
    assert "| bfcl_simple | sft | 0.375" in out and "seeds [0, 1] pooled from ['a', 'b']" in out


def test_a_seed_in_two_runs_is_refused_naming_both():
    with pytest.raises(ValueError, match="seed 0 is in run a and in run b"):
        pool_verdicts({"a": {0: _seed(1, 1, False)}, "b": {0: _seed(1, 1, False)}})


def test_other_base_verdicts_are_refused_naming_the_row():
    other = _seed(1, 1, False)
    other["base"] = [dict(r) for r in BASE]
    other["base"][2]["output"] = "a different greedy output"
    with pytest.raises(ValueError, match=r"run b seed 1 differ from run a seed 0 at row 'bfcl_simple/r2'"):
        pool_verdicts({"a": {0: _seed(1, 1, False)}, "b": {1: other}})
    shorter = dict(other, base=BASE[:3])
    with pytest.raises(ValueError, match="5 vs 3 rows"):
        pool_verdicts({"a": {0: _seed(1, 1, False)}, "b": {1: shorter}})


def test_runs_of_other_eval_sets_are_refused(tmp_path):
    results = tmp_path / "results"
    _write_run(results, "a", {0: _seed(1, 1, False)})
    _write_run(results, "b", {1: _seed(1, 1, False)}, sets=("bfcl_simple",))
    with pytest.raises(ValueError, match="run b evaluated sets"):
        pool_runs(EffectPoolConfig(runs=["a", "b"], run="p", results_dir=str(results)),
                  _script("run_archive").read_all)
    with pytest.raises(ValueError, match="at least two distinct --runs"):
        pool_runs(EffectPoolConfig(runs=["a", "a"], run="p", results_dir=str(results)), None)


def test_archive_members_must_be_seed_stage_files():
    good = {f"seed_3/{s}.jsonl": b'{"id": "x"}\n' for s in ("base", "sft", "dpo")}
    assert verdicts_from_members("r", good)[3]["sft"] == [{"id": "x"}]
    with pytest.raises(ValueError, match="run r: archive member 'notes.txt'"):
        verdicts_from_members("r", {**good, "notes.txt": b""})
    with pytest.raises(ValueError, match=r"seed 3 has no verdicts of stage\(s\) \['dpo'\]"):
        verdicts_from_members("r", {k: v for k, v in good.items() if "dpo" not in k})
    with pytest.raises(ValueError, match="seed_3/sft.jsonl:2: not a JSON row"):
        verdicts_from_members("r", {**good, "seed_3/sft.jsonl": b'{"id": "x"}\n{oops\n'})
    # a raw output with a line separator and a NaN score (what eval records may hold) stays one row
    odd = '{"id": "x", "output": "a\u2028b\x85c", "score": NaN}\n'.encode()
    rows = verdicts_from_members("r", {**good, "seed_3/sft.jsonl": odd})[3]["sft"]
    assert len(rows) == 1 and rows[0]["output"] == "a\u2028b\x85c" and rows[0]["score"] != rows[0]["score"]
