"""Qwen 2 parity: ``qwen2_fncall`` against Qwen-Agent's own function-call prompt text (en/zh, parallel or not).

Reference: ``QwenFnCallPrompt().format_plaintext_train_samples`` (qwen-agent's training-sample formatter), whose
messages are rendered with Qwen2's ChatML template quoted in the seed. qwen-agent is installed without its
dependencies; its ``llm/__init__`` pulls in ``openai`` and ``utils`` imports ``json5``/``soundfile``, none of which
the prompt code calls, so ``reference_encoders.load_qwen_agent`` bypasses the package ``__init__`` and stubs those two modules if absent.
"""

from __future__ import annotations

import pytest
from mask_corpus import CorpusOptions, make_corpus
from reference_encoders import load_qwen_agent, mask_runs, qwen_agent_reference_text
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.families import FamilyError, get_family
from tooljudge.data_prep.masking import prepare_example, render_completion, render_prompt

EN = make_corpus(26, CorpusOptions(parallel=True, text_with_calls=True), seed=7)
ZH = make_corpus(26, CorpusOptions(parallel=True, text_with_calls=True, chinese=True), seed=8)
SERIAL = make_corpus(26, CorpusOptions(parallel=False, text_with_calls=True, chinese=True), seed=9)


@pytest.fixture(scope="module")
def qwen_prompt():
    return load_qwen_agent()


@pytest.fixture(scope="module")
def tok():
    return reference_tokenizer("qwen2")


CASES = [("en", True, i) for i in range(len(EN))] + [("zh", True, i) for i in range(len(ZH))] + [
    ("zh" if i % 2 else "en", False, i) for i in range(len(SERIAL))
]


@pytest.mark.parametrize("lang,parallel,index", CASES)
def test_qwen2_fncall_matches_qwen_agent(lang, parallel, index, qwen_prompt, tok):
    row = (EN if lang == "en" else ZH)[index] if parallel else SERIAL[index]
    expected = qwen_agent_reference_text(qwen_prompt, tok, row, lang, parallel)
    fam = get_family("qwen2_fncall", lang=lang, parallel=parallel)
    assert fam.render(tok, row["messages"], row["tools"]) == expected
    ex = prepare_example(tok, row, family=fam)
    assert ex["input_ids"] == tok(expected, add_special_tokens=False)["input_ids"]


def test_corpus_covers_the_shapes():
    for corpus in (EN, ZH):
        assert len(corpus) >= 25
        assert any(len(m.get("tool_calls") or []) > 1 for r in corpus for m in r["messages"])
        assert any(m.get("tool_calls") and m["content"] for r in corpus for m in r["messages"])
        assert any(sum(m["role"] == "user" for m in r["messages"]) > 1 for r in corpus)


def test_non_parallel_refuses_parallel_calls(tok):
    row = next(r for r in EN if any(len(m.get("tool_calls") or []) > 1 for m in r["messages"]))
    with pytest.raises(FamilyError, match="parallel"):
        get_family("qwen2_fncall", parallel=False).render(tok, row["messages"], row["tools"])


def test_trained_spans_are_calls_and_answers(tok):
    """Hand-checked: the call text plus the stop word ✿RESULT✿, then ': answer<|im_end|>' after ✿RETURN✿."""
    row = {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "{\"temp_c\": 22}"},
        {"role": "assistant", "content": "22 °C."}], "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Current weather", "parameters": {
                "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}
    fam = get_family("qwen2_fncall")
    ex = prepare_example(tok, row, family=fam)
    runs = [tok.decode(run) for run in mask_runs(ex["input_ids"], ex["assistant_masks"])]
    assert runs == ['✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n✿RESULT✿', ": 22 °C.<|im_end|>"]
    prompt = render_prompt(tok, row["messages"][:3], row["tools"], family=fam)
    assert prompt.endswith('\n✿RESULT✿: {"temp_c": 22}\n✿RETURN✿')  # Qwen-Agent's open continuation
    assert render_completion(tok, row["messages"][:3], row["messages"][3], row["tools"], family=fam) == (
        ": 22 °C.<|im_end|>"
    )
    call = render_completion(tok, row["messages"][:1], row["messages"][1], row["tools"], family=fam)
    assert call == '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n✿RESULT✿'
