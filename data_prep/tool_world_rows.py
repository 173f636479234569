"""Conversations over the generated tools, in every synthetic category, through the same filters and report.

Why: a model trained on 31 tools learns 31 tools. These rows call thousands of generated tools (see
``tool_world_schemas``) against the simulated world (``tool_world_state``): every call is executed, results are
real, and the rows go through ``synthetic.run_generation`` (schema, grounding, answer and duplicate filters;
every drop counted by reason). Categories are ``synthetic.SYNTH_CATEGORIES``, whose records name the
``WorldGenerator`` method of each:

- ``multiple`` offers near-miss distractors: tools of the same domain (same entity, another action; same action,
  another entity) that cannot do the request (their ``provides`` lack what the request needs), as Hammer and
  ToolACE do, so the model must read the schemas rather than match a domain word;
- ``irrelevance`` offers only such near misses (plus tools of other domains): no offered tool can do the request;
- ``nested``/``multi_step`` follow references and names across calls (ticket -> its agent -> the agent's team),
  or read then change; ``multi_turn`` often reads back a change made in the first turn (the state persists);
- ``tool_error`` calls with an unknown ID, a change to a cancelled record, a range overrun, a missing reference.

Split: whole tools, not call instances. ``ToolSplit`` hashes each tool name onto the train or eval side; a row
for one side uses (calls and offers) only that side's tools, so the eval set built here
(``build_world_eval_set``) asks for tools the training rows never showed.

Masking (``mask_row``): tool and parameter names replaced by random identifiers, descriptions kept (Hammer's
augmentation), applied to a fraction of the kept rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tooljudge.data_prep.schema import validate_conversation
from tooljudge.data_prep.synthetic import (
    EVAL_CATEGORIES,
    EVAL_SOURCE,
    SYNTH_CATEGORIES,
    GenContext,
    InstanceSplit,
    Reject,
    RowBuilder,
    SynthConfig,
    SynthReport,
    check_mix,
    run_generation,
    to_eval_row,
)
from tooljudge.data_prep.tool_tasks import ERROR_REPLY, FOLLOW_UPS, IRRELEVANT_REPLY, fmt
from tooljudge.data_prep.tool_world_domains import DOMAINS, Attr, Entity
from tooljudge.data_prep.tool_world_schemas import ToolCatalog, WorldTool, build_catalog
from tooljudge.data_prep.tool_world_state import World, WorldExecutor

from tooljudge.config import setting

READ_ACTIONS = frozenset({"get", "get_attr", "find_by_label", "search", "list_by", "list_for_ref", "top_by", "count",
                          "breakdown", "stats", "batch_get", "history"})
ID_ACTIONS = frozenset({"get", "get_attr", "set_attr", "update", "remove", "restore", "adjust", "history", "toggle"})
REASONS = ("customer request", "duplicate entry", "no longer needed", "entered by mistake", "budget freeze")


# ------------------------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class WorldConfig:
    """Which generated world: tool and record seeds, records per entity, the tool split, masking."""

    tool_seed: int = setting(0, "seed of the generated tool descriptions and parameters")
    world_seed: int = setting(0, "seed of the simulated records")
    records_per_entity: int = setting(8, "simulated records per entity")
    tool_eval_fraction: float = setting(0.2, "share of whole tools kept for the eval side")
    tool_split_salt: str = setting("tooljudge-tools-v1", "salt of the tool split's hash")
    tool_split_unit: str = setting("tool", "hold out whole tools (tool) or whole domains (domain, a harder test) "
                                   "for the eval side", choices=("tool", "domain"))
    mask_fraction: float = setting(0.0, "share of kept rows whose tool and parameter names become random "
                                   "identifiers")


@dataclass(frozen=True)
class ToolSplit:
    """Whole tools on the train or the eval side: ``side(name)`` is "eval" for about ``eval_fraction``.

    ``unit="domain"`` hashes the tool's domain instead, so the eval side holds whole domains no training row
    touches (``side_of(tool)``); ``side(name)`` always hashes the given key."""

    eval_fraction: float = 0.2
    salt: str = "tooljudge-tools-v1"
    unit: str = "tool"

    def __post_init__(self) -> None:
        if self.unit not in ("tool", "domain"):
            raise ValueError(f"tool split unit must be 'tool' or 'domain', got {self.unit!r}")

    def side(self, name: str) -> str:
        digest = hashlib.sha1((self.salt + "\x00" + name).encode()).digest()
        return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < self.eval_fraction else "train"

    def side_of(self, tool: WorldTool) -> str:
        return self.side(tool.name if self.unit == "tool" else "domain:" + tool.domain.name)


# ------------------------------------------------------------------------------------------------ phrases
def vtext(a: Attr, v: Any) -> str:
    """A value as people write it: numbers with their unit, flags as yes/no, tags listed."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if a.kind in ("int", "num") and a.unit:
        return f"{fmt(v)} {a.unit}"
    if isinstance(v, list):
        return ", ".join(v) if v else "none"
    return fmt(v)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _briefs(t: WorldTool, result: list[dict], extra: str = "") -> str:
    idp = t.names["id"]
    parts = []
    for r in result:
        tail = f", {t.entity.attr(extra).noun} {vtext(t.entity.attr(extra), r[extra])}" if extra and extra in r else ""
        parts.append(f"{r[t.entity.label]} ({r[idp]}{tail})")
    return _listing(parts)


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


def _n(count: int, e: Entity) -> str:
    return f"{count} {e.noun if count == 1 else e.plural}"


def _found(t: WorldTool, result: list[dict], what: str, extra: str = "") -> str:
    if not result:
        return f"I found no {t.entity.plural} {what}."
    return f"I found {_n(len(result), t.entity)} {what}: {_briefs(t, result, extra)}."


@dataclass
class Plan:
    """One call with its request and reply: ``answer(result)`` writes the reply from the real result."""

    tool: WorldTool
    args: dict
    request: str
    answer: Callable[[Any], str]

    @property
    def needs(self) -> frozenset[str]:
        return needs_of(self.tool)


def needs_of(t: WorldTool) -> frozenset[str]:
    """What a request made for ``t`` needs: a tool whose ``provides`` meets it could serve the request."""
    cap = f"{t.domain.name}.{t.entity.name}"
    a = t.attr.name if t.attr else ""
    return frozenset({
        "get": {f"{cap}:read:*"}, "batch_get": {f"{cap}:read:*"}, "get_attr": {f"{cap}:read:{a}"},
        "find_by_label": {f"{cap}:find:{a}"}, "search": {f"{cap}:find"}, "list_by": {f"{cap}:find:{a}"},
        "list_for_ref": {f"{cap}:find:{a}"}, "top_by": {f"{cap}:rank:{a}"}, "count": {f"{cap}:count"},
        "breakdown": {f"{cap}:breakdown:{a}"}, "stats": {f"{cap}:stats:{a}"}, "create": {f"{cap}:create"},
        "update": {p for p in t.provides if ":change:" in p}, "set_attr": {f"{cap}:change:{a}"},
        "toggle": {f"{cap}:change:{a}"}, "bulk_set": {f"{cap}:change:{a}"}, "remove": {f"{cap}:remove"},
        "restore": {f"{cap}:restore", f"{cap}:change:{t.entity.remove[2]}"}, "adjust": {f"{cap}:change:{a}"}, "history": {f"{cap}:history"},
    }[t.action])


