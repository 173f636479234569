"""Balancing the call-or-reply decision that preference pairs teach (preference_pairs.balance_call_decision):
hand-checked pairs, a hypothesis property, on-policy and rule pairs, the CLI and the rounds recipe check."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_synth_pairs import ScriptedPolicy, _call_text
from tooljudge.data_prep.builtin_tools import default_registry
from tooljudge.data_prep.preference_pairs import (
    DECISIONS,
    PairReport,
    balance_call_decision,
    call_decision,
    on_policy_pairs,
    rule_pairs,
)
from tooljudge.data_prep.synthetic import SynthConfig, synthesize

CALL = {"role": "assistant", "content": "", "tool_calls": [
    {"id": "abcdefgh1", "type": "function", "function": {"name": "is_prime", "arguments": {"n": 7}}}]}
OTHER_CALL = {"role": "assistant", "content": "", "tool_calls": [
    {"id": "abcdefgh2", "type": "function", "function": {"name": "is_prime", "arguments": {"n": 8}}}]}
REPLY = {"role": "assistant", "content": "I can't help with that using these tools."}
SIDES = {"call_over_reply": (CALL, REPLY), "reply_over_call": (REPLY, CALL), "same_decision": (CALL, OTHER_CALL)}


def _pair(decision: str, tag: int) -> dict:
    chosen, rejected = SIDES[decision]
    return {"prompt": [{"role": "user", "content": f"question {tag}"}], "chosen": [chosen], "rejected": [rejected]}


def test_call_decision_of_hand_built_pairs():
    assert call_decision(_pair("call_over_reply", 0)) == "call_over_reply"
    assert call_decision(_pair("reply_over_call", 0)) == "reply_over_call"
    assert call_decision(_pair("same_decision", 0)) == "same_decision"
    two_replies = {"chosen": [REPLY], "rejected": [{"role": "assistant", "content": "Sure, 42."}]}
    assert call_decision(two_replies) == "same_decision"
    # a malformed call kept as raw text has no tool_calls: it is a reply for the decision
    raw = {"chosen": [CALL], "rejected": [{"role": "assistant", "content": "<tool_call>\n{not json"}]}
    assert call_decision(raw) == "call_over_reply"


def test_balance_of_a_run6_like_set_keeps_the_rarer_side_whole():
    """58 reply-chosen pairs against 30 call-chosen ones (CPU run 6's shape) with ratio 1: 30 of each kept."""
    pairs = ([_pair("reply_over_call", i) for i in range(58)] + [_pair("call_over_reply", i) for i in range(30)]
             + [_pair("same_decision", i) for i in range(5)])
    report = PairReport(pairs=len(pairs))
    kept = balance_call_decision(pairs, 1.0, seed=3, report=report)
    assert report.by_decision == {"reply_over_call": 30, "call_over_reply": 30, "same_decision": 5}
    assert report.skipped["decision_balance"] == 28 and report.pairs == 65 == len(kept)
    assert report.by_chosen_side == {"call": 35, "reply": 30}
    assert "decision taught: call_over_reply 30, reply_over_call 30, same_decision 5" in report.format()
    assert balance_call_decision(pairs, 1.0, seed=3) == kept  # seeded: the same pairs again


def test_balance_with_no_pair_of_the_rarer_side_keeps_ratio_many():
    pairs = [_pair("call_over_reply", i) for i in range(10)]
    assert len(balance_call_decision(pairs, 2.0)) == 2
    assert len(balance_call_decision(pairs, 2.5)) == 2  # whole pairs only: int(2.5 * 1)


@pytest.mark.parametrize("ratio", [0.0, 0.5, -1.0])
def test_balance_refuses_a_ratio_below_one(ratio):
    with pytest.raises(ValueError, match="max_ratio must be >= 1"):
        balance_call_decision([_pair("same_decision", 0)], ratio)


@given(decisions=st.lists(st.sampled_from(DECISIONS), max_size=60),
       ratio=st.floats(min_value=1.0, max_value=4.0), seed=st.integers(0, 10))
def test_balance_property(decisions, ratio, seed):
    """Kept pairs are an in-order subset; same_decision and the rarer direction are all kept; the commoner
    is cut to at most ratio x max(1, rarer), and no further; the report adds up."""
    pairs = [_pair(d, i) for i, d in enumerate(decisions)]
    report = PairReport(pairs=len(pairs))
    kept = balance_call_decision(pairs, ratio, seed=seed, report=report)
    tags = [p["prompt"][0]["content"] for p in kept]
    all_tags = [p["prompt"][0]["content"] for p in pairs]
    assert tags == [t for t in all_tags if t in set(tags)]
    before, after = Counter(decisions), Counter(call_decision(p) for p in kept)
    assert after["same_decision"] == before["same_decision"]
    rarer = min(before["call_over_reply"], before["reply_over_call"])
    cap = int(ratio * max(1, rarer))
    for d in ("call_over_reply", "reply_over_call"):
        assert after[d] == min(before[d], cap)
    assert len(kept) + report.skipped["decision_balance"] == len(pairs)
    assert report.pairs == len(kept) and sum(report.by_decision.values()) == len(kept)


def _prime_row(i: int, n: int) -> dict:
    return {"id": f"p{i}", "tools": default_registry().specs(["is_prime"]), "messages": [
        {"role": "user", "content": f"Is {n} prime?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": f"abcdefg{i:02d}", "type": "function", "function": {"name": "is_prime", "arguments": {"n": n}}}]},
        {"role": "tool", "tool_call_id": f"abcdefg{i:02d}", "name": "is_prime", "content": "true"},
        {"role": "assistant", "content": f"{n} is prime."}]}


