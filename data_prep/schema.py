"""The canonical conversation row: normalization and validation.

Every importer converts to one form, ``{"messages": [...], "tools": [...]}`` in OpenAI's shape, so that rendering
and masking have a single input to trust:

- roles are ``system | user | assistant | tool``;
- an assistant tool call is ``{"id", "type": "function", "function": {"name", "arguments": dict}}``; ``arguments``
  may arrive as a JSON string and is always a dict afterwards; a call without an id gets a deterministic one;
- a tool message carries ``tool_call_id`` and ``name`` of the call it answers (filled in from the pending calls
  when the source only gives one of them, or neither);
- a tool is ``{"type": "function", "function": {"name", "description", "parameters"}}`` whether it arrived in that
  form or bare (``{"name", "description", "parameters"}``);
- ``"train": false`` (or true) on a message is kept: it tells the masker to skip that turn.

``normalize_conversation`` raises :class:`SchemaError` when the row cannot be put in that form (a missing
``messages`` list, an unknown role, arguments that are not JSON, a tool result that links to no call, ...).
``validate_conversation`` returns every problem it finds, structural or not (a call to a tool that is not in
``tools``, arguments that do not fit the tool's JSON schema, an empty assistant turn, a conversation that does not
end with the assistant, ...); an empty list means the row is good training data. Messages name the message index
and say what to fix.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from tooljudge.data_prep.importers import detect_format
from tooljudge.data_prep.json_schema import SchemaRefused, check_schema_safety, iter_errors_safely
from tooljudge.data_prep.json_schema import validator_for as bounded_validator_for
from tooljudge.data_prep.row_problems import Problem, SchemaError, json_code, parse_json_value, type_name

ROLES = ("system", "user", "assistant", "tool")
# OpenAI's legacy function-calling API: role "function" answers an assistant "function_call".
LEGACY_ROLES = {"function": "tool"}
EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def _short(value: Any, limit: int = 60) -> str:
    """A value as it would appear in the data: strings quoted, JSON values as JSON, cut to ``limit``."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON tree, about 4x faster than ``copy.deepcopy`` (the normaliser copies every schema and
    every call's arguments so that its output shares nothing with the input). Plain dicts and lists are rebuilt,
    str/int/float/bool/None are immutable and kept; anything else, and a tree that recurses without end (a cycle),
    goes to ``copy.deepcopy`` so the result is what it returned before."""
    try:
        return _copy_tree(value)
    except RecursionError:
        return copy.deepcopy(value)


_IMMUTABLE = (str, int, float, bool, type(None))


def _copy_tree(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else _copy_tree(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else _copy_tree(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


def _present(mapping: dict, key: str) -> bool:
    """A key counts as present only with a non-null value: Arrow sources fill absent struct fields with null."""
    return mapping.get(key) is not None


# ----------------------------------------------------------------------------------------------------- tools
def validator_class(schema: dict):
    """The JSON-schema dialect of a tool's parameters: its ``$schema`` if it names one, else Draft 7 (what
    function-calling schemas are written in, and checked about 5x faster than 2020-12)."""
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)


@functools.lru_cache(maxsize=4096)
def _schema_error(schema_json: str) -> tuple[str, str] | None:
    """(reason, 'path: message') if the schema is not valid under its metaschema or is refused by
    :func:`tooljudge.data_prep.json_schema.check_schema_safety` (remote refs, unbounded patterns); cached
    because datasets repeat tools."""
    schema = json.loads(schema_json)
    try:
        check_schema_safety(schema)
        validator_class(schema).check_schema(schema)
    except SchemaRefused as exc:
        return exc.code, str(exc)
    except jsonschema.SchemaError as exc:
        return "bad_tool_schema", ("/".join(str(p) for p in exc.path) or "(root)") + f": {exc.message}"
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        return "bad_tool_schema", f"(root): the schema cannot be checked ({type(exc).__name__})"
    return None


@functools.lru_cache(maxsize=4096)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    return bounded_validator_for(schema, base=validator_class(schema))


def normalize_tool(spec: Any, index: int, problems: list[Problem],
                   schema_texts: dict[str, str] | None = None) -> dict | None:
    """One tool spec (OpenAI form, bare form, or either as a JSON string) in OpenAI form; None if malformed.

    ``schema_texts``: filled with tool name -> the parameters' canonical JSON text (the key of the cached
    validator), so that checking each call's arguments does not serialise the schema again."""
    where = f"tools[{index}]"
    if isinstance(spec, str):
        decoded, error = parse_json_value(spec)
        if error:
            problems.append(Problem(json_code(error, "bad_tool_spec"), f"{where}: is a string that is not JSON "
                                                                       f"({error})"))
            return None
        spec = decoded
    if not isinstance(spec, dict):
        problems.append(Problem("bad_tool_spec", f"{where}: expected an object, got {type_name(spec)}"))
        return None
    kind = spec.get("type")
    if kind is not None and kind != "function":
        problems.append(Problem("bad_tool_spec", f"{where}: type {kind!r} is not supported (only 'function')"))
        return None
    fn = spec["function"] if isinstance(spec.get("function"), dict) else spec
    name = fn.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("bad_tool_spec", f"{where}: has no function name (expected a non-empty string "
                                                 f"under 'name' or 'function.name')"))
        return None
    description = fn.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str):
        problems.append(Problem("bad_tool_spec", f"{where} ({name}): description is {type_name(description)}, "
                                                 f"expected a string"))
        return None
    parameters = fn.get("parameters")
    if parameters is None:
        parameters = _copy_json(EMPTY_PARAMETERS)
    parameters, error = parse_json_value(parameters)
    if error:
        problems.append(Problem(json_code(error, "bad_tool_spec"), f"{where} ({name}): parameters is a string "
                                                                   f"that is not JSON ({error})"))
        return None
    if not isinstance(parameters, dict):
        problems.append(Problem("bad_tool_spec", f"{where} ({name}): parameters is {type_name(parameters)}, "
                                                 f"expected a JSON schema object"))
        return None
    parameters = _copy_json(parameters)
    if "type" not in parameters:
        parameters = {"type": "object", **parameters}
    if parameters["type"] != "object":
        problems.append(Problem("bad_tool_spec", f"{where} ({name}): parameters has type "
                                                 f"{parameters['type']!r}; a tool's parameters must be a JSON "
                                                 f"schema of type 'object'"))
        return None
    schema_text = json.dumps(parameters, sort_keys=True)
    error = _schema_error(schema_text)
    if error:
        code, message = error
        text = (f"parameters is not a valid JSON schema at {message}" if code == "bad_tool_schema"
                else f"parameters refused: {message}")
        problems.append(Problem(code, f"{where} ({name}): {text}"))
        return None
    if schema_texts is not None:
        schema_texts[name] = schema_text
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": parameters}}


