"""Preference pairs: every rejected variant is wrong by the AST checker; on-policy pairing; model-written text
goes through the same filters."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest
from tooljudge.data_prep.builtin_tools import default_registry
from tooljudge.data_prep.model_writer import ModelWriter
from tooljudge.data_prep.preference_pairs import (
    REJECTION_KINDS,
    builtin_sample_args,
    decision_points,
    is_wrong,
    make_variant,
    message_calls,
    on_policy_pairs,
    rule_pairs,
)
from tooljudge.data_prep.synthetic import SynthConfig, synthesize

from tooljudge.core.ast_checker import check_calls


@pytest.fixture(scope="module")
def rows():
    return synthesize(SynthConfig(n=250, seed=21))[0]


@pytest.fixture(scope="module")
def pairs(rows):
    return rule_pairs(rows, seed=1, meta=True, sample_args=builtin_sample_args)


def _spec(pair: dict, name: str) -> dict:
    return next(t["function"]["parameters"] for t in pair["tools"] if t["function"]["name"] == name)


def test_every_kind_is_made_and_every_rejected_is_wrong_by_the_checker(pairs):
    made, report = pairs
    assert set(report.by_kind) == set(REJECTION_KINDS)
    replies = sum(1 for pair in made if not pair["chosen"][0].get("tool_calls"))
    assert report.by_chosen_side == {"call": len(made) - replies, "reply": replies} and replies > 0
    for pair in made:
        chosen, rejected = pair["chosen"][0], pair["rejected"][0]
        chosen_calls = message_calls(chosen)
        gt = [{c["name"]: {k: [v] for k, v in c["arguments"].items()}} for c in chosen_calls]
        category = "irrelevance" if not chosen_calls else "parallel_multiple" if len(gt) > 1 else "simple"
        for checker in ("bfcl", "strict"):  # number arrays hold float items, as BFCL's rules need
            assert check_calls(chosen_calls, gt, category, pair["tools"], checker=checker).correct, checker
            assert not check_calls(message_calls(rejected), gt, category, pair["tools"], checker=checker).correct, \
                (pair["meta"], checker)


def test_each_kind_makes_its_own_mistake(pairs):
    made, _ = pairs
    for pair in made:
        kind = pair["meta"]["kind"]
        good, bad = message_calls(pair["chosen"][0]), message_calls(pair["rejected"][0])
        if kind == "no_call_when_needed":
            assert good and not bad
            continue
        if kind == "call_when_none_needed":
            assert not good and len(bad) == 1
            continue
        if kind == "repeated_call":  # the right calls, in order, then one of them once more
            assert bad[:len(good)] == good and len(bad) == len(good) + 1 and bad[-1] in good
            continue
        assert len(good) == len(bad)
        diff = [(g, b) for g, b in zip(good, bad, strict=True) if g != b]
        assert len(diff) == 1, (kind, good, bad)
        g, b = diff[0]
        params = _spec(pair, g["name"])
        if kind == "wrong_function":
            assert b["name"] != g["name"] and b["arguments"] == g["arguments"]
            continue
        assert b["name"] == g["name"]
        changed = {k for k in set(g["arguments"]) | set(b["arguments"])
                   if g["arguments"].get(k, "<absent>") != b["arguments"].get(k, "<absent>")}
        assert len(changed) == 1
        [key] = changed
        if kind == "missing_required":
            assert key in params["required"] and key not in b["arguments"]
        elif kind == "hallucinated_arg":
            assert key not in params["properties"] and key in b["arguments"]
        elif kind == "wrong_type":
            assert type(b["arguments"][key]) is not type(g["arguments"][key])
        elif kind == "wrong_value":
            assert type(b["arguments"][key]) is type(g["arguments"][key])


def test_hand_checked_variants():
    tools = default_registry().specs(["get_weather", "is_prime"])
    row = {"messages": [
        {"role": "user", "content": "Weather in Paris in fahrenheit?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "abcdefghi", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "name": "get_weather", "content": "{}"},
        {"role": "assistant", "content": "It is 64.4 F."}], "tools": tools}
    [dp] = decision_points(row)
    assert dp.category == "simple"
    assert dp.ground_truth == [{"get_weather": {"city": ["Paris"], "unit": ["fahrenheit"]}}]
    rng = random.Random(0)
    pool = {("get_weather", "city"): ["Paris", "paris", "Rome"]}
    expect = {
        "wrong_function": lambda c: c == [{"name": "is_prime", "arguments": {"city": "Paris", "unit": "fahrenheit"}}],
        "missing_required": lambda c: c == [{"name": "get_weather", "arguments": {"unit": "fahrenheit"}}],
        "no_call_when_needed": lambda c: c == [],
        "repeated_call": lambda c: c == [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}] * 2,
    }
    for kind, ok in expect.items():
        msg, why = make_variant(kind, dp, pool, rng)
        assert why == "" and ok(message_calls(msg)) and is_wrong(msg, dp)
    assert make_variant("no_call_when_needed", dp, pool, rng)[0]["content"] == "It is 64.4 F."
    # "paris" is the same value after BFCL normalisation: the checker accepts it, so it must never be a rejected
    dp.chosen["tool_calls"][0]["function"]["arguments"] = {"city": "Paris"}
    dp.ground_truth = [{"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}}]
    same = {"role": "assistant", "content": "", "tool_calls": [
        {"id": "x" * 9, "type": "function", "function": {"name": "get_weather", "arguments": {"city": "paris"}}}]}
    assert not is_wrong(same, dp)


class ScriptedPolicy:
    """A GenerationBackend that answers each prompt with fixed texts (cycled), recording its calls."""

    def __init__(self, script):
        self.script = script
        self.seen = []

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.seen.append((len(prompts), stop))
        counts = Counter()
        out = []
        for p in prompts:
            options = self.script(p)
            out.append(options[counts[p] % len(options)])
            counts[p] += 1
        return out

    def label_probs(self, prompts, labels):
        return [[1 / len(labels)] * len(labels) for _ in prompts]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


def _call_text(name: str, args: dict) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": args})}\n</tool_call>'


def test_on_policy_pairs_prefer_a_correct_sample_over_each_distinct_mistake(tokenizer):
    tools = default_registry().specs(["get_weather", "is_prime"])
    rows = [{"id": f"r{i}", "messages": [
        {"role": "user", "content": f"Is {n} prime?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "abcdefgh" + str(i), "type": "function", "function": {"name": "is_prime", "arguments": {"n": n}}}]},
        {"role": "tool", "tool_call_id": "abcdefgh" + str(i), "name": "is_prime", "content": "true"},
        {"role": "assistant", "content": f"{n} is prime."}], "tools": tools} for i, n in enumerate((7, 13))]

    def script(prompt):
        n = int(re.findall(r"Is (\d+) prime", prompt)[-1])
        if n == 7:  # right, wrong value, wrong value again (same mistake), unparsable
            return [_call_text("is_prime", {"n": 7}), _call_text("is_prime", {"n": 8}),
                    _call_text("is_prime", {"n": 8}), "<tool_call>\n{not json\n</tool_call>"]
        return [_call_text("is_prime", {"n": 13})]  # always right: no pair

    policy = ScriptedPolicy(script)
    made, report = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=4, meta=True)
    assert policy.seen == [(8, ["<|im_end|>"])]
    assert report.samples == 8 and report.correct_samples == 5
    assert report.skipped["all_samples_correct"] == 1
    assert len(made) == 2  # two distinct mistakes for 7, none for 13
    for pair in made:
        assert message_calls(pair["chosen"][0]) == [{"name": "is_prime", "arguments": {"n": 7}}]
        assert pair["meta"]["kind"] == "on_policy_correct"
    assert report.by_chosen_side == {"call": 2}
    rejected = [pair["rejected"][0] for pair in made]
    assert message_calls(rejected[0]) == [{"name": "is_prime", "arguments": {"n": 8}}]
    assert "not json" in rejected[1]["content"] and not rejected[1].get("tool_calls")


def test_on_policy_counts_pairs_whose_chosen_side_is_a_plain_reply(tokenizer):
    """An irrelevance prompt answered with a call: the pair's chosen side is the reference's plain reply, and
    the report counts it apart from the call-chosen pairs (a lopsided count teaches "always call")."""
    row = {"id": "irr", "tools": default_registry().specs(["is_prime"]), "messages": [
        {"role": "user", "content": "Write me a haiku about autumn."},
        {"role": "assistant", "content": "I can't write poems with these tools, but autumn leaves are lovely."}]}
    policy = ScriptedPolicy(lambda prompt: [_call_text("is_prime", {"n": 3})])
    made, report = on_policy_pairs(policy, tokenizer, [row, _is_7_prime_row()], family="qwen25", n_samples=1)
    assert report.by_chosen_side == {"reply": 1, "call": 1}
    assert "chosen side: 1 tool call, 1 reply" in report.format()
    irr = next(p for p in made if not p["chosen"][0].get("tool_calls"))
    assert irr["chosen"][0]["content"].startswith("I can't write poems")
    assert message_calls(irr["rejected"][0]) == [{"name": "is_prime", "arguments": {"n": 3}}]


def _is_7_prime_row() -> dict:
    """One conversation whose only decision point calls is_prime(n=7)."""
    return {"id": "r0", "tools": default_registry().specs(["is_prime"]), "messages": [
        {"role": "user", "content": "Is 7 prime?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "abcdefgh0", "type": "function", "function": {"name": "is_prime", "arguments": {"n": 7}}}]},
        {"role": "tool", "tool_call_id": "abcdefgh0", "name": "is_prime", "content": "true"},
        {"role": "assistant", "content": "7 is prime."}]}


class TemperatureScriptedPolicy(ScriptedPolicy):
    """Answers by temperature: greedy (0) gives the first option, sampling cycles through the rest."""

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.seen.append((len(prompts), temperature))
        options = [self.script(p) for p in prompts]
        if temperature == 0:
            return [o[0] for o in options]
        out, counts = [], Counter()
        for p, o in zip(prompts, options, strict=True):
            out.append(o[1 + counts[p] % (len(o) - 1)])
            counts[p] += 1
        return out


def test_on_policy_with_the_greedy_answer_first(tokenizer):
    """include_greedy: one greedy answer plus n_samples - 1 sampled ones per decision point; a wrong greedy
    answer becomes a pair even when every sampled answer is right."""
    rows = [_is_7_prime_row()]
    greedy_wrong, right = _call_text("is_prime", {"n": 8}), _call_text("is_prime", {"n": 7})
    policy = TemperatureScriptedPolicy(lambda prompt: [greedy_wrong, right])
    made, report = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=3, temperature=0.7,
                                   include_greedy=True)
    assert policy.seen == [(2, 0.7), (1, 0.0)]  # 2 sampled + 1 greedy for the one decision point
    assert report.samples == 3 and report.correct_samples == 2 and len(made) == 1
    assert message_calls(made[0]["rejected"][0]) == [{"name": "is_prime", "arguments": {"n": 8}}]
    assert message_calls(made[0]["chosen"][0]) == [{"name": "is_prime", "arguments": {"n": 7}}]
    plain, _ = on_policy_pairs(TemperatureScriptedPolicy(lambda prompt: [greedy_wrong, right]), tokenizer, rows,
                               family="qwen25", n_samples=3, temperature=0.7)
    assert plain == []  # sampling alone never shows the greedy mistake


def test_on_policy_rejected_keeps_what_a_malformed_sample_wrote(tokenizer):
    """A right call followed by a second call cut off mid-JSON is a mistake (the output does not parse); the
    rejected side must be the text the model wrote, not a clean call rebuilt from it (that would equal the
    chosen and teach nothing)."""
    rows = [_is_7_prime_row()]
    stray = _call_text("is_prime", {"n": 7}) + '\n<tool_call>\n{"name": "is_prime", "argu'
    policy = ScriptedPolicy(lambda prompt: [stray, _call_text("is_prime", {"n": 7})])
    made, report = on_policy_pairs(policy, tokenizer, rows, family="qwen25", n_samples=2, meta=True)
    assert report.samples == 2 and report.correct_samples == 1 and len(made) == 1
    assert made[0]["rejected"][0] == {"role": "assistant", "content": stray}
    assert message_calls(made[0]["chosen"][0]) == [{"name": "is_prime", "arguments": {"n": 7}}]


def test_pairs_render_for_dpo(pairs, tokenizer):
    from tooljudge.data_prep.masking import render_completion

    made, _ = pairs
    for pair in made[:20]:
        chosen = render_completion(tokenizer, pair["prompt"], pair["chosen"][0], pair["tools"], family="qwen25")
        rejected = render_completion(tokenizer, pair["prompt"], pair["rejected"][0], pair["tools"], family="qwen25")
        assert chosen.endswith("<|im_end|>") and rejected.endswith("<|im_end|>") and chosen != rejected


class EchoWriterBackend:
    """Keeps each request verbatim and writes a given (wrong or right) answer: exercises the model path."""

    def __init__(self, answer):
        self.answer = answer

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        out = []
        for p in prompts:
            if p.endswith("Rewritten:"):
                out.append(" " + p.rsplit("Request: ", 1)[1].rsplit("\nRewritten:", 1)[0])
            else:
                out.append(self.answer)
        return out

    def label_probs(self, prompts, labels):
        return [[1 / len(labels)] * len(labels) for _ in prompts]


def test_model_written_answers_go_through_the_filters():
    cfg = SynthConfig(n=30, seed=4, mix={"single": 1.0, "irrelevance": 1.0}, max_attempts_factor=3)
    rows, report = synthesize(cfg, writer=ModelWriter(EchoWriterBackend(" The result is 987654321.")))
    assert report.backend == "model"
    assert {r["category"] for r in rows} == {"irrelevance"}  # every answer after a tool result contradicted it
    assert report.dropped["answer_contradicts_result"] > 0
    vague, _ = synthesize(cfg, writer=ModelWriter(EchoWriterBackend(" Done!")))
    assert {r["category"] for r in vague} == {"irrelevance"}


@pytest.mark.slow
def test_on_policy_with_the_bundled_smollm2(rows, tokenizer):
    from tooljudge.core.backends import TransformersBackend
    from tooljudge.models import smollm2_checkpoint

    backend = TransformersBackend(str(smollm2_checkpoint()), batch_size=8)
    made, report = on_policy_pairs(backend, tokenizer, rows, family="qwen25", n_samples=2, max_points=3,
                                   max_new_tokens=48)
    assert report.samples == 6
    assert report.pairs == len(made)
    points = [dp for row in rows for dp in decision_points(row)][:3]
    for pair in made:
        dp = next(d for d in points if d.prompt == pair["prompt"] and d.tools == pair["tools"])
        assert is_wrong(pair["rejected"][0], dp)


class RecordingBackend(EchoWriterBackend):
    def __init__(self):
        super().__init__(" ok")
        self.prompts = []

    def generate(self, prompts, **kw):
        self.prompts.extend(prompts)
        return super().generate(prompts, **kw)


def test_model_writer_prompts_few_shot_without_leaking_the_row_own_answer():
    rows, _ = synthesize(SynthConfig(n=8, seed=5, mix={"single": 1.0}))
    backend = RecordingBackend()
    out = ModelWriter(backend, shots=2).rewrite(rows)
    answers = [p for p in backend.prompts if p.endswith("Answer:")]
    requests = [p for p in backend.prompts if p.endswith("Rewritten:")]
    assert len(answers) == len(requests) == 8
    for row, prompt in zip(rows, answers, strict=True):
        own = row["messages"][-1]["content"]
        assert own not in prompt                     # its templated answer is not an example
        assert prompt.count("\nAnswer: ") == 2       # two shots from other rows
        assert row["messages"][-2]["content"] in prompt  # the real tool result is given
    assert [r["messages"][-1]["content"] for r in out] == ["ok"] * 8
    assert rows[0]["messages"][-1]["content"] != "ok"  # input rows untouched
