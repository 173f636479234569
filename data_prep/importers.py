"""Importers from the tool-use formats people already have to the canonical OpenAI-style row.

Each importer turns one source row into ``{"messages", "tools"}`` (which :func:`normalize_conversation` then
finishes: ids, links, argument parsing) or raises :class:`SchemaError` naming what it could not read.

- ``openai``: ``messages`` (+ ``tools``, or legacy ``functions``), passed through.
- ``sharegpt`` (LLaMA-Factory's tool form): ``conversations`` of ``{"from", "value"}`` with ``human | gpt |
  function_call | observation | system`` turns; ``function_call`` holds ``{"name", "arguments"}`` as JSON (a
  list for parallel calls); ``tools`` is a JSON string (or list) of bare tool specs; optional ``system`` field.
- ``glaive`` (glaiveai/glaive-function-calling-v2): ``system`` = ``"SYSTEM: You are a helpful assistant with
  access to the following functions. Use them if required -"`` followed by JSON function specs, and one ``chat``
  string with ``USER:``, ``ASSISTANT:`` (``<functioncall> {"name": ..., "arguments": '{...}'}``, note the
  single-quoted JSON string), ``FUNCTION RESPONSE:`` turns and ``<|endoftext|>`` after assistant turns.
- ``xlam`` (Salesforce/xlam-function-calling-60k, APIGen): ``query``, ``tools`` and ``answers`` as JSON strings;
  tool parameters are ``{param: {"type": "str", "description", "default"}}`` with Python type names, converted
  to a JSON schema. Becomes a user turn and one assistant turn with (parallel) calls.
- ``hermes`` (NousResearch/hermes-function-calling-v1): ``conversations`` with ``system | human | gpt | tool``;
  tools inside ``<tools>...</tools>`` in the system turn (JSON or a Python literal), calls as
  ``<tool_call>{...}</tool_call>`` inside ``gpt`` turns, results as ``<tool_response>{"name", "content"}
  </tool_response>`` inside ``tool`` turns.

A system prompt whose only job is to carry the tool definitions (Glaive's and Hermes's) is dropped by default:
chat templates render ``tools=`` with their own instructions, and keeping it would show the model every tool
twice. ``ImportOptions(keep_tool_system_prompt=True)`` keeps it.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tooljudge.data_prep.jsonl import DEFAULT_LIMITS, JsonRowError, check_value, strict_decoder
from tooljudge.data_prep.jsonl import loads as json_loads
from tooljudge.data_prep.row_problems import (
    JsonError,
    Problem,
    SchemaError,
    json_code,
    parse_json_value,
    type_name,
)

from tooljudge.config import setting
from tooljudge.registry import Registry


@dataclass(frozen=True)
class DatasetFormat:
    """One source format: ``convert(row, options)`` -> OpenAI-style row (raising ``SchemaError`` naming the
    problem); ``detect(row)`` says whether an object row is in this format (``fmt="auto"``); ``keys`` is how the
    unknown-format error names the keys that give it away."""

    name: str
    convert: Callable[[dict, ImportOptions], dict]
    detect: Callable[[dict], bool]
    keys: str


DATASET_FORMATS: Registry[DatasetFormat] = Registry("format")


def register_format(fmt: DatasetFormat, replace: bool = False) -> DatasetFormat:
    """Add a source format (``load_conversations(..., fmt=NAME)``, and ``auto`` detection by ``fmt.detect``)."""
    return DATASET_FORMATS.register(fmt, replace=replace)


@dataclass(frozen=True)
class ImportOptions:
    """How importers treat the parts of a source that have no canonical slot."""

    keep_tool_system_prompt: bool = setting(False, "keep Glaive/Hermes system prompts that only carry tool "
                                            "definitions")


DEFAULT_OPTIONS = ImportOptions()


def _fail(code: str, message: str):
    raise SchemaError([Problem(code, message)])


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _json_field(row: dict, key: str, fmt: str, code: str) -> Any:
    value, error = parse_json_value(row.get(key))
    if error:
        _fail(json_code(error, code), f"{key}: is not valid JSON ({error})")
    return value


def _literal_problem(node: ast.AST) -> JsonRowError | None:
    """Why a Python literal's syntax tree is not a JSON value within the limits, in one walk over its
    containers: a repeated dict key (``literal_eval`` would keep the last one silently), nesting beyond the
    limit, a non-finite or over-long number, a lone surrogate, a non-string key or a non-JSON literal
    (set, bytes, complex) is the matching reason; None when ``literal_eval`` gives a JSON value."""
    limits = DEFAULT_LIMITS
    stack = [(node, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple)):
            if depth >= limits.max_depth:
                return JsonRowError("json_too_deep", f"nested more than {limits.max_depth} levels")
            if isinstance(node, ast.Dict):
                if any(k is None or not (isinstance(k, ast.Constant) and isinstance(k.value, str))
                       for k in node.keys):
                    return JsonRowError("not_json", "an object key is not a string")
                keys = [k.value for k in node.keys]
                if len(set(keys)) != len(keys):
                    return JsonRowError("duplicate_key", "a key appears more than once in one object")
                children = [*node.keys, *node.values]
            else:
                children = node.elts
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            stack.append((node.operand, depth))
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                if not value.isascii():
                    try:
                        check_value(value, limits)
                    except JsonRowError as exc:
                        return exc
            elif isinstance(value, float):
                if not math.isfinite(value):
                    return JsonRowError("non_finite_number", f"{value} is not a JSON number")
            elif isinstance(value, int) and not isinstance(value, bool):
                if value.bit_length() > limits.max_int_digits * 3.33:
                    return JsonRowError("number_too_long", f"an integer has more than {limits.max_int_digits} "
                                                           f"digits")
            elif value is not None and not isinstance(value, bool):
                return JsonRowError("not_json", f"{type(value).__name__} is not a JSON value")
        else:
            return JsonRowError("not_json", f"{type(node).__name__} is not a JSON value")
    return None


def _parse_literal(text: str) -> tuple[Any, str | None]:
    """JSON, else a Python literal (Hermes data prints dicts with single quotes). Never evaluates code.

    Both go through the same limits as every JSON row (``tooljudge.data_prep.jsonl``): a duplicate key, a
    non-finite number, a lone surrogate or a hostile nesting is an error (with its reason code), not a value."""
    text = text.strip()
    try:
        return json_loads(text), None
    except JsonRowError as exc:
        if exc.code != "bad_json_line":
            return None, JsonError(exc.code, str(exc))
        json_error = JsonError(exc.code, str(exc))
    if len(text) > DEFAULT_LIMITS.max_line_bytes:
        return None, json_error
    if text.count(",") + text.count(":") >= DEFAULT_LIMITS.max_values:  # before building a syntax tree of it
        return None, JsonError("json_too_many_values", f"more than {DEFAULT_LIMITS.max_values} values")
    try:
        tree = ast.parse(text, mode="eval")
        problem = _literal_problem(tree.body)
        if problem is not None:
            return None, (json_error if problem.code == "not_json" else JsonError(problem.code, str(problem)))
        value = ast.literal_eval(tree)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None, json_error
    return value, None


# ------------------------------------------------------------------------------------------------- detection
def detect_format(row: Any) -> str:
    """The importer a row needs, from its keys (and, for ``conversations``, Hermes's XML tags)."""
    if not isinstance(row, dict):
        _fail("row_not_object", f"row: expected an object, got {type_name(row)}")
    for name, fmt in DATASET_FORMATS.items():
        if fmt.detect(row):
            return name
    keys = ", ".join(sorted(map(str, row))) or "none"
    _fail("unknown_format", f"row: cannot tell its format from its keys ({keys}); expected {_expected_keys()}")
    raise AssertionError  # unreachable: _fail raises


def _expected_keys() -> str:
    """"'messages' (openai), 'conversations' (sharegpt/hermes), ... or ..." from the registered formats."""
    by_keys: dict[str, list[str]] = {}
    for name, fmt in DATASET_FORMATS.items():
        by_keys.setdefault(fmt.keys, []).append(name)
    parts = [f"{keys} ({'/'.join(names)})" for keys, names in by_keys.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _is_hermes(row: dict) -> bool:
    """``conversations`` with Hermes's ``tool`` turns or XML tags (and no ShareGPT function_call/observation)."""
    turns = row["conversations"] if isinstance(row["conversations"], list) else []
    froms = {t.get("from") for t in turns if isinstance(t, dict) and isinstance(t.get("from"), str)}
    if "function_call" in froms or "observation" in froms:
        return False
    values = " ".join(t["value"] for t in turns if isinstance(t, dict) and isinstance(t.get("value"), str))
    return "tool" in froms or any(tag in values for tag in ("<tool_call>", "<tools>", "<tool_response>"))


# ---------------------------------------------------------------------------------------------------- openai
def import_openai(row: dict, options: ImportOptions = DEFAULT_OPTIONS) -> dict:
    if "messages" not in row:
        keys = ", ".join(sorted(map(str, row))) or "none"
        _fail("missing_messages", f"row: has no 'messages' list (keys: {keys})")
    messages = row["messages"]
    system = row.get("system")
    if isinstance(system, str) and system.strip() and isinstance(messages, list):
        # Some exports keep the system prompt beside the messages; a second one inside is then reported
        # as system_not_first rather than silently lost.
        messages = [{"role": "system", "content": system}, *messages]
    out = {"messages": messages, "tools": row.get("tools")}
    if out["tools"] is None and row.get("functions") is not None:
        out["functions"] = row["functions"]
    return out


# -------------------------------------------------------------------------------------------------- sharegpt
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "observation": "tool", "tool": "tool", "function_call": "function_call"}


def _turns(row: dict, fmt: str) -> list[dict]:
    turns = row.get("conversations")
    if not isinstance(turns, list):
        what = "missing" if turns is None else f"{type_name(turns)}, expected a list"
        _fail("missing_messages", f"row: 'conversations' is {what}")
    if not turns:
        _fail("empty_messages", "row: 'conversations' is empty")
    for j, turn in enumerate(turns):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            _fail(f"bad_{fmt}_turn", f"turn {j}: expected an object with 'from' and 'value'")
    return turns


def _sharegpt_calls(value: Any, j: int) -> list[dict]:
    decoded, error = parse_json_value(value)
    if error:
        _fail(json_code(error, "bad_function_call"), f"turn {j} (function_call): value is not valid JSON ({error}): {_short(value)}")
    calls = decoded if isinstance(decoded, list) else [decoded]
    for k, call in enumerate(calls):
        if not isinstance(call, dict) or "name" not in call:
            _fail("bad_function_call", f"turn {j} (function_call): call {k} is not an object with 'name' and "
                                       f"'arguments'")
    return [{"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments")}} for c in calls]


