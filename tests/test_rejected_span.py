"""``data.rejected_span: to_first_difference``: each rejected answer is cut after its first token that differs
from the chosen answer; ``data.chosen_span: to_first_difference`` cuts the chosen answer the same way. Checked as
a property on token lists, on hand-checked pairs rendered through the SmolLM2 tokenizer (the three shapes the CPU
effect runs produced), in the data report, in recipe validation, and in what TRL's DPOTrainer scores."""

from __future__ import annotations

import pytest
import train_support as ts
from hypothesis import example, given
from hypothesis import strategies as st
from tooljudge.data_prep.data_mix import (
    SourceReport,
    cut_at_first_difference,
    prepare_dpo_rows,
    rejected_to_first_difference,
    summarize_report,
    tokenize_pair,
)
from tooljudge.train.recipe import RecipeError, recipe_from_dict

TOKENS = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=12)


@given(TOKENS, TOKENS)
@example([1, 2, 3], [1, 2, 3, 4])  # rejected goes on after the chosen answer ends
@example([1, 2, 3, 4], [1, 2])  # rejected stops early, before anything differs
@example([7], [8])
def test_cut_keeps_the_shared_prefix_and_the_first_differing_token(chosen, rejected):
    cut = rejected_to_first_difference(chosen, rejected)
    assert cut == rejected[: len(cut)] and cut  # a non-empty prefix of the rejected answer
    differs = [i for i, (c, r) in enumerate(zip(chosen, rejected, strict=False)) if c != r]
    if differs:
        i = differs[0]
        assert len(cut) == i + 1 and cut[:i] == chosen[:i] and cut[i] != chosen[i]
    elif len(rejected) > len(chosen):
        assert cut == rejected[: len(chosen) + 1]  # the one token past the chosen answer's end
    else:
        assert cut == rejected  # a prefix of the chosen answer: nothing after a mistake to leave out


@pytest.fixture(scope="module")
def tokenizer():
    from tooljudge.train.model_setup import install_chat_template
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    install_chat_template(tok, ts.FAMILY, None)
    return tok


def _call(name: str, call_id: str = "call_0", **arguments) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _pair(chosen: dict, rejected: dict, user: str = "Weather in Paris and Oslo?") -> dict:
    return {"prompt": [{"role": "user", "content": user}], "chosen": [chosen], "rejected": [rejected],
            "tools": [ts.WEATHER_TOOL, ts.ADD_TOOL]}


def _cut_text(tokenizer, row: dict) -> tuple[str, str, list[int], list[int]]:
    from tooljudge.data_prep import masking

    pair = tokenize_pair(tokenizer, row, ts.FAMILY, masking.render_prompt, masking.render_completion)
    cut = rejected_to_first_difference(pair["chosen_ids"], pair["rejected_ids"])
    return tokenizer.decode(pair["rejected_ids"]), tokenizer.decode(cut), pair["rejected_ids"], cut


def test_a_needless_call_is_cut_at_the_tag_that_opens_it(tokenizer):
    row = _pair({"role": "assistant", "content": "I can't look that up with these tools."},
                {"role": "assistant", "content": "", "tool_calls": [_call("add", a=1, b=2)]},
                user="Tell me a joke.")
    full, cut, _, _ = _cut_text(tokenizer, row)
    assert full.endswith("</tool_call><|im_end|>")
    assert cut == "<"  # SmolLM2 spells <tool_call> as "<", "tool", "_", "call", ">": the call starts at "<"
    # the stop token after the call is no longer pushed down (the "do not stop" the CPU run 2 learnt)


def test_one_call_where_two_are_needed_keeps_its_stop_token(tokenizer):
    paris, oslo = _call("get_weather", city="Paris"), _call("get_weather", "call_1", city="Oslo")
    row = _pair({"role": "assistant", "content": "", "tool_calls": [paris, oslo]},
                {"role": "assistant", "content": "", "tool_calls": [paris]})
    full, cut, ids, cut_ids = _cut_text(tokenizer, row)
    assert cut_ids == ids and cut.endswith("</tool_call><|im_end|>")  # the early stop is the mistake itself


