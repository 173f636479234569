"""Synthetic tool-use conversations, executed and filtered (Llama 3's recipe), plus the function-call eval set.

Why: users without tool data still need SFT rows, and every row must be true: each call is really run in the
sandbox and the tool messages carry the real results. Rows are dropped, and counted by reason, when a call fails
or does not fit its schema, an argument is not grounded in what came before (a hallucinated value), the answer
contradicts or ignores the results, the row breaks the conversation schema, it duplicates another row, or one
of its calls belongs to the other side of the train/eval split.

Categories: single, multiple (one right tool among distractors), parallel (one tool several times),
parallel_multiple, nested (a result feeds the next call), multi_step (three rounds), multi_turn (a user follow-up),
irrelevance (no tool fits: plain reply), tool_error (the call fails and the reply says so).

Split: a tool-call instance is ``name + canonical JSON arguments``; a salted hash puts every instance on the
train or the eval side, and a row is generated for one side only if all its calls are on that side. So train and
eval share no tool-call instance by construction, for any sizes and seeds.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tooljudge.data_prep.builtin_tools import default_registry
from tooljudge.data_prep.sandbox import Sandbox, SandboxConfig
from tooljudge.data_prep.schema import validate_conversation
from tooljudge.data_prep.tool_registry import ToolRegistry
from tooljudge.data_prep.tool_tasks import (
    CHAINS,
    ERROR_REPLY,
    FOLLOW_UPS,
    IRRELEVANT_REPLY,
    SYSTEM_PROMPTS,
    TASKS,
    Chain,
    Task,
    fmt,
)

from tooljudge.config import setting
from tooljudge.registry import Registry


# ----------------------------------------------------------------------------------------------- categories
@dataclass(frozen=True)
class SynthCategory:
    """One synthetic category: ``generate(ctx)`` makes a candidate row over the built-in tools (raising
    :class:`Reject` to drop it); ``world(generator)`` makes one over the generated tools (a
    ``tool_world_rows.WorldGenerator``; None: the category has no tool-world rows); ``weight`` in the default
    mix; ``eval_name``: the BFCL category of the built-in eval sets it feeds (None: not in them)."""

    name: str
    generate: Callable[[GenContext], dict]
    weight: float
    world: Callable[[Any], dict] | None = None
    eval_name: str | None = None


SYNTH_CATEGORIES: Registry[SynthCategory] = Registry("synthetic category")


def register_category(category: SynthCategory, replace: bool = False) -> SynthCategory:
    """Add a category (usable in ``SynthConfig.mix``); see docs/CONTRIBUTING.md."""
    return SYNTH_CATEGORIES.register(category, replace=replace)


# ------------------------------------------------------------------------------------------------- split
def call_instance(name: str, arguments: dict) -> str:
    """Identity of one tool call: the name and the canonical JSON of its arguments."""
    return name + json.dumps(arguments, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def row_instances(row: dict) -> set[str]:
    """Every call instance of a row; a row without calls is identified by its first user message."""
    found = {call_instance(c["function"]["name"], _args(c)) for m in row["messages"] for c in m.get("tool_calls") or []}
    if not found:
        first_user = next((m["content"] for m in row["messages"] if m["role"] == "user"), "")
        found.add("<no call>" + first_user)
    return found


@dataclass(frozen=True)
class InstanceSplit:
    """Hash split of call instances: ``side(key)`` is "eval" for about ``eval_fraction`` of all instances."""

    eval_fraction: float = 0.2
    salt: str = "tooljudge-v1"

    def side(self, instance: str) -> str:
        digest = hashlib.sha1((self.salt + "\x00" + instance).encode()).digest()
        return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < self.eval_fraction else "train"

    def row_side(self, row: dict) -> str | None:
        """"train" or "eval" if all the row's instances agree, else None (the row straddles the split)."""
        sides = {self.side(i) for i in row_instances(row)}
        return sides.pop() if len(sides) == 1 else None


def split_rows(rows: Iterable[dict], split: InstanceSplit | None = None) -> tuple[list[dict], list[dict], int]:
    """(train rows, eval rows, number of straddling rows dropped) for rows from any source."""
    split = split or InstanceSplit()
    train, evals, straddle = [], [], 0
    for row in rows:
        side = split.row_side(row)
        if side is None:
            straddle += 1
        else:
            (train if side == "train" else evals).append(row)
    return train, evals, straddle


