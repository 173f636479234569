"""Preference pairs for DPO from tool conversations: rule-made rejected variants and on-policy pairs.

Why: SFT shows the right call but never the near misses a model actually makes. Each decision point of a
conversation (an assistant turn that calls tools, or the plain reply where no tool fits) yields pairs whose
rejected side is one specific mistake: wrong function, missing required argument, wrong type, hallucinated
argument, wrong value, a call where none was needed, or a reply with no call where one was needed. Every rejected
side is confirmed wrong by the BFCL AST checker (``tooljudge.core.ast_checker.check_calls``) against the chosen
side's calls; a variant the checker would accept is skipped and counted, never kept.

On-policy pairs (round k+1 of ``train/rounds.py``): sample the current policy on the same prompts, parse each
sample with the family's tool parser, score it with the checker, and pair a correct answer (a correct sample,
else the reference) against an incorrect sample.

Rows follow TRL's conversational preference form ``{"prompt", "chosen", "rejected", "tools"}``.
"""

from __future__ import annotations

import copy
import json
import random
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tooljudge.core.ast_checker import check_calls
from tooljudge.registry import Registry

_HALLUCINATED = (("verbose", True), ("limit", 10), ("format", "json"), ("language", "en"), ("api_key", "demo"),
                 ("timezone", "UTC"))
NO_CALL_REPLIES = ("I don't have access to that information right now.",
                   "Sure, here you go: I believe the answer is about 42.")


@dataclass
class DecisionPoint:
    """One assistant turn to prefer: the messages before it, the reference turn, its answer key."""

    prompt: list[dict]
    chosen: dict
    tools: list[dict]
    category: str
    ground_truth: list[dict]
    source: str = ""
    final_reply: str | None = None


@dataclass
class PairReport:
    """Pairs made per kind and everything skipped, by reason."""

    decision_points: int = 0
    pairs: int = 0
    by_kind: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    samples: int = 0
    correct_samples: int = 0
    parse_failures: Counter = field(default_factory=Counter)
    # pairs whose chosen side calls a tool vs replies in text: a lopsided count teaches "always call"
    by_chosen_side: Counter = field(default_factory=Counter)
    # the call-or-reply decision each pair teaches (``call_decision``): see ``balance_call_decision``
    by_decision: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in vars(self).items()}  # asdict mangles Counter

    def format(self) -> str:
        lines = [f"{self.pairs} pairs from {self.decision_points} decision points"]
        lines += [f"  {k:24s} {v}" for k, v in sorted(self.by_kind.items())]
        lines += [f"  skipped {k:16s} {v}" for k, v in self.skipped.most_common()]
        if self.samples:
            lines.append(f"  on-policy samples {self.samples}: {self.correct_samples} correct "
                         f"({self.correct_samples / self.samples:.1%}); parse failures {dict(self.parse_failures)}")
        if self.by_chosen_side:
            lines.append(f"  chosen side: {self.by_chosen_side['call']} tool call, {self.by_chosen_side['reply']} reply")
        if self.by_decision:
            lines.append("  decision taught: " + ", ".join(f"{k} {self.by_decision[k]}" for k in DECISIONS))
        return "\n".join(lines)


def _args(call: dict) -> dict:
    a = call["function"]["arguments"]
    return json.loads(a) if isinstance(a, str) else dict(a)


def _plain(call: dict) -> dict:
    return {"name": call["function"]["name"], "arguments": _args(call)}


def call_category(calls: list[dict]) -> str:
    """The checker's category for a reference turn: irrelevance (no call), simple, or parallel(_multiple)."""
    if not calls:
        return "irrelevance"
    if len(calls) == 1:
        return "simple"
    return "parallel" if len({c["name"] for c in calls}) == 1 else "parallel_multiple"


def ground_truth_for(calls: list[dict], tools: list[dict]) -> list[dict]:
    """BFCL answer key of reference calls: each given value exact, each optional parameter left out may be
    omitted or take its default."""
    specs = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools}
    out = []
    for c in calls:
        params = specs.get(c["name"], {})
        entry = {k: [v] for k, v in c["arguments"].items()}
        for k, prop in params.get("properties", {}).items():
            if k not in entry and k not in params.get("required", []):
                entry[k] = ([prop["default"]] if "default" in prop else []) + [""]
        out.append({c["name"]: entry})
    return out