def normalize_tools(tools: Any, problems: list[Problem], schema_texts: dict[str, str] | None = None) -> list[dict]:
    if tools is None:
        return []
    tools, error = parse_json_value(tools)
    if error:
        problems.append(Problem(json_code(error, "tools_not_list"), f"tools: is a string that is not JSON "
                                                                    f"({error})"))
        return []
    if tools is None:
        return []
    if not isinstance(tools, list):
        problems.append(Problem("tools_not_list", f"tools: expected a list of tool specs, got {type_name(tools)}"))
        return []
    out = []
    for i, spec in enumerate(tools):
        tool = normalize_tool(spec, i, problems, schema_texts)
        if tool is not None:
            out.append(tool)
    seen: Counter = Counter(t["function"]["name"] for t in out)
    for name, n in seen.items():
        if n > 1:
            problems.append(Problem("duplicate_tool_name", f"tools: {n} tools are named {name!r}; names must be "
                                                           f"unique for calls to be unambiguous"))
    return out


# ------------------------------------------------------------------------------------------------- messages
def _content(msg: dict, where: str, role: str, problems: list[Problem]) -> str:
    content = msg.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if role == "tool" and isinstance(content, (dict, list, int, float, bool)):
        # Tool results are often stored as the JSON value itself; templates want the text.
        return json.dumps(content, ensure_ascii=False)
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        texts = []
        for j, part in enumerate(content):
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                problems.append(Problem("content_not_string", f"{where}: content part {j} has type "
                                                              f"{part.get('type')!r}; only text parts are supported"))
                return ""
            texts.append(part["text"])
        return "".join(texts)
    problems.append(Problem("content_not_string", f"{where}: content is {type_name(content)}, expected a string"))
    return ""