# ------------------------------------------------------------------------------------------------ report
@dataclass
class SynthReport:
    """What happened to every attempted row: kept per category, dropped per reason, with examples."""

    attempts: int = 0
    kept: int = 0
    kept_by_category: Counter = field(default_factory=Counter)
    attempts_by_category: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = "templated"
    augmented: Counter = field(default_factory=Counter)  # kept rows changed by an augmentation (e.g. masked)

    def drop(self, reason: str, detail: str, category: str) -> None:
        self.dropped[reason] += 1
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < 3:
            bucket.append(f"[{category}] {detail}"[:300])

    @property
    def filter_rate(self) -> float:
        return 1 - self.kept / self.attempts if self.attempts else 0.0

    @property
    def quality_filter_rate(self) -> float:
        """Share dropped for quality (failed calls, schema, grounding, answers), leaving out split bookkeeping."""
        bookkeeping = self.dropped["split_leak"]
        base = self.attempts - bookkeeping
        return (base - self.kept) / base if base else 0.0

    @property
    def rows_per_minute(self) -> float:
        return 60 * self.kept / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in vars(self).items()}  # asdict mangles Counter
        d.update(filter_rate=round(self.filter_rate, 4), quality_filter_rate=round(self.quality_filter_rate, 4),
                 rows_per_minute=round(self.rows_per_minute, 1),
                 dropped_rate={k: round(v / self.attempts, 4) for k, v in self.dropped.items()} if self.attempts
                 else {})
        return d

    def format(self) -> str:
        lines = [f"backend {self.backend}: kept {self.kept} of {self.attempts} attempted rows "
                 f"(filtered {self.filter_rate:.1%}; quality filters {self.quality_filter_rate:.1%}) in "
                 f"{self.seconds:.1f} s = {self.rows_per_minute:,.0f} rows/minute"]
        for cat in sorted(self.attempts_by_category):
            lines.append(f"  {cat:18s} kept {self.kept_by_category[cat]:6d} / {self.attempts_by_category[cat]}")
        for reason, count in self.dropped.most_common():
            lines.append(f"  dropped {reason:26s} {count:6d} ({count / self.attempts:.1%})  e.g. "
                         f"{self.examples[reason][0]}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ building
class Reject(Exception):
    """A candidate row is dropped; ``reason`` is the report's key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


_FAIL_REASON = {"tool_error": "tool_error", "timeout": "tool_timeout", "blocked": "tool_blocked",
                "crashed": "tool_crashed", "invalid_arguments": "arguments_do_not_fit_schema",
                "unknown_tool": "unknown_tool"}


@dataclass
class GenContext:
    """What generators share: the seeded RNG, tools, tasks, the sandbox, and which split side to produce."""

    rng: random.Random
    registry: ToolRegistry
    tasks: dict[str, Task]
    sandbox: Sandbox
    split: InstanceSplit
    side: str | None = None  # "train", "eval" or None (no split)

    def on_side(self, name: str, args: dict) -> bool:
        return self.side is None or self.split.side(call_instance(name, args)) == self.side

    def sample(self, task: Task, avoid: set[str] = frozenset(), tries: int = 40,
               sampler: Callable | None = None) -> dict:
        """Arguments for ``task`` whose instance is on this side and not in ``avoid``."""
        for _ in range(tries):
            args = (sampler or task.sample)(self.rng)
            key = call_instance(task.tool, args)
            if key not in avoid and self.on_side(task.tool, args):
                return args
        raise Reject("split_leak", f"no {task.tool} instance on the {self.side} side in {tries} samples")

    def pick_tasks(self, k: int = 1, distinct_groups: bool = False, need: str | None = None) -> list[Task]:
        pool = [t for t in self.tasks.values() if t.tool in self.registry and (need is None or getattr(t, need))]
        if distinct_groups:
            by_group: dict[str, list[Task]] = {}
            for t in pool:
                by_group.setdefault(self.registry[t.tool].group, []).append(t)
            groups = self.rng.sample(sorted(by_group), k)
            return [self.rng.choice(by_group[g]) for g in groups]
        return self.rng.sample(pool, k)

    def distractors(self, exclude_tools: Iterable[str], k: int) -> list[str]:
        """``k`` tools from capability groups none of ``exclude_tools`` belongs to."""
        groups = {self.registry[t].group for t in exclude_tools}
        pool = sorted(n for n, t in self.registry.tools.items() if t.group not in groups)
        return self.rng.sample(pool, min(k, len(pool)))

    def call_id(self) -> str:
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=9))  # Mistral needs 9 chars


class RowBuilder:
    """Appends messages, executing each step's calls in the sandbox as it goes."""

    def __init__(self, ctx: GenContext, category: str, tools: list[str]):
        self.ctx, self.category = ctx, category
        self.tools = list(dict.fromkeys(tools))
        ctx.rng.shuffle(self.tools)
        self.messages: list[dict] = [{"role": "system", "content": ctx.rng.choice(SYSTEM_PROMPTS)}]

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def say(self, text: str) -> None:
        self.messages.append({"role": "assistant", "content": text})

    def step(self, calls: list[tuple[str, dict]], expect_error: bool = False) -> list[Any]:
        """Run one assistant turn of calls; returns the values (or error texts when ``expect_error``)."""
        for name, args in calls:
            if not self.ctx.on_side(name, args):
                raise Reject("split_leak", f"{call_instance(name, args)} is on the other side")
        results = [self.ctx.sandbox.call(name, args) for name, args in calls]
        for res in results:
            if res.ok == expect_error:
                if res.ok:
                    raise Reject("expected_error_missing", f"{res.name} succeeded")
                raise Reject(_FAIL_REASON[res.kind], f"{res.name}({json.dumps(res.arguments)}): {res.error}")
        ids = [self.ctx.call_id() for _ in calls]
        self.messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in zip(ids, calls, strict=True)]})
        for i, (n, _), res in zip(ids, calls, results, strict=True):
            self.messages.append({"role": "tool", "tool_call_id": i, "name": n, "content": res.content})
        return [r.error if expect_error else r.value for r in results]

    def row(self) -> dict:
        return {"category": self.category, "messages": self.messages,
                "tools": self.ctx.registry.specs(self.tools)}


