"""The relevance pair kinds (issue 22): hand-checked examples, each side rendered with the qwen25 template and
read back with the family's call parser (what the model is trained to write must parse to what was meant)."""

from __future__ import annotations

import random

import pytest
from tooljudge.data_prep.families import get_family
from tooljudge.data_prep.preference_pairs import (
    REJECTION_KINDS,
    RELEVANCE_KINDS,
    call_decision,
    decision_points,
    make_variant,
    rule_pairs,
)

from tests.train_support import FAMILY, tiny_tokenizer
from tooljudge.core.tool_parsers import parse_tool_calls


def _tool(name: str, description: str, params: dict[str, str]) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": {k: {"type": t} for k, t in params.items()}, "required": list(params)}}}


MENU = _tool("restaurant_get_menu", "The menu of a restaurant.", {"restaurant": "string"})
HOURS = _tool("restaurant_get_opening_hours", "When a restaurant is open, today or tonight.", {"restaurant": "string"})
RATING = _tool("restaurant_get_rating", "The star rating of a restaurant.", {"restaurant": "string"})
REFUSAL = ("I can't do that with the tools available here (restaurant_get_menu, restaurant_get_opening_hours): "
           "none of them fits this request.")


def _call(name: str, args: dict, i: int) -> dict:
    return {"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": args}}


# No offered tool books a table; the opening-hours tool shares "tonight" with the request: the near miss.
IRRELEVANT = {"tools": [MENU, HOURS], "messages": [
    {"role": "user", "content": "Book a table for two at Lumiere tonight."},
    {"role": "assistant", "content": REFUSAL}]}
# Two things asked, both doable: the menu and the rating of Lumiere. HOURS is offered and not needed.
TWO_THINGS = {"tools": [MENU, HOURS, RATING], "messages": [
    {"role": "user", "content": "Show me the menu of Lumiere and its rating."},
    {"role": "assistant", "content": "", "tool_calls": [_call("restaurant_get_menu", {"restaurant": "Lumiere"}, 1),
                                                        _call("restaurant_get_rating", {"restaurant": "Lumiere"}, 2)]}]}


def _answer_text(dp, message: dict, tok) -> str:
    """The text the model would write for ``message``: the rendered turn minus the rendered prompt."""
    fam = get_family(FAMILY)
    before = fam.render(tok, dp.prompt, dp.tools, add_generation_prompt=True)
    full = fam.render(tok, [*dp.prompt, message], dp.tools)
    assert full.startswith(before)
    return full[len(before):].split("<|im_end|>")[0]


def _parsed(dp, message: dict, tok) -> list[dict]:
    parsed = parse_tool_calls(_answer_text(dp, message, tok), FAMILY, [t["function"]["name"] for t in dp.tools])
    assert parsed.failure is None, parsed.detail
    return [{"name": c["name"], "arguments": c["arguments"]} for c in parsed.calls]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _variant(row: dict, kind: str):
    (dp,) = decision_points(row)
    rejected, why = make_variant(kind, dp, {}, random.Random(0), sample_args=None)
    assert why == "", why
    return dp, rejected


def test_near_miss_call_calls_the_tool_the_request_sounds_like(tok):
    dp, rejected = _variant(IRRELEVANT, "near_miss_call")
    assert _parsed(dp, dp.chosen, tok) == []  # chosen: no call, the refusal
    assert _answer_text(dp, dp.chosen, tok) == REFUSAL
    # rejected: the opening-hours tool (shares "tonight"), its required string from the request's longest name
    assert _parsed(dp, rejected, tok) == [{"name": "restaurant_get_opening_hours", "arguments": {"restaurant": "Lumiere"}}]


def test_refusal_when_tool_fits_is_the_refusal_on_a_request_a_tool_can_do(tok):
    dp, rejected = _variant(TWO_THINGS, "refusal_when_tool_fits")
    assert _parsed(dp, rejected, tok) == []
    assert rejected["content"] == ("I can't do that with the tools available here (restaurant_get_menu, "
                                   "restaurant_get_opening_hours, restaurant_get_rating): none of them fits this request.")
    assert _parsed(dp, dp.chosen, tok) == [{"name": "restaurant_get_menu", "arguments": {"restaurant": "Lumiere"}},
                                           {"name": "restaurant_get_rating", "arguments": {"restaurant": "Lumiere"}}]


def test_several_things_asked_dropped_and_extra_calls(tok):
    chosen = [{"name": "restaurant_get_menu", "arguments": {"restaurant": "Lumiere"}},
              {"name": "restaurant_get_rating", "arguments": {"restaurant": "Lumiere"}}]
    dp, dropped = _variant(TWO_THINGS, "dropped_call")
    calls = _parsed(dp, dropped, tok)
    assert len(calls) == 1 and calls[0] in chosen
    dp, extra = _variant(TWO_THINGS, "extra_near_miss_call")
    assert _parsed(dp, extra, tok) == [*chosen, {"name": "restaurant_get_opening_hours",
                                                 "arguments": {"restaurant": "Lumiere"}}]
    (single,) = decision_points(IRRELEVANT)  # no calls: neither applies
    assert make_variant("dropped_call", single, {}, random.Random(0))[1] == "not_applicable"


def test_rule_pairs_teach_both_directions_and_stay_out_of_the_default_kinds():
    pairs, report = rule_pairs([IRRELEVANT, TWO_THINGS], kinds=RELEVANCE_KINDS, per_point=4, meta=True,
                               sample_args=None)
    assert report.by_kind == {k: 1 for k in RELEVANCE_KINDS}
    decisions = {p["meta"]["kind"]: call_decision(p) for p in pairs}
    assert decisions == {"near_miss_call": "reply_over_call", "refusal_when_tool_fits": "call_over_reply",
                         "dropped_call": "same_decision", "extra_near_miss_call": "same_decision"}
    assert not set(RELEVANCE_KINDS) & set(REJECTION_KINDS)
