"""Adversarial conversations for ``tests/test_data_tricky_corpus.py`` (not a test module): run an unseen-like corpus
through every family's reference comparison.

    python tests/tricky_corpus_generators.py random 3 150 > /tmp/a.jsonl   # random shapes, odd byte pieces
    python tests/tricky_corpus_generators.py edges 8 250 > /tmp/b.jsonl    # built-in tools, odd schemas, edges
    python tests/tricky_corpus_generators.py perturb 6 200 > /tmp/c.jsonl  # tricky rows with pieces inserted
    TOOLJUDGE_TRICKY_CORPUS=/tmp/a.jsonl pytest tests/test_data_tricky_corpus.py

Rows are JSON Lines with raw U+2028/U+0085 in strings (the test's reader splits at "\n" only). Some rows are
invalid on purpose (the validator's refusals are part of the check).
"""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

OWN = Path(__file__).parent / "data" / "tricky_conversations.jsonl"

PIECES = ["\n", "\n\n", "\r\n", "\r", " ", "  ", "\t", "\u00a0", "\u2028", "\u2029", "\u0085", "\ufeff", "\u200b",
          "\x00", "\x01", "\x1b", "\x7f", "é", "e\u0301", "東京", "北京", "🌦️", "👍🏽", "𝔘", "ß", "İ", "ﬁ", "Ａ",
          "\"", "\\", "\\n", "\\u003c", "'", "{", "}", "{{", "}}", "{%", "%}", "[", "]", "<", ">", "&", "/",
          "<|eot_id|>", "<|im_end|>", "<|im_start|>", "</s>", "<s>", "[INST]", "[/INST]", "[TOOL_CALLS]",
          "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[AVAILABLE_TOOLS]", "<|user|>", "<|assistant|>", "<|observation|>",
          "<|system|>", "<|endoftext|>", "<|python_tag|>", "<|eom_id|>", "<|start_header_id|>", "<|begin_of_text|>",
          "<tool_call>", "</tool_call>", "<tool_response>", "✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿", ": ",
          "```", "```py\nprint(1)\n```", "1e-5", "3.0", "-0", "NaN", "null", "true", "{\"a\": 1}", "[1, 2]",
          "word", "hello world", "The", " answer", "12345", "  x  ", "Ω", "\u202e", "\U0010ffff", "\ue00f"]


def text(rng, lo=0, hi=6):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(lo, hi)))


def words(rng):
    return rng.choice(["ok", "Sure.", "It is 3 degrees.", "Let me check.", "Done", "Result: fine", "x"])


