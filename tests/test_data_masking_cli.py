"""prepare.py end to end (dataset + report.json), and the mask inspector's three formats."""

from __future__ import annotations

import json

import pytest
from mask_corpus import make_corpus
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.inspect_mask import inspect_row, render_inspection
from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows
from tooljudge.data_prep.masking import prepare_example


@pytest.fixture(scope="module")
def smol():
    return reference_tokenizer("smollm2")


def test_prepare_cli_writes_dataset_and_report(tmp_path, smol, capsys):
    from datasets import load_from_disk
    from tooljudge.data_prep.prepare import main

    from tooljudge.models import smollm2_checkpoint

    rows = make_corpus(12)
    bad = [
        {"messages": [{"role": "user", "content": "hi"}]},  # no assistant turn: the loader drops it
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x" * 4000}]},  # too long
    ]
    src = tmp_path / "conv.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows + bad))
    main(["--model", str(smollm2_checkpoint(progress=False)), "--dataset", str(src), "--output_dir",
          str(tmp_path / "out"), "--family", "qwen25", "--max_length", "900", "--truncation", "drop_row"])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    ds = load_from_disk(str(tmp_path / "out" / "dataset"))
    assert set(ds.column_names) == {"input_ids", "assistant_masks"}
    assert report["load"]["rows_read"] == 14 and report["load"]["kept"] == 13
    too_long = [p for p in report["problems"] if p["reason"] == "too_long"]
    assert report["kept"] == len(ds) == 13 - report["dropped_by_reason"].get("too_long", 0)
    assert any(p["source_row"] == 13 for p in too_long)  # the index in the source file, not among kept rows
    expected = [prepare_example(smol, r, family="qwen25") for r in rows]
    expected = [e for e in expected if len(e["input_ids"]) <= 900]
    assert ds["input_ids"] == [e["input_ids"] for e in expected]
    assert report["total_tokens"] == sum(len(e["input_ids"]) for e in expected)
    assert report["trained_tokens"] == sum(sum(e["assistant_masks"]) for e in expected)
    assert "masking: rows 13" in capsys.readouterr().out


def test_prepare_rows_parallel_matches_serial(smol):
    rows = make_corpus(16, seed=2)
    one, r1 = prepare_rows(smol, rows, PrepareConfig(family="qwen25"), progress=False)
    two, r2 = prepare_rows(smol, rows, PrepareConfig(family="qwen25", num_proc=2), progress=False)
    assert one["input_ids"] == two["input_ids"] and one["assistant_masks"] == two["assistant_masks"]
    assert r1.trained_tokens == r2.trained_tokens > 0 and r1.kept == 16


def test_inspector_formats(smol):
    row = make_corpus(3)[2]
    ins = inspect_row(smol, row, family="qwen25")
    assert ins.turns and all(t["ok"] for t in ins.turns)
    data = json.loads(render_inspection(ins, "json"))
    assert data["trained_tokens"] == sum(t["trained"] for t in data["tokens"]) == ins.trained
    assert "".join(r["text"] for r in data["runs"]) == smol.decode([t["id"] for t in data["tokens"]],
                                                                    skip_special_tokens=False)
    text = render_inspection(ins, "text", color=False)
    trained = [r.text for r in ins.runs if r.trained]
    assert "⟦" + trained[0].replace("\n", "↵\n") + "⟧" in text
    page = render_inspection(ins, "html")
    assert page.count('class="t"') == ins.trained and "<table>" in page
    with_ids = render_inspection(ins, "text", show_ids=True, color=False)
    assert f"[{data['tokens'][0]['id']}]" in with_ids


def test_prepare_from_recipe(tmp_path, smol):
    from datasets import load_from_disk
    from tooljudge.train.prepare_data import main

    rows = make_corpus(5, seed=4)
    src = tmp_path / "conv.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "kind: sft\nmodel:\n  name_or_path: bundled:smollm2\ndata:\n  family: qwen25\n  sources:\n"
        f"    - {{source: {src}, format: auto, weight: 1.0}}\n  truncation: drop_turns\n"
        f"training:\n  output_dir: {tmp_path / 'run'}\n  max_length: 2048\n"
    )
    main([str(recipe)])
    ds = load_from_disk(str(tmp_path / "run" / "prepared" / "dataset"))
    assert ds["input_ids"] == [prepare_example(smol, r, family="qwen25")["input_ids"] for r in rows]