def _poem_row(i: int) -> dict:
    return {"id": f"q{i}", "tools": default_registry().specs(["is_prime"]), "messages": [
        {"role": "user", "content": f"Write poem number {i} about autumn."},
        {"role": "assistant", "content": "I can't write poems with these tools."}]}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


def test_on_policy_pairs_of_a_model_that_calls_everywhere_are_balanced(tokenizer):
    """A policy that calls is_prime(3) on every prompt: 6 poem prompts give reply_over_call pairs, 2 prime
    prompts give call-over-wrong-call pairs (same_decision), 1 prime prompt answered in text gives the only
    call_over_reply pair. With ratio 2, two of the six reply-chosen pairs are kept, and the report describes
    the kept pairs."""
    rows = [_poem_row(i) for i in range(6)] + [_prime_row(i, n) for i, n in enumerate((7, 13))] + [_prime_row(9, 5)]

    def script(prompt):
        return ["Five is prime, I believe."] if "Is 5 prime" in prompt else [_call_text("is_prime", {"n": 3})]

    made, report = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1,
                                   decision_balance=2.0)
    assert report.by_decision == {"reply_over_call": 2, "same_decision": 2, "call_over_reply": 1}
    assert report.skipped["decision_balance"] == 4 and report.pairs == len(made) == 5
    unbalanced, plain = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1)
    assert len(unbalanced) == 9 and plain.by_decision["reply_over_call"] == 6  # counted even when not balanced
    assert all(p in unbalanced for p in made)
    assert report.by_kind == {"on_policy_reference": 5}  # the kept pairs, not the 9 made
    assert report.by_chosen_side == {"reply": 2, "call": 3}


def test_a_malformed_call_is_a_call_for_the_decision(tokenizer):
    """A call cut off mid-JSON is kept as raw text (no ``tool_calls``), but the model chose to call: against a
    right call the pair teaches nothing about calling (same_decision); against a plain reply on an irrelevance
    prompt it teaches reply over call. Classified by the message alone, both would be wrong."""
    cut = '<tool_call>\n{"name": "is_prime", "argu'
    made, report = on_policy_pairs(ScriptedPolicy(lambda prompt: [cut]), tokenizer,
                                   [_prime_row(0, 7), _poem_row(0)], family="qwen25", n_samples=1)
    assert [p["rejected"][0] for p in made] == [{"role": "assistant", "content": cut}] * 2
    assert report.by_decision == {"same_decision": 1, "reply_over_call": 1}
    assert report.parse_failures == {"truncated": 2}