def decision_points(row: dict) -> list[DecisionPoint]:
    """Assistant turns that decide what to call (or to reply without a call, right after a user message)."""
    out = []
    msgs = row["messages"]
    after_user = False
    for i, m in enumerate(msgs):
        if m["role"] == "user":
            after_user = True
            continue
        if m["role"] != "assistant":
            continue
        calls = [_plain(c) for c in m.get("tool_calls") or []]
        if calls or after_user:
            final = next((x["content"] for x in msgs[i + 1:] if x["role"] == "assistant" and not x.get("tool_calls")
                          and x["content"].strip()), None) if calls else None
            out.append(DecisionPoint(copy.deepcopy(msgs[:i]), copy.deepcopy(m), row["tools"], call_category(calls),
                                     ground_truth_for(calls, row["tools"]), str(row.get("id", "")), final))
        after_user = False
    return out


def value_pool(rows: Iterable[dict]) -> dict[tuple[str, str], list[Any]]:
    """Values seen for each (tool, parameter): realistic wrong values for the wrong_value variant."""
    pool: dict[tuple[str, str], list] = {}
    for row in rows:
        for m in row["messages"]:
            for c in m.get("tool_calls") or []:
                for k, v in _args(c).items():
                    bucket = pool.setdefault((c["function"]["name"], k), [])
                    if v not in bucket and len(bucket) < 200:
                        bucket.append(v)
    return pool


def _call_msg(calls: list[dict], rng: random.Random) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": "".join(rng.choices(string.ascii_letters + string.digits, k=9)), "type": "function",
         "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]}