def _run_length(turns: list[dict], j: int) -> int:
    """How many consecutive result turns start at turn ``j``."""
    n = 0
    while j + n < len(turns) and isinstance(turns[j + n]["from"], str) and \
            SHAREGPT_ROLES.get(turns[j + n]["from"]) == "tool":
        n += 1
    return n


def import_sharegpt(row: dict, options: ImportOptions = DEFAULT_OPTIONS) -> dict:
    turns = _turns(row, "sharegpt")
    messages: list[dict] = []
    if isinstance(row.get("system"), str) and row["system"].strip():
        messages.append({"role": "system", "content": row["system"]})
    last_calls = 0
    for j, turn in enumerate(turns):
        role = SHAREGPT_ROLES.get(turn["from"]) if isinstance(turn["from"], str) else None
        if role is None:
            _fail("unknown_role", f"turn {j}: unknown 'from' value {turn['from']!r} (expected one of "
                                  f"{', '.join(SHAREGPT_ROLES)})")
        value = turn["value"]
        if role == "function_call":
            calls = _sharegpt_calls(value, j)
            messages.append({"role": "assistant", "content": "", "tool_calls": calls})
            last_calls = len(calls)
            continue
        if role == "tool" and last_calls > 1 and _run_length(turns, j) != last_calls:
            # Parallel calls answered by one observation: split it when it is a list of one result per call.
            # (Answered by as many consecutive observation turns, each turn is one result.)
            results, error = parse_json_value(value)
            if not error and isinstance(results, list) and len(results) == last_calls:
                for result in results:
                    content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
                    messages.append({"role": "tool", "content": content})
                last_calls = 0
                continue
            _fail("bad_observation", f"turn {j} (observation): answers {last_calls} parallel calls but is neither "
                                     f"a JSON list of {last_calls} results nor followed by {last_calls - 1} more "
                                     f"observation turns")
        messages.append({"role": role, "content": value})
        last_calls = 0
    tools = row.get("tools")
    if isinstance(tools, str) and not tools.strip():
        tools = None
    return {"messages": messages, "tools": tools}


