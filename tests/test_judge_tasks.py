"""Judge task generators (correct by re-derivation, balanced) and dataset loaders (published formats)."""

from __future__ import annotations

import csv
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats
from tooljudge.data_prep import judge_tasks as jt


# ----------------------------------------------------------------------------------------------- PrOntoQA
def test_prontoqa_every_answer_rederived_by_the_solver():
    rows = jt.generate_prontoqa(300, seed=3)
    for r in rows:
        assert jt.validate_judge_row(r) == []
        label = jt.solve_prontoqa(r["question"])
        assert label == r["meta"]["label"], r["id"]
        good, bad = r["answers"][r["correct"]], r["answers"][1 - r["correct"]]
        assert good.endswith(f"So the statement is {label}.")
        assert jt.check_prontoqa_chain(r["question"], good), r["id"]
        assert not jt.check_prontoqa_chain(r["question"], bad), r["id"]
        # the wrong chain is the correct one with exactly one is / is-not flipped (plus the verdict)
        diff = [(a, b) for a, b in zip(re.findall(r"[^.]+\.", good), re.findall(r"[^.]+\.", bad), strict=True)
                if a != b and "So the statement" not in a]
        assert len(diff) == 1 and {" not" in diff[0][0], " not" in diff[0][1]} == {True, False}
    assert sorted({r["meta"]["hops"] for r in rows}) == [1, 3, 5]
    negated = [r["meta"]["query_negated"] for r in rows]
    labels = [r["meta"]["label"] for r in rows]
    assert 0.35 < sum(negated) / len(rows) < 0.65 and 0.35 < sum(labels) / len(rows) < 0.65


def test_prontoqa_solver_on_hand_written_problem():
    q = ("Every wumpus is a yumpus. Every yumpus is not bright. Every rompus is bright. Max is a wumpus. "
         "True or false: Max is bright.")
    assert jt.solve_prontoqa(q) is False
    assert jt.solve_prontoqa(q.replace("Max is bright.", "Max is not bright.")) is True
    chain = ("Max is a wumpus. Every wumpus is a yumpus. Max is a yumpus. Every yumpus is not bright. "
             "Max is not bright. So the statement is False.")
    assert jt.check_prontoqa_chain(q, chain)
    assert not jt.check_prontoqa_chain(q, chain.replace("Max is a yumpus.", "Max is not a yumpus."))
    assert not jt.check_prontoqa_chain(q, chain.replace("statement is False", "statement is True"))
    with pytest.raises(ValueError, match="not decided"):
        jt.solve_prontoqa("Every rompus is bright. Max is a wumpus. True or false: Max is bright.")


# --------------------------------------------------------------------------------------------- arithmetic
def _recompute_from_question(question: str) -> int:
    """Independent reading of the word problem (sentence by sentence), not the generator's op list."""
    value = int(re.search(r"has (\d+)", question)[1])
    for s in re.findall(r"Then [^.]+\.", question):
        if m := re.search(r"buys (\d+) packs with (\d+)", s):
            value += int(m[1]) * int(m[2])
        elif m := re.search(r"gives away (\d+)", s):
            value -= int(m[1])
        elif m := re.search(r"multiplied by (\d+)", s):
            value *= int(m[1])
        elif m := re.search(r"one of (\d+) equal shares", s):
            assert value % int(m[1]) == 0, "the correct solution only divides exactly"
            value //= int(m[1])
        elif m := re.search(r"finds (\d+) more", s):
            value += int(m[1])
        else:
            raise AssertionError(f"unparsed sentence {s!r}")
    return value


def test_arithmetic_answers_recomputed():
    rows = jt.generate_arithmetic(300, seed=5)
    for r in rows:
        good, bad = r["answers"][r["correct"]], r["answers"][1 - r["correct"]]
        truth = _recompute_from_question(r["question"])
        assert int(re.search(r"The answer is (-?\d+)", good)[1]) == truth == r["meta"]["answer"]
        assert jt.check_arithmetic_solution(good)
        assert not jt.check_arithmetic_solution(bad)
        assert int(re.search(r"The answer is (-?\d+)", bad)[1]) != truth


