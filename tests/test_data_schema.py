"""Canonical schema: normalization, validation, the bad-input corpus, loading with a report.

References: DESIGN.md's contract row, hand-written expected rows, a corpus of broken rows with the exact error
each must get (tests/data/bad_rows/cases.jsonl), and hypothesis-generated conversations built to be valid.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pytest
from data_strategies import ARBITRARY_ROWS, valid_conversations
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tooljudge.data_prep.schema import (
    SchemaError,
    normalize_conversation,
    validate_conversation,
)
from tooljudge.data_prep.sources import convert_row, load_conversations
from tooljudge.data_prep.validate import main as validate_main

DATA = Path(__file__).parent / "data"
CASES = [json.loads(line) for line in (DATA / "bad_rows" / "cases.jsonl").read_text().splitlines() if line.strip()]

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def design_row():
    """DESIGN.md's contract example, verbatim."""
    return {"messages": [
        {"role": "system", "content": "..."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_0001", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_0001", "name": "get_weather", "content": "{\"temp_c\": 22}"},
        {"role": "assistant", "content": "It is 22 °C in Paris."}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "...",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                  "required": ["city"]}}}]}


# ----------------------------------------------------------------------------------------- normalization
def test_design_contract_row_is_already_canonical_and_valid():
    row = design_row()
    assert normalize_conversation(row) == row
    assert validate_conversation(row) == []


def test_arguments_string_becomes_dict_and_input_is_not_mutated():
    row = design_row()
    row["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"city": "Paris"}'
    before = json.dumps(row)
    out = normalize_conversation(row)
    assert out["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert json.dumps(row) == before


def test_missing_ids_are_deterministic_and_avoid_taken_ids():
    row = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "A"}}},
            {"id": "call00001", "function": {"name": "get_weather", "arguments": {"city": "B"}}},
            {"function": {"name": "get_weather", "arguments": {"city": "C"}}}]},
        {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"}, {"role": "tool", "content": "3"},
        {"role": "assistant", "content": "done"}], "tools": [WEATHER_TOOL]}
    first, second = normalize_conversation(row), normalize_conversation(row)
    assert first == second
    ids = [c["id"] for c in first["messages"][1]["tool_calls"]]
    assert ids == ["call00002", "call00001", "call00003"]
    # results without ids answer the pending calls in call order
    assert [m["tool_call_id"] for m in first["messages"][2:5]] == ids


def test_tool_results_link_by_name_when_there_is_no_id():
    row = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "A"}}},
            {"function": {"name": "get_time", "arguments": {}}}]},
        {"role": "tool", "name": "get_time", "content": "noon"},
        {"role": "tool", "name": "get_weather", "content": "sunny"},
        {"role": "assistant", "content": "Sunny at noon."}],
        "tools": [WEATHER_TOOL, {"name": "get_time"}]}
    out = normalize_conversation(row)
    assert out["messages"][2] == {"role": "tool", "tool_call_id": "call00002", "name": "get_time", "content": "noon"}
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "call00001", "name": "get_weather",
                                  "content": "sunny"}
    # a bare tool with no parameters gets an empty object schema and an empty description
    assert out["tools"][1] == {"type": "function", "function": {
        "name": "get_time", "description": "", "parameters": {"type": "object", "properties": {}}}}
    assert validate_conversation(row) == []


def test_train_flags_are_preserved():
    row = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "train": False},
                        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d", "train": True}]}
    out = normalize_conversation(row)
    assert [m.get("train") for m in out["messages"]] == [None, False, None, True]
    assert validate_conversation(row) == []


def test_arrow_style_nulls_count_as_absent():
    row = {"messages": [
        {"role": "user", "content": "hi", "tool_calls": None, "tool_call_id": None, "name": None, "train": None},
        {"role": "assistant", "content": "hello", "tool_calls": None, "tool_call_id": None, "name": None,
         "train": None}], "tools": None}
    assert normalize_conversation(row) == {"messages": [{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "hello"}], "tools": []}


def test_normalize_raises_with_every_structural_problem():
    row = {"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": 3}]}
    with pytest.raises(SchemaError) as info:
        normalize_conversation(row)
    assert [p.code for p in info.value.problems] == ["unknown_role", "content_not_string"]
    assert "message 0: unknown role 'human'" in str(info.value)


def test_normalize_accepts_semantic_problems_that_validate_reports():
    row = design_row()
    row["messages"] = row["messages"][:2]  # ends on the user turn: canonical, but not trainable
    assert normalize_conversation(row)["messages"] == row["messages"]
    assert len(validate_conversation(row)) == 1


# --------------------------------------------------------------------------------------- bad-input corpus
def test_corpus_covers_at_least_twenty_kinds():
    kinds = [c["kind"] for c in CASES]
    assert len(set(kinds)) == len(kinds) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["kind"] for c in CASES])
def test_bad_row_gets_exact_errors(case):
    used, conv, problems = convert_row(case["row"], case["format"])
    assert conv is None
    assert [p.message for p in problems] == case["expected_errors"]
    if case["format"] in ("auto", "openai") and isinstance(case["row"], dict) and "messages" in case["row"]:
        assert validate_conversation(case["row"]) == case["expected_errors"]


