"""Prepare a whole dataset: conversations in, a ``datasets`` dataset of ``input_ids``/``assistant_masks`` out,
plus a report that counts every row (kept, dropped by reason, truncated) and every token (total, trained).

Why a separate module: ``masking`` handles one row; this one runs it over many rows (in parallel through
``datasets.map``), never drops a row without counting it, and writes what happened next to the data.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tooljudge.data_prep.families import FAMILIES, FamilyError, ParallelCallsUnsupported
from tooljudge.data_prep.masking import MaskConfig, MaskError, RowTooLong, prepare_example_info

from tooljudge.config import setting
from tooljudge.core.control_text import ControlTextRejected

MAX_PROBLEMS = 200
REASONS = (  # every code reason_of gives (docs/data_prep.md explains each)
    "invalid_row", "too_long", "format_cannot_express", "parallel_calls_unsupported", "control_token_text",
    "control_text_unencodable", "first_turn_not_user", "template_error", "template_ignores_tools",
    "template_not_prefix_preserving", "template_drops_content", "no_stop_token", "empty_turn", "nothing_to_train",
)


@dataclass
class PrepareConfig:
    """Settings of one preparation run (the CLI and recipes fill it)."""

    family: str = setting("auto", "chat-template family: auto (from the tokenizer), "
                          f"{', '.join(FAMILIES.names())} (or one registered with families.register_family)")
    max_length: int | None = setting(None, "longest prepared row in tokens (None: no limit)")
    truncation: str = setting("drop_turns", "longer rows: drop_turns drops the earliest exchanges (system prompt and "
                              "tool schemas are never cut), drop_row refuses the row",
                              choices=("drop_turns", "drop_row"))
    boundary: str = setting("error", "a trained span not on a token boundary: error refuses the row, split "
                            "tokenises the pieces apart", choices=("error", "split"))
    num_proc: int = setting(1, "worker processes")
    family_options: dict = setting(default_factory=dict, help="family options, e.g. lang, parallel, glm4_call_style")
    special_text: str = setting("text", "control-token text inside content (<|eot_id|> in a user message): encode as "
                                "text (counted) or drop the row (control_token_text)", choices=("text", "reject"))
    parallel_calls: str = setting("split", "families that cannot write parallel calls (llama31): one turn per call "
                                  "(counted) or drop the row (parallel_calls_unsupported)", choices=("split", "reject"))
    reference_quirks: str = setting(
        "follow", "rows a vendor reference renders with a quirk (a reply token merged with the prompt's, text the "
        "template drops beside a call, GLM-4 messages with no stop between them; masking.QUIRK_REASONS): render as "
        "the reference (counted by kind) or drop the row with the kind's reason", choices=("follow", "reject"))

    def mask_config(self) -> MaskConfig:
        return MaskConfig(truncation=self.truncation, boundary=self.boundary, special_text=self.special_text,
                          parallel_calls=self.parallel_calls, reference_quirks=self.reference_quirks)


def reason_of(err: Exception) -> str:
    """A short, countable reason code for a dropped row."""
    if isinstance(err, RowTooLong):
        return "too_long"
    if isinstance(err, ControlTextRejected):
        return "control_token_text"
    if isinstance(err, ParallelCallsUnsupported):
        return "parallel_calls_unsupported"
    if isinstance(err, FamilyError):
        return "format_cannot_express"
    if isinstance(err, MaskError) and getattr(err, "reason", None):
        return err.reason
    if isinstance(err, MaskError):
        text = str(err)
        if "prefix-preserving" in text or "token boundary" in text:
            return "template_not_prefix_preserving"
        if "no stop token" in text:
            return "no_stop_token"
        if "no assistant token" in text:
            return "nothing_to_train"
        if "drops" in text:
            return "template_drops_content"
        return "template_error"
    return "invalid_row"


def _family_arg(config: PrepareConfig, tokenizer):
    if config.family_options:
        from tooljudge.data_prep.families import get_family

        return get_family(config.family, tokenizer=tokenizer, **config.family_options)
    return config.family


def prepare_one(tokenizer, row: dict, config: PrepareConfig) -> dict[str, Any]:
    """One row -> the columns of the map step (ids, mask, and what happened)."""
    family = _family_arg(config, tokenizer)
    try:
        info = prepare_example_info(tokenizer, row, family=family, max_length=config.max_length,
                                    config=config.mask_config())
    except (MaskError, ValueError, KeyError, TypeError) as err:
        return {"input_ids": [], "assistant_masks": [], "error": reason_of(err),
                "message": f"{type(err).__name__}: {err}", "dropped_messages": 0, "untrained_turns": 0,
                "control_text": 0, "split_calls": 0, "quirks": []}
    return {"input_ids": info.input_ids, "assistant_masks": info.assistant_masks, "error": "", "message": "",
            "dropped_messages": info.dropped_messages, "untrained_turns": info.untrained_turns,
            "control_text": info.control_text, "split_calls": info.split_calls, "quirks": list(info.quirks)}


@dataclass
class PrepareReport:
    """Counts for ``report.json``."""

    rows_read: int = 0
    kept: int = 0
    dropped_by_reason: dict = field(default_factory=dict)
    truncated_rows: int = 0
    dropped_messages: int = 0
    untrained_turns: int = 0
    control_text_rows: int = 0  # kept rows whose content held control-token text, encoded as text
    parallel_split_rows: int = 0  # kept rows whose parallel calls were split into one turn per call
    reference_quirk_rows: dict = field(default_factory=dict)  # kind -> kept rows rendered with that reference quirk
    total_tokens: int = 0
    trained_tokens: int = 0
    problems: list = field(default_factory=list)
    load: dict | None = None
    config: dict | None = None
    rows_read_source: int | None = None

    @property
    def dropped(self) -> int:
        return self.rows_read - self.kept

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dropped"] = self.dropped
        return out

    def summary(self) -> str:
        lines = []
        if self.load and "rows_read" in self.load:
            lines.append(f"loader: read {self.load['rows_read']} rows, kept {self.load['kept']}, dropped "
                         f"{self.load['dropped']} {self.load.get('dropped_by_reason', {})}")
        lines.append(f"masking: rows {self.rows_read}, kept {self.kept}, dropped {self.dropped}")
        for reason, n in sorted(self.dropped_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"  dropped {reason}: {n}")
        lines.append(f"truncated rows {self.truncated_rows} ({self.dropped_messages} messages dropped); "
                     f"turns marked train=false {self.untrained_turns}")
        if self.parallel_split_rows:
            lines.append(f"rows whose parallel calls were split into one turn per call: {self.parallel_split_rows}")
        if self.control_text_rows:
            lines.append(f"rows with control-token text in content, encoded as text: {self.control_text_rows}")
        for kind, n in sorted(self.reference_quirk_rows.items()):
            lines.append(f"rows rendered with the reference quirk {kind}: {n}")
        share = self.trained_tokens / self.total_tokens if self.total_tokens else 0.0
        lines.append(f"tokens {self.total_tokens}, trained {self.trained_tokens} ({share:.1%})")
        for p in self.problems[:10]:
            lines.append(f"  row {p.get('source_row', p['row'])}: {p['message']}")
        return "\n".join(lines)


def prepare_rows(tokenizer, rows: list[dict], config: PrepareConfig, progress: bool = True):
    """Prepare canonical rows with ``datasets.map`` (``num_proc`` workers); returns ``(dataset, report)``.

    Rows travel as JSON strings so that Arrow never merges differently-shaped tool arguments into one struct.
    """
    from datasets import Dataset

    source = Dataset.from_dict({"row_json": [json.dumps(r, ensure_ascii=False) for r in rows],
                                "row_index": list(range(len(rows)))})

    def fn(batch):
        cols: dict[str, list] = {k: [] for k in ("input_ids", "assistant_masks", "error", "message",
                                                 "dropped_messages", "untrained_turns", "control_text",
                                                 "split_calls", "quirks")}
        for text in batch["row_json"]:
            out = prepare_one(tokenizer, json.loads(text), config)
            for k in cols:
                cols[k].append(out[k])
        return cols

    mapped = source.map(fn, batched=True, batch_size=64, num_proc=config.num_proc if config.num_proc > 1 else None,
                        remove_columns=["row_json"], desc="preparing rows" if progress else None)
    report = PrepareReport(rows_read=len(rows), config=asdict(config))
    reasons: Counter = Counter()
    errors = mapped["error"]
    for idx, (err, msg) in enumerate(zip(errors, mapped["message"], strict=True)):
        if err:
            reasons[err] += 1
            if len(report.problems) < MAX_PROBLEMS:
                report.problems.append({"row": idx, "reason": err, "message": msg})
    report.dropped_by_reason = dict(reasons)
    kept = mapped.filter(lambda e: not e, input_columns=["error"])
    report.kept = len(kept)
    dm = kept["dropped_messages"]
    report.truncated_rows = sum(1 for d in dm if d)
    report.dropped_messages = int(sum(dm))
    report.untrained_turns = int(sum(kept["untrained_turns"]))
    report.control_text_rows = sum(1 for c in kept["control_text"] if c)
    report.parallel_split_rows = sum(1 for c in kept["split_calls"] if c)
    report.reference_quirk_rows = dict(Counter(k for kinds in kept["quirks"] for k in kinds))
    for ids, mask in zip(kept["input_ids"], kept["assistant_masks"], strict=True):
        report.total_tokens += len(ids)
        report.trained_tokens += int(sum(mask))
    keep_cols = {"input_ids", "assistant_masks"}
    kept = kept.remove_columns([c for c in kept.column_names if c not in keep_cols])
    return kept, report


def load_rows(dataset: str, fmt: str = "auto") -> tuple[list[dict], dict]:
    """Rows from a file or ``datasets`` source through the schema loader (importers, validation, its report)."""
    from tooljudge.data_prep.sources import load_conversations

    rows, load_report = load_conversations(dataset, fmt=fmt)
    return rows, load_report.to_dict()


def attach_load_report(report: PrepareReport, load: dict | None, n_rows: int) -> None:
    """Add the loader's report and give each problem its row index in the source file (the loader drops rows,
    so the prepared rows' positions differ from the source's)."""
    report.load = load
    if not load or "rows_read" not in load:
        return
    dropped = {p["row"] for p in load.get("problems", [])}
    kept = [i for i in range(load["rows_read"]) if i not in dropped]
    if len(kept) != n_rows:
        return
    for p in report.problems:
        p["source_row"] = kept[p["row"]]
    report.rows_read_source = load["rows_read"]


def save_prepared(dataset, report: PrepareReport, output_dir: str | Path) -> Path:
    """``save_to_disk`` plus ``report.json`` in ``output_dir``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset.save_to_disk(str(out / "dataset"))
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return out