def can_serve(tool: WorldTool, needs: frozenset[str]) -> bool:
    return bool(tool.provides & needs)


# ------------------------------------------------------------------------------------------------ planning
class Planner:
    """Samples arguments for a tool from the current world and writes its request and reply."""

    def __init__(self, world: World, rng: random.Random):
        self.world, self.rng = world, rng

    # ---- values
    def table(self, t: WorldTool, e: Entity | None = None) -> dict[str, dict]:
        return self.world.table(t.domain, e or t.entity)

    def rid(self, t: WorldTool, live: bool | None = None, exclude: set[str] = frozenset()) -> str:
        """An existing ID; ``live=True``: not removed, ``False``: removed (soft), ``None``: any."""
        _, _, status, terminal = t.entity.remove
        ids = [i for i, rec in self.table(t).items() if i not in exclude
               and (live is None or not status or (rec[status] != terminal) == live)]
        if not ids:
            raise Reject("dead_end", f"{t.name}: no suitable {t.entity.noun} record")
        return self.rng.choice(sorted(ids))

    def new_value(self, t: WorldTool, a: Attr, current: Any = None) -> Any:
        rng = self.rng
        for _ in range(20):
            if a.kind in ("enum", "text"):
                v = rng.choice(a.values)
            elif a.kind == "int":
                step = 10 ** max(0, len(str(int(a.hi - a.lo))) - 3)
                v = rng.randint(int(a.lo) // step + (1 if step > 1 else 0), int(a.hi) // step) * step
            elif a.kind == "num":
                v = round(rng.uniform(a.lo, a.hi), 2 if a.hi <= 1000 else 1)
            elif a.kind == "bool":
                v = not current if isinstance(current, bool) else rng.random() < 0.5
            elif a.kind == "date":
                v = f"2026-{rng.randint(7, 12):02d}-{rng.randint(1, 28):02d}"
            elif a.kind == "ref":
                target = next(x for x in t.domain.entities if x.name == a.ref)
                v = rng.choice(sorted(self.table(t, target)))
            else:  # tags
                v = sorted(rng.sample(a.values, rng.randint(1, 2)))
            if v != current:
                return v
        raise Reject("dead_end", f"{t.name}: no new value for {a.name}")

    # ---- plans per action
    def plan(self, t: WorldTool, failing: bool = False) -> Plan:
        """A call of ``t``; ``failing`` makes the world refuse it (for the tool_error category)."""
        return getattr(self, "_" + t.action)(t, failing)

    def _bad_id(self, t: WorldTool) -> str:
        return self.world.unknown_id(t.domain, t.entity, self.rng)

    def _get(self, t: WorldTool, failing: bool) -> Plan:
        e, idp = t.entity, t.names["id"]
        rid = self._bad_id(t) if failing else self.rid(t)
        args = {idp: rid}
        if self.rng.random() < 0.25 and not failing:
            fields = self.rng.sample([a.name for a in e.attrs], 2)
            args[t.names["fields"]] = fields
            nouns = [e.attr(f).noun for f in fields]
            text = self.rng.choice(["Using the {noun} lookup, what are the {f} of {noun} {id}?",
                                    "Get me just the {f} of {noun} {id}."])
            request = text.format(noun=e.noun, id=rid, f=_listing(nouns))
        else:
            request = self.rng.choice(["Show me {noun} {id}.", "Can you pull up {noun} {id}?",
                                       "I need the full details of {noun} {id}."]).format(noun=e.noun, id=rid)

        def answer(r: dict) -> str:
            parts = [f"{e.attr(k).noun} {vtext(e.attr(k), v)}" for k, v in r.items() if k != idp]
            return f"{_cap(e.noun)} {rid}: " + "; ".join(parts) + "."
        return Plan(t, args, request, answer)

    def _get_attr(self, t: WorldTool, failing: bool) -> Plan:
        e, a, idp = t.entity, t.attr, t.names["id"]
        rid = self._bad_id(t) if failing else self.rid(t)
        request = self.rng.choice(["What is the {a} of {noun} {id}?", "Check the {a} of {noun} {id} for me.",
                                   "Tell me the {a} of {noun} {id}."]).format(a=a.noun, noun=e.noun, id=rid)
        return Plan(t, {idp: rid}, request,
                    lambda r: f"The {a.noun} of {e.noun} {rid} is {vtext(a, r[a.name])}.")

    def _find_by_label(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        if self.rng.random() < 0.15:
            query = self.rng.choice([v for v in a.values if v not in {r[a.name] for r in self.table(t).values()}]
                                    or list(a.values))
        else:
            query = self.table(t)[self.rid(t)][a.name]
        request = self.rng.choice(["What is the ID of the {noun} with {a} \"{q}\"?",
                                   "Find the {noun} whose {a} is \"{q}\".",
                                   "Look up {noun} \"{q}\" and give me its ID."]).format(noun=e.noun, a=a.noun, q=query)
        return Plan(t, {a.name: query}, request, lambda r: _found(t, r, f"matching \"{query}\""))

    def _range(self, t: WorldTool, a: Attr) -> tuple[dict, str]:
        values = sorted(rec[a.name] for rec in self.table(t).values())
        lo, hi = self.rng.sample(values, 2) if len(values) > 1 else (values[0], values[0])
        lo, hi = min(lo, hi), max(lo, hi)
        kind = self.rng.choice(["both", "min", "max"])
        if kind == "both":
            return {"min": lo, "max": hi}, f"with {a.noun} between {vtext(a, lo)} and {vtext(a, hi)}"
        if kind == "min":
            return {"min": lo}, f"with {a.noun} of at least {vtext(a, lo)}"
        return {"max": hi}, f"with {a.noun} of at most {vtext(a, hi)}"

    def _condition(self, t: WorldTool, a: Attr) -> tuple[Any, str]:
        recs = list(self.table(t).values())
        if a.kind in ("int", "num"):
            return self._range(t, a)
        if a.kind == "text":
            value = self.rng.choice(recs)[a.name]
            words = [w for w in re.findall(r"[A-Za-z]{4,}", value)]
            q = self.rng.choice(words) if words and self.rng.random() < 0.5 else value
            return q, f"whose {a.noun} contains \"{q}\""
        if a.kind == "bool":
            v = self.rng.random() < 0.5
            return v, f"whose {a.noun} flag is {vtext(a, v)}"
        v = self.rng.choice(recs)[a.name] if self.rng.random() < 0.8 else self.rng.choice(a.values)
        return v, f"with {a.noun} {vtext(a, v)}"

    def _search(self, t: WorldTool, failing: bool) -> Plan:
        e, n = t.entity, t.names
        filters = [a for a in e.attrs if f"filter:{a.name}" in n]
        chosen = self.rng.sample(filters, min(len(filters), self.rng.choice([1, 1, 2])))
        args, conds = {}, []
        for a in chosen:
            value, text = self._condition(t, a)
            args[n[f"filter:{a.name}"]] = value
            conds.append(text)
        request = f"Find {e.plural} " + " and ".join(conds)
        sort = ""
        if "sort" in n and self.rng.random() < 0.4:
            props = t.spec["function"]["parameters"]["properties"]
            sort = self.rng.choice(props["sort_by"]["enum"])
            args["sort_by"] = sort
            if self.rng.random() < 0.5:
                args[n["descending"]] = True
                request += f", sorted by {e.attr(sort).noun} from highest to lowest"
            else:
                request += f", sorted by {e.attr(sort).noun}"
        if self.rng.random() < 0.35:
            args[n["limit"]] = self.rng.randint(1, 4)
            request += f", at most {args[n['limit']]} of them"
        return Plan(t, args, request + ".", lambda r: _found(t, r, "that match", sort))

    def _list_by(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        value, cond = self._condition(t, a) if a.kind != "text" else (self.table(t)[self.rid(t)][a.name], "")
        if a.kind == "text":
            cond = f"whose {a.noun} is {value}"
        args = {a.name: value}
        request = self.rng.choice(["List the {p} {c}.", "Which {p} are there {c}?", "Show me all {p} {c}."]).format(
            p=e.plural, c=cond)
        if self.rng.random() < 0.2:
            args[t.names["limit"]] = self.rng.randint(1, 3)
            request = request[:-1] + f", no more than {args[t.names['limit']]}."
        return Plan(t, args, request, lambda r: _found(t, r, cond))

    def _list_for_ref(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        target = next(x for x in t.domain.entities if x.name == a.ref)
        tid = (self.world.unknown_id(t.domain, target, self.rng) if failing
               else self.rng.choice(sorted(self.table(t, target))))
        request = self.rng.choice(["List the {p} of {tn} {tid}.", "Which {p} belong to {tn} {tid}?",
                                   "Show me every {n} linked to {tn} {tid}."]).format(
            p=e.plural, n=e.noun, tn=target.noun, tid=tid)
        return Plan(t, {a.name: tid}, request, lambda r: _found(t, r, f"for {target.noun} {tid}"))

    def _top_by(self, t: WorldTool, failing: bool) -> Plan:
        e, a, n = t.entity, t.attr, t.names
        args: dict = {}
        order = "highest"
        if self.rng.random() < 0.4:
            order = "lowest"
            args[n["order"]] = order
        if self.rng.random() < 0.6:
            args["count"] = self.rng.randint(1, 5)
            request = f"Which {args['count']} {e.plural} have the {order} {a.noun}?"
        else:
            request = f"Show me the {e.plural} with the {order} {a.noun}."
        return Plan(t, args, request, lambda r: f"By {a.noun}, {order} first: {_briefs(t, r, a.name)}.")

    def _enum_filters(self, t: WorldTool, k: int) -> tuple[dict, str]:
        props = t.spec["function"]["parameters"]["properties"]
        names = [p for p in props if p in {a.name for a in t.entity.attrs}]
        chosen = self.rng.sample(names, min(len(names), k))
        args = {p: self.rng.choice(props[p]["enum"]) for p in chosen}
        cond = " and ".join(f"{t.entity.attr(p).noun} {v}" for p, v in args.items())
        return args, (" with " + cond if cond else "")

    def _count(self, t: WorldTool, failing: bool) -> Plan:
        args, cond = self._enum_filters(t, self.rng.choice([0, 1, 1, 2]))
        request = self.rng.choice(["How many {p} are there{c}?", "Count the {p}{c}."]).format(p=t.entity.plural, c=cond)
        return Plan(t, args, request, lambda r: f"There {'is' if r['count'] == 1 else 'are'} "
                                                f"{_n(r['count'], t.entity)}{cond}.")

    def _breakdown(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        args: dict = {}
        request = self.rng.choice(["How many {p} are there per {a}?", "Break down the {p} by {a}."]).format(
            p=e.plural, a=a.noun)
        if self.rng.random() < 0.3:
            args["include_empty"] = True
            request += f" Include every {a.noun}, even those with no {e.plural}."
        return Plan(t, args, request, lambda r: f"{_cap(e.plural)} by {a.noun}: " + ", ".join(
            f"{v} {c}" for v, c in r.items()) + ".")

    def _stats(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        args, cond = self._enum_filters(t, self.rng.choice([0, 1]))
        request = self.rng.choice(["What is the average {a} of {p}{c}?", "Give me statistics on the {a} of {p}{c}.",
                                   "Summarise the {a} across {p}{c}."]).format(a=a.noun, p=e.plural, c=cond)

        def answer(r: dict) -> str:
            if not r["count"]:
                return f"There are no {e.plural}{cond}, so there is nothing to summarise (count 0)."
            return (f"Across {_n(r['count'], e)}{cond}, the average {a.noun} is {vtext(a, r['mean'])}, ranging "
                    f"from {vtext(a, r['min'])} to {vtext(a, r['max'])} (total {vtext(a, r['total'])}).")
        return Plan(t, args, request, answer)

    def _batch_get(self, t: WorldTool, failing: bool) -> Plan:
        e = t.entity
        ids = self.rng.sample(sorted(self.table(t)), min(len(self.table(t)), self.rng.randint(2, 3)))
        if failing:
            ids[-1] = self._bad_id(t)
        request = self.rng.choice(["Show me {p} {ids}.", "Pull up these {p}: {ids}."]).format(
            p=e.plural, ids=_listing(ids))
        shown = next((a for a in e.attrs if a.name != e.label and a.kind in ("enum", "int", "num")), None)

        def answer(r: list) -> str:
            parts = [f"{x[t.names['id']]} is {x[e.label]}" + (f" ({shown.noun} {vtext(shown, x[shown.name])})"
                                                               if shown else "") for x in r]
            return f"Here are the {e.plural}: " + "; ".join(parts) + "."
        return Plan(t, {t.names["ids"]: ids}, request, answer)

    def _history(self, t: WorldTool, failing: bool) -> Plan:
        e = t.entity
        rid = self._bad_id(t) if failing else self.rid(t)
        args = {t.names["id"]: rid}
        since = ""
        if self.rng.random() < 0.3:
            args["since"] = f"2026-{self.rng.randint(1, 5):02d}-01"
            since = f" since {args['since']}"
        request = self.rng.choice(["What changed on {n} {id}{s}?", "Show me the change history of {n} {id}{s}."]
                                  ).format(n=e.noun, id=rid, s=since)

        def answer(r: list) -> str:
            if not r:
                return f"There are no recorded changes to {e.noun} {rid}{since}."
            parts = [f"on {h['date']} it was created" if h["field"] == "*" else
                     f"on {h['date']} its {e.attr(h['field']).noun} changed from {h['from']} to {h['to']}" for h in r]
            return f"{_cap(e.noun)} {rid} has {_plural(len(r), 'recorded change')}: " + "; ".join(parts) + "."
        return Plan(t, args, request, answer)

    def _create(self, t: WorldTool, failing: bool) -> Plan:
        e = t.entity
        props = t.spec["function"]["parameters"]["properties"]
        names = list(t.spec["function"]["parameters"]["required"])
        optional = [p for p in props if p not in names]
        names += self.rng.sample(optional, min(len(optional), self.rng.choice([0, 0, 1])))
        args = {p: self.new_value(t, e.attr(p)) for p in names}
        if failing:
            refs = [p for p in names if e.attr(p).kind == "ref"]
            if not refs:
                raise Reject("dead_end", f"{t.name}: no reference to break")
            target = next(x for x in t.domain.entities if x.name == e.attr(refs[0]).ref)
            args[refs[0]] = self.world.unknown_id(t.domain, target, self.rng)
        parts = [f"{e.attr(p).noun} {vtext(e.attr(p), v)}" for p, v in args.items()]
        request = self.rng.choice(["Create a new {n} with {f}.", "Please add a {n}: {f}."]).format(
            n=e.noun, f=_listing(parts))
        return Plan(t, args, request,
                    lambda r: f"Done: the new {e.noun} has ID {r[t.names['id']]} ({r[e.label]}).")

    def _changes(self, t: WorldTool, rid: str, k: int) -> dict:
        e = t.entity
        rec = self.table(t)[rid] if rid in self.table(t) else {}
        attrs = [a for a in e.attrs if a.mutable and a.name != e.remove[2]]
        return {a.name: self.new_value(t, a, rec.get(a.name)) for a in self.rng.sample(attrs, min(k, len(attrs)))}

    def _update(self, t: WorldTool, failing: bool) -> Plan:
        e, n = t.entity, t.names
        rid = self._bad_id(t) if failing else self.rid(t, live=True)
        changes = self._changes(t, rid, self.rng.choice([1, 2]))
        if not changes:
            raise Reject("dead_end", f"{t.name}: nothing to change")
        args = {n["id"]: rid, n["changes"]: changes}
        parts = [f"{e.attr(k).noun} to {vtext(e.attr(k), v)}" for k, v in changes.items()]
        request = f"Update {e.noun} {rid}: set {_listing(parts)}."
        if self.rng.random() < 0.3:
            args[n["notify"]] = True
            request += " Notify the people following it."

        def answer(r: dict) -> str:
            done = _listing([f"{e.attr(k).noun} {vtext(e.attr(k), r[k])}" for k in changes])
            return f"{_cap(e.noun)} {rid} now has {done}" + (", and its followers were notified." if r["notified"]
                                                              else ".")
        return Plan(t, args, request, answer)

    def _set_attr(self, t: WorldTool, failing: bool) -> Plan:
        e, a, idp = t.entity, t.attr, t.names["id"]
        is_status = a.name == e.remove[2]
        rid = self._bad_id(t) if failing else self.rid(t, live=None if is_status else True)
        value = self.new_value(t, a, self.table(t).get(rid, {}).get(a.name))
        if a.kind == "bool":
            templates = ["Set the {a} flag of {n} {id} to {v}.", "Switch the {a} setting of {n} {id} to {v}."]
        else:
            templates = ["Set the {a} of {n} {id} to {v}.", "Change the {a} of {n} {id} to {v}.",
                         "Please update {n} {id} so its {a} is {v}."]
        request = self.rng.choice(templates).format(a=a.noun, n=e.noun, id=rid, v=vtext(a, value))
        return Plan(t, {idp: rid, a.name: value}, request,
                    lambda r: f"The {a.noun} of {e.noun} {rid} changed from {vtext(a, r['previous_' + a.name])} to "
                              f"{vtext(a, r[a.name])}.")

    def _toggle(self, t: WorldTool, failing: bool) -> Plan:
        e, a, idp = t.entity, t.attr, t.names["id"]
        rid = self._bad_id(t) if failing else self.rid(t, live=True)
        request = self.rng.choice(["Flip the {a} flag of {n} {id}.", "Toggle {a} for {n} {id}."]).format(
            a=a.noun, n=e.noun, id=rid)
        return Plan(t, {idp: rid}, request, lambda r: f"The {a.noun} flag of {e.noun} {rid} is now "
                                                      f"{vtext(a, r[a.name])}.")

    def _bulk_set(self, t: WorldTool, failing: bool) -> Plan:
        e, a = t.entity, t.attr
        live = None if a.name == e.remove[2] else True
        first = self.rid(t, live=live)
        ids = [first, self.rid(t, live=live, exclude={first})]
        if failing:
            ids[-1] = self._bad_id(t)
        value = self.new_value(t, a)
        request = f"Set the {a.noun} of {e.plural} {_listing(ids)} to {vtext(a, value)}."
        return Plan(t, {t.names["ids"]: ids, a.name: value}, request,
                    lambda r: f"Done: {len(r['updated'])} {e.plural} now have {a.noun} {vtext(a, r[a.name])}.")

    def _remove(self, t: WorldTool, failing: bool) -> Plan:
        e, idp = t.entity, t.names["id"]
        verb, past, status, _ = e.remove
        if failing:
            rid = self.rid(t, live=False) if status and self.rng.random() < 0.5 else self._bad_id(t)
        else:
            rid = self.rid(t, live=True)
        args = {idp: rid}
        request = self.rng.choice(["Please {v} {n} {id}.", "I need you to {v} {n} {id}."]).format(
            v=verb, n=e.noun, id=rid)
        if self.rng.random() < 0.3:
            args[t.names["reason"]] = self.rng.choice(REASONS)
            request += f" The reason is: {args[t.names['reason']]}."
        return Plan(t, args, request, lambda r: f"{_cap(e.noun)} {rid} is now {past}." if status else
                    f"{_cap(e.noun)} {rid} was deleted.")

    def _restore(self, t: WorldTool, failing: bool) -> Plan:
        e, a, idp = t.entity, t.attr, t.names["id"]
        rid = self.rid(t, live=True) if failing else self.rid(t, live=False)
        request = self.rng.choice(["Restore {n} {id}, it was {p} by mistake.", "Please reinstate {n} {id}."]).format(
            n=e.noun, id=rid, p=e.remove[1])
        return Plan(t, {idp: rid}, request, lambda r: f"{_cap(e.noun)} {rid} is back, with {a.noun} {r[a.name]}.")

    def _adjust(self, t: WorldTool, failing: bool) -> Plan:
        e, a, n = t.entity, t.attr, t.names
        rid = self._bad_id(t) if failing and self.rng.random() < 0.5 else self.rid(t, live=True)
        current = self.table(t).get(rid, {}).get(a.name, a.lo)
        up = self.rng.random() < 0.5
        room = (a.hi - current) if up else (current - a.lo)
        if failing and rid in self.table(t):
            amount = room + max(1, (a.hi - a.lo) // 10)
            amount = int(amount) if a.kind == "int" else round(float(amount), 1)
        elif room < (1 if a.kind == "int" else 0.1):
            raise Reject("dead_end", f"{t.name}: {a.name} is at its limit")
        elif a.kind == "int":
            amount = max(1, int(room * self.rng.uniform(0.05, 0.5)))
        else:
            amount = max(0.1, math.floor(room * self.rng.uniform(0.05, 0.5) * 10) / 10)
        direction = "increase" if up else "decrease"
        request = self.rng.choice(["{d} the {a} of {n} {id} by {x}.", "Please {dl} {n} {id}'s {a} by {x}."]).format(
            d="Increase" if up else "Reduce", dl="raise" if up else "lower", a=a.noun, n=e.noun, id=rid,
            x=vtext(a, amount))
        return Plan(t, {n["id"]: rid, "direction": direction, n["amount"]: amount}, request,
                    lambda r: f"The {a.noun} of {e.noun} {rid} went from {vtext(a, r['previous_' + a.name])} to "
                              f"{vtext(a, r[a.name])}.")


# ------------------------------------------------------------------------------------------------ generators
FAILABLE = frozenset({"get", "get_attr", "list_for_ref", "batch_get", "history", "create", "update", "set_attr",
                      "toggle", "bulk_set", "remove", "restore", "adjust"})
PARALLEL_SAME = frozenset({"get", "get_attr", "find_by_label", "list_by", "list_for_ref", "count", "stats", "history",
                           "set_attr", "toggle", "adjust"})


class WorldGenerator:
    """The nine category generators over the generated tools, for one split side."""

    def __init__(self, catalog: ToolCatalog, executor: WorldExecutor, ctx: GenContext, split: ToolSplit,
                 side: str | None):
        self.catalog, self.ex, self.ctx, self.rng = catalog, executor, ctx, ctx.rng
        self.side = side
        self.tools = [t for t in catalog.tools.values() if side is None or split.side_of(t) == side]
        if not self.tools:
            raise ValueError(f"no generated tools on the {side} side")
        self.by_domain: dict[str, list[WorldTool]] = {}
        for t in self.tools:
            self.by_domain.setdefault(t.domain.name, []).append(t)
        self.by_action: dict[str, list[WorldTool]] = {}
        for t in self.tools:
            self.by_action.setdefault(t.action, []).append(t)
        self.planner = Planner(executor.world, self.rng)
        self._cycles: dict[tuple, list[WorldTool]] = {}

    def generate(self, category: str, tries: int = 6) -> dict:
        """One candidate row from the seeded start of the world. Chains whose tools straddle the tool split are
        redrawn (up to ``tries`` times) rather than dropped: three tools rarely all fall on one side."""
        for attempt in range(tries):
            self.ex.reset()
            try:
                return self.category_row(category)
            except Reject as rej:
                if rej.reason != "split_leak" or attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")

    def category_row(self, category: str) -> dict:
        """One row of ``category`` by its registered world generator (``synthetic.SYNTH_CATEGORIES``)."""
        world = SYNTH_CATEGORIES.get(category).world
        if world is None:
            raise ValueError(f"synthetic category {category!r} has no tool-world generator")
        return world(self)

    # ---- helpers
    def pick(self, actions: frozenset[str] | None = None) -> WorldTool:
        """The next tool of a shuffled cycle through the pool (every tool once before any twice), so that a few
        thousand rows call nearly every tool rather than the lucky ones many times."""
        key = tuple(sorted(actions)) if actions is not None else ()
        queue = self._cycles.setdefault(key, [])
        if not queue:
            pool = self.tools if actions is None else [t for a in key for t in self.by_action.get(a, [])]
            if not pool:
                raise Reject("split_leak", f"no {list(key)} tool on the {self.side} side")
            queue.extend(pool)
            self.rng.shuffle(queue)
        return queue.pop()

    def near_misses(self, needs: frozenset[str], around: WorldTool, exclude: set[str], k: int) -> list[str]:
        """Up to ``k`` tools of ``around``'s domain that cannot serve ``needs``: the same entity first (another
        action), then the same action on another entity, then the rest of the domain."""
        pool = [t for t in self.by_domain.get(around.domain.name, [])
                if t.name not in exclude and not can_serve(t, needs)]
        same_entity = [t.name for t in pool if t.entity.name == around.entity.name]
        same_action = [t.name for t in pool if t.entity.name != around.entity.name and t.action == around.action]
        rest = [t.name for t in pool if t.name not in set(same_entity) | set(same_action)]
        for group in (same_entity, same_action, rest):
            self.rng.shuffle(group)
        ordered = list(dict.fromkeys(same_entity[:2] + same_action[:2] + same_entity[2:] + same_action[2:] + rest))
        return ordered[:k]

    def other_domain(self, domain: str, k: int) -> list[str]:
        pool = [t.name for t in self.tools if t.domain.name != domain]
        return self.rng.sample(pool, min(k, len(pool)))

    def builder(self, category: str, tools: list[str]) -> RowBuilder:
        return RowBuilder(self.ctx, category, tools)

    def run_plan(self, b: RowBuilder, plans: list[Plan]) -> list[Any]:
        results = b.step([(p.tool.name, p.args) for p in plans])
        return results

    def same_side(self, *names: str) -> None:
        allowed = {t.name for t in self.tools}
        for name in names:
            if name not in allowed:
                raise Reject("split_leak", f"{name} is on the other side of the tool split")

    # ---- categories
    def gen_single(self, distractors: int = 0, category: str = "single") -> dict:
        t = self.pick()
        p = self.planner.plan(t)
        others = self.near_misses(p.needs, t, {t.name}, distractors)
        b = self.builder(category, [t.name, *others])
        b.user(p.request)
        [r] = self.run_plan(b, [p])
        b.say(p.answer(r))
        return b.row()

    def gen_multiple(self) -> dict:
        return self.gen_single(distractors=self.rng.randint(2, 4), category="multiple")

    def gen_parallel(self) -> dict:
        t = self.pick(PARALLEL_SAME)
        plans: list[Plan] = []
        seen: set[str] = set()
        for _ in range(self.rng.choice([2, 2, 3])):
            for _ in range(10):
                p = self.planner.plan(t)
                key = json.dumps(p.args, sort_keys=True)
                ids = {v for v in p.args.values() if isinstance(v, str)}
                if key not in seen and not (t.action not in READ_ACTIONS and ids & seen):
                    seen.add(key)
                    seen.update(ids)
                    plans.append(p)
                    break
        if len(plans) < 2:
            raise Reject("dead_end", f"{t.name}: too few distinct calls")
        return self._parallel_row("parallel", plans)

    def gen_parallel_multiple(self) -> dict:
        first = self.pick(READ_ACTIONS)
        domain_tools = [t for t in self.by_domain[first.domain.name] if t.action in READ_ACTIONS and t is not first]
        k = min(len(domain_tools), self.rng.choice([1, 1, 2]))
        if k == 0:
            raise Reject("dead_end", f"{first.domain.name}: one read tool only")
        plans = [self.planner.plan(t) for t in [first, *self.rng.sample(domain_tools, k)]]
        return self._parallel_row("parallel_multiple", plans)

    def _parallel_row(self, category: str, plans: list[Plan]) -> dict:
        names = [p.tool.name for p in plans]
        needs = frozenset().union(*(p.needs for p in plans))
        extra = self.near_misses(needs, plans[0].tool, set(names), self.rng.randint(0, 2))
        b = self.builder(category, names + extra)
        b.user(" ".join(p.request for p in plans))
        results = self.run_plan(b, plans)
        b.say(" ".join(p.answer(r) for p, r in zip(plans, results, strict=True)))
        return b.row()

    def gen_irrelevance(self) -> dict:
        t = self.pick()
        p = self.planner.plan(t)
        offered = self.near_misses(p.needs, t, {t.name}, self.rng.randint(2, 4))
        offered += self.other_domain(t.domain.name, self.rng.randint(0, 1))
        if not offered:
            raise Reject("dead_end", f"{t.name}: no near-miss tools on this side")
        b = self.builder("irrelevance", offered)
        b.user(p.request)
        b.say(IRRELEVANT_REPLY.format(tools=", ".join(sorted(offered))))
        return b.row()

    def gen_tool_error(self) -> dict:
        t = self.pick(FAILABLE)
        p = self.planner.plan(t, failing=True)
        b = self.builder("tool_error", [t.name, *self.near_misses(p.needs, t, {t.name}, self.rng.randint(0, 2))])
        b.user(p.request)
        [error] = b.step([(t.name, p.args)], expect_error=True)
        b.say(ERROR_REPLY.format(tool=t.name, reason=error.split(": ", 1)[-1]))
        return b.row()

    def gen_multi_turn(self) -> dict:
        t1 = self.pick()
        p1 = self.planner.plan(t1)
        family = self.by_domain[t1.domain.name]
        readback = None
        if t1.action in ("set_attr", "toggle", "adjust"):
            rid = p1.args[t1.names["id"]]
            readers = [t for t in family if t.entity.name == t1.entity.name and
                       (t.action == "history" or (t.action == "get_attr" and t.attr.name == t1.attr.name))]
            if readers:
                readback = (self.rng.choice(readers), rid)
        b = self.builder("multi_turn", [t1.name])
        b.user(p1.request)
        [r1] = self.run_plan(b, [p1])
        b.say(p1.answer(r1))
        if readback:
            t2, rid = readback
            p2 = self.planner.plan(t2)
            p2.args = {k: v for k, v in p2.args.items() if k != "since"} | {t2.names["id"]: rid}
            e = t2.entity
            if t2.action == "history":
                p2.request = f"What changes are recorded for {e.noun} {rid} now?"
                p2.answer = _history_answer(e, rid)
            else:
                p2.request = f"Double-check: what is the {t2.attr.noun} of {e.noun} {rid} now?"
                p2.answer = _attr_answer(t2, rid)
        else:
            t2 = self.rng.choice(family)
            p2 = self.planner.plan(t2)
        self.same_side(t2.name)
        request = p2.request
        b.user(self.rng.choice(FOLLOW_UPS).format(request=request, request_lc=request[:1].lower() + request[1:]))
        [r2] = self.run_plan(b, [p2])
        b.say(p2.answer(r2))
        needs = p1.needs | p2.needs
        b.tools = list(dict.fromkeys([t1.name, t2.name, *self.near_misses(needs, t1, {t1.name, t2.name}, 1)]))
        self.rng.shuffle(b.tools)
        return b.row()

    # ---- chains
    def _chain_row(self, category: str, request: str, steps: list[Callable[[list], tuple[WorldTool, dict]]],
                   answer: Callable[[list], str]) -> dict:
        b = self.builder(category, [])
        b.user(request)
        results: list[Any] = []
        used: list[WorldTool] = []
        for step in steps:
            t, args = step(results)
            self.same_side(t.name)
            used.append(t)
            results.extend(b.step([(t.name, args)]))
        b.say(answer(results))
        needs = frozenset().union(*(needs_of(t) for t in used))
        b.tools = list(dict.fromkeys([t.name for t in used] +
                                     self.near_misses(needs, used[-1], {t.name for t in used}, self.rng.randint(0, 2))))
        self.rng.shuffle(b.tools)
        return b.row()

    def _tool(self, domain: str, name: str) -> WorldTool:
        t = self.catalog.tools.get(name)
        if t is None:
            raise Reject("dead_end", f"{domain}: no tool {name}")
        self.same_side(name)
        return t

    def _ref_hop(self, t: WorldTool) -> tuple[WorldTool, Attr, Entity, Attr] | None:
        refs = [a for a in t.entity.attrs if a.kind == "ref"]
        if not refs:
            return None
        r = self.rng.choice(refs)
        target = next(x for x in t.domain.entities if x.name == r.ref)
        b = self.rng.choice([a for a in target.attrs if a.name != target.label])
        return t, r, target, b

    def gen_nested(self) -> dict:
        kind = self.rng.choice(["ref_hop", "find_then_read", "read_then_change", "rank_then_get"])
        t = self.pick(frozenset({"get"}))
        d, e, p = t.domain, t.entity, t.domain.prefix
        rid = self.planner.rid(t)
        if kind == "ref_hop" and (hop := self._ref_hop(t)):
            _, r, target, b = hop
            t1 = self._tool(d.name, f"{p}_get_{e.name}_{r.name}")
            t2 = self._tool(d.name, f"{p}_get_{target.name}_{b.name}")
            if self.planner.table(t)[rid][r.name] is None:
                raise Reject("dead_end", f"{e.noun} {rid} has no {r.noun}")
            return self._chain_row(
                "nested", f"For {e.noun} {rid}, look up the linked {target.noun} and tell me its {b.noun}.",
                [lambda res: (t1, {t1.names["id"]: rid}),
                 lambda res: (t2, {t2.names["id"]: res[0][r.name]})],
                lambda res: f"{_cap(e.noun)} {rid} is linked to {target.noun} {res[0][r.name]}, whose {b.noun} is "
                            f"{vtext(b, res[1][b.name])}.")
        if kind == "read_then_change":
            attrs = [a for a in e.attrs if a.mutable and a.kind == "enum" and a.name != e.remove[2]]
            if attrs:
                a = self.rng.choice(attrs)
                rid = self.planner.rid(t, live=True)
                want = self.rng.choice(a.values)
                t1 = self._tool(d.name, f"{p}_get_{e.name}_{a.name}")
                t2 = self._tool(d.name, f"{p}_set_{e.name}_{a.name}")

                def change(res: list) -> tuple[WorldTool, dict]:
                    if res[0][a.name] == want:
                        raise Reject("dead_end", f"{e.noun} {rid} already has {a.noun} {want}")
                    return t2, {t2.names["id"]: rid, a.name: want}
                return self._chain_row(
                    "nested", f"Check the {a.noun} of {e.noun} {rid}, and if it is not {want}, change it to {want}.",
                    [lambda res: (t1, {t1.names["id"]: rid}), change],
                    lambda res: f"The {a.noun} of {e.noun} {rid} was {res[0][a.name]}; it is now {res[1][a.name]}.")
        if kind == "rank_then_get":
            nums = [a for a in e.attrs if a.kind in ("int", "num")]
            if nums:
                a = self.rng.choice(nums)
                t1 = self._tool(d.name, f"{p}_rank_{_snake(e.plural)}_by_{a.name}")
                return self._chain_row(
                    "nested", f"Rank the {e.plural} by {a.noun} and show me the full record of the one with the "
                              f"highest {a.noun}.",
                    [lambda res: (t1, {}),
                     lambda res: (t, {t.names["id"]: res[0][0][t.names["id"]]})],
                    lambda res: f"{_cap(e.noun)} {res[1][t.names['id']]} has the highest {a.noun} "
                                f"({vtext(a, res[1][a.name])}): " + "; ".join(
                                    f"{e.attr(k).noun} {vtext(e.attr(k), v)}" for k, v in res[1].items()
                                    if k not in (t.names["id"], a.name)) + ".")
        # find_then_read (also the fallback)
        label = e.attr(e.label)
        b = self.rng.choice([a for a in e.attrs if a.name != e.label])
        name = self.planner.table(t)[rid][label.name]
        t1 = self._tool(d.name, f"{p}_find_{e.name}_by_{label.name}")
        t2 = self._tool(d.name, f"{p}_get_{e.name}_{b.name}")
        return self._chain_row(
            "nested", f"What is the {b.noun} of the {e.noun} with {label.noun} \"{name}\"?",
            [lambda res: (t1, {label.name: name}),
             lambda res: (t2, {t2.names["id"]: _first_id(t1, res[0])})],
            lambda res: f"The {e.noun} \"{name}\" ({res[1][t2.names['id']]}) has {b.noun} {vtext(b, res[1][b.name])}.")

    def gen_multi_step(self) -> dict:
        t = self.pick(frozenset({"get"}))
        d, e, p = t.domain, t.entity, t.domain.prefix
        label = e.attr(e.label)
        hop = self._ref_hop(t)
        if hop and self.rng.random() < 0.5:
            _, r, target, b = hop
            rid = self.planner.rid(t)
            if self.planner.table(t)[rid][r.name] is None:
                raise Reject("dead_end", f"{e.noun} {rid} has no {r.noun}")
            name = self.planner.table(t)[rid][label.name]
            t1 = self._tool(d.name, f"{p}_find_{e.name}_by_{label.name}")
            t2 = self._tool(d.name, f"{p}_get_{e.name}_{r.name}")
            t3 = self._tool(d.name, f"{p}_get_{target.name}_{b.name}")
            return self._chain_row(
                "multi_step", f"Find the {e.noun} with {label.noun} \"{name}\", then look up its linked "
                              f"{target.noun} and tell me that {target.noun}'s {b.noun}.",
                [lambda res: (t1, {label.name: name}),
                 lambda res: (t2, {t2.names["id"]: _first_id(t1, res[0])}),
                 lambda res: (t3, {t3.names["id"]: res[1][r.name]})],
                lambda res: f"The {e.noun} \"{name}\" is {res[1][t2.names['id']]}; its {target.noun} is "
                            f"{res[1][r.name]}, whose {b.noun} is {vtext(b, res[2][b.name])}.")
        attrs = [a for a in e.attrs if a.mutable and a.name != e.remove[2] and a.kind in ("enum", "int", "num")]
        if not attrs:
            raise Reject("dead_end", f"{e.name}: nothing to change and verify")
        a = self.rng.choice(attrs)
        rid = self.planner.rid(t, live=True)
        value = self.planner.new_value(t, a, self.planner.table(t)[rid][a.name])
        t1 = self._tool(d.name, f"{p}_set_{e.name}_{a.name}")
        t2 = self._tool(d.name, f"{p}_get_{e.name}_{a.name}")
        t3 = self._tool(d.name, f"{p}_get_{e.name}_change_log")
        return self._chain_row(
            "multi_step", f"Set the {a.noun} of {e.noun} {rid} to {vtext(a, value)}, then confirm the new "
                          f"{a.noun} and show me the change history of {e.noun} {rid}.",
            [lambda res: (t1, {t1.names["id"]: rid, a.name: value}),
             lambda res: (t2, {t2.names["id"]: rid}),
             lambda res: (t3, {t3.names["id"]: rid})],
            lambda res: f"The {a.noun} of {e.noun} {rid} is now {vtext(a, res[1][a.name])} (it was "
                        f"{vtext(a, res[0]['previous_' + a.name])}). {_history_answer(e, rid)(res[2])}")


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _first_id(t: WorldTool, result: list) -> str:
    if not result:
        raise Reject("dead_end", f"{t.name} found nothing")
    return result[0][t.names["id"]]


def _history_answer(e: Entity, rid: str) -> Callable[[list], str]:
    def answer(r: list) -> str:
        if not r:
            return f"There are no recorded changes to {e.noun} {rid}."
        parts = [f"on {h['date']} it was created" if h["field"] == "*" else
                 f"on {h['date']} its {e.attr(h['field']).noun} changed from {vtext(e.attr(h['field']), h['from'])} "
                 f"to {vtext(e.attr(h['field']), h['to'])}" for h in r]
        return f"The log of {e.noun} {rid} has {_plural(len(r), 'entry', 'entries')}: " + "; ".join(parts) + "."
    return answer


def _attr_answer(t: WorldTool, rid: str) -> Callable[[dict], str]:
    return lambda r: f"The {t.attr.noun} of {t.entity.noun} {rid} is now {vtext(t.attr, r[t.attr.name])}."


# ------------------------------------------------------------------------------------------------ masking
def _ident(rng: random.Random, prefix: str) -> str:
    return prefix + "_" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=6))


def mask_row(row: dict, rng: random.Random) -> dict:
    """The row with every tool name and parameter name (nested ones too) replaced by a random identifier;
    descriptions, values and texts are kept, except that tool names quoted in replies are renamed too."""
    tool_map = {t["function"]["name"]: _ident(rng, "fn") for t in row["tools"]}
    param_maps: dict[str, dict] = {}

    def mask_schema(schema: dict, path: str) -> dict:
        schema = json.loads(json.dumps(schema))
        if schema.get("type") == "object" and "properties" in schema:
            mapping = {k: _ident(rng, "arg") for k in schema["properties"]}
            param_maps[path] = mapping
            schema["properties"] = {mapping[k]: mask_schema(v, path + "." + k) for k, v in schema["properties"].items()}
            if "required" in schema:
                schema["required"] = [mapping[k] for k in schema["required"]]
        return schema

    def mask_args(args: Any, path: str) -> Any:
        if isinstance(args, dict) and path in param_maps:
            return {param_maps[path][k]: mask_args(v, path + "." + k) for k, v in args.items()}
        return args

    tools = []
    for t in row["tools"]:
        fn = t["function"]
        name = fn["name"]
        tools.append({"type": "function", "function": {**fn, "name": tool_map[name],
                                                       "parameters": mask_schema(fn["parameters"], name)}})
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(tool_map, key=len, reverse=True))) + r")\b")

    def rename(text: str) -> str:
        return pattern.sub(lambda m: tool_map[m.group(1)], text) if text else text

    messages = []
    for m in row["messages"]:
        m = dict(m)
        if m.get("content"):
            m["content"] = rename(m["content"])
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "function": {"name": tool_map[c["function"]["name"]], "arguments": mask_args(
                c["function"]["arguments"], c["function"]["name"])}} for c in m["tool_calls"]]
        if m["role"] == "tool" and "name" in m:
            m["name"] = tool_map.get(m["name"], m["name"])
        messages.append(m)
    return {**row, "messages": messages, "tools": tools, "masked": True}


