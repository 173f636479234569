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


@given(TOKENS, TOKENS, TOKENS)
@example([9], [1, 2, 3], [1, 2, 3, 4])  # one answer is a prefix of the other: each keeps a token of its own
@example([9], [1, 2], [3, 4])  # nothing shared: nothing moves
def test_moving_the_shared_opening_keeps_every_sequence_and_leaves_each_answer_a_token(prompt, chosen, rejected):
    from tooljudge.data_prep.data_mix import move_shared_opening_to_prompt

    pair = {"prompt_ids": list(prompt), "chosen_ids": list(chosen), "rejected_ids": list(rejected)}
    moved = move_shared_opening_to_prompt(pair)
    assert pair["prompt_ids"] + pair["chosen_ids"] == prompt + chosen  # the model sees the same two sequences
    assert pair["prompt_ids"] + pair["rejected_ids"] == prompt + rejected
    assert len(pair["prompt_ids"]) == len(prompt) + moved and pair["chosen_ids"] and pair["rejected_ids"]
    if pair["chosen_ids"][0] == pair["rejected_ids"][0]:  # only when one answer is all shared opening
        assert min(len(pair["chosen_ids"]), len(pair["rejected_ids"])) == 1
    else:
        assert chosen[:moved] == rejected[:moved]


def test_a_wrong_value_pair_keeps_only_the_values_in_its_answers(tokenizer):
    from tooljudge.data_prep import masking

    row = _pair({"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city="Paris")]},
                {"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city="Lima")]},
                user="Weather in Paris?")
    report = SourceReport(source="mem", weight=1.0)
    [pair] = prepare_dpo_rows(tokenizer, [(0, row)], [report], ts.FAMILY, None, "skip", masking.render_prompt,
                              masking.render_completion, rejected_span="to_first_difference",
                              chosen_span="to_first_difference", shared_prefix="prompt")
    opening = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "'
    assert tokenizer.decode(pair["prompt_ids"]).endswith("<|im_start|>assistant\n" + opening)
    assert (tokenizer.decode(pair["chosen_ids"]), tokenizer.decode(pair["rejected_ids"])) == ("Paris", "L")
    moved = len(tokenizer(opening, add_special_tokens=False)["input_ids"])
    assert (report.shared_moved, report.shared_tokens_moved) == (1, moved)
    assert f"1 pairs' shared opening moved into the prompt ({moved} tokens, context only)" in summarize_report(
        {"train": [report.to_dict()]})
    refusal = _pair({"role": "assistant", "content": "I can't look that up with these tools."},
                    {"role": "assistant", "content": "", "tool_calls": [_call("add", a=1, b=2)]}, user="A joke?")
    plain = SourceReport(source="mem", weight=1.0)
    prepare_dpo_rows(tokenizer, [(0, refusal)], [plain], ts.FAMILY, None, "skip", masking.render_prompt,
                     masking.render_completion, shared_prefix="prompt")
    assert plain.kept == 1 and "shared_moved" not in plain.to_dict()  # call or reply part at their first token
    with pytest.raises(ValueError, match="shared_prefix"):
        prepare_dpo_rows(tokenizer, [(0, row)], [plain], ts.FAMILY, None, "skip", shared_prefix="both")


def test_recipe_refuses_an_unknown_shared_prefix_and_the_key_on_sft(tmp_path):
    import dataclasses

    from tooljudge.data_prep.data_mix import SHARED_PREFIXES
    from tooljudge.train.recipe import DataSection

    field = {f.name: f for f in dataclasses.fields(DataSection)}["shared_prefix"]
    assert field.metadata["choices"] == SHARED_PREFIXES and field.default == SHARED_PREFIXES[0]  # one list
    raw = ts.recipe_dict("dpo", "m", tmp_path / "p.jsonl", tmp_path / "out")
    raw["data"]["shared_prefix"] = "prompts"
    with pytest.raises(RecipeError, match="shared_prefix"):
        recipe_from_dict(raw)
    raw = ts.recipe_dict("sft", "m", tmp_path / "s.jsonl", tmp_path / "out")
    raw["data"]["shared_prefix"] = "prompt"
    with pytest.raises(RecipeError, match="DPO setting"):
        recipe_from_dict(raw)


def _how_pair(i: int) -> dict:
    city, other = ts.CITIES[i % len(ts.CITIES)], ts.CITIES[(i + 1) % len(ts.CITIES)]
    return _pair({"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city=city)]},
                 {"role": "assistant", "content": "", "tool_calls": [_call("get_weather", city=other)]},
                 user=f"Weather in {city}?")


def test_trl_margin_is_unchanged_and_the_nll_term_leaves_the_shared_call(tiny, tmp_path):
    """TRL's own loss on the same two "how" pairs, opening in the answers vs in the prompt, with the adapter moved
    off zero so that the policy differs from the reference: the sigmoid part is equal (the shared tokens cancel),
    the NLL part is not (it no longer trains the call's opening)."""
    import torch

    rows = [_how_pair(i) for i in range(2)]
    losses = {}
    for where in ("answer", "prompt"):
        trainer, _, report = ts.tiny_lora_dpo_trainer(tiny, tmp_path / where, rows, shared_prefix=where)
        assert bool(report["train"][0].get("shared_moved")) == (where == "prompt")
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, param in sorted(trainer.model.named_parameters()):
                if "lora_" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
        batch = trainer.data_collator(list(trainer.train_dataset))
        for k, row in enumerate(trainer.train_dataset):  # TRL scores exactly the answers data_prep made
            scored = batch["input_ids"][k][batch["completion_mask"][k].bool()].tolist()
            assert scored == row["chosen_ids"]
            losses[where, "chosen tokens", k] = len(scored)
        for loss_type in ("sigmoid", "sft"):
            assert hasattr(trainer, "loss_types") and hasattr(trainer, "loss_weights")  # TRL's names, not new ones
            trainer.loss_types, trainer.loss_weights = [loss_type], [1.0]
            with torch.no_grad():
                losses[where, loss_type] = trainer.compute_loss(trainer.model, dict(batch)).item()
    assert all(losses["prompt", "chosen tokens", k] < losses["answer", "chosen tokens", k] for k in range(2))
    assert losses["answer", "sigmoid"] != pytest.approx(0.6931, abs=1e-3)  # the policy is not the reference
    assert losses["prompt", "sigmoid"] == pytest.approx(losses["answer", "sigmoid"], rel=1e-5, abs=1e-6)
    assert losses["prompt", "sft"] != pytest.approx(losses["answer", "sft"], rel=1e-3)
