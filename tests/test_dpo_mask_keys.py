"""DPO pairs honour the recipe's mask keys as SFT does (``special_text``, ``parallel_calls``, ``reference_quirks``):
same defaults, same counters, same refusals. The reference is SFT's own ``prepare_example_info`` on the same
conversation (prompt + chosen): prompt + chosen ids are its ids through the turn's stop token and the chosen ids
its trained tokens; ordinary pairs keep exactly the ids the DPO path gave before the keys applied to it."""

from __future__ import annotations

import pytest
import train_support as ts
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep import masking
from tooljudge.data_prep.data_mix import (
    DataError,
    SourceReport,
    prepare_dpo_rows,
    tokenize_pair,
    tokenize_pair_info,
)
from tooljudge.data_prep.families import ParallelCallsUnsupported
from tooljudge.data_prep.masking import MaskConfig, MaskError

from tooljudge.core.control_text import ControlTextRejected, encode_concat, encode_rendered

FAMILY = "qwen25"
RECIPE_DEFAULTS = {"truncation": "drop_turns", "boundary": "error", "special_text": "text",
                   "parallel_calls": "split", "reference_quirks": "follow"}  # train/recipe.py DataSection
PROMPT = [{"role": "user", "content": "Say hi."}]
CONTROL_TEXT = {"prompt": [{"role": "user", "content": "Repeat <|im_end|> literally, then stop."}],
                "chosen": [{"role": "assistant", "content": "It reads <|im_start|>assistant and <|im_end|>."}],
                "rejected": [{"role": "assistant", "content": "No."}]}
# qwen25's generation prompt ends in "\n"; a reply starting with "\n\n" merges with it ("\n" + "\n\n" -> two tokens
# "\n\n", "\n" over the boundary): the reference quirk boundary_token
BOUNDARY = {"prompt": PROMPT, "chosen": [{"role": "assistant", "content": "\n\nHi there."}],
            "rejected": [{"role": "assistant", "content": "Go away."}]}


@pytest.fixture(scope="module")
def tok():
    return reference_tokenizer("smollm2")


def _before(tok, row):
    """The DPO tokenisation before the mask keys applied to it (commit 74c1e6c), for ordinary rows: the prompt
    encoded alone, each reply the rest of prompt + reply, a boundary merge refused."""
    prompt_text = masking.render_prompt(tok, row["prompt"], tools=row.get("tools") or None, family=FAMILY)
    prompt_ids = encode_rendered(tok, prompt_text)
    out = {"prompt_ids": list(prompt_ids)}
    for side in ("chosen", "rejected"):
        completion = masking.render_completion(tok, row["prompt"], row[side][0], tools=row.get("tools") or None,
                                               family=FAMILY)
        full = encode_concat(tok, prompt_text, completion)
        if list(full[: len(prompt_ids)]) != list(prompt_ids):
            raise DataError("tokens merge across the boundary")
        out[f"{side}_ids"] = list(full[len(prompt_ids):])
    return out


def _sft(tok, row, side, config=None):
    """SFT's ids through the end of the reply's trained run, and where that run starts."""
    info = masking.prepare_example_info(tok, {"messages": row["prompt"] + row[side], "tools": row.get("tools", [])},
                                        family=FAMILY, config=config)
    start = info.assistant_masks.index(1)
    end = start + sum(info.assistant_masks)
    assert all(info.assistant_masks[start:end])  # one trained run: the reply
    return info, start, end


def _one(tok, row, **policy):
    report = SourceReport(source="pairs.jsonl", weight=1.0)
    rows = prepare_dpo_rows(tok, [(0, row)], [report], FAMILY, None, "skip", mask_policy={**RECIPE_DEFAULTS, **policy})
    return rows, report


@pytest.mark.parametrize("row", [ts.pref_row(0), ts.pref_row(1), ts.short_pref_row(0), ts.short_pref_row(2)])
def test_ordinary_pairs_keep_their_ids(tok, row):
    before = _before(tok, row)
    assert tokenize_pair(tok, row, FAMILY, masking.render_prompt, masking.render_completion) == before
    rows, report = _one(tok, row)
    assert rows == [before] and report.to_dict()["kept"] == 1
    assert "reference_quirk_rows" not in report.to_dict() and "control_text_rows" not in report.to_dict()


@pytest.mark.parametrize("name,row", [("tool call", ts.pref_row(2)), ("control-token text", CONTROL_TEXT),
                                      ("boundary merge", BOUNDARY)])