# ------------------------------------------------------------------------------------------------ drivers
def world_setup(world: WorldConfig) -> tuple[ToolCatalog, WorldExecutor]:
    catalog = build_catalog(world.tool_seed, DOMAINS)
    return catalog, WorldExecutor(catalog, World(DOMAINS, world.world_seed, world.records_per_entity))


def synthesize_world(config: SynthConfig, world: WorldConfig | None = None, writer: Any = None,
                     setup: tuple[ToolCatalog, WorldExecutor] | None = None) -> tuple[list[dict], SynthReport]:
    """Rows over the generated tools, through ``synthetic.run_generation`` (same filters and report).

    ``config.side`` picks the side of the tool split (``WorldConfig.tool_eval_fraction``); the instance split
    does not apply (whole tools are split). ``world.mask_fraction`` of the kept rows are masked
    (``mask_row``), counted in ``report.augmented["masked"]``.
    """
    world = world or WorldConfig()
    check_mix(config.mix)
    catalog, executor = setup or world_setup(world)
    rng = random.Random(config.seed)
    ctx = GenContext(rng, executor.registry, {}, executor, InstanceSplit(config.eval_fraction, config.split_salt),
                     side=None)
    gen = WorldGenerator(catalog, executor, ctx, ToolSplit(world.tool_eval_fraction, world.tool_split_salt,
                                                           world.tool_split_unit),
                         config.side)
    rows, report = run_generation(config, rng, gen.generate, writer)
    report.backend = report.backend + "+tool_world"
    if world.mask_fraction > 0:
        mask_rng = random.Random(f"mask:{config.seed}")
        for i, row in enumerate(rows):
            if mask_rng.random() < world.mask_fraction:
                masked = mask_row(row, mask_rng)
                problems = validate_conversation(masked)
                if problems:
                    raise ValueError(f"row {row['id']}: masking broke the row: {problems[0]}")
                rows[i] = masked
                report.augmented["masked"] += 1
    return rows, report


