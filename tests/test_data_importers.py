"""Importers: hand-made rows in each published format against hand-written canonical rows, format detection,
options, and round trips of generated conversations through writers of the published formats.

Format references (written from the published datasets/docs, not from the importers):
- ShareGPT tool form: LLaMA-Factory's data/README (``function_call`` / ``observation`` turns, ``tools`` JSON string).
- Glaive: glaiveai/glaive-function-calling-v2 rows (``SYSTEM: ... Use them if required -`` + JSON specs;
  ``<functioncall> {"name": ..., "arguments": '...'} <|endoftext|>``, ``FUNCTION RESPONSE:``).
- xLAM: the Salesforce/xlam-function-calling-60k dataset card's example row.
- Hermes: NousResearch/hermes-function-calling-v1 (Python-literal ``<tools>`` and ``<tool_call>``,
  ``<tool_response>`` with ``{"name", "content"}``), and the Hermes 2 Pro JSON form.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from data_strategies import valid_conversations
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tooljudge.data_prep.importers import FORMATS, ImportOptions, detect_format, import_row, xlam_parameters
from tooljudge.data_prep.schema import normalize_conversation, validate_conversation
from tooljudge.data_prep.sources import convert_row, load_conversations

FIXTURES = Path(__file__).parent / "data" / "import_fixtures"
CASES = [(fmt, case) for fmt in FORMATS for case in json.loads((FIXTURES / f"{fmt}.json").read_text())]


@pytest.mark.parametrize("fmt,case", CASES, ids=[f"{fmt}: {case['name'][:50]}" for fmt, case in CASES])
def test_fixture_converts_to_hand_written_canonical_row(fmt, case):
    assert detect_format(case["input"]) == fmt
    for given_fmt in ("auto", fmt):
        used, conv, problems = convert_row(case["input"], given_fmt)
        assert problems == []
        assert used == fmt
        assert conv == case["expected"]
    # the expected rows are themselves canonical and valid
    assert normalize_conversation(case["expected"]) == case["expected"]
    assert validate_conversation(case["expected"]) == []


def test_each_format_has_fixtures():
    assert {fmt for fmt, _ in CASES} == set(FORMATS)


def test_fixture_files_load_with_a_full_report(tmp_path):
    path = tmp_path / "all.jsonl"
    path.write_text("".join(json.dumps(case["input"]) + "\n" for _, case in CASES))
    rows, report = load_conversations(path)
    assert rows == [case["expected"] for _, case in CASES]
    assert report.formats == {fmt: sum(f == fmt for f, _ in CASES) for fmt in FORMATS}
    assert report.dropped == 0


def _case(fmt: str, index: int) -> dict:
    return json.loads((FIXTURES / f"{fmt}.json").read_text())[index]["input"]


def test_keep_tool_system_prompt_option():
    keep = ImportOptions(keep_tool_system_prompt=True)
    glaive = _case("glaive", 0)
    _, raw = import_row(glaive, "glaive", keep)
    assert raw["messages"][0]["role"] == "system"
    assert raw["messages"][0]["content"].startswith("You are a helpful assistant with access to the following")
    assert '"name": "calculate_bmi"' in raw["messages"][0]["content"]
    hermes = _case("hermes", 0)
    _, raw = import_row(hermes, "hermes", keep)
    assert raw["messages"][0] == {"role": "system", "content": hermes["conversations"][0]["value"]}
    assert len(raw["tools"]) == 2


def test_glaive_custom_preamble_is_kept_as_system():
    row = {"system": "SYSTEM: You are a pirate. Use these tools -\n{\"name\": \"f\", \"parameters\": {}}",
           "chat": "USER: hi\n\n\nASSISTANT: Arr. <|endoftext|>"}
    _, conv, problems = convert_row(row)
    assert problems == []
    assert conv["messages"][0] == {"role": "system", "content": "You are a pirate. Use these tools -"}
    assert [t["function"]["name"] for t in conv["tools"]] == ["f"]


def test_hermes_tools_one_per_line():
    row = {"conversations": [
        {"from": "system", "value": "You are a function calling AI model.\n<tools>\n"
                                    "{'type': 'function', 'function': {'name': 'a', 'parameters': {}}}\n"
                                    "{'type': 'function', 'function': {'name': 'b', 'parameters': {}}}\n</tools>"},
        {"from": "human", "value": "Call b."},
        {"from": "gpt", "value": "<tool_call>\n{'arguments': {}, 'name': 'b'}\n</tool_call>"}]}
    _, conv, problems = convert_row(row)
    assert problems == []
    assert [t["function"]["name"] for t in conv["tools"]] == ["a", "b"]


def test_xlam_parameter_conversion_table():
    params = {"q": {"type": "str", "description": "query"},
              "n": {"type": "int, optional", "description": "count", "default": 5},
              "ids": {"type": "List[int]", "description": "ids", "default": ""},
              "opts": {"type": "Dict[str, Any], optional", "description": "options"},
              "when": {"type": "datetime", "description": "time"},
              "exact": {"type": "bool", "description": "exact match", "default": False}}
    assert xlam_parameters(params, "search") == {
        "type": "object",
        "properties": {"q": {"type": "string", "description": "query"},
                       "n": {"type": "integer", "description": "count", "default": 5},
                       "ids": {"type": "array", "description": "ids"},
                       "opts": {"type": "object", "description": "options"},
                       "when": {"description": "time"},
                       "exact": {"type": "boolean", "description": "exact match", "default": False}},
        "required": ["q", "ids", "when"]}


# ------------------------------------------------------------------ round trips through the published formats
def _strip_train(conv: dict) -> dict:
    conv = copy.deepcopy(conv)
    for m in conv["messages"]:
        m.pop("train", None)
    return conv


def _results_in_call_order(conv: dict) -> bool:
    order = [c["id"] for m in conv["messages"] for c in m.get("tool_calls", [])]
    answered = [m["tool_call_id"] for m in conv["messages"] if m["role"] == "tool"]
    return answered == order


def _renumber(conv: dict) -> dict:
    """Ids replaced by the ones an id-less source gets (call00001, ... in call order)."""
    conv = copy.deepcopy(conv)
    mapping = {}
    for m in conv["messages"]:
        for c in m.get("tool_calls", []):
            mapping[c["id"]] = c["id"] = f"call{len(mapping) + 1:05d}"
        if m["role"] == "tool":
            m["tool_call_id"] = mapping[m["tool_call_id"]]
    return conv


def _bare(tool: dict) -> dict:
    return tool["function"]


def write_sharegpt(conv: dict) -> dict:
    """LLaMA-Factory's ShareGPT tool form."""
    row: dict = {"conversations": [], "tools": json.dumps([_bare(t) for t in conv["tools"]])}
    messages = conv["messages"]
    i = 0
    while i < len(messages):
        m = messages[i]
        if m["role"] == "system":
            row["system"] = m["content"]
        elif m["role"] == "user":
            row["conversations"].append({"from": "human", "value": m["content"]})
        elif m["role"] == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m["tool_calls"]]
            row["conversations"].append({"from": "function_call",
                                         "value": json.dumps(calls if len(calls) > 1 else calls[0])})
            results = [r["content"] for r in messages[i + 1: i + 1 + len(calls)]]
            row["conversations"].append({"from": "observation",
                                         "value": json.dumps(results) if len(calls) > 1 else results[0]})
            i += len(calls)
        elif m["role"] == "assistant":
            row["conversations"].append({"from": "gpt", "value": m["content"]})
        i += 1
    return row


