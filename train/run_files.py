"""What a run leaves next to its checkpoints (resolved recipe, package versions, data report) and how a
killed run finds where to resume.

Why: a checkpoint is only reproducible with the exact settings and library versions that produced it, and
an automatic resume must never pick a checkpoint that a SIGKILL, a full disk or a copy left half-written.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from tooljudge.checkpoint_files import checkpoint_problems

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
    resolved = config.to_dict()
    source = resolved.pop("source_path", None)  # not a recipe key: the file must load again as a recipe
    header = f"# {config.kind} recipe as run, every default filled in (from {source or 'a recipe built in Python'})\n"
    (output_dir / RESOLVED_RECIPE).write_text(header + yaml.safe_dump(resolved, sort_keys=False))
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
    """Loadable, not merely present: weights, optimizer, scheduler and RNG files whole (safetensors header and
    size, torch zip directory), every JSON parses, and ``trainer_state.json`` (written last) is there.
    :func:`tooljudge.checkpoint_files.checkpoint_problems` says why not."""
    return not checkpoint_problems(folder)


def checkpoint_folders(output_dir: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every ``checkpoint-N`` folder in ``output_dir``, newest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), child) for child in output_dir.iterdir()
             if (m := _CHECKPOINT.match(child.name)) and child.is_dir()]
    return sorted(found, reverse=True)


def newest_complete_checkpoint(output_dir: Path, skipped: list[tuple[Path, list[str]]] | None = None) -> Path | None:
    """The highest-numbered complete ``checkpoint-N`` folder in ``output_dir``, or None. Each newer folder that
    is incomplete is appended to ``skipped`` with its reasons."""
    for _step, folder in checkpoint_folders(output_dir):
        problems = checkpoint_problems(folder)
        if not problems:
            return folder
        if skipped is not None:
            skipped.append((folder, problems))
    return None


def resolve_resume(setting: Any, output_dir: Path) -> str | None:
    """Turn ``training.resume_from_checkpoint`` into a path for ``Trainer.train``.

    None / "auto" / True: the newest complete checkpoint in ``output_dir`` if any (auto-resume); every newer,
    incomplete one is named with its reasons on the console and in ``run_info.json`` (``resume_skipped``), so a
    requeued job falls back instead of crashing the same way on every restart. False / "never": start fresh.
    A path: that checkpoint, which must be complete (the error says why it is not).
    """
    if setting in (False, "never", "false", "no"):
        return None
    if setting in (None, True, "auto", "true", "latest"):
        skipped: list[tuple[Path, list[str]]] = []
        found = newest_complete_checkpoint(output_dir, skipped)
        _report_skipped(output_dir, skipped, found)
        return str(found) if found else None
    path = Path(str(setting))
    problems = checkpoint_problems(path)
    if problems:
        raise FileNotFoundError(f"training.resume_from_checkpoint: {path} is not a complete checkpoint folder: "
                                + "; ".join(problems[:5]))
    return str(path)


def _report_skipped(output_dir: Path, skipped: list[tuple[Path, list[str]]], found: Path | None) -> None:
    if not skipped or int(os.environ.get("RANK", "0")) != 0:
        return
    target = found.name if found else "the start (no complete checkpoint)"
    for folder, problems in skipped:
        print(f"[tooljudge] resume: skipping {folder.name}, incomplete: {'; '.join(problems[:5])}"
              f"{f' (+{len(problems) - 5} more)' if len(problems) > 5 else ''}; falling back to {target}",
              flush=True)
    if (Path(output_dir) / RUN_INFO).exists():
        update_run_info(output_dir, resume_skipped={folder.name: problems for folder, problems in skipped})
