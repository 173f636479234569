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
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tooljudge.data_prep.importers import (
    DATASET_FORMATS,
    DEFAULT_OPTIONS,
    ImportOptions,
    detect_format,
    import_row,
)
from tooljudge.data_prep.jsonl import JsonRowError, check_value, iter_lines
from tooljudge.data_prep.jsonl import loads as json_loads
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


def _line_problem(error: JsonRowError) -> Problem:
    if error.code == "bad_json_line":
        where = f"{error.args[0].split(' at line ')[0]} at column {error.column}" if error.column else error
        return Problem("bad_json_line", f"row is not valid JSON ({where})")
    return Problem(error.code, f"row is not usable JSON: {error}")


def _jsonl_rows(path: Path, report: LoadReport) -> Iterator[_Raw]:
    """Rows of a JSON Lines file, read as bytes line by line (see :mod:`tooljudge.data_prep.jsonl`): a line that
    is not a JSON value within the limits becomes a problem of its row, never an exception."""
    index = 0
    for line in iter_lines(path):
        if line.blank:
            report.blank_lines += 1
            continue
        problem = _line_problem(line.error) if line.error else None
        yield index, line.number, line.value, problem
        index += 1


def _lenient_decoder() -> json.JSONDecoder:
    """Finds where one JSON value ends without converting anything that could fail (numbers, constants)."""
    return json.JSONDecoder(object_pairs_hook=lambda pairs: None, parse_int=lambda s: None,
                            parse_float=lambda s: None, parse_constant=lambda s: None)


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _json_rows(path: Path, report: LoadReport) -> Iterator[_Raw]:
    """Rows of a .json file: a list of rows (each element checked on its own, so one bad element costs one
    row), one row object, or JSON Lines under a .json name."""
    raw = path.read_bytes() if path.suffix.lower() != ".gz" else gzip.decompress(path.read_bytes())
    text = raw.decode("utf-8", errors="surrogateescape")  # a bad byte becomes a problem of its element
    if text.startswith("\ufeff"):
        text = text[1:]
    scanner = _lenient_decoder()
    start = _skip_ws(text, 0)
    if text[start:start + 1] != "[":
        try:
            _, end = scanner.raw_decode(text, start)
            whole = _skip_ws(text, end) == len(text)
        except (json.JSONDecodeError, RecursionError, MemoryError):
            whole = False
        if not whole and _is_json_lines(scanner, text, start):
            yield from _jsonl_rows(path, report)  # line by line: a bad line costs only its row
            return
        if _ESCAPED_BYTE.search(text):
            yield 0, None, None, Problem("invalid_utf8", "row is not usable JSON: it holds bytes that are not UTF-8")
            return
        try:
            value = json_loads(text[start:])
        except JsonRowError as exc:
            yield 0, None, None, _line_problem(exc)
            return
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a JSON list of rows, got {type(value).__name__}")
        yield 0, None, value, None
        return
    pos, index = start + 1, 0
    while True:
        pos = _skip_ws(text, pos)
        if text[pos:pos + 1] == "]":
            return
        try:
            _, end = scanner.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError, MemoryError) as exc:
            reason = "json_too_deep" if isinstance(exc, RecursionError) else "bad_json_line"
            yield index, None, None, Problem(reason, f"element {index} and the rest of the file are not readable "
                                                     f"JSON ({type(exc).__name__}: {str(exc)[:80]})")
            return
        element = text[pos:end]
        if _ESCAPED_BYTE.search(element):
            yield index, None, None, Problem("invalid_utf8", "row is not usable JSON: it holds bytes that are "
                                                             "not UTF-8")
        else:
            try:
                yield index, None, json_loads(element), None
            except JsonRowError as exc:
                yield index, None, None, _line_problem(exc)
        index += 1
        pos = _skip_ws(text, end)
        if text[pos:pos + 1] == ",":
            pos += 1
        elif text[pos:pos + 1] != "]":
            yield index, None, None, Problem("bad_json_line", f"element {index} and the rest of the file are not "
                                                              f"readable JSON (expected ',' or ']')")
            return


_WS = re.compile(r"[ \t\n\r]*")


