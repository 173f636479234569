"""A corpus of hostile and malformed JSON Lines rows, written at the byte level, each with the reason the readers
must give it (``None``: a good row that must be kept; ``"blank"``: a line that is not a row at all).

Used by tests/test_hostile_input.py through validate.py, prepare.py and the training-data reader. Every row is
one physical line: the bytes are exactly what is written between two ``\\n``.

    python tests/hostile_corpus.py OUT_DIR    # one file per kind (good row, hostile line, good row) + expected.json
"""

from __future__ import annotations

import json


def good(i: int, **extra) -> dict:
    """A valid row whose user turn names ``i`` (so each kept row can be found again)."""
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}],
            **extra}


def line(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


GOOD = line(good(-1))
WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                 "required": ["city"]}}


def call_row(arguments, tool=None) -> dict:
    """A row with one call to ``tool`` (default get_weather) and ``arguments`` (a dict or a JSON string)."""
    tool = tool or WEATHER
    return {"messages": [{"role": "user", "content": "Weather?"},
                         {"role": "assistant", "content": "", "tool_calls": [
                             {"type": "function", "function": {"name": tool["name"], "arguments": arguments}}]},
                         {"role": "tool", "content": "18"},
                         {"role": "assistant", "content": "18 degrees."}],
            "tools": [tool]}


def schema_row(parameters: dict, arguments: dict) -> bytes:
    return line(call_row(arguments, {"name": "f", "parameters": parameters}))


def _args_text(text: str) -> bytes:
    """A call whose arguments are the JSON string ``text`` (the nested-JSON path of the readers)."""
    return line(call_row(text))


def _deep(n: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * n + close * n).encode()


def _deep_object(n: int) -> bytes:
    return ('{"a":' * n + "1" + "}" * n).encode()


CATASTROPHIC = "^(a|aa)+$"  # exponential for backtracking engines, `regex` included (measured)

