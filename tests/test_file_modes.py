"""Saved weights get the usual file mode (``tooljudge.file_modes``): safetensors writes 0600 whatever the umask,
so exports, checkpoints and the converted bundled model were readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from tooljudge.file_modes import current_umask, open_saved_weights, usual_file_mode


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def _weights(path: Path) -> Path:
    """A weights file as safetensors leaves it (0600, set here too so the tests do not hang on its version)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.zeros(2)}, str(path))
    os.chmod(path, 0o600)
    return path


def test_safetensors_writes_owner_only_which_is_why_this_exists(tmp_path, umask_022):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "a.safetensors"))
    if _mode(tmp_path / "a.safetensors") != 0o600:
        pytest.skip("this safetensors writes the umask's mode: open_saved_weights has nothing to do")


def test_owner_only_weights_get_the_usual_mode_and_nothing_else_changes(tmp_path, umask_022):
    top = _weights(tmp_path / "model.safetensors")
    nested = _weights(tmp_path / "checkpoint-2" / "adapter_model.safetensors")
    chosen = _weights(tmp_path / "private.safetensors")
    os.chmod(chosen, 0o640)  # a mode the user set on purpose
    other = tmp_path / "secrets.json"
    other.write_text("{}")
    os.chmod(other, 0o600)
    assert open_saved_weights(tmp_path) == sorted([nested, top])
    assert _mode(top) == _mode(nested) == 0o644 == usual_file_mode()
    assert _mode(chosen) == 0o640 and _mode(other) == 0o600
    assert open_saved_weights(tmp_path / "missing") == []


def test_umask_077_keeps_owner_only(tmp_path):
    path = _weights(tmp_path / "model.safetensors")
    old = os.umask(0o077)
    try:
        assert open_saved_weights(tmp_path) == [] and _mode(path) == 0o600
    finally:
        os.umask(old)


def test_checkpoint_callback_opens_the_checkpoint_it_was_told_of(tmp_path, umask_022):
    from tooljudge.train.callbacks_setup import saved_weights_callback

    ckpt = _weights(tmp_path / "checkpoint-4" / "adapter_model.safetensors")
    later = _weights(tmp_path / "checkpoint-6" / "adapter_model.safetensors")
    callback = saved_weights_callback()
    args = SimpleNamespace(output_dir=str(tmp_path))
    callback.on_save(args, SimpleNamespace(global_step=4, is_world_process_zero=False), None)
    assert _mode(ckpt) == 0o600  # only the main process changes files
    callback.on_save(args, SimpleNamespace(global_step=4, is_world_process_zero=True), None)
    assert _mode(ckpt) == 0o644 and _mode(later) == 0o600


def test_conversion_publishes_readable_weights(tmp_path, umask_022):
    from tooljudge.models import convert_once

    def convert(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        _weights(tmp / "model.safetensors")

    target = convert_once(tmp_path / "cache" / "model", convert)
    assert _mode(target / "model.safetensors") == 0o644


def test_exported_adapter_is_readable_by_the_group(tmp_path, umask_022):
    import train_support as ts
    from peft import LoraConfig, get_peft_model
    from tooljudge.train import export
    from tooljudge.train.model_setup import install_chat_template
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = ts.tiny_model(tmp_path / "models")
    run = tmp_path / "run" / "sft"
    tokenizer = AutoTokenizer.from_pretrained(base)
    install_chat_template(tokenizer, ts.FAMILY, None)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                           LoraConfig(r=2, lora_alpha=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    model.save_pretrained(run)
    tokenizer.save_pretrained(run)
    (run / "recipe.resolved.yaml").write_text(f"kind: sft\ndata:\n  family: {ts.FAMILY}\n")
    os.chmod(run / "adapter_model.safetensors", 0o600)  # as peft's safetensors save leaves it
    out = export.export_adapter(run, tmp_path / "adapter")
    assert _mode(out / "adapter_model.safetensors") == 0o644


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_the_umask_is_read_without_changing_it(mask, monkeypatch):
    old = os.umask(mask)
    try:
        calls = []
        real = os.umask
        monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
        assert current_umask() == mask
        if os.path.exists("/proc/self/status"):
            assert calls == []  # read, never set: no instant with umask 0
        assert usual_file_mode() == 0o666 & ~mask
    finally:
        os.umask(old)
