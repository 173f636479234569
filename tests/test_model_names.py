"""Bundled model names resolve the same way in training and in eval (no hub needed for the bundled model)."""

from __future__ import annotations

import json
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
