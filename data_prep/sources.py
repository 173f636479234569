"""Read conversation rows from JSON Lines, JSON, Parquet, a ``datasets`` dataset or a list, and turn them into
canonical rows with a :class:`LoadReport` of every row kept or dropped.

A bad row never stops the run: its problems are recorded with its 0-based row index (and 1-based line for JSON
Lines) and the next row is read. Only a source that cannot be opened at all raises.

Arrow-backed sources (Parquet, ``datasets``) unify the struct fields of all rows, so a key absent from one row
reads back as ``null`` there. Null values are therefore removed from those rows before import; a genuine
``null`` inside ``arguments`` or a tool schema is lost with them. Store ``arguments`` and ``tools`` as JSON
strings in Parquet to keep them exact.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tooljudge.data_prep.importers import DEFAULT_OPTIONS, FORMATS, ImportOptions, detect_format, import_row
from tooljudge.data_prep.schema import LoadReport, Problem, SchemaError, check_conversation
from tqdm.auto import tqdm

# (row index, 1-based line or None, row value or None, problem when the row could not even be read)
_Raw = tuple[int, int | None, Any, Problem | None]


def drop_nulls(value: Any) -> Any:
    """``value`` without null-valued keys, recursively (undoes Arrow's struct unification)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def _text_open(path: Path):
    """Text of a file, gunzipped when it ends in .gz."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl_rows(path: Path, report: LoadReport) -> Iterator[_Raw]:
    index = 0
    with _text_open(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                report.blank_lines += 1
                continue
            try:
                yield index, line_no, json.loads(line.rstrip("\r\n")), None
            except json.JSONDecodeError as exc:
                yield index, line_no, None, Problem("bad_json_line", f"row is not valid JSON ({exc.msg} at "
                                                                     f"column {exc.colno})")
            index += 1


def _json_rows(path: Path, report: LoadReport) -> Iterator[_Raw]:
    with _text_open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines in a .json file
            yield from _jsonl_rows(path, report)
            return
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")
    for i, row in enumerate(data):
        yield i, None, row, None


def _parquet_rows(path: Path) -> Iterator[_Raw]:
    import pyarrow.parquet as pq

    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield index, None, drop_nulls(row), None
            index += 1


def _open(source: Any, report: LoadReport) -> tuple[Iterable[_Raw], int | None]:
    """(rows, total or None) for any supported source."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        report.source = str(path)
        if path.is_dir():
            import datasets

            return _open(datasets.load_from_disk(str(path)), report)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file (hub ids are not fetched here: load it with "
                                    f"datasets.load_dataset and pass the Dataset)")
        suffixes = [x.lower() for x in path.suffixes]
        kind = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else "".join(suffixes[-1:])
        if kind == ".jsonl":
            return _jsonl_rows(path, report), None
        if kind == ".json":
            return _json_rows(path, report), None
        if kind == ".parquet":
            import pyarrow.parquet as pq

            return _parquet_rows(path), pq.ParquetFile(path).metadata.num_rows
        raise ValueError(f"{path}: unsupported file type {kind or '(none)'}; use .jsonl, .json (optionally .gz) "
                         f"or .parquet")
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        datasets = None
    if datasets is not None:
        if isinstance(source, (datasets.DatasetDict, datasets.IterableDatasetDict)):
            raise TypeError(f"got a dataset dict with splits {list(source)}: pass one split, e.g. ds['train']")
        if isinstance(source, (datasets.Dataset, datasets.IterableDataset)):
            report.source = report.source or f"datasets.{type(source).__name__}"
            total = len(source) if isinstance(source, datasets.Dataset) else None
            return ((i, None, drop_nulls(row), None) for i, row in enumerate(source)), total
    if isinstance(source, dict):
        raise TypeError("got one row (a dict): pass a list of rows")
    if isinstance(source, Iterable):
        report.source = report.source or type(source).__name__
        total = len(source) if hasattr(source, "__len__") else None
        return ((i, None, row, None) for i, row in enumerate(source)), total
    raise TypeError(f"cannot read conversations from {type(source).__name__}: pass a path (.jsonl/.json/.parquet "
                    f"or a save_to_disk folder), a datasets.Dataset or a list of rows")


def convert_row(row: Any, fmt: str = "auto", options: ImportOptions = DEFAULT_OPTIONS
                ) -> tuple[str | None, dict | None, list[Problem]]:
    """(format used, canonical row or None, problems) for one source row. Never raises on bad data."""
    used = None
    try:
        used = detect_format(row) if fmt == "auto" else fmt
        _, raw = import_row(row, used, options)
    except SchemaError as exc:
        return used, None, exc.problems
    conv, problems = check_conversation(raw)
    return used, conv, problems


def load_conversations(source: Any, fmt: str = "auto", options: ImportOptions | None = None,
                       strict: bool = False, progress: bool | None = None) -> tuple[list[dict], LoadReport]:
    """Canonical rows from ``source`` and a report of every row kept or dropped (with its index and problem).

    ``fmt`` is ``auto`` (detected per row) or one of ``openai | sharegpt | glaive | xlam | hermes``.
    ``strict=True`` raises :class:`SchemaError` at the first bad row instead of dropping it.
    ``progress=None`` shows a bar on a terminal only.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    options = options or ImportOptions()
    report = LoadReport(fmt=fmt)
    raw_rows, total = _open(source, report)
    rows: list[dict] = []
    bar = tqdm(raw_rows, total=total, desc="conversations", unit="row",
               disable=(not progress) if progress is not None else None)
    for index, line, row, read_problem in bar:
        if read_problem is not None:
            used, conv, problems = None, None, [read_problem]
        else:
            used, conv, problems = convert_row(row, fmt, options)
        if problems and strict:
            where = f"row {index}" + (f" (line {line})" if line is not None else "")
            raise SchemaError([Problem(p.code, f"{where}: {p.message}") for p in problems])
        report.add_row(index, problems, used, line)
        if conv is not None:
            rows.append(conv)
    return rows, report


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    """Write canonical rows as JSON Lines (arguments stay objects; load them back with fmt='openai')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