def _join(parts: list[str]) -> str:
    return " ".join(parts)


def gen_single(ctx: GenContext, distractors: int = 0, category: str = "single") -> dict:
    [task] = ctx.pick_tasks()
    args = ctx.sample(task)
    b = RowBuilder(ctx, category, [task.tool, *ctx.distractors([task.tool], distractors)])
    b.user(task.request(args, ctx.rng))
    [result] = b.step([(task.tool, args)])
    b.say(task.answer(args, result))
    return b.row()


def gen_multiple(ctx: GenContext) -> dict:
    return gen_single(ctx, distractors=ctx.rng.randint(2, 4), category="multiple")


def gen_parallel(ctx: GenContext, same_tool: bool = True) -> dict:
    k = ctx.rng.choice([2, 2, 3])
    tasks = [ctx.pick_tasks()[0]] * k if same_tool else ctx.pick_tasks(k)
    args_list: list[dict] = []
    seen: set[str] = set()
    for task in tasks:
        args = ctx.sample(task, avoid=seen)
        seen.add(call_instance(task.tool, args))
        args_list.append(args)
    names = [t.tool for t in tasks]
    b = RowBuilder(ctx, "parallel" if same_tool else "parallel_multiple",
                   names + ctx.distractors(names, ctx.rng.randint(0, 2)))
    b.user(_join([t.request(a, ctx.rng) for t, a in zip(tasks, args_list, strict=True)]))
    results = b.step(list(zip(names, args_list, strict=True)))
    b.say(_join([t.answer(a, r) for t, a, r in zip(tasks, args_list, results, strict=True)]))
    return b.row()


def gen_parallel_multiple(ctx: GenContext) -> dict:
    return gen_parallel(ctx, same_tool=False)


