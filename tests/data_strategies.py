"""Hypothesis strategies for conversations, shared by the data_prep tests (not a test module itself)."""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

NAMES = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(lambda s: s.strip("_"))
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,?!é°", min_size=1, max_size=20).filter(
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
