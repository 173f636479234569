"""JSON-schema validation of tool arguments that never fetches, never reads a file and never hangs.

Why: a tool's ``parameters`` come from the data, so they are hostile input too. jsonschema on its own would
retrieve a remote ``$ref`` (``http://``, and ``file://`` through urllib), and its ``pattern`` checks use Python's
backtracking ``re``, where ``^(a+)+$`` takes exponential time. Here:

- ``$ref`` (and ``$dynamicRef``/``$recursiveRef``) must be local: ``#`` or ``#/json/pointer`` into the schema
  itself (or ``#name`` naming an ``$anchor``). Anything else is the reason ``schema_remote_ref``; a local
  reference that points at nothing is ``schema_unresolvable_ref``. Validators are built with a ``referencing``
  registry whose ``retrieve`` refuses every URI, so even a reference that slips past the check (a ``$id``
  re-basing a subschema) is refused, never fetched; the refusal is ``schema_unresolvable_ref`` too, and a
  reference cycle without progress is ``schema_recursive_ref``.
- ``pattern``, ``patternProperties`` and ``additionalProperties`` (which consults ``patternProperties``) run
  through the third-party ``regex`` package with a timeout: every pattern search of one validation shares a
  budget (``PATTERN_BUDGET_S``), and a search that would exceed it stops with the reason ``pattern_timeout``.
  ``unevaluatedProperties`` alongside ``patternProperties`` would search with ``re`` inside jsonschema, so that
  combination is refused (``schema_unsupported``), as are patterns over ``MAX_PATTERN_CHARS`` characters and
  patterns ``regex`` cannot compile (``bad_tool_schema``).
- ``uniqueItems`` compares items through hashable stand-ins (linear time), not pairwise.
- Every keyword call checks a deadline (``VALIDATION_BUDGET_S`` per validation), so a schema and arguments whose
  combination explodes (``anyOf`` of many subschemas over a long array) stop with ``validation_timeout``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import regex
from jsonschema.exceptions import ValidationError

PATTERN_BUDGET_S = 0.5  # all pattern searches of one validation together
VALIDATION_BUDGET_S = 2.0  # one validation, all keywords
MAX_PATTERN_CHARS = 1000
REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")


class SchemaRefused(ValueError):
    """A tool schema the project will not use: ``code`` is the counted reason."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


class PatternTimeout(SchemaRefused):
    """A ``pattern`` search ran past the validation's budget."""

    def __init__(self, pattern: str):
        super().__init__("pattern_timeout", f"pattern {_clip(pattern)} did not finish within the "
                                            f"{PATTERN_BUDGET_S:g} s budget (catastrophic backtracking?)")


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _refuse(uri: str):
    """The registry's ``retrieve``: nothing outside the schema is ever read."""
    raise referencing.exceptions.NoSuchResource(ref=uri)


NO_RETRIEVAL = referencing.Registry(retrieve=_refuse)

# ------------------------------------------------------------------------------------------- bounded regex
_deadline = threading.local()