# ---------------------------------------------------------------------------------------------------- glaive
GLAIVE_TOOLS_PREAMBLE = re.compile(r"^\s*You are a helpful assistant with access to the following functions\."
                                   r"\s*Use them if required\s*-?\s*$", re.S)
GLAIVE_MARKERS = re.compile(r"(?:^|\n)[ \t]*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]?")
GLAIVE_CALL_QUOTED = re.compile(r"^\{\s*\"name\"\s*:\s*\"([^\"]+)\"\s*,\s*\"arguments\"\s*:\s*'(.*)'\s*\}$", re.S)
GLAIVE_EOT = "<|endoftext|>"


def _glaive_functions(system: str, options: ImportOptions) -> tuple[list[dict], list[dict]]:
    """(system messages, function specs) from Glaive's ``system`` field."""
    text = system.strip()
    if text.startswith("SYSTEM:"):
        text = text[len("SYSTEM:"):].strip()
    start = text.find("{")
    if start < 0:
        return ([{"role": "system", "content": text}] if text else []), []
    preamble, functions, pos = text[:start].strip(), [], start
    decoder = strict_decoder()
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        if text[pos] != "{":
            _fail("bad_glaive_functions", f"system: unexpected text after function {len(functions)}: "
                                          f"{_short(text[pos:])}")
        try:
            spec, pos = decoder.raw_decode(text, pos)
        except JsonRowError as exc:
            _fail(exc.code, f"system: function {len(functions)}: {exc}")
        except json.JSONDecodeError as exc:
            _fail("bad_glaive_functions", f"system: function {len(functions)} is not valid JSON ({exc.msg} at "
                                          f"line {exc.lineno} column {exc.colno})")
        functions.append(spec)
    keep = options.keep_tool_system_prompt or not GLAIVE_TOOLS_PREAMBLE.match(preamble)
    return ([{"role": "system", "content": text if options.keep_tool_system_prompt else preamble}]
            if keep and preamble else []), functions