def test_chosen_side_is_sft_on_the_same_conversation(tok, name, row):
    info = tokenize_pair_info(tok, row, FAMILY, masking.render_prompt, masking.render_completion)
    sft, start, end = _sft(tok, row, "chosen")
    assert info.ids["prompt_ids"] == sft.input_ids[:start]
    assert info.ids["chosen_ids"] == sft.input_ids[start:end]
    assert info.control_text == bool(sft.control_text) == (name == "control-token text")
    assert info.quirks == sft.quirks == (("boundary_token",) if name == "boundary merge" else ())
    # the rejected side: the same ids as SFT on prompt + rejected through its stop token
    rej, r_start, r_end = _sft(tok, row, "rejected")
    assert info.ids["prompt_ids"] + info.ids["rejected_ids"] == rej.input_ids[:r_end]
    assert len(info.ids["prompt_ids"]) == (r_start - 1 if name == "boundary merge" else r_start)


def test_control_token_text_is_counted_or_refused_as_in_sft(tok):
    rows, report = _one(tok, CONTROL_TEXT)
    assert len(rows) == 1 and report.to_dict()["control_text_rows"] == 1
    assert "1 with control-token text kept as text" in _summary(report)
    reject = MaskConfig(special_text="reject")
    with pytest.raises(ControlTextRejected) as sft_err:
        _sft(tok, CONTROL_TEXT, "chosen", reject)
    with pytest.raises(ControlTextRejected) as dpo_err:
        tokenize_pair(tok, CONTROL_TEXT, FAMILY, masking.render_prompt, masking.render_completion, reject)
    assert str(dpo_err.value) == str(sft_err.value) and "special_text='reject'" in str(dpo_err.value)
    rows, report = _one(tok, CONTROL_TEXT, special_text="reject")
    assert rows == [] and report.kept == 0 and list(report.skipped) == [
        f"ControlTextRejected: {str(sft_err.value)[:120]}"]
    with pytest.raises(DataError, match=r"^pairs\.jsonl \(mixture row 0\): the row holds 3 control-token"):
        prepare_dpo_rows(tok, [(0, CONTROL_TEXT)], [SourceReport(source="pairs.jsonl", weight=1.0)], FAMILY, None,
                         "error", mask_policy={**RECIPE_DEFAULTS, "special_text": "reject"})


def test_boundary_merge_is_followed_and_counted_or_refused_as_in_sft(tok):
    with pytest.raises(DataError, match="merge across the boundary"):
        _before(tok, BOUNDARY)  # what DPO did before: refused whatever the recipe said
    rows, report = _one(tok, BOUNDARY)
    assert len(rows) == 1 and report.to_dict()["reference_quirk_rows"] == {"boundary_token": 1}
    assert "1 following the reference quirk boundary_token" in _summary(report)
    pair = rows[0]
    assert tok.convert_ids_to_tokens(pair["chosen_ids"][:2]) == ["ĊĊ", "Ċ"]  # the merged token is scored
    # the rejected reply starts on a boundary: its ids begin with the prompt's last token ("\n")
    rej, r_start, r_end = _sft(tok, BOUNDARY, "rejected")
    assert pair["rejected_ids"] == rej.input_ids[r_start - 1:r_end]
    reject = MaskConfig(reference_quirks="reject")
    with pytest.raises(MaskError) as sft_err:
        _sft(tok, BOUNDARY, "chosen", reject)
    with pytest.raises(MaskError) as dpo_err:
        tokenize_pair(tok, BOUNDARY, FAMILY, masking.render_prompt, masking.render_completion, reject)
    assert dpo_err.value.reason == sft_err.value.reason == "template_not_prefix_preserving"
    # same message but for the context shown after the boundary (SFT's text runs on past the reply)
    assert str(dpo_err.value).split(" | ")[0] == str(sft_err.value).split(" | ")[0]
    assert str(dpo_err.value).startswith("message 1: the assistant turn does not start on a token boundary")
    assert str(dpo_err.value).endswith("(reference_quirks='reject')")
    rows, report = _one(tok, BOUNDARY, reference_quirks="reject")
    assert rows == [] and sum(report.skipped.values()) == 1 and next(iter(report.skipped)).startswith("MaskError")
    # boundary: split tokenises prompt and reply apart, as SFT's split does
    split = tokenize_pair(tok, BOUNDARY, FAMILY, masking.render_prompt, masking.render_completion,
                          MaskConfig(boundary="split"))
    sft, start, end = _sft(tok, BOUNDARY, "chosen", MaskConfig(boundary="split"))
    assert split["prompt_ids"] == sft.input_ids[:start] == encode_rendered(
        tok, masking.render_prompt(tok, PROMPT, family=FAMILY))
    assert split["chosen_ids"] == sft.input_ids[start:end]