def _arguments(raw: Any, where: str, problems: list[Problem]) -> dict | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        decoded, error = parse_json_value(raw)
        if error:
            problems.append(Problem(json_code(error, "arguments_not_json"), f"{where}: arguments are not valid "
                                                                            f"JSON ({error}): {_short(raw)}"))
            return None
        raw = decoded
    if not isinstance(raw, dict):
        problems.append(Problem("arguments_not_object", f"{where}: arguments must be a JSON object, got "
                                                        f"{type_name(raw)}: {_short(raw)}"))
        return None
    return _copy_json(raw)


class _IdMaker:
    """Deterministic ids for calls that have none: ``call00001``, ``call00002``... (9 alphanumerics, which
    Mistral's format also accepts), skipping any id the row already uses."""

    def __init__(self, taken: set[str]):
        self.taken = taken
        self.n = 0

    def __call__(self) -> str:
        while True:
            self.n += 1
            candidate = f"call{self.n:05d}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate


def _existing_ids(messages: list) -> set[str]:
    ids = set()
    for msg in messages:
        if isinstance(msg, dict) and isinstance(msg.get("tool_calls"), list):
            for call in msg["tool_calls"]:
                if isinstance(call, dict) and isinstance(call.get("id"), (str, int)) and str(call["id"]):
                    ids.add(str(call["id"]))
    return ids


def _tool_call(call: Any, where: str, new_id: _IdMaker, problems: list[Problem]) -> dict | None:
    if not isinstance(call, dict):
        problems.append(Problem("tool_call_not_object", f"{where}: expected an object, got {type_name(call)}"))
        return None
    kind = call.get("type")
    if kind is not None and kind != "function":
        problems.append(Problem("tool_call_not_object", f"{where}: type {kind!r} is not supported (only "
                                                        f"'function')"))
        return None
    fn = call["function"] if isinstance(call.get("function"), dict) else call
    name = fn.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("tool_call_missing_name", f"{where}: has no function name"))
        return None
    arguments = _arguments(fn.get("arguments"), f"{where} ({name})", problems)
    if arguments is None:
        return None
    call_id = call.get("id")
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    if call_id is None or call_id == "":
        call_id = new_id()
    elif not isinstance(call_id, str):
        problems.append(Problem("bad_tool_call_id", f"{where} ({name}): id is {type_name(call_id)}, expected a "
                                                    f"string"))
        return None
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


@dataclass
class _Links:
    """What the walk over messages knows about calls, to link tool results and find unanswered calls."""

    calls: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (message index, name)
    pending: list[str] = field(default_factory=list)  # ids of the latest turn's calls not yet answered
    # Calls of the latest turn that could not be read (already reported): results without an id that would
    # have answered them are not reported again as unlinked.
    unreadable: int = 0


