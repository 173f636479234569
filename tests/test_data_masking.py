"""Masks on Hugging Face templates: agreement with TRL's ``{% generation %}`` masks, error cases, truncation."""

from __future__ import annotations

from pathlib import Path

import pytest
from mask_corpus import CorpusOptions, make_corpus
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.families import FamilyError, get_family
from tooljudge.data_prep.masking import (
    MaskConfig,
    MaskError,
    RowTooLong,
    prepare_example,
    prepare_example_info,
    render_completion,
    render_prompt,
)

CORPUS = make_corpus(25, CorpusOptions(parallel=True, text_with_calls=True), seed=21)


@pytest.fixture(scope="module")
def smol():
    return reference_tokenizer("smollm2")


def _trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / name).read_text()


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_qwen25_mask_equals_trl_generation_mask(index, smol):
    """TRL's qwen2_5_training.jinja marks '\\n' + reply + '<|im_end|>\\n' per assistant turn; ours marks the reply
    and <|im_end|> only (the '\\n' before is part of the generation prompt, the one after is never generated).
    Same tokens; TRL's mask = ours plus exactly those two newline tokens per turn."""
    from tooljudge.data_prep.families import _hf_messages as hf

    row = CORPUS[index]
    ours = prepare_example(smol, row, family="qwen25")
    trl = smol.apply_chat_template(hf(row["messages"]), tools=row["tools"], chat_template=_trl_template(
        "qwen2_5_training.jinja"), tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert ours["input_ids"] == list(trl["input_ids"])
    theirs = list(trl["assistant_masks"])
    newline = smol.convert_tokens_to_ids("Ċ")
    expected = list(ours["assistant_masks"])
    ids = ours["input_ids"]
    for t in range(len(ids)):
        if ours["assistant_masks"][t] and (t == 0 or not ours["assistant_masks"][t - 1]):
            assert ids[t - 1] == newline
            expected[t - 1] = 1
        if ours["assistant_masks"][t] and (t + 1 == len(ids) or not ours["assistant_masks"][t + 1]):
            assert ids[t + 1] == newline
            expected[t + 1] = 1
    assert theirs == expected


def test_qwen25_is_trl_file_and_chatml_refuses_tools(smol):
    assert get_family("qwen25").template.split("-#}", 1)[1].strip() == _trl_template("qwen2_5.jinja").strip()
    with pytest.raises(MaskError, match="never reads them"):
        prepare_example(smol, CORPUS[0], family="auto")  # SmolLM2's own template has no tool support


def test_chatml_auto_on_plain_chat(smol):
    row = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}]}
    fam = get_family(smol)
    assert fam.name == "chatml" and fam.stop_tokens == ["<|im_end|>"]
    ex = prepare_example(smol, row)
    trained = smol.decode([t for t, f in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if f])
    assert trained == "Hello there!<|im_end|>"
    assert render_prompt(smol, row["messages"][:1]).endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_train_false_turn_is_not_trained(smol):
    row = {"messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Bad answer.", "train": False},
        {"role": "user", "content": "Again"}, {"role": "assistant", "content": "Good answer."}]}
    info = prepare_example_info(smol, row, family="chatml")
    trained = smol.decode([t for t, f in zip(info.input_ids, info.assistant_masks, strict=True) if f])
    assert trained == "Good answer.<|im_end|>" and info.untrained_turns == 1


def test_not_prefix_preserving_template_is_reported(smol):
    # Renders the last assistant turn differently from earlier ones (like templates that strip past reasoning).
    tpl = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' and not loop.last %}"
           "[old] {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}"
           "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    from transformers import AutoTokenizer

    smol2 = AutoTokenizer.from_pretrained(str(_smol_dir()))
    smol2.chat_template = tpl
    row = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}
    with pytest.raises(MaskError, match="not prefix-preserving"):
        prepare_example(smol2, row, family="chatml")


def _smol_dir():
    from tooljudge.models import smollm2_checkpoint

    return smollm2_checkpoint(progress=False)


