"""Tool-call parsers: against the vendors' own encoders/decoders (Meta's llama-models, mistral-common), against
the exact assistant text our training renders (data_prep.masking.render_completion), hand-checked malformed
outputs per family, and hypothesis properties (never raises; hand-serialised calls round-trip)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tooljudge.core.tool_parsers import (
    BAD_ARGUMENTS,
    BAD_CALL_ID,
    FAILURES,
    FAMILY_ALIASES,
    MAX_CALLS,
    MAX_DEPTH,
    MAX_OUTPUT_CHARS,
    MISSING_NAME,
    NOT_JSON,
    NOT_LITERAL,
    NOT_PYTHON,
    TOO_DEEP,
    TOO_LONG,
    TRUNCATED,
    UNKNOWN_FUNCTION,
    WRONG_FORMAT,
    parse_tool_calls,
)

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                         "units": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Time in a zone.", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}, "opts": {"type": "object"}}, "required": ["tz"]}}},
]
PREFIX = [{"role": "user", "content": "Weather in Paris for 3 days, and the time in Tokyo?"}]


def _msg(*calls):
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": f"call{i:04d}a", "type": "function", "function": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(calls)]}


ONE = _msg(("get_weather", {"city": "Paris", "days": 3}))
TWO = _msg(("get_weather", {"city": "Zürich \"centre\"", "units": "c"}),
           ("get_time", {"tz": "Asia/Tokyo", "opts": {"fmt": ["24h", 1.5, True, None]}}))

# (family, reference tokenizer)
RENDERED = [("llama31", "llama31"), ("llama31_meta", "llama31"), ("mistral_v3", "mistral_v3"),
            ("glm4", "glm4"), ("qwen2_fncall", "qwen2"), ("qwen25", "smollm2")]


def _plain(calls):
    return [(c["name"], c["arguments"]) for c in calls]


@pytest.mark.parametrize(("family", "tok_name"), RENDERED)
def test_parses_what_training_renders(family, tok_name):
    """The trained assistant span (render_completion, stop token included) parses back to the same calls."""
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep.families import FamilyError
    from tooljudge.data_prep.masking import MaskError, render_completion

    tok = reference_tokenizer(tok_name)
    checked = 0
    for msg in (ONE, TWO):
        try:
            text = render_completion(tok, PREFIX, msg, TOOLS, family=family)
        except (MaskError, FamilyError) as e:
            # Llama 3.1 refuses TWO (parallel calls; llama-models' ToolCall also refuses its nested "opts"): a named
            # refusal, tested with data_prep; ONE must still render and parse
            assert family.startswith("llama31") and msg is TWO, e
            continue
        out = parse_tool_calls(text, family, tool_names=["get_weather", "get_time"])
        assert out.failure is None, (text, out)
        want = [(c["function"]["name"], c["function"]["arguments"]) for c in msg["tool_calls"]]
        assert _plain(out.calls) == want
        if family == "mistral_v3":
            assert [c["id"] for c in out.calls] == [c["id"] for c in msg["tool_calls"]]
        checked += 1
    assert checked >= 1
    # a plain answer is no call and no failure
    text = render_completion(tok, PREFIX, {"role": "assistant", "content": "It is sunny in Paris."}, TOOLS,
                             family=family)
    out = parse_tool_calls(text, family)
    assert out.calls == [] and out.failure is None and "sunny" in out.content


def test_llama_agrees_with_metas_reference_decoder():
    from llama_models.datatypes import BuiltinTool, StopReason, ToolCall, ToolPromptFormat
    from llama_models.llama3.chat_format import ChatFormat
    from llama_models.llama3.tokenizer import Tokenizer
    from llama_models.llama3.tool_utils import ToolUtils

    decode = ChatFormat(Tokenizer.get_instance()).decode_assistant_message_from_content
    cases = [
        (ToolCall(call_id="1", tool_name="get_weather", arguments={"city": "Paris", "days": 3}), ToolPromptFormat.json),
        (ToolCall(call_id="2", tool_name="get_time", arguments={"tz": "UTC"}), ToolPromptFormat.function_tag),
        (ToolCall(call_id="3", tool_name="get_time", arguments={"tz": "UTC", "n": 2}), ToolPromptFormat.python_list),
        (ToolCall(call_id="4", tool_name=BuiltinTool.brave_search, arguments={"query": "weather in Paris"}),
         ToolPromptFormat.json),
        (ToolCall(call_id="5", tool_name=BuiltinTool.wolfram_alpha, arguments={"query": "solve x^2 = 4"}),
         ToolPromptFormat.json),
    ]
    for call, fmt in cases:
        for tag in ("", "<|python_tag|>"):
            text = tag + ToolUtils.encode_tool_call(call, fmt) + "<|eom_id|>"
            ref = decode(text, StopReason.end_of_turn).tool_calls[0]
            ref_name = ref.tool_name.value if isinstance(ref.tool_name, BuiltinTool) else ref.tool_name
            out = parse_tool_calls(text, "llama31_meta")
            assert out.failure is None, text
            assert _plain(out.calls) == [(ref_name, ref.arguments)], text
    code = "<|python_tag|>import math\nprint(math.sqrt(2))<|eom_id|>"
    ref = decode(code, StopReason.end_of_turn).tool_calls[0]
    assert _plain(parse_tool_calls(code, "llama31").calls) == [("code_interpreter", ref.arguments)]


def test_mistral_agrees_with_mistral_common_encoder():
    from mistral_common.protocol.instruct.messages import AssistantMessage, UserMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.tool_calls import FunctionCall, ToolCall
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
    from reference_tokenizers import mistral_v3_model_path

    mt = MistralTokenizer.from_file(str(mistral_v3_model_path()), mode=ValidationMode.finetuning)
    calls = [ToolCall(id="abcDEF123", function=FunctionCall(name="get_weather", arguments={"city": "Paris"})),
             ToolCall(id="Zz9Zz9Zz9", function=FunctionCall(name="get_time", arguments={"tz": "UTC", "n": [1, 2]}))]
    req = ChatCompletionRequest(messages=[UserMessage(content="hi"), AssistantMessage(tool_calls=calls)])
    tokens = mt.encode_chat_completion(req).tokens
    sp = mt.instruct_tokenizer.tokenizer
    generated = tokens[tokens.index(sp.get_special_token("[/INST]")) + 1 :]
    # what a served model emits: the [TOOL_CALLS] control token, the JSON text, then </s>
    assert generated[0] == sp.get_special_token("[TOOL_CALLS]") and generated[-1] == sp.eos_id
    text = "[TOOL_CALLS]" + sp.decode(generated[1:-1], special_token_policy=SpecialTokenPolicy.IGNORE) + "</s>"
    out = parse_tool_calls(text, "mistral_v3")
    assert out.failure is None
    assert [(c["name"], c["arguments"], c["id"]) for c in out.calls] == [
        ("get_weather", {"city": "Paris"}, "abcDEF123"), ("get_time", {"tz": "UTC", "n": [1, 2]}, "Zz9Zz9Zz9")]


# ------------------------------------------------------------------ hand-checked outputs, malformed included

CASES = [
    # family, output, expected calls [(name, args)], expected failure
    ("llama31", '{"name": "get_weather", "parameters": {"city": "Paris"}}', [("get_weather", {"city": "Paris"})], None),
    ("llama31", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>',
     [("get_weather", {"city": "Paris"})], None),
    ("llama31", '[{"name": "a", "parameters": {}}, {"name": "b", "parameters": {"x": 1}}]',
     [("a", {}), ("b", {"x": 1})], None),
    ("llama31", '{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 1}}', [("a", {}), ("b", {"x": 1})], None),
    ("llama31", '<|python_tag|>brave_search.call(query="Menlo Park weather")<|eom_id|>',
     [("brave_search", {"query": "Menlo Park weather"})], None),
    ("llama31", "[get_time(tz='UTC', n=[1, 2]), get_weather(city=\"Paris\")]",
     [("get_time", {"tz": "UTC", "n": [1, 2]}), ("get_weather", {"city": "Paris"})], None),
    ("llama31", '<function=get_time>{"tz": "UTC"}</function>', [("get_time", {"tz": "UTC"})], None),
    ("llama31", "[\n  get_time(tz='UTC'),\n  get_weather(city='Oslo')\n]",
     [("get_time", {"tz": "UTC"}), ("get_weather", {"city": "Oslo"})], None),
    ("llama31", '[\n  {"name": "a", "parameters": {}}\n]', [("a", {})], None),
    ("llama31", '```json\n{"name": "a", "parameters": {"x": 1}}\n```', [("a", {"x": 1})], None),
    ("llama31", "The weather in Paris is sunny.", [], None),
    ("llama31", "Tokyo (Japan) is sunny, about 20 C (68 F).", [], None),
    ("llama31", '{"name": "get_weather", "parameters": {"city": "Par', [], TRUNCATED),
    ("llama31", '{"name": "get_weather", "parameters": {"city": "Paris"}', [], TRUNCATED),
    ("llama31", '{"name": get_weather, "parameters": {}}', [], NOT_JSON),
    ("llama31", '{"parameters": {"city": "Paris"}}', [], MISSING_NAME),
    ("llama31", '{"name": "get_weather", "parameters": ["Paris"]}', [], BAD_ARGUMENTS),
    ("llama31", 'get_weather(city=open("/etc/passwd").read())', [], NOT_LITERAL),
    ("llama31", 'get_weather("Paris")', [], BAD_ARGUMENTS),
    ("llama31", 'get_weather(city="Paris"', [], TRUNCATED),
    ("llama31", "get_weather(city=) + 1", [], NOT_PYTHON),
    ("llama31", 'Sure: <tool_call>{"name": "a", "arguments": {}}</tool_call>', [], WRONG_FORMAT),
    ("mistral_v3", '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}]</s>',
     [("get_weather", {"city": "Paris"})], None),
    ("mistral_v3", '[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": [1]}}]',
     [("a", {}), ("b", {"x": [1]})], None),
    ("mistral_v3", '[TOOL_CALLS] [{"name": "a", "arguments": {}, "id": "short"}]', [("a", {})], BAD_CALL_ID),
    ("mistral_v3", '[TOOL_CALLS] [{"name": "a", "arguments": {"x": 1}', [], TRUNCATED),
    ("mistral_v3", "[TOOL_CALLS]", [], TRUNCATED),
    ("mistral_v3", "[TOOL_CALLS] [{'name': 'a'}]", [], NOT_JSON),
    ("mistral_v3", '[TOOL_CALLS] [{"name": "a", "arguments": "{\\"x\\": 1}"}]', [("a", {"x": 1})], None),
    ("mistral_v3", '[TOOL_CALLS] [{"name": "a", "arguments": "x=1"}]', [], NOT_JSON),
    ("mistral_v3", "Paris is sunny today.</s>", [], None),
    ("mistral_v3", '{"name": "a", "arguments": {}}', [], WRONG_FORMAT),
    ("qwen25", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
     [("get_weather", {"city": "Paris"})], None),
    ("hermes", 'Let me look.\n<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n'
               '<tool_call>\n{"name": "b", "arguments": {"k": "v"}}\n</tool_call><|im_end|>',
     [("a", {}), ("b", {"k": "v"})], None),
    ("chatml", '<tool_call>\n{"name": "a", "arguments": {"x": 1}}', [("a", {"x": 1})], None),
    ("qwen25", '<tool_call>\n{"name": "a", "arguments": {"x": 1}\n', [], TRUNCATED),
    ("qwen25", '<tool_call>\n{"name": "a", "arguments": {"x": 1},}\n</tool_call>', [], NOT_JSON),
    ("qwen25", '<tool_call>\n{"arguments": {}}\n</tool_call>', [], MISSING_NAME),
    ("qwen25", "<tool_call>", [], TRUNCATED),
    ("qwen25", "I cannot help with that.", [], None),
    ("qwen25", '[TOOL_CALLS] [{"name": "a", "arguments": {}}]', [], WRONG_FORMAT),
    ("glm4", 'get_weather\n{"city": "Paris"}', [("get_weather", {"city": "Paris"})], None),
    ("glm4", 'get_weather\n{"city": "Paris"}<|assistant|>get_time\n{"tz": "UTC"}<|observation|>',
     [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "UTC"})], None),
    ("glm4", '{"name": "get_weather", "arguments": {"city": "Paris"}}', [("get_weather", {"city": "Paris"})], None),
    ("glm4", 'get_weather\n{"city": "Par', [], TRUNCATED),
    ("glm4", "get_weather\n{city: Paris}", [], NOT_JSON),
    ("glm4", "Hello\nHow can I help you today?", [], None),
    ("qwen2_fncall", '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}', [("get_weather", {"city": "Paris"})], None),
    ("qwen2_fncall", 'I will check both.\n✿FUNCTION✿: a\n✿ARGS✿: {}\n✿FUNCTION✿: b\n✿ARGS✿: {"x": 2}\n✿RESULT✿: 5',
     [("a", {}), ("b", {"x": 2})], None),
    ("qwen2_fncall", '✿FUNCTION✿: a\n✿ARGS✿: ```json\n{"x": 1}\n```', [("a", {"x": 1})], None),
    ("qwen2_fncall", "✿FUNCTION✿: get_weather", [], TRUNCATED),
    ("qwen2_fncall", "✿FUNCTION✿: get_weather\n✿ARGS✿:", [], TRUNCATED),
    ("qwen2_fncall", "✿FUNCTION✿: get_weather\n✿ARGS✿: city=Paris", [], NOT_JSON),
    ("qwen2_fncall", "✿FUNCTION✿: \n✿ARGS✿: {}", [], MISSING_NAME),
    ("qwen2_fncall", "✿RETURN✿: It is sunny.", [], None),
    ("plain", '<tool_call>{"name": "a", "arguments": {}}</tool_call>', [], None),
]


@pytest.mark.parametrize(("family", "text", "calls", "failure"), CASES)
def test_hand_checked_outputs(family, text, calls, failure):
    out = parse_tool_calls(text, family)
    assert out.failure == failure, out
    assert _plain(out.calls) == calls
    assert out.valid_format == (failure is None)
    if failure:
        assert out.detail  # a person can read why


def test_unknown_function_is_flagged_but_kept():
    out = parse_tool_calls('<tool_call>{"name": "launch", "arguments": {}}</tool_call>', "qwen25",
                           tool_names=["get_weather"])
    assert out.failure == UNKNOWN_FUNCTION and out.calls[0]["name"] == "launch" and "launch" in out.detail


def test_python_calls_are_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    text = f'get_weather(city=__import__("pathlib").Path("{marker}").write_text("x"))'
    assert parse_tool_calls(text, "llama31").failure == NOT_LITERAL
    assert parse_tool_calls("<|python_tag|>" + text, "llama31").calls[0]["name"] == "code_interpreter"
    assert not marker.exists()


def test_unknown_family_is_an_error_naming_it():
    with pytest.raises(ValueError, match="no tool-call parser for family 'gpt9'"):
        parse_tool_calls("x", "gpt9")


# ------------------------------------------------------------------------------------------ properties

FAMILIES = sorted(FAMILY_ALIASES)
FRAGMENTS = ["<tool_call>", "</tool_call>", "[TOOL_CALLS]", "✿FUNCTION✿:", "✿ARGS✿:", "<|python_tag|>", "{", "}",
             "[", "]", '"name"', ":", ",", "(", ")", '"', "\n", "get_weather", ".call(", "<|assistant|>", "</s>",
             "<function=", "=", "1e999", "-", "null", "query="]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(FAMILIES),
       text=st.one_of(st.text(max_size=80), st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)))
def test_never_raises(family, text):
    out = parse_tool_calls(text, family)
    assert out.failure is None or out.failure in {NOT_JSON, TRUNCATED, MISSING_NAME, BAD_ARGUMENTS, NOT_LITERAL,
                                                  NOT_PYTHON, BAD_CALL_ID, WRONG_FORMAT}
    for c in out.calls:
        assert isinstance(c["name"], str) and isinstance(c["arguments"], dict)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                      st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                            st.dictionaries(st.text(max_size=6), kids, max_size=3)),
                          max_leaves=8)
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
calls_st = st.lists(st.tuples(names, st.dictionaries(names, json_value, max_size=4)), min_size=1, max_size=3)


def _serialise(family, calls):
    """Each family's documented surface form, written by hand (not by the parser's code)."""
    if family == "llama31":
        return "<|python_tag|>" + "; ".join(json.dumps({"name": n, "parameters": a}) for n, a in calls) + "<|eom_id|>"
    if family == "mistral_v3":
        return "[TOOL_CALLS] " + json.dumps([{"name": n, "arguments": a, "id": "abcdefghi"} for n, a in calls]) + "</s>"
    if family == "qwen25":
        return "\n".join(f"<tool_call>\n{json.dumps({'name': n, 'arguments': a})}\n</tool_call>" for n, a in calls)
    if family == "glm4":
        return "<|assistant|>".join(f"{n}\n{json.dumps(a, ensure_ascii=False)}" for n, a in calls) + "<|observation|>"
    if family == "qwen2_fncall":
        return "Thought.\n" + "\n".join(f"✿FUNCTION✿: {n}\n✿ARGS✿: {json.dumps(a, ensure_ascii=False)}"
                                        for n, a in calls) + "\n✿RESULT✿"
    raise AssertionError(family)


@settings(max_examples=80, deadline=None)
@given(family=st.sampled_from(["llama31", "mistral_v3", "qwen25", "glm4", "qwen2_fncall"]), calls=calls_st)
def test_round_trip(family, calls):
    out = parse_tool_calls(_serialise(family, calls), family)
    assert out.failure is None
    assert _plain(out.calls) == [(n, a) for n, a in calls]


@settings(max_examples=60, deadline=None)
@given(family=st.sampled_from(["llama31", "mistral_v3", "qwen25", "glm4", "qwen2_fncall"]), calls=calls_st,
       cut=st.floats(0.3, 0.97))
def test_cut_output_is_never_a_silent_success(family, calls, cut):
    """An output cut inside its JSON either fails with a class or (if the cut fell between complete calls)
    yields a strict prefix of the calls; it never yields different calls."""
    text = _serialise(family, calls)
    out = parse_tool_calls(text[: int(len(text) * cut)], family)
    got = _plain(out.calls)
    assert got == [(n, a) for n, a in calls][: len(got)]


# ------------------------------------------------------------------------------------ hostile outputs (issue 17)

PARSER_FAMILIES = ["llama31", "mistral_v3", "hermes", "glm4", "qwen2_fncall", "plain"]  # one per parser
BOUNDED = {None, *FAILURES}


def _fill(unit: str, head: str = "", tail: str = "") -> str:
    """``head + unit * k + tail`` as close to the length cap as it gets: the worst size a parser must take."""
    return head + unit * ((MAX_OUTPUT_CHARS - len(head) - len(tail)) // len(unit)) + tail


# name -> (text, {family: expected failure}); families not named just have to stay bounded.
HOSTILE = {
    "function_tag_repeated": (_fill("<function=a>"), {"llama31": TRUNCATED}),  # was quadratic: 18 s for 96 KB
    "function_tag_after_python_tag": (_fill("<function=a>", "<|python_tag|>"), {}),
    "function_tag_without_name": (_fill("<function=>"), {"llama31": TRUNCATED}),
    "function_tag_unclosed_body": (_fill("{", "<function=a>"), {"llama31": TRUNCATED}),
    "function_tags_closed": (_fill('<function=a>{"x":1}</function>'), {"llama31": TOO_LONG}),
    "tool_call_open_brace_repeated": (_fill("<tool_call>{"), {"hermes": NOT_JSON}),  # was quadratic
    "tool_call_open_repeated": (_fill("<tool_call>"), {"hermes": NOT_JSON}),
    "tool_call_close_repeated": (_fill("</tool_call>"), {"hermes": None}),
    "tool_calls_closed": (_fill('<tool_call>{"name":"a","arguments":{}}</tool_call>'), {"hermes": TOO_LONG}),
    "python_unary_minus": (_fill("-", "[f(a="), {"llama31": TOO_DEEP}),  # was MemoryError
    "python_unary_minus_10k": ("[f(a=" + "-" * 10_000, {"llama31": TOO_DEEP}),  # the case
    "python_unary_minus_closed": ("f(a=" + "-" * 10_000 + "1)", {"llama31": TOO_DEEP}),
    "python_not": (_fill("not ", "f(a="), {"llama31": TOO_DEEP}),
    "python_lambda": (_fill("lambda:", "f(a="), {"llama31": TOO_DEEP}),
    "python_parens": (_fill("(", "f(a="), {"llama31": TRUNCATED}),
    "python_brackets": (_fill("[", "f(a="), {"llama31": TRUNCATED}),
    "python_brackets_closed_199": ("f(a=" + "[" * 199 + "]" * 199 + ")", {"llama31": TOO_DEEP}),
    "python_quotes": (_fill("'", "f(a="), {}),
    "python_many_calls": (_fill("f(a=1),", "[", "]"), {"llama31": TOO_LONG}),
    "python_big_int": (_fill("9", "f(a=", ")"), {"llama31": NOT_PYTHON}),
    "python_tag_unary_minus": (_fill("-", "<|python_tag|>f(a="), {"llama31": None}),  # code_interpreter, as Meta
    "json_deep_list": (_fill("[", "<tool_call>"), {"hermes": TOO_DEEP}),
    "json_deep_object": (_fill('{"a":', "<tool_call>"), {"hermes": TOO_DEEP}),
    "json_deep_closed_900": ('<tool_call>{"name":"a","arguments":{"x":' + "[" * 900 + "]" * 900 + "}}</tool_call>",
                             {"hermes": TOO_DEEP}),
    "json_deep_llama": ('{"name":"a","parameters":{"x":' + "[" * 900 + "]" * 900 + "}}", {"llama31": TOO_DEEP}),
    "json_deep_string_arguments": ('[TOOL_CALLS] [{"name":"a","arguments":"' + "[" * 900 + "]" * 900 + '"}]',
                                   {"mistral_v3": TOO_DEEP}),
    "json_big_int": (_fill("9", '<tool_call>{"name":"a","arguments":{"x":', "}}</tool_call>"), {"hermes": NOT_JSON}),
    "json_big_exponent": (_fill("9", '<tool_call>{"name":"a","arguments":{"x":1e', "}}</tool_call>"),
                          {"hermes": None}),
    "json_long_string": (_fill("a", '<tool_call>{"name":"a","arguments":{"x":"', '"}}</tool_call>'),
                         {"hermes": None}),
    "json_escapes": (_fill("\\u0000", '<tool_call>{"name":"a","arguments":{"x":"', '"}}</tool_call>'),
                     {"hermes": None}),
    "json_lone_surrogate_escape": ('<tool_call>{"name":"a","arguments":{"x":"\\ud800"}}</tool_call>', {"hermes": None}),
    "json_sequence_repeated": (_fill('{"name":"a","parameters":{}};'), {"llama31": TOO_LONG}),
    "json_commas": (_fill(",", "{}"), {"llama31": MISSING_NAME}),
    "mistral_open_brackets": (_fill("[", "[TOOL_CALLS] "), {"mistral_v3": TOO_DEEP}),
    "mistral_tag_repeated": (_fill("[TOOL_CALLS]"), {"mistral_v3": NOT_JSON}),
    "qwen_function_args_repeated": (_fill("✿FUNCTION✿: a\n✿ARGS✿: "), {"qwen2_fncall": TRUNCATED}),
    "qwen_function_repeated": (_fill("✿FUNCTION✿"), {"qwen2_fncall": TRUNCATED}),
    "qwen_args_repeated": (_fill("✿ARGS✿", "✿FUNCTION✿: a"), {"qwen2_fncall": TRUNCATED}),
    "glm_assistant_repeated": (_fill("<|assistant|>"), {"glm4": None}),
    "glm_calls_repeated": (_fill('a\n{"x":1}<|assistant|>'), {"glm4": TOO_LONG}),
    "glm_long_name": (_fill("a", "", "\n{"), {"glm4": TRUNCATED}),
    "end_tokens_repeated": (_fill("</s>", "x"), {"plain": None}),
    "end_tokens_and_spaces": (_fill("</s> ", "x"), {"plain": None}),
    "end_tokens_mixed": (_fill("<|eot_id|>\n<|im_end|>", "x"), {}),
    "fence_then_spaces": (_fill(" ", "<tool_call>```", "x"), {"hermes": NOT_JSON}),
    "fence_backticks": (_fill("`", "<tool_call>"), {"hermes": NOT_JSON}),
    "fence_long_language": (_fill("a", "```", " x"), {}),
    "name_hint_repeated": (_fill('{"name"'), {"hermes": WRONG_FORMAT}),
    "python_tag_repeated": (_fill("<|python_tag|>"), {}),
    "whitespace": (_fill(" \n\t\r"), {"hermes": None}),
    "lone_surrogates": (_fill("\ud800"), {"hermes": None}),
    "nul_bytes": (_fill("\x00"), {"hermes": None}),
    "backslashes_in_name": (_fill("\\", '<tool_call>{"name":"'), {"hermes": TRUNCATED}),
    "over_the_cap": ("x" * (MAX_OUTPUT_CHARS + 1), {f: TOO_LONG for f in PARSER_FAMILIES}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_output_is_bounded(name):
    """Every parser on every hostile output: no exception, a known failure class, under 3 s of CPU, and a record
    that json.dumps can write. The worst case measured was ~0.3 s (ast.parse of 100k characters), and 1.49 s for
    llama31 on python_many_calls in a fresh-clone run on a slower 2-core machine (2026-12-02; since then the call
    bound is applied before arguments are evaluated): the bound catches work that grows faster than the input,
    not a slow machine."""
    text, expected = HOSTILE[name]
    for family in PARSER_FAMILIES:
        start = time.process_time()
        out = parse_tool_calls(text, family)
        took = time.process_time() - start
        assert took < 3.0, (name, family, took)
        assert out.failure in BOUNDED, (name, family, out.failure)
        if family in expected:
            assert out.failure == expected[family], (name, family, out.failure, out.detail[:200])
        assert out.failure is None or out.detail
        json.dumps(out.to_dict())  # bounded depth: writing the record cannot recurse too deep
        assert len(out.calls) <= MAX_CALLS


def test_depth_cap_counts_from_the_payload():
    """MAX_DEPTH levels of decoded payload are accepted (the call object and its arguments count), one more is not."""
    def hermes(levels):  # {"name", "arguments": {"x": [[...]]}}: the object, its arguments and `levels` lists
        return '<tool_call>{"name":"a","arguments":{"x":' + "[" * levels + "]" * levels + "}}</tool_call>"

    ok = parse_tool_calls(hermes(MAX_DEPTH - 2), "hermes")
    assert ok.failure is None and ok.calls[0]["name"] == "a"
    deep = parse_tool_calls(hermes(MAX_DEPTH - 1), "hermes")
    assert deep.failure == TOO_DEEP and f"deeper than {MAX_DEPTH}" in deep.detail


fragment = st.sampled_from(FRAGMENTS + ["-", "not ", "lambda:", "```", " ", "✿FUNCTION✿", "[TOOL_CALLS]", "9",
                                        "\ud800", "<function=a>", "<tool_call>{", '{"a":', "\\"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(family=st.sampled_from(PARSER_FAMILIES),
       pieces=st.lists(st.tuples(fragment, st.sampled_from([1, 2, 50, 3000, 20_000])), min_size=1, max_size=6))
def test_fuzzed_repetitions_stay_bounded(family, pieces):
    """Random runs of call syntax repeated up to 20,000 times (the shape of every quadratic case found): never
    raises, a known class, under 1 s of CPU."""
    text = "".join(frag * k for frag, k in pieces)[: MAX_OUTPUT_CHARS + 10]
    start = time.process_time()
    out = parse_tool_calls(text, family)
    assert time.process_time() - start < 1.0
    assert out.failure in BOUNDED
    json.dumps(out.to_dict())


@pytest.mark.parametrize(("family", "failures", "correct"), [
    ("qwen25", [None, None, None, NOT_JSON], [True, False, False, False]),
    ("llama31", [WRONG_FORMAT, None, TOO_DEEP, WRONG_FORMAT], [False] * 4),
])
def test_examples_file_takes_any_output(tmp_path, family, failures, correct):
    """A lone surrogate, NUL and the issue's hostile outputs are scored and written (they crashed score_calls:
    MemoryError, UnicodeEncodeError, 18 s); the examples file reads back to the same text."""
    from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows
    from tooljudge.eval.score_calls import score_files

    rows = [{"id": f"r{i}", "category": "simple", "tools": TOOLS, "messages": PREFIX,
             "ground_truth": [{"get_weather": {"city": ["Paris"]}}]} for i in range(4)]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outputs = ['<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
               "I can't \ud800 help\x00", "[f(a=" + "-" * 10_000, "<tool_call>{" * 8000]
    (tmp_path / "preds.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "output": o}) + "\n" for r, o in zip(rows, outputs, strict=True)))
    out = score_files(family, tmp_path / "preds.jsonl", str(tmp_path / "eval.jsonl"), tmp_path / "out")
    assert out["metrics"]["overall"]["n"] == 4
    back = [row for _line, row in iter_rows(out["paths"]["examples"], OUTPUT_LIMITS)]
    assert [r["output"] for r in back] == outputs
    assert [r["failure"] for r in back] == failures
    assert [r["correct"] for r in back] == correct
    assert "\\ud800" in out["paths"]["examples"].read_text(encoding="utf-8")  # escaped, valid UTF-8


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"id": "r0", "output": "ok"}\n{"id": "r1", "output": "\xff\xfe"}\n', r"preds.jsonl:2: invalid UTF-8 at byte column 25"),
    (b'{"id": "r0", "output": "ok"}\n\n{"id": "r1", "output": ' + b"9" * 5000 + b"}\n",
     r"preds.jsonl:3: an integer has 5000 digits"),
    (b'{"id": "r0", "output": "ok"}\n' + b"[" * 100_000 + b"\n", r"preds.jsonl:2: nested more than 64 levels"),
    (b'{"id": "r0",\r"output": "ok"}\n{"id": "r1", "output": 1}\n', r"preds.jsonl:2: need"),
])
def test_bad_predictions_line_is_named(tmp_path, raw, message):
    """Invalid UTF-8, an unreadable number or nesting: the error names the physical line (a lone \\r is text)."""
    from tooljudge.eval.score_calls import read_predictions

    (tmp_path / "preds.jsonl").write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_predictions(tmp_path / "preds.jsonl")


def test_predictions_with_bom_and_lone_cr_read_as_written(tmp_path):
    from tooljudge.eval.score_calls import read_predictions

    (tmp_path / "preds.jsonl").write_bytes(b'\xef\xbb\xbf{"id": 1,\r"output": "a"}\r\n{"id": 2, "output": ""}\n')
    assert read_predictions(tmp_path / "preds.jsonl") == {"1": "a", "2": ""}


def test_python_call_bound_applies_before_arguments_are_read(monkeypatch):
    """More than MAX_CALLS Python-style calls fail as too long without evaluating any argument (the bound is not
    paid for by reading 14,000 calls first), even when a later call is malformed."""
    from tooljudge.core import tool_parsers

    evaluated = []
    real = tool_parsers._literal
    monkeypatch.setattr(tool_parsers, "_literal", lambda *a: evaluated.append(a) or real(*a))
    text = "[" + "f(a=1)," * tool_parsers.MAX_CALLS + "g(1)]"
    out = parse_tool_calls(text, "llama31")
    assert out.failure == tool_parsers.TOO_LONG, out
    assert f"{tool_parsers.MAX_CALLS + 1} calls" in out.detail
    assert evaluated == []
    ok = parse_tool_calls("[" + "f(a=1)," * tool_parsers.MAX_CALLS + "]", "llama31")
    assert ok.failure is None and len(ok.calls) == tool_parsers.MAX_CALLS and len(evaluated) == tool_parsers.MAX_CALLS