def write_hermes(conv: dict, literal: bool) -> dict:
    """hermes-function-calling-v1: Python literals (``literal``) as in func-calling-singleturn, else JSON."""
    dump = repr if literal else json.dumps
    turns = [{"from": "system", "value": "You are a function calling AI model. You are provided with function "
                                         "signatures within <tools> </tools> XML tags.\n<tools>\n"
                                         f"{dump(conv['tools'])}\n</tools>\nFor each function call return a "
                                         "json object with function name and arguments within <tool_call> "
                                         "</tool_call> tags."}]
    messages = conv["messages"]
    i = 0
    while i < len(messages):
        m = messages[i]
        if m["role"] == "user":
            turns.append({"from": "human", "value": m["content"]})
        elif m["role"] == "assistant":
            blocks = [f"<tool_call>\n{dump({'arguments': c['function']['arguments'], 'name': c['function']['name']})}"
                      f"\n</tool_call>" for c in m.get("tool_calls", [])]
            turns.append({"from": "gpt", "value": "\n".join(([m["content"]] if m["content"] else []) + blocks)})
            if blocks:
                results = messages[i + 1: i + 1 + len(blocks)]
                turns.append({"from": "tool", "value": "\n".join(
                    f"<tool_response>\n{json.dumps({'name': r['name'], 'content': r['content']})}\n</tool_response>"
                    for r in results)})
                i += len(blocks)
        i += 1
    return {"conversations": turns}