def _link_tool_message(msg: dict, where: str, links: _Links, problems: list[Problem]) -> tuple[str, str] | None:
    """(tool_call_id, name) for a tool result: given, or the first pending call (with the given name)."""
    call_id = msg.get("tool_call_id")
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    name = msg.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(Problem("bad_tool_message", f"{where}: name is {type_name(name)}, expected a string"))
        return None
    if call_id is not None and not isinstance(call_id, str):
        problems.append(Problem("bad_tool_message", f"{where}: tool_call_id is {type_name(call_id)}, expected a "
                                                    f"string"))
        return None
    if call_id:
        if call_id not in links.calls:
            if not links.calls:
                problems.append(Problem("tool_result_without_call", f"{where}: tool result comes before any "
                                                                    f"assistant tool call (tool_call_id "
                                                                    f"{call_id!r})"))
            else:
                known = ", ".join(repr(k) for k in links.calls)
                problems.append(Problem("tool_result_unmatched", f"{where}: tool_call_id {call_id!r} matches no "
                                                                 f"earlier tool call (known ids: {known})"))
            return None
        return call_id, name or links.calls[call_id][1]
    candidates = [c for c in links.pending if name is None or links.calls[c][1] == name]
    if not candidates and links.unreadable:
        links.unreadable -= 1
        return None
    if not candidates:
        if not links.calls:
            problems.append(Problem("tool_result_without_call", f"{where}: tool result comes before any assistant "
                                                                f"tool call"))
        elif name is not None and links.pending:
            problems.append(Problem("tool_result_unmatched", f"{where}: no unanswered call to {name!r} for this "
                                                             f"result (it has no tool_call_id to link it by)"))
        else:
            problems.append(Problem("tool_result_unmatched", f"{where}: tool result has no tool_call_id and no "
                                                             f"call of the latest assistant turn is waiting for "
                                                             f"a result"))
        return None
    return candidates[0], links.calls[candidates[0]][1]


def _assistant_calls(msg: dict, where: str, index: int, links: _Links, new_id: _IdMaker,
                     problems: list[Problem]) -> list[dict]:
    """The canonical calls of an assistant message; they become the pending calls that results answer."""
    raw_calls = msg.get("tool_calls")
    if raw_calls is None and isinstance(msg.get("function_call"), dict):  # legacy OpenAI
        raw_calls = [msg["function_call"]]
    if raw_calls is not None and not isinstance(raw_calls, list):
        problems.append(Problem("tool_calls_not_list", f"{where}: tool_calls is {type_name(raw_calls)}, expected a "
                                                       f"list"))
        raw_calls = None
    calls = []
    links.unreadable = 0
    for j, raw in enumerate(raw_calls or []):
        call = _tool_call(raw, f"{where} tool_calls[{j}]", new_id, problems)
        if call is not None and call["id"] in links.calls:
            problems.append(Problem("duplicate_call_id", f"{where} tool_calls[{j}]: id {call['id']!r} is already "
                                                         f"used by a call in message {links.calls[call['id']][0]}"))
            call = None
        if call is None:
            links.unreadable += 1
            continue
        links.calls[call["id"]] = (index, call["function"]["name"])
        calls.append(call)
    links.pending = [c["id"] for c in calls]
    return calls


def _format_hint(row: dict) -> str:
    """Point a row of another known format at its importer instead of just saying 'no messages'."""
    try:
        fmt = detect_format(row)
    except SchemaError:
        return ""
    return (f"; it looks like a {fmt} row: convert it with load_conversations(..., fmt={fmt!r}) or "
            f"importers.import_row")