def test_corpus_as_one_file_reports_every_row(tmp_path):
    """The loader keeps going over the whole corpus and reports each row's problems under its index."""
    cases = [c for c in CASES if c["format"] == "auto"]
    good = design_row()
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps(good)] + [json.dumps(c["row"]) for c in cases]
    path.write_text("\n".join(lines) + "\n")
    rows, report = load_conversations(path)
    assert rows == [good]
    assert (report.rows_read, report.kept, report.dropped) == (len(cases) + 1, 1, len(cases))
    by_row: dict[int, list[str]] = {}
    for p in report.problems:
        by_row.setdefault(p.row, []).append(p.message)
        assert p.line == p.row + 1
    assert by_row == {i + 1: c["expected_errors"] for i, c in enumerate(cases)}
    assert sum(report.dropped_by_reason.values()) == report.dropped
    assert sum(report.problems_by_reason.values()) == len(report.problems)


# ------------------------------------------------------------------------------------------------ loading
def test_mixed_jsonl_report_is_exact():
    rows, report = load_conversations(DATA / "bad_rows" / "mixed.jsonl")
    assert len(rows) == 3
    assert report.to_dict() == {
        "source": str(DATA / "bad_rows" / "mixed.jsonl"), "format": "auto", "rows_read": 6, "kept": 3,
        "dropped": 3, "formats": {"openai": 2, "glaive": 1, "xlam": 1}, "blank_lines": 1,
        "dropped_by_reason": {"bad_json_line": 1, "row_not_object": 1, "no_final_assistant": 1},
        "problems_by_reason": {"bad_json_line": 1, "row_not_object": 1, "no_final_assistant": 1},
        "problems": [
            {"row": 1, "line": 3, "code": "bad_json_line",
             "message": "row is not valid JSON (Expecting ',' delimiter at column 91)"},
            {"row": 3, "line": 5, "code": "row_not_object", "message": "row: expected an object, got a list"},
            {"row": 4, "line": 6, "code": "no_final_assistant",
             "message": "message 2 (user): the conversation ends without an assistant turn, so there is nothing "
                        "to train on after it"}]}
    summary = report.summary()
    assert "read 6 rows, kept 3, dropped 3" in summary
    assert "  bad_json_line: 1" in summary
    assert "row 4 (line 6): message 2 (user): the conversation ends without an assistant turn" in summary
    json.dumps(report.to_dict())


def _arrow_rows():
    """Two rows whose calls have different argument keys: Arrow unifies them into one struct with nulls."""
    a = design_row()
    b = design_row()
    b["tools"][0]["function"]["parameters"]["properties"]["unit"] = {"type": "string"}
    b["messages"][2]["tool_calls"][0]["function"]["arguments"] = {"city": "Rome", "unit": "C"}
    return [a, b]


