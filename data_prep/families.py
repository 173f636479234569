"""Chat-template families: how one canonical tool conversation is written as text for each model line.

Why: a model must be trained on exactly the text its serving stack renders. Every family is a Jinja chat template
(the model's own, or one in ``data_prep/templates/`` that reproduces a vendor's reference encoder) plus a small
Python step that writes the vendor-specific strings Jinja cannot (Meta's ASCII-escaped ``json.dumps``, Mistral's
9-character call ids, Qwen-Agent's merged plaintext turns). Rendering always goes through
``transformers``' chat-template renderer, so the same template can be set as ``tokenizer.chat_template``.

Families: ``chatml`` (the tokenizer's own template, e.g. SmolLM2), ``qwen25`` (Qwen2.5 ``<tool_call>``),
``llama31`` (the model repository template, TRL's copy), ``llama31_meta`` (Meta's reference encoder),
``mistral_v3``, ``glm4``, ``qwen2_fncall`` (Qwen-Agent ✿FUNCTION✿ prompt), ``auto`` (detected from a tokenizer).
Each is one ``FamilySpec`` record in ``FAMILIES`` (bottom of this module): template, stop tokens, call format
(the parser, with its call hints), detection markers; adding a family is one record (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any

from tooljudge.core.tool_parsers import register_family_parser, unregister_family_parser
from tooljudge.registry import Registry

TEMPLATE_DIR = Path(__file__).parent / "templates"
LLAMA_BUILTIN_TOOLS = ("brave_search", "wolfram_alpha", "photogen", "code_interpreter")

FN_NAME, FN_ARGS, FN_RESULT, FN_EXIT = "✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿"


class FamilyError(ValueError):
    """A conversation that a family's format cannot express (names the message and the reason)."""


class ParallelCallsUnsupported(FamilyError):
    """``parallel_calls="reject"`` (or a split that is impossible): the family cannot write several calls in one
    turn (reason ``parallel_calls_unsupported``)."""


@cache
def family_template(name: str) -> str:
    """Jinja source of a bundled family template (``data_prep/templates/<name>.jinja``)."""
    path = TEMPLATE_DIR / f"{name}.jinja"
    if not path.exists():
        raise FileNotFoundError(f"no bundled template for family {name!r} at {path}")
    return path.read_text(encoding="utf-8")


Preprocess = Callable[[list[dict], list[dict] | None, dict, bool, list[dict]], tuple[list[dict], Any, dict]]


@dataclass
class Family:
    """One chat format.

    ``stop_tokens``: strings that end an assistant turn at generation time (give them to the eval backend).
    ``turn_end_tokens``: stop strings that the template writes inside the assistant turn (``<|im_end|>``).
    ``next_turn_stops``: stop strings written as the start of the following message (GLM-4's ``<|observation|>``):
    the model generates them, so the mask trains them. ``final_stop`` / ``final_call_stop``: appended after a
    conversation's last assistant turn (a text answer / a turn with tool calls) when the template writes no
    terminator there (GLM-4, Qwen-Agent), so that turn's stop is trained too.
    """

    name: str
    stop_tokens: list[str]
    template: str | None = None
    turn_end_tokens: list[str] = field(default_factory=list)
    next_turn_stops: list[str] = field(default_factory=list)
    final_stop: str | None = None
    final_call_stop: str | None = None
    unnamed_calls: tuple[str, ...] = ()  # calls written without their name (Meta's code_interpreter: bare code)
    parallel: bool = True  # False: the format cannot write several calls in one assistant turn
    piecewise: bool = False  # the reference encodes each message piece on its own (Meta's ChatFormat)
    assistant_join: str | None = None  # the reference merges consecutive text replies into one turn with this
    text_then_calls_one_turn: bool = False  # a reply then a call message render as one turn with text and calls
    # The reference merges turns (``assistant_join``/``text_then_calls_one_turn``) only when the row has tools:
    # Qwen-Agent adds its function prompt only then, and without it Qwen2 is plain ChatML, one turn per message.
    merges_only_with_tools: bool = False
    # The option that switches parallel calls on or off (Qwen-Agent's prompt has a parallel and a serial
    # variant); read from ``options`` when masking, so a copy with another value of it takes effect. None: the
    # family's ``parallel`` alone says.
    parallel_option: str | None = None
    # The reference decodes JSON tool results before writing them (mistral_common re-serialises them), so control
    # text hidden behind JSON escapes (``\u003c/s>``) becomes real control text and must be looked for too.
    parses_tool_json: bool = False
    options: dict = field(default_factory=dict)
    preprocess: Preprocess | None = None
    description: str = ""

    def chat_template(self, tokenizer=None) -> str:
        """The Jinja source this family renders with (the tokenizer's own for ``chatml``)."""
        if self.template is not None:
            return self.template
        tpl = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
        if isinstance(tpl, dict):
            tpl = tpl.get("tool_use") or tpl.get("default")
        if not tpl:
            raise FamilyError(f"family {self.name!r} uses the tokenizer's chat template, but the tokenizer has none")
        return tpl

    def render(
        self,
        tokenizer,
        messages: list[dict],
        tools: list[dict] | None = None,
        add_generation_prompt: bool = False,
        conversation: list[dict] | None = None,
    ) -> str:
        """Render canonical ``messages`` (a prefix of ``conversation``, default itself) to text."""
        conversation = messages if conversation is None else conversation
        if self.preprocess is not None:
            msgs, tools_arg, kwargs = self.preprocess(messages, tools, self.options, add_generation_prompt, conversation)
        else:
            msgs, tools_arg, kwargs = _hf_messages(messages), (tools or None), {}
        return render_template(self.chat_template(tokenizer), tokenizer, msgs, tools_arg, add_generation_prompt, kwargs)


    def prefix_renderer(self, tokenizer, messages: list[dict], tools: list[dict] | None = None):
        """``render(k, add_generation_prompt)`` for the prefixes ``messages[:k]`` of one conversation.

        Families without a Python step convert the messages once and render slices (the conversion is per
        message); the others run their step on every prefix (it may look at the whole prefix)."""
        template = self.chat_template(tokenizer)
        memo: dict = {}
        if self.preprocess is None:
            msgs, tools_arg = _hf_messages(messages), (tools or None)

            def render(k: int, gen: bool) -> str:
                with json_memo(memo):
                    return render_template(template, tokenizer, msgs[:k], tools_arg, gen, {})
        else:
            def render(k: int, gen: bool) -> str:
                with json_memo(memo):
                    return self.render(tokenizer, messages[:k], tools, gen, conversation=messages)
        return render