def _normalize(row: Any, problems: list[Problem], schema_texts: dict[str, str] | None = None) -> dict | None:
    """Best-effort canonical form; every structural problem is appended to ``problems`` (``schema_texts``: see
    :func:`normalize_tool`)."""
    if not isinstance(row, dict):
        problems.append(Problem("row_not_object", f"row: expected an object, got {type_name(row)}"))
        return None
    messages = row.get("messages")
    if messages is None:
        keys = ", ".join(sorted(map(str, row))) or "none"
        problems.append(Problem("missing_messages", f"row: has no 'messages' list (keys: {keys})"
                                                    f"{_format_hint(row)}"))
        return None
    if not isinstance(messages, list):
        problems.append(Problem("messages_not_list", f"row: 'messages' is {type_name(messages)}, expected a "
                                                     f"list"))
        return None
    if not messages:
        problems.append(Problem("empty_messages", "row: 'messages' is empty"))
        return None
    tools_field = row["tools"] if _present(row, "tools") else row.get("functions")  # legacy OpenAI `functions`
    tools = normalize_tools(tools_field, problems, schema_texts)

    new_id = _IdMaker(_existing_ids(messages))
    links = _Links()
    out: list[dict] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            problems.append(Problem("message_not_object", f"message {i}: expected an object, got "
                                                           f"{type_name(msg)}"))
            continue
        role = msg.get("role")
        if role is None:
            hint = " (it has ShareGPT 'from'/'value' keys: load the row with fmt='sharegpt')" if "from" in msg \
                else ""
            problems.append(Problem("missing_role", f"message {i}: has no 'role'{hint}"))
            continue
        role = LEGACY_ROLES.get(role, role) if isinstance(role, str) else role
        if role not in ROLES:
            problems.append(Problem("unknown_role", f"message {i}: unknown role {role!r} (expected one of "
                                                    f"{', '.join(ROLES)})"))
            continue
        where = f"message {i} ({role})"
        train = msg.get("train")
        if train is not None and not isinstance(train, bool):
            problems.append(Problem("bad_train_flag", f"{where}: 'train' is {type_name(train)}, expected true or "
                                                      f"false"))
        content = _content(msg, where, role, problems)
        new: dict[str, Any] = {"role": role}
        if role == "assistant":
            new["content"] = content
            calls = _assistant_calls(msg, where, i, links, new_id, problems)
            if calls:
                new["tool_calls"] = calls
        elif role == "tool":
            link = _link_tool_message(msg, where, links, problems)
            if link is None:
                continue
            new["tool_call_id"], new["name"] = link
            new["content"] = content
            if link[0] in links.pending:
                links.pending.remove(link[0])
        else:
            if _present(msg, "tool_calls") and msg["tool_calls"] != []:
                problems.append(Problem("tool_calls_on_non_assistant", f"{where}: only assistant messages may "
                                                                       f"carry tool_calls"))
            new["content"] = content
            links.pending, links.unreadable = [], 0
        if train is not None and isinstance(train, bool):
            new["train"] = train
        out.append(new)
    return {"messages": out, "tools": tools}


def normalize_conversation(row: dict) -> dict:
    """The canonical ``{"messages", "tools"}`` form of ``row``; raises :class:`SchemaError` if impossible.

    Idempotent: normalizing a normalized row returns an equal row.
    """
    problems: list[Problem] = []
    out = _normalize(row, problems)
    if problems or out is None:
        raise SchemaError(problems)
    return out


# ------------------------------------------------------------------------------------------------ validation
def _json_path(path) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path)]
    return "".join(parts)


