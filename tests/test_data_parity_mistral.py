"""Mistral v3 parity: ``mistral_v3`` against mistral_common's own encoder, token for token, masks included.

Reference: ``MistralTokenizer.from_file(v3 model, mode=ValidationMode.finetuning).encode_chat_completion`` on the
same conversations (tools, tool calls with 9-character ids, tool results, system prompts, several rounds).
"""

from __future__ import annotations

import pytest
from mask_corpus import CorpusOptions, make_corpus
from reference_encoders import args_json, mask_runs
from reference_tokenizers import mistral_v3_model_path, reference_tokenizer
from tooljudge.data_prep.families import mistral_call_id
from tooljudge.data_prep.masking import prepare_example, render_completion, render_prompt

pytest.importorskip("mistral_common")
from mistral_common.protocol.instruct.messages import (  # noqa: E402
    AssistantMessage,
    SystemMessage,
    ToolMessage,
    UserMessage,
)
from mistral_common.protocol.instruct.request import ChatCompletionRequest  # noqa: E402
from mistral_common.protocol.instruct.tool_calls import Function, FunctionCall, Tool, ToolCall  # noqa: E402
from mistral_common.protocol.instruct.validator import ValidationMode  # noqa: E402
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer  # noqa: E402

CORPUS = make_corpus(30, CorpusOptions(parallel=True, text_with_calls=False, chinese=True), seed=5)


@pytest.fixture(scope="module")
def tok():
    return reference_tokenizer("mistral_v3")


@pytest.fixture(scope="module")
def mistral():
    return MistralTokenizer.from_file(str(mistral_v3_model_path()), mode=ValidationMode.finetuning)


def mistral_request(row: dict) -> ChatCompletionRequest:
    ids = {}
    msgs = []
    n = 0
    for m in row["messages"]:
        if m["role"] == "system":
            msgs.append(SystemMessage(content=m["content"]))
        elif m["role"] == "user":
            msgs.append(UserMessage(content=m["content"]))
        elif m["role"] == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                ids[c["id"]] = mistral_call_id(c["id"], n)
                n += 1
                calls.append(ToolCall(id=ids[c["id"]], function=FunctionCall(name=c["function"]["name"],
                                                                           arguments=args_json(c))))
            msgs.append(AssistantMessage(tool_calls=calls))
        elif m["role"] == "assistant":
            msgs.append(AssistantMessage(content=m["content"]))
        else:
            msgs.append(ToolMessage(content=m["content"], tool_call_id=ids[m["tool_call_id"]], name=m["name"]))
    tools = [Tool(function=Function(**t["function"])) for t in row["tools"]]
    return ChatCompletionRequest(messages=msgs, tools=tools)


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_mistral_v3_matches_mistral_common(index, tok, mistral):
    row = CORPUS[index]
    expected = mistral.encode_chat_completion(mistral_request(row)).tokens
    ex = prepare_example(tok, row, family="mistral_v3")
    assert ex["input_ids"] == expected
    # Each trained run is mistral_common's own encoding of that assistant message (content or [TOOL_CALLS], </s>).
    inst = mistral.instruct_tokenizer
    req = mistral_request(row)
    want = [inst.encode_assistant_message(m, False) for m in req.messages if isinstance(m, AssistantMessage)]
    assert mask_runs(ex["input_ids"], ex["assistant_masks"]) == want


def test_corpus_covers_the_shapes():
    parallel = sum(any(len(m.get("tool_calls") or []) > 1 for m in r["messages"]) for r in CORPUS)
    multi = sum(sum(m["role"] == "user" for m in r["messages"]) > 1 for r in CORPUS)
    chinese = sum(any("查" in (m.get("content") or "") for m in r["messages"]) for r in CORPUS)
    no_system = sum(r["messages"][0]["role"] != "system" for r in CORPUS)
    assert len(CORPUS) >= 25 and parallel and multi and chinese and no_system


def test_prompt_plus_completion_is_the_training_text(tok):
    row = CORPUS[2]
    msgs = row["messages"]
    last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    prompt = render_prompt(tok, msgs[:last], row["tools"], family="mistral_v3")
    completion = render_completion(tok, msgs[:last], msgs[last], row["tools"], family="mistral_v3")
    assert completion.endswith("</s>")
    ids = tok(prompt + completion, add_special_tokens=False)["input_ids"]
    assert ids == prepare_example(tok, row, family="mistral_v3")["input_ids"]