def maybe_odd(rng, base, p=0.5):
    if rng.random() < p:
        k = rng.randint(0, len(base))
        return base[:k] + text(rng, 1, 3) + base[k:]
    return base


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                     "unit": {"type": "string", "enum": ["c", "f"]}},
                    "required": ["city"]}}},
    {"type": "function", "function": {"name": "calc", "description": "Compute with numbers.",
     "parameters": {"type": "object", "properties": {"x": {"type": "number"}, "n": {"type": "integer"},
                                                     "flag": {"type": "boolean"},
                                                     "items": {"type": "array", "items": {"type": "string"}},
                                                     "opts": {"type": "object"}},
                    "required": ["x"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Time now.",
     "parameters": {"type": "object", "properties": {}}}},
]


def args_for(rng, name):
    if name == "get_weather":
        a = {"city": maybe_odd(rng, rng.choice(["Oslo", "Zürich", "東京", "New York"]))}
        if rng.random() < 0.4:
            a["unit"] = rng.choice(["c", "f"])
        return a
    if name == "calc":
        a = {"x": rng.choice([0, 1, -1, 3.0, 1e-5, 1e100, 0.1, 2 ** 53, -0.0, 1.5e-300, 12345678901234567890])}
        if rng.random() < 0.5:
            a["n"] = rng.choice([0, 7, -3, 2 ** 31])
        if rng.random() < 0.5:
            a["flag"] = rng.choice([True, False])
        if rng.random() < 0.5:
            a["items"] = [maybe_odd(rng, "a", 0.7) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.4:
            a["opts"] = rng.choice([{}, {"k": None}, {"k": "v", "z": 1}, {"ü": [1, 2]}])
        return a
    return {}


def call(rng, k, idx):
    name = rng.choice(["get_weather", "calc", "get_time"])
    a = args_for(rng, name)
    args = a
    if rng.random() < 0.3:
        args = json.dumps(a, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
    cid = rng.choice([f"call{k:02d}{idx % 1000:03d}x", f"c{idx}", f"call_{idx}-{k}", f"abcd{idx % 100000:05d}"])
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def result_text(rng):
    return rng.choice([maybe_odd(rng, "{\"temp\": 3}"), maybe_odd(rng, "sunny"), text(rng, 1, 5),
                       "[1, 2, 3]", "\"quoted\"", "3.0", "null", "", " ", "\n"])


def conversation(rng, idx):
    msgs = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": maybe_odd(rng, rng.choice(["Be brief.", "You help.", "S"]))})
    for k in range(rng.randint(1, 3)):
        msgs.append({"role": "user", "content": maybe_odd(rng, rng.choice(["Weather?", "Compute.", "hi", "Time?"]),
                                                            0.7)})
        if rng.random() < 0.15:
            msgs.append({"role": "user", "content": maybe_odd(rng, "and also", 0.5)})
        if rng.random() < 0.6:
            n = rng.choice([1, 1, 1, 2, 3])
            calls = [call(rng, k, idx * 100 + k * 10 + j) for j in range(n)]
            ids = [c["id"] for c in calls]
            if len(set(ids)) != len(ids):
                for j, c in enumerate(calls):
                    c["id"] = f"uniq{idx}{k}{j}"
            content = ""
            if rng.random() < 0.2:
                content = maybe_odd(rng, "Let me check.", 0.5)
            msgs.append({"role": "assistant", "content": content, "tool_calls": calls})
            order = list(calls)
            if rng.random() < 0.3:
                rng.shuffle(order)
            for c in order:
                msgs.append({"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"],
                             "content": result_text(rng)})
        reply = maybe_odd(rng, words(rng), 0.6)
        if rng.random() < 0.1:
            reply = text(rng, 1, 4) or "."
        msgs.append({"role": "assistant", "content": reply})
        if rng.random() < 0.08:
            msgs.append({"role": "assistant", "content": maybe_odd(rng, "More.", 0.5)})
    tools = copy.deepcopy(TOOLS) if rng.random() < 0.85 else []
    if not tools:
        msgs = [m for m in msgs if m["role"] != "tool"]
        for m in msgs:
            m.pop("tool_calls", None)
        msgs = [m for m in msgs if m["role"] != "assistant" or m["content"]] or msgs
    if tools and rng.random() < 0.2:
        tools[0]["function"]["description"] = maybe_odd(rng, "Weather \"now\"\nfor a city.", 0.8)
    return {"id": f"adv{idx}", "kind": "adversarial", "messages": msgs, "tools": tools}


EDGE = ["x\n", "\nx", "\n\nx\n\n", " x ", "  ", "\u3000", "x" * 3000,
        "é" * 200, "🌦️" * 50, "a\u0000b", "a\\nb", "{\"k\": \"v\"}", "[]", "{}", "0", "-1.50", "true"]

SCHEMAS = [
    {"type": "function", "function": {"name": "lookup", "description": "Look \"things\" up.\nSecond line\twith tab.",
     "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "ünï": {"type": "string",
                    "description": "unicode key"}, "lvl": {"type": "integer", "enum": [1, 2, 3]}}, "required": ["q"]}}},
    {"type": "function", "function": {"name": "noop", "description": "", "parameters": {"type": "object",
                                                                                       "properties": {}}}},
    {"type": "function", "function": {"name": "brave_search", "description": "Search the web.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {"name": "code_interpreter", "description": "Run code.",
     "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}},
    {"type": "function", "function": {"name": "wolfram_alpha", "description": "Math.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {"name": "deep_args", "description": "Nested.",
     "parameters": {"type": "object", "properties": {"cfg": {"type": "object"}, "xs": {"type": "array"}}}}},
]


def edge(rng):
    return rng.choice(EDGE + [text(rng, 1, 4)])


def args2(rng, name):
    if name == "lookup":
        a = {"q": edge(rng)}
        if rng.random() < 0.5:
            a["ünï"] = edge(rng)
        if rng.random() < 0.4:
            a["lvl"] = rng.choice([1, 2, 3])
        return a
    if name in ("brave_search", "wolfram_alpha"):
        return {"query": rng.choice(["news", "2+2", "a \"quoted\" q", "東京", "x\ny"])}
    if name == "code_interpreter":
        return {"code": rng.choice(["print(1)", "```py\nprint(2)\n```", "x = '<|eot_id|>'", "for i in range(3):\n  pass"])}
    if name == "deep_args":
        return {"cfg": rng.choice([{"a": {"b": [1, {"c": None}]}}, {"e": []}, {}]), "xs": rng.choice([[], [[1]], [{"k": 1}]])}
    return {}


def conv2(rng, idx):
    tools = rng.sample(SCHEMAS, rng.randint(1, 4))
    names = [t["function"]["name"] for t in tools]
    msgs = []
    if rng.random() < 0.4:
        msgs.append({"role": "system", "content": rng.choice(["S", "Sys\n", "\nsys", "x" * 500])})
    used = 0
    for _ in range(rng.randint(1, 3)):
        msgs.append({"role": "user", "content": rng.choice(["q", "q\n", "\nq", " q ", edge(rng) or "q"])})
        if rng.random() < 0.7:
            n = rng.choice([1, 1, 2])
            calls = []
            for _ in range(n):
                nm = rng.choice(names)
                a = args2(rng, nm)
                if rng.random() < 0.3:
                    a = json.dumps(a, ensure_ascii=rng.random() < 0.5)
                used += 1
                calls.append({"id": f"id{idx}x{used}", "type": "function", "function": {"name": nm, "arguments": a}})
            msgs.append({"role": "assistant", "content": rng.choice(["", "", "", "Checking."]), "tool_calls": calls})
            for c in calls:
                res = rng.choice([edge(rng), "ok", "{\"a\": [1, 2]}", "[1]", "\n\nresult\n"])
                msgs.append({"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"], "content": res})
        msgs.append({"role": "assistant", "content": rng.choice(["Done.", "\nDone", "Done\n", " Done", "\n\nx", edge(rng) or "."])})
    return {"id": f"e{idx}", "kind": "adversarial2", "messages": msgs, "tools": tools}


