"""Output folders and files: checked before any work, written to a temporary name, renamed when complete.

Why: finding a read-only or missing output folder after masking every row wastes the run, and a full disk in
the middle of ``save_to_disk`` must not leave a truncated dataset that looks complete. Folders are built under
``.NAME.incomplete-PID`` beside the target and renamed at the end; a crash leaves only that name behind. A
non-empty folder the run did not create is never replaced unless the caller passes ``overwrite``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output path that cannot be used; the message says why and what to do."""


def check_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and parents) and prove a file can be written there; :class:`OutputError` if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here ({exc.strerror or exc}); choose another output "
                          f"folder") from None
    return folder


def check_output_file(path: str | Path) -> Path:
    """An output file's folder is writable and the path is not a folder; checked before any work."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file path")
    check_writable_dir(path.parent)
    return path


def check_output_dir(path: str | Path, overwrite: bool = False) -> Path:
    """``path`` may become the run's output folder: absent or empty, or non-empty with ``overwrite``; its
    parent is writable. Checked before any work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"{path}: exists and is not empty; pass --overwrite to replace it, or choose another "
                          f"output folder")
    check_writable_dir(path.parent)
    return path


def incomplete_dir(path: str | Path) -> Path:
    """A fresh temporary folder beside ``path`` to build it in (removed by :func:`publish_dir`)."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.incomplete-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def publish_dir(tmp: Path, path: str | Path) -> Path:
    """Rename the finished ``tmp`` folder to ``path`` (an existing ``path`` was allowed by
    :func:`check_output_dir`: it is moved aside first and removed only after the rename)."""
    path = Path(path)
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.replaced-{os.getpid()}"
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path