def test_token_boundary_merge_is_reported_and_split_mode_works(smol):
    # The generation prompt ends in a space that BPE merges with the reply's first word: not prefix-preserving
    # at the token level, although it is at the text level.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_smol_dir()))
    tok.chat_template = ("{% for m in messages %}{{ m.role }}: {{ m.content }}{% if m.role == 'assistant' %}"
                         "<|im_end|>{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    with pytest.raises(MaskError, match="token boundary"):
        prepare_example(tok, row, family="chatml", config=MaskConfig(reference_quirks="reject"))
    # Default: the whole-text tokens, and the token holding the reply's first character trained (" hello"), as
    # transformers' return_assistant_tokens_mask trains it; the row reports the quirk.
    info = prepare_example_info(tok, row, family="chatml")
    assert info.input_ids == tok("user: hi\nassistant: hello<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert tok.decode([t for t, f in zip(info.input_ids, info.assistant_masks, strict=True) if f]) == " hello<|im_end|>"
    assert info.quirks == ("boundary_token",)
    ex = prepare_example(tok, row, family="chatml", config=MaskConfig(boundary="split"))
    prompt_ids = tok("user: hi\nassistant: ", add_special_tokens=False)["input_ids"]
    assert ex["input_ids"][: len(prompt_ids)] == prompt_ids  # exactly what the model sees at inference
    assert tok.decode([t for t, f in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if f]) == "hello<|im_end|>"


def test_turn_without_stop_token_is_reported(smol):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_smol_dir()))
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    with pytest.raises(MaskError, match="no stop token"):
        prepare_example(tok, row, family="chatml")


def test_truncation_drops_whole_earliest_exchanges_and_keeps_tools(smol):
    row = next(r for r in CORPUS if sum(m["role"] == "user" for m in r["messages"]) >= 3)
    full = prepare_example_info(smol, row, family="qwen25")
    last_user = max(i for i, m in enumerate(row["messages"]) if m["role"] == "user")
    tail = {"messages": [m for m in row["messages"] if m["role"] == "system"] + row["messages"][last_user:],
            "tools": row["tools"]}
    minimal = prepare_example_info(smol, tail, family="qwen25")
    limit = len(minimal.input_ids) + 1
    cut = prepare_example_info(smol, row, family="qwen25", max_length=limit)
    assert cut.input_ids == minimal.input_ids and cut.dropped_messages == len(row["messages"]) - len(tail["messages"])
    assert len(full.input_ids) > limit
    assert '"name": "' + row["tools"][0]["function"]["name"] in smol.decode(cut.input_ids)  # schemas kept
    with pytest.raises(RowTooLong, match="drop_row"):
        prepare_example(smol, row, family="qwen25", max_length=limit, config=MaskConfig(truncation="drop_row"))
    with pytest.raises(RowTooLong, match="never cut"):
        prepare_example(smol, row, family="qwen25", max_length=len(minimal.input_ids) - 1)


def test_family_errors_name_the_message():
    tok = reference_tokenizer("mistral_v3")
    row = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "text", "tool_calls": [
        {"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "a"}}}]}],
        "tools": CORPUS[0]["tools"]}
    with pytest.raises(FamilyError, match="message 1: mistral_v3 cannot express"):
        prepare_example(tok, row, family="mistral_v3")


def test_auto_detects_bundled_families():
    assert get_family(reference_tokenizer("llama31")).name == "llama31"
    assert get_family(reference_tokenizer("mistral_v3")).name == "mistral_v3"
    assert get_family(reference_tokenizer("glm4")).name == "glm4"
    assert get_family("llama31_meta").stop_tokens == ["<|eot_id|>", "<|eom_id|>"]
    with pytest.raises(ValueError, match="unknown family"):
        get_family("gpt5")


@pytest.mark.parametrize("index", range(0, 25, 4))
def test_prompt_plus_completion_is_training_prefix(index, smol):
    row = CORPUS[index]
    info = prepare_example_info(smol, row, family="qwen25")
    for start, end, i in info.spans:
        prompt = render_prompt(smol, row["messages"][:i], row["tools"], family="qwen25")
        completion = render_completion(smol, row["messages"][:i], row["messages"][i], row["tools"], family="qwen25")
        assert info.text[:end] == prompt + completion and len(prompt) == start


@pytest.mark.parametrize("tok_name,family", [("smollm2", "qwen25"), ("llama31", "llama31_meta"),
                                             ("mistral_v3", "mistral_v3"), ("glm4", "glm4"), ("qwen2", "qwen2_fncall")])
def test_every_prompt_tokenises_to_a_prefix(tok_name, family):
    """verify=True re-tokenises each generation prompt alone: its tokens must be exactly the conversation's
    first tokens (token-level prefix preservation, checked the slow way), and the mask must not change."""
    tok = reference_tokenizer(tok_name)
    opts = CorpusOptions(parallel=True, text_with_calls=family not in ("mistral_v3",), chinese=True)
    for row in make_corpus(6, opts, seed=31):
        fast = prepare_example(tok, row, family=family)
        slow = prepare_example(tok, row, family=family, config=MaskConfig(verify=True))
        assert fast == slow


def test_llama31_tools_in_system_option():
    tok = reference_tokenizer("llama31")
    row = CORPUS[1]
    text = get_family("llama31", tools_in_user_message=False).render(tok, row["messages"], row["tools"])
    system = text.split("<|eot_id|>", 1)[0]
    assert "You have access to the following functions" in system and '"name": "' in system
    assert "Given the following functions" not in text