def _gen_chain(ctx: GenContext, chain: Chain, category: str) -> dict:
    variables = chain.sample(ctx.rng)
    b = RowBuilder(ctx, category, [])
    b.user(ctx.rng.choice(chain.requests).format(**{k: fmt(v) for k, v in variables.items()}))
    results: list[Any] = []
    used: list[str] = []
    for step in chain.steps:
        planned = step(variables, results)
        if planned is None:
            raise Reject("dead_end", f"{chain.name}: step {len(results) + 1} has nothing to go on")
        used.append(planned[0])
        results.extend(b.step([planned]))
    b.say(chain.answer(variables, results))
    b.tools = list(dict.fromkeys(used + ctx.distractors(used, ctx.rng.randint(0, 2))))
    ctx.rng.shuffle(b.tools)
    return b.row()


def gen_nested(ctx: GenContext) -> dict:
    return _gen_chain(ctx, ctx.rng.choice(CHAINS[2]), "nested")


def gen_multi_step(ctx: GenContext) -> dict:
    return _gen_chain(ctx, ctx.rng.choice(CHAINS[3]), "multi_step")


def gen_multi_turn(ctx: GenContext) -> dict:
    first = ctx.pick_tasks()[0]
    second = first if ctx.rng.random() < 0.5 else ctx.pick_tasks()[0]
    a1 = ctx.sample(first)
    a2 = ctx.sample(second, avoid={call_instance(first.tool, a1)})
    b = RowBuilder(ctx, "multi_turn", [first.tool, second.tool, *ctx.distractors([first.tool, second.tool], 1)])
    b.user(first.request(a1, ctx.rng))
    [r1] = b.step([(first.tool, a1)])
    b.say(first.answer(a1, r1))
    request = second.request(a2, ctx.rng)
    b.user(ctx.rng.choice(FOLLOW_UPS).format(request=request, request_lc=request[:1].lower() + request[1:]))
    [r2] = b.step([(second.tool, a2)])
    b.say(second.answer(a2, r2))
    return b.row()


def gen_irrelevance(ctx: GenContext) -> dict:
    [task] = ctx.pick_tasks()
    args = task.sample(ctx.rng)
    offered = ctx.distractors([task.tool], ctx.rng.randint(1, 4))
    b = RowBuilder(ctx, "irrelevance", offered)
    text = task.request(args, ctx.rng)
    if ctx.side is not None and ctx.split.side("<no call>" + text) != ctx.side:
        raise Reject("split_leak", "irrelevance request on the other side")
    b.user(text)
    b.say(IRRELEVANT_REPLY.format(tools=", ".join(sorted(offered))))
    return b.row()


def gen_tool_error(ctx: GenContext) -> dict:
    [task] = ctx.pick_tasks(need="failing")
    args = ctx.sample(task, sampler=task.failing)
    b = RowBuilder(ctx, "tool_error", [task.tool, *ctx.distractors([task.tool], ctx.rng.randint(0, 2))])
    b.user(task.request(args, ctx.rng))
    [error] = b.step([(task.tool, args)], expect_error=True)
    reason = error.split(": ", 1)[-1]
    if len(reason) > 1 and reason[0] == reason[-1] and reason[0] in "'\"":
        reason = reason[1:-1]  # KeyError quotes its message
    b.say(ERROR_REPLY.format(tool=task.tool, reason=reason))
    return b.row()


for _category in (
        SynthCategory("single", gen_single, 0.15, lambda w: w.gen_single(), eval_name="simple"),
        SynthCategory("multiple", gen_multiple, 0.15, lambda w: w.gen_multiple(), eval_name="multiple"),
        SynthCategory("parallel", gen_parallel, 0.1, lambda w: w.gen_parallel(), eval_name="parallel"),
        SynthCategory("parallel_multiple", gen_parallel_multiple, 0.1, lambda w: w.gen_parallel_multiple(),
                      eval_name="parallel_multiple"),
        SynthCategory("nested", gen_nested, 0.12, lambda w: w.gen_nested()),
        SynthCategory("multi_step", gen_multi_step, 0.08, lambda w: w.gen_multi_step()),
        SynthCategory("multi_turn", gen_multi_turn, 0.1, lambda w: w.gen_multi_turn()),
        SynthCategory("irrelevance", gen_irrelevance, 0.1, lambda w: w.gen_irrelevance(), eval_name="irrelevance"),
        SynthCategory("tool_error", gen_tool_error, 0.1, lambda w: w.gen_tool_error())):
    register_category(_category)