# (kind, the line's bytes, expected reason)
KINDS: list[tuple[str, bytes, str | None]] = [
    # --- encoding
    ("invalid_utf8_leading_ff", b"\xff" + GOOD, "invalid_utf8"),
    ("invalid_utf8_truncated_multibyte", GOOD[:-2] + b'\xe2\x82"}', "invalid_utf8"),
    ("invalid_utf8_overlong_slash", GOOD.replace(b"question", b"quest\xc0\xafion"), "invalid_utf8"),
    ("invalid_utf8_encoded_surrogate", GOOD.replace(b"question", b"quest\xed\xa0\x80ion"), "invalid_utf8"),
    ("invalid_utf8_latin1_text", GOOD.replace(b"question", b"caf\xe9"), "invalid_utf8"),
    ("invalid_utf8_continuation_only", GOOD.replace(b"answer", b"\x80\x80answer"), "invalid_utf8"),
    ("invalid_utf8_five_byte_form", GOOD.replace(b"answer", b"\xf8\x88\x80\x80\x80"), "invalid_utf8"),
    ("utf16_le_bom_and_text", b"\xff\xfe" + GOOD.decode().encode("utf-16-le"), "invalid_utf8"),
    ("bom_then_good_row", b"\xef\xbb\xbf" + GOOD, None),
    ("utf8_multilingual_good_row", line(good(-2)).replace(b"question", "问题 вопрос 😀".encode()), None),
    ("escaped_surrogate_pair_good", GOOD.replace(b"question", b"\\ud83d\\ude00 question"), None),
    ("line_separator_u2028_in_string", GOOD.replace(b"question", "a\u2028b\u2029c\x85d".encode()), None),
    # --- line endings and whitespace
    ("crlf_line_end", GOOD + b"\r", None),
    ("lone_cr_as_whitespace_between_tokens", GOOD.replace(b'"messages":', b'"messages":\r'), None),
    ("lone_cr_inside_string", GOOD.replace(b"question", b"ques\rtion"), "bad_json_line"),
    ("record_separator_inside_string", GOOD.replace(b"question", b"ques\x1etion"), "bad_json_line"),
    ("form_feed_inside_string", GOOD.replace(b"question", b"ques\x0ction"), "bad_json_line"),
    ("nul_byte_inside_string", GOOD.replace(b"question", b"ques\x00tion"), "bad_json_line"),
    ("nul_byte_after_row", GOOD + b"\x00", "bad_json_line"),
    ("whitespace_only_line", b"   \t  ", "blank"),
    ("vertical_tab_only_line", b"\x0b\x0c", "blank"),
    ("bom_only_line", b"\xef\xbb\xbf", "blank"),
    ("crlf_blank_line", b"\r", "blank"),
    # --- JSON syntax
    ("trailing_garbage", GOOD + b" xyz", "bad_json_line"),
    ("two_objects_on_one_line", GOOD + GOOD, "bad_json_line"),
    ("unterminated_string", GOOD[:20], "bad_json_line"),
    ("trailing_comma", GOOD[:-1] + b",}", "bad_json_line"),
    ("single_quotes", GOOD.replace(b'"', b"'"), "bad_json_line"),
    ("js_comment", b"// comment\t" + GOOD, "bad_json_line"),
    ("leading_zero_number", GOOD[:-1] + b', "n": 01}', "bad_json_line"),
    ("hex_number", GOOD[:-1] + b', "n": 0x10}', "bad_json_line"),
    ("bare_word", b"hello", "bad_json_line"),
    ("invalid_escape", GOOD.replace(b"question", b"\\q"), "bad_json_line"),
    ("truncated_unicode_escape", GOOD.replace(b"question", b"\\u12"), "bad_json_line"),
    # --- not an object / not a conversation
    ("row_is_array", b"[1, 2]", "row_not_object"),
    ("row_is_string", b'"text"', "row_not_object"),
    ("row_is_number", b"42", "row_not_object"),
    ("row_is_null", b"null", "row_not_object"),
    ("row_is_true", b"true", "row_not_object"),
    ("empty_object", b"{}", "unknown_format"),
    ("unknown_keys", b'{"foo": 1}', "unknown_format"),
    # --- limits
    ("array_nested_700", _deep(700), "json_too_deep"),
    ("object_nested_700", _deep_object(700), "json_too_deep"),
    ("array_nested_100000", _deep(100_000), "json_too_deep"),
    ("arguments_nested_65", line(call_row({"city": "x"})).replace(b'"x"', _deep(65)), "json_too_deep"),
    ("integer_5000_digits", GOOD[:-1] + b', "n": ' + b"1" * 5000 + b"}", "number_too_long"),
    ("negative_integer_5000_digits", GOOD[:-1] + b', "n": -' + b"9" * 5000 + b"}", "number_too_long"),
    ("integer_101_digits_in_arguments", line(call_row({"city": "x"})).replace(b'"x"', b"7" * 101),
     "number_too_long"),
    ("float_5000_digits", GOOD[:-1] + b', "n": 0.' + b"1" * 5000 + b"}", "number_too_long"),
    ("too_many_values", GOOD[:-1] + b', "n": [' + b"0," * 250_000 + b"0]}", "json_too_many_values"),
    ("line_over_8_mib", GOOD[:-1] + b', "pad": "' + b"x" * (8 * 1024 * 1024) + b'"}', "line_too_long"),
    # --- numbers that are not JSON
    ("nan", GOOD[:-1] + b', "n": NaN}', "non_finite_number"),
    ("infinity", GOOD[:-1] + b', "n": Infinity}', "non_finite_number"),
    ("minus_infinity", GOOD[:-1] + b', "n": -Infinity}', "non_finite_number"),
    ("overflow_1e999", GOOD[:-1] + b', "n": 1e999}', "non_finite_number"),
    ("overflow_minus_1e999", GOOD[:-1] + b', "n": -1e999}', "non_finite_number"),
    ("nan_in_arguments_object", line(call_row({"city": "x"})).replace(b'"x"', b"NaN"), "non_finite_number"),
    ("nan_in_arguments_string", _args_text('{"city": NaN}'), "non_finite_number"),
    ("infinity_in_arguments_string", _args_text('{"city": Infinity}'), "non_finite_number"),
    # --- lone surrogates
    ("lone_high_surrogate", GOOD.replace(b"question", b"\\ud800"), "lone_surrogate"),
    ("lone_low_surrogate", GOOD.replace(b"question", b"\\udfff"), "lone_surrogate"),
    ("reversed_surrogate_pair", GOOD.replace(b"question", b"\\udc00\\ud800"), "lone_surrogate"),
    ("surrogate_in_key", GOOD[:-1] + b', "\\ud800": 1}', "lone_surrogate"),
    ("surrogate_in_arguments_string", _args_text('{"city": "\\ud800"}'), "lone_surrogate"),
    # --- duplicate keys
    ("duplicate_top_level_key", GOOD[:-1] + b', "messages": []}', "duplicate_key"),
    ("duplicate_key_in_message", GOOD.replace(b'"role": "user"', b'"role": "user", "role": "system"'),
     "duplicate_key"),
    ("duplicate_key_in_arguments_object", line(call_row({"city": "x"})).replace(b'"city": "x"',
                                                                                 b'"city": "x", "city": "y"'),
     "duplicate_key"),
    ("duplicate_key_in_arguments_string", _args_text('{"city": "x", "city": "y"}'), "duplicate_key"),
    ("duplicate_key_by_escape", GOOD[:-1] + b', "a": 1, "\\u0061": 2}', "duplicate_key"),
    # --- tool schemas: references
    ("schema_ref_http", schema_row({"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/s.json"}}},
                                   {"a": 1}), "schema_remote_ref"),
    ("schema_ref_https", schema_row({"type": "object", "properties": {"a": {"$ref": "https://example.com/s"}}},
                                    {"a": 1}), "schema_remote_ref"),
    ("schema_ref_file", schema_row({"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}},
                                   {"a": 1}), "schema_remote_ref"),
    ("schema_ref_relative_file", schema_row({"type": "object", "properties": {"a": {"$ref": "other.json"}}},
                                            {"a": 1}), "schema_remote_ref"),
    ("schema_ref_not_a_string", schema_row({"type": "object", "properties": {"a": {"$ref": 12}}}, {"a": 1}),
     "schema_remote_ref"),
    ("schema_dynamic_ref_remote", schema_row({"type": "object", "properties": {"a": {"$dynamicRef": "http://x/y"}}},
                                             {"a": 1}), "schema_remote_ref"),
    ("schema_ref_unresolvable_pointer", schema_row({"type": "object", "properties": {"a": {"$ref": "#/nope"}}},
                                                   {"a": 1}), "schema_unresolvable_ref"),
    ("schema_ref_unknown_anchor", schema_row({"type": "object", "properties": {"a": {"$ref": "#nope"}}}, {"a": 1}),
     "schema_unresolvable_ref"),
    ("schema_id_rebases_local_ref", schema_row(
        {"type": "object", "properties": {"a": {"$id": "http://127.0.0.1:9/x",
                                                "properties": {"b": {"$ref": "#/definitions/d"}}}},
         "definitions": {"d": {"type": "integer"}}}, {"a": {"b": 1}}), "schema_unresolvable_ref"),
    ("schema_ref_cycle", schema_row({"type": "object", "definitions": {"a": {"$ref": "#/definitions/b"},
                                                                       "b": {"$ref": "#/definitions/a"}},
                                     "properties": {"a": {"$ref": "#/definitions/a"}}}, {"a": 1}),
     "schema_recursive_ref"),
    ("schema_local_ref_good", schema_row({"type": "object", "definitions": {"c": {"type": "string"}},
                                          "properties": {"a": {"$ref": "#/definitions/c"}}}, {"a": "x"}), None),
    # --- tool schemas: patterns
    ("schema_catastrophic_pattern", schema_row({"type": "object", "properties": {
        "a": {"type": "string", "pattern": CATASTROPHIC}}}, {"a": "a" * 60 + "!"}), "pattern_timeout"),
    ("schema_catastrophic_pattern_properties", schema_row({"type": "object", "patternProperties": {
        CATASTROPHIC: {"type": "integer"}}}, {"a" * 60 + "!": 1}), "pattern_timeout"),
    ("schema_catastrophic_additional_properties", schema_row({"type": "object", "properties": {},
                                                              "patternProperties": {"^(a|a)*$": {}},
                                                              "additionalProperties": False},
                                                             {"a" * 60 + "!": 1}), "pattern_timeout"),
    ("schema_invalid_pattern", schema_row({"type": "object", "properties": {"a": {"type": "string",
                                                                                  "pattern": "(("}}}, {"a": "x"}),
     "bad_tool_schema"),
    ("schema_huge_repeat_pattern", schema_row({"type": "object", "properties": {
        "a": {"type": "string", "pattern": "a{99999999999}"}}}, {"a": "x"}), "bad_tool_schema"),
    ("schema_pattern_too_long", schema_row({"type": "object", "properties": {
        "a": {"type": "string", "pattern": "a" * 2000}}}, {"a": "x"}), "schema_unsupported"),
    ("schema_unevaluated_with_pattern_properties", schema_row(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
         "patternProperties": {"^x": {}}, "unevaluatedProperties": False}, {"x": 1}), "schema_unsupported"),
    ("schema_pattern_good", schema_row({"type": "object", "properties": {"a": {"type": "string",
                                                                               "pattern": "^[a-z]+$"}}},
                                       {"a": "abc"}), None),
    ("schema_unique_items_5000_objects", schema_row({"type": "object", "properties": {
        "a": {"type": "array", "uniqueItems": True}}}, {"a": [{"k": i} for i in range(5000)]}), None),
    ("schema_unique_items_repeated_object", schema_row({"type": "object", "properties": {
        "a": {"type": "array", "uniqueItems": True}}}, {"a": [{"k": 1, "j": 2}, {"j": 2, "k": 1.0}]}),
     "arguments_schema_mismatch"),
    # --- structure
    ("messages_is_string", b'{"messages": "hi"}', "messages_not_list"),
    ("content_is_object", GOOD.replace(b'"question -1"', b'{"a": 1}'), "content_not_string"),
    ("role_is_number", GOOD.replace(b'"user"', b"7"), "unknown_role"),
    ("arguments_not_json", _args_text("{city: Paris}"), "arguments_not_json"),
    ("arguments_is_list", line(call_row([1, 2])), "arguments_not_object"),
    ("tools_not_list", GOOD[:-1] + b', "tools": 5}', "tools_not_list"),
    ("tool_result_without_call", line({"messages": [{"role": "user", "content": "x"},
                                                    {"role": "tool", "tool_call_id": "zz", "content": "1"},
                                                    {"role": "assistant", "content": "y"}]}),
     "tool_result_without_call"),
    # --- other formats' embedded JSON and Python literals
    ("hermes_literal_overflow", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "gpt", "value": "<tool_call>{'name': 'f', 'arguments': {'a': 1e999}}</tool_call>"}]}),
     "non_finite_number"),
    ("hermes_literal_duplicate_key", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "gpt", "value": "<tool_call>{'name': 'f', 'name': 'g', 'arguments': {}}</tool_call>"}]}),
     "duplicate_key"),
    ("hermes_literal_lone_surrogate", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "gpt", "value": "<tool_call>{'name': 'f', 'arguments': {'a': '\\ud800'}}</tool_call>"}]}),
     "lone_surrogate"),
    ("hermes_literal_deep", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "gpt", "value": "<tool_call>{'name': 'f', 'arguments': {'a': " + "[" * 90 + "]" * 90
         + "}}</tool_call>"}]}), "json_too_deep"),
    ("hermes_8000_unclosed_tool_calls", line({"conversations": [
        {"from": "human", "value": "x"}, {"from": "gpt", "value": "<tool_call>" * 8000}]}), "bad_tool_call"),
    ("hermes_8000_unclosed_tools_tags", line({"conversations": [
        {"from": "system", "value": "<tools>" * 8000}, {"from": "human", "value": "x"},
        {"from": "gpt", "value": "y"}]}), None),
    ("hermes_literal_300000_values", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "gpt", "value": "<tool_call>{'name': 'f', 'arguments': {'a': [" + "1," * 300_000 + "]}}</tool_call>"}]}),
     "json_too_many_values"),
    ("xlam_answers_nan", line({"query": "x", "answers": '[{"name": "f", "arguments": {"a": NaN}}]',
                               "tools": "[]"}), "non_finite_number"),
    ("sharegpt_call_duplicate_key", line({"conversations": [
        {"from": "human", "value": "x"},
        {"from": "function_call", "value": '{"name": "f", "name": "g", "arguments": {}}'},
        {"from": "observation", "value": "1"}, {"from": "gpt", "value": "ok"}]}), "duplicate_key"),
]


def write_corpus(folder) -> None:
    """One ``KIND.jsonl`` per kind (good row 0, the kind's line, good row 1) and ``expected.json`` (kind ->
    reason), for running the corpus through any CLI by hand."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for kind, data, _ in KINDS:
        (folder / f"{kind}.jsonl").write_bytes(line(good(0)) + b"\n" + data + b"\n" + line(good(1)) + b"\n")
    (folder / "expected.json").write_text(json.dumps({k: e for k, _, e in KINDS}, indent=1) + "\n")


if __name__ == "__main__":
    import sys

    write_corpus(sys.argv[1])