def _glaive_call(text: str, j: int) -> dict:
    text = text.strip()
    try:
        call = json_loads(text)
    except JsonRowError as exc:
        if exc.code != "bad_json_line":
            _fail(exc.code, f"turn {j} (ASSISTANT): <functioncall> {exc}")
        match = GLAIVE_CALL_QUOTED.match(text)
        if not match:
            _fail("bad_functioncall", f"turn {j} (ASSISTANT): <functioncall> is neither JSON nor "
                                      f"{{\"name\": ..., \"arguments\": '...'}}: {_short(text)}")
        return {"type": "function", "function": {"name": match.group(1), "arguments": match.group(2)}}
    if not isinstance(call, dict) or "name" not in call:
        _fail("bad_functioncall", f"turn {j} (ASSISTANT): <functioncall> has no 'name': {_short(text)}")
    return {"type": "function", "function": {"name": call["name"], "arguments": call.get("arguments")}}


def import_glaive(row: dict, options: ImportOptions = DEFAULT_OPTIONS) -> dict:
    chat = row.get("chat")
    if not isinstance(chat, str) or not chat.strip():
        _fail("missing_messages", "chat: missing or empty (Glaive rows hold the conversation in one 'chat' string)")
    system = row.get("system") or ""
    if not isinstance(system, str):
        _fail("bad_glaive_functions", f"system: is {type_name(system)}, expected a string")
    messages, functions = _glaive_functions(system, options)
    parts = GLAIVE_MARKERS.split(chat)
    if parts[0].strip():
        _fail("bad_glaive_chat", f"chat: text before the first USER:/ASSISTANT: marker: {_short(parts[0].strip())}")
    for j, (marker, body) in enumerate(zip(parts[1::2], parts[2::2], strict=True)):
        body = body.strip()
        if marker == "USER":
            messages.append({"role": "user", "content": body})
        elif marker == "FUNCTION RESPONSE":
            messages.append({"role": "tool", "content": body})
        else:
            body = body.replace(GLAIVE_EOT, "").strip()
            if "<functioncall>" in body:
                text, call = body.split("<functioncall>", 1)
                messages.append({"role": "assistant", "content": text.strip(),
                                 "tool_calls": [_glaive_call(call, j)]})
            else:
                messages.append({"role": "assistant", "content": body})
    return {"messages": messages, "tools": functions}


# ------------------------------------------------------------------------------------------------------ xlam
XLAM_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer", "float": "number",
              "number": "number", "bool": "boolean", "boolean": "boolean", "list": "array", "tuple": "array",
              "set": "array", "dict": "object", "object": "object"}


