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
