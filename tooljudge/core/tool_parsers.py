"""Raw model output -> tool calls, one parser per chat-template family.

Why per family: each family writes calls in its own surface form (Llama 3.1 JSON or ``<|python_tag|>``
built-ins, Mistral ``[TOOL_CALLS] [...]``, Qwen-Agent ``✿FUNCTION✿``/``✿ARGS✿``, Hermes/Qwen 2.5
``<tool_call>``, GLM-4 ``name\\n{json}``); eval must read what the model actually emitted under the template
it was trained with. Malformed output never raises: it becomes a classified ``failure`` so the metrics can
report format errors separately from wrong calls.

Nothing is ever ``eval``-ed: Python-style calls (``brave_search.call(query="...")``, ``[f(a=1)]``) are read
with :mod:`ast` and only literal argument values are accepted.

Bounded on any output (the same parsers run in the eval hook, in ``score_calls.py`` and in on-policy sampling,
so one hostile output must not stall or kill a run): every scan is linear (``str.find``, no backtracking regex
over the whole text), an output longer than ``MAX_OUTPUT_CHARS`` or arguments nested deeper than
``MAX_DEPTH`` are classified failures, and a ``MemoryError`` / ``RecursionError`` inside a parser (e.g.
CPython's own parser on ``f(a=------...``) becomes a ``too_deep`` failure with its reason.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tooljudge.registry import Registry

# Failure classes (stable strings: they are counted in the metrics and saved per example).
NOT_JSON = "not_json"  # a call payload that is not valid JSON
TRUNCATED = "truncated"  # the output ends inside a call (JSON/tag/parenthesis not closed)
MISSING_NAME = "missing_name"  # a call object without a string "name"
BAD_ARGUMENTS = "bad_arguments"  # arguments that are not an object (or positional Python args)
NOT_LITERAL = "not_literal"  # a Python-style call whose argument is not a literal (never evaluated)
NOT_PYTHON = "not_python"  # Python-style call syntax that does not parse
BAD_CALL_ID = "bad_call_id"  # Mistral call id that is not 9 alphanumeric characters
WRONG_FORMAT = "wrong_format"  # no call in this family's format, but call-like text of another format
UNKNOWN_FUNCTION = "unknown_function"  # a call to a function that is not among the offered tools
TOO_LONG = "too_long"  # longer than MAX_OUTPUT_CHARS (not parsed) or more than MAX_CALLS calls
TOO_DEEP = "too_deep"  # nesting beyond MAX_DEPTH, or the parser ran out of stack / memory on it

# Bounds. 100k characters is ~25k tokens, far beyond any max_new_tokens an eval or sampler uses (96 to 256);
# 64 levels of nesting (counted from the decoded payload) is far beyond any tool schema and keeps the checker's
# and json.dumps' recursion well inside Python's limit; 256 calls in one output is far beyond any parallel call.
MAX_OUTPUT_CHARS = 100_000
MAX_DEPTH = 64
MAX_CALLS = 256

FAILURES = (
    NOT_JSON,
    TRUNCATED,
    MISSING_NAME,
    BAD_ARGUMENTS,
    NOT_LITERAL,
    NOT_PYTHON,
    BAD_CALL_ID,
    WRONG_FORMAT,
    UNKNOWN_FUNCTION,
    TOO_LONG,
    TOO_DEEP,
)

# Family name -> call format (the parser that reads it). The chat-template families of
# ``tooljudge.data_prep.families`` add themselves here when they are registered (``register_family_parser``);
# the built-in ones are listed so that this layer parses them without data_prep (a test checks both agree).
FAMILY_ALIASES = {
    "llama31": "llama31",
    "llama31_meta": "llama31",
    "mistral_v3": "mistral_v3",
    "qwen2_fncall": "qwen2_fncall",
    "qwen25": "hermes",
    "hermes": "hermes",
    "chatml": "hermes",
    "glm4": "glm4",
    "plain": "plain",
    "none": "plain",
}

# End tokens stripped from the end of an output before parsing (every family's stop strings).
_END_TOKENS = ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "</s>", "<|im_end|>", "<|endoftext|>",
               "<|user|>", "<|observation|>")
_IDENT = re.compile(r"[A-Za-z_][\w.\-]*")
_FENCE_LANG_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_MISTRAL_ID = re.compile(r"[A-Za-z0-9]{9}")


@dataclass
class ParsedOutput:
    """Calls found in one output. ``failure`` is None when the output is well-formed (with or without calls)."""

    calls: list[dict] = field(default_factory=list)
    failure: str | None = None
    detail: str = ""
    content: str = ""

    @property
    def valid_format(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict:
        return {"calls": self.calls, "failure": self.failure, "detail": self.detail, "content": self.content}


class _Fail(Exception):
    """Internal: carries a classified failure up to ``parse_tool_calls`` (never escapes it)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# ----------------------------------------------------------------------------------------------- helpers