def test_rule_pairs_balance():
    rows = synthesize(SynthConfig(n=60, seed=4))[0]
    kinds = ["call_when_none_needed", "no_call_when_needed", "wrong_value"]
    made, report = rule_pairs(rows, seed=0, kinds=kinds, per_point=1, decision_balance=1.0)
    full, full_report = rule_pairs(rows, seed=0, kinds=kinds, per_point=1)
    a, b = full_report.by_decision["call_over_reply"], full_report.by_decision["reply_over_call"]
    assert a and b and a != b  # both directions occur, unequally: there is something to balance
    assert report.by_decision["call_over_reply"] == report.by_decision["reply_over_call"] == min(a, b)
    assert report.skipped["decision_balance"] == abs(a - b) and len(made) == len(full) - abs(a - b)
    assert sum(report.by_kind.values()) == len(made) == report.pairs
    assert report.by_kind["wrong_value"] == full_report.by_kind["wrong_value"]  # same_decision: all kept


def test_preferences_cli_balances_and_reports(tmp_path):
    from tooljudge.data_prep.preferences import main

    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in synthesize(SynthConfig(n=60, seed=4))[0]))
    out = tmp_path / "pairs.jsonl"
    main(["--from", str(src), "--output", str(out), "--kinds", "call_when_none_needed,no_call_when_needed",
          "--per-point", "1", "--decision-balance", "1"])
    report = json.loads(out.with_suffix(".report.json").read_text())["rules"]
    assert report["by_decision"]["call_over_reply"] == report["by_decision"]["reply_over_call"]
    assert report["skipped"]["decision_balance"] > 0
    assert len(out.read_text().splitlines()) == report["pairs"]


@pytest.mark.parametrize("bad", [0.5, "two", True])
def test_rounds_recipe_refuses_a_bad_decision_balance(bad):
    from tooljudge.train.recipe import RecipeError
    from tooljudge.train.rounds import rounds_config_from_dict

    with pytest.raises(RecipeError, match="decision_balance"):
        rounds_config_from_dict({"sft": "recipes/smollm2_demo.yaml", "dpo": "recipes/smollm2_demo_dpo.yaml",
                                 "on_policy": {"decision_balance": bad}})
    cfg = rounds_config_from_dict({"sft": "recipes/smollm2_demo.yaml", "dpo": "recipes/smollm2_demo_dpo.yaml",
                                   "on_policy": {"decision_balance": 1.5}})
    assert cfg.on_policy.decision_balance == 1.5


def test_sampled_pairs_by_decision_with_and_without_the_parser():
    """Pairs sampled in a CPU run and in the H100 sweep (tests/data/call_decision: the last messages and the
    tool names, each pair's decisions hand-checked). With the family's parser an answer kept as raw text that
    opens a call (malformed, cut off at the length limit, or naming a tool the row does not have) is a call, as
    on_policy_pairs decided when it made them; by tool_calls alone such an answer counts as a reply."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "data" / "call_decision" / "on_policy_pairs.jsonl"
    pairs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [call_decision(p, "qwen25") for p in pairs] == [p["decision"] for p in pairs]
    assert [call_decision(p) for p in pairs] == [p["decision_by_tool_calls"] for p in pairs]
    assert Counter((p["decision"], p["decision_by_tool_calls"]) for p in pairs) == {
        ("reply_over_call", "reply_over_call"): 2, ("same_decision", "same_decision"): 2,
        ("call_over_reply", "call_over_reply"): 1, ("reply_over_call", "same_decision"): 3,
        ("same_decision", "call_over_reply"): 3}


def test_rule_kinds_give_the_balance_the_other_direction(tokenizer):
    """The everywhere-calling policy of the test above, with one rule-made ``no_call_when_needed`` pair at each
    prime prompt (3: the reference call against a plain reply). Unbalanced: 6 reply_over_call, 1 + 3
    call_over_reply. At ratio 1 the balance keeps 4 of the model's 6 poem mistakes instead of 1; every rule-made
    pair's rejected side is a reply with no call that the checker rejects, and its chosen side is the reference."""
    rows = [_poem_row(i) for i in range(6)] + [_prime_row(i, n) for i, n in enumerate((7, 13))] + [_prime_row(9, 5)]

    def script(prompt):
        return ["Five is prime, I believe."] if "Is 5 prime" in prompt else [_call_text("is_prime", {"n": 3})]

    policy = ScriptedPolicy(script)
    plain, plain_report = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=1, meta=True,
                                          rule_kinds=["no_call_when_needed"])
    assert plain_report.by_decision == {"reply_over_call": 6, "call_over_reply": 4, "same_decision": 2}
    assert plain_report.by_kind == {"on_policy_reference": 9, "no_call_when_needed": 3}
    made = [p for p in plain if p["meta"]["kind"] == "no_call_when_needed"]
    assert len(made) == 3
    for pair in made:
        assert pair["chosen"][0]["tool_calls"] and not pair["rejected"][0].get("tool_calls")
        assert pair["chosen"][0] == next(r for r in rows if r["messages"][0] == pair["prompt"][0])["messages"][1]
    kept, report = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=1, meta=True,
                                   decision_balance=1.0, rule_kinds=["no_call_when_needed"])
    assert report.by_decision == {"reply_over_call": 4, "call_over_reply": 4, "same_decision": 2}
    assert report.skipped["decision_balance"] == 2 and len(kept) == report.pairs == 10
    alone, _ = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=1, decision_balance=1.0)
    assert sum(not p["chosen"][0].get("tool_calls") for p in alone) == 1


