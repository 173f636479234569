"""glibc heap settings for CPU runs: memory freed by torch goes back to the system instead of staying resident.

Why: on a CPU, torch allocates activations and gradients with ``malloc``. glibc serves blocks under its mmap
threshold from arenas, and raises that threshold up to 32 MiB each time a larger block is freed, so after the
first training step most activations live in arenas that freed tensors fragment and that are never handed back.
Measured on LoRA SFT of SmolLM2-135M (``benchmarks/memory_stages.py``, README "Peak memory"): one step of the demo
recipe with gradient checkpointing peaked at 5.0 GiB resident with glibc's defaults and 2.8 GiB with the settings
below. They are what ``MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 MALLOC_ARENA_MAX=2`` would set,
applied with ``mallopt`` at start-up because the training scripts cannot set their own environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
OFF_ENV = "TOOLJUDGE_MALLOC"  # "off": keep glibc's defaults
USER_ENV = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def limit_heap_retention(mmap_threshold: int = 64 * 1024, trim_threshold: int = 64 * 1024,
                         arena_max: int = 2) -> bool:
    """Blocks from ``mmap_threshold`` bytes up are mapped and unmapped on free, heap tops above
    ``trim_threshold`` are returned, at most ``arena_max`` arenas. Returns whether the settings were applied: not
    off Linux/glibc, not when ``TOOLJUDGE_MALLOC=off``, and not when the user set any ``MALLOC_*`` tunable (theirs
    win)."""
    if not sys.platform.startswith("linux") or os.environ.get(OFF_ENV, "").lower() in ("off", "0", "false", "no"):
        return False
    if any(name in os.environ for name in USER_ENV):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    settings = ((M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold), (M_ARENA_MAX, arena_max))
    return all(mallopt(param, value) == 1 for param, value in settings)


def release_memory() -> None:
    """Free what the finished stage left in reference cycles (a trainer and its model, callbacks, optimizer) and
    hand glibc's free heap pages back, so the next stage of a one-process run (``train/rounds.py``) starts
    from the imports and what it still holds, not from the last stage's peak."""
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def resident_mib() -> dict[str, int | None]:
    """The process's resident memory now (Linux; None elsewhere) and its peak so far, in MiB (the peak as
    ``/usr/bin/time -v`` reports it)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 1024
    now = None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            now = round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    return {"rss_mib": now, "peak_mib": round(peak_mib)}