def test_a_wrong_value_is_cut_inside_the_value(tokenizer):
    row = _pair({"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city="Paris")]},
                {"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city="Lima")]},
                user="Weather in Paris?")
    _, cut, _, _ = _cut_text(tokenizer, row)
    assert cut.startswith("<tool_call>\n") and cut.endswith('{"city": "L')


def test_prepare_dpo_rows_counts_the_cuts_and_the_report_says_so(tokenizer):
    from tooljudge.data_prep import masking

    rows = [(0, ts.pref_row(i)) for i in range(3)]
    full_report, cut_report = SourceReport(source="mem", weight=1.0), SourceReport(source="mem", weight=1.0)
    full = prepare_dpo_rows(tokenizer, rows, [full_report], ts.FAMILY, None, "skip",
                            masking.render_prompt, masking.render_completion)
    cut = prepare_dpo_rows(tokenizer, rows, [cut_report], ts.FAMILY, None, "skip",
                           masking.render_prompt, masking.render_completion, rejected_span="to_first_difference")
    removed = sum(len(f["rejected_ids"]) - len(c["rejected_ids"]) for f, c in zip(full, cut, strict=True))
    assert cut_report.kept == 3 and cut_report.rejected_cut == 3 and cut_report.rejected_tokens_removed == removed
    assert all(c["chosen_ids"] == f["chosen_ids"] and c["prompt_ids"] == f["prompt_ids"] for f, c in zip(full, cut, strict=True))
    assert "rejected_cut" not in full_report.to_dict()
    line = summarize_report({"train": [cut_report.to_dict()]})
    assert f"3 rejected answers cut at their first difference ({removed} tokens" in line
    with pytest.raises(ValueError, match="rejected_span"):
        prepare_dpo_rows(tokenizer, rows, [full_report], ts.FAMILY, None, "skip", rejected_span="first")


@pytest.mark.parametrize("key", ["rejected_span", "chosen_span"])
def test_recipe_refuses_an_unknown_span_and_the_span_on_sft(tmp_path, key):
    raw = ts.recipe_dict("dpo", "m", tmp_path / "p.jsonl", tmp_path / "out")
    raw["data"][key] = "to_first_diff"
    with pytest.raises(RecipeError, match=f"data.{key}: 'to_first_diff' is not full|to_first_difference"):
        recipe_from_dict(raw)
    raw = ts.recipe_dict("sft", "m", tmp_path / "s.jsonl", tmp_path / "out")
    raw["data"][key] = "to_first_difference"
    with pytest.raises(RecipeError, match="DPO setting"):
        recipe_from_dict(raw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ts.tiny_model(tmp_path_factory.getbasetemp() / "models")


def test_trl_scores_the_cut_rejected_answer(tiny, tmp_path):
    rows = [ts.pref_row(i) for i in range(2)]
    trainer, _, report = ts.tiny_lora_dpo_trainer(tiny, tmp_path, rows, rejected_span="to_first_difference")
    assert report["train"][0]["rejected_cut"] == 2
    rows = list(trainer.train_dataset)
    batch = trainer.data_collator(rows)
    for k, row in enumerate(rows):
        scored = batch["input_ids"][len(rows) + k][batch["completion_mask"][len(rows) + k].bool()].tolist()
        assert scored == row["rejected_ids"] and len(scored) < len(row["chosen_ids"])


@given(TOKENS, TOKENS)
@example([1, 2, 3], [1, 2, 3, 4])
@example([1, 2, 3, 4], [1, 2])
def test_both_cuts_end_at_the_same_first_difference(chosen, rejected):
    chosen_cut, rejected_cut = cut_at_first_difference(chosen, rejected), rejected_to_first_difference(chosen, rejected)
    assert chosen_cut == chosen[: len(chosen_cut)] and chosen_cut
    assert rejected_cut == cut_at_first_difference(rejected, chosen)
    differs = [i for i, (c, r) in enumerate(zip(chosen, rejected, strict=False)) if c != r]
    if differs:  # the two cuts share everything but their last token, the decision
        assert len(chosen_cut) == len(rejected_cut) == differs[0] + 1
        assert chosen_cut[:-1] == rejected_cut[:-1] and chosen_cut[-1] != rejected_cut[-1]
    if chosen != rejected:
        assert chosen_cut != rejected_cut  # never a pair of identical answers


def test_a_refusal_over_a_needless_call_keeps_only_the_first_word(tokenizer):
    from tooljudge.data_prep import masking

    row = _pair({"role": "assistant", "content": "I can't look that up with these tools."},
                {"role": "assistant", "content": "", "tool_calls": [_call("add", a=1, b=2)]},
                user="Tell me a joke.")
    pair = tokenize_pair(tokenizer, row, ts.FAMILY, masking.render_prompt, masking.render_completion)
    assert tokenizer.decode(cut_at_first_difference(pair["chosen_ids"], pair["rejected_ids"])) == "I"


def test_prepare_dpo_rows_cuts_the_chosen_answers_and_counts_them(tokenizer):
    from tooljudge.data_prep import masking

    rows = [(0, ts.pref_row(i)) for i in range(3)]
    full_report, cut_report = SourceReport(source="mem", weight=1.0), SourceReport(source="mem", weight=1.0)
    full = prepare_dpo_rows(tokenizer, rows, [full_report], ts.FAMILY, None, "skip",
                            masking.render_prompt, masking.render_completion)
    both = prepare_dpo_rows(tokenizer, rows, [cut_report], ts.FAMILY, None, "skip", masking.render_prompt,
                            masking.render_completion, rejected_span="to_first_difference",
                            chosen_span="to_first_difference")
    for f, b in zip(full, both, strict=True):
        assert b["chosen_ids"] == cut_at_first_difference(f["chosen_ids"], f["rejected_ids"])
        assert b["rejected_ids"] == rejected_to_first_difference(f["chosen_ids"], f["rejected_ids"])
        assert b["prompt_ids"] == f["prompt_ids"]
    removed = sum(len(f["chosen_ids"]) - len(b["chosen_ids"]) for f, b in zip(full, both, strict=True))
    assert cut_report.chosen_cut == 3 and cut_report.chosen_tokens_removed == removed > 0
    assert "chosen_cut" not in full_report.to_dict()
    assert f"3 chosen answers cut at their first difference ({removed} tokens" in summarize_report(
        {"train": [cut_report.to_dict()]})
    with pytest.raises(ValueError, match="chosen_span"):
        prepare_dpo_rows(tokenizer, rows, [full_report], ts.FAMILY, None, "skip", chosen_span="decision")


def test_trl_scores_the_cut_chosen_answer(tiny, tmp_path):
    rows = [ts.pref_row(i) for i in range(2)]
    trainer, _, report = ts.tiny_lora_dpo_trainer(tiny, tmp_path, rows, rejected_span="to_first_difference",
                                                  chosen_span="to_first_difference")
    assert report["train"][0]["chosen_cut"] == 2
    rows = list(trainer.train_dataset)
    batch = trainer.data_collator(rows)
    for k, row in enumerate(rows):
        scored = batch["input_ids"][k][batch["completion_mask"][k].bool()].tolist()
        assert scored == row["chosen_ids"] and len(scored) == len(row["rejected_ids"])
