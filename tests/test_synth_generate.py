"""Synthetic rows: schema-valid, reproducible, re-executable; filters catch bad rows; eval set and split."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from scipy.stats import binomtest
from tooljudge.data_prep.builtin_tools import default_registry
from tooljudge.data_prep.sandbox import Sandbox
from tooljudge.data_prep.schema import validate_conversation
from tooljudge.data_prep.synthetic import (
    CATEGORIES,
    EVAL_CATEGORIES,
    InstanceSplit,
    SynthConfig,
    answer_problems,
    build_fc_eval_set,
    call_instance,
    drift_problems,
    grounding_problems,
    reexecute_problems,
    row_instances,
    split_rows,
    synthesize,
)
from tooljudge.data_prep.tool_tasks import Task

from tooljudge.core.ast_checker import check_calls


@pytest.fixture(scope="module")
def synth():
    return synthesize(SynthConfig(n=500, seed=3))


def test_every_row_validates_and_every_category_appears(synth):
    rows, report = synth
    assert len(rows) == 500
    assert {r["category"] for r in rows} == set(CATEGORIES)
    for row in rows:
        assert validate_conversation(row) == [], row["id"]


def test_nothing_is_dropped_silently(synth):
    _, report = synth
    assert report.attempts == report.kept + sum(report.dropped.values())
    assert sum(report.attempts_by_category.values()) == report.attempts
    assert report.dropped["tool_error"] > 0  # samplers do reach values the tools reject, and they are filtered


def test_every_row_reexecutes_to_the_same_results(synth):
    rows, _ = synth
    with Sandbox(default_registry()) as sb:
        for row in rows:
            assert reexecute_problems(row, sb) == [], row["id"]


def test_generation_is_reproducible():
    a, _ = synthesize(SynthConfig(n=60, seed=11))
    b, _ = synthesize(SynthConfig(n=60, seed=11))
    c, _ = synthesize(SynthConfig(n=60, seed=12))
    assert a == b
    assert a != c


def _weather_row(answer: str, city_in_request: str = "Paris") -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"What's the weather in {city_in_request}?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "tool_call_id": "abcdefghi", "name": "get_weather",
             "content": '{"city": "Paris", "temperature": 18.0, "unit": "celsius", "condition": "cloudy", "humidity": 72}'},
            {"role": "assistant", "content": answer}],
        "tools": default_registry().specs(["get_weather"])}


def test_answer_filter_hand_checked():
    assert answer_problems(_weather_row("It is 18 degrees and cloudy in Paris (72% humidity).")) == []
    assert answer_problems(_weather_row("It is 18.0 C in Paris.")) == []
    wrong = answer_problems(_weather_row("It is 21 degrees and cloudy in Paris."))
    assert [r for r, _ in wrong] == ["answer_contradicts_result"]
    ignored = answer_problems(_weather_row("I hope you have a nice day."))
    assert [r for r, _ in ignored] == ["answer_misses_result"]


def test_boolean_and_error_results():
    row = _weather_row("")
    row["messages"][1]["tool_calls"][0]["function"] = {"name": "is_prime", "arguments": {"n": 91}}
    row["messages"][0]["content"] = "Is 91 prime?"
    row["messages"][2].update(name="is_prime", content="false")
    row["messages"][3]["content"] = "91 is a prime number."
    assert [r for r, _ in answer_problems(row)] == ["answer_contradicts_result"]
    row["messages"][3]["content"] = "91 is not a prime number."
    assert answer_problems(row) == []
    row["messages"][2]["content"] = '{"error": "KeyError: no such thing"}'
    assert [r for r, _ in answer_problems(row)] == ["answer_ignores_error"]


def test_grounding_filter_flags_invented_values():
    assert grounding_problems(_weather_row("x")) == []
    problems = grounding_problems(_weather_row("x", city_in_request="Rome"))
    assert [r for r, _ in problems] == ["ungrounded_argument"] and "Paris" in problems[0][1]


def _failing_tool(city: str) -> str:
    """Always fails.

    Args:
        city: A city.
    """
    raise RuntimeError("backend down")


def test_failed_calls_and_misfit_arguments_are_filtered():
    reg = default_registry()
    reg.register(_failing_tool)
    tasks = {
        "_failing_tool": Task("_failing_tool", lambda g: {"city": "Paris"}, ("Check {city}.",), lambda a, r: r),
        "get_weather": Task("get_weather", lambda g: {"city": 7}, ("Weather in {city}?",), lambda a, r: "x"),
    }
    rows, report = synthesize(SynthConfig(n=20, seed=0, mix={"single": 1.0}, side=None, max_attempts_factor=2),
                              registry=reg, tasks=tasks)
    assert rows == []
    assert set(report.dropped) == {"tool_error", "arguments_do_not_fit_schema"}
    assert report.attempts == 40 and report.filter_rate == 1.0


def test_split_side_fraction_is_as_configured():
    split = InstanceSplit(eval_fraction=0.2)
    sides = Counter(split.side(call_instance("f", {"x": i})) for i in range(4000))
    assert binomtest(sides["eval"], 4000, 0.2).pvalue > 1e-3


def _eval_instances(row: dict) -> set[str]:
    if not row["ground_truth"]:
        return {"<no call>" + next(m["content"] for m in row["messages"] if m["role"] == "user")}
    out = set()
    for answer in row["ground_truth"]:
        [(name, params)] = answer.items()
        out.add(call_instance(name, {k: opts[0] for k, opts in params.items() if "" not in opts}))
    return out


@pytest.fixture(scope="module")
def eval_set():
    return build_fc_eval_set(n=100, seed=7)


def test_eval_set_form_and_reference_answers_pass_the_checker(eval_set):
    assert Counter(r["category"] for r in eval_set) == {c: 20 for c in EVAL_CATEGORIES}
    assert len({r["id"] for r in eval_set}) == 100
    for row in eval_set:
        assert set(row) == {"id", "category", "messages", "tools", "ground_truth"}
        assert row["messages"][-1]["role"] == "user"
        calls = [{"name": n, "arguments": {k: o[0] for k, o in p.items() if "" not in o}}
                 for answer in row["ground_truth"] for n, p in answer.items()]
        # both checkers: the keys write float items in number arrays ([-11.8, 2.0, 45.0]), as BFCL's rules need
        for checker in ("bfcl", "strict"):
            assert check_calls(calls, row["ground_truth"], row["category"], row["tools"], checker=checker).correct, \
                (row["id"], checker)
        if row["category"] == "irrelevance":
            assert row["ground_truth"] == []
            some_tool = row["tools"][0]["function"]["name"]
            assert not check_calls([{"name": some_tool, "arguments": {}}], [], "irrelevance", row["tools"]).correct
        elif row["category"] in ("simple", "multiple"):
            assert len(row["ground_truth"]) == 1
        else:
            assert len(row["ground_truth"]) >= 2
    assert build_fc_eval_set(n=100, seed=7) == eval_set  # fixed seed, same set


def test_optional_parameter_left_out_accepts_default_or_omission(eval_set):
    weather = [a["get_weather"] for r in eval_set for a in r["ground_truth"] if "get_weather" in a]
    omitted = [p for p in weather if "" in p.get("unit", [])]
    assert omitted and all(p["unit"] == ["celsius", ""] for p in omitted)


def test_train_and_eval_share_no_tool_call_instance(synth, eval_set):
    rows, _ = synth
    more, _ = synthesize(SynthConfig(n=500, seed=99))
    train = set().union(*(row_instances(r) for r in rows + more))
    held_out = set().union(*(_eval_instances(r) for r in eval_set))
    assert held_out and train
    assert train.isdisjoint(held_out)
    split = InstanceSplit()
    assert all(split.row_side(r) == "train" for r in rows)
    # without the split, the same generators do produce eval-side instances: the test above can fail
    free, _ = synthesize(SynthConfig(n=300, seed=3, side=None))
    assert any(split.row_side(r) != "train" for r in free)


def test_reexecution_detects_a_tampered_result(synth):
    rows, _ = synth
    row = copy.deepcopy(next(r for r in rows if r["category"] == "single"))
    tool_msg = next(m for m in row["messages"] if m["role"] == "tool")
    tool_msg["content"] = '"tampered"'
    with Sandbox(default_registry()) as sb:
        assert len(reexecute_problems(row, sb)) == 1


def test_split_rows_keeps_sides_apart():
    rows, _ = synthesize(SynthConfig(n=300, seed=8, side=None))
    split = InstanceSplit()
    train, held_out, straddle = split_rows(rows, split)
    assert len(train) + len(held_out) + straddle == len(rows)
    assert straddle > 0 and held_out  # unsplit data does straddle: the count is real
    assert set().union(*map(row_instances, train)).isdisjoint(set().union(*map(row_instances, held_out)))


def shout(text: str, times: int = 1) -> str:
    """Upper-case a text and repeat it.

    Args:
        text: The text to shout.
        times: How many times to repeat it.
    """
    return " ".join([text.upper()] * times)


def test_a_user_tool_registers_and_generates_valid_rows():
    reg = default_registry()
    reg.register(shout, group="shouting")
    task = Task("shout", lambda g: {"text": g.choice(["hello there", "good morning"]), "times": g.randint(1, 3)},
                ('Shout "{text}" {times} times.',), lambda a, r: f"Here it is: {r}")
    rows, report = synthesize(SynthConfig(n=4, seed=0, mix={"single": 1.0, "multiple": 1.0}, side=None),
                              registry=reg, tasks={"shout": task})
    assert len(rows) == 4 and set(report.dropped) <= {"duplicate"}
    for row in rows:
        assert validate_conversation(row) == []
        call = row["messages"][2]["tool_calls"][0]["function"]
        result = row["messages"][3]["content"]
        assert result == '"' + " ".join([call["arguments"]["text"].upper()] * call["arguments"]["times"]) + '"'


def test_unsupported_names_and_request_drift_are_caught():
    row = _weather_row("It is 18 degrees in Paris, the capital of France.")
    assert [r for r, _ in answer_problems(row)] == ["answer_unsupported_name"]
    assert "France" in answer_problems(row)[0][1]
    assert answer_problems(_weather_row("Paris: 18 degrees, cloudy. Enjoy Paris!")) == []
    original = _weather_row("x")
    kept = copy.deepcopy(original)
    kept["messages"][0]["content"] = "Hey, what is the weather doing in Paris today?"
    assert drift_problems(original, kept) == []
    drifted = copy.deepcopy(original)
    drifted["messages"][0]["content"] = "I went to Paris twice this morning, how many times?"
    assert [r for r, _ in drift_problems(original, drifted)] == ["request_drift"]
