"""JSON Lines helpers: a byte-level reader that never raises on a bad line, a strict JSON decoder with stated
limits, and writers that never leave a half-written file.

Why: one bad line must cost one row, never the file. Lines are read as bytes and decoded one by one, so invalid
UTF-8, hostile nesting, huge numbers, lone surrogates, non-finite numbers and duplicate keys each become a named,
counted reason for that row while every other row is kept. Only ``\\n`` (or ``\\r\\n``) ends a row, so a lone
``\\r`` inside a line neither splits it nor shifts later line numbers; line numbers are physical (1-based, blank
lines counted). A UTF-8 byte order mark at the start of a line is removed.

The limits (``JsonLimits``) are what every reader in the project applies; a row beyond one is dropped with the
reason named below, never truncated or silently changed:

- ``invalid_utf8``: the line is not UTF-8;
- ``line_too_long``: more than ``max_line_bytes`` bytes;
- ``json_too_deep``: arrays/objects nested more than ``max_depth`` levels;
- ``json_too_many_values``: more than ``max_values`` values in one row;
- ``number_too_long``: an integer with more than ``max_int_digits`` digits or a number written with more than
  ``max_number_chars`` characters;
- ``non_finite_number``: ``NaN``, ``Infinity``, ``-Infinity`` (not JSON) or a number that overflows to infinity;
- ``lone_surrogate``: a ``\\ud800``-style escape that is not half of a surrogate pair (not encodable as UTF-8);
- ``duplicate_key``: an object names one key twice (JSON parsers disagree on which value wins);
- ``bad_json_line``: anything else that is not one JSON value;
- ``source_truncated``: a compressed file that ends or breaks after some lines (the lines before it are kept;
  a file unreadable from its first byte raises instead).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tooljudge.file_modes import usual_file_mode

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class JsonLimits:
    """The stated limits of every JSON row the project reads (see the module docstring for the reasons)."""

    max_line_bytes: int = 8 * 1024 * 1024  # one row of JSON Lines
    max_depth: int = 64  # nested arrays/objects; chat templates and jsonschema recurse per level
    max_values: int = 200_000  # values in one row (bounds validation time)
    max_int_digits: int = 100
    max_number_chars: int = 100
    # Only for model outputs and the files the project writes from them with ``allow_nan=True`` (eval records and
    # metrics, where an undefined rate is NaN), never for training data: NaN/Infinity, and strings holding a lone
    # surrogate (a model can write ``\ud800``; the writers escape it)
    allow_non_finite: bool = False
    allow_lone_surrogates: bool = False


DEFAULT_LIMITS = JsonLimits()
# model outputs (predictions) and what ``write_jsonl(..., allow_nan=True)`` wrote: any text, NaN
OUTPUT_LIMITS = JsonLimits(allow_non_finite=True, allow_lone_surrogates=True)
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class JsonRowError(ValueError):
    """Why one JSON text cannot be a row: ``code`` is the counted reason, the message says where and what."""

    def __init__(self, code: str, message: str, column: int | None = None):
        self.code = code
        self.column = column  # 1-based column of a syntax error in a one-line text
        super().__init__(message)


# A JSON string literal (no catastrophic backtracking: each character matches one branch only).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS_ONLY = str.maketrans({c: None for c in map(chr, range(128)) if c not in "[]{}"})
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _structure_check(text: str, limits: JsonLimits) -> None:
    """Depth and value count from the text with its strings removed, before the recursive parser sees it.
    Counting on the raw text first (brackets and separators inside strings included) gives upper bounds; the
    strings are only removed when a bound is over a limit."""
    opens = text.count("[") + text.count("{")
    if opens <= limits.max_depth and text.count(",") + text.count(":") < limits.max_values:
        return
    skeleton = _STRING.sub('""', text)
    if skeleton.count(",") + skeleton.count(":") + 1 > limits.max_values:
        raise JsonRowError("json_too_many_values", f"more than {limits.max_values} values in one row")
    if skeleton.count("[") + skeleton.count("{") <= limits.max_depth:
        return
    depth = 0
    for ch in skeleton.translate(_BRACKETS_ONLY):
        if ch in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise JsonRowError("json_too_deep", f"nested more than {limits.max_depth} levels")
        else:
            depth -= 1


def _decoder(limits: JsonLimits) -> json.JSONDecoder:
    def pairs(items: list[tuple[str, Any]]) -> dict:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            dup = next(k for k, _ in items if k in seen or seen.add(k))
            raise JsonRowError("duplicate_key", f"key {dup!r} appears more than once in one object")
        return out

    def constant(name: str):
        if limits.allow_non_finite:
            return _NON_FINITE[name]
        raise JsonRowError("non_finite_number", f"{name} is not a JSON number")

    def integer(text: str) -> int:
        if len(text) > limits.max_int_digits and len(text.lstrip("-")) > limits.max_int_digits:
            raise JsonRowError("number_too_long", f"an integer has {len(text.lstrip('-'))} digits (limit "
                                                  f"{limits.max_int_digits})")
        return int(text)

    def number(text: str) -> float:
        if len(text) > limits.max_number_chars:
            raise JsonRowError("number_too_long", f"a number is written with {len(text)} characters (limit "
                                                  f"{limits.max_number_chars})")
        value = float(text)
        if not math.isfinite(value) and not limits.allow_non_finite:
            raise JsonRowError("non_finite_number", f"{text[:40]} overflows to {value}")
        return value

    return json.JSONDecoder(object_pairs_hook=pairs, parse_constant=constant, parse_int=integer,
                            parse_float=number)


_DECODERS: dict[JsonLimits, json.JSONDecoder] = {}


def strict_decoder(limits: JsonLimits = DEFAULT_LIMITS) -> json.JSONDecoder:
    """A ``json.JSONDecoder`` raising :class:`JsonRowError` on duplicate keys, non-finite or over-long numbers
    (for ``raw_decode`` over embedded JSON; depth is not checked by it, see :func:`loads`)."""
    decoder = _DECODERS.get(limits)
    if decoder is None:
        decoder = _DECODERS[limits] = _decoder(limits)
    return decoder


def check_value(value: Any, limits: JsonLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`JsonRowError` if an already-decoded value (Parquet, a list, a Python literal) breaks a limit
    or is not JSON at all (a non-finite float, a lone surrogate, a non-string key, a set, bytes, ...)."""
    budget = [limits.max_values]

    def walk(v: Any, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise JsonRowError("json_too_many_values", f"more than {limits.max_values} values in one row")
        if isinstance(v, str):
            if not limits.allow_lone_surrogates:
                _check_text(v)
        elif isinstance(v, bool) or v is None:
            return
        elif isinstance(v, int):
            if v.bit_length() > limits.max_int_digits * 3.33:
                raise JsonRowError("number_too_long", f"an integer has more than {limits.max_int_digits} digits")
        elif isinstance(v, float):
            if not math.isfinite(v) and not limits.allow_non_finite:
                raise JsonRowError("non_finite_number", f"{v} is not a JSON number")
        elif isinstance(v, (dict, list, tuple)):
            if depth >= limits.max_depth:
                raise JsonRowError("json_too_deep", f"nested more than {limits.max_depth} levels")
            if isinstance(v, dict):
                for k, item in v.items():
                    if not isinstance(k, str):
                        raise JsonRowError("not_json", f"an object key is {type(k).__name__}, not a string")
                    if not limits.allow_lone_surrogates:
                        _check_text(k)
                    walk(item, depth + 1)
            else:
                for item in v:
                    walk(item, depth + 1)
        else:
            raise JsonRowError("not_json", f"a value of type {type(v).__name__} is not JSON")

    walk(value, 0)


def _check_text(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JsonRowError("lone_surrogate", f"a string holds the lone surrogate "
                                             f"{s[exc.start]!a}, which is not encodable as UTF-8") from None


def loads(text: str | bytes, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """One JSON value under ``limits``; raises :class:`JsonRowError` (with its reason code) and nothing else."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_utf8(bytes(text))
    if text.startswith("\ufeff"):
        text = text[1:]
    _structure_check(text, limits)
    try:
        value = strict_decoder(limits).decode(text)
    except JsonRowError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRowError("bad_json_line", f"{exc.msg} at line {exc.lineno} column {exc.colno}",
                           exc.colno if exc.lineno == 1 else None) from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:  # belt and braces
        raise JsonRowError("bad_json_line", f"cannot be decoded ({type(exc).__name__})") from None
    if _SURROGATE_ESCAPE.search(text):
        check_value(value, limits)
    return value


def decode_utf8(data: bytes) -> str:
    """UTF-8 text of one line; :class:`JsonRowError` ``invalid_utf8`` naming the first bad byte's column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRowError("invalid_utf8", f"invalid UTF-8 at byte column {exc.start + 1} "
                                           f"({data[exc.start:exc.start + 4]!r})") from None


@dataclass(frozen=True)
class Line:
    """One physical line of a JSON Lines file: its 1-based number, and its value or the error that replaced it.
    ``blank`` lines are not rows."""

    number: int
    value: Any = None
    error: JsonRowError | None = None
    blank: bool = False


def _open_bytes(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def iter_lines(path: str | Path, limits: JsonLimits = DEFAULT_LIMITS) -> Iterator[Line]:
    """Every physical line of a JSON Lines file (``.gz`` gunzipped) as a :class:`Line`. Never raises on a bad
    line; an I/O error of the file itself (unreadable, a truncated gzip) propagates as ``OSError``/``EOFError``."""
    with _open_bytes(Path(path)) as fh:
        number = 0
        while True:
            try:
                raw = fh.readline(limits.max_line_bytes + 1)
                too_long = len(raw) > limits.max_line_bytes and not raw.endswith(b"\n")
                tail = raw
                while too_long and tail and not tail.endswith(b"\n"):  # skip the rest, in bounded pieces
                    tail = fh.readline(1 << 20)
            except (EOFError, OSError, zlib.error) as exc:
                if number == 0:
                    raise  # not readable at all: the caller reports the source
                yield Line(number + 1, error=JsonRowError("source_truncated", f"the file cannot be read past "
                                                                              f"line {number} ({exc})"))
                return
            if not raw:
                return
            number += 1
            if too_long:
                yield Line(number, error=JsonRowError("line_too_long", f"line is longer than "
                                                                       f"{limits.max_line_bytes} bytes"))
                continue
            if raw.startswith(BOM):
                raw = raw[len(BOM):]
            if not raw.strip():
                yield Line(number, blank=True)
                continue
            try:
                yield Line(number, value=loads(raw.rstrip(b"\r\n"), limits))
            except JsonRowError as exc:
                yield Line(number, error=exc)


def iter_rows(path: str | Path, limits: JsonLimits = DEFAULT_LIMITS) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each non-blank line; raises :class:`JsonRowError` naming ``path:line`` and the
    reason at the first bad line (for files where one bad line must stop the reader: eval sets, predictions,
    the project's own outputs)."""
    for line in iter_lines(path, limits):
        if line.error is not None:
            raise JsonRowError(line.error.code, f"{path}:{line.number}: {line.error}")
        if not line.blank:
            yield line.number, line.value


def read_jsonl(path: str | Path, limits: JsonLimits = DEFAULT_LIMITS) -> list[Any]:
    """All values of a JSON Lines file; raises :class:`JsonRowError` naming the first bad line (for files the
    project wrote itself, where a bad line means corruption, not data to skip)."""
    return [value for _, value in iter_rows(path, limits)]


def json_text(value: Any, *, allow_nan: bool = False, **kwargs: Any) -> str:
    """``json.dumps`` that any text survives: UTF-8 text where possible, ``\\u`` escapes for what UTF-8 cannot
    hold (a lone surrogate a model wrote); NaN/Infinity only with ``allow_nan`` (else ``ValueError``).
    ``kwargs`` go to ``json.dumps`` (``indent``, ``default``)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=allow_nan, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, allow_nan=allow_nan, **kwargs)
    return text


def dumps_line(value: Any, allow_nan: bool = False) -> str:
    """One JSON Lines row (:func:`json_text` on one line)."""
    return json_text(value, allow_nan=allow_nan)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename: readers see the old
    file or the whole new one, never a truncated one (a full disk raises and leaves the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600: give it the mode open() would (or the replaced file's), so a results file
        # is readable by whoever could read its folder
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else usual_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_jsonl(rows: Iterable[Any], path: str | Path, allow_nan: bool = False) -> Path:
    """Rows as JSON Lines, written whole or not at all (see :func:`atomic_write_text`). ``allow_nan``: eval
    records may hold NaN (read them back with ``OUTPUT_LIMITS``)."""
    return atomic_write_text(path, "".join(dumps_line(row, allow_nan) + "\n" for row in rows))
