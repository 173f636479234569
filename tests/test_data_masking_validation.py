"""One validation for the Python API and the CLI, and a named reason for every refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.mask_dataset import REASONS, PrepareConfig, prepare_rows, reason_of
from tooljudge.data_prep.masking import InvalidRow, MaskConfig, MaskError, prepare_example

ROWS = [json.loads(line) for line in
        (Path(__file__).parent / "data" / "tricky_conversations.jsonl").read_text(encoding="utf-8").splitlines()]
BY_ID = {r["id"]: r for r in ROWS}
FAMILIES = [("mistral_v3", "mistral_v3"), ("llama31_meta", "llama31"), ("llama31", "llama31"), ("glm4", "glm4"),
            ("qwen2_fncall", "qwen2"), ("qwen25", "qwen2")]


@pytest.mark.parametrize("row_id,code", [("ends_with_user", "no_final_assistant"), ("late_system", "system_not_first"),
                                         ("missing_result", "unanswered_tool_call"),
                                         ("duplicate_result", "duplicate_tool_result"), ("unknown_tool", "unknown_tool")])
def test_api_refuses_what_the_loader_refuses(row_id, code):
    tok = reference_tokenizer("mistral_v3")
    with pytest.raises(InvalidRow) as err:
        prepare_example(tok, BY_ID[row_id], family="mistral_v3")
    assert code in err.value.problems and reason_of(err.value) == "invalid_row"


def test_skipping_validation_is_explicit():
    """With validate=False the row is rendered as given (here: the tools land after the trained turn)."""
    tok = reference_tokenizer("mistral_v3")
    ex = prepare_example(tok, BY_ID["ends_with_user"], family="mistral_v3", config=MaskConfig(validate=False))
    assert any(ex["assistant_masks"])


@pytest.mark.parametrize("family,tok_name", FAMILIES)
def test_assistant_first_is_a_named_refusal(family, tok_name):
    with pytest.raises(MaskError) as err:
        prepare_example(reference_tokenizer(tok_name), BY_ID["starts_with_assistant"], family=family)
    assert err.value.reason == "first_turn_not_user" and "message 0" in str(err.value)


def test_bad_arguments_name_one_cause():
    row = json.loads(json.dumps(BY_ID["multi_round"]))
    row["messages"][1]["tool_calls"][0]["function"]["arguments"] = "{bad json"
    with pytest.raises(InvalidRow) as err:
        prepare_example(reference_tokenizer("qwen2"), row, family="qwen25")
    assert err.value.problems == ["arguments_not_json"]
    assert "before any" not in str(err.value)


@pytest.mark.parametrize("family,tok_name", FAMILIES)
def test_cli_and_api_agree_on_every_row(family, tok_name):
    """prepare_rows (the CLI's path) keeps exactly the rows prepare_example keeps, and drops the others for the
    same named reasons; rows in = kept + dropped."""
    tok = reference_tokenizer(tok_name)
    api = {}
    for r in ROWS:
        try:
            prepare_example(tok, r, family=family)
            api[r["id"]] = None
        except (MaskError, ValueError) as err:
            api[r["id"]] = reason_of(err)
    dataset, report = prepare_rows(tok, ROWS, PrepareConfig(family=family), progress=False)
    want = {}
    for reason in api.values():
        if reason:
            want[reason] = want.get(reason, 0) + 1
    assert report.dropped_by_reason == want
    assert report.kept == len(dataset) == sum(v is None for v in api.values())
    assert report.kept + sum(report.dropped_by_reason.values()) == len(ROWS)
    assert set(want) <= set(REASONS)


def test_every_reason_is_documented():
    doc = (Path(__file__).parent.parent / "docs" / "data_prep.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z_]+)`", doc))
    assert set(REASONS) <= listed, set(REASONS) - listed


def test_report_counts_control_text_and_split_rows():
    tok = reference_tokenizer("llama31")
    rows = [BY_ID["ctl_user"], BY_ID["parallel_three"], BY_ID["multi_round"]]
    _, report = prepare_rows(tok, rows, PrepareConfig(family="llama31"), progress=False)
    assert report.kept == 3 and report.control_text_rows == 1 and report.parallel_split_rows == 1
    _, report = prepare_rows(tok, rows, PrepareConfig(family="llama31", special_text="reject",
                                                      parallel_calls="reject"), progress=False)
    assert report.dropped_by_reason == {"control_token_text": 1, "parallel_calls_unsupported": 1}


@pytest.mark.parametrize("family,tok_name", [("llama31", "llama31"), ("qwen2_fncall", "qwen2"),
                                             ("mistral_v3", "mistral_v3")])
def test_inspector_agrees_with_render_completion_on_every_row(family, tok_name):
    """Every trained run is render_completion of its turn, also for split parallel calls, merged replies, string
    arguments kept verbatim and control-token text (the inspector's per-turn check)."""
    from tooljudge.data_prep.inspect_mask import inspect_row

    tok = reference_tokenizer(tok_name)
    inspected = 0
    for row in ROWS:
        try:
            ins = inspect_row(tok, row, family=family)
        except (MaskError, ValueError):
            continue
        inspected += 1
        assert all(t["ok"] for t in ins.turns), (row["id"], [t for t in ins.turns if not t["ok"]])
    assert inspected >= 35
