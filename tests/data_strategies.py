"""Hypothesis strategies for conversations, shared by the data_prep tests (not a test module itself)."""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

NAMES = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(lambda s: s.strip("_"))
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,?!é°'\":{}", min_size=1, max_size=20).filter(
    lambda s: s.strip())
JSON_TYPES = {
    "string": TEXT,
    "integer": st.integers(-1000, 1000),
    "number": st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "array": st.lists(TEXT, max_size=3),
}


@st.composite
def tool_specs(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    tools = []
    for name in names:
        params = draw(st.dictionaries(NAMES, st.sampled_from(sorted(JSON_TYPES)), max_size=3))
        required = [p for p in params if draw(st.booleans())]
        schema = {"type": "object",
                  "properties": {p: ({"type": t, "items": {"type": "string"}} if t == "array" else {"type": t})
                                 for p, t in params.items()}}
        if required:
            schema["required"] = required
        tools.append((name, schema))
    return tools


@st.composite
def valid_conversations(draw):
    """A valid conversation in a random mix of accepted input shapes, and the calls it holds."""
    tools = draw(tool_specs())
    messages, calls_made = [], []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    counter = 0
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(TEXT)})
        if draw(st.booleans()):
            calls = []
            for _ in range(draw(st.integers(1, 3))):
                name, schema = draw(st.sampled_from(tools))
                props = schema["properties"]
                keys = [k for k in props if k in schema.get("required", []) or draw(st.booleans())]
                args = {k: draw(JSON_TYPES[props[k]["type"]]) for k in keys}
                calls_made.append((name, args))
                counter += 1
                call = {"function": {"name": name,
                                     "arguments": json.dumps(args) if draw(st.booleans()) else args}}
                if draw(st.booleans()):
                    call["type"] = "function"
                if draw(st.booleans()):
                    call["id"] = f"id_{counter}"
                calls.append(call)
            content = draw(st.one_of(st.none(), st.just(""), TEXT))
            messages.append({"role": "assistant", "content": content, "tool_calls": calls})
            results = []
            for call in calls:
                result = {"role": "tool", "content": draw(st.one_of(TEXT, st.dictionaries(NAMES, TEXT)))}
                if "id" in call and draw(st.booleans()):
                    result["tool_call_id"] = call["id"]
                elif draw(st.booleans()):
                    result["name"] = call["function"]["name"]
                results.append(result)
            # results linked by id may come in any order; the others answer pending calls in order
            if all("tool_call_id" in r for r in results):
                results = draw(st.permutations(results))
            messages.extend(results)
        messages.append({"role": "assistant", "content": draw(TEXT)})
        if draw(st.booleans()):
            messages[-1]["train"] = False
    messages[-1].pop("train", None)  # at least one trained assistant turn
    bare = draw(st.booleans())
    specs = [({"name": n, "description": "d", "parameters": s} if bare else
              {"type": "function", "function": {"name": n, "description": "d", "parameters": s}})
             for n, s in tools]
    row = {"messages": messages, "tools": json.dumps(specs) if draw(st.booleans()) else specs}
    return row, calls_made


# ------------------------------------------------------------------------ arbitrary (mostly broken) rows
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
                     st.sampled_from(["user", "assistant", "tool", "system", "function", "human", "gpt", "{}", "[]",
                                      '{"a": 1}', "<tool_call>{}</tool_call>"]))
_KEYS = st.sampled_from(["messages", "tools", "role", "content", "tool_calls", "function", "name", "arguments", "id",
                         "tool_call_id", "train", "type", "parameters", "properties", "required", "from", "value",
                         "conversations", "system", "chat", "query", "answers", "functions", "function_call"])
JSON_VALUES = st.recursive(_SCALARS, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(_KEYS, c, max_size=5)),
                           max_leaves=25)
_ARGS = st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(["x", "y"]), JSON_VALUES, max_size=2).map(json.dumps))
_SCHEMA = st.recursive(
    st.one_of(st.sampled_from(["object", "string", "integer", "array", "text"]), JSON_VALUES),
    lambda c: st.dictionaries(st.sampled_from(["type", "properties", "required", "items", "enum",
                                               "additionalProperties", "x", "y"]), c, max_size=4), max_leaves=12)
_CALL = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.sampled_from(["call00001", "a"]), JSON_VALUES), "type": st.sampled_from(["function", "x"]),
    "function": st.fixed_dictionaries({}, optional={"name": st.one_of(st.sampled_from(["a", "b"]), JSON_VALUES),
                                                    "arguments": _ARGS}),
    "name": st.sampled_from(["a", "b"]), "arguments": _ARGS})
_MESSAGE = st.fixed_dictionaries({"role": st.one_of(st.sampled_from(["user", "assistant", "tool", "system"]),
                                                    JSON_VALUES)}, optional={
    "content": JSON_VALUES, "tool_calls": st.one_of(st.lists(_CALL, max_size=3), JSON_VALUES),
    "tool_call_id": st.one_of(st.sampled_from(["call00001", "a"]), JSON_VALUES),
    "name": st.sampled_from(["a", "b"]), "train": JSON_VALUES})
_TOOL = st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["function", "x"]), "name": st.sampled_from(["a", "b"]), "parameters": _SCHEMA,
    "function": st.fixed_dictionaries({}, optional={"name": st.sampled_from(["a", "b"]), "parameters": _SCHEMA})}))
_OPENAI = st.fixed_dictionaries({"messages": st.lists(_MESSAGE, max_size=6)},
                                optional={"tools": st.one_of(st.lists(_TOOL, max_size=3), JSON_VALUES)})
_GLAIVE_TEXT = st.lists(st.sampled_from([
    "USER: ", "ASSISTANT: ", "FUNCTION RESPONSE: ", "\n", "\n\n\n", "<functioncall> ", "'", "{", "}", "hi",
    '{"name": "a", "arguments": \'{"x": 1}\'}', "<|endoftext|>", "SYSTEM: ", '{"name": "a", "parameters": {}}']),
    max_size=12).map("".join)
_HERMES_TEXT = st.lists(st.sampled_from([
    "<tools>", "</tools>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "\n", "x", "[", "]",
    "{'name': 'a', 'arguments': {}}", '{"name": "a", "content": 1}', "{'type': 'function', 'function': {'name': 'a'}}"]),
    max_size=10).map("".join)
_TURNS = st.lists(st.fixed_dictionaries({"from": st.one_of(st.sampled_from(
    ["system", "human", "gpt", "tool", "function_call", "observation"]), JSON_VALUES),
    "value": st.one_of(_HERMES_TEXT, JSON_VALUES)}), max_size=5)
ARBITRARY_ROWS = st.one_of(
    JSON_VALUES, _OPENAI,
    st.fixed_dictionaries({"chat": st.one_of(_GLAIVE_TEXT, JSON_VALUES)}, optional={"system": _GLAIVE_TEXT}),
    st.fixed_dictionaries({"conversations": st.one_of(_TURNS, JSON_VALUES)}, optional={"tools": JSON_VALUES}),
    st.fixed_dictionaries({"query": st.one_of(st.just("q"), JSON_VALUES), "answers": st.one_of(
        JSON_VALUES, st.lists(_CALL, max_size=2).map(json.dumps)), "tools": JSON_VALUES}))
