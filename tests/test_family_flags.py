"""Masking reads a family's behaviour from its record, never from its name: a copy of a built-in record under
another name masks every row exactly as the original, and turning one behaviour flag off changes the row it
exists for (so each flag is what carries the behaviour)."""

from __future__ import annotations

import dataclasses

import pytest
from tooljudge.data_prep.families import (
    FAMILIES,
    FamilyError,
    copy_family,
    get_family,
    register_family,
    unregister_family,
)
from tooljudge.data_prep.masking import MaskConfig, family_writes_parallel_calls, prepare_example

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}


def _call(i: int, city: str) -> dict:
    return {"id": f"call{i}abcd", "type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}


# consecutive text replies with no tools: qwen2_fncall merges them only when it writes its function prompt
NO_TOOLS = {"tools": [], "messages": [
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
    {"role": "assistant", "content": "How can I help?"}]}
# two calls in one turn: split into one turn per call where the family cannot write them together
PARALLEL = {"tools": [WEATHER], "messages": [
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "", "tool_calls": [_call(1, "Paris"), _call(2, "Rome")]},
    {"role": "tool", "tool_call_id": "call1abcd", "name": "get_weather", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call2abcd", "name": "get_weather", "content": "rainy"},
    {"role": "assistant", "content": "Sunny in Paris, rainy in Rome."}]}
# a JSON tool result whose escapes hide control text: mistral_v3 decodes results, so it must be looked for
ESCAPED_RESULT = {"tools": [WEATHER], "messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [_call(1, "Paris")]},
    {"role": "tool", "tool_call_id": "call1abcd", "name": "get_weather",
     "content": '{"sky": "\\u003c/s\\u003e"}'},
    {"role": "assistant", "content": "Odd sky."}]}
ROWS = {"no_tools": NO_TOOLS, "parallel": PARALLEL, "escaped_result": ESCAPED_RESULT}


@pytest.fixture(scope="module")
def tokenizers():
    """The tokenizer each family's reference uses (its control tokens are the ones masking must find)."""
    from reference_tokenizers import reference_tokenizer

    return {"qwen2_fncall": reference_tokenizer("qwen2"), "mistral_v3": reference_tokenizer("mistral_v3")}


@pytest.fixture()
def copies():
    """``copy_<name>``: each built-in record under another name; ``off_<flag>``: a copy with one flag off."""
    made = []

    def make(base: str, name: str, **changes):
        register_family(dataclasses.replace(FAMILIES.get(base), name=name, aliases=(), detect=(), **changes))
        made.append(name)
        return name

    yield make
    for name in made:
        unregister_family(name)


def _mask(tok, row, family, **options):
    return prepare_example(tok, row, family=get_family(family, **options), config=MaskConfig())


@pytest.mark.parametrize("base", ["qwen2_fncall", "mistral_v3"])
@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_renamed_copy_of_a_record_masks_like_the_original(tokenizers, copies, base, row):
    name, tok = copies(base, f"copy_{base}"), tokenizers[base]
    for options in ({}, {"parallel": False}) if base == "qwen2_fncall" else ({},):
        assert _mask(tok, ROWS[row], name, **options) == _mask(tok, ROWS[row], base, **options)


def test_merges_only_with_tools_keeps_tool_less_replies_apart(tokenizers, copies):
    tok = tokenizers["qwen2_fncall"]
    off = copies("qwen2_fncall", "off_merges_only_with_tools", merges_only_with_tools=False)
    assert _mask(tok, NO_TOOLS, off) != _mask(tok, NO_TOOLS, "qwen2_fncall")


def test_parallel_option_is_read_from_the_options(tokenizers, copies):
    tok = tokenizers["qwen2_fncall"]
    assert family_writes_parallel_calls(get_family("qwen2_fncall"))
    assert not family_writes_parallel_calls(get_family("qwen2_fncall", parallel=False))
    assert not family_writes_parallel_calls(copy_family(get_family("qwen2_fncall"), parallel=False))
    split = _mask(tok, PARALLEL, "qwen2_fncall", parallel=False)  # one turn per call, then the serial prompt
    assert split != _mask(tok, PARALLEL, "qwen2_fncall")
    off = copies("qwen2_fncall", "off_parallel_option", parallel_option=None)
    assert family_writes_parallel_calls(get_family(off, parallel=False))  # the option means nothing without it
    with pytest.raises(FamilyError, match="parallel calls need"):  # so no split, and the serial prompt refuses
        _mask(tok, PARALLEL, off, parallel=False)


def test_parses_tool_json_finds_control_text_behind_json_escapes(tokenizers, copies):
    tok = tokenizers["mistral_v3"]
    off = copies("mistral_v3", "off_parses_tool_json", parses_tool_json=False)
    assert _mask(tok, ESCAPED_RESULT, off) != _mask(tok, ESCAPED_RESULT, "mistral_v3")
