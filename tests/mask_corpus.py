"""Deterministic tool conversations for parity tests, mask property checks and the data-prep benchmark.

Why: parity against vendor encoders needs many conversations that cover every shape (single call, parallel calls,
several rounds, tool results, system prompt or not, built-in tools for Llama, Chinese text) and that are the same
on every run, so a failure can be reproduced by index.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search_flights", "description": "Search flights between two airports on a date",
        "parameters": {"type": "object", "properties": {
            "origin": {"type": "string"}, "destination": {"type": "string"},
            "date": {"type": "string", "description": "YYYY-MM-DD"}}, "required": ["origin", "destination", "date"]}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between currencies",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "number"}, "from_currency": {"type": "string"}, "to_currency": {"type": "string"}},
            "required": ["amount", "from_currency", "to_currency"]}}},
    {"type": "function", "function": {
        "name": "get_stock_price", "description": "Latest stock price for a ticker symbol",
        "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}}},
]
BUILTIN_TOOLS = [
    {"type": "function", "function": {"name": "brave_search", "description": "Web search",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "wolfram_alpha", "description": "Math and facts",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "code_interpreter", "description": "Run Python",
                                      "parameters": {"type": "object", "properties": {"code": {"type": "string"}}}}},
]
CITIES = ["Paris", "Tokyo", "São Paulo", "Berlin", "Nairobi", "Lima"]
CITIES_ZH = ["北京", "上海", "杭州", "深圳"]
SYSTEMS = ["You are a helpful assistant.", "Answer briefly and use tools when needed."]


@dataclass
class CorpusOptions:
    """What a family's format can express: parallel calls, built-in tools, text beside calls, Chinese."""

    parallel: bool = True
    builtin: bool = False
    text_with_calls: bool = True
    chinese: bool = False


def _args(rng: random.Random, name: str, zh: bool) -> dict:
    city = rng.choice(CITIES_ZH if zh else CITIES)
    if name == "get_weather":
        return {"city": city, "unit": rng.choice(["celsius", "fahrenheit"])} if rng.random() < 0.5 else {"city": city}
    if name == "search_flights":
        return {"origin": "CDG", "destination": rng.choice(["NRT", "JFK", "GRU"]), "date": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
    if name == "convert_currency":
        return {"amount": rng.choice([10, 99.5, 1200]), "from_currency": "EUR", "to_currency": rng.choice(["USD", "JPY"])}
    if name == "get_stock_price":
        return {"ticker": rng.choice(["AAPL", "NVDA", "TSLA"])}
    if name in ("brave_search", "wolfram_alpha"):
        return {"query": rng.choice(["latest price of gold", "100th decimal of pi", "weather in " + city])}
    if name == "code_interpreter":
        return {"code": rng.choice(["print(2 ** 10)", "import math\nprint(math.sqrt(2))"])}
    raise KeyError(name)


def _result(rng: random.Random, name: str, args: dict) -> str:
    if name == "get_weather":
        return json.dumps({"city": args["city"], "temp_c": rng.randint(-5, 35), "sky": rng.choice(["clear", "rain"])},
                          ensure_ascii=False)
    if name == "code_interpreter":
        return rng.choice(["1024", "1.4142135623730951"])
    return json.dumps({"ok": True, "value": rng.randint(1, 999)})


def _question(rng: random.Random, names: list[str], zh: bool) -> str:
    if zh:
        return rng.choice(["请帮我查一下", "我想知道"]) + "：" + "、".join(names) + "？"
    return rng.choice(["Can you check", "Please look up", "I need"]) + " " + " and ".join(n.replace("_", " ") for n in names) + "?"


def make_conversation(index: int, options: CorpusOptions | None = None, seed: int = 0) -> dict:
    """Conversation number ``index`` (same output for the same index, options and seed)."""
    opts = options or CorpusOptions()
    rng = random.Random(seed * 1_000_003 + index)
    zh = opts.chinese and index % 2 == 1
    tools = rng.sample(TOOLS, rng.randint(1, len(TOOLS)))
    if opts.builtin and index % 3 == 0:
        tools = tools + rng.sample(BUILTIN_TOOLS, rng.randint(1, len(BUILTIN_TOOLS)))
    messages: list[dict] = []
    if index % 2 == 0:
        messages.append({"role": "system", "content": rng.choice(SYSTEMS) if not zh else "你是一个乐于助人的助手。"})
    rounds = 1 + index % 3
    call_no = 0
    for _r in range(rounds):
        kind = rng.choice(["call", "call", "answer"])
        if kind == "answer":
            messages.append({"role": "user", "content": "你好！" if zh else rng.choice(["Hello!", "Thanks, that is all."])})
            messages.append({"role": "assistant", "content": "你好，有什么可以帮你？" if zh else "Glad to help. Anything else?"})
            continue
        n_calls = rng.choice([1, 2, 3]) if opts.parallel else 1
        chosen = [rng.choice(tools) for _ in range(n_calls)]
        names = [c["function"]["name"] for c in chosen]
        messages.append({"role": "user", "content": _question(rng, names, zh)})
        calls = []
        for c in chosen:
            name = c["function"]["name"]
            args = _args(rng, name, zh)
            call_no += 1
            arguments = json.dumps(args, ensure_ascii=False) if rng.random() < 0.3 else args
            calls.append({"id": f"call_{index:04d}_{call_no}", "type": "function",
                          "function": {"name": name, "arguments": arguments}})
        text = ""
        if opts.text_with_calls and rng.random() < 0.25:
            text = "让我查一下。" if zh else "Let me check."
        messages.append({"role": "assistant", "content": text, "tool_calls": calls})
        for call in calls:
            args = call["function"]["arguments"]
            args = json.loads(args) if isinstance(args, str) else args
            messages.append({"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"],
                             "content": _result(rng, call["function"]["name"], args)})
        answer = "查询完成，结果如上。" if zh else rng.choice(
            ["Here is what I found.", "Done: the results are above.", "The tools answered; see the summary."])
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages, "tools": tools}


def make_corpus(n: int, options: CorpusOptions | None = None, seed: int = 0) -> list[dict]:
    """``n`` conversations, indices ``0..n-1``."""
    return [make_conversation(i, options, seed) for i in range(n)]