def test_parquet_and_datasets_sources_round_trip(tmp_path):
    rows = _arrow_rows()
    ds = datasets.Dataset.from_list(rows)
    assert ds[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris", "unit": None}
    path = tmp_path / "rows.parquet"
    ds.to_parquet(str(path))
    expected = [normalize_conversation(r) for r in rows]
    for source in (path, ds, rows):
        got, report = load_conversations(source)
        assert got == expected, type(source)
        assert (report.rows_read, report.kept, report.dropped) == (2, 2, 0)


def test_json_list_and_save_to_disk_sources(tmp_path):
    rows = _arrow_rows()
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    expected = [normalize_conversation(r) for r in rows]
    assert load_conversations(tmp_path / "rows.json")[0] == expected
    assert load_conversations(tmp_path / "saved")[0] == expected


def test_gzipped_json_lines(tmp_path):
    rows = _arrow_rows()
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    got, report = load_conversations(path)
    assert got == [normalize_conversation(r) for r in rows] and report.kept == 2


def test_unreadable_sources_raise_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_conversations(tmp_path / "missing.jsonl")
    (tmp_path / "rows.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unsupported file type .csv"):
        load_conversations(tmp_path / "rows.csv")
    with pytest.raises(TypeError, match="pass one split"):
        load_conversations(datasets.DatasetDict({"train": datasets.Dataset.from_list(_arrow_rows())}))
    with pytest.raises(ValueError, match="unknown format 'alpaca'"):
        load_conversations([], fmt="alpaca")


def test_strict_mode_raises_at_first_bad_row():
    rows = [design_row(), {"messages": []}]
    with pytest.raises(SchemaError, match=r"row 1: row: 'messages' is empty"):
        load_conversations(rows, strict=True)


def test_validate_cli_writes_clean_rows_and_report(tmp_path, capsys):
    out, rep = tmp_path / "clean.jsonl", tmp_path / "report.json"
    args = ["--input", str(DATA / "bad_rows" / "mixed.jsonl"), "--output", str(out), "--report", str(rep)]
    assert validate_main(args) == 0
    assert validate_main([*args, "--strict"]) == 1
    printed = capsys.readouterr().out
    assert "read 6 rows, kept 3, dropped 3" in printed and str(out) in printed
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 3 and all(validate_conversation(r) == [] for r in kept)
    assert json.loads(rep.read_text())["dropped_by_reason"] == {"bad_json_line": 1, "row_not_object": 1,
                                                                "no_final_assistant": 1}
    # the clean file loads back unchanged as canonical OpenAI rows
    again, report = load_conversations(out, fmt="openai")
    assert again == kept and report.dropped == 0


# ----------------------------------------------------------------------------------- property tests
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(valid_conversations())
def test_valid_generated_conversations_validate_clean(sample):
    row, _ = sample
    assert validate_conversation(row) == []


@PROPERTY_SETTINGS
@given(valid_conversations())
def test_normalize_is_idempotent_and_keeps_calls(sample):
    row, calls_made = sample
    once = normalize_conversation(row)
    assert normalize_conversation(once) == once
    calls = [c for m in once["messages"] for c in m.get("tool_calls", [])]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == calls_made
    ids = [c["id"] for c in calls]
    assert len(set(ids)) == len(ids)
    names = {c["id"]: c["function"]["name"] for c in calls}
    results = [m for m in once["messages"] if m["role"] == "tool"]
    assert sorted(m["tool_call_id"] for m in results) == sorted(ids)
    assert all(names[m["tool_call_id"]] == m["name"] for m in results)
    assert [m["role"] for m in once["messages"]] == [m["role"] for m in row["messages"]]


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(valid_conversations(), st.data())
def test_dropping_a_required_argument_is_reported_exactly(sample, data):
    row, _ = sample
    conv = normalize_conversation(row)
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in conv["tools"]}
    targets = [(i, j, c) for i, m in enumerate(conv["messages"]) for j, c in enumerate(m.get("tool_calls", []))
               if tools[c["function"]["name"]].get("required")]
    assume(targets)
    i, j, call = data.draw(st.sampled_from(targets))
    key = data.draw(st.sampled_from(tools[call["function"]["name"]]["required"]))
    del call["function"]["arguments"][key]
    assert validate_conversation(conv) == [
        f"message {i} (assistant) tool_calls[{j}] ({call['function']['name']}): missing required argument '{key}'"]


@PROPERTY_SETTINGS
@given(valid_conversations(), st.data())
def test_calling_an_unlisted_tool_is_reported_exactly(sample, data):
    row, _ = sample
    conv = normalize_conversation(row)
    targets = [(i, j) for i, m in enumerate(conv["messages"]) for j, _ in enumerate(m.get("tool_calls", []))]
    assume(targets)
    i, j = data.draw(st.sampled_from(targets))
    call = conv["messages"][i]["tool_calls"][j]
    call["function"]["name"] = "not_a_listed_tool"
    for m in conv["messages"]:
        if m.get("tool_call_id") == call["id"]:
            m["name"] = "not_a_listed_tool"
    available = ", ".join(repr(t["function"]["name"]) for t in conv["tools"])
    assert validate_conversation(conv) == [
        f"message {i} (assistant) tool_calls[{j}] (not_a_listed_tool): calls a tool that is not in tools "
        f"(available: {available})"]


def test_report_counts_reasons_by_first_problem():
    rows = [{"messages": []}, {"messages": []}, {"messages": [{"role": "user", "content": ""}]}, design_row()]
    _, report = load_conversations(rows)
    assert report.dropped_by_reason == Counter({"empty_messages": 2, "empty_message": 1})
    assert report.problems_by_reason == Counter({"empty_messages": 2, "empty_message": 1,
                                                 "no_final_assistant": 1})
    assert report.kept == 1


def test_rows_of_other_formats_point_at_their_importer():
    assert validate_conversation({"chat": "USER: hi", "system": ""}) == [
        "row: has no 'messages' list (keys: chat, system); it looks like a glaive row: convert it with "
        "load_conversations(..., fmt='glaive') or importers.import_row"]


def test_validate_script_runs_as_a_script(tmp_path):
    """`python data_prep/validate.py` puts data_prep/ first on sys.path: the thin script must still work."""
    script = Path(__file__).resolve().parents[1] / "data_prep" / "validate.py"
    result = subprocess.run([sys.executable, str(script), "--input", str(DATA / "bad_rows" / "mixed.jsonl"),
                             "--format", "auto", "--report", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "kept 3, dropped 3" in result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["kept"] == 3


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(ARBITRARY_ROWS)
def test_arbitrary_rows_never_crash_and_what_is_kept_is_canonical(row):
    """Whatever a source holds, every format either reports problems or returns a canonical, valid row."""
    for fmt in ("auto", "openai", "sharegpt", "glaive", "xlam", "hermes"):
        _, conv, problems = convert_row(row, fmt)
        assert (conv is None) == bool(problems)
        assert all(p.code and p.message for p in problems)
        if conv is not None:
            assert normalize_conversation(conv) == conv
            assert validate_conversation(conv) == []
    assert isinstance(validate_conversation(row), list)
