"""Protocol and judge logic with a scripted fake backend (the real-model run is tests/test_judge_e2e.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from tooljudge.data_prep.judge_tasks import generate_extractive, generate_prontoqa
from tooljudge.eval import judge_protocols as jp
from tooljudge.eval import judges as jd
from tooljudge.eval.judge_eval import JudgeEvalConfig, evaluate_judge
from tooljudge.eval.judge_protocol_registry import BUILTIN_PROTOCOLS


def render(messages):
    return "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n"


def last_user(prompt: str) -> str:
    return prompt.rsplit("<user>\n", 1)[1]


def shown_options(prompt: str) -> tuple[str, str]:
    m = re.search(r"\(A\) (.*)\n\(B\) (.*)\n", last_user(prompt))
    return m[1], m[2]


class ScriptedBackend:
    """Replies from a function of (prompt, seed); label probabilities from another; records every call."""

    def __init__(self, reply=None, probs=None):
        self.reply = reply or (lambda prompt, seed: "<argument>plain</argument>")
        self.probs = probs
        self.calls: list[tuple] = []
        if probs is None:
            self.label_probs = None  # text-only backend: judges must parse

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.calls.append(("generate", list(prompts), temperature, seed))
        return [self.reply(p, seed) for p in prompts]

    def label_probs(self, prompts, labels):  # replaced by None for text-only backends
        self.calls.append(("label_probs", list(prompts), labels))
        return [self.probs(p, labels) for p in prompts]


class TextOnly(ScriptedBackend):
    def __getattribute__(self, name):
        if name == "label_probs":
            raise AttributeError(name)
        return super().__getattribute__(name)


def oracle_probs(rows):
    """Knows the answer key: prefers whichever displayed option is the correct answer to the question."""
    key = {(r["question"], r["answers"][r["correct"]]) for r in rows}

    def probs(prompt, labels):
        a, _ = shown_options(prompt)
        question = re.search(r"Question: (.*)\n", last_user(prompt))[1]
        return [0.9, 0.1] if (question, a) in key else [0.1, 0.9]
    return probs


def agent(backend, name="agent"):
    return jp.Agent(backend, render, name)


# ------------------------------------------------------------------------------ text processing
def test_strip_private_keeps_only_the_argument():
    assert jp.strip_private("<thinking>secret plan</thinking><argument>public</argument>") == "public"
    assert jp.strip_private("<thinking>secret</thinking> visible text") == "visible text"
    assert jp.strip_private("visible <thinking>never closed secret") == "visible"
    assert jp.strip_private("<argument>cut by the stop string") == "cut by the stop string"


def test_word_limit_closes_a_cut_quote():
    text = "one two <quote>three four five six</quote> seven"
    out, cut = jp.limit_words(text, 4)
    assert cut and out == "one two <quote>three four</quote>"
    assert jp.limit_words("a b", 5) == ("a b", False)


ARTICLE = "The main export of Varnell is copper. Varnell was founded by Mira Kest in 1743, on the Ost."


def test_quote_verification_hand_examples():
    text = ('As written: <quote>the MAIN export of varnell is copper</quote> and '
            '<quote>founded by Mira Kest, in 1743</quote> but <quote>founded by Tomas Orel</quote>.')
    out, v, u = jp.verify_quotes(text, ARTICLE)
    assert (v, u) == (2, 1)
    assert "<v_quote>the MAIN export of varnell is copper</v_quote>" in out
    assert "<u_quote>founded by Tomas Orel</u_quote>" in out
    assert jp.verify_quotes("<quote> </quote>", ARTICLE)[1:] == (0, 1)  # an empty quote is never verified


@settings(max_examples=60, deadline=None)
@given(start=hs.integers(0, 15), length=hs.integers(1, 6), upper=hs.booleans(), punct=hs.sampled_from(["", ",", "!"]))
def test_any_article_span_is_verified_and_an_altered_one_is_not(start, length, upper, punct):
    words = ARTICLE.split()
    span = " ".join(words[start:start + length])
    quoted = (span.upper() if upper else span) + punct
    assert jp.verify_quotes(f"<quote>{quoted}</quote>", ARTICLE)[1:] == (1, 0)
    altered = span + " zebra"
    assert jp.verify_quotes(f"<quote>{altered}</quote>", ARTICLE)[1:] == (0, 1)


# ------------------------------------------------------------------------------ consultancy / debate
def side_of(prompt: str) -> str:
    return re.search(r"You argue that the answer is \(([AB])\)", prompt)[1]


def round_of(prompt: str) -> str:
    return re.search(r"for round (\d+)", prompt)[1]


def arguing(prompt, seed):
    first_sentence = re.search(r"<article>\n([^.]+\.)", prompt)
    quote = f"<quote>{first_sentence[1]}</quote>" if first_sentence else ""
    return (f"<thinking>SECRET side {side_of(prompt)}</thinking><argument>ARG-{side_of(prompt)}-r{round_of(prompt)}"
            f"-s{seed} {quote} <quote>invented words here</quote> " + "filler " * 50 + "</argument>")


def test_consultancy_both_sides_private_thinking_never_reaches_judge():
    rows = generate_extractive(4, seed=2)
    backend = ScriptedBackend(arguing)
    cfg = jp.ProtocolConfig(rounds=2, word_limit=20)
    ts = jp.run_consultancy(rows, agent(backend), cfg)
    assert len(ts) == 8 and sorted(t["assignment"] for t in ts) == [0] * 4 + [1] * 4 and len({t["transcript_id"] for t in ts}) == 8
    for t in ts:
        assert [turn["round"] for turn in t["turns"]] == [1, 2]
        for turn in t["turns"]:
            assert turn["text"].startswith(f"ARG-{'AB'[t['assignment']]}-r{turn['round']}")
            assert len(turn["text"].replace("</v_quote>", " ").replace("</u_quote>", " ").split()) <= 22
            assert "<v_quote>" in turn["text"] and "<u_quote>invented words here</u_quote>" in turn["text"]
        for order in (0, 1):
            view = "".join(m["content"] for m in jd.judge_messages(t, order))
            assert "SECRET" not in view and "<article>" not in view
            assert t["article"].split(". ")[-1] not in view  # only quoted passages reach the judge
    for t in ts:  # per transcript: 2 arguments, each cut to the limit, each with one verified quote
        assert t["stats"] == {"arguments": 2, "truncated": 2, "empty_argument": 0, "quotes_verified": 2,
                              "quotes_unverified": 2}
    # round 2 prompts show the consultant its own round-1 argument
    round2 = [p for call in backend.calls for p in call[1] if "for round 2" in p]
    assert round2 and all("ARG-" in p and "SECRET" not in p for p in round2)


@pytest.mark.parametrize("style", ["simultaneous", "sequential"])
def test_debate_turn_styles(style):
    rows = generate_prontoqa(3, seed=1)
    backend = ScriptedBackend(arguing)
    ts = jp.run_debate(rows, (agent(backend, "alice"), agent(backend, "bob")),
                       jp.ProtocolConfig(rounds=3, turn_style=style, word_limit=10))
    for t in ts:
        assert [(x["round"], x["side"]) for x in t["turns"]] == [(r, s) for r in (1, 2, 3) for s in (0, 1)]
        assert t["debaters"] == ["alice", "bob"]
    prompts = [p for call in backend.calls for p in call[1]]
    bob_r1 = [p for p in prompts if side_of(p) == "B" and round_of(p) == "1"]
    assert len(bob_r1) == 3
    sees_alice = all("ARG-A-r1" in p for p in bob_r1)
    assert sees_alice == (style == "sequential")
    alice_r2 = [p for p in prompts if side_of(p) == "A" and round_of(p) == "2"]
    assert all("ARG-B-r1" in p for p in alice_r2)  # everyone sees the previous round
    assert not any("SECRET" in p for p in alice_r2)  # the opponent's thinking stays private


def test_debate_swapped_sides_names_debaters_by_answer():
    rows = generate_prontoqa(2, seed=4)
    ts = jp.run_debate(rows, (agent(ScriptedBackend(arguing), "m1"), agent(ScriptedBackend(arguing), "m2")),
                       jp.ProtocolConfig(), sides=(1, 0))
    assert ts[0]["debaters"] == ["m2", "m1"] and ts[0]["turns"][0]["side"] == 1


def test_best_of_n_takes_the_choosers_pick():
    rows = generate_prontoqa(2, seed=0)
    backend = ScriptedBackend(arguing)

    def prefer_third(prompt, labels):
        cands = re.findall(r"Argument (\d+): ARG-[AB]-r1-s(\d+)", prompt)
        assert [c[1] for c in cands] == ["0", "1000", "2000"]
        return [0.1, 0.2, 0.7]

    chooser = agent(ScriptedBackend(arguing, probs=prefer_third), "chooser")
    ts = jp.run_debate(rows, (agent(backend), agent(backend)), jp.ProtocolConfig(best_of_n=3), chooser=chooser)
    assert all("-s2000" in turn["text"] for t in ts for turn in t["turns"])
    temps = {c[2] for c in backend.calls}
    assert temps == {0.8}  # Best-of-N samples, greedy would give N identical arguments

    text_chooser = agent(TextOnly(lambda p, s: "Argument 2 is best" if "Bob" not in p else "none"), "c2")
    ts = jp.run_debate(rows, (agent(backend), agent(backend)), jp.ProtocolConfig(best_of_n=3), chooser=text_chooser)
    assert all("-s1000" in turn["text"] for t in ts for turn in t["turns"])


# ------------------------------------------------------------------------------ judges
def test_parse_verdict():
    assert jd.parse_verdict("B") == "B"
    assert jd.parse_verdict(" (A).") == "A"
    assert jd.parse_verdict("Both have merit... Final answer: (B)") == "B"
    assert jd.parse_verdict("The answer is A because") == "A"
    assert jd.parse_verdict("I cannot decide") is None
    assert jd.parse_verdict("Absolutely") is None


def test_oracle_judge_both_orders_maps_back_to_stored_answers():
    rows = generate_prontoqa(10, seed=9)
    judge = agent(ScriptedBackend(probs=oracle_probs(rows)), "oracle")
    recs = jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig(both_orders=True))
    assert len(recs) == 20 and all(r["is_correct"] and r["parsed"] for r in recs)
    assert all(r["p_correct"] == pytest.approx(0.9) for r in recs)
    for r in recs:  # chosen position is where the correct answer was displayed in that order
        assert r["chosen_pos"] == (r["correct_answer"] if r["order"] == 0 else 1 - r["correct_answer"])


def test_position_biased_judge_scores_half_and_random_order_is_seeded():
    rows = generate_prontoqa(40, seed=2)
    judge = agent(ScriptedBackend(probs=lambda p, labels: [0.8, 0.2]), "biased")
    both = jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig(both_orders=True))
    assert sum(r["is_correct"] for r in both) == 40 and {r["chosen_pos"] for r in both} == {0}
    one = jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig(seed=3))
    assert len(one) == 40 and 8 < sum(r["order"] for r in one) < 32
    assert [r["order"] for r in one] == [r["order"] for r in
                                         jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig(seed=3))]


def test_text_judge_unparsable_counts_wrong():
    rows = generate_prontoqa(3, seed=2)
    replies = iter(["A", "no idea", "Answer: (B)", "B", "maybe", "A"])
    judge = agent(TextOnly(lambda p, s: next(replies)), "text")
    recs = jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig(both_orders=True))
    assert [r["parsed"] for r in recs] == [True, False, True, True, False, True]
    assert all(not r["is_correct"] for r in recs if not r["parsed"])
    assert all(r["verdict_source"] == "text" for r in recs)


def test_cot_judge_reads_label_after_its_reasoning():
    rows = generate_prontoqa(2, seed=2)
    backend = ScriptedBackend(lambda p, s: "Step one. Final answer: (B) extra", probs=lambda p, labels: [0.3, 0.7])
    recs = jd.judge_transcripts(agent(backend), jp.qa_transcripts(rows), jd.JudgeConfig(cot=True))
    scored = [c for c in backend.calls if c[0] == "label_probs"][0][1]
    assert all(p.endswith("<assistant>\nStep one.\nFinal answer: (") for p in scored)
    assert all(r["chosen_pos"] == 1 and r["reasoning"].startswith("Step one") for r in recs)


def test_judge_view_names_speakers_after_displayed_answers():
    rows = generate_prontoqa(1, seed=2)
    t = jp.run_debate(rows, (agent(ScriptedBackend(arguing)), agent(ScriptedBackend(arguing))),
                      jp.ProtocolConfig(word_limit=5))[0]
    v0, v1 = jd.judge_user_text(t, 0, False), jd.judge_user_text(t, 1, False)
    assert "Debater A (argues for (A), round 1): ARG-A" in v0 and "Debater B (argues for (B), round 1): ARG-B" in v0
    assert "Debater B (argues for (B), round 1): ARG-A" in v1  # stored answer 0 is shown second
    assert v1.index("Debater A (argues") < v1.index("Debater B (argues")  # simultaneous: A listed first
    seq = jp.run_debate(rows, (agent(ScriptedBackend(arguing)), agent(ScriptedBackend(arguing))),
                        jp.ProtocolConfig(word_limit=5, turn_style="sequential"))[0]
    v1 = jd.judge_user_text(seq, 1, False)
    assert v1.index("Debater B (argues") < v1.index("Debater A (argues")  # sequential: the order it happened
    assert v1.index(f"(A) {t['answers'][1]}") < v1.index(f"(B) {t['answers'][0]}")


def test_few_shot_examples_balanced_and_exclude_the_question():
    pool = jp.qa_transcripts(generate_prontoqa(20, seed=3))
    ex = jd.pick_few_shot(pool, 6, pool[0]["id"], seed=0)
    assert pool[0]["id"] not in {t["id"] for t, _ in ex}
    assert sorted(jd.correct_label(t, o) for t, o in ex) == ["A"] * 3 + ["B"] * 3
    msgs = jd.judge_messages(pool[0], 0, examples=ex)
    assert [m["role"] for m in msgs] == ["system"] + ["user", "assistant"] * 6 + ["user"]


# ------------------------------------------------------------------------------ open protocols (logic)
def test_open_protocols_filter_assigned_runs_by_the_agents_own_answer():
    rows = generate_extractive(6, seed=5)
    backend = ScriptedBackend(arguing, probs=oracle_probs(rows))
    cfg = JudgeEvalConfig(protocol=jp.ProtocolConfig(word_limit=10), n_resamples=200, elo_bootstrap=20)
    res = evaluate_judge(agent(backend, "oracle"), rows, config=cfg)
    assert res["agent_direct_accuracy"] == 1.0
    oc = res["protocols"]["open_consultancy"]
    assert oc["n_judgements"] == 12  # only the correct-side consultancy (6 questions x 2 orders)
    assert oc["open_split"]["agent_correct"]["n"] == 6 and oc["open_split"]["agent_wrong"]["n"] == 0
    assert res["protocols"]["open_debate"]["open_split"]["agent_win_rate"] == 1.0
    assert res["protocols"]["consultancy"]["consultant_agreement"]["consultant_incorrect"]["estimate"] == 0.0
    assert set(res["protocols"]) == set(BUILTIN_PROTOCOLS)


def test_evaluate_judge_few_shot_draws_examples_from_other_questions():
    rows = generate_prontoqa(6, seed=8)
    backend = ScriptedBackend(probs=oracle_probs(rows))
    cfg = JudgeEvalConfig(judge=jd.JudgeConfig(few_shot=2), n_resamples=100)
    res = evaluate_judge(agent(backend), rows, ["qa"], config=cfg)
    assert res["protocols"]["qa"]["accuracy"] == 1.0
    prompts = [p for c in backend.calls if c[0] == "label_probs" for p in c[1]]
    assert len(prompts) == 6 and all(p.count("<user>") == 3 and p.count("<assistant>") == 3 for p in prompts)
    for p, r in zip(prompts, rows, strict=True):  # the question itself is never its own example
        assert p.count(r["question"]) == 1


def test_bootstrap_clusters_follow_the_article():
    base = generate_extractive(3, seed=1)
    rows = [dict(base[0], id="q1"), dict(base[0], id="q2", question="Another question?"), base[1],
            dict(base[2], cluster="given")] + generate_prontoqa(1)
    judge = agent(ScriptedBackend(probs=lambda p, labels: [0.6, 0.4]))
    recs = jd.judge_transcripts(judge, jp.qa_transcripts(rows), jd.JudgeConfig())
    clusters = [r["cluster"] for r in recs]
    assert clusters[0] == clusters[1] != clusters[2] and clusters[3] == "given"
    assert clusters[4] == rows[4]["id"]


def test_closed_tasks_skip_qa_article_and_say_so():
    rows = generate_prontoqa(4, seed=1)
    backend = ScriptedBackend(probs=oracle_probs(rows))
    res = evaluate_judge(agent(backend), rows, ["qa", "qa_article"], config=JudgeEvalConfig(n_resamples=100))
    assert set(res["protocols"]) == {"qa"}
    assert res["skipped"]["qa_article"] == {"no_article": 4, "no_judgements": 1}