def test_rule_kinds_refuse_an_unknown_kind(tokenizer):
    with pytest.raises(ValueError, match="no_such_kind"):
        on_policy_pairs(ScriptedPolicy(lambda prompt: ["hi"]), tokenizer, [_poem_row(0)], family="qwen25",
                        n_samples=1, rule_kinds=["no_such_kind"])
    from tooljudge.train.recipe import RecipeError
    from tooljudge.train.rounds import rounds_config_from_dict

    base = {"sft": "recipes/smollm2_demo.yaml", "dpo": "recipes/smollm2_demo_dpo.yaml"}
    for bad in (["no_such_kind"], "no_call_when_needed"):
        with pytest.raises(RecipeError, match="rule_kinds"):
            rounds_config_from_dict({**base, "on_policy": {"rule_kinds": bad}})
    cfg = rounds_config_from_dict({**base, "on_policy": {"rule_kinds": ["no_call_when_needed"]}})
    assert cfg.on_policy.rule_kinds == ["no_call_when_needed"]


def test_preferences_cli_adds_rule_kinds_to_on_policy_pairs(tmp_path, tokenizer, monkeypatch):
    """``--policy`` with ``--on-policy-rule-kinds``: the CLI passes the kinds through (the backend is the
    scripted everywhere-calling policy, so no checkpoint is loaded)."""
    from tooljudge.data_prep.preferences import main

    import tooljudge.core.backends as backends

    def script(prompt):
        return ["Five is prime, I believe."] if "Is 5 prime" in prompt else [_call_text("is_prime", {"n": 3})]

    class Backend(ScriptedPolicy):
        def __init__(self, path, batch_size=8, progress=False):
            super().__init__(script)
            self.tokenizer = tokenizer

    monkeypatch.setattr(backends, "TransformersBackend", Backend)
    rows = [_poem_row(i) for i in range(6)] + [_prime_row(i, n) for i, n in enumerate((7, 13))] + [_prime_row(9, 5)]
    src, out = tmp_path / "rows.jsonl", tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["--from", str(src), "--output", str(out), "--no-rules", "--policy", "scripted", "--family", "qwen25",
          "--n-samples", "1", "--decision-balance", "1", "--on-policy-rule-kinds", "no_call_when_needed"])
    report = json.loads(out.with_suffix(".report.json").read_text())["on_policy"]
    assert report["by_decision"] == {"reply_over_call": 4, "call_over_reply": 4, "same_decision": 2}
    assert report["by_kind"]["no_call_when_needed"] == 3
    assert len(out.read_text().splitlines()) == report["pairs"] == 10