def _retype(value: Any) -> Any:
    """The same information in the wrong JSON type (what a sloppy model writes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return [value]
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return json.dumps(value)


def _other_value(tool: str, key: str, value: Any, prop: dict, pool: dict, rng: random.Random) -> Any:
    if "enum" in prop:
        options = [v for v in prop["enum"] if v != value]
        return rng.choice(options) if options else None
    options = [v for v in pool.get((tool, key), []) if v != value and type(v) is type(value)]
    if options:
        return rng.choice(options)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-2, -1, 1, 2, 10])
    if isinstance(value, float):
        return round(value * 1.5 + 1, 2)
    return None


@dataclass
class VariantContext:
    """What a rejection kind may use to make its mistake: the decision point, the chosen turn's calls (plain
    ``{"name", "arguments"}``), each tool's parameters, values seen per (tool, parameter), the seeded rng and
    the argument sampler for tools the reference did not call."""

    dp: DecisionPoint
    calls: list[dict]
    specs: dict[str, dict]
    pool: dict
    rng: random.Random
    sample_args: Any = None


@dataclass(frozen=True)
class RejectionKind:
    """One kind of rule-made mistake: ``make(ctx)`` returns ``(rejected assistant message, "")`` or ``(None,
    why it does not apply)``; ``why == "not_applicable"`` is not counted as a failure."""

    name: str
    make: Callable[[VariantContext], tuple[dict | None, str]]
    doc: str = ""


REJECTION_KIND_REGISTRY: Registry[RejectionKind] = Registry("rejection kind")


def rejection_kind(name: str, doc: str = "", *, calls_only: bool = True):
    """Register the decorated ``make(ctx)`` as rejection kind ``name``. ``calls_only``: the kind applies only
    to turns that call tools (a plain-reply turn gives ``not_applicable``)."""

    def wrap(make: Callable[[VariantContext], tuple[dict | None, str]]):
        def guarded(ctx: VariantContext) -> tuple[dict | None, str]:
            return (None, "not_applicable") if calls_only and not ctx.calls else make(ctx)

        REJECTION_KIND_REGISTRY.register(RejectionKind(name, guarded, doc))
        return make
    return wrap


def one_call_mistake(mutate: Callable[[dict, dict, dict, VariantContext], str]
                     ) -> Callable[[VariantContext], tuple[dict | None, str]]:
    """A kind that changes one call of the turn (picked at random): ``mutate(call, properties, parameters, ctx)``
    edits ``call`` in place and returns "" or why it cannot."""

    def make(ctx: VariantContext) -> tuple[dict | None, str]:
        calls = copy.deepcopy(ctx.calls)
        c = calls[ctx.rng.randrange(len(calls))]
        params = ctx.specs.get(c["name"], {})
        why = mutate(c, params.get("properties", {}), params, ctx)
        return (None, why) if why else (_call_msg(calls, ctx.rng), "")
    return make


@rejection_kind("wrong_function", "another of the offered tools called instead")
@one_call_mistake
def _wrong_function(c: dict, props: dict, params: dict, ctx: VariantContext) -> str:
    others = sorted(set(ctx.specs) - {c["name"]})
    if not others:
        return "only_one_tool"
    c["name"] = ctx.rng.choice(others)
    return ""


@rejection_kind("missing_required", "a required argument left out")
@one_call_mistake
def _missing_required(c: dict, props: dict, params: dict, ctx: VariantContext) -> str:
    present = [k for k in params.get("required", []) if k in c["arguments"]]
    if not present:
        return "no_required_arg"
    del c["arguments"][ctx.rng.choice(present)]
    return ""


@rejection_kind("wrong_type", "an argument in the wrong JSON type")
@one_call_mistake
def _wrong_type(c: dict, props: dict, params: dict, ctx: VariantContext) -> str:
    if not c["arguments"]:
        return "no_args"
    key = ctx.rng.choice(sorted(c["arguments"]))
    c["arguments"][key] = _retype(c["arguments"][key])
    return ""


@rejection_kind("hallucinated_arg", "an argument the tool does not have")
@one_call_mistake
def _hallucinated_arg(c: dict, props: dict, params: dict, ctx: VariantContext) -> str:
    key, value = ctx.rng.choice([(k, v) for k, v in _HALLUCINATED if k not in props])
    c["arguments"][key] = value
    return ""


@rejection_kind("wrong_value", "an argument with another plausible value")
@one_call_mistake
def _wrong_value(c: dict, props: dict, params: dict, ctx: VariantContext) -> str:
    keys = sorted(c["arguments"])
    ctx.rng.shuffle(keys)
    for key in keys:
        new = _other_value(c["name"], key, c["arguments"][key], props.get(key, {}), ctx.pool, ctx.rng)
        if new is not None:
            c["arguments"][key] = new
            return ""
    return "no_alternative_value"


@rejection_kind("call_when_none_needed", "a call where the reference replies in text", calls_only=False)
def _call_when_none_needed(ctx: VariantContext) -> tuple[dict | None, str]:
    if ctx.calls or not ctx.dp.tools:
        return None, "not_applicable"
    name = ctx.rng.choice(sorted(ctx.specs))
    args = ctx.sample_args(name, ctx.rng) if ctx.sample_args else None
    if args is None:
        args = {k: v[0] for (t, k), v in ctx.pool.items() if t == name and v}
    return _call_msg([{"name": name, "arguments": args}], ctx.rng), ""


@rejection_kind("no_call_when_needed", "a text reply where the reference calls a tool")
def _no_call_when_needed(ctx: VariantContext) -> tuple[dict | None, str]:
    return {"role": "assistant", "content": ctx.dp.final_reply or ctx.rng.choice(NO_CALL_REPLIES)}, ""


@rejection_kind("repeated_call", "the right call(s), then one of them again (a small model that does not stop)")
def _repeated_call(ctx: VariantContext) -> tuple[dict | None, str]:
    again = copy.deepcopy(ctx.calls[ctx.rng.randrange(len(ctx.calls))])
    return _call_msg([*ctx.calls, again], ctx.rng), ""


REJECTION_KINDS = tuple(REJECTION_KIND_REGISTRY.names())  # the built-in kinds, the default of rule_pairs


# ---- relevance kinds (issue 22): *when* to call, taught in both directions on the same near-miss tools. Not in
# REJECTION_KINDS (rule_pairs' default stays as it was); recipes name them in ``kinds``. On the generated tool
# world (``builtin:tool_world``) an irrelevance row offers only near misses (same domain, another capability),
# so "call the nearest offered tool" is exactly the mistake a model that learnt "always call" makes.


def _words(text: str) -> set[str]:
    return {w for w in "".join(ch.lower() if ch.isalnum() else " " for ch in text).split() if len(w) > 2}


def _request_text(dp: DecisionPoint) -> str:
    return next((m.get("content") or "" for m in reversed(dp.prompt) if m["role"] == "user"), "")


def nearest_tools(dp: DecisionPoint, names: Iterable[str]) -> list[str]:
    """``names`` ordered by how many words of the user's request their name and description share (most
    first, ties by name): the offered tool a request "sounds like"."""
    request = _words(_request_text(dp))
    docs = {t["function"]["name"]: t["function"]["name"].replace("_", " ") + " " + t["function"].get("description", "")
            for t in dp.tools}
    return sorted(names, key=lambda n: (-len(request & _words(docs.get(n, n))), n))


def _schema_value(prop: dict, request: str) -> Any:
    """A plausible value of a parameter's type: its default, its first enum value, or a word of the request."""
    if "default" in prop:
        return prop["default"]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    words = [w for w in request.replace("?", " ").replace(",", " ").replace(".", " ").split() if w[:1].isupper()]
    words = [w.strip(".,:;!?\"'") for w in words]
    return max(words, key=len) if words else "item"


