"""A TrainerCallback that records which training rows each process fed its model (data-parallel launch test).

Loaded with ``--callbacks '[launch_rows_callback:RecordRows]'``: a forward pre-hook on the model keeps every row
of every training batch (its non-padding token ids) and each process writes ``rows_rank{RANK}.json`` into the
output folder at the end, so a test can check that the processes trained on disjoint halves of the data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import TrainerCallback


class RecordRows(TrainerCallback):
    def __init__(self) -> None:
        self.rows: list[list[int]] = []
        self.handle = None

    def _hook(self, _module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        if ids is None:
            return
        for i, row in enumerate(ids.tolist()):
            keep = mask[i].tolist() if mask is not None else [1] * len(row)
            self.rows.append([t for t, m in zip(row, keep, strict=True) if m])

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.handle is not None:
            self.handle.remove()
        rank = int(os.environ.get("RANK", "0"))
        Path(args.output_dir, f"rows_rank{rank}.json").write_text(json.dumps(self.rows))
