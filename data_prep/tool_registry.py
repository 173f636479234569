"""Tool registry: typed Python functions become JSON-schema tool specs (one source of truth).

Why: a tool's signature and docstring are what the model is shown, what arguments are checked against and what
actually runs. Deriving the spec from the function keeps the three from drifting apart. Docstrings follow the
Google style (a summary paragraph, then ``Args:`` with one ``name: description`` entry per parameter); every
parameter must be documented and annotated, so a missing description is an error at registration, not a silent
hole in the prompt.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import jsonschema
from tooljudge.data_prep.json_schema import (
    NO_RETRIEVAL,
    SchemaRefused,
    bounded,
    check_schema_safety,
    iter_errors_safely,
)

__all__ = [
    "Tool",
    "ToolRegistry",
    "RegistryError",
    "function_to_spec",
    "argument_problems",
]


class RegistryError(ValueError):
    """A function cannot become a tool (missing annotation or description, unsupported type, name clash)."""


_SCALARS: dict[type, dict] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def _type_schema(annotation: Any, where: str) -> dict:
    """JSON schema of one annotation; ``where`` names the parameter in errors."""
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1 or next(iter(kinds)) not in _SCALARS:
            raise RegistryError(f"{where}: Literal values must share one scalar type, got {args}")
        return {**_SCALARS[next(iter(kinds))], "enum": list(args)}
    if origin in (list, tuple) or annotation in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise RegistryError(f"{where}: only variable-length tuple[T, ...] is supported")
        schema: dict = {"type": "array"}
        if args:
            schema["items"] = _type_schema(args[0], where)
        return schema
    if origin is dict or annotation is dict:
        schema = {"type": "object"}
        if args:
            if args[0] is not str:
                raise RegistryError(f"{where}: dict keys must be str in JSON")
            schema["additionalProperties"] = _type_schema(args[1], where)
        return schema
    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _type_schema(non_none[0], where)
        return {"anyOf": [_type_schema(a, where) for a in non_none]}
    raise RegistryError(f"{where}: unsupported annotation {annotation!r}")


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Examples?|Notes?):\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Summary (first paragraph, joined) and per-argument descriptions from a Google-style docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    i = 0
    while i < len(lines) and lines[i].strip() and not _SECTION.match(lines[i]):
        summary.append(lines[i].strip())
        i += 1
    params: dict[str, str] = {}
    section = None
    current = None
    entry_indent = None
    for line in lines[i:]:
        head = _SECTION.match(line)
        if head:
            section, current, entry_indent = head.group(1), None, None
            continue
        if section not in ("Args", "Arguments", "Parameters") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        entry = _ARG_LINE.match(line)
        if entry and (entry_indent is None or indent == entry_indent):
            entry_indent = indent
            current = entry.group(1).lstrip("*")
            params[current] = entry.group(3).strip()
        elif current is not None:
            params[current] = (params[current] + " " + line.strip()).strip()
    return " ".join(summary), params


def function_to_spec(fn: Callable, name: str | None = None) -> dict:
    """OpenAI-style tool spec ``{"type": "function", "function": {name, description, parameters}}``.

    Parameters without a default are required; ``Optional[T]`` parameters must have a default. Raises
    ``RegistryError`` naming the function and parameter when the signature or docstring is incomplete.
    """
    tool_name = name or fn.__name__
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", tool_name):
        raise RegistryError(f"{tool_name!r}: tool names must be identifiers of at most 64 characters")
    if not fn.__doc__:
        raise RegistryError(f"{tool_name}: a tool needs a docstring (summary + Args:)")
    summary, descriptions = _parse_docstring(fn.__doc__)
    if not summary:
        raise RegistryError(f"{tool_name}: the docstring has no summary line")
    hints = typing.get_type_hints(fn)
    properties: dict[str, dict] = {}
    required: list[str] = []
    for pname, param in inspect.signature(fn).parameters.items():
        where = f"{tool_name}({pname})"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise RegistryError(f"{where}: tools take keyword arguments only (no *args/**kwargs/positional-only)")
        if pname not in hints:
            raise RegistryError(f"{where}: missing type annotation")
        if pname not in descriptions or not descriptions[pname]:
            raise RegistryError(f"{where}: missing description in the docstring's Args: section")
        schema = _type_schema(hints[pname], where)
        schema["description"] = descriptions[pname]
        if param.default is inspect.Parameter.empty:
            if type(None) in get_args(hints[pname]):
                raise RegistryError(f"{where}: Optional parameters need a default")
            required.append(pname)
        elif param.default is not None:
            schema["default"] = param.default
        properties[pname] = schema
    extra = set(descriptions) - set(properties)
    if extra:
        raise RegistryError(f"{tool_name}: docstring documents unknown parameters {sorted(extra)}")
    return {
        "type": "function",
        "function": {
            "name": tool_name,
            "description": summary,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def _strict_checker() -> jsonschema.TypeChecker:
    """Python-exact JSON types, as BFCL checks them: bool is never a number, float never an integer."""

    def is_int(_, x):
        return isinstance(x, int) and not isinstance(x, bool)

    def is_number(_, x):
        return isinstance(x, int | float) and not isinstance(x, bool)

    return jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": is_int, "number": is_number})


_StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_strict_checker())


@functools.lru_cache(maxsize=1024)
def _strict_validator(schema_json: str):
    """The exact-type validator of one schema (checked for safety first); cached because every call of a tool
    validates against the same schema."""
    schema = json.loads(schema_json)
    check_schema_safety(schema)
    return bounded(_StrictValidator)(schema, registry=NO_RETRIEVAL)


def argument_problems(spec: dict, arguments: Any) -> list[str]:
    """Why ``arguments`` do not fit a tool spec (empty list = they fit).

    Unknown parameters are problems (a hallucinated argument must not pass silently), and types are exact.
    """
    fn = spec.get("function", spec)
    name = fn.get("name", "?")
    if not isinstance(arguments, dict):
        return [f"{name}: arguments must be a JSON object, got {type(arguments).__name__}"]
    schema = dict(fn.get("parameters") or {"type": "object", "properties": {}})
    schema["additionalProperties"] = False
    problems = []
    try:  # bounded patterns, no $ref retrieval (data_prep/json_schema.py)
        errors = iter_errors_safely(_strict_validator(json.dumps(schema, sort_keys=True)), arguments)
    except SchemaRefused as exc:
        return [f"{name}: {exc.code}: {exc}"]
    except (TypeError, ValueError) as exc:  # a spec that is not JSON
        return [f"{name}: the tool's parameters are not a JSON schema ({exc})"]
    for err in sorted(errors, key=lambda e: list(map(str, e.path))):
        path = ".".join(str(p) for p in err.path)
        problems.append(f"{name}: {path + ': ' if path else ''}{err.message}")
    return problems


@dataclass(frozen=True)
class Tool:
    """A registered tool: the function that runs, its spec, and a capability group (distractor choice)."""

    name: str
    fn: Callable[..., Any]
    spec: dict
    group: str = "misc"


@dataclass
class ToolRegistry:
    """Named tools. ``version`` changes on every registration so sandboxes know to restart their worker."""

    tools: dict[str, Tool] = field(default_factory=dict)
    version: int = 0

    def register(
        self,
        fn: Callable | None = None,
        *,
        name: str | None = None,
        group: str = "misc",
        replace: bool = False,
    ):
        """Register ``fn`` (usable as ``@registry.register`` or ``@registry.register(group="math")``)."""

        def _do(f: Callable) -> Callable:
            spec = function_to_spec(f, name)
            tool_name = spec["function"]["name"]
            if tool_name in self.tools and not replace:
                raise RegistryError(f"{tool_name}: already registered (pass replace=True to override)")
            self.tools[tool_name] = Tool(tool_name, f, spec, group)
            self.version += 1
            return f

        return _do(fn) if fn is not None else _do

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __getitem__(self, name: str) -> Tool:
        try:
            return self.tools[name]
        except KeyError:
            raise KeyError(f"unknown tool {name!r}; registered: {sorted(self.tools)}") from None

    def __len__(self) -> int:
        return len(self.tools)

    def names(self) -> list[str]:
        return sorted(self.tools)

    def specs(self, names: Iterable[str] | None = None) -> list[dict]:
        """Tool specs in the given order (all, sorted by name, when ``names`` is None)."""
        return [self[n].spec for n in (self.names() if names is None else names)]

    def check_arguments(self, name: str, arguments: Any) -> list[str]:
        if name not in self.tools:
            return [f"unknown tool {name!r}"]
        return argument_problems(self.tools[name].spec, arguments)

    def copy(self) -> ToolRegistry:
        return ToolRegistry(dict(self.tools), self.version)