def plausible_args(name: str, ctx: VariantContext) -> dict:
    """Arguments for a call to ``name`` the reference did not make: the task sampler's (built-in tools), else
    values seen for its parameters, else one value per required parameter from its schema."""
    args = ctx.sample_args(name, ctx.rng) if ctx.sample_args else None
    if args is not None:
        return args
    params = ctx.specs.get(name, {})
    seen = {k: v[0] for (t, k), v in ctx.pool.items() if t == name and v}
    request = _request_text(ctx.dp)
    return {k: seen.get(k, _schema_value(params.get("properties", {}).get(k, {}), request))
            for k in params.get("required", [])}


def refusal_text(tools: list[dict]) -> str:
    """The reply the generated rows give when no offered tool fits (``tool_tasks.IRRELEVANT_REPLY``)."""
    from tooljudge.data_prep.tool_tasks import IRRELEVANT_REPLY

    return IRRELEVANT_REPLY.format(tools=", ".join(sorted(t["function"]["name"] for t in tools)))


@rejection_kind("near_miss_call", "where no offered tool fits, a call to the offered tool the request sounds "
                "most like (a near miss: same domain, another capability)", calls_only=False)
def _near_miss_call(ctx: VariantContext) -> tuple[dict | None, str]:
    if ctx.calls or not ctx.dp.tools:
        return None, "not_applicable"
    name = nearest_tools(ctx.dp, ctx.specs)[0]
    return _call_msg([{"name": name, "arguments": plausible_args(name, ctx)}], ctx.rng), ""


@rejection_kind("refusal_when_tool_fits", "where an offered tool fits, the refusal the model learns for near "
                "misses (the reverse of near_miss_call: refusing is right only when no tool fits)")
def _refusal_when_tool_fits(ctx: VariantContext) -> tuple[dict | None, str]:
    return {"role": "assistant", "content": refusal_text(ctx.dp.tools)}, ""


@rejection_kind("dropped_call", "a request that asks for several things: one of the needed calls left out")
def _dropped_call(ctx: VariantContext) -> tuple[dict | None, str]:
    if len(ctx.calls) < 2:
        return None, "not_applicable"
    kept = copy.deepcopy(ctx.calls)
    del kept[ctx.rng.randrange(len(kept))]
    return _call_msg(kept, ctx.rng), ""


@rejection_kind("extra_near_miss_call", "the needed call(s) plus a call to an offered tool the request does not "
                "need (the nearest one to the request)")
def _extra_near_miss_call(ctx: VariantContext) -> tuple[dict | None, str]:
    unused = [n for n in ctx.specs if n not in {c["name"] for c in ctx.calls}]
    if not unused:
        return None, "no_unused_tool"
    name = nearest_tools(ctx.dp, unused)[0]
    return _call_msg([*copy.deepcopy(ctx.calls), {"name": name, "arguments": plausible_args(name, ctx)}], ctx.rng), ""