def xlam_parameters(params: Any, name: str) -> dict:
    """xLAM's ``{param: {"type": "str, optional", "description", "default"}}`` as a JSON schema.

    Python type names map to JSON types (``List[int]`` -> array, unknown -> no type constraint); a parameter
    is optional when its type says ``optional`` or it has a non-empty default (xLAM writes ``"default": ""``
    on many required ones).
    """
    if isinstance(params, dict) and params.get("type") == "object":
        return params  # already a JSON schema (some APIGen exports)
    if not isinstance(params, dict):
        _fail("bad_tool_spec", f"tools ({name}): parameters is {type_name(params)}, expected an object")
    properties, required = {}, []
    for pname, p in params.items():
        if not isinstance(p, dict):
            _fail("bad_tool_spec", f"tools ({name}): parameter {pname!r} is {type_name(p)}, expected an "
                                   f"object with 'type' and 'description'")
        raw_type = str(p.get("type", ""))
        optional = "optional" in raw_type.lower()
        base = raw_type.split(",")[0].strip().split("[")[0].strip().lower()
        prop: dict[str, Any] = {}
        if base in XLAM_TYPES:
            prop["type"] = XLAM_TYPES[base]
        if isinstance(p.get("description"), str):
            prop["description"] = p["description"]
        default = p.get("default")
        if default not in (None, ""):
            optional = True
            prop["default"] = default
        properties[pname] = prop
        if not optional:
            required.append(pname)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def import_xlam(row: dict, options: ImportOptions = DEFAULT_OPTIONS) -> dict:
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        _fail("missing_messages", "query: missing or empty (xLAM rows need query, tools and answers)")
    tools = _json_field(row, "tools", "xlam", "tools_not_list")
    answers = _json_field(row, "answers", "xlam", "bad_answers")
    if not isinstance(tools, list):
        _fail("tools_not_list", f"tools: expected a JSON list of tools, got {type_name(tools)}")
    if not isinstance(answers, list):
        _fail("bad_answers", f"answers: expected a JSON list of calls, got {type_name(answers)}")
    if not answers:
        _fail("no_answers", "answers: is an empty list, so the row has no assistant turn to train (an "
                            "irrelevance row needs the assistant's text reply)")
    converted = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            _fail("bad_tool_spec", f"tools[{i}]: expected an object with a 'name'")
        converted.append({"name": tool["name"], "description": tool.get("description") or "",
                          "parameters": xlam_parameters(tool.get("parameters") or {}, tool["name"])})
    calls = []
    for k, answer in enumerate(answers):
        if not isinstance(answer, dict) or "name" not in answer:
            _fail("bad_answers", f"answers[{k}]: expected an object with 'name' and 'arguments'")
        calls.append({"type": "function", "function": {"name": answer["name"],
                                                       "arguments": answer.get("arguments")}})
    return {"messages": [{"role": "user", "content": query},
                         {"role": "assistant", "content": "", "tool_calls": calls}],
            "tools": converted}


# ---------------------------------------------------------------------------------------------------- hermes
HERMES_ROLES = {"system": "system", "human": "user", "gpt": "assistant", "tool": "tool"}
HERMES_TOOLS = ("<tools>", "</tools>")
HERMES_CALL = ("<tool_call>", "</tool_call>")
HERMES_RESPONSE = ("<tool_response>", "</tool_response>")


def tag_blocks(text: str, tags: tuple[str, str]) -> tuple[list[str], str]:
    """(the text inside each ``open...close`` pair, the text with those pairs removed), as
    ``re.findall(open + "(.*?)" + close, text, re.S)`` and ``re.sub`` would give, in linear time.

    Why not the regex: with many openings and no closing (``<tool_call>`` x 8000) the lazy scan restarts at every
    opening and takes quadratic time (28 s for 88 KB, measured). Once an opening has no closing after it, no
    later opening has one either, so the scan stops there."""
    opening, closing = tags
    blocks, rest, pos = [], [], 0
    while True:
        start = text.find(opening, pos)
        end = text.find(closing, start + len(opening)) if start >= 0 else -1
        if end < 0:
            rest.append(text[pos:])
            return blocks, "".join(rest)
        rest.append(text[pos:start])
        blocks.append(text[start + len(opening):end])
        pos = end + len(closing)


