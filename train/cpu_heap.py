"""Experiment hook (issue 21): glibc heap settings for CPU training, from recipe ``callbacks``."""

from __future__ import annotations

import os

from transformers import TrainerCallback

from tooljudge.cpu_memory import keep_heap_blocks, trim_heap


class KeepHeapBlocks(TrainerCallback):
    """``keep_heap_blocks`` at train start; with TOOLJUDGE_TRIM_EACH_STEP=1 also ``trim_heap`` after each step."""

    def on_train_begin(self, args, state, control, **kwargs):
        print(f"[tooljudge] keep_heap_blocks: {keep_heap_blocks()}", flush=True)

    def on_step_end(self, args, state, control, **kwargs):
        if os.environ.get("TOOLJUDGE_TRIM_EACH_STEP") == "1":
            trim_heap()