# The built-in categories (registered above), their default mix, and the built-in eval sets' categories: a
# category registered later can be mixed in but does not change the shipped defaults or eval sets.
CATEGORIES = tuple(SYNTH_CATEGORIES.names())
DEFAULT_MIX = {name: c.weight for name, c in SYNTH_CATEGORIES.items()}
EVAL_SOURCE = {c.eval_name: name for name, c in SYNTH_CATEGORIES.items() if c.eval_name}
EVAL_CATEGORIES = tuple(EVAL_SOURCE)


# ------------------------------------------------------------------------------------------------ filters
_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w])")
_QUOTED = re.compile(r"\"[^\"]*\"")
_NEGATION = re.compile(r"\b(not|no|isn't|isnt|false|never)\b", re.I)
_FAILURE = re.compile(r"\b(sorry|couldn't|could not|cannot|can't|unable|failed|error|no such|unknown)\b", re.I)
_EMPTY = re.compile(r"\b(no|none|nothing|not find|couldn't find|zero)\b", re.I)
_NAME = re.compile(r"(?<![.!?:;]\s)(?<![.!?:;])(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_WORD = re.compile(r"[a-z]{4,}")
_STOP = frozenset("what whats that this with from have does many much tell about could would should please there "
                  "their them they your you're into when which will like want need give show make just also then "
                  "than some more most very really".split())


def _args(call: dict) -> dict:
    a = call["function"]["arguments"]
    return json.loads(a) if isinstance(a, str) else a


def _numbers(text: str) -> list[float]:
    return [float(x) for x in _NUM.findall(text)]


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        yield len(value)
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _shown(number: float, text_number: str) -> bool:
    """Does ``text_number`` (as written) show ``number`` at its written precision?"""
    mantissa, _, exponent = text_number.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    scale = 10 ** (int(exponent) - decimals) if exponent else 10**-decimals
    return abs(float(text_number) - number) <= 0.5 * scale + 1e-9


def _number_known(text_number: str, known: list[float]) -> bool:
    return any(_shown(k, text_number) for k in known)


def _fact_in(answer: str, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return any(_shown(float(value), t) for t in _NUM.findall(answer))
    return str(value).lower() in answer.lower()


def _segments(row: dict) -> Iterable[tuple[int, str, list[tuple[dict, Any]], str]]:
    """For each assistant text reply: (index, text seen before it, [(call, parsed result)] since the user's
    last message, the reply)."""
    seen: list[str] = []
    calls: dict[str, dict] = {}
    segment: list[tuple[dict, Any]] = []
    for i, m in enumerate(row["messages"]):
        if m["role"] == "user":
            segment = []
        if m["role"] == "assistant" and m.get("tool_calls"):
            for c in m["tool_calls"]:
                calls[c["id"]] = c
                seen.append(json.dumps(_args(c), ensure_ascii=False))
            continue
        if m["role"] == "tool":
            try:
                value = json.loads(m["content"])
            except json.JSONDecodeError:
                value = m["content"]
            segment.append((calls.get(m.get("tool_call_id"), {}), value))
        if m["role"] == "assistant":
            yield i, "\n".join(seen), list(segment), m["content"]
        seen.append(m["content"])


def answer_problems(row: dict) -> list[tuple[str, str]]:
    """(reason, detail) for replies that contradict or ignore the tool results they follow.

    Rules: every number in the reply must be shown (at its written precision) by a number already in the
    conversation; a reply must mention a fact of each result it summarises (a failed call must be acknowledged,
    an empty list answered as "none"); a single yes/no result must agree with the reply's negation.
    """
    problems = []
    for i, seen, segment, reply in _segments(row):
        if not segment:
            continue
        known = _numbers(seen)
        for _, result in segment:
            known.extend(float(v) for v in _leaves(result) if isinstance(v, int | float) and not isinstance(v, bool))
        for text_number in _NUM.findall(reply):
            if not _number_known(text_number, known):
                problems.append(("answer_contradicts_result", f"message {i}: {text_number} appears in no result"))
        unquoted = _QUOTED.sub(" ", reply)
        context = (seen + "\n" + json.dumps([r for _, r in segment], ensure_ascii=False)).lower()
        for name in _NAME.findall(unquoted.strip()):
            if name.lower() not in context:
                problems.append(("answer_unsupported_name", f"message {i}: {name!r} appears in no result or "
                                                            f"earlier message"))
        for call, result in segment:
            name = call.get("function", {}).get("name", "?")
            if isinstance(result, dict) and set(result) == {"error"}:
                if not _FAILURE.search(reply):
                    problems.append(("answer_ignores_error", f"message {i}: {name} failed, the reply does not say so"))
            elif isinstance(result, list) and not result:
                if not _EMPTY.search(unquoted):
                    problems.append(("answer_misses_result", f"message {i}: {name} found nothing"))
            elif isinstance(result, bool):
                if len(segment) == 1 and bool(_NEGATION.search(unquoted)) == result:
                    problems.append(("answer_contradicts_result", f"message {i}: {name} returned {result}"))
            elif not any(_fact_in(reply, v) for v in _leaves(result)):
                problems.append(("answer_misses_result", f"message {i}: no fact of the {name} result is in the reply"))
    return problems


def _argument_leaves(args: dict, props: dict, prefix: str = "") -> Iterable[tuple[str, Any, dict]]:
    """(dotted key, scalar value, its schema) for every leaf of the arguments: list items and nested objects'
    properties are checked one by one (a nested object's own JSON never appears in the text)."""
    for key, value in args.items():
        prop = props.get(key, {}) if isinstance(props, dict) else {}
        name = prefix + key
        items = value if isinstance(value, list) else [value]
        item_schema = prop.get("items", {}) if isinstance(value, list) else prop
        for v in items:
            if isinstance(v, dict):
                yield from _argument_leaves(v, item_schema.get("properties", {}), name + ".")
            else:
                yield name, v, item_schema


def grounding_problems(row: dict) -> list[tuple[str, str]]:
    """Arguments whose values appear nowhere earlier in the conversation (enum and boolean parameters aside)."""
    specs = {t["function"]["name"]: t["function"].get("parameters", {}).get("properties", {}) for t in row["tools"]}
    problems = []
    seen: list[str] = []
    for i, m in enumerate(row["messages"]):
        for c in m.get("tool_calls") or []:
            context = "\n".join(seen)
            lowered = " ".join(context.lower().split())
            known = _numbers(context)
            props = specs.get(c["function"]["name"], {})
            for key, v, prop in _argument_leaves(_args(c), props):
                if "enum" in prop or prop.get("type") == "boolean" or isinstance(v, bool):
                    continue
                if isinstance(v, int | float):
                    ok = any(abs(k - v) < 1e-9 for k in known)
                else:
                    ok = " ".join(str(v).lower().split()) in lowered
                if not ok:
                    problems.append(("ungrounded_argument", f"message {i}: {c['function']['name']}.{key}={v!r} "
                                                            f"is not in the conversation before the call"))
        if m["role"] != "assistant" or not m.get("tool_calls"):
            seen.append(m["content"])
    return problems


def row_key(row: dict) -> str:
    """Duplicate detection: the visible text and calls, ignoring call ids."""
    parts = [(m["role"], m.get("content", ""), [(c["function"]["name"], _args(c)) for c in m.get("tool_calls") or []])
             for m in row["messages"] if m["role"] != "system"]
    return json.dumps([sorted(t["function"]["name"] for t in row["tools"]), parts], sort_keys=True)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def drift_problems(original: dict, rewritten: dict, keep: float = 0.5) -> list[tuple[str, str]]:
    """A rewritten user request must keep more than ``keep`` of the original's content words (the task itself,
    not only its argument values: "how warm is it in Paris" must still be about the weather)."""
    problems = []
    for i, (a, b) in enumerate(zip(original["messages"], rewritten["messages"], strict=True)):
        if a["role"] == "user" and a["content"] != b["content"]:
            words = content_words(a["content"])
            kept = words & content_words(b["content"])
            if words and len(kept) <= keep * len(words) and len(kept) < len(words):
                problems.append(("request_drift", f"message {i}: the rewrite keeps {sorted(kept)} of "
                                                  f"{sorted(words)}: {b['content'][:80]!r}"))
    return problems


def quality_problems(row: dict) -> list[tuple[str, str]]:
    """Every reason to drop an already-executed row (schema, grounding, answers)."""
    problems = [("invalid_row", p) for p in validate_conversation(row)]
    if problems:
        return problems
    return grounding_problems(row) + answer_problems(row)


def reexecute_problems(row: dict, sandbox: Sandbox) -> list[str]:
    """Calls whose re-execution does not give the tool message's content (the row is not reproducible)."""
    calls = {c["id"]: c for m in row["messages"] for c in m.get("tool_calls") or []}
    out = []
    for i, m in enumerate(row["messages"]):
        if m["role"] == "tool":
            c = calls[m["tool_call_id"]]
            again = sandbox.call(c["function"]["name"], _args(c)).content
            if again != m["content"]:
                out.append(f"message {i}: {c['function']['name']} gave {again}, the row holds {m['content']}")
    return out


# ------------------------------------------------------------------------------------------------ driver
@dataclass
class SynthConfig:
    """How many rows, of which categories, for which split side, from which seed."""

    n: int = setting(1000, "rows to keep")
    seed: int = setting(0, "generation seed")
    mix: dict[str, float] = setting(default_factory=lambda: dict(DEFAULT_MIX), help="category -> weight")
    side: str | None = setting("train", "which side of the tool-call instance split to generate (None: both)")
    eval_fraction: float = setting(0.2, "share of tool-call instances on the eval side of the split")
    split_salt: str = setting("tooljudge-v1", "salt of the split's hash")
    max_attempts_factor: int = setting(20, "stop after n * this many attempts")
    timeout_s: float = setting(2.0, "seconds a tool execution may take")
    progress: bool = setting(False, "a progress bar")


def check_mix(mix: Any) -> None:
    """A category mix is a mapping of known categories to weights >= 0, at least one > 0 (else ValueError)."""
    if not isinstance(mix, dict) or not mix:
        raise ValueError(f"a mix must map categories to weights, got {mix!r}")
    unknown = set(mix) - set(SYNTH_CATEGORIES.names())
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; choose from {tuple(SYNTH_CATEGORIES.names())}")
    bad = {k: v for k, v in mix.items() if isinstance(v, bool) or not isinstance(v, int | float) or v < 0}
    if bad or not any(v > 0 for v in mix.values()):
        raise ValueError(f"mix weights must be numbers >= 0, at least one > 0; got {mix}")


TextWriter = Callable[[list[dict]], list[dict]]


def synthesize(
    config: SynthConfig,
    registry: ToolRegistry | None = None,
    tasks: dict[str, Task] | None = None,
    writer: Any = None,
) -> tuple[list[dict], SynthReport]:
    """Generate ``config.n`` kept rows (or fewer if attempts run out) and the report.

    ``writer`` (optional, e.g. :class:`tooljudge.data_prep.model_writer.ModelWriter`) rewrites the user
    requests and replies of executed rows in batches before the quality filters run.
    """
    registry = registry or default_registry()
    tasks = tasks if tasks is not None else TASKS
    check_mix(config.mix)
    rng = random.Random(config.seed)
    split = InstanceSplit(config.eval_fraction, config.split_salt)
    with Sandbox(registry, SandboxConfig(timeout_s=config.timeout_s)) as sandbox:
        ctx = GenContext(rng, registry, tasks, sandbox, split, config.side)
        return run_generation(config, rng, lambda cat: SYNTH_CATEGORIES.get(cat).generate(ctx), writer)


def run_generation(config: SynthConfig, rng: random.Random, generate: Callable[[str], dict],
                   writer: Any = None) -> tuple[list[dict], SynthReport]:
    """The driver every row source shares: draw a category from ``config.mix`` with ``rng``, call
    ``generate(category)`` (which raises :class:`Reject` to drop a candidate), optionally rewrite with ``writer``,
    then the quality filters, duplicate check, ids and the report. ``config.mix`` must already be checked."""
    cats = [c for c, w in config.mix.items() if w > 0]
    weights = [config.mix[c] for c in cats]
    report = SynthReport(backend=getattr(writer, "name", "templated"))
    kept: list[dict] = []
    keys: set[str] = set()
    start = time.perf_counter()
    batch = max(1, getattr(writer, "batch_rows", 256))
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.n, desc="synthesize", unit="row")
    while len(kept) < config.n and report.attempts < config.n * config.max_attempts_factor:
        candidates: list[dict] = []
        while len(candidates) < batch and report.attempts < config.n * config.max_attempts_factor \
                and len(kept) + len(candidates) < config.n:
            cat = rng.choices(cats, weights)[0]
            report.attempts += 1
            report.attempts_by_category[cat] += 1
            try:
                candidates.append(generate(cat))
            except Reject as rej:
                report.drop(rej.reason, rej.detail, cat)
        drift: list[list[tuple[str, str]]] = [[] for _ in candidates]
        if writer is not None and candidates:
            rewritten = writer.rewrite(candidates)
            drift = [drift_problems(a, b) for a, b in zip(candidates, rewritten, strict=True)]
            candidates = rewritten
        for row, drifted in zip(candidates, drift, strict=True):
            problems = drifted or quality_problems(row)
            key = row_key(row)
            if not problems and key in keys:
                problems = [("duplicate", "same text and calls as an earlier row")]
            if problems:
                report.drop(problems[0][0], problems[0][1], row["category"])
                continue
            keys.add(key)
            row["id"] = f"synth-{config.seed}-{len(kept):06d}"
            kept.append(row)
            report.kept_by_category[row["category"]] += 1
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    report.kept = len(kept)
    report.seconds = time.perf_counter() - start
    return kept, report


# ------------------------------------------------------------------------------------------- eval set
def ground_truth(row: dict, registry: ToolRegistry | None = None) -> list[dict]:
    """BFCL form of the row's first assistant turn: ``[{name: {param: [acceptable values]}}]``.

    An optional parameter the call leaves out accepts its default or omission (``""``); a row whose first
    assistant turn has no calls (irrelevance) gives ``[]``.
    """
    specs = {t["function"]["name"]: t["function"] for t in row["tools"]}
    first = next(m for m in row["messages"] if m["role"] == "assistant")
    out = []
    for c in first.get("tool_calls") or []:
        name, args = c["function"]["name"], _args(c)
        props = specs[name]["parameters"].get("properties", {})
        required = set(specs[name]["parameters"].get("required", []))
        entry = {k: [v] for k, v in args.items()}
        for k, prop in props.items():
            if k not in args and k not in required:
                entry[k] = ([prop["default"]] if "default" in prop else []) + [""]
        out.append({name: entry})
    return out


def to_eval_row(row: dict, category: str, index: int) -> dict:
    """The eval form of a synthetic row: the prefix up to the first user turn, tools and the answer key."""
    cut = next(i for i, m in enumerate(row["messages"]) if m["role"] == "user") + 1
    return {"id": f"{category}_{index:04d}", "category": category, "messages": row["messages"][:cut],
            "tools": row["tools"], "ground_truth": ground_truth(row)}


def build_fc_eval_set(n: int = 400, seed: int = 1234, eval_fraction: float = 0.2,
                      split_salt: str = "tooljudge-v1") -> list[dict]:
    """The built-in function-call eval set: ``n`` rows spread evenly over simple, multiple, parallel,
    parallel_multiple and irrelevance, generated on the eval side of the instance split, so no training row made
    with the same ``eval_fraction``/``split_salt`` shares a tool-call instance with it. Deterministic in ``seed``.
    """
    per = [n // len(EVAL_CATEGORIES) + (1 if i < n % len(EVAL_CATEGORIES) else 0) for i in range(len(EVAL_CATEGORIES))]
    rows: list[dict] = []
    for k, (cat, count) in enumerate(zip(EVAL_CATEGORIES, per, strict=True)):
        if count == 0:
            continue
        cfg = SynthConfig(n=count, seed=seed * 100 + k, mix={EVAL_SOURCE[cat]: 1.0}, side="eval",
                          eval_fraction=eval_fraction, split_salt=split_salt, max_attempts_factor=200)
        kept, report = synthesize(cfg)
        if len(kept) < count:
            raise RuntimeError(f"eval set: only {len(kept)} {cat} rows after {report.attempts} attempts\n"
                               f"{report.format()}")
        rows.extend(to_eval_row(r, cat, i) for i, r in enumerate(kept))
    return rows
