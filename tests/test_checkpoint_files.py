"""Checkpoint completeness (tooljudge.checkpoint_files) against the loaders themselves: a file is judged
complete exactly when ``safetensors`` / ``torch.load`` can read it, at every truncation point; and the resume
rule built on it (train/run_files.py) falls back past incomplete checkpoints, naming each and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tooljudge.train.run_files import RUN_INFO, newest_complete_checkpoint, resolve_resume

from tooljudge.checkpoint_files import (
    checkpoint_problems,
    file_problem,
    safetensors_problem,
    torch_zip_problem,
)


def _safetensors(path: Path) -> Path:
    save_file({"w": torch.randn(3, 5), "step": torch.arange(7, dtype=torch.int64), "empty": torch.zeros(0),
               "h": torch.ones(2, dtype=torch.bfloat16)}, str(path), metadata={"format": "pt"})
    return path


def _torch_file(path: Path) -> Path:
    torch.save({"state": {0: {"exp_avg": torch.randn(4, 4), "step": torch.tensor(3.0)}},
                "param_groups": [{"lr": 1e-3, "params": [0]}]}, str(path))
    return path


def _loads(path: Path, kind: str) -> bool:
    try:
        load_file(str(path)) if kind == "safetensors" else torch.load(str(path), weights_only=True)
    except Exception:  # noqa: BLE001 - any loader failure means: not loadable
        return False
    return True


@pytest.mark.parametrize("kind", ["safetensors", "torch"])
def test_every_truncation_is_incomplete_exactly_when_the_loader_fails(tmp_path, kind):
    full_path = _safetensors(tmp_path / "full.safetensors") if kind == "safetensors" else \
        _torch_file(tmp_path / "full.pt")
    check = safetensors_problem if kind == "safetensors" else torch_zip_problem
    full = full_path.read_bytes()
    assert check(full_path) is None and _loads(full_path, kind)
    cut = tmp_path / f"cut{full_path.suffix}"
    step = 1 if kind == "safetensors" else 7  # torch.load is slower: every 7th byte, and each of the last 200
    for n in sorted(set(range(0, len(full), step)) | set(range(max(0, len(full) - 200), len(full)))):
        cut.write_bytes(full[:n])
        problem = check(cut)
        assert problem is not None, n  # every shorter file is incomplete ...
        assert not _loads(cut, kind), n  # ... and the loader agrees
    cut.write_bytes(full + b"\0")  # trailing bytes: safetensors refuses them, and so do we
    assert (check(cut) is None) == _loads(cut, kind)


def test_safetensors_header_lies_are_named(tmp_path):
    path = _safetensors(tmp_path / "m.safetensors")
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    header["w"]["shape"] = [3, 6]  # 72 bytes of F32 claimed for a 60-byte range
    fake = json.dumps(header, separators=(",", ":")).encode().ljust(header_len)
    assert len(fake) == header_len
    path.write_bytes(raw[:8] + fake + raw[8 + header_len :])
    assert "needs 72" in safetensors_problem(path) and not _loads(path, "safetensors")
    path.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    assert "does not fit" in safetensors_problem(path)
    path.write_bytes(b"")
    assert "0 bytes" in safetensors_problem(path)


def test_legacy_and_foreign_files(tmp_path):
    legacy = tmp_path / "legacy.bin"
    torch.save({"a": torch.ones(2)}, str(legacy), _use_new_zipfile_serialization=False)
    assert "zip" in torch_zip_problem(legacy)  # the Trainer never writes this format
    assert file_problem(tmp_path / "notes.txt") is None  # other kinds are not judged
    (tmp_path / "bad.json").write_text('{"a": ')
    assert "not complete JSON" in file_problem(tmp_path / "bad.json")


def _checkpoint(folder: Path, step: int = 1) -> Path:
    """A Trainer-shaped checkpoint: weights, optimizer, scheduler, RNG, args, config, state."""
    folder.mkdir(parents=True)
    _safetensors(folder / "model.safetensors")
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
        _torch_file(folder / name)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _truncate(path: Path, keep: float = 0.5) -> None:
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


CORRUPTIONS = {
    "empty weights": (lambda c: (c / "model.safetensors").write_bytes(b""), "model.safetensors: 0 bytes"),
    "truncated weights": (lambda c: _truncate(c / "model.safetensors", 0.9), "model.safetensors"),
    "truncated optimizer": (lambda c: _truncate(c / "optimizer.pt"), "optimizer.pt: no complete zip directory"),
    "empty rng state": (lambda c: (c / "rng_state.pth").write_bytes(b""), "rng_state.pth: empty"),
    "no trainer state": (lambda c: (c / "trainer_state.json").unlink(), "no trainer_state.json"),
    "truncated trainer state": (lambda c: _truncate(c / "trainer_state.json"), "trainer_state.json: not complete"),
    "truncated config": (lambda c: _truncate(c / "config.json"), "config.json: not complete JSON"),
    "no weights": (lambda c: (c / "model.safetensors").unlink(), "no weights file"),
    "missing shard": (lambda c: (c / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"w": "model-00001-of-00002.safetensors"}})), "shard model-00001-of-00002.safetensors is"),
    "truncated deepspeed shard": (lambda c: (c / "global_step1").mkdir() or _torch_file(
        c / "global_step1" / "zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"PK\x03\x04"),
        "global_step1/zero_pp_rank_0_mp_rank_00_optim_states.pt: no complete zip"),
}


def _fsdp_sharded(c: Path, metadata: bool) -> None:
    """FSDP SHARDED_STATE_DICT: no top-level weights file, a torch.distributed.checkpoint folder instead."""
    (c / "model.safetensors").unlink()
    shards = c / "pytorch_model_fsdp_0"
    shards.mkdir()
    (shards / "__0_0.distcp").write_bytes(b"\0" * 64)
    if metadata:
        (shards / ".metadata").write_bytes(b"\1" * 16)


CORRUPTIONS["fsdp shards without metadata"] = (lambda c: _fsdp_sharded(c, False),
                                                "pytorch_model_fsdp_0: no .metadata")


def test_sharded_fsdp_checkpoint_is_complete(tmp_path):
    ckpt = _checkpoint(tmp_path / "checkpoint-1")
    _fsdp_sharded(ckpt, True)
    assert checkpoint_problems(ckpt) == []


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_a_corrupt_checkpoint_says_why(tmp_path, name):
    ckpt = _checkpoint(tmp_path / "checkpoint-1")
    assert checkpoint_problems(ckpt) == []
    corrupt, reason = CORRUPTIONS[name]
    corrupt(ckpt)
    problems = checkpoint_problems(ckpt)
    assert any(reason in p for p in problems), problems


def test_folders_that_are_not_part_of_the_checkpoint_are_not_judged(tmp_path):
    run = _checkpoint(tmp_path / "run")  # a run folder with a final model and its checkpoints
    (run / "trainer_state.json").unlink()
    (run / "checkpoint-3").mkdir()
    (run / "checkpoint-3" / "model.safetensors").write_bytes(b"")
    (run / "eval.lock").write_text("")
    assert checkpoint_problems(run, require_trainer_state=False) == []


def test_resume_falls_back_to_the_newest_complete_checkpoint_and_says_why(tmp_path, capsys):
    for step in (2, 4, 6, 8):
        _checkpoint(tmp_path / f"checkpoint-{step}", step)
    _truncate(tmp_path / "checkpoint-8" / "optimizer.pt")  # SIGKILL mid-save
    (tmp_path / "checkpoint-6" / "model.safetensors").write_bytes(b"")  # disk full
    (tmp_path / RUN_INFO).write_text(json.dumps({"kind": "sft"}))
    skipped = []
    assert newest_complete_checkpoint(tmp_path, skipped) == tmp_path / "checkpoint-4"
    assert [p.name for p, _ in skipped] == ["checkpoint-8", "checkpoint-6"]

    assert resolve_resume("auto", tmp_path) == str(tmp_path / "checkpoint-4")
    out = capsys.readouterr().out
    assert "resume: skipping checkpoint-8, incomplete: optimizer.pt: no complete zip directory" in out
    assert "resume: skipping checkpoint-6, incomplete: model.safetensors: 0 bytes" in out
    assert "falling back to checkpoint-4" in out
    info = json.loads((tmp_path / RUN_INFO).read_text())
    assert sorted(info["resume_skipped"]) == ["checkpoint-6", "checkpoint-8"] and info["kind"] == "sft"

    with pytest.raises(FileNotFoundError, match=r"checkpoint-8 is not a complete checkpoint folder: optimizer\.pt"):
        resolve_resume(str(tmp_path / "checkpoint-8"), tmp_path)
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").unlink()
    assert resolve_resume(None, tmp_path) is None  # nothing complete: start fresh, said so
    assert "falling back to the start" in capsys.readouterr().out