@contextlib.contextmanager
def pattern_budget(seconds: float = PATTERN_BUDGET_S) -> Iterator[None]:
    """All pattern searches inside share ``seconds`` of time."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str):
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SchemaRefused("schema_unsupported", f"pattern is {len(pattern)} characters long (limit "
                                                  f"{MAX_PATTERN_CHARS})")
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError, ValueError, MemoryError) as exc:
        raise SchemaRefused("bad_tool_schema", f"pattern {_clip(pattern)} is not a valid regular expression "
                                               f"({type(exc).__name__}: {str(exc)[:80]})") from None


_timed_out: dict[str, int] = {}  # pattern -> shortest text it ran out of time on


def bounded_search(pattern: str, text: str) -> bool:
    """``re.search(pattern, text)`` semantics (``regex`` in its re-compatible mode), within the budget.

    ``regex`` checks its timeout periodically, so a search stops within a few times the budget (measured:
    0.5 s budget, 0.8-1.7 s on a loaded 2-core machine). A pattern that timed out on a text is refused at once
    on texts at least as long for the rest of the process (backtracking grows with the length), so a file
    repeating it costs one timeout, not one per row."""
    if len(text) >= _timed_out.get(pattern, len(text) + 1):
        raise PatternTimeout(pattern)
    compiled = _compiled(pattern)
    at = getattr(_deadline, "at", None)
    remaining = PATTERN_BUDGET_S if at is None else at - time.monotonic()
    if remaining <= 0:
        raise PatternTimeout(pattern)
    try:
        return compiled.search(text, timeout=remaining) is not None
    except TimeoutError:
        _timed_out[pattern] = min(len(text), _timed_out.get(pattern, len(text)))
        raise PatternTimeout(pattern) from None


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not bounded_search(patrn, instance):
        yield ValidationError(f"{_clip(instance)} does not match {_clip(patrn)}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if bounded_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = {k for k in instance if k not in properties and not any(bounded_search(p, k) for p in patterns)}
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        names = ", ".join(repr(e) for e in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


def _json_key(value: Any) -> Any:
    """A hashable stand-in with JSON equality (1 == 1.0, true != 1, objects unordered)."""
    if isinstance(value, dict):
        return ("object", frozenset((k, _json_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_json_key(v) for v in value))
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    return ("number" if isinstance(value, (int, float)) else "string", value)


def _unique_items(validator, unique, instance, schema):
    """``uniqueItems`` in linear time (jsonschema compares unhashable items pairwise: 14.6 s for 2000
    objects, measured)."""
    if unique and validator.is_type(instance, "array"):
        keys = [_json_key(item) for item in instance]
        if len(set(keys)) != len(keys):
            yield ValidationError(f"{_clip(json.dumps(instance, default=str))} has non-unique elements")


_OVERRIDES = {"pattern": _pattern, "patternProperties": _pattern_properties,
              "additionalProperties": _additional_properties, "uniqueItems": _unique_items}


class ValidationTimeout(SchemaRefused):
    """One validation ran past ``VALIDATION_BUDGET_S`` (a schema and arguments whose combination explodes)."""

    def __init__(self):
        super().__init__("validation_timeout", f"checking the arguments took over {VALIDATION_BUDGET_S:g} s "
                                               f"(a schema and arguments whose combination explodes)")


def _timed(keyword):
    """A keyword function that first checks the validation's deadline: every keyword of every subschema
    passes here, so no combination of schema and instance runs far past the budget."""

    def checked(validator, value, instance, schema):
        at = getattr(_deadline, "validation", None)
        if at is not None and time.monotonic() > at:
            raise ValidationTimeout()
        return keyword(validator, value, instance, schema)

    return checked


@functools.cache
def bounded(base: type) -> type:
    """``base`` (a jsonschema validator class) with the pattern keywords above and every keyword under the
    validation deadline."""
    keywords = {**base.VALIDATORS, **_OVERRIDES}
    return jsonschema.validators.extend(base, validators={k: _timed(fn) for k, fn in keywords.items()})


# -------------------------------------------------------------------------------------------- static checks
def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def _pointer(root: Any, fragment: str) -> bool:
    """Whether the JSON pointer ``fragment`` (after ``#``) names a value inside ``root``."""
    from urllib.parse import unquote

    node = root
    for part in unquote(fragment).split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def check_schema_safety(schema: dict) -> None:
    """Raise :class:`SchemaRefused` for a schema that would need retrieval, an unresolvable local reference,
    an over-long or invalid pattern, or ``re`` inside jsonschema (see the module docstring)."""
    anchors = set()
    nodes = list(_walk(schema))
    for _, node in nodes:
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(key), str):
                anchors.add(node[key])
        if isinstance(node.get("$id"), str) and node["$id"].startswith("#"):
            anchors.add(node["$id"][1:])
    uses_patterns = uses_unevaluated = False
    for where, node in nodes:
        for key in REF_KEYS:
            ref = node.get(key)
            if ref is None:
                continue
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SchemaRefused("schema_remote_ref", f"{where}: {key} {_clip(str(ref))} is not a local "
                                                         f"reference ('#/...'); nothing outside the schema is read")
            fragment = ref[1:]
            if fragment.startswith("/") or not fragment:
                if not _pointer(schema, fragment):
                    raise SchemaRefused("schema_unresolvable_ref", f"{where}: {key} {_clip(ref)} points at "
                                                                   f"nothing in the schema")
            elif fragment not in anchors:
                raise SchemaRefused("schema_unresolvable_ref", f"{where}: {key} {_clip(ref)} names no $anchor "
                                                               f"of the schema")
        if isinstance(node.get("pattern"), str):
            _compiled(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            uses_patterns = True
            for pattern in node["patternProperties"]:
                _compiled(pattern)
        if "unevaluatedProperties" in node:
            uses_unevaluated = True
    if uses_patterns and uses_unevaluated:
        raise SchemaRefused("schema_unsupported", "unevaluatedProperties together with patternProperties is not "
                                                  "supported (its pattern search could not be bounded in time)")


def validator_for(schema: dict, base: type | None = None, default: type = jsonschema.Draft7Validator):
    """A validator for ``schema`` with bounded patterns and no retrieval (``base``: a class to extend instead of
    the one ``$schema`` names)."""
    cls = bounded(base or jsonschema.validators.validator_for(schema, default=default))
    return cls(schema, registry=NO_RETRIEVAL)


def iter_errors_safely(validator, instance: Any) -> list[ValidationError]:
    """Every validation error, within the pattern budget; raises :class:`SchemaRefused` with the reason when
    validation cannot finish (a pattern timeout, a reference refused or looping)."""
    previous = getattr(_deadline, "validation", None)
    _deadline.validation = time.monotonic() + VALIDATION_BUDGET_S
    try:
        with pattern_budget():
            return list(validator.iter_errors(instance))
    except SchemaRefused:
        raise
    except referencing.exceptions.Unresolvable as exc:
        raise SchemaRefused("schema_unresolvable_ref", f"reference {_clip(str(getattr(exc, 'ref', exc)))} is not "
                                                       f"in the schema (nothing is retrieved)") from None
    except RecursionError:
        raise SchemaRefused("schema_recursive_ref", "validation recursed without end (a $ref cycle?)") from None
    finally:
        _deadline.validation = previous
