"""Helpers shared by the parity tests that feed our conversations to the vendors' reference encoders.

Why one module: the per-family parity tests (``test_data_parity_*``) and the tricky-corpus test compare against the
same references (Qwen-Agent's prompt formatter, GLM-4's model template) and split masks the same way; one copy
keeps them comparing against one definition. The tokenizers themselves live in ``reference_tokenizers``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
from reference_tokenizers import QWEN2_TEMPLATE

GLM4_TEMPLATE = Path(__file__).parent / "data" / "glm4_9b_chat_template.jinja"


def mask_runs(ids: list[int], mask: list[int]) -> list[list[int]]:
    """The maximal runs of consecutive trained (mask 1) ids, in order."""
    runs, cur = [], []
    for t, f in zip(ids, mask, strict=True):
        if f:
            cur.append(t)
        elif cur:
            runs.append(cur)
            cur = []
    return runs + ([cur] if cur else [])


def args_json(call: dict) -> str:
    """A call's arguments as JSON text: a string verbatim, a dict dumped without ASCII escapes."""
    a = call["function"]["arguments"]
    return a if isinstance(a, str) else json.dumps(a, ensure_ascii=False)


def args_dict(call: dict) -> dict:
    """A call's arguments as a dict: a JSON string decoded, a dict as it is."""
    a = call["function"]["arguments"]
    return json.loads(a) if isinstance(a, str) else a


# ----------------------------------------------------------------------------- llama-models (llama31_meta)
def meta_messages(row: dict, date: str = "26 July 2024") -> list:
    """The conversation as llama-models' ``RawMessage``s, with its generators' system and tool-list texts
    (``LLama31Interface.system_messages``; the generator text itself is checked against prompt_format.md in
    ``test_data_parity_llama``). A system message after the first is kept as a message."""
    from llama_models.datatypes import RawMessage, StopReason, ToolCall
    from tooljudge.data_prep.families import (
        LLAMA_BUILTIN_TOOLS,
        llama_meta_system_text,
        llama_meta_tools_text,
    )

    builtin = [t["function"]["name"] for t in row["tools"] if t["function"]["name"] in LLAMA_BUILTIN_TOOLS]
    custom = [t for t in row["tools"] if t["function"]["name"] not in LLAMA_BUILTIN_TOOLS]
    msgs = row["messages"]
    system = msgs[0]["content"] if msgs[0]["role"] == "system" else ""
    out = [RawMessage(role="system", content=llama_meta_system_text(builtin, custom, date, system))]
    if custom:
        out.append(RawMessage(role="user", content=llama_meta_tools_text(custom)))
    for i, m in enumerate(msgs):
        if m["role"] == "system" and i == 0:
            continue
        if m["role"] == "assistant":
            calls = [ToolCall(call_id=c["id"], tool_name=c["function"]["name"], arguments=args_dict(c))
                     for c in m.get("tool_calls") or []]
            out.append(RawMessage(role="assistant", content=m["content"] or "", tool_calls=calls,
                                  stop_reason=StopReason.end_of_message if calls else StopReason.end_of_turn))
        else:
            out.append(RawMessage(role=m["role"], content=m["content"]))
    return out


# ----------------------------------------------------------------------------- Qwen-Agent (qwen2_fncall)
@functools.cache
def load_qwen_agent():
    """Qwen-Agent's ``QwenFnCallPrompt``, imported without the package ``__init__`` (which pulls in ``openai``) and
    with ``json5``/``soundfile`` stubbed while importing if absent (the prompt code never calls them)."""
    spec = importlib.util.find_spec("qwen_agent")
    if spec is None:
        pytest.skip("qwen-agent is not installed")
    base = list(spec.submodule_search_locations)[0]
    for name, sub in (("qwen_agent", ""), ("qwen_agent.llm", "/llm")):
        if name not in sys.modules or not hasattr(sys.modules[name], "__path__"):
            mod = types.ModuleType(name)
            mod.__path__ = [base + sub]
            sys.modules[name] = mod
    stubs = []
    for stub in ("json5", "soundfile"):
        if importlib.util.find_spec(stub) is None and stub not in sys.modules:
            mod = types.ModuleType(stub)
            mod.loads = json.loads  # json5 is only used to parse model output, never in prompt building
            sys.modules[stub] = mod
            stubs.append(stub)
    try:
        from qwen_agent.llm.fncall_prompts.qwen_fncall_prompt import QwenFnCallPrompt
    finally:  # a stub left in sys.modules (no __spec__) breaks transformers' find_spec checks in later tests
        for stub in stubs:
            del sys.modules[stub]
    return QwenFnCallPrompt()


