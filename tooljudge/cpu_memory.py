"""CPU memory settings that make CPU training faster: huge pages for PyTorch's tensors (on by default on Linux)
and, on request, glibc keeping mid-size blocks in its heap.

Why: PyTorch's CPU allocator gets large tensors (a training step's logits are tokens x vocabulary floats, hundreds
of MB) from glibc, which maps them fresh and unmaps them on free, so every step faults every 4 KiB page of them in
again. On a 2-core CPU that was a third of an SFT step's time in the kernel (``benchmarks/results/
cpu_2026-12-01_thp/``). PyTorch's own switch ``THP_MEM_ALLOC_ENABLE=1`` advises the kernel to back its
allocations of 2 MiB and more with transparent huge pages (2 MiB a fault instead of 4 KiB): half a step's faults
went, the tensors under 2 MiB keep the rest.

PyTorch reads the variable once, at its first CPU allocation, so it must be in the environment before ``import
torch``: ``tooljudge/__init__.py`` calls :func:`default_thp` first thing. A value the user set (``0`` turns it off)
is never changed; where torch was imported before tooljudge, the setting takes effect only in child processes.
Measured on the demo's SFT steps (2-core CPU): 10% less time, the same peak memory.

``TOOLJUDGE_CPU_HEAP=keep`` goes further: glibc serves blocks under 32 MiB from its heap and keeps freed heap
memory, so a step's many same-sized activations reuse pages instead of being mapped, faulted in and unmapped
again. Measured on the demo's recipes: SFT steps 1.6x and DPO steps 1.58x faster than with huge pages alone, for
about 0.5 GB (SFT) and 1 GB (DPO) more peak memory, which is why it is not the default (the demo's 2 GB goal). CPU training runs apply it at start (``train/run_setup.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "THP_MEM_ALLOC_ENABLE"
KERNEL_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


_set_after_torch = False  # default_thp set the variable in a process that had already imported torch


def default_thp(environ: dict | None = None) -> None:
    """Set ``THP_MEM_ALLOC_ENABLE=1`` on Linux unless the variable is already set (to anything). Where torch was
    imported first, this process's torch may already have read the variable unset: ``describe`` says so."""
    global _set_after_torch
    target = os.environ if environ is None else environ
    if sys.platform.startswith("linux") and ENV not in target:
        target[ENV] = "1"
        if environ is None and "torch" in sys.modules:
            _set_after_torch = True


def kernel_thp_mode(path: Path = KERNEL_SETTING) -> str | None:
    """The kernel's THP mode (``always``, ``madvise`` or ``never``: the bracketed word), None where unknown."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else None


def describe() -> str:
    """For run logs: whether CPU tensors can get huge pages here, and why not if not."""
    value = os.environ.get(ENV, "")
    if value != "1":  # the one value every PyTorch 2.x reads as on
        return f"off ({ENV}={value or 'unset'})"
    if _set_after_torch:
        return (f"off in this process ({ENV}=1 was set by tooljudge after torch was imported: child processes only; "
                f"import tooljudge first, or set it before starting Python)")
    mode = kernel_thp_mode()
    if mode == "never":
        return f"off (the kernel's THP mode is never; {ENV}={value} has no effect)"
    return f"on ({ENV}={value}, kernel THP mode {mode or 'unknown'})"


# ---- glibc's malloc: keep mid-size blocks in the heap instead of mapping and unmapping them every step
HEAP_ENV = "TOOLJUDGE_CPU_HEAP"
HEAP_CHOICES = ("default", "keep")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (glibc's malloc.h)
MMAP_THRESHOLD_MAX = 32 << 20  # glibc refuses more on 64-bit (HEAP_MAX_SIZE / 2)


def _libc():
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def keep_heap_blocks(mmap_threshold: int = MMAP_THRESHOLD_MAX, trim_threshold: int = 1 << 30) -> bool:
    """Blocks under ``mmap_threshold`` come from the heap, and freed heap memory up to ``trim_threshold`` stays
    mapped (glibc otherwise maps blocks over its dynamic threshold fresh and unmaps them on free). Returns False
    where this is not glibc: nothing changed."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


def apply_heap_setting(environ: dict | None = None) -> str:
    """Apply ``TOOLJUDGE_CPU_HEAP`` (``default``: glibc's own behaviour; ``keep``: ``keep_heap_blocks``) and say
    what holds, for the run log. Any other value is an error that names the variable and its choices."""
    environ = os.environ if environ is None else environ
    value = environ.get(HEAP_ENV, "").strip() or "default"
    if value not in HEAP_CHOICES:
        raise ValueError(f"{HEAP_ENV}={value!r}: use one of {', '.join(HEAP_CHOICES)}")
    if value == "default":
        return f"glibc's default ({HEAP_ENV}=keep: ~1.6x faster steps, 0.5-1 GB more memory)"
    if keep_heap_blocks():
        return f"blocks under {MMAP_THRESHOLD_MAX >> 20} MiB kept in the heap ({HEAP_ENV}=keep)"
    return f"{HEAP_ENV}=keep has no effect here (not glibc)"