def _strip_end(text: str) -> str:
    """Drop surrounding whitespace and trailing end tokens (any order, any number); index-based, so linear."""
    end = len(text.rstrip())
    while text.endswith(_END_TOKENS, 0, end):
        end -= next(len(tok) for tok in _END_TOKENS if text.endswith(tok, 0, end))
        while end and text[end - 1].isspace():
            end -= 1
    return text[:end].lstrip()


def _strip_fence(s: str) -> str:
    """Models often wrap JSON in a Markdown fence; the payload inside is what counts.

    The same as ``re.fullmatch(r"```[A-Za-z0-9_]*\\s*(.*?)\\s*```", s, re.S)`` but linear (that regex
    backtracks quadratically over a long whitespace run)."""
    s = s.strip()
    if len(s) < 6 or not (s.startswith("```") and s.endswith("```")):
        return s
    inner = s[3:-3]
    lang = len(inner) - len(inner.lstrip(_FENCE_LANG_CHARS))
    return inner[lang:].strip()


def _depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists/dicts nest deeper than ``limit`` (iterative: a deep value cannot overflow the stack)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (v.values() if isinstance(v, dict) else v))
    return False


def _bounded(value: Any, what: str) -> Any:
    if _depth_exceeds(value):
        raise _Fail(TOO_DEEP, f"{what}: nested deeper than {MAX_DEPTH} levels")
    return value


def _json_error(s: str, err: json.JSONDecodeError, what: str) -> _Fail:
    at_end = err.pos >= len(s.rstrip()) or err.msg.startswith("Unterminated string")
    kind = TRUNCATED if at_end else NOT_JSON
    return _Fail(kind, f"{what}: {err.msg} at char {err.pos} of {s[:80]!r}")


def _loads(s: str, what: str) -> Any:
    try:
        return _bounded(json.loads(s), what)
    except json.JSONDecodeError as e:
        raise _json_error(s, e, what) from None


def _json_sequence(s: str, what: str) -> list[Any]:
    """Decode one or more JSON values separated by whitespace, ``;`` or ``,`` (e.g. parallel Llama calls)."""
    dec = json.JSONDecoder()
    values, i, n = [], 0, len(s)
    while True:
        while i < n and s[i] in " \t\r\n;,":
            i += 1
        if i >= n:
            break
        try:
            value, i = dec.raw_decode(s, i)
        except json.JSONDecodeError as e:
            raise _json_error(s, e, what) from None
        values.append(_bounded(value, what))
    return values


def _arguments(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):  # OpenAI-style double-encoded arguments
        try:
            value = _bounded(json.loads(value), f"arguments of {name!r}") if value.strip() else {}
        except json.JSONDecodeError as e:
            raise _Fail(NOT_JSON, f"arguments of {name!r} are a string that is not JSON: {e.msg}") from None
    if not isinstance(value, dict):
        raise _Fail(BAD_ARGUMENTS, f"arguments of {name!r} are {type(value).__name__}, not an object")
    return value


