"""Bundled model names resolve the same way in training and in eval (no hub needed for the bundled model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tooljudge import models
from tooljudge.core import backends


@pytest.fixture
def fake_bundled(tmp_path, monkeypatch):
    ckpt = tmp_path / "smollm2-ckpt"
    ckpt.mkdir()
    monkeypatch.setattr(models, "smollm2_checkpoint", lambda *a, **k: ckpt)
    return ckpt


def test_bundled_name_resolves_to_the_converted_checkpoint(fake_bundled):
    assert models.resolve_model_path("bundled:smollm2") == str(fake_bundled)
    assert models.resolve_model_path("org/some-model") == "org/some-model"


def test_exported_adapter_of_the_bundled_model_names_it_as_base(tmp_path, fake_bundled):
    adapter = tmp_path / "export"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": models.BUNDLED_MODELS["bundled:smollm2"]}))
    (adapter / models.EXPORT_INFO).write_text(json.dumps({"base_model_trained_on": "bundled:smollm2"}))
    assert models.is_adapter_dir(adapter)
    assert models.adapter_base_name(adapter) == "bundled:smollm2"
    assert models.resolve_model_path(models.adapter_base_name(adapter)) == str(fake_bundled)


def test_eval_loader_passes_the_resolved_path_to_transformers(monkeypatch, fake_bundled):
    import transformers

    seen: list[str] = []

    class Stop(Exception):
        pass

    def fake_from_pretrained(name, **kwargs):
        seen.append(str(name))
        raise Stop

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_from_pretrained)
    with pytest.raises(Stop):
        backends.load_model_and_tokenizer("bundled:smollm2")
    assert seen == [str(fake_bundled)]
    assert Path(seen[0]).name == "smollm2-ckpt"


def _conversion(folder, marker: str):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_text(marker)
    return folder


def test_a_finished_conversion_is_never_replaced_under_its_readers(tmp_path):
    from tooljudge.models import publish_checkpoint

    target = _conversion(tmp_path / "smollm2", "first")
    late = _conversion(tmp_path / "smollm2.tmp2", "second")
    assert publish_checkpoint(late, target) == target
    assert (target / "model.safetensors").read_text() == "first" and not late.exists()


def test_an_incomplete_leftover_is_replaced_and_a_fresh_target_is_moved_into_place(tmp_path):
    from tooljudge.models import publish_checkpoint

    target = tmp_path / "smollm2"
    target.mkdir()
    (target / "config.json").write_text("{}")  # no weights: an interrupted copy by hand
    new = _conversion(tmp_path / "smollm2.tmp1", "new")
    publish_checkpoint(new, target)
    assert (target / "model.safetensors").read_text() == "new" and not new.exists()
    other = tmp_path / "other"
    publish_checkpoint(_conversion(tmp_path / "other.tmp3", "x"), other)
    assert (other / "model.safetensors").read_text() == "x"


def _slow_conversion(target: str, log: str) -> str:
    """A stand-in converter run in its own process: records that it ran, writes slowly, then publishes."""
    import time

    from tooljudge.models import convert_once

    def convert(tmp):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        (tmp / "config.json").write_text('{"model_type": "llama"}')
        time.sleep(0.5)  # the window in which the other processes start and find no finished folder
        (tmp / "model.safetensors").write_text(str(os.getpid()))

    folder = convert_once(Path(target), convert)
    return json.loads((folder / "config.json").read_text())["model_type"] + ":" + \
        (folder / "model.safetensors").read_text()


def test_processes_started_together_convert_once_and_all_read_the_same_folder(tmp_path):
    """The ranks of a launch on a fresh machine: one converts, the others wait and read its folder."""
    import multiprocessing

    target, log = tmp_path / "cache" / "smollm2", tmp_path / "ran.txt"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(_slow_conversion, [(str(target), str(log))] * 3, chunksize=1)
    ran = log.read_text().split()
    assert len(ran) == 1, f"the conversion ran {len(ran)} times"
    assert results == [f"llama:{ran[0]}"] * 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["smollm2", "smollm2.lock"]  # no tmp left


def test_a_failed_conversion_leaves_nothing_that_a_later_run_would_trust(tmp_path):
    from tooljudge.models import convert_once

    target = tmp_path / "smollm2"

    def broken(tmp):
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        convert_once(target, broken)
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["smollm2.lock"]