def render_template(template: str, tokenizer, messages, tools, add_generation_prompt: bool, kwargs: dict) -> str:
    """Render a chat template the way ``apply_chat_template(tokenize=False)`` does.

    Fast path: transformers' compiled (cached) template rendered directly; our messages and tools are already
    plain JSON-like dicts, so transformers' defensive deep copy (a third of the cost) is skipped. The private
    helper is the one compatibility seam; without it we fall back to the public ``apply_chat_template``.
    """
    special = memoised("special_tokens", tokenizer, lambda: _special_tokens(tokenizer))
    compiled = (_bundled_compiled(template) if shortcuts_enabled("plain_jinja") else None) or _compiled(template)
    if compiled is None:
        return tokenizer.apply_chat_template(
            messages, tools=tools, chat_template=template, tokenize=False,
            add_generation_prompt=add_generation_prompt, **kwargs,
        )
    return compiled.render(messages=messages, tools=tools, documents=None,
                           add_generation_prompt=add_generation_prompt, **special, **kwargs)


def _special_tokens(tokenizer) -> dict:
    special = {}
    if tokenizer is not None:
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = getattr(tokenizer, key, None)
            if isinstance(value, str):
                special[key] = value
    return special


@lru_cache(maxsize=64)
def _compiled(template: str):
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
    except ImportError:
        return None
    return _compile_jinja_template(template)


@cache
def _bundled_sources() -> frozenset[str]:
    return frozenset(family_template(p.stem) for p in TEMPLATE_DIR.glob("*.jinja"))


@lru_cache(maxsize=16)
def _bundled_compiled(template: str):
    """Our own bundled templates (trusted source, in this repository) compiled once in a plain Jinja environment
    with transformers' settings, filters and globals: the same output without the sandbox's per-attribute checks
    (most of a render's cost). Any other template (a tokenizer's, from the Hub) stays in transformers' sandbox."""
    if template not in _bundled_sources():
        return None
    sandboxed = _compiled(template)
    if sandboxed is None:
        return None

    env = sandboxed.environment
    plain = _plain_environment_class()(
        trim_blocks=env.trim_blocks, lstrip_blocks=env.lstrip_blocks, keep_trailing_newline=env.keep_trailing_newline,
        newline_sequence=env.newline_sequence, autoescape=env.autoescape, undefined=env.undefined,
        finalize=env.finalize, extensions=[type(e) for e in env.extensions.values()])
    plain.filters.update(env.filters)
    plain.tests.update(env.tests)
    plain.globals.update(env.globals)
    plain.policies.update(env.policies)
    plain.filters["tojson"] = _memo_tojson(env.filters["tojson"])
    return plain.from_string(template)


@cache
def _plain_environment_class():
    import jinja2

    dict_attributes = frozenset(dir(dict)) | frozenset(dir(type))  # a superset of what hasattr(dict, name) finds

    class PlainEnvironment(jinja2.Environment):
        """Jinja's lookups with a shortcut for plain dicts (what we render): ``message.role`` on a dict goes to the
        item without raising and catching ``AttributeError`` first. Same result as Jinja's rule (attribute first,
        then item): a plain dict has exactly the attributes of the ``dict`` class."""

        def getattr(self, obj, attribute):
            if type(obj) is dict and attribute not in dict_attributes:
                if attribute in obj:
                    return obj[attribute]
                return self.undefined(obj=obj, name=attribute)
            return super().getattr(obj, attribute)

        def getitem(self, obj, argument):
            if type(obj) is dict and isinstance(argument, str) and argument in obj:
                return obj[argument]
            return super().getitem(obj, argument)

    return PlainEnvironment


_JSON_MEMO: ContextVar[dict | None] = ContextVar("tooljudge_json_memo", default=None)
# the masking speed-ups, each of which :func:`reference_path` can turn off
SHORTCUTS = {
    "plain_jinja": "bundled templates compiled in a plain Jinja environment with a dict-lookup shortcut",
    "memo": "tojson, special tokens and plain Jinja texts reused within one conversation's prefix renders",
    "prefix_conversion": "a family's Python step run once per conversation for its prefixes (mistral_v3, the "
                         "Qwen-Agent tool prompt, llama31_meta's tool texts)",
    "reuse_normalized": "the validator's canonical row reused instead of normalising the row again",
    "encoding": "the mask read from the Rust Encoding at the span bounds instead of a Python list of offsets",
}
_DISABLED: ContextVar[frozenset] = ContextVar("tooljudge_mask_shortcuts_off", default=frozenset())


def shortcuts_enabled(name: str) -> bool:
    """Whether the speed-up ``name`` (:data:`SHORTCUTS`) is on (off inside :func:`reference_path`)."""
    return name not in _DISABLED.get()


@contextmanager
def reference_path(*names: str):
    """The masking speed-ups ``names`` off (default every one, :data:`SHORTCUTS`): the reference they are tested
    and benchmarked against, i.e. every template through transformers' sandboxed compile as
    ``apply_chat_template`` does, no per-conversation memo, the row normalised again after validation, offsets
    read as a Python list."""
    unknown = set(names) - set(SHORTCUTS)
    if unknown:
        raise ValueError(f"unknown masking shortcut(s) {sorted(unknown)} (known: {', '.join(SHORTCUTS)})")
    token = _DISABLED.set(_DISABLED.get() | frozenset(names or SHORTCUTS))
    try:
        yield
    finally:
        _DISABLED.reset(token)


def _memo_tojson(base):
    """``tojson`` that reuses its output for the same object within one conversation's prefix renders (the tool
    schemas are serialised again for every prefix otherwise). Active only inside :func:`json_memo`, where the
    objects rendered are not mutated; the memo holds each object, so an ``id`` is never reused while cached."""

    def tojson(x, *args, **kwargs):
        memo = _JSON_MEMO.get()
        if memo is None or not isinstance(x, (dict, list)):
            return base(x, *args, **kwargs)
        key = (id(x), repr(args), repr(sorted(kwargs.items())))
        hit = memo.get(key)
        if hit is not None and hit[0] is x:
            return hit[1]
        out = base(x, *args, **kwargs)
        memo[key] = (x, out)
        return out

    return tojson


