"""The one set of JSON Lines helpers (tooljudge.data_prep.jsonl) as eval and data_prep use them: the strict
reader names the bad line; eval's writers keep NaN metrics and any text a model wrote, and read them back with
OUTPUT_LIMITS; training data never gets NaN."""

from __future__ import annotations

import json
import math

import pytest
from tooljudge.data_prep.jsonl import (
    OUTPUT_LIMITS,
    JsonRowError,
    iter_rows,
    json_text,
    read_jsonl,
    write_jsonl,
)


def test_iter_rows_gives_physical_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n\xef\xbb\xbf{"a": 2}\r\n{"a":\r3}\n{"a": "\xe2\x80\xa8"}\n')
    # a lone \r (JSON whitespace here) and U+2028 end no row: only \n does
    assert list(iter_rows(path)) == [(1, {"a": 1}), (3, {"a": 2}), (4, {"a": 3}), (5, {"a": "\u2028"})]
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": "\u2028"}]


@pytest.mark.parametrize(("line", "code"), [
    (b"{\"a\": NaN}", "non_finite_number"),
    (b"{\"a\": 1, \"a\": 2}", "duplicate_key"),
    (b"{\"a\": \"\\ud800\"}", "lone_surrogate"),
    (b"{\"a\": ", "bad_json_line"),
])
def test_a_bad_line_stops_the_strict_reader_naming_path_line_and_reason(tmp_path, line, code):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"ok": 1}\n' + line + b"\n")
    with pytest.raises(JsonRowError, match=r"rows\.jsonl:2: ") as info:
        read_jsonl(path)
    assert info.value.code == code


def test_training_data_never_gets_nan(tmp_path):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_jsonl([{"loss": math.nan}], tmp_path / "train.jsonl")
    assert not (tmp_path / "train.jsonl").exists()  # written whole or not at all


def test_eval_records_keep_nan_and_any_model_text(tmp_path):
    """What fc_eval/hook/judge_eval write (allow_nan=True) reads back equal with OUTPUT_LIMITS; the file is valid
    UTF-8 (a lone surrogate is escaped) and NaN is written as json.dumps writes it."""
    rows = [{"id": "a", "rate": math.nan, "output": "bad \ud800 text", "big": math.inf}, {"id": "b", "rate": 0.5}]
    path = write_jsonl(rows, tmp_path / "examples.jsonl", allow_nan=True)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[1] == json.dumps(rows[1], ensure_ascii=False)
    assert "NaN" in text and "Infinity" in text and "\\ud800" in text
    back = [row for _, row in iter_rows(path, OUTPUT_LIMITS)]
    assert math.isnan(back[0]["rate"]) and back[0]["big"] == math.inf
    assert back[0]["output"] == "bad \ud800 text" and back[1] == rows[1]
    with pytest.raises(JsonRowError):  # the default (training-data) limits refuse the same file
        read_jsonl(path)


def test_json_text_passes_json_dumps_options():
    value = {"é": [1, math.nan], "when": object}
    assert json_text(value, indent=2, default=str, allow_nan=True) == json.dumps(
        value, indent=2, default=str, ensure_ascii=False)
    with pytest.raises(ValueError):
        json_text({"x": math.nan})


def test_an_atomic_write_gets_the_mode_open_would_give_or_keeps_the_replaced_files(tmp_path):
    import os
    import stat

    from tooljudge.data_prep.jsonl import atomic_write_text

    old = os.umask(0o022)
    try:
        new = atomic_write_text(tmp_path / "summary.json", "{}")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # mkstemp alone gives 0600
        new.chmod(0o640)
        atomic_write_text(new, "{\"a\": 1}")
        assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_text() == "{\"a\": 1}"
    finally:
        os.umask(old)
