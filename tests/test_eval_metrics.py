"""Metrics: Wilson intervals against the closed form computed by hand, every metric on a hand-labelled set of
outputs, the BFCL irrelevance rule for undecodable outputs, and the score_calls CLI end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from tooljudge.eval.fc_metrics import (
    compute_metrics,
    flat_metrics,
    format_table,
    proportion,
    score_example,
    wilson_ci,
)

REPO = Path(__file__).resolve().parents[1]


def wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (7, 20), (1, 3), (412, 1000)])
def test_wilson_matches_closed_form(k, n):
    low, high = wilson_ci(k, n)
    ref = wilson_by_hand(k, n)
    assert low == pytest.approx(max(0.0, ref[0]), abs=1e-9)
    assert high == pytest.approx(min(1.0, ref[1]), abs=1e-9)


def test_undefined_proportion_is_none():
    assert proportion(0, 0) is None
    assert proportion(3, 4)["value"] == 0.75


W = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
T = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}


def row(i, category, gt):
    return {"id": f"r{i}", "category": category, "messages": [{"role": "user", "content": "q"}],
            "tools": [W, T], "ground_truth": gt}


def tc(name, **args):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


GW = [{"get_weather": {"city": ["Paris"]}}]
GT2 = [{"get_weather": {"city": ["Paris"]}}, {"get_time": {"tz": ["UTC"]}}]
# Hand-labelled: (row, output, correct, names_correct, valid_format, hallucinated, made_call)
LABELLED = [
    (row(0, "simple", GW), tc("get_weather", city="paris"), True, True, True, False, True),
    (row(1, "simple", GW), tc("get_weather", city="Lyon"), False, True, True, False, True),
    (row(2, "simple", GW), tc("get_time", tz="UTC"), False, False, True, False, True),
    (row(3, "simple", GW), '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', False, False, False,
     False, False),
    (row(4, "simple", GW), tc("launch_rocket", city="Paris"), False, False, True, True, True),
    (row(5, "parallel_multiple", GT2), tc("get_time", tz="UTC") + tc("get_weather", city="Paris"), True, True, True,
     False, True),
    (row(6, "parallel_multiple", GT2), tc("get_weather", city="Paris"), False, False, True, False, True),
    (row(7, "irrelevance", []), "I cannot do that.", True, None, True, False, False),
    (row(8, "irrelevance", []), tc("get_weather", city="Paris"), False, None, True, False, True),
    (row(9, "irrelevance", []), '<tool_call>\n{"name": "get_wea', True, None, False, False, False),
    (row(10, "simple", GW), "It is sunny.", False, False, True, False, False),
]


def test_score_example_labels():
    for r, out, correct, names_ok, fmt, halluc, made in LABELLED:
        rec = score_example(r, out, "qwen25")
        assert (rec["correct"], rec["names_correct"], rec["valid_format"], rec["hallucinated"], rec["made_call"]) == \
            (correct, names_ok, fmt, halluc, made), (r["id"], rec)
        assert rec["correct"] or rec["reason"]


def test_metrics_on_hand_labelled_set():
    recs = [score_example(r, o, "qwen25") for r, o, *_ in LABELLED]
    m = compute_metrics(recs)
    ov = m["overall"]
    assert ov["n"] == 11
    # correct: r0, r5, r7, r9 -> 4/11
    assert (ov["ast_accuracy"]["k"], ov["ast_accuracy"]["n"]) == (4, 11)
    # names expected on the 8 non-irrelevance rows; right names: r0, r1, r5 -> 3/8
    assert (ov["name_accuracy"]["k"], ov["name_accuracy"]["n"]) == (3, 8)
    # of those 3, correct: r0, r5 -> 2/3
    assert (ov["argument_accuracy"]["k"], ov["argument_accuracy"]["n"]) == (2, 3)
    # invalid format: r3, r9 -> 9/11
    assert (ov["valid_format_rate"]["k"], ov["valid_format_rate"]["n"]) == (9, 11)
    assert (ov["hallucinated_function_rate"]["k"], ov["hallucinated_function_rate"]["n"]) == (1, 11)
    # no-call predictions: r3, r7, r9, r10; of these irrelevance: r7, r9 -> precision 2/4
    assert (ov["irrelevance_precision"]["k"], ov["irrelevance_precision"]["n"]) == (2, 4)
    # irrelevance rows r7, r8, r9; no call on r7, r9 -> recall 2/3
    assert (ov["irrelevance_recall"]["k"], ov["irrelevance_recall"]["n"]) == (2, 3)
    assert ov["failures"] == {"truncated": 2, "unknown_function": 1}
    simple = m["categories"]["simple"]
    assert simple["ast_accuracy"]["value"] == pytest.approx(1 / 6) and simple["irrelevance_recall"] is None
    # macro = mean of (1/6, 1/2, 2/3)
    assert m["macro_ast_accuracy"] == pytest.approx((1 / 6 + 1 / 2 + 2 / 3) / 3)
    flat = flat_metrics(m)
    assert flat["fc/overall/ast_accuracy"] == pytest.approx(4 / 11)
    assert "fc/simple/irrelevance_recall" not in flat
    assert "overall" in format_table(m)


def test_score_calls_cli(tmp_path):
    rows = [r for r, *_ in LABELLED]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = [{"id": r["id"], "output": o} for r, o, *_ in LABELLED[:-1]] + [{"id": "ghost", "output": ""}]
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    proc = subprocess.run(
        [sys.executable, str(REPO / "eval" / "score_calls.py"), "--family", "qwen25", "--predictions",
         str(tmp_path / "preds.jsonl"), "--dataset", str(tmp_path / "eval.jsonl"), "--output_dir",
         str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped: {'no_prediction': 1, 'prediction_for_unknown_id': 1}" in proc.stdout
    saved = json.loads((tmp_path / "out" / "fc_metrics.json").read_text())
    assert saved["metrics"]["overall"]["ast_accuracy"]["k"] == 4 and saved["metrics"]["overall"]["n"] == 10
    examples = [json.loads(x) for x in (tmp_path / "out" / "fc_examples.jsonl").read_text().splitlines()]
    assert len(examples) == 10 and all(e["correct"] or e["reason"] for e in examples)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "r0"}\n')
    proc = subprocess.run([sys.executable, str(REPO / "eval" / "score_calls.py"), "--family", "qwen25",
                           "--predictions", str(bad), "--dataset", str(tmp_path / "eval.jsonl"), "--output_dir",
                           str(tmp_path / "out2")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "bad.jsonl:1: need {'id', 'output': str}" in proc.stderr
