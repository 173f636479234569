"""Llama 3.1 parity: ``llama31_meta`` against Meta's reference encoder, ``llama31`` against TRL's template file.

Reference: ``llama_models.llama3.chat_format.ChatFormat`` with Meta's own tiktoken tokenizer (not our HF build).
ChatFormat encodes message bodies as given; the system and tool-definition texts are those of llama-models' own
prompt generators (``BuiltinToolGenerator``, ``SystemDefaultGenerator``, ``JsonCustomToolGenerator``), checked
here against the prompts those generators wrote into the installed ``llama_models/llama3_1/prompt_format.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mask_corpus import CorpusOptions, make_corpus
from reference_encoders import args_dict, mask_runs, meta_messages
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.families import (
    LLAMA_BUILTIN_TOOLS,
    get_family,
)
from tooljudge.data_prep.masking import prepare_example, render_prompt

chat_format = pytest.importorskip("llama_models.llama3.chat_format")
from llama_models.datatypes import ToolPromptFormat  # noqa: E402
from llama_models.llama3.tokenizer import Tokenizer as MetaTokenizer  # noqa: E402

CORPUS = make_corpus(30, CorpusOptions(parallel=True, builtin=True, text_with_calls=False), seed=3)


@pytest.fixture(scope="module")
def tok():
    return reference_tokenizer("llama31")


@pytest.fixture(scope="module")
def meta():
    return chat_format.ChatFormat(MetaTokenizer.get_instance())


def test_corpus_covers_the_shapes():
    kinds = {"parallel": 0, "builtin": 0, "code_interpreter": 0, "multi_round": 0, "no_system": 0, "results": 0}
    for row in CORPUS:
        msgs = row["messages"]
        calls = [c for m in msgs for c in m.get("tool_calls") or []]
        kinds["parallel"] += any(len(m.get("tool_calls") or []) > 1 for m in msgs)
        kinds["builtin"] += any(c["function"]["name"] in ("brave_search", "wolfram_alpha") for c in calls)
        kinds["code_interpreter"] += any(c["function"]["name"] == "code_interpreter" for c in calls)
        kinds["multi_round"] += sum(m["role"] == "user" for m in msgs) > 1
        kinds["no_system"] += msgs[0]["role"] != "system"
        kinds["results"] += any(m["role"] == "tool" for m in msgs)
    assert len(CORPUS) >= 25 and all(v > 0 for v in kinds.values()), kinds


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_llama31_meta_matches_meta_chat_format(index, tok, meta):
    row = CORPUS[index]
    expected = meta.encode_dialog_prompt(meta_messages(row)).tokens
    # Meta's encoder always ends with the assistant header: compare with our prompt after the whole conversation.
    ours = tok(render_prompt(tok, row["messages"], row["tools"], family="llama31_meta"), add_special_tokens=False)
    assert ours["input_ids"] == expected
    # The mask: each trained run is exactly Meta's encoding of that assistant message minus its header.
    ex = prepare_example(tok, row, family="llama31_meta")
    assert ex["input_ids"] == expected[: len(ex["input_ids"])]
    header = len(meta._encode_header("assistant"))
    want = [meta.encode_message(m, ToolPromptFormat.json)[0][header:] for m in meta_messages(row) if m.role == "assistant"]
    assert mask_runs(ex["input_ids"], ex["assistant_masks"]) == want


def test_meta_tokenizer_build_matches_tiktoken(tok):
    """Our HF build of Meta's tokenizer gives Meta's ids on text with specials, unicode and whitespace runs."""
    meta_tok = MetaTokenizer.get_instance()
    text = "<|begin_of_text|>Héllo  wörld\n\n\t{\"a\": [1, 2]}<|eom_id|> 東京 123456 ✿"
    assert tok(text, add_special_tokens=False)["input_ids"] == meta_tok.encode(
        text, bos=False, eos=False, allowed_special="all"
    )


SERIAL = make_corpus(30, CorpusOptions(parallel=False, builtin=True, text_with_calls=False), seed=4)


def test_llama31_bundled_template_is_trl_file(tok):
    """``llama31`` renders with TRL's llama3_1.jinja byte for byte (the model repository template)."""
    import trl

    trl_tpl = (Path(trl.__file__).parent / "chat_templates" / "llama3_1.jinja").read_text()
    fam = get_family("llama31")
    for row in SERIAL:
        builtin = [t["function"]["name"] for t in row["tools"] if t["function"]["name"] in LLAMA_BUILTIN_TOOLS]
        custom = [t for t in row["tools"] if t["function"]["name"] not in LLAMA_BUILTIN_TOOLS]
        msgs = []
        for m in row["messages"]:
            m = dict(m)
            if m["role"] == "assistant" and not m.get("tool_calls"):
                m.pop("tool_calls", None)
            if m.get("tool_calls"):
                m["tool_calls"] = [{"type": "function", "function": {"name": c["function"]["name"],
                                                                     "arguments": args_dict(c)}} for c in m["tool_calls"]]
            msgs.append(m)
        kwargs = {"builtin_tools": builtin} if builtin else {}
        expected = tok.apply_chat_template(msgs, tools=custom or None, chat_template=trl_tpl, tokenize=False, **kwargs)
        assert fam.render(tok, row["messages"], row["tools"]) == expected


def test_llama31_masks_train_stop_tokens(tok):
    eot, eom = tok.convert_tokens_to_ids(["<|eot_id|>", "<|eom_id|>"])
    for row in SERIAL[:10]:
        ex = prepare_example(tok, row, family="llama31")
        runs = mask_runs(ex["input_ids"], ex["assistant_masks"])
        n_assistant = sum(m["role"] == "assistant" for m in row["messages"])
        assert len(runs) == n_assistant
        assert all(r[-1] in (eot, eom) for r in runs)


def _prompt_format_blocks() -> list[str]:
    import importlib.util
    import re

    base = Path(list(importlib.util.find_spec("llama_models").submodule_search_locations)[0])
    md = (base / "llama3_1" / "prompt_format.md").read_text(encoding="utf-8")
    return re.findall(r"##### Input Prompt Format\n```\n(.*?)```", md, re.S)


TRENDING = {"type": "function", "function": {
    "name": "trending_songs", "description": "Returns the trending songs on a Music site",
    "parameters": {"type": "object", "required": ["n"], "properties": {
        "n": {"type": "integer", "description": "The number of songs to return"},
        "genre": {"type": "string", "description": "The genre of the songs to return"}}}}}


@pytest.mark.parametrize("case", ["json_tools", "builtin"])
def test_system_and_tool_text_is_the_generators(case, tok):
    """Our llama31_meta prompts equal the generator-written examples of Meta's prompt_format.md, byte for byte
    (each fenced block ends with the newline before its closing fence)."""
    blocks = _prompt_format_blocks()
    fam = get_family("llama31_meta", date_string="21 September 2024")
    if case == "json_tools":
        want = next(b for b in blocks if "Here is a list of functions in JSON format" in b)
        msgs = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Use tools to get latest trending songs"}]
        ours = render_prompt(tok, msgs, [TRENDING], family=fam)
    else:
        want = next(b for b in blocks if "Search the web for the latest price" in b)
        msgs = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Search the web for the latest price of 1oz gold?"}]
        tools = [{"type": "function", "function": {"name": n, "description": n, "parameters": {
            "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}
            for n in ("brave_search", "wolfram_alpha")]
        ours = render_prompt(tok, msgs, tools, family=fam)
    assert ours + "\n" == want
