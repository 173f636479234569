"""A row that fails at tokenisation is named by its source and its place there (a JSON Lines file's 1-based line,
another file's or a built-in source's 1-based row), and by its mixture position: a user finds it in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import train_support as ts
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.data_mix import DataError, load_mixture, prepare_dpo_rows, prepare_sft_rows
from tooljudge.train.recipe import DataSource


@pytest.fixture(scope="module")
def tokenizer():
    return reference_tokenizer("smollm2")  # loaded once per test process (shared with the masking tests)


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_dpo_error_names_the_second_sources_third_line_and_the_mixture_row(tmp_path, tokenizer):
    """Source 2's line 3 is a pair whose chosen and rejected are the same: it reads fine and fails at
    tokenisation. Line 2 is blank, so the row is the source's 2nd: the message must say line 3, not row 2."""
    first = ts.write_jsonl(tmp_path / "first.jsonl", [ts.short_pref_row(0), ts.short_pref_row(1)])
    good, bad = ts.short_pref_row(2), dict(ts.short_pref_row(3), rejected=ts.short_pref_row(3)["chosen"])
    second = _lines(tmp_path / "second.jsonl", [json.dumps(good), "", json.dumps(bad)])
    sources = [DataSource(source=str(first)), DataSource(source=str(second))]
    mixed, reports = load_mixture(sources, "dpo", 0)
    assert [len(mixed), reports[1].rows_read] == [4, 2]
    with pytest.raises(DataError) as err:
        prepare_dpo_rows(tokenizer, mixed, reports, ts.FAMILY, None, "error")
    message = str(err.value)
    assert message.startswith(f"{second}:3 (mixture row 3): ")
    assert "same tokens" in message and "row 2" not in message
    # skip mode: the same row is counted on its own source, the others kept
    mixed, reports = load_mixture(sources, "dpo", 0)
    rows = prepare_dpo_rows(tokenizer, mixed, reports, ts.FAMILY, None, "skip")
    assert len(rows) == 3 and [r.kept for r in reports] == [2, 1] and sum(reports[1].skipped.values()) == 1


def test_sft_error_names_a_json_array_row_and_a_builtin_row(tmp_path):
    """A JSON array has no lines per row: its 1-based row is named. A built-in source's rows are named the same
    way; weighted copies keep their place."""
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([ts.short_row(0), ts.short_row(1), ts.short_row(2)]), encoding="utf-8")
    sources = [DataSource(source="builtin:synthetic", options={"n": 3, "seed": 1}),
               DataSource(source=str(array), weight=2.0)]
    mixed, reports = load_mixture(sources, "sft", 0)
    assert len(mixed) == 3 + 6
    bad_array_row, bad_builtin_row = mixed[3 + 2][1], mixed[1][1]  # rows.json's 3rd row, the built-in's 2nd

    def prepare(tok, row, family, max_length, bad=bad_array_row):
        if row is bad:
            raise ValueError("no assistant turn in this row")
        return {"input_ids": [1, 2], "assistant_masks": [0, 1]}

    with pytest.raises(DataError) as err:
        prepare_sft_rows(None, mixed, reports, "chatml", None, "error", prepare=prepare)
    assert str(err.value) == f"{array} row 3 (mixture row 5): no assistant turn in this row"

    def prepare_builtin(tok, row, family, max_length):
        return prepare(tok, row, family, max_length, bad=bad_builtin_row)

    with pytest.raises(DataError, match=r"^builtin:synthetic row 2 \(mixture row 1\): no assistant turn"):
        prepare_sft_rows(None, mixed, reports, "chatml", None, "error", prepare=prepare_builtin)
    # skip mode: each weighted copy of the bad row is counted (rows after weight = kept + skipped)
    reports = [type(r)(source=r.source, weight=r.weight, places=r.places) for r in reports]  # fresh counts
    out = prepare_sft_rows(None, mixed, reports, "chatml", None, "skip", prepare=prepare)
    assert len(out) == 7 and reports[1].kept == 4 and sum(reports[1].skipped.values()) == 2