def write_glaive(conv: dict) -> dict:
    """glaive-function-calling-v2: one call per assistant turn, arguments as a single-quoted JSON string."""
    system = ("SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n"
              + "\n\n".join(json.dumps(_bare(t), indent=4) for t in conv["tools"]) + "\n")
    parts = []
    for m in conv["messages"]:
        if m["role"] == "user":
            parts.append(f"USER: {m['content']}")
        elif m["role"] == "tool":
            parts.append(f"FUNCTION RESPONSE: {m['content']}")
        elif m["role"] == "assistant" and m.get("tool_calls"):
            (call,) = m["tool_calls"]
            text = f"{m['content']} " if m["content"] else ""
            parts.append(f"ASSISTANT: {text}<functioncall> {{\"name\": \"{call['function']['name']}\", "
                         f"\"arguments\": '{json.dumps(call['function']['arguments'])}'}} <|endoftext|>")
        elif m["role"] == "assistant":
            parts.append(f"ASSISTANT: {m['content']} <|endoftext|>")
    return {"system": system, "chat": "\n\n\n".join(parts) + "\n\n\n"}


def _stripped_text(conv: dict) -> dict:
    """Text formats cannot carry leading/trailing spaces of turns: compare stripped contents."""
    conv = copy.deepcopy(conv)
    for m in conv["messages"]:
        m["content"] = m["content"].strip()
    return conv


ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(valid_conversations())
def test_round_trip_sharegpt(sample):
    conv = _strip_train(normalize_conversation(sample[0]))
    assume(_results_in_call_order(conv))
    for m in conv["messages"]:
        if m.get("tool_calls"):
            m["content"] = ""  # LLaMA-Factory's function_call turn has no text
    used, got, problems = convert_row(write_sharegpt(conv))
    assert (used, problems) == ("sharegpt", [])
    assert got == _renumber(conv)


@ROUND_TRIP
@given(valid_conversations(), st.booleans())
def test_round_trip_hermes(sample, literal):
    conv = _strip_train(normalize_conversation(sample[0]))
    assume(_results_in_call_order(conv))
    conv["messages"] = [m for m in conv["messages"] if m["role"] != "system"]  # the tools prompt replaces it
    used, got, problems = convert_row(write_hermes(conv, literal))
    assert (used, problems) == ("hermes", [])
    expected = _renumber(conv)
    for m in expected["messages"]:
        if m.get("tool_calls"):
            m["content"] = m["content"].strip()
    assert got == expected


@ROUND_TRIP
@given(valid_conversations())
def test_round_trip_glaive(sample):
    conv = _strip_train(normalize_conversation(sample[0]))
    assume(all(len(m.get("tool_calls", [])) <= 1 for m in conv["messages"]))
    conv["messages"] = [m for m in conv["messages"] if m["role"] != "system"]
    used, got, problems = convert_row(write_glaive(conv))
    assert (used, problems) == ("glaive", [])
    assert got == _stripped_text(_renumber(conv))


# ------------------------------------------------------------------ canonical rows render through a HF template
@pytest.fixture(scope="module")
def render_qwen25():
    """transformers' chat-template renderer (what apply_chat_template calls) with TRL's Qwen 2.5 tool template,
    the toolkit's `qwen25` family for SmolLM2. The template file is read without importing trl (slow)."""
    import importlib.util

    from transformers.utils.chat_template_utils import render_jinja_template

    template = (Path(importlib.util.find_spec("trl").origin).parent / "chat_templates" / "qwen2_5.jinja").read_text()

    def render(messages, tools):
        rendered, _ = render_jinja_template([messages], tools=tools, chat_template=template)
        return rendered[0]

    return render


@pytest.mark.parametrize("fmt,case", CASES, ids=[f"{fmt}: {case['name'][:50]}" for fmt, case in CASES])
def test_canonical_rows_render_through_the_chat_template(render_qwen25, fmt, case):
    """What the importers produce is what HF templates expect: parsing the rendered text back gives the same
    tools, calls (arguments as JSON objects, not double-encoded strings) and tool results."""
    conv = case["expected"]
    text = render_qwen25(conv["messages"], conv["tools"] or None)
    calls = [json.loads(block) for block in re.findall(r"<tool_call>\n(.*?)\n</tool_call>", text, re.S)
             if block != '{"name": <function-name>, "arguments": <args-json-object>}']
    assert calls == [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                     for m in conv["messages"] for c in m.get("tool_calls", [])]
    results = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", text, re.S)
    assert results == [m["content"] for m in conv["messages"] if m["role"] == "tool"]
    tools_block = re.search(r"<tools>\n(.*?)\n</tools>", text, re.S)
    assert ([json.loads(line) for line in tools_block.group(1).splitlines()] if tools_block else []) == conv["tools"]