def check_arguments(arguments: dict, parameters: dict, where: str, schema_text: str | None = None) -> list[Problem]:
    """Problems of one call's arguments against its tool's JSON schema (required keys, types, enums, extras).

    Keys outside ``properties`` are reported unless the schema allows them explicitly
    (``additionalProperties: true`` or a schema): training on invented arguments teaches the model to invent.
    ``schema_text``: ``json.dumps(parameters, sort_keys=True)`` when the caller already has it.
    """
    problems = []
    properties = parameters.get("properties")
    additional = parameters.get("additionalProperties")
    # Extra keys are reported here, one problem per key (jsonschema's own additionalProperties error is
    # skipped then); patternProperties schemas are left to jsonschema.
    own_extras = ("patternProperties" not in parameters and additional is not True
                  and not isinstance(additional, dict) and (isinstance(properties, dict) or additional is False))
    validator = _validator(schema_text if schema_text is not None else json.dumps(parameters, sort_keys=True))
    try:
        errors = iter_errors_safely(validator, arguments)
    except SchemaRefused as exc:
        return [Problem(exc.code, f"{where}: {exc}")]
    errors.sort(key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    for error in errors:
        path = _json_path(error.absolute_path)
        if error.validator == "additionalProperties" and not path and own_extras:
            continue
        if error.validator == "required":
            prefix = f"{path}." if path else ""
            for key in error.validator_value:
                if isinstance(error.instance, dict) and key not in error.instance:
                    problems.append(Problem("arguments_missing_required", f"{where}: missing required argument "
                                                                          f"'{prefix}{key}'"))
        elif error.validator == "type":
            expected = error.validator_value
            expected = " or ".join(expected) if isinstance(expected, list) else expected
            problems.append(Problem("arguments_wrong_type", f"{where}: argument '{path}' is "
                                                            f"{type_name(error.instance)} "
                                                            f"({_short(error.instance)}), expected {expected}"))
        else:
            where_arg = f"argument '{path}'" if path else "arguments"
            problems.append(Problem("arguments_schema_mismatch", f"{where}: {where_arg} does not fit the schema: "
                                                                 f"{error.message}"))
    if own_extras:
        known = properties if isinstance(properties, dict) else {}
        for key in arguments:
            if key not in known:
                allowed = ", ".join(repr(k) for k in known) or "none"
                problems.append(Problem("unexpected_argument", f"{where}: argument {key!r} is not a parameter of "
                                                               f"the tool (parameters: {allowed})"))
    return problems


def _semantic_problems(conv: dict, schema_texts: dict[str, str] | None = None) -> list[Problem]:
    problems: list[Problem] = []
    schema_texts = schema_texts or {}
    messages, tools = conv["messages"], conv["tools"]
    by_name = {t["function"]["name"]: t["function"] for t in tools}
    calls: dict[str, tuple[int, str]] = {}
    answered: dict[str, int] = {}
    pending: list[str] = []
    pending_from = -1

    def close_pending(i: int, role: str) -> None:
        nonlocal pending
        if pending:
            ids = ", ".join(repr(c) for c in pending)
            problems.append(Problem("unanswered_tool_call", f"message {i} ({role}): tool call(s) {ids} from "
                                                            f"message {pending_from} have no tool result before "
                                                            f"this turn"))
        pending = []

    for i, msg in enumerate(messages):
        role = msg["role"]
        where = f"message {i} ({role})"
        if role == "system" and i > 0:
            problems.append(Problem("system_not_first", f"{where}: a system message must be the first message "
                                                        f"(most chat templates drop or reject a later one)"))
        if role in ("user", "system") and not msg["content"].strip():
            problems.append(Problem("empty_message", f"{where}: content is empty"))
        if role in ("user", "system", "assistant"):
            close_pending(i, role)
        if role == "assistant":
            if not msg["content"].strip() and not msg.get("tool_calls"):
                problems.append(Problem("empty_assistant", f"{where}: has neither content nor tool calls"))
            for j, call in enumerate(msg.get("tool_calls", [])):
                name, call_id = call["function"]["name"], call["id"]
                calls[call_id] = (i, name)
                call_where = f"{where} tool_calls[{j}] ({name})"
                if name not in by_name:
                    available = ", ".join(repr(n) for n in by_name) or "the row has no tools"
                    problems.append(Problem("unknown_tool", f"{call_where}: calls a tool that is not in tools "
                                                            f"(available: {available})"))
                    continue
                problems.extend(check_arguments(call["function"]["arguments"], by_name[name]["parameters"],
                                                call_where, schema_texts.get(name)))
            pending = [c["id"] for c in msg.get("tool_calls", [])]
            pending_from = i
        elif role == "tool":
            call_id = msg["tool_call_id"]
            call_msg, call_name = calls[call_id]
            if call_id in answered:
                problems.append(Problem("duplicate_tool_result", f"{where}: call {call_id!r} was already answered "
                                                                 f"by message {answered[call_id]}"))
            elif call_id not in pending:
                problems.append(Problem("tool_result_out_of_order", f"{where}: answers call {call_id!r} from "
                                                                    f"message {call_msg}, but another turn came "
                                                                    f"in between"))
            answered.setdefault(call_id, i)
            if msg["name"] != call_name:
                problems.append(Problem("tool_name_mismatch", f"{where}: name {msg['name']!r} differs from the "
                                                              f"call it answers ({call_id!r} calls {call_name!r})"))
            if call_id in pending:
                pending.remove(call_id)
    last = messages[-1]
    if last["role"] != "assistant":
        problems.append(Problem("no_final_assistant", f"message {len(messages) - 1} ({last['role']}): the "
                                                      f"conversation ends without an assistant turn, so there is "
                                                      f"nothing to train on after it"))
        close_pending(len(messages) - 1, last["role"])
    assistants = [m for m in messages if m["role"] == "assistant"]
    if assistants and all(m.get("train") is False for m in assistants):
        problems.append(Problem("nothing_trained", "row: every assistant turn has train: false, so the row "
                                                   "trains nothing"))
    return problems


def check_conversation(row: Any) -> tuple[dict | None, list[Problem]]:
    """(canonical row or None, every problem found). The row is good training data iff the list is empty."""
    problems: list[Problem] = []
    schema_texts: dict[str, str] = {}
    conv = _normalize(row, problems, schema_texts)
    if conv is None or problems:
        # Structural problems first: with a message or tool skipped, the semantic pass would report
        # consequences (an "unanswered" call, an "unknown" tool) rather than causes.
        return None, problems
    problems.extend(_semantic_problems(conv, schema_texts))
    return (None if problems else conv), problems


def validate_conversation(row: dict) -> list[str]:
    """Every problem with ``row`` as a message naming the message index; empty list = valid."""
    return [p.message for p in check_conversation(row)[1]]


# ------------------------------------------------------------------------------------------------- reporting
@dataclass(frozen=True)
class RowProblem:
    """A problem of one input row: its 0-based index in the source (and 1-based line for JSON Lines)."""

    row: int
    code: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line is not None else "")
        return f"{where}: {self.message}"