def test_keep_decisions_keeps_only_same_decision_pairs(tokenizer):
    """The everywhere-calling policy with rule-made pairs (12 pairs: 6 reply_over_call, 4 call_over_reply, 2
    same_decision, as above). Keeping ``same_decision`` leaves the 2 pairs where the model called is_prime(3)
    and the reference calls it with the prompt's number: both sides call, the chosen one is the reference."""
    rows = [_poem_row(i) for i in range(6)] + [_prime_row(i, n) for i, n in enumerate((7, 13))] + [_prime_row(9, 5)]

    def script(prompt):
        return ["Five is prime, I believe."] if "Is 5 prime" in prompt else [_call_text("is_prime", {"n": 3})]

    kept, report = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1,
                                   rule_kinds=["no_call_when_needed"], keep_decisions=["same_decision"])
    assert len(kept) == report.pairs == 2
    assert report.skipped["decision_not_kept"] == 10
    assert report.by_decision == {"same_decision": 2} and report.by_chosen_side == {"call": 2}
    assert report.by_kind == {"on_policy_reference": 2}
    for pair in kept:
        assert pair["rejected"][0]["tool_calls"][0]["function"]["arguments"] == {"n": 3}
        number = pair["chosen"][0]["tool_calls"][0]["function"]["arguments"]["n"]
        assert number in (7, 13) and f"Is {number} prime" in pair["prompt"][-1]["content"]
    both, both_report = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1,
                                        rule_kinds=["no_call_when_needed"],
                                        keep_decisions=["same_decision", "call_over_reply"])
    assert both_report.by_decision == {"same_decision": 2, "call_over_reply": 4} and len(both) == 6


@given(st.lists(st.sampled_from(DECISIONS), max_size=40),
       st.lists(st.sampled_from(DECISIONS), min_size=1, max_size=3, unique=True))
def test_keep_decisions_indices_property(decisions, keep):
    from tooljudge.data_prep.preference_pairs import keep_decisions_indices

    kept = keep_decisions_indices(decisions, keep)
    assert kept == sorted(kept)
    assert [decisions[i] for i in kept] == [d for d in decisions if d in keep]
    assert keep_decisions_indices(decisions, None) == list(range(len(decisions)))


def test_keep_decisions_refuses_unknown_names():
    from tooljudge.data_prep.preference_pairs import check_decisions
    from tooljudge.train.recipe import RecipeError
    from tooljudge.train.rounds import rounds_config_from_dict

    with pytest.raises(ValueError, match="same_choice"):
        check_decisions(["same_choice"])
    with pytest.raises(ValueError, match="none given"):
        check_decisions([])
    base = {"sft": "recipes/smollm2_demo.yaml", "dpo": "recipes/smollm2_demo_dpo.yaml"}
    for bad in (["same_choice"], "same_decision", []):
        with pytest.raises(RecipeError, match="keep_decisions"):
            rounds_config_from_dict({**base, "on_policy": {"keep_decisions": bad}})
    cfg = rounds_config_from_dict({**base, "on_policy": {"keep_decisions": ["same_decision"]}})
    assert cfg.on_policy.keep_decisions == ["same_decision"]


def test_builtin_dpo_source_passes_decision_balance_to_the_pairs():
    """A recipe's ``builtin:synthetic`` DPO source takes ``decision_balance`` like ``rule_pairs``: the kept pairs
    are balanced and the dropped ones counted in the pair report (rows made = kept + dropped). Read through
    ``load_source``, the path the trainer reads a recipe's sources by."""
    from tooljudge.data_prep.data_mix import builtin_option_keys, load_source
    from tooljudge.train.recipe import DataSource

    options = {"n": 60, "seed": 4, "per_point": 1,
               "kinds": ["call_when_none_needed", "no_call_when_needed", "wrong_value"]}
    assert "decision_balance" in builtin_option_keys("synthetic", "dpo")
    assert "decision_balance" not in builtin_option_keys("synthetic", "sft")  # SFT rows have no pairs to balance
    full, full_report = load_source(DataSource("builtin:synthetic", options=dict(options)), "dpo")
    kept, report = load_source(DataSource("builtin:synthetic", options={**options, "decision_balance": 1.0}), "dpo")
    a, b = full_report["pairs"]["by_decision"]["call_over_reply"], full_report["pairs"]["by_decision"]["reply_over_call"]
    assert a and b and a != b
    assert report["pairs"]["by_decision"]["call_over_reply"] == report["pairs"]["by_decision"]["reply_over_call"]
    assert report["pairs"]["skipped"]["decision_balance"] == abs(a - b) == len(full) - len(kept)