def memoised(kind: str, obj, make: Callable[[], Any]):
    """``make()``, reused for the same ``obj`` within one conversation's prefix renders (inside :func:`json_memo`;
    ``obj`` is not mutated there). Outside, always ``make()``."""
    memo = _JSON_MEMO.get()
    if memo is None:
        return make()
    key = (kind, id(obj))
    hit = memo.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    out = make()
    memo[key] = (obj, out)
    return out


@contextmanager
def json_memo(memo: dict):
    """Renders inside share ``memo`` for ``tojson`` (bundled templates; see :func:`_memo_tojson`)."""
    token = _JSON_MEMO.set(memo if shortcuts_enabled("memo") else None)
    try:
        yield
    finally:
        _JSON_MEMO.reset(token)


# ----------------------------------------------------------------------------- canonical helpers
def arguments_dict(call: dict) -> dict:
    """A tool call's arguments as a dict (rows may carry them as a JSON string)."""
    fn = call.get("function", call)
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise FamilyError(f"tool call {fn.get('name')!r}: arguments are not JSON ({exc.msg})") from exc
    if not isinstance(args, dict):
        raise FamilyError(f"tool call {fn.get('name')!r}: arguments must be a JSON object, got {type(args).__name__}")
    return args


def content_text(message: dict) -> str:
    """Message content as text (``None`` -> ``""``, dict/list tool results -> JSON)."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(p.get("text", "") for p in content)
    return json.dumps(content, ensure_ascii=False)


def _calls(message: dict) -> list[dict]:
    return list(message.get("tool_calls") or [])


def _hf_messages(messages: list[dict]) -> list[dict]:
    """Canonical messages in the shape Hugging Face templates expect (arguments as dicts, text content,
    no empty ``tool_calls`` key: Llama's template treats its mere presence as a call)."""
    out = []
    for m in messages:
        msg = {"role": m["role"], "content": content_text(m)}
        calls = _calls(m)
        if calls:
            msg["tool_calls"] = [
                {"id": c.get("id"), "type": "function",
                 "function": {"name": c.get("function", c)["name"], "arguments": arguments_dict(c)}}
                for c in calls
            ]
        for key in ("tool_call_id", "name"):
            if m.get(key) is not None:
                msg[key] = m[key]
        out.append(msg)
    return out


def _tool_name(tool: dict) -> str:
    return tool.get("function", tool).get("name", "")


def _split_llama_tools(tools):
    tools = tools or []
    builtin = [_tool_name(t) for t in tools if _tool_name(t) in LLAMA_BUILTIN_TOOLS]
    custom = [t for t in tools if _tool_name(t) not in LLAMA_BUILTIN_TOOLS]
    return custom, builtin


# ----------------------------------------------------------------------------- llama 3.1
def _pre_llama31(messages, tools, options, add_generation_prompt, conversation):
    custom, builtin = _split_llama_tools(tools)
    kwargs = {k: options[k] for k in ("date_string", "tools_in_user_message") if k in options}
    if builtin:
        kwargs["builtin_tools"] = builtin
    return _hf_messages(messages), (custom or None), kwargs


def llama_meta_call_text(name: str, args: dict) -> str:
    """One call as Meta's ``ToolUtils.encode_tool_call`` writes it (json format for custom tools)."""
    if name in ("brave_search", "wolfram_alpha", "photogen"):
        return f'{name}.call(query="{args["query"]}")'
    if name == "code_interpreter":
        return args["code"]
    return json.dumps({"type": "function", "name": name, "parameters": args})


# The text of llama-models' own prompt generators (llama_models/llama3/prompt_templates/system_prompts.py,
# BuiltinToolGenerator and JsonCustomToolGenerator, rendered by jinja2.Template as their PromptTemplate.render does),
# which also produced the examples of llama_models/llama3_1/prompt_format.md.
LLAMA_META_BUILTIN_TEMPLATE = """{% if builtin_tools or custom_tools -%}
Environment: ipython
{% endif -%}
{% set builtin_tools = builtin_tools | reject('equalto', 'code_interpreter') | list -%}
{% if builtin_tools -%}
Tools: {{ builtin_tools | join(", ") | trim -}}
{% endif %}
"""
LLAMA_META_JSON_TOOLS_TEMPLATE = """Answer the user's question by making use of the following functions if needed.
If none of the function can be used, please say so.
Here is a list of functions in JSON format:
{% for t in custom_tools -%}
{# manually setting up JSON because jinja sorts keys in unexpected ways -#}
{%- set tname = t.tool_name -%}
{%- set tdesc = t.description -%}
{%- set tparams = t.parameters -%}
{%- set required_params = [] -%}
{%- for name, param in tparams.items() if param.required == true -%}
    {%- set _ = required_params.append(name) -%}
{%- endfor -%}
{
    "type": "function",
    "function": {
        "name": "{{tname}}",
        "description": "{{tdesc}}",
        "parameters": {
            "type": "object",
            "properties": [
                {%- for name, param in tparams.items() %}
                {
                    "{{name}}": {
                        "type": "object",
                        "description": "{{param.description}}"
                    }
                }{% if not loop.last %},{% endif %}
                {%- endfor %}
            ],
            "required": {{ required_params | tojson }}
        }
    }
}
{% endfor %}
Return function calls in JSON format.
"""
LLAMA_META_DEFAULT_DATE = "26 July 2024"  # the generator writes datetime.now() as "%d %B %Y"


@lru_cache(maxsize=8)
def _plain_template(source: str):
    from jinja2 import Template

    return Template(source)


def _plain_jinja(source: str, data: dict) -> str:
    """Render as llama-models' ``PromptTemplate.render`` does (a plain ``jinja2.Template``), compiled once.

    Within one conversation's prefix renders (:func:`json_memo`) the text is reused for data of the same value
    (``repr``: the data are JSON values built from the row, so equal ``repr`` means equal values): the tool
    listing is rendered again for every prefix otherwise."""
    memo = _JSON_MEMO.get()
    if memo is None:
        return _plain_template(source).render(data)
    key = ("plain_jinja", source, repr(data))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _plain_template(source).render(data)
    return hit


def llama_tool_definition(tool: dict) -> dict:
    """A JSON-schema tool as llama-models' ``ToolDefinition.model_dump()`` (what the generators read)."""
    fn = tool.get("function", tool)
    schema = fn.get("parameters") or {}
    required = set(schema.get("required") or [])
    params = {}
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        params[name] = {"param_type": str(prop.get("type", "string")), "description": prop.get("description"),
                        "required": name in required, "default": prop.get("default")}
    return {"tool_name": fn["name"], "description": fn.get("description"), "parameters": params}


def llama_meta_system_text(builtin: list[str], custom: list[dict], date: str, instruction: str = "") -> str:
    """The system message of llama-models' ``LLama31Interface.system_messages``: tool environment, date, the
    conversation's own system prompt, and a final newline."""
    text = ""
    if builtin or custom:
        text += _plain_jinja(LLAMA_META_BUILTIN_TEMPLATE, {"builtin_tools": list(builtin),
                                                           "custom_tools": custom}) + "\n"
    text += f"Cutting Knowledge Date: December 2023\nToday Date: {date}"
    if instruction:
        text += "\n\n" + instruction
    return text + "\n"


def llama_meta_tools_text(custom: list[dict]) -> str:
    """The user message of llama-models' ``JsonCustomToolGenerator`` listing the custom tools."""
    return _plain_jinja(LLAMA_META_JSON_TOOLS_TEMPLATE, {"custom_tools": [llama_tool_definition(t) for t in custom]})


MERGED_REPLY_KEY = "_reply_then_calls"  # a reply and the call message after it, merged into one turn by masking
MORE_REPLIES_KEY = "_more_replies"  # GLM-4: texts of the assistant messages merged into this one generation
PIECE_CUT = "\ue00f"  # a private-use character marking where the reference encoder starts a new piece
PIECE_CUT_OPTION = "_piece_cut"
_PRIMITIVE = (str, int, float, bool, type(None))


def _check_llama_meta_arguments(args: dict, i: int) -> None:
    """llama-models' ``ToolCall.arguments`` holds primitives, lists of primitives or flat objects of primitives."""
    for key, value in args.items():
        inner = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        if not all(isinstance(x, _PRIMITIVE) for x in inner):
            raise FamilyError(f"message {i}: argument {key!r} nests deeper than llama-models' ToolCall allows "
                              "(primitives, lists of primitives, flat objects of primitives)")


def _pre_llama31_meta(messages, tools, options, add_generation_prompt, conversation):
    custom, builtin = _split_llama_tools(tools)
    for i, m in enumerate(messages):
        if m["role"] == "system" and i > 0:
            raise FamilyError(f"message {i}: llama31_meta writes the system prompt first; a late system message "
                              "cannot be placed")
    cut = options.get(PIECE_CUT_OPTION, "")  # set by masking: ChatFormat encodes each piece on its own
    out = []
    for i, m in enumerate(_hf_messages(messages)):
        if m["role"] == "assistant":
            calls = m.pop("tool_calls", [])
            for c in calls:
                _check_llama_meta_arguments(c["function"]["arguments"], i)
            m["llama_calls_text"] = "".join(
                cut + llama_meta_call_text(c["function"]["name"], c["function"]["arguments"]) for c in calls
            )
            m["llama_python_tag"] = bool(calls) and calls[0]["function"]["name"] == "code_interpreter"
            m["llama_stop"] = "<|eom_id|>" if calls else "<|eot_id|>"
        m["content"] = cut + m["content"]
        out.append(m)
    instruction = ""
    if out and out[0]["role"] == "system":
        instruction = out.pop(0)["content"]
    date = options.get("date_string", LLAMA_META_DEFAULT_DATE)
    if instruction.startswith(cut):
        instruction = instruction[len(cut):]
    system_text = lambda: llama_meta_system_text(builtin, custom, date, instruction)  # noqa: E731
    tools_text = lambda: llama_meta_tools_text(custom) if custom else ""  # noqa: E731
    if tools and shortcuts_enabled("prefix_conversion"):
        # the same for every prefix of one conversation (its tools, date and system prompt): built once
        system_text = partial(memoised, f"llama_meta_system_text/{date}/{instruction}", tools, system_text)
        tools_text = partial(memoised, "llama_meta_tools_text", tools, tools_text)
    text = tools_text()
    kwargs = {"llama_system_text": cut + system_text(), "llama_tools_text": (cut + text) if text else ""}
    return out, None, kwargs


# ----------------------------------------------------------------------------- mistral v3
_MISTRAL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")


def mistral_call_id(call_id: str | None, index: int = 0) -> str:
    """Mistral v3 wants 9-character alphanumeric ids: keep a valid one, map any other deterministically."""
    if call_id and _MISTRAL_ID.match(call_id):
        return call_id
    return hashlib.sha1(f"{call_id}|{index}".encode()).hexdigest()[:9]


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def mistral_tool_dict(tool: dict) -> dict:
    """A tool as mistral_common's ``Tool.model_dump`` writes it (field order type, function{name, description,
    parameters})."""
    fn = tool.get("function", tool)
    return {
        "type": "function",
        "function": {
            "name": fn["name"],
            "description": fn.get("description", "") or "",
            "parameters": fn.get("parameters", {}) or {},
        },
    }


_MISTRAL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # mistral_common's validator: tools, calls, tool messages


def _mistral_name(name, where: str) -> None:
    if not isinstance(name, str) or not _MISTRAL_NAME.match(name):
        raise FamilyError(
            f"{where}: mistral_v3 refuses the function name {name!r} (mistral_common requires ^[a-zA-Z0-9_-]{{1,64}}$)"
        )


def _mistral_tool_content(text: str):
    """A tool result as mistral_common writes it: empty -> {} (its normaliser), JSON -> parsed, else the text."""
    return {} if text == "" else _json_or_text(text)


def _pre_mistral_v3(messages, tools, options, add_generation_prompt, conversation):
    if _JSON_MEMO.get() is not None and shortcuts_enabled("prefix_conversion") \
            and 0 < len(messages) <= len(conversation) \
            and all(a is b for a, b in zip(messages, conversation, strict=False)):
        # a prefix of the conversation being masked: message i converts the same in every prefix (the step reads
        # only earlier messages and conversation-wide facts), so convert the whole conversation once and take
        # the state after message k-1 (the last item's content as it was then: later user messages extend it)
        try:
            out, marks = memoised("mistral_v3_messages", conversation,
                                  lambda: _mistral_messages(conversation, tools, conversation, marks=[]))
        except FamilyError:
            pass  # the prefix alone may still convert: the step below says
        else:
            n, last_content = marks[len(messages) - 1]
            out = out[:n]
            if out and out[-1]["content"] != last_content:
                out[-1] = {**out[-1], "content": last_content}
            return out, None, {}
    return _mistral_messages(messages, tools, conversation)[0], None, {}


def _mistral_messages(messages, tools, conversation, marks: list | None = None):
    """mistral_v3's messages for the template; ``marks`` gets, after each message, how many items there are and
    the last one's content."""
    system_parts = [content_text(m) for m in conversation if m["role"] == "system" and content_text(m)]
    system_prompt = "\n\n".join(system_parts) if system_parts else None
    for t in tools or []:
        _mistral_name(_tool_name(t), "tools")
        if "parameters" not in t.get("function", t):
            raise FamilyError(f"tool {_tool_name(t)!r} has no parameters; mistral_common's Tool requires them")
    # mistral_common merges directly consecutive user messages into one [INST] block ("\n\n"-joined); tools and
    # the system prompt go before the whole conversation's last such block, also within a prefix of it.
    first_of_group: dict[int, int] = {}
    for i, m in enumerate(conversation):
        if m["role"] == "user":
            prev = i - 1
            first_of_group[i] = first_of_group[prev] if prev >= 0 and conversation[prev]["role"] == "user" else i
    last_group = max(first_of_group.values()) if first_of_group else -1
    ids: dict[str, str] = {}
    out = []
    call_counter = 0
    for i, m in enumerate(messages):
        if marks is not None and i > 0:  # the state after message i-1
            marks.append((len(out), out[-1]["content"] if out else None))
        role = m["role"]
        if role == "system":
            continue
        if role == "user":
            text = content_text(m)
            group = first_of_group.get(i, i)
            if group != i and out and out[-1]["role"] == "user":
                out[-1]["content"] += "\n\n" + text
                continue
            if group == last_group and system_prompt:
                text = system_prompt + "\n\n" + text
            tools_json = ""
            if group == last_group and tools:
                tools_json = memoised("mistral_tools_json", tools, lambda: json.dumps(
                    [mistral_tool_dict(t) for t in tools], ensure_ascii=False))
            out.append({"role": "user", "content": text, "mistral_tools_json": tools_json})
        elif role == "assistant":
            if i > 0 and messages[i - 1]["role"] == "assistant":
                raise FamilyError(
                    f"message {i}: mistral_v3 merges consecutive assistant messages into one turn; write them as one"
                )
            calls = _calls(m)
            text = content_text(m)
            if calls and text:  # mistral_common refuses any content beside calls, whitespace included
                raise FamilyError(
                    f"message {i}: mistral_v3 cannot express an assistant turn with both text and tool calls"
                )
            if not calls and not text.rstrip(" "):
                raise FamilyError(f"message {i}: mistral_v3 cannot express an empty assistant turn")
            prepared = []
            for c in calls:
                name = c.get("function", c)["name"]
                _mistral_name(name, f"message {i}")
                cid = mistral_call_id(c.get("id"), call_counter)
                call_counter += 1
                if c.get("id") is not None:
                    ids[c["id"]] = cid
                prepared.append({"name": name, "arguments": arguments_dict(c), "id": cid})
            out.append({
                "role": "assistant",
                "content": text.rstrip(" "),
                "mistral_calls_json": json.dumps(prepared, ensure_ascii=False) if prepared else "",
            })
        elif role == "tool":
            if m.get("name") is not None:
                _mistral_name(m.get("name"), f"message {i}")
            raw_id = m.get("tool_call_id")
            cid = ids.get(raw_id) or mistral_call_id(raw_id)
            result = {"content": _mistral_tool_content(content_text(m)), "call_id": cid}
            out.append({"role": "tool", "content": "", "mistral_result_json": json.dumps(result, ensure_ascii=False)})
        else:
            raise FamilyError(f"message {i}: role {role!r} is not part of the mistral_v3 format")
    if marks is not None and messages:
        marks.append((len(out), out[-1]["content"] if out else None))
    return out, marks


# ----------------------------------------------------------------------------- GLM-4
def _pre_glm4(messages, tools, options, add_generation_prompt, conversation):
    style = options.get("glm4_call_style", "metadata")
    if style not in ("metadata", "content_json"):
        raise FamilyError(f"glm4_call_style must be 'metadata' or 'content_json', got {style!r}")
    out = []
    for i, m in enumerate(messages):
        role = m["role"]
        text = content_text(m)
        if role in ("system", "user"):
            if role == "user" and not text:
                raise FamilyError(f"message {i}: the glm4 template drops an empty user message")
            out.append({"role": role, "content": text, "metadata": ""})
        elif role == "assistant":
            calls = _calls(m)
            if text or not calls:
                if not text:
                    raise FamilyError(f"message {i}: the glm4 template drops an empty assistant turn")
                out.append({"role": "assistant", "content": text, "metadata": ""})
            for more in m.get(MORE_REPLIES_KEY, ()):  # consecutive messages of one generation (masking merges)
                if more:
                    out.append({"role": "assistant", "content": more, "metadata": ""})
                elif not calls:
                    raise FamilyError(f"message {i}: the glm4 template drops an empty assistant turn")
            for c in calls:
                name, args = c.get("function", c)["name"], arguments_dict(c)
                if style == "metadata":
                    out.append({"role": "assistant", "metadata": name,
                                "content": json.dumps(args, ensure_ascii=False)})
                else:
                    out.append({"role": "assistant", "metadata": "",
                                "content": json.dumps({"name": name, "arguments": args}, ensure_ascii=False)})
        elif role == "tool":
            if not text:
                raise FamilyError(f"message {i}: the glm4 template drops an empty tool result (its turn would lose "
                                  "the <|observation|> that ends the call)")
            out.append({"role": "observation", "content": text, "metadata": ""})
        else:
            raise FamilyError(f"message {i}: role {role!r} is not part of the glm4 format")
    if tools:
        # The model's template writes the tool list where a message carries ``tools``: the first system message.
        if out and out[0]["role"] == "system" and conversation and conversation[0]["role"] == "system":
            out[0]["tools"] = tools
        else:
            out.insert(0, {"role": "system", "content": "", "metadata": "", "tools": tools})
    kwargs = {k: options[k] for k in ("glm4_identity",) if k in options}
    return out, None, kwargs


# ----------------------------------------------------------------------------- Qwen 2 (Qwen-Agent prompt)
FN_CALL_TEMPLATE_INFO = {
    "zh": "# 工具\n\n## 你拥有如下工具：\n\n{tool_descs}",
    "en": "# Tools\n\n## You have access to the following tools:\n\n{tool_descs}",
}
FN_CALL_TEMPLATE_FMT = {
    "zh": (
        "## 你可以在回复中插入零次、一次或多次以下命令以调用工具：\n\n"
        f"{FN_NAME}: 工具名称，必须是[{{tool_names}}]之一。\n{FN_ARGS}: 工具输入\n{FN_RESULT}: 工具结果\n"
        f"{FN_EXIT}: 根据工具结果进行回复，需将图片用![](url)渲染出来"
    ),
    "en": (
        "## When you need to call a tool, please insert the following command in your reply, which can be called "
        "zero or multiple times according to your needs:\n\n"
        f"{FN_NAME}: The tool to use, should be one of [{{tool_names}}]\n{FN_ARGS}: The input of the tool\n"
        f"{FN_RESULT}: Tool results\n{FN_EXIT}: Reply based on tool results. Images need to be rendered as ![](url)"
    ),
    "zh_parallel": (
        "## 你可以在回复中插入以下命令以并行调用N个工具：\n\n"
        f"{FN_NAME}: 工具1的名称，必须是[{{tool_names}}]之一\n{FN_ARGS}: 工具1的输入\n{FN_NAME}: 工具2的名称\n"
        f"{FN_ARGS}: 工具2的输入\n...\n{FN_NAME}: 工具N的名称\n{FN_ARGS}: 工具N的输入\n{FN_RESULT}: 工具1的结果\n"
        f"{FN_RESULT}: 工具2的结果\n...\n{FN_RESULT}: 工具N的结果\n{FN_EXIT}: 根据工具结果进行回复，需将图片用![](url)渲染出来"
    ),
    "en_parallel": (
        "## Insert the following command in your reply when you need to call N tools in parallel:\n\n"
        f"{FN_NAME}: The name of tool 1, should be one of [{{tool_names}}]\n{FN_ARGS}: The input of tool 1\n"
        f"{FN_NAME}: The name of tool 2\n{FN_ARGS}: The input of tool 2\n...\n{FN_NAME}: The name of tool N\n"
        f"{FN_ARGS}: The input of tool N\n{FN_RESULT}: The result of tool 1\n{FN_RESULT}: The result of tool 2\n"
        f"...\n{FN_RESULT}: The result of tool N\n{FN_EXIT}: Reply based on tool results. Images need to be "
        "rendered as ![](url)"
    ),
}


def qwen_function_description(fn: dict, lang: str) -> str:
    """One tool as Qwen-Agent's ``get_function_description`` writes it."""
    tpl = {
        "zh": "### {h}\n\n{m}: {d} 输入参数：{p} {a}",
        "en": "### {h}\n\n{m}: {d} Parameters: {p} {a}",
    }[lang]
    name = fn.get("name")
    human, model = fn.get("name_for_human", name), fn.get("name_for_model", name)
    if model == "code_interpreter":
        default = {"zh": "此工具的输入应为Markdown代码块。",
                   "en": "Enclose the code within triple backticks (`) at the beginning and end of the code."}
    else:
        default = {"zh": "此工具的输入应为JSON对象。", "en": "Format the arguments as a JSON object."}
    args_format = fn.get("args_format", default[lang])
    return tpl.format(h=human, m=model, d=fn.get("description", ""),
                      p=json.dumps(fn.get("parameters", {}), ensure_ascii=False), a=args_format).rstrip()


def qwen_tool_system(tools: list[dict], lang: str, parallel: bool) -> str:
    fns = [t.get("function", t) for t in tools]
    key = lang + ("_parallel" if parallel else "")
    template = FN_CALL_TEMPLATE_INFO[lang] + "\n\n" + FN_CALL_TEMPLATE_FMT[key]
    descs = "\n\n".join(qwen_function_description(f, lang) for f in fns)
    names = ",".join(f.get("name_for_model", f.get("name", "")) for f in fns)
    return template.format(tool_descs=descs, tool_names=names)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def qwen_lang(conversation: list[dict]) -> str:
    """Qwen-Agent's default language: ``zh`` when a system or user message holds a CJK ideograph
    (``has_chinese_messages``: tool results, assistant turns and tool schemas are not looked at)."""
    scanned = (m for m in conversation if m["role"] in ("system", "user"))
    return "zh" if any(_CJK.search(content_text(m)) for m in scanned) else "en"


def qwen_call_args(call: dict) -> str:
    """A call's arguments as Qwen-Agent writes them: a JSON string verbatim (``1e-5`` stays ``1e-5``), a dict as
    ``json.dumps(ensure_ascii=False)``."""
    fn = call.get("function", call)
    raw = fn.get("arguments_json")
    if raw is None and isinstance(fn.get("arguments"), str):
        raw = fn["arguments"]
    if isinstance(raw, str):
        arguments_dict(call)  # still refuse arguments that are not a JSON object
        return raw
    return json.dumps(arguments_dict(call), ensure_ascii=False)


def _pre_qwen2_fncall(messages, tools, options, add_generation_prompt, conversation):
    lang = options.get("lang", "auto")
    if lang == "auto":
        lang = qwen_lang(conversation)
    elif lang not in ("en", "zh"):
        raise FamilyError(f"qwen2_fncall lang must be 'auto', 'en' or 'zh', got {lang!r}")
    parallel = options.get("parallel", True)
    out: list[dict] = []
    for i, m in enumerate(messages):
        role, text = m["role"], content_text(m)
        if role in ("system", "user"):
            out.append({"role": role, "content": text})
        elif role == "assistant":
            calls = _calls(m)
            if calls and len(calls) > 1 and not parallel:
                raise FamilyError(f"message {i}: parallel calls need qwen2_fncall with parallel=True")
            content = text
            for k, c in enumerate(calls):
                args = qwen_call_args(c)
                if args.startswith("```"):
                    args = "\n" + args
                merged = (bool(out) and out[-1]["role"] == "assistant") or bool(m.get(MERGED_REPLY_KEY))
                sep = "\n" if (merged or k > 0) else ""  # Qwen-Agent: '\n' only after an assistant message
                content += sep + f"{FN_NAME}: {c.get('function', c)['name']}\n{FN_ARGS}: {args}"
            if out and out[-1]["role"] == "assistant" and tools:  # Qwen-Agent merges; plain ChatML does not
                out[-1]["content"] += content
            else:
                out.append({"role": "assistant", "content": content})
        elif role == "tool":
            if not out or out[-1]["role"] != "assistant":
                raise FamilyError(f"message {i}: a tool result must follow an assistant tool call in qwen2_fncall")
            if not parallel and i > 0 and messages[i - 1]["role"] == "tool":
                raise FamilyError(f"message {i}: parallel results need qwen2_fncall with parallel=True")
            f_exit = f"\n{FN_EXIT}: "
            if out[-1]["content"].endswith(f_exit):
                out[-1]["content"] = out[-1]["content"][: -len(f_exit)]
            out[-1]["content"] += f"\n{FN_RESULT}: " + text + f_exit
        else:
            raise FamilyError(f"message {i}: role {role!r} is not part of the qwen2_fncall format")
    if tools:
        for t in tools:
            if "description" not in t.get("function", t):
                raise FamilyError(f"tool {_tool_name(t)!r} has no description; Qwen-Agent's function prompt needs one")
            if "parameters" not in t.get("function", t):
                raise FamilyError(f"tool {_tool_name(t)!r} has no parameters; Qwen-Agent's function prompt needs them")
        if shortcuts_enabled("prefix_conversion"):
            tool_system = memoised(f"qwen_tool_system/{lang}/{parallel}", tools,
                                   lambda: qwen_tool_system(tools, lang, parallel))
        else:
            tool_system = qwen_tool_system(tools, lang, parallel)
        if out and out[0]["role"] == "system":
            out[0]["content"] += "\n\n" + tool_system
        else:
            out.insert(0, {"role": "system", "content": tool_system})
    for m in out:
        m["qwen_open"] = False
    if out and out[-1]["role"] == "assistant" and messages and messages[-1]["role"] == "tool":
        # Qwen-Agent continues the open assistant turn after a result and removes the trailing ': '.
        if out[-1]["content"].endswith(f"{FN_EXIT}: "):
            out[-1]["content"] = out[-1]["content"][:-2]
        out[-1]["qwen_open"] = add_generation_prompt
    if out and out[-1]["role"] == "assistant" and messages and _calls(messages[-1]):
        out[-1]["qwen_open"] = True  # the model stops on ✿RESULT✿ after a call: the turn has no <|im_end|>
    return out, None, {}


# ----------------------------------------------------------------------------- registry
# ------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class FamilySpec:
    """One chat-template family as a record: what renders, masks, stops and parses it.

    ``template``: a bundled template's name (``data_prep/templates/<name>.jinja``); ``template_text``: Jinja
    source given directly (a family kept outside the package); neither: the tokenizer's own template (``chatml``).
    ``call_format``: the parser of the family's outputs (``tooljudge.core.tool_parsers.CALL_FORMATS``: ``hermes``,
    ``llama31``, ``mistral_v3``, ``glm4``, ``qwen2_fncall``, ``plain``); its call hints come with it.
    ``detect``: marker groups that identify the family in a tokenizer's template (a group matches when all its
    strings occur), tried in ``detect_order`` after the exact match of every registered template.
    ``adapt(family, tokenizer)``: adjusts a family detected from a tokenizer (the model's own template wins).
    ``configure(family)``: applies an option that changes a field (beyond ``parallel_option``, which sets
    ``parallel`` from its option). The other fields are :class:`Family`'s (the behaviour flags
    ``merges_only_with_tools``, ``parallel_option``, ``parses_tool_json`` say there why a family needs them).
    """

    name: str
    stop_tokens: tuple[str, ...]
    call_format: str
    template: str | None = None
    template_text: str | None = None
    turn_end_tokens: tuple[str, ...] = ()
    next_turn_stops: tuple[str, ...] = ()
    final_stop: str | None = None
    final_call_stop: str | None = None
    unnamed_calls: tuple[str, ...] = ()
    parallel: bool = True
    piecewise: bool = False
    assistant_join: str | None = None
    text_then_calls_one_turn: bool = False
    merges_only_with_tools: bool = False
    parallel_option: str | None = None
    parses_tool_json: bool = False
    preprocess: Preprocess | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    detect: tuple[tuple[str, ...], ...] = ()
    detect_order: int = 100
    adapt: Callable[[Family, Any], None] | None = None
    configure: Callable[[Family], None] | None = None

    def template_source(self) -> str | None:
        """The Jinja source the family renders with (None: the tokenizer's own)."""
        if self.template_text is not None:
            return self.template_text
        return family_template(self.template) if self.template is not None else None

    def build(self, options: dict) -> Family:
        """A fresh :class:`Family` with ``options``."""
        fam = Family(self.name, list(self.stop_tokens), self.template_source(), list(self.turn_end_tokens),
                     list(self.next_turn_stops), final_stop=self.final_stop, final_call_stop=self.final_call_stop,
                     unnamed_calls=self.unnamed_calls, parallel=self.parallel, piecewise=self.piecewise,
                     assistant_join=self.assistant_join, text_then_calls_one_turn=self.text_then_calls_one_turn,
                     merges_only_with_tools=self.merges_only_with_tools, parallel_option=self.parallel_option,
                     parses_tool_json=self.parses_tool_json, options=options, preprocess=self.preprocess,
                     description=self.description)
        if self.parallel_option is not None:
            fam.parallel = bool(options.get(self.parallel_option, True))
        if self.configure is not None:
            self.configure(fam)
        return fam


FAMILIES: Registry[FamilySpec] = Registry("family")
FALLBACK_FAMILY = "chatml"  # what ``auto`` picks when no registered template or marker matches


def register_family(spec: FamilySpec, replace: bool = False) -> FamilySpec:
    """Add a family: usable by name (and aliases) in ``get_family``, ``prepare_example``, recipes and evals, and
    by ``parse_tool_calls`` (its name is mapped to ``spec.call_format``, its turn-end tokens are stripped)."""
    if spec.template is not None and spec.template_text is not None:
        raise ValueError(f"family {spec.name!r}: give template (a bundled name) or template_text, not both")
    register_family_parser(spec.name, spec.call_format, spec.turn_end_tokens)
    return FAMILIES.register(spec, aliases=spec.aliases, replace=replace)


def unregister_family(name: str) -> FamilySpec:
    """Remove a family (and its parser mapping); for tests that register a toy family."""
    spec = FAMILIES.unregister(name)
    unregister_family_parser(spec.name)
    return spec


def _model_template_wins(fam: Family, tokenizer) -> None:
    """A Llama-style template we did not bundle: the model's own template is the one it was trained with."""
    own = tokenizer.chat_template
    if fam.template is not None and isinstance(own, str) and own.strip() != fam.template.strip():
        fam.template = own


def _chatml_adapt(fam: Family, tokenizer) -> None:
    """The tokenizer's own template: when it writes no ``<|im_end|>``, the turn ends with its EOS token."""
    own = fam.chat_template(tokenizer)
    if "<|im_end|>" not in own and getattr(tokenizer, "eos_token", None):
        fam.stop_tokens = [tokenizer.eos_token]
        fam.turn_end_tokens = [tokenizer.eos_token]


for _spec in (
    FamilySpec("chatml", ("<|im_end|>",), "hermes", turn_end_tokens=("<|im_end|>",), adapt=_chatml_adapt,
               description="the tokenizer's own chat template (ChatML stop <|im_end|>)"),
    FamilySpec("qwen25", ("<|im_end|>",), "hermes", "qwen25", turn_end_tokens=("<|im_end|>",),
               detect=(("<tool_call>", "<|im_start|>"),), detect_order=4,
               description="Qwen2.5 template: <tool_call> JSON in the assistant turn, <tool_response> in a user turn"),
    FamilySpec("llama31", ("<|eot_id|>", "<|eom_id|>"), "llama31", "llama31", turn_end_tokens=("<|eot_id|>", "<|eom_id|>"),
               preprocess=_pre_llama31, parallel=False, aliases=("llama3", "llama"),
               detect=(("<|start_header_id|>",),), detect_order=1, adapt=_model_template_wins,
               description="Llama 3.1 model repository template: {\"name\", \"parameters\"} calls ending in "
               "<|eot_id|>, built-in tools as <|python_tag|>name.call(...)<|eom_id|>"),
    FamilySpec("llama31_meta", ("<|eot_id|>", "<|eom_id|>"), "llama31", "llama31_meta",
               turn_end_tokens=("<|eot_id|>", "<|eom_id|>"), preprocess=_pre_llama31_meta,
               unnamed_calls=("code_interpreter",), piecewise=True,
               description="Llama 3.1 as Meta's llama_models ChatFormat encodes it: {\"type\": \"function\", "
               "\"name\", \"parameters\"} calls ending in <|eom_id|> under Environment: ipython"),
    FamilySpec("mistral_v3", ("</s>",), "mistral_v3", "mistral_v3", turn_end_tokens=("</s>",),
               preprocess=_pre_mistral_v3, assistant_join="\n\n", parses_tool_json=True, aliases=("mistral",),
               detect=(("[AVAILABLE_TOOLS]",), ("[TOOL_CALLS]",)), detect_order=2,
               description="Mistral v3 as mistral_common encodes it: [AVAILABLE_TOOLS] before the last "
               "[INST], [TOOL_CALLS] [...]</s>, [TOOL_RESULTS] {...}[/TOOL_RESULTS]"),
    FamilySpec("glm4", ("<|user|>", "<|observation|>", "<|endoftext|>"), "glm4", "glm4",
               next_turn_stops=("<|observation|>", "<|user|>"), final_stop="<|user|>",
               final_call_stop="<|observation|>", text_then_calls_one_turn=True, preprocess=_pre_glm4,
               detect=(("<|observation|>",),), detect_order=3,
               description="GLM-4-9b-chat: tools in the system turn, calls as <|assistant|>name\\n{json}, "
               "results as <|observation|>; the turn ends with the next role token"),
    FamilySpec("qwen2_fncall", ("<|im_end|>", FN_RESULT, FN_EXIT), "qwen2_fncall", "qwen2_fncall",
               turn_end_tokens=("<|im_end|>",), next_turn_stops=(f"\n{FN_RESULT}",),
               final_call_stop=f"\n{FN_RESULT}", preprocess=_pre_qwen2_fncall, assistant_join="",
               text_then_calls_one_turn=True, merges_only_with_tools=True, parallel_option="parallel",
               aliases=("qwen2",),
               description="Qwen 2 with Qwen-Agent's function-call prompt (✿FUNCTION✿/✿ARGS✿/✿RESULT✿/"
               "✿RETURN✿), options lang=en|zh|auto, parallel=True|False"),
):
    register_family(_spec)

# The built-in names (``auto``: detected from a tokenizer) and aliases, as shipped.
FAMILY_NAMES = (*FAMILIES.names(), "auto")
ALIASES = FAMILIES.aliases()


def detect_family_name(tokenizer) -> str:
    """Pick the family from a tokenizer's chat template: a registered template recognised exactly, else the
    families' markers (in ``detect_order``), else ``chatml``."""
    tpl = getattr(tokenizer, "chat_template", None)
    if isinstance(tpl, dict):
        tpl = tpl.get("tool_use") or tpl.get("default")
    if not tpl:
        raise FamilyError("family='auto' needs a tokenizer with a chat template; pass family= explicitly")
    for name, spec in FAMILIES.items():
        source = spec.template_source()
        if source is not None and tpl.strip() == source.strip():
            return name
    for spec in sorted((s for _, s in FAMILIES.items() if s.detect), key=lambda s: s.detect_order):
        if any(all(marker in tpl for marker in group) for group in spec.detect):
            return spec.name
    return FALLBACK_FAMILY


def get_family(name_or_tokenizer: Any = "auto", tokenizer=None, **options) -> Family:
    """Return the :class:`Family` for a name (or alias), a tokenizer, or ``"auto"`` plus ``tokenizer=``.

    ``options`` are family settings: ``date_string``/``tools_in_user_message`` (llama31), ``glm4_call_style``,
    ``glm4_identity`` (glm4), ``lang``/``parallel`` (qwen2_fncall).
    """
    if isinstance(name_or_tokenizer, Family):
        return name_or_tokenizer
    if not isinstance(name_or_tokenizer, str):
        tokenizer, name_or_tokenizer = name_or_tokenizer, "auto"
    if name_or_tokenizer != "auto":
        return FAMILIES.get(name_or_tokenizer).build(options)
    if tokenizer is None:
        raise FamilyError("family='auto' needs a tokenizer: get_family(tokenizer) or get_family('auto', tokenizer=tok)")
    spec = FAMILIES.get(detect_family_name(tokenizer))
    fam = spec.build(options)
    if spec.adapt is not None:
        spec.adapt(fam, tokenizer)
    return fam


def copy_family(family: Family, **options) -> Family:
    """A copy of ``family`` with extra options (families are small mutable dataclasses)."""
    fam = copy.copy(family)
    fam.options = {**family.options, **options}
    return fam