@dataclass
class LoadReport:
    """What happened to every row of a source: kept, or dropped with each problem and its row index."""

    source: str = ""
    fmt: str = "auto"
    rows_read: int = 0
    kept: int = 0
    formats: Counter = field(default_factory=Counter)
    dropped_by_reason: Counter = field(default_factory=Counter)  # by each dropped row's first problem
    problems_by_reason: Counter = field(default_factory=Counter)  # every problem
    problems: list[RowProblem] = field(default_factory=list)
    blank_lines: int = 0

    @property
    def dropped(self) -> int:
        return self.rows_read - self.kept

    def add_row(self, row: int, problems: list[Problem], fmt: str | None = None, line: int | None = None) -> None:
        self.rows_read += 1
        if fmt:
            self.formats[fmt] += 1
        if not problems:
            self.kept += 1
            return
        self.dropped_by_reason[problems[0].code] += 1
        for p in problems:
            self.problems_by_reason[p.code] += 1
            self.problems.append(RowProblem(row, p.code, p.message, line))

    def summary(self, max_problems: int = 20) -> str:
        lines = [f"{self.source or 'source'}: read {self.rows_read} rows, kept {self.kept}, dropped {self.dropped}"]
        if self.formats:
            lines.append("formats: " + ", ".join(f"{k} {v}" for k, v in sorted(self.formats.items())))
        if self.blank_lines:
            lines.append(f"blank lines skipped: {self.blank_lines}")
        if self.dropped_by_reason:
            lines.append("dropped rows by reason (first problem of each row):")
            lines += [f"  {code}: {n}" for code, n in self.dropped_by_reason.most_common()]
        if self.problems:
            shown = self.problems[:max_problems]
            lines.append(f"problems ({len(self.problems)}):")
            lines += [f"  {p}" for p in shown]
            if len(self.problems) > len(shown):
                lines.append(f"  ... and {len(self.problems) - len(shown)} more (see the JSON report)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source, "format": self.fmt, "rows_read": self.rows_read, "kept": self.kept,
            "dropped": self.dropped, "formats": dict(self.formats), "blank_lines": self.blank_lines,
            "dropped_by_reason": dict(self.dropped_by_reason), "problems_by_reason": dict(self.problems_by_reason),
            "problems": [{"row": p.row, "line": p.line, "code": p.code, "message": p.message} for p in self.problems],
        }