def build_world_eval_set(n: int = 400, seed: int = 1234, world: WorldConfig | None = None,
                         setup: tuple[ToolCatalog, WorldExecutor] | None = None) -> list[dict]:
    """An eval set over tools that training rows never show: simple / multiple / parallel / parallel_multiple /
    irrelevance (n/5 each) on the eval side of the tool split, in the built-in eval set's form."""
    world = world or WorldConfig()
    setup = setup or world_setup(world)
    per = [n // len(EVAL_CATEGORIES) + (1 if i < n % len(EVAL_CATEGORIES) else 0) for i in range(len(EVAL_CATEGORIES))]
    rows: list[dict] = []
    for k, (cat, count) in enumerate(zip(EVAL_CATEGORIES, per, strict=True)):
        if count == 0:
            continue
        cfg = SynthConfig(n=count, seed=seed * 100 + k, mix={EVAL_SOURCE[cat]: 1.0}, side="eval", max_attempts_factor=50)
        kept, report = synthesize_world(cfg, world, setup=setup)
        if len(kept) < count:
            raise RuntimeError(f"world eval set: only {len(kept)} {cat} rows after {report.attempts} attempts\n"
                               f"{report.format()}")
        rows.extend({**to_eval_row(r, cat, i), "id": f"tool_world_{cat}_{i:04d}"} for i, r in enumerate(kept))
    return rows


@dataclass
class ToolCoverage:
    """Distinct tools and domains a set of rows offers and calls."""

    offered: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)


def coverage(rows: list[dict], catalog: ToolCatalog) -> ToolCoverage:
    cov = ToolCoverage()
    for row in rows:
        for t in row["tools"]:
            name = t["function"]["name"]
            if name in catalog.tools:
                cov.offered.add(name)
                cov.domains.add(catalog[name].domain.name)
        for m in row["messages"]:
            cov.called.update(c["function"]["name"] for c in m.get("tool_calls") or [])
    return cov