def perturb(rng, row, idx):
    """A tricky-corpus row with odd pieces inserted into its strings (content, arguments, results, descriptions)."""
    row = copy.deepcopy(row)
    row["id"] = f"{row['id']}_p{idx}"

    def walk(x, key=None):
        if isinstance(x, str):
            if key in ("role", "id", "tool_call_id", "type", "name", "kind") or rng.random() < 0.5:
                return x
            return maybe_odd(rng, x, 1.0)
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, dict):
            return {k: (walk(v, k) if k not in ("parameters",) else v) for k, v in x.items()}
        return x

    row["messages"] = walk(row["messages"])
    return row


def perturbations(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in OWN.read_text(encoding="utf-8").split("\n") if line.strip()]
    return [json.dumps(perturb(rng, rng.choice(rows), seed * 1000 + i), ensure_ascii=rng.random() < 0.5)
            for i in range(n)]


def random_shapes(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [json.dumps(conversation(rng, seed * 100000 + i), ensure_ascii=rng.random() < 0.5) for i in range(n)]


def edge_shapes(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [json.dumps(conv2(rng, seed * 100000 + i), ensure_ascii=rng.random() < 0.5) for i in range(n)]


KINDS = {"random": random_shapes, "edges": edge_shapes, "perturb": perturbations}

if __name__ == "__main__":
    kind, seed, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.stdout.write("".join(line + "\n" for line in KINDS[kind](seed, rows)))