def test_parallel_calls_in_the_prompt_are_split_or_refused_as_in_sft():
    """llama31 writes one call per turn: the prompt's three parallel calls become three turns (counted), or with
    ``parallel_calls: reject`` the pair is refused with SFT's error."""
    import json
    from pathlib import Path

    tok = reference_tokenizer("llama31")
    corpus = Path(__file__).parent / "data" / "tricky_conversations.jsonl"
    conv = next(r for r in map(json.loads, corpus.read_text().splitlines()) if r["id"] == "parallel_three")
    *prompt, chosen = conv["messages"]
    row = {"prompt": prompt, "chosen": [chosen], "rejected": [{"role": "assistant", "content": "No idea."}],
           "tools": conv["tools"]}
    report = SourceReport(source="pairs.jsonl", weight=1.0)
    rows = prepare_dpo_rows(tok, [(0, row)], [report], "llama31", None, "skip", mask_policy=RECIPE_DEFAULTS)
    assert len(rows) == 1 and report.to_dict()["parallel_split_rows"] == 1
    sft = masking.prepare_example_info(tok, {"messages": conv["messages"], "tools": conv["tools"]}, family="llama31")
    assert sft.split_calls == 1
    mask = sft.assistant_masks  # the chosen reply is the last trained run
    end = max(i for i, m in enumerate(mask) if m) + 1
    start = end
    while mask[start - 1]:
        start -= 1
    assert rows[0]["prompt_ids"] == sft.input_ids[:start] and rows[0]["chosen_ids"] == sft.input_ids[start:end]
    with pytest.raises(ParallelCallsUnsupported) as sft_err:
        masking.prepare_example(tok, {"messages": conv["messages"], "tools": conv["tools"]}, family="llama31",
                                config=MaskConfig(parallel_calls="reject"))
    with pytest.raises(ParallelCallsUnsupported) as dpo_err:
        tokenize_pair(tok, row, "llama31", masking.render_prompt, masking.render_completion,
                      MaskConfig(parallel_calls="reject"))
    assert str(dpo_err.value) == str(sft_err.value)


def _summary(report: SourceReport) -> str:
    from tooljudge.data_prep.data_mix import summarize_report

    return summarize_report({"train": [report.to_dict()]})


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CALL_PROMPT = [{"role": "user", "content": "What is the weather in Oslo?"}]


def _call(name: str, arguments: str) -> dict:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}]}


@pytest.mark.parametrize("bad", [_call("get_wether", '{"city": "Oslo"}'), _call("get_weather", '{"town": "Oslo"}'),
                                 _call("get_weather", '{"city": 7}')], ids=["unknown_tool", "missing_required",
                                                                          "wrong_type"])
def test_a_chosen_reply_sft_would_refuse_is_refused_and_a_wrong_rejected_one_is_the_point(tok, bad):
    good = _call("get_weather", '{"city": "Oslo"}')
    row = {"prompt": CALL_PROMPT, "tools": [WEATHER], "chosen": [bad], "rejected": [good]}
    with pytest.raises(masking.InvalidRow) as sft_err:  # SFT on the same conversation
        masking.prepare_example(tok, {"messages": CALL_PROMPT + [bad], "tools": [WEATHER]}, family=FAMILY)
    with pytest.raises(masking.InvalidRow) as dpo_err:
        tokenize_pair(tok, row, FAMILY, masking.render_prompt, masking.render_completion)
    assert dpo_err.value.problems == sft_err.value.problems and dpo_err.value.reason == "invalid_row"
    rows, report = _one(tok, row)
    assert rows == [] and report.kept == 0 and sum(report.skipped.values()) == 1
    assert next(iter(report.skipped)).startswith("InvalidRow: invalid row: [")
    # the same reply as the rejected side of a pair is what pairs are for: kept
    rows, report = _one(tok, {**row, "chosen": [good], "rejected": [bad]})
    assert len(rows) == 1 and report.kept == 1
    # validation off (MaskConfig(validate=False), as for SFT) lets it through
    tokenize_pair(tok, row, FAMILY, masking.render_prompt, masking.render_completion, MaskConfig(validate=False))
