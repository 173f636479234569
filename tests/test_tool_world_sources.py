"""The generated-tool world where users meet it: a recipe source (``builtin:tool_world``) and an eval set name
(``--sets tool_world``), both on their side of the tool split."""

from __future__ import annotations

from collections import Counter

import pytest
from tooljudge.data_prep.data_mix import DataError, load_source
from tooljudge.eval import fc_eval
from tooljudge.train.recipe import DataSource

from tooljudge.core.ast_checker import check_calls


def _tool_names(rows):
    return {t["function"]["name"] for r in rows for t in r["tools"]}


@pytest.fixture(scope="module")
def eval_rows():
    return fc_eval.load_eval_set("tool_world", fc_eval.FCEvalConfig())


def test_eval_set_has_every_category_and_answer_keys_pass_both_checkers(eval_rows):
    assert Counter(r["category"] for r in eval_rows) == {c: 80 for c in
                                                          ("simple", "multiple", "parallel", "parallel_multiple",
                                                           "irrelevance")}
    for row in eval_rows:
        calls = [{"name": n, "arguments": {k: o[0] for k, o in p.items() if "" not in o}}
                 for answer in row["ground_truth"] for n, p in answer.items()]
        for checker in ("bfcl", "strict"):
            assert check_calls(calls, row["ground_truth"], row["category"], row["tools"], checker=checker).correct, \
                (row["id"], checker)


def test_recipe_source_trains_on_tools_the_eval_set_never_shows(eval_rows):
    rows, report = load_source(DataSource(source="builtin:tool_world", options={"n": 30, "seed": 3}), "sft")
    assert len(rows) == 30 and report
    called = {c["function"]["name"] for r in rows for m in r["messages"] for c in m.get("tool_calls") or []}
    eval_called = {n for r in eval_rows for answer in r["ground_truth"] for n in answer}
    assert called and eval_called and not called & eval_called


def test_recipe_source_options_are_checked_by_name():
    with pytest.raises(DataError, match=r"unknown key 'tool_sed' in the options of builtin:tool_world \(did you mean 'tool_seed'\?\)"):
        load_source(DataSource(source="builtin:tool_world", options={"tool_sed": 1}), "sft")
    with pytest.raises(DataError, match="builtin:tool_world"):
        load_source(DataSource(source="builtin:tool_wrld", options={}), "sft")