RELEVANCE_KINDS = ("near_miss_call", "refusal_when_tool_fits", "dropped_call", "extra_near_miss_call")


def make_variant(kind: str, dp: DecisionPoint, pool: dict, rng: random.Random,
                 sample_args: Any = None) -> tuple[dict | None, str]:
    """(rejected assistant message, "") or (None, why the variant does not apply), by the registered kind."""
    spec = REJECTION_KIND_REGISTRY.get(kind)
    specs = {t["function"]["name"]: t["function"].get("parameters", {}) for t in dp.tools}
    calls = [_plain(c) for c in dp.chosen.get("tool_calls") or []]
    return spec.make(VariantContext(dp, calls, specs, pool, rng, sample_args))


def message_calls(msg: dict) -> list[dict]:
    return [_plain(c) for c in msg.get("tool_calls") or []]


def is_wrong(msg: dict, dp: DecisionPoint) -> bool:
    """The checker's verdict: True when ``msg`` does not satisfy the decision point's answer key."""
    return not check_calls(message_calls(msg), dp.ground_truth, dp.category, dp.tools).correct


# What a pair teaches about the first choice of an answer, call a tool or reply in text. DPO's loss is decided
# where the two answers first differ, so a pair whose sides differ in that choice pushes the token that opens a
# call up (call_over_reply) or down (reply_over_call); same_decision pairs differ later (which call, which value).
DECISIONS = ("call_over_reply", "reply_over_call", "same_decision")


def decision_of(chosen_calls: bool, rejected_calls: bool) -> str:
    """The ``DECISIONS`` entry for a pair whose chosen / rejected answer opens with a call (or an attempt at one)."""
    if chosen_calls == rejected_calls:
        return "same_decision"
    return "call_over_reply" if chosen_calls else "reply_over_call"


def call_decision(pair: dict, family: str | None = None) -> str:
    """Which of ``DECISIONS`` a pair (one-message ``chosen`` / ``rejected``) teaches. Without ``family`` only
    ``tool_calls`` count as a call; with it, an answer kept as raw text is a call when the family's parser sees
    call syntax in it (a malformed call is still a call), as ``on_policy_pairs`` decides when it makes them."""
    def opens_call(msg: dict) -> bool:
        if msg.get("tool_calls"):
            return True
        if family is None or not msg.get("content"):
            return False
        from tooljudge.core.tool_parsers import parse_tool_calls

        parsed = parse_tool_calls(msg["content"], family, tool_names=[t["function"]["name"] for t in pair.get("tools") or []])
        return bool(parsed.calls) or parsed.failure is not None

    return decision_of(opens_call(pair["chosen"][-1]), opens_call(pair["rejected"][-1]))


