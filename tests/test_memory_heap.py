"""train/heap.py between stages of one process: ``release_memory`` frees a finished stage's reference cycles at
once (a trainer, its model and callbacks refer to each other), and ``resident_mib`` reports what
``/usr/bin/time -v`` would. A fresh process, so the collector and the heap start clean."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json
from tooljudge.train.heap import release_memory, resident_mib
gc.disable()  # as if the collector had not come round yet
class Stage:
    pass
stage = Stage()
stage.me = stage                      # a cycle, like trainer <-> callbacks
stage.data = bytearray(200 * 2**20)   # 200 MiB, touched
stage.data[::4096] = b"x" * len(stage.data[::4096])
before = resident_mib()
del stage
held = resident_mib()
release_memory()
after = resident_mib()
print(json.dumps({"before": before, "held": held, "after": after}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm")
def test_release_memory_frees_a_finished_stages_cycles():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    assert m["held"]["rss_mib"] - m["after"]["rss_mib"] > 180  # the cycle's 200 MiB left the process
    assert m["held"]["rss_mib"] > m["before"]["rss_mib"] - 20  # del alone freed nothing: it was a cycle
    assert m["after"]["peak_mib"] >= m["before"]["rss_mib"] - 2  # the peak keeps the high-water mark (±rounding)
