"""What a run leaves next to its checkpoints (resolved recipe, package versions, data report) and how a
killed run finds where to resume.

Why: a checkpoint is only reproducible with the exact settings and library versions that produced it, and
an automatic resume must never pick a checkpoint that a SIGKILL left half-written.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

RESOLVED_RECIPE = "recipe.resolved.yaml"
RUN_INFO = "run_info.json"
PACKAGES = ("tooljudge", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers",
            "safetensors", "bitsandbytes", "deepspeed", "liger-kernel", "flash-attn")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run depends on (None when absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(repo: Path | None = None) -> str | None:
    """The source tree's commit (with ``-dirty`` when it has uncommitted edits), None outside git."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def write_run_files(config, output_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the resolved recipe and ``run_info.json`` (versions, command line, world size, data report)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESOLVED_RECIPE).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    info = {
        "kind": config.kind,
        "recipe_file": config.source_path,
        "argv": sys.argv,
        "git_commit": git_commit(),
        "versions": package_versions(),
        **(extra or {}),
    }
    (output_dir / RUN_INFO).write_text(json.dumps(info, indent=2, default=str))
    return output_dir / RUN_INFO


def update_run_info(output_dir: Path, **fields: Any) -> None:
    """Merge ``fields`` into an existing ``run_info.json`` (e.g. final metrics)."""
    path = Path(output_dir) / RUN_INFO
    info = json.loads(path.read_text()) if path.exists() else {}
    info.update(fields)
    path.write_text(json.dumps(info, indent=2, default=str))


def is_complete_checkpoint(folder: Path) -> bool:
    """A checkpoint is usable once the Trainer wrote its state file, which it writes after the weights,
    optimizer, scheduler and RNG states; a folder killed mid-save lacks it or holds a truncated one."""
    state = folder / "trainer_state.json"
    if not state.exists():
        return False
    try:
        json.loads(state.read_text())
    except (OSError, ValueError):
        return False
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*.bin"))
    return bool(weights)


def newest_complete_checkpoint(output_dir: Path) -> Path | None:
    """The highest-numbered complete ``checkpoint-N`` folder in ``output_dir``, or None."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = []
    for child in output_dir.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and child.is_dir() and is_complete_checkpoint(child):
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def resolve_resume(setting: Any, output_dir: Path) -> str | None:
    """Turn ``training.resume_from_checkpoint`` into a path for ``Trainer.train``.

    None / "auto" / True: the newest complete checkpoint in ``output_dir`` if any (auto-resume);
    False / "never": start fresh; a path: that checkpoint (it must be complete).
    """
    if setting in (False, "never", "false", "no"):
        return None
    if setting in (None, True, "auto", "true", "latest"):
        found = newest_complete_checkpoint(output_dir)
        return str(found) if found else None
    path = Path(str(setting))
    if not path.is_dir() or not is_complete_checkpoint(path):
        raise FileNotFoundError(f"training.resume_from_checkpoint: {path} is not a complete checkpoint folder")
    return str(path)
