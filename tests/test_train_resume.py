"""A run SIGKILLed mid-way and restarted with the same command resumes from its newest complete checkpoint and
ends with exactly the weights of an uninterrupted run (optimizer, scheduler, RNG and data order restored); with
the newest checkpoints corrupt (an empty weights file, a truncated optimizer.pt) it falls back past them, says
which and why, and still ends with exactly those weights."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import train_support as ts
from safetensors.torch import load_file
from tooljudge.train.run_files import newest_complete_checkpoint

from tooljudge.file_modes import usual_file_mode

ROOT = ts.ROOT


def _run(recipe, output_dir, kill_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    env.pop("TOOLJUDGE_KILL_AT_STEP", None)
    if kill_at is not None:
        env["TOOLJUDGE_KILL_AT_STEP"] = str(kill_at)
    return subprocess.run([sys.executable, str(ROOT / "train" / "sft.py"), str(recipe), "--training.output_dir",
                           str(output_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path):
    tiny = ts.tiny_model(tmp_path.parent / "models")
    data = ts.write_jsonl(tmp_path / "sft.jsonl", [ts.short_row(i) for i in range(6)])
    # 6 rows / batch 2 = 3 steps per epoch: the kill lands in the second epoch, so the resumed run must restore
    # the shuffled order of a later epoch and skip the batches already seen; cosine schedule + AdamW state.
    raw = ts.recipe_dict("sft", tiny, data, tmp_path / "unused", max_steps=7, learning_rate=3e-3,
                         lr_scheduler_type="cosine", warmup_steps=2, save_strategy="steps", save_steps=2)
    raw["callbacks"] = ["train_kill_callback:KillAtStep"]
    recipe = ts.write_recipe(tmp_path / "sft.yaml", raw)

    straight = _run(recipe, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-4000:]
    # the final weights and every checkpoint's get the usual file mode, not safetensors' 0600 (file_modes)
    saved = sorted((tmp_path / "straight").rglob("*.safetensors"))
    assert len(saved) >= 3 and {p.stat().st_mode & 0o777 for p in saved} == {usual_file_mode()}

    killed = _run(recipe, tmp_path / "killed", kill_at=5)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    assert not (tmp_path / "killed" / "DONE").exists()
    assert newest_complete_checkpoint(tmp_path / "killed").name == "checkpoint-4"

    resumed = _run(recipe, tmp_path / "killed")  # the same command again: auto-resume
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    info = json.loads((tmp_path / "killed" / "run_info.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-4") and info["global_step"] == 7

    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    start = load_file(str(tiny / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    assert any(not (a[k] == start[k]).all() for k in a)  # training moved the weights

    # The uninterrupted run's checkpoints, the two newest corrupt: a disk that filled while writing the weights
    # of step 6, a kill while writing the optimizer of step 4. Every restart used to pick checkpoint-6 and crash.
    corrupt = tmp_path / "corrupt"
    for step in (2, 4, 6):
        shutil.copytree(tmp_path / "straight" / f"checkpoint-{step}", corrupt / f"checkpoint-{step}")
    (corrupt / "checkpoint-6" / "model.safetensors").write_bytes(b"")
    optimizer = corrupt / "checkpoint-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[: optimizer.stat().st_size // 2])
    fallback = _run(recipe, corrupt)
    assert fallback.returncode == 0, fallback.stderr[-4000:]
    assert "resume: skipping checkpoint-6, incomplete: model.safetensors: 0 bytes" in fallback.stdout
    assert "resume: skipping checkpoint-4, incomplete: optimizer.pt: no complete zip directory" in fallback.stdout
    info = json.loads((corrupt / "run_info.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-2") and info["global_step"] == 7
    assert sorted(info["resume_skipped"]) == ["checkpoint-4", "checkpoint-6"]
    c = load_file(str(corrupt / "model.safetensors"))
    for key in a:
        assert (a[key] == c[key]).all(), key
