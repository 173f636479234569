"""What is wrong with a row: the problem record, the error that carries a list of them, and JSON-string decoding
that reports the limit a value broke.

Why a module of its own: the schema (canonical form, validation) and the importers (other dataset formats) both
report problems this way, and the schema points a row of another format at its importer; with these shared
pieces below both, neither imports the other's dependencies back (no import cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tooljudge.data_prep.jsonl import JsonRowError
from tooljudge.data_prep.jsonl import loads as json_loads


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a row: a stable ``code`` (the reason counted in reports) and a message for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class SchemaError(ValueError):
    """A row that cannot be put in the canonical form; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


def type_name(value: Any) -> str:
    """'an object', 'a list', ... for messages about a value of the wrong type."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


class JsonError(str):
    """An error message that also carries the reason ``code`` of :mod:`tooljudge.data_prep.jsonl`
    (``duplicate_key``, ``non_finite_number``, ...; ``bad_json_line`` for plain syntax errors)."""

    code: str

    def __new__(cls, code: str, message: str) -> JsonError:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj


def json_code(error: Any, default: str) -> str:
    """The reason to count for a JSON string that failed to parse: its limit's code (``duplicate_key``,
    ``lone_surrogate``, ...) when a limit was the cause, else ``default`` (the caller's syntax-error code)."""
    code = getattr(error, "code", None)
    return code if code and code != "bad_json_line" else default


def parse_json_value(value: Any) -> tuple[Any, str | None]:
    """Decode a JSON string under the project's limits; other values pass through.
    Returns (value, error message or None); the error is a :class:`JsonError` carrying the reason code."""
    if not isinstance(value, str):
        return value, None
    try:
        return json_loads(value), None
    except JsonRowError as exc:
        return None, JsonError(exc.code, str(exc))