def _call_from_obj(obj: Any, arg_keys: tuple[str, ...] = ("arguments", "parameters")) -> dict:
    """``{"name", "arguments"|"parameters"}`` (or OpenAI's ``{"type": "function", "function": {...}}``)."""
    if not isinstance(obj, dict):
        raise _Fail(BAD_ARGUMENTS, f"a call must be a JSON object, got {type(obj).__name__}")
    if isinstance(obj.get("function"), dict) and "name" not in obj:
        obj = {**obj["function"], **({"id": obj["id"]} if "id" in obj else {})}
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Fail(MISSING_NAME, f"call object without a string name: {json.dumps(obj)[:80]}")
    raw = next((obj[k] for k in arg_keys if k in obj), None)
    call = {"name": name.strip(), "arguments": _arguments(raw, name)}
    if "id" in obj:
        call["id"] = obj["id"]
    return call


def _calls_from_values(values: Iterable[Any], arg_keys: tuple[str, ...] = ("arguments", "parameters")) -> list[dict]:
    calls = []
    for v in values:
        if isinstance(v, list):
            calls.extend(_call_from_obj(x, arg_keys) for x in v)
        else:
            calls.append(_call_from_obj(v, arg_keys))
    return calls


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain (a call's function), else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.AST, name: str, key: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise _Fail(NOT_LITERAL, f"argument {key!r} of {name!r} is not a literal: {_source(node)}") from None
    return _bounded(value, f"argument {key!r} of {name!r}")


def _source(node: ast.AST) -> str:
    """At most 60 characters of ``node``'s source for a message (``ast.unparse`` recurses; a deep node cannot
    reach here, ast.parse refuses 200 nested brackets, but the message must never be what fails)."""
    try:
        return ast.unparse(node)[:60]
    except (RecursionError, MemoryError, ValueError):
        return f"<{type(node).__name__}>"


def _python_calls(body: str) -> list[dict]:
    """``tool.call(query="...")`` built-ins and ``[f(a=1), g(b="x")]`` lists, read as literals only."""
    try:
        tree = ast.parse(body.strip(), mode="exec")
    except (MemoryError, RecursionError) as e:  # CPython's parser on e.g. 10,000 nested unary minus signs
        raise _Fail(TOO_DEEP, f"Python-style call nests too deeply to parse ({type(e).__name__})") from None
    except SyntaxError as e:
        opened = body.count("(") + body.count("[") + body.count("{")
        closed = body.count(")") + body.count("]") + body.count("}")
        odd_quotes = body.count('"') % 2 == 1
        kind = TRUNCATED if opened > closed or odd_quotes else NOT_PYTHON
        raise _Fail(kind, f"Python-style call does not parse: {e.msg}") from None
    nodes: list[ast.AST] = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            raise _Fail(NOT_PYTHON, f"expected only call expressions, got {type(stmt).__name__}")
        value = stmt.value
        nodes.extend(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
    if len(nodes) > MAX_CALLS:  # parse_tool_calls' bound, applied before any argument is evaluated
        raise _Fail(TOO_LONG, f"{len(nodes)} calls in one output; at most {MAX_CALLS} are read")
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise _Fail(NOT_PYTHON, f"expected a function call, got {_source(node)}")
        name = dotted_name(node.func)
        if name is None:
            raise _Fail(NOT_PYTHON, f"call target is not a name: {_source(node.func)}")
        if name.endswith(".call"):  # Llama 3.1 built-in: brave_search.call(query=...)
            name = name[: -len(".call")]
        if node.args:
            raise _Fail(BAD_ARGUMENTS, f"{name!r} called with positional arguments; keywords expected")
        args = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _Fail(BAD_ARGUMENTS, f"{name!r} called with **kwargs")
            args[kw.arg] = _literal(kw.value, name, kw.arg)
        calls.append({"name": name, "arguments": args})
    return calls


def _hint_failure(text: str, family: str) -> ParsedOutput:
    """No call in this family's format; flag call-like text of another format so it is not mistaken for prose."""
    for hint in call_hints():
        if hint in text:
            return ParsedOutput([], WRONG_FORMAT, f"no {family} call, but the text contains {hint!r}", text)
    return ParsedOutput([], None, "", text)


# ----------------------------------------------------------------------------------------------- families

def _tagged_blocks(text: str, open_tag: str, close_tag: str, named: bool = False):
    """``(start, end, name, body)`` for each ``open_tag[name>]body close_tag`` block, left to right, in one linear
    pass with ``str.find``. The same blocks as ``re.finditer(open + "(.*?)" + close, re.S)`` (with ``named``:
    ``"<function=([^>]+)>(.*?)</function>"``) without the regex's quadratic rescans of an unclosed tag."""
    pos = 0
    while True:
        start = text.find(open_tag, pos)
        if start < 0:
            return
        body_start, name = start + len(open_tag), ""
        if named:
            gt = text.find(">", body_start)
            if gt < 0:
                return
            if gt == body_start:  # "<function=>": no name, not a block; look further on
                pos = start + 1
                continue
            name, body_start = text[start + len(open_tag) : gt], gt + 1
        close = text.find(close_tag, body_start)
        if close < 0:  # no later opening can be closed either
            return
        yield start, close + len(close_tag), name, text[body_start:close]
        pos = close + len(close_tag)


_PY_CALL_START = re.compile(r"\[?\s*[A-Za-z_][\w.]*\(")  # no space before "(": prose like "Tokyo (Japan)" is text
_JSON_START = re.compile(r"(\{|\[\s*\{|```)")


def _parse_llama31(text: str) -> ParsedOutput:
    """Llama 3.1: JSON ``{"name", "parameters"}`` (one, a list, or several separated by ``;``), with or without
    ``<|python_tag|>``; ``<function=name>{...}</function>``; built-ins ``tool.call(query="...")``; and, as in
    Meta's reference decoder, any other ``<|python_tag|>`` body is code for ``code_interpreter``."""
    body = _strip_end(text)
    content = ""
    python_tag = "<|python_tag|>" in body
    if python_tag:
        content, body = body.split("<|python_tag|>", 1)
        body = body.strip()
    tags = [(name, block) for _s, _e, name, block in _tagged_blocks(body, "<function=", "</function>", named=True)]
    if tags:
        calls = [{"name": n.strip(), "arguments": _arguments(_loads(a, f"arguments of {n}"), n)} for n, a in tags]
        return ParsedOutput(calls, None, "", content.strip())
    if body.startswith("<function="):
        raise _Fail(TRUNCATED, "<function=...> tag is not closed")
    if _JSON_START.match(body):
        values = _json_sequence(_strip_fence(body), "Llama JSON call")
        return ParsedOutput(_calls_from_values(values, ("parameters", "arguments")), None, "", content.strip())
    if _PY_CALL_START.match(body):
        try:
            return ParsedOutput(_python_calls(body), None, "", content.strip())
        except _Fail:
            if not python_tag:
                raise
    if python_tag:
        return ParsedOutput([{"name": "code_interpreter", "arguments": {"code": body}}], None, "", content.strip())
    return _hint_failure(text, "llama31")


def _parse_mistral(text: str) -> ParsedOutput:
    """Mistral v3: ``[TOOL_CALLS] [{"name", "arguments", "id"}, ...]``; ids, when present, are 9 alphanumerics."""
    body = _strip_end(text)
    if "[TOOL_CALLS]" not in body:
        return _hint_failure(text, "mistral_v3")
    content, payload = body.split("[TOOL_CALLS]", 1)
    payload = _strip_fence(payload)
    if not payload:
        raise _Fail(TRUNCATED, "nothing after [TOOL_CALLS]")
    values = _json_sequence(payload, "[TOOL_CALLS] payload")
    calls = _calls_from_values(values, ("arguments", "parameters"))
    for c in calls:
        if "id" in c and not (isinstance(c["id"], str) and _MISTRAL_ID.fullmatch(c["id"])):
            return ParsedOutput(calls, BAD_CALL_ID, f"call id {c['id']!r} is not 9 alphanumeric characters",
                                content.strip())
    return ParsedOutput(calls, None, "", content.strip())


def _parse_hermes(text: str) -> ParsedOutput:
    """Hermes / Qwen 2.5 / ChatML: each call in ``<tool_call>{"name", "arguments"}</tool_call>``; several are
    parallel calls. A last block left open is accepted when its JSON is complete (stopped on the stop token)."""
    body = _strip_end(text)
    calls, pieces, pos = [], [], 0
    for start, end, _name, block in _tagged_blocks(body, "<tool_call>", "</tool_call>"):
        pieces.append(body[pos:start])
        pos = end
        calls.append(_call_from_obj(_loads(_strip_fence(block), "<tool_call> body")))
    rest = body[pos:]
    if "<tool_call>" in rest:
        before, open_body = rest.split("<tool_call>", 1)
        pieces.append(before)
        values = _json_sequence(_strip_fence(open_body), "unclosed <tool_call> body")
        if not values:
            raise _Fail(TRUNCATED, "<tool_call> opened but empty")
        calls.extend(_calls_from_values(values))
    else:
        pieces.append(rest)
    content = "".join(pieces).strip()
    if not calls:
        return _hint_failure(text, "hermes")
    return ParsedOutput(calls, None, "", content)


def _parse_glm4(text: str) -> ParsedOutput:
    """GLM-4: ``name\\n{json arguments}`` (the name is the message metadata); several calls are separate
    assistant messages joined by ``<|assistant|>``. A whole-JSON ``{"name", "arguments"}`` is accepted too."""
    body = _strip_end(text)
    calls, texts = [], []
    for seg in body.split("<|assistant|>"):
        seg = seg.strip()
        if not seg:
            continue
        first, _, rest = seg.partition("\n")
        first, rest = first.strip(), rest.strip()
        if _IDENT.fullmatch(first) and rest.startswith(("{", "```")):
            calls.append({"name": first, "arguments": _arguments(_loads(_strip_fence(rest), f"arguments of {first}"), first)})
        elif seg.startswith("{") and '"name"' in seg:
            calls.extend(_calls_from_values(_json_sequence(seg, "GLM-4 JSON call")))
        else:
            texts.append(seg)
    if not calls:
        return _hint_failure(text, "glm4")
    return ParsedOutput(calls, None, "", "\n".join(texts))


def _parse_qwen2_fncall(text: str) -> ParsedOutput:
    """Qwen-Agent prompt format: ``✿FUNCTION✿: name`` then ``✿ARGS✿: {json}``, repeated for parallel calls;
    text before the first call is a thought; ``✿RESULT✿`` / ``✿RETURN✿`` are stop words."""
    body = text
    for stop in ("✿RESULT✿", "✿RETURN✿"):
        body = body.split(stop, 1)[0]
    body = _strip_end(body)
    if "✿FUNCTION✿" not in body:
        return _hint_failure(text, "qwen2_fncall")
    content, _, rest = body.partition("✿FUNCTION✿")
    calls = []
    for part in rest.split("✿FUNCTION✿"):
        part = part.lstrip(":").strip()
        name, sep, args_text = part.partition("✿ARGS✿")
        name = name.strip()
        if not name:
            raise _Fail(MISSING_NAME if sep else TRUNCATED, "✿FUNCTION✿ without a name")
        if not sep:
            raise _Fail(TRUNCATED, f"✿FUNCTION✿: {name} without ✿ARGS✿")
        for chunk in args_text.split("✿ARGS✿"):
            chunk = _strip_fence(chunk.lstrip(":").strip())
            if not chunk:
                raise _Fail(TRUNCATED, f"✿ARGS✿ of {name!r} is empty")
            calls.append({"name": name, "arguments": _arguments(_loads(chunk, f"✿ARGS✿ of {name}"), name)})
    return ParsedOutput(calls, None, "", content.strip())


# ----------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class CallFormat:
    """One surface form of tool calls: ``parse(text)`` reads it (raising ``_Fail`` for a classified failure);
    ``hints`` are strings that mark a call written in this form, so another family's parser can flag such
    output as ``wrong_format`` instead of prose."""

    name: str
    parse: Callable[[str], ParsedOutput]
    hints: tuple[str, ...] = ()


CALL_FORMATS: Registry[CallFormat] = Registry("call format")


def register_call_format(fmt: CallFormat, replace: bool = False) -> CallFormat:
    return CALL_FORMATS.register(fmt, replace=replace)


def call_hints() -> tuple[str, ...]:
    """Every registered format's hints, in registration order."""
    return tuple(h for _, fmt in CALL_FORMATS.items() for h in fmt.hints)


def register_family_parser(family: str, call_format: str, end_tokens: Iterable[str] = ()) -> None:
    """Parse ``family``'s outputs with ``call_format``, stripping its ``end_tokens`` too. A family already
    mapped to another format is an error (a family has one parser)."""
    global _END_TOKENS
    CALL_FORMATS.get(call_format)
    if FAMILY_ALIASES.get(family, call_format) != call_format:
        raise ValueError(f"family {family!r} is parsed as {FAMILY_ALIASES[family]!r}, not {call_format!r}")
    FAMILY_ALIASES[family] = call_format
    _END_TOKENS = _END_TOKENS + tuple(t for t in dict.fromkeys(end_tokens) if t not in _END_TOKENS)


def unregister_family_parser(family: str) -> None:
    """Forget ``family``'s parser (tests that register a toy family clean up with this)."""
    FAMILY_ALIASES.pop(family, None)


# the hint order is the order the wrong-format detail names them in
register_call_format(CallFormat("hermes", _parse_hermes, ("<tool_call>",)))
register_call_format(CallFormat("mistral_v3", _parse_mistral, ("[TOOL_CALLS]",)))
register_call_format(CallFormat("qwen2_fncall", _parse_qwen2_fncall, ("✿FUNCTION✿",)))
register_call_format(CallFormat("llama31", _parse_llama31, ("<|python_tag|>", '{"name"', "<function=")))
register_call_format(CallFormat("glm4", _parse_glm4))
register_call_format(CallFormat("plain", lambda text: ParsedOutput([], None, "", text.strip())))


def family_name(family: Any) -> str:
    """Accept a family name or any object with ``.name`` (a ``tooljudge.data_prep.families.Family``)."""
    name = family if isinstance(family, str) else getattr(family, "name", None)
    if name not in FAMILY_ALIASES:
        raise ValueError(f"no tool-call parser for family {family!r}; known: {sorted(FAMILY_ALIASES)}")
    return name


def parse_tool_calls(text: str, family: Any, tool_names: Iterable[str] | None = None) -> ParsedOutput:
    """Parse one raw output. With ``tool_names``, a call to any other function is flagged ``unknown_function``
    (the calls are still returned, so the checker and the hallucination metric can see them)."""
    parser = CALL_FORMATS.get(FAMILY_ALIASES[family_name(family)]).parse
    if not isinstance(text, str):
        return ParsedOutput([], NOT_JSON, f"output is {type(text).__name__}, not text")
    if len(text) > MAX_OUTPUT_CHARS:
        return ParsedOutput([], TOO_LONG, f"output has {len(text)} characters; the parsers read at most "
                                          f"{MAX_OUTPUT_CHARS}", text)
    try:
        out = parser(text)
    except _Fail as f:
        return ParsedOutput([], f.kind, f.detail, text)
    except (RecursionError, MemoryError) as e:  # a bound no check above caught: still a classified failure
        return ParsedOutput([], TOO_DEEP, f"{type(e).__name__} while parsing: the output nests too deeply or is "
                                          "too large to parse", text)
    except (ValueError, TypeError) as e:  # e.g. an integer beyond Python's digit limit: a classified failure
        return ParsedOutput([], NOT_JSON, f"{type(e).__name__}: {e}"[:200], text)
    if len(out.calls) > MAX_CALLS:
        return ParsedOutput([], TOO_LONG, f"{len(out.calls)} calls in one output; at most {MAX_CALLS} are read", text)
    if tool_names is not None and out.failure is None:
        allowed = set(tool_names)
        unknown = [c["name"] for c in out.calls if c["name"] not in allowed]
        if unknown:
            out.failure = UNKNOWN_FUNCTION
            out.detail = f"called {unknown} but the tools are {sorted(allowed)}"
    return out
