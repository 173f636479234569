"""Give saved weight files the permissions any other file in their folder gets.

Why: ``safetensors`` creates its files with mode 0600 whatever the umask, so every model, adapter, checkpoint and
export tooljudge saved could be read by its owner only. On a shared cluster a teammate could read an exported
model's card, config and tokenizer but not its weights; ``shutil.copy2`` carried the 0600 into exports. After a
save, :func:`open_saved_weights` sets such files to the mode ``open()`` would have given them (0666 less the
umask). Files with any other mode are left alone: a user who restricted a file on purpose keeps it so.
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors",)
OWNER_ONLY = 0o600


def current_umask() -> int:
    """The process umask. Read from ``/proc/self/status`` where there is one: setting the umask to read it (the
    fallback) leaves, for an instant, a window in which a file another thread creates is world-writable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file under the current umask."""
    return 0o666 & ~current_umask()


def open_saved_weights(folder: str | Path) -> list[Path]:
    """Set every ``*.safetensors`` file under ``folder`` that is exactly 0600 to :func:`usual_file_mode`.

    Returns the files changed. A missing folder changes nothing; a file that vanishes meanwhile is skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    mode = usual_file_mode()
    if mode == OWNER_ONLY:
        return []  # umask 077: 0600 is what the user asked for
    changed = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in WEIGHT_SUFFIXES or path.is_symlink():
            continue
        try:
            if path.is_file() and (path.stat().st_mode & 0o7777) == OWNER_ONLY:
                os.chmod(path, mode)
                changed.append(path)
        except FileNotFoundError:
            continue
    return changed
