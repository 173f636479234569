"""train/heap.py: glibc hands freed blocks back to the system after ``limit_heap_retention`` (a fresh process
each, since the settings are process-wide), and the user's own MALLOC_* settings or TOOLJUDGE_MALLOC=off win."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# 3,000 blocks of 100 kB (under glibc's default 128 kB mmap threshold, so served from the heap), all freed but the
# last, which pins the top of the heap: with glibc's defaults the 300 MB stay resident.
PROBE = """
import json, sys, psutil
from tooljudge.train.heap import limit_heap_retention
applied = limit_heap_retention() if sys.argv[1] == "on" else False
rss = lambda: psutil.Process().memory_info().rss
base = rss()
blocks = [bytes(100_000) for _ in range(3000)]
last = bytes(100_000)
del blocks
print(json.dumps({"applied": applied, "retained_mb": (rss() - base) / 1e6}))
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                           reason="glibc only")


def probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TOOLJUDGE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**clean, **env})
    return json.loads(out.stdout)


@glibc
def test_freed_blocks_leave_the_process():
    default, limited = probe("off"), probe("on")
    assert not default["applied"] and limited["applied"]
    assert default["retained_mb"] > 200  # glibc's defaults keep the freed 300 MB resident
    assert limited["retained_mb"] < 20


@glibc
def test_user_settings_and_off_switch_win():
    assert probe("on", MALLOC_ARENA_MAX="4")["applied"] is False
    assert probe("on", TOOLJUDGE_MALLOC="off")["applied"] is False