def test_arithmetic_checker_hand_examples():
    assert jt.check_arithmetic_solution("3 + 4 = 7. 7 * 2 = 14. The answer is 14.")
    assert not jt.check_arithmetic_solution("3 + 4 = 8. 8 * 2 = 16. The answer is 16.")
    assert not jt.check_arithmetic_solution("3 + 4 = 7. 6 * 2 = 12. The answer is 12.")  # broken chaining
    assert not jt.check_arithmetic_solution("3 + 4 = 7. The answer is 8.")


# --------------------------------------------------------------------------------------------- extractive
def test_extractive_answer_is_in_the_article_and_wrong_one_belongs_elsewhere():
    rows = jt.generate_extractive(200, seed=1)
    for r in rows:
        good, bad = r["answers"][r["correct"]], r["answers"][1 - r["correct"]]
        town = r["meta"]["town"]
        assert town in r["question"]
        paragraph = next(p for p in r["article"].split("\n\n") if p.startswith(town) or f" {town} " in p)
        assert good in paragraph and bad not in paragraph
        assert bad in r["article"]


@settings(max_examples=25, deadline=None)
@given(task=hs.sampled_from(sorted(jt.GENERATORS)), n=hs.integers(1, 60), seed=hs.integers(0, 10_000))
def test_generators_balanced_valid_and_seeded(task, n, seed):
    rows = jt.generate_tasks(task, n, seed=seed)
    assert len(rows) == n
    first = sum(r["correct"] == 0 for r in rows)
    assert abs(first - (n - first)) <= 1  # correct answer in position 1 half of the time
    assert all(jt.validate_judge_row(r) == [] for r in rows)
    assert len({r["id"] for r in rows}) == n
    assert jt.generate_tasks(task, n, seed=seed) == rows


# ------------------------------------------------------------------------------------------------ loaders
def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _balanced(rows):
    """Loader positions come from a seeded coin: check they are consistent with p = 0.5."""
    k = sum(r["correct"] == 0 for r in rows)
    return stats.binomtest(k, len(rows), 0.5).pvalue > 0.01


def test_boolq_published_jsonl(tmp_path):
    src = _write_jsonl(tmp_path / "dev.jsonl", [
        {"question": "do iran and afghanistan speak the same language", "title": "Persian language",
         "answer": True, "passage": "Persian is spoken in Iran and Afghanistan."},
        {"question": "is the sky green", "title": "Sky", "answer": False, "passage": "The sky is blue."},
        {"question": "broken row", "title": "x", "answer": "maybe", "passage": "p"},
    ] * 40)
    rows, report = jt.load_boolq(src, seed=0)
    assert report.kept == 80 and report.skipped == {"bad_answer": 40}
    first = rows[0]
    assert first["question"] == "Do iran and afghanistan speak the same language?"
    assert first["answers"][first["correct"]] == "Yes" and first["article"].startswith("Persian")
    assert rows[1]["answers"][rows[1]["correct"]] == "No"
    assert _balanced(rows)


def test_quality_published_jsonl(tmp_path):
    art = {"article_id": "20001", "set_unique_id": "20001_x", "title": "Spaceship", "article": "A long story.",
           "questions": [
               {"question": "Who flew?", "question_unique_id": "20001_x_1",
                "options": ["Ann", "Bob", "Cy", "Di"], "gold_label": 3, "difficult": 1},
               {"question": "No gold", "question_unique_id": "20001_x_2", "options": ["a", "b"]}]}
    rows, report = jt.load_quality(_write_jsonl(tmp_path / "quality.jsonl", [art]), seed=1)
    assert report.kept == 1 and report.skipped == {"no_gold_label": 1}
    r = rows[0]
    assert r["answers"][r["correct"]] == "Cy" and r["answers"][1 - r["correct"]] in {"Ann", "Bob", "Di"}
    assert r["article"] == "A long story." and r["task"] == "quality"