def _skip_ws(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON whitespace (no copy of the text)."""
    return _WS.match(text, pos).end()


def _is_json_lines(scanner: json.JSONDecoder, text: str, start: int, probe: int = 5) -> bool:
    """Whether a .json file that is not one JSON value is JSON Lines: it has two or more non-blank lines and one
    of the first ``probe`` is a whole JSON object on its own."""
    lines = [x.strip(" \t\r") for x in text[start:].split("\n", 64)[:64]]
    lines = [x for x in lines if x]
    if len(lines) < 2:
        return False
    for line in lines[:probe]:
        if not line.startswith("{"):
            continue
        try:
            _, end = scanner.raw_decode(line)
        except (json.JSONDecodeError, RecursionError, MemoryError):
            continue
        if end == len(line):
            return True
    return False


def _parquet_rows(path: Path) -> Iterator[_Raw]:
    import pyarrow.parquet as pq

    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield index, None, drop_nulls(row), None
            index += 1


def checked(rows: Iterable[tuple[int, int | None, Any, Problem | None]]) -> Iterator[_Raw]:
    """Rows that did not come through the JSON decoder (Parquet, datasets, lists) checked against the same
    limits: a NaN, a lone surrogate or a nesting beyond the limit is a problem of its row."""
    for index, line, row, problem in rows:
        if problem is None:
            try:
                check_value(row)
            except JsonRowError as exc:
                row, problem = None, _line_problem(exc)
        yield index, line, row, problem


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

            return checked(_parquet_rows(path)), pq.ParquetFile(path).metadata.num_rows
        raise ValueError(f"{path}: unsupported file type {kind or '(none)'}; use .jsonl, .json (optionally .gz) "
                         f"or .parquet")
    import datasets

    if isinstance(source, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise TypeError(f"got a dataset dict with splits {list(source)}: pass one split, e.g. ds['train']")
    if isinstance(source, (datasets.Dataset, datasets.IterableDataset)):
        report.source = report.source or f"datasets.{type(source).__name__}"
        total = len(source) if isinstance(source, datasets.Dataset) else None
        return checked((i, None, drop_nulls(row), None) for i, row in enumerate(source)), total
    if isinstance(source, dict):
        raise TypeError("got one row (a dict): pass a list of rows")
    if isinstance(source, Iterable):
        report.source = report.source or type(source).__name__
        total = len(source) if hasattr(source, "__len__") else None
        return checked((i, None, row, None) for i, row in enumerate(source)), total
    raise TypeError(f"cannot read conversations from {type(source).__name__}: pass a path (.jsonl/.json/.parquet "
                    f"or a save_to_disk folder), a datasets.Dataset or a list of rows")


def convert_row(row: Any, fmt: str = "auto", options: ImportOptions = DEFAULT_OPTIONS
                ) -> tuple[str | None, dict | None, list[Problem]]:
    """(format used, canonical row or None, problems) for one source row. Never raises on bad data."""
    used = None
    try:
        used = detect_format(row) if fmt == "auto" else fmt
        _, raw = import_row(row, used, options)
        conv, problems = check_conversation(raw)
    except SchemaError as exc:
        return used, None, exc.problems
    except (RecursionError, MemoryError) as exc:  # limits should prevent this; a row must never stop the run
        return used, None, [Problem("row_too_complex", f"row could not be checked ({type(exc).__name__})")]
    return used, conv, problems


def load_conversations(source: Any, fmt: str = "auto", options: ImportOptions | None = None,
                       strict: bool = False, progress: bool | None = None,
                       positions: list[tuple[int, int | None]] | None = None) -> tuple[list[dict], LoadReport]:
    """Canonical rows from ``source`` and a report of every row kept or dropped (with its index and problem).

    ``fmt`` is ``auto`` (detected per row) or a registered format (``importers.DATASET_FORMATS``: ``openai |
    sharegpt | glaive | xlam | hermes``).
    ``strict=True`` raises :class:`SchemaError` at the first bad row instead of dropping it.
    ``progress=None`` shows a bar on a terminal only.
    ``positions``, if given, receives ``(0-based row index, 1-based line or None)`` of each kept row, in order
    (so a later stage can name a row by its place in the file).
    """
    if fmt != "auto":
        DATASET_FORMATS.get(fmt)  # an unknown name: the registry's error, naming the closest format
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
            if positions is not None:
                positions.append((index, line))
    return rows, report


def load_records(source: Any, label: str = "records", progress: bool | None = False,
                 positions: list[tuple[int, int | None]] | None = None) -> tuple[list[dict], LoadReport]:
    """JSON objects from any source through the same readers and limits as conversations (preference pairs,
    judge rows): each row that cannot be read, or is not an object, is dropped, counted and named in the report.
    The rows' own fields are checked by their consumer. ``positions``: as in :func:`load_conversations`."""
    report = LoadReport(fmt=label)
    raw_rows, total = _open(source, report)
    rows: list[dict] = []
    for index, line, row, problem in tqdm(raw_rows, total=total, desc=label, unit="row",
                                          disable=(not progress) if progress is not None else None):
        if problem is None and not isinstance(row, dict):
            problem = Problem("row_not_object", f"row: expected an object, got {type(row).__name__}")
        report.add_row(index, [problem] if problem else [], None, line)
        if problem is None:
            rows.append(row)
            if positions is not None:
                positions.append((index, line))
    return rows, report