def check_decisions(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """``names`` as a tuple of ``DECISIONS`` entries (None stays None: keep every decision); a clear error
    names any that is not one."""
    if names is None:
        return None
    names = tuple(names)
    unknown = [n for n in names if n not in DECISIONS]
    if unknown or not names:
        raise ValueError(f"decisions to keep: {unknown or 'none given'}; each must be one of {list(DECISIONS)}")
    return names


def keep_decisions_indices(decisions: list[str], keep: Iterable[str] | None) -> list[int]:
    """Indices (in order) of the pairs whose decision is one of ``keep`` (all of them when ``keep`` is None)."""
    keep = check_decisions(keep)
    return [i for i, d in enumerate(decisions) if keep is None or d in keep]


def chosen_sides(pairs: Iterable[dict]) -> Counter:
    """How many pairs' chosen answer is a call and how many a plain reply (``PairReport.by_chosen_side``)."""
    return Counter("call" if p["chosen"][-1].get("tool_calls") else "reply" for p in pairs)


def balanced_indices(decisions: list[str], max_ratio: float, seed: int = 0) -> list[int]:
    """Indices (in order) kept when the commoner of call_over_reply / reply_over_call is cut, at random, to at
    most ``max_ratio`` times the rarer (``max_ratio`` when the rarer has none); same_decision is all kept."""
    if max_ratio < 1:
        raise ValueError(f"decision balance: max_ratio must be >= 1, got {max_ratio}")
    a = [i for i, d in enumerate(decisions) if d == "call_over_reply"]
    b = [i for i, d in enumerate(decisions) if d == "reply_over_call"]
    cap = int(max_ratio * max(1, min(len(a), len(b))))
    rng = random.Random(seed)
    dropped: set[int] = set()
    for group in (a, b):
        if len(group) > cap:
            dropped.update(rng.sample(group, len(group) - cap))
    return [i for i in range(len(decisions)) if i not in dropped]


def balance_call_decision(pairs: list[dict], max_ratio: float, seed: int = 0, report: PairReport | None = None,
                          decisions: list[str] | None = None, kinds: list[str] | None = None) -> list[dict]:
    """Keep at most ``max_ratio`` times as many pairs of the commoner call/reply direction as of the rarer one
    (``balanced_indices``); ``decisions`` per pair default to ``call_decision``.

    Why: a model's mistakes lean one way (a model that calls everywhere makes reply_over_call pairs), and a
    lopsided set moves the base rate of calling instead of teaching when to call. CPU run 6 (benchmarks/
    results/cpu_2026-11-26_run6_sft80) had 58 reply_over_call pairs, no call_over_reply, and its DPO model
    stopped calling tools at all. Dropped pairs are counted in ``report.skipped`` as ``decision_balance``;
    ``report.by_decision``, ``by_chosen_side``, ``pairs`` and (given ``kinds`` per pair) ``by_kind`` then
    describe the kept pairs.
    """
    decisions = [call_decision(p) for p in pairs] if decisions is None else decisions
    keep = balanced_indices(decisions, max_ratio, seed)
    kept = [pairs[i] for i in keep]
    if report is not None:
        if len(keep) < len(pairs):
            report.skipped["decision_balance"] += len(pairs) - len(keep)
        report.by_decision = Counter(decisions[i] for i in keep)
        report.by_chosen_side = chosen_sides(kept)
        if kinds is not None:
            report.by_kind = Counter(kinds[i] for i in keep)
        report.pairs = len(kept)
    return kept


def pair_row(dp: DecisionPoint, chosen: dict, rejected: dict, kind: str, meta: bool) -> dict:
    row = {"prompt": dp.prompt, "chosen": [chosen], "rejected": [rejected], "tools": dp.tools}
    if meta:
        row["meta"] = {"kind": kind, "source": dp.source, "category": dp.category}
    return row


def check_kinds(kinds: Iterable[str]) -> list[str]:
    """``kinds`` as a list, or the registry's error naming the first one that is not a registered kind."""
    return REJECTION_KIND_REGISTRY.check(kinds)


def checked_variant(kind: str, dp: DecisionPoint, pool: dict, rng: random.Random, sample_args: Any,
                    report: PairReport) -> dict | None:
    """``make_variant`` kept only if the checker rejects it; a failure is counted in ``report.skipped`` as
    ``kind:reason`` (a kind that does not apply to this turn is not a failure and is not counted)."""
    rejected, why = make_variant(kind, dp, pool, rng, sample_args)
    if rejected is None:
        if why != "not_applicable":
            report.skipped[f"{kind}:{why}"] += 1
        return None
    if not is_wrong(rejected, dp):
        report.skipped[f"{kind}:checker_accepts"] += 1
        return None
    return rejected


def rule_pairs(rows: list[dict], seed: int = 0, kinds: Iterable[str] = REJECTION_KINDS,
               per_point: int = 2, meta: bool = False, sample_args: Any = "builtin",
               decision_balance: float | None = None) -> tuple[list[dict], PairReport]:
    """Up to ``per_point`` pairs per decision point, each with a different applicable mistake kind;
    ``decision_balance`` as in ``on_policy_pairs``.

    ``sample_args(tool_name, rng)`` gives plausible arguments for call_when_none_needed (default: the built-in
    tools' samplers; tools it does not know get values seen in ``rows``).
    """
    if sample_args == "builtin":
        sample_args = builtin_sample_args
    rng = random.Random(seed)
    pool = value_pool(rows)
    kinds = list(kinds)
    report = PairReport()
    pairs: list[dict] = []
    pair_kinds: list[str] = []
    for row in rows:
        for dp in decision_points(row):
            report.decision_points += 1
            order = kinds[:]
            rng.shuffle(order)
            made = 0
            for kind in order:
                if made >= per_point:
                    break
                rejected = checked_variant(kind, dp, pool, rng, sample_args, report)
                if rejected is None:
                    continue
                pairs.append(pair_row(dp, dp.chosen, rejected, kind, meta))
                pair_kinds.append(kind)
                report.by_kind[kind] += 1
                report.by_chosen_side["call" if dp.chosen.get("tool_calls") else "reply"] += 1
                made += 1
    report.pairs = len(pairs)
    report.by_decision = Counter(call_decision(p) for p in pairs)
    if decision_balance is not None:
        pairs = balance_call_decision(pairs, decision_balance, seed=seed, report=report, kinds=pair_kinds)
    return pairs, report


def builtin_sample_args(tool: str, rng: random.Random) -> dict | None:
    """Plausible arguments for a built-in tool (from its task sampler), for call_when_none_needed."""
    from tooljudge.data_prep.tool_tasks import TASKS

    return TASKS[tool].sample(rng) if tool in TASKS else None


# ------------------------------------------------------------------------------------------- on-policy
def sample_to_message(text: str, parsed) -> dict:
    """An assistant message for a policy sample: its parsed calls when it is well-formed, else its raw text.

    A malformed sample keeps its raw text even if a parser returned calls for it (say, a right call followed by
    a second one cut off mid-JSON): rebuilt from the parsed calls it would render as a clean answer, and the
    pair would teach nothing about the mistake the model actually made."""
    if parsed.calls and parsed.failure is None:
        rng = random.Random(text)
        return _call_msg([{"name": c["name"], "arguments": c.get("arguments", {})} for c in parsed.calls], rng)
    return {"role": "assistant", "content": parsed.content or text}


def on_policy_pairs(
    policy: Any,
    tokenizer: Any,
    rows: list[dict],
    family: str = "auto",
    n_samples: int = 4,
    temperature: float = 0.8,
    max_new_tokens: int = 192,
    seed: int = 0,
    meta: bool = False,
    max_points: int | None = None,
    include_greedy: bool = False,
    decision_balance: float | None = None,
    rule_kinds: Iterable[str] = (),
    keep_decisions: Iterable[str] | None = None,
) -> tuple[list[dict], PairReport]:
    """Sample ``policy`` (a ``GenerationBackend``) ``n_samples`` times at each decision point of ``rows``,
    score every sample with the checker, and pair a correct answer against each distinct incorrect sample
    (at most one pair per distinct mistake). The chosen side is a correct sample when there is one (truly
    on-policy), else the reference turn.

    ``include_greedy``: the first of the ``n_samples`` is the greedy answer (temperature 0), the rest are
    sampled. Evals decode greedily, so the greedy mistake is the one most worth a pair; a weak model's
    high-temperature samples are often far from anything it would answer greedily.

    ``decision_balance``: cap the commoner call/reply direction at this many times the rarer
    (``balance_call_decision``).

    ``rule_kinds``: also one rule-made pair of each of these kinds (``REJECTION_KINDS``) at every sampled
    point where it applies, the reference against the made mistake, added before the balance. Why: a model
    that calls a tool on every request makes only reply-over-call mistakes, so a balance of its own pairs keeps
    a handful (CPU run 9: 4 and 4 of 80). ``no_call_when_needed`` pairs on the same prompts supply the other
    direction, and the balance can keep the model's own irrelevance mistakes instead of dropping them.

    ``keep_decisions``: keep only pairs teaching these ``DECISIONS`` (before the balance; the rest are counted
    in ``report.skipped`` as ``decision_not_kept``). ``["same_decision"]`` keeps the pairs whose two answers
    both call (or both reply) and differ in what they call: they teach arguments, functions and call counts
    without moving how often the model calls at all, which every call/reply pair set of the CPU runs did.
    """
    rule_kinds = check_kinds(rule_kinds)
    keep_decisions = check_decisions(keep_decisions)
    from tooljudge.data_prep.families import get_family
    from tooljudge.data_prep.masking import render_prompt

    from tooljudge.core.tool_parsers import parse_tool_calls

    fam = get_family(family, tokenizer=tokenizer) if family == "auto" else get_family(family)
    points = [dp for row in rows for dp in decision_points(row)]
    if max_points is not None:
        points = points[:max_points]
    report = PairReport(decision_points=len(points))
    prompts = [render_prompt(tokenizer, dp.prompt, dp.tools, family=fam) for dp in points]
    stop = list(fam.stop_tokens)
    n_sampled = n_samples - 1 if include_greedy else n_samples
    repeated = [p for p in prompts for _ in range(n_sampled)]
    sampled = policy.generate(repeated, max_new_tokens=max_new_tokens, temperature=temperature,
                              stop=stop, seed=seed) if repeated else []
    if include_greedy and prompts:
        greedy = policy.generate(prompts, max_new_tokens=max_new_tokens, temperature=0.0, stop=stop, seed=seed)
        outputs = [text for k in range(len(prompts))
                   for text in [greedy[k], *sampled[k * n_sampled:(k + 1) * n_sampled]]]
    else:
        outputs = sampled
    pairs: list[dict] = []
    pair_kinds: list[str] = []
    decisions: list[str] = []
    for k, dp in enumerate(points):
        names = [t["function"]["name"] for t in dp.tools]
        correct, wrong = [], {}
        for text in outputs[k * n_samples:(k + 1) * n_samples]:
            parsed = parse_tool_calls(text, fam.name, tool_names=names)
            report.samples += 1
            if parsed.failure:
                report.parse_failures[parsed.failure] += 1
            msg = sample_to_message(text, parsed)
            ok = parsed.failure is None and not is_wrong(msg, dp)
            if ok:
                report.correct_samples += 1
                correct.append(msg)
            else:
                key = json.dumps([message_calls(msg), msg.get("content", "")], sort_keys=True, default=str)
                # a failure means the parser saw call syntax: a malformed call is still a call for the decision
                wrong.setdefault(key, (msg, bool(parsed.calls) or parsed.failure is not None))
        if not wrong:
            report.skipped["all_samples_correct"] += 1
            continue
        chosen = correct[0] if correct else dp.chosen
        kind = "on_policy_correct" if correct else "on_policy_reference"
        for msg, rejected_calls in wrong.values():
            pairs.append(pair_row(dp, chosen, msg, kind, meta))
            pair_kinds.append(kind)
            decisions.append(decision_of(bool(chosen.get("tool_calls")), rejected_calls))
            report.by_kind[kind] += 1
            report.by_chosen_side["call" if chosen.get("tool_calls") else "reply"] += 1
    if rule_kinds:
        rng, pool = random.Random(seed), value_pool(rows)
        for dp in points:
            for kind in rule_kinds:
                rejected = checked_variant(kind, dp, pool, rng, builtin_sample_args, report)
                if rejected is None:
                    continue
                pairs.append(pair_row(dp, dp.chosen, rejected, kind, meta))
                pair_kinds.append(kind)
                decisions.append(call_decision(pairs[-1]))
                report.by_kind[kind] += 1
                report.by_chosen_side["call" if dp.chosen.get("tool_calls") else "reply"] += 1
    if keep_decisions is not None:
        kept = keep_decisions_indices(decisions, keep_decisions)
        if len(kept) < len(pairs):
            report.skipped["decision_not_kept"] += len(pairs) - len(kept)
        pairs, pair_kinds, decisions = ([xs[i] for i in kept] for xs in (pairs, pair_kinds, decisions))
        report.by_kind = Counter(pair_kinds)
        report.by_chosen_side = chosen_sides(pairs)
    report.pairs = len(pairs)
    report.by_decision = Counter(decisions)
    if decision_balance is not None:
        pairs = balance_call_decision(pairs, decision_balance, seed=seed, report=report, decisions=decisions,
                                      kinds=pair_kinds)
    return pairs, report