def _hermes_tools(text: str, j: int) -> list:
    value, error = _parse_literal(text)
    if error is None:
        return value if isinstance(value, list) else [value]
    # Some rows list the tools one per line instead of as one list.
    tools = []
    for line in (line for line in text.strip().splitlines() if line.strip()):
        value, line_error = _parse_literal(line)
        if line_error is not None:
            _fail(json_code(line_error, "bad_hermes_tools"), f"turn {j} (system): <tools> is neither JSON nor a Python literal ({error})")
        tools.append(value)
    return tools


def import_hermes(row: dict, options: ImportOptions = DEFAULT_OPTIONS) -> dict:
    turns = _turns(row, "hermes")
    messages: list[dict] = []
    tools: list = []
    for j, turn in enumerate(turns):
        role = HERMES_ROLES.get(turn["from"]) if isinstance(turn["from"], str) else None
        if role is None:
            _fail("unknown_role", f"turn {j}: unknown 'from' value {turn['from']!r} (expected one of "
                                  f"{', '.join(HERMES_ROLES)})")
        value = turn["value"]
        if not isinstance(value, str):
            _fail("content_not_string", f"turn {j} ({turn['from']}): value is {type_name(value)}, expected a "
                                        f"string")
        if role == "system":
            # The boilerplate names the tags before using them ("within <tools> </tools> XML tags"): only
            # non-empty blocks hold tools.
            blocks = [b for b in tag_blocks(value, HERMES_TOOLS)[0] if b.strip()]
            for block in blocks:
                tools.extend(_hermes_tools(block, j))
            if not blocks or options.keep_tool_system_prompt:
                messages.append({"role": "system", "content": value})
        elif role == "assistant":
            calls = []
            found, text = tag_blocks(value, HERMES_CALL)
            for k, block in enumerate(found):
                call, error = _parse_literal(block)
                if error is not None or not isinstance(call, dict) or "name" not in call:
                    reason = f"neither JSON nor a Python literal ({error})" if error else "not an object with 'name'"
                    _fail(json_code(error, "bad_tool_call"), f"turn {j} (gpt): <tool_call> {k} is {reason}: {_short(block.strip())}")
                calls.append({"type": "function", "function": {"name": call["name"],
                                                               "arguments": call.get("arguments")}})
            if "<tool_call>" in text:
                _fail("bad_tool_call", f"turn {j} (gpt): <tool_call> without a closing </tool_call>")
            message: dict[str, Any] = {"role": "assistant", "content": text.strip() if calls else value}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
        elif role == "tool":
            blocks = tag_blocks(value, HERMES_RESPONSE)[0]
            for block in blocks or [value]:
                result, error = _parse_literal(block)
                if error is None and isinstance(result, dict) and "content" in result and "name" in result:
                    content = result["content"]
                    messages.append({"role": "tool", "name": result["name"],
                                     "content": content if isinstance(content, str)
                                     else json.dumps(content, ensure_ascii=False)})
                else:
                    messages.append({"role": "tool", "content": block.strip()})
        else:
            messages.append({"role": "user", "content": value})
    return {"messages": messages, "tools": tools}


register_format(DatasetFormat("openai", import_openai, lambda row: "messages" in row, "'messages'"))
register_format(DatasetFormat("sharegpt", import_sharegpt,
                              lambda row: "conversations" in row and not _is_hermes(row), "'conversations'"))
register_format(DatasetFormat("glaive", import_glaive,
                              lambda row: "chat" in row and "messages" not in row and "conversations" not in row,
                              "'chat'"))
register_format(DatasetFormat("xlam", import_xlam, lambda row: "query" in row and "answers" in row and not (
    {"messages", "conversations", "chat"} & set(row)), "'query'+'answers'"))
register_format(DatasetFormat("hermes", import_hermes, lambda row: "conversations" in row and _is_hermes(row),
                              "'conversations'"))
FORMATS = tuple(DATASET_FORMATS.names())  # the built-in formats


def import_row(row: Any, fmt: str = "auto", options: ImportOptions = DEFAULT_OPTIONS) -> tuple[str, dict]:
    """(format used, OpenAI-style row) for one source row; raises SchemaError naming the problem."""
    if fmt == "auto":
        fmt = detect_format(row)
    convert = DATASET_FORMATS.get(fmt).convert
    if not isinstance(row, dict):
        _fail("row_not_object", f"row: expected an object, got {type_name(row)}")
    return fmt, convert(row, options)