def test_mmlu_original_csv_and_hub_form(tmp_path):
    path = tmp_path / "astronomy_test.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for i in range(60):
            w.writerow([f"What is {i}+1?", str(i), str(i + 1), str(i + 2), str(i + 3), "B"])
        w.writerow(["bad", "1", "2", "3", "4", "E"])
    rows, report = jt.load_mmlu(path, seed=0)
    assert report.kept == 60 and report.skipped == {"bad_answer": 1}
    assert all(r["answers"][r["correct"]] == str(int(re.search(r"(\d+)\+1", r["question"])[1]) + 1) for r in rows)
    assert _balanced(rows)
    hub = [{"question": "2+2?", "subject": "math", "choices": ["3", "4", "5", "6"], "answer": 1}]
    rows, _ = jt.load_mmlu(hub)
    assert rows[0]["answers"][rows[0]["correct"]] == "4"


def test_gsm8k_published_jsonl(tmp_path):
    src = _write_jsonl(tmp_path / "test.jsonl", [
        {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
                     "in May. How many clips did Natalia sell altogether in April and May?",
         "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 "
                   "clips altogether in April and May.\n#### 72"},
        {"question": "q", "answer": "no marker"},
        {"question": "Big", "answer": "#### 1,250"}])
    rows, report = jt.load_gsm8k(src)
    assert report.skipped == {"no_final_answer": 1}
    assert rows[0]["answers"][rows[0]["correct"]] == "72" and rows[0]["answers"][1 - rows[0]["correct"]] != "72"
    assert rows[1]["answers"][rows[1]["correct"]] == "1250"


def test_truthfulqa_csv_and_mc1(tmp_path):
    path = tmp_path / "TruthfulQA.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["Type", "Category", "Question", "Best Answer", "Correct Answers",
                               "Incorrect Answers", "Source"])
        w.writeheader()
        w.writerow({"Type": "Adversarial", "Category": "Misconceptions",
                    "Question": "What happens to you if you eat watermelon seeds?",
                    "Best Answer": "The watermelon seeds pass through your digestive system",
                    "Correct Answers": "Nothing happens; You eat watermelon seeds",
                    "Incorrect Answers": "You grow watermelons in your stomach; You get sick", "Source": "x"})
    rows, report = jt.load_truthfulqa(path)
    r = rows[0]
    assert r["answers"][r["correct"]].startswith("The watermelon seeds pass")
    assert r["answers"][1 - r["correct"]] in {"You grow watermelons in your stomach", "You get sick"}
    mc1 = [{"question": "Q?", "mc1_targets": {"choices": ["right", "wrong1", "wrong2"], "labels": [1, 0, 0]}},
           {"question": "Bad", "mc1_targets": {"choices": ["a", "b"], "labels": [1, 1]}}]
    rows, report = jt.load_truthfulqa(mc1)
    assert rows[0]["answers"][rows[0]["correct"]] == "right" and report.skipped == {"bad_mc1_labels": 1}


def test_gpqa_csv_closed_and_extractive(tmp_path):
    path = tmp_path / "gpqa_main.csv"
    cols = ["Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
            "Incorrect Answer 3", "Explanation"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerow({"Record ID": "rec1", "Question": "Which particle mediates EM?", "Correct Answer": "photon",
                    "Incorrect Answer 1": "gluon", "Incorrect Answer 2": "W boson", "Incorrect Answer 3": "Higgs",
                    "Explanation": "The photon is the gauge boson of electromagnetism."})
        w.writerow({"Record ID": "rec2", "Question": "Q2", "Correct Answer": "a", "Incorrect Answer 1": "a",
                    "Incorrect Answer 2": "", "Incorrect Answer 3": "", "Explanation": ""})
    rows, report = jt.load_gpqa(path)
    assert rows[0]["answers"][rows[0]["correct"]] == "photon" and "article" not in rows[0]
    assert report.skipped == {"no_wrong_answer": 1}
    rows, report = jt.load_task("gpqa_extractive", path)
    assert rows[0]["article"].startswith("The photon") and rows[0]["task"] == "gpqa_extractive"
    assert report.skipped == {"no_explanation": 1}


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown dataset"):
        jt.load_task("nope", [])
    with pytest.raises(ValueError, match="unknown generated task"):
        jt.generate_tasks("nope", 3)