def qwen_agent_messages(row: dict) -> list[dict]:
    """Canonical conversation -> Qwen-Agent messages (one function_call per assistant message)."""
    out = []
    call_names = {c.get("id"): c["function"]["name"] for m in row["messages"] for c in m.get("tool_calls") or []}
    for m in row["messages"]:
        if m["role"] in ("system", "user"):
            out.append({"role": m["role"], "content": m["content"]})
        elif m["role"] == "assistant":
            calls = m.get("tool_calls") or []
            if not calls:
                out.append({"role": "assistant", "content": m["content"]})
            for k, c in enumerate(calls):
                args = c["function"]["arguments"]
                args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)  # strings verbatim
                out.append({"role": "assistant", "content": m["content"] if k == 0 else "",
                            "function_call": {"name": c["function"]["name"], "arguments": args}})
        else:
            # a result without a name is its call's (Qwen-Agent's function message names the function)
            name = m.get("name") or call_names.get(m.get("tool_call_id"))
            out.append({"role": "function", "name": name, "content": m["content"]})
    return out


def qwen_agent_reference_text(qwen_prompt, tok, row: dict, lang: str, parallel: bool) -> str:
    """Qwen-Agent's ``format_plaintext_train_samples`` of the row, rendered with Qwen2's ChatML template."""
    samples = qwen_prompt.format_plaintext_train_samples(
        qwen_agent_messages(row), [t["function"] for t in row["tools"]], lang=lang, parallel_function_calls=parallel
    )
    msgs = [{"role": m.role, "content": m.content if isinstance(m.content, str) else "".join(
        item.text for item in m.content)} for m in samples]
    return tok.apply_chat_template(msgs, chat_template=QWEN2_TEMPLATE, tokenize=False)


# ----------------------------------------------------------------------------- GLM-4 (model template)
def glm4_reference_template() -> str:
    """``tests/data/glm4_9b_chat_template.jinja``: the ``chat_template`` of THUDM/glm-4-9b-chat."""
    return GLM4_TEMPLATE.read_text(encoding="utf-8")


def glm_messages(row: dict, style: str) -> list[dict]:
    """Canonical conversation -> the message list GLM-4's own template takes (tools on the system item)."""
    msgs = row["messages"]
    out = []
    if msgs[0]["role"] == "system":
        out.append({"role": "system", "content": msgs[0]["content"]})
        msgs = msgs[1:]
    elif row["tools"]:
        out.append({"role": "system", "content": ""})
    if row["tools"]:
        out[0]["tools"] = row["tools"]
    for m in msgs:
        if m["role"] == "assistant":
            if m["content"] or not m.get("tool_calls"):
                out.append({"role": "assistant", "content": m["content"]})
            for c in m.get("tool_calls") or []:
                args = c["function"]["arguments"]
                args = json.loads(args) if isinstance(args, str) else args
                if style == "metadata":
                    out.append({"role": "assistant", "metadata": c["function"]["name"],
                                "content": json.dumps(args, ensure_ascii=False)})
                else:
                    out.append({"role": "assistant", "content": json.dumps(
                        {"name": c["function"]["name"], "arguments": args}, ensure_ascii=False)})
        elif m["role"] == "tool":
            out.append({"role": "observation", "content": m["content"]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out
