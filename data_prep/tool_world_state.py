"""The simulated world the generated tools run against: records per entity, a state store, an executor.

Why: a generated tool is only useful training data if its results are true. Every domain entity gets a fixed
set of records (deterministic from the seed: IDs like ``TCK-4821``, attribute values from the spec's pools and
ranges, references to real records of the linked entity, a short change history). ``WorldExecutor.call``
validates the arguments against the tool's JSON schema (``argument_problems``: exact types, no unknown keys,
ranges), then reads or changes the store: unknown IDs, references to records that do not exist, changes to a
cancelled record, a range overrun or a bad date are tool errors with a message, exactly as a real API would
answer. Changes stay until ``reset()``, so a conversation that sets a ticket's priority and then reads it sees
the new value; ``reset()`` before each conversation makes every row re-executable from the same start.

Everything is simulated: the records are invented, "today" is a fixed date (``TODAY``), nothing leaves the
process. The tools are our own deterministic code over in-memory dicts, so they run in-process rather than in
the sandbox (which exists for user code).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import random
from typing import Any

from tooljudge.data_prep.sandbox import ToolResult
from tooljudge.data_prep.tool_registry import Tool, ToolRegistry, argument_problems
from tooljudge.data_prep.tool_world_domains import Attr, Domain, Entity
from tooljudge.data_prep.tool_world_schemas import ToolCatalog, WorldTool

TODAY = "2026-06-15"


class WorldError(Exception):
    """A request the world refuses; ``kind`` names the class of failure in the tool message."""

    kind = "WorldError"


class NotFoundError(WorldError):
    kind = "NotFoundError"


class ConflictError(WorldError):
    kind = "ConflictError"


class InvalidValueError(WorldError):
    kind = "InvalidValueError"


def _round(x: float) -> float | int:
    return round(x, 2)


def _value(rng: random.Random, a: Attr, ids: dict[str, list[str]]) -> Any:
    if a.kind in ("enum", "text"):
        return rng.choice(a.values)
    if a.kind == "int":
        step = 10 ** max(0, len(str(int(a.hi - a.lo))) - 3)
        return rng.randint(int(a.lo) // step, int(a.hi) // step) * step if step > 1 else rng.randint(int(a.lo),
                                                                                                      int(a.hi))
    if a.kind == "num":
        return round(rng.uniform(a.lo, a.hi), 2 if a.hi <= 1000 else 1)
    if a.kind == "bool":
        return rng.random() < 0.5
    if a.kind == "date":
        start = dt.date(int(a.lo), 1, 1)
        return (start + dt.timedelta(days=rng.randrange((dt.date(int(a.hi), 12, 31) - start).days))).isoformat()
    if a.kind == "ref":
        return rng.choice(ids[a.ref])
    if a.kind == "tags":
        return sorted(rng.sample(a.values, rng.randint(0, 3)))
    raise ValueError(a.kind)


def _number(prefix: str, n: int) -> str:
    return f"{prefix}-{n}"


class World:
    """Records of every entity of the domains, keyed ``(domain, entity) -> {id: record}``, plus histories."""

    def __init__(self, domains: tuple[Domain, ...], seed: int = 0, records_per_entity: int = 8):
        self.domains = domains
        self.seed = seed
        base: dict[tuple[str, str], dict[str, dict]] = {}
        history: dict[tuple[str, str], dict[str, list]] = {}
        for d in domains:
            ids: dict[str, list[str]] = {}
            rngs = {e.name: random.Random(f"{seed}:{d.name}:{e.name}") for e in d.entities}
            for e in d.entities:
                k = min(records_per_entity, len(e.attr(e.label).values))
                numbers = sorted(rngs[e.name].sample(range(1000, 9900), k))
                ids[e.name] = [_number(e.prefix, n) for n in numbers]
            for e in d.entities:
                rng = rngs[e.name]
                labels = rng.sample(e.attr(e.label).values, len(ids[e.name]))
                table: dict[str, dict] = {}
                logs: dict[str, list] = {}
                for rid, lab in zip(ids[e.name], labels, strict=True):
                    rec = {a.name: (lab if a.name == e.label else _value(rng, a, ids)) for a in e.attrs}
                    table[rid] = rec
                    logs[rid] = self._base_history(rng, e, rec)
                base[(d.name, e.name)] = table
                history[(d.name, e.name)] = logs
        self._base, self._base_history_log = base, history
        self.reset()

    @staticmethod
    def _base_history(rng: random.Random, e: Entity, rec: dict) -> list[dict]:
        """Zero to two earlier changes of mutable enum fields that ended in the record's current value."""
        out = []
        candidates = [a for a in e.attrs if a.mutable and a.kind == "enum"]
        for day in sorted(rng.sample(range(1, 150), rng.randint(0, min(2, len(candidates))))):
            a = rng.choice(candidates)
            before = rng.choice([v for v in a.values if v != rec[a.name]])
            when = (dt.date(2026, 1, 1) + dt.timedelta(days=day)).isoformat()
            out.append({"date": when, "field": a.name, "from": before, "to": rec[a.name]})
        return out

    def reset(self) -> None:
        """Back to the seeded start (every conversation begins here). Tables are copied when first touched."""
        self.tables: dict[tuple[str, str], dict[str, dict]] = {}
        self._history: dict[tuple[str, str], dict[str, list]] = {}

    def table(self, domain: Domain, e: Entity) -> dict[str, dict]:
        key = (domain.name, e.name)
        if key not in self.tables:
            self.tables[key] = copy.deepcopy(self._base[key])
        return self.tables[key]

    def history(self, domain: Domain, e: Entity) -> dict[str, list]:
        key = (domain.name, e.name)
        if key not in self._history:
            self._history[key] = copy.deepcopy(self._base_history_log[key])
        return self._history[key]

    def record(self, domain: Domain, e: Entity, rid: Any) -> dict:
        rec = self.table(domain, e).get(rid) if isinstance(rid, str) else None
        if rec is None:
            raise NotFoundError(f"no {e.noun} with ID {rid}")
        return rec

    def unknown_id(self, domain: Domain, e: Entity, rng: random.Random) -> str:
        """A well-formed ID that no record has (for requests that must fail)."""
        used = set(self.table(domain, e))
        while True:
            rid = _number(e.prefix, rng.randrange(1000, 9999))
            if rid not in used:
                return rid

    def log(self, domain: Domain, e: Entity, rid: str, field: str, before: Any, after: Any) -> None:
        self.history(domain, e).setdefault(rid, []).append(
            {"date": TODAY, "field": field, "from": before, "to": after})


# ---------------------------------------------------------------------------------------------- actions
def _entity(domain: Domain, name: str) -> Entity:
    return next(x for x in domain.entities if x.name == name)


def _is_closed(e: Entity, rec: dict) -> bool:
    _, _, status, terminal = e.remove
    return bool(status) and rec.get(status) == terminal


def _check_value(world: World, t: WorldTool, a: Attr, value: Any) -> None:
    if a.kind == "ref":
        world.record(t.domain, _entity(t.domain, a.ref), value)
    elif a.kind == "date":
        _date(value, a.noun)
    elif a.kind == "text" and not value.strip():
        raise InvalidValueError(f"{a.noun} must not be empty")


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} {value!r} is not a date in YYYY-MM-DD form") from None


def _open_record(world: World, t: WorldTool, rid: Any) -> dict:
    rec = world.record(t.domain, t.entity, rid)
    if _is_closed(t.entity, rec):
        raise ConflictError(f"{t.entity.noun} {rid} is {t.entity.remove[1]} and cannot be changed")
    return rec


def _brief(t: WorldTool, rid: str, rec: dict, extra: tuple[str, ...] = ()) -> dict:
    out = {t.names["id"]: rid, t.entity.label: rec[t.entity.label]}
    out.update({k: rec[k] for k in extra if k != t.entity.label})
    return out


def _full(t: WorldTool, rid: str, rec: dict, fields: list[str] | None = None) -> dict:
    return {t.names["id"]: rid, **{k: v for k, v in rec.items() if fields is None or k in fields}}


def _set(world: World, t: WorldTool, rid: str, rec: dict, name: str, value: Any) -> Any:
    before = rec[name]
    rec[name] = value
    if before != value:
        world.log(t.domain, t.entity, rid, name, before, value)
    return before


def _matches(rec: dict, a: Attr, value: Any, exact_text: bool = False) -> bool:
    if a.kind in ("int", "num"):
        lo, hi = value.get("min"), value.get("max")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidValueError(f"{a.noun} range has min {lo} above max {hi}")
        return (lo is None or rec[a.name] >= lo) and (hi is None or rec[a.name] <= hi)
    if a.kind == "text":
        have, want = str(rec[a.name]).lower(), value.strip().lower()
        return have == want if exact_text else want in have
    return rec[a.name] == value


def _blank(a: Attr) -> Any:
    """The value a new record gets for an attribute its create call cannot set (a fresh ticket's age, ...)."""
    if a.kind == "enum":
        return a.values[0]
    return {"int": int(a.lo), "num": a.lo, "bool": False, "date": TODAY, "tags": [], "text": "", "ref": None}[a.kind]


def run(world: World, t: WorldTool, args: dict) -> Any:
    """Execute one already-validated call of ``t`` against ``world`` (raises ``WorldError`` on refusal)."""
    e, a, n = t.entity, t.attr, t.names
    table = world.table(t.domain, e)
    act = t.action
    if act == "get":
        rid = args[n["id"]]
        return _full(t, rid, world.record(t.domain, e, rid), args.get(n["fields"]))
    if act == "get_attr":
        rid = args[n["id"]]
        return {n["id"]: rid, a.name: world.record(t.domain, e, rid)[a.name]}
    if act == "find_by_label":
        want = args[a.name].strip().lower()
        if not want:
            raise InvalidValueError(f"{a.noun} must not be empty")
        return [_brief(t, rid, rec) for rid, rec in table.items() if want in rec[a.name].lower()]
    if act == "search":
        hits = []
        for rid, rec in table.items():
            used = []
            for b in e.attrs:
                key = n.get(f"filter:{b.name}")
                if key in args:
                    used.append(b.name)
                    if not _matches(rec, b, args[key]):
                        break
            else:
                hits.append((rid, rec, tuple(used)))
        sort = args.get(n.get("sort", ""))
        if sort:
            hits.sort(key=lambda h: h[1][sort], reverse=bool(args.get(n["descending"], False)))
        limit = args.get(n["limit"], t.spec["function"]["parameters"]["properties"][n["limit"]]["default"])
        return [_brief(t, rid, rec, used + ((sort,) if sort else ())) for rid, rec, used in hits[:limit]]
    if act == "list_by":
        limit = args.get(n["limit"], 20)
        hits = [(rid, rec) for rid, rec in table.items() if _matches(rec, a, args[a.name], exact_text=True)]
        return [_brief(t, rid, rec) for rid, rec in hits[:limit]]
    if act == "list_for_ref":
        target = args[a.name]
        world.record(t.domain, _entity(t.domain, a.ref), target)
        return [_brief(t, rid, rec) for rid, rec in table.items() if rec[a.name] == target]
    if act == "top_by":
        highest = args.get(n["order"], "highest") == "highest"
        ranked = sorted(table.items(), key=lambda kv: (-kv[1][a.name] if highest else kv[1][a.name], kv[0]))
        return [_brief(t, rid, rec, (a.name,)) for rid, rec in ranked[:args.get("count", 3)]]
    if act == "count":
        filters = [b for b in e.attrs if b.name in args]
        return {"count": sum(all(rec[b.name] == args[b.name] for b in filters) for rec in table.values())}
    if act == "breakdown":
        counts = {v: sum(rec[a.name] == v for rec in table.values()) for v in a.values}
        return {v: c for v, c in counts.items() if c or args.get("include_empty", False)}
    if act == "stats":
        filters = [b for b in e.attrs if b.name in args]
        values = [rec[a.name] for rec in table.values() if all(rec[b.name] == args[b.name] for b in filters)]
        if not values:
            return {"count": 0}
        return {"count": len(values), "total": _round(sum(values)), "mean": _round(sum(values) / len(values)),
                "min": min(values), "max": max(values)}
    if act == "batch_get":
        ids = args[n["ids"]]
        missing = [i for i in ids if i not in table]
        if missing:
            raise NotFoundError(f"no {e.noun} with ID {', '.join(missing)}")
        return [_full(t, rid, table[rid]) for rid in ids]
    if act == "history":
        rid = args[n["id"]]
        world.record(t.domain, e, rid)
        since = _date(args["since"], "since").isoformat() if "since" in args else ""
        return [h for h in world.history(t.domain, e).get(rid, []) if h["date"] >= since]
    if act == "create":
        rec = {}
        props = t.spec["function"]["parameters"]["properties"]
        for b in e.attrs:
            if b.name in args:
                _check_value(world, t, b, args[b.name])
                rec[b.name] = args[b.name]
            elif "default" in props.get(b.name, {}):
                rec[b.name] = props[b.name]["default"]
            else:
                rec[b.name] = _blank(b)
        number = max(int(rid.rsplit("-", 1)[1]) for rid in table) + 1 if table else 1001
        rid = _number(e.prefix, number)
        table[rid] = rec
        world.history(t.domain, e)[rid] = [{"date": TODAY, "field": "*", "from": None, "to": "created"}]
        return _full(t, rid, rec)
    if act == "update":
        rid = args[n["id"]]
        changes = args[n["changes"]]
        rec = world.record(t.domain, e, rid)
        if _is_closed(e, rec) and e.remove[2] not in changes:
            raise ConflictError(f"{e.noun} {rid} is {e.remove[1]} and cannot be changed")
        for key, value in changes.items():
            _check_value(world, t, e.attr(key), value)
        for key, value in changes.items():
            _set(world, t, rid, rec, key, value)
        return {**_full(t, rid, rec), "notified": bool(args.get(n["notify"], False))}
    if act == "set_attr":
        rid = args[n["id"]]
        rec = world.record(t.domain, e, rid) if a.name == e.remove[2] else _open_record(world, t, rid)
        _check_value(world, t, a, args[a.name])
        before = _set(world, t, rid, rec, a.name, args[a.name])
        return {n["id"]: rid, a.name: rec[a.name], f"previous_{a.name}": before}
    if act == "toggle":
        rid = args[n["id"]]
        rec = _open_record(world, t, rid)
        _set(world, t, rid, rec, a.name, not rec[a.name])
        return {n["id"]: rid, a.name: rec[a.name]}
    if act == "bulk_set":
        ids = args[n["ids"]]
        missing = [i for i in ids if i not in table]
        if missing:
            raise NotFoundError(f"no {e.noun} with ID {', '.join(missing)}; nothing was changed")
        if a.name != e.remove[2]:
            closed = [i for i in ids if _is_closed(e, table[i])]
            if closed:
                raise ConflictError(f"{e.noun} {', '.join(closed)} is {e.remove[1]}; nothing was changed")
        for rid in ids:
            _set(world, t, rid, table[rid], a.name, args[a.name])
        return {"updated": list(ids), a.name: args[a.name]}
    if act == "remove":
        rid = args[n["id"]]
        rec = world.record(t.domain, e, rid)
        verb, past, status, terminal = e.remove
        if status:
            if rec[status] == terminal:
                raise ConflictError(f"{e.noun} {rid} is already {past}")
            _set(world, t, rid, rec, status, terminal)
            return {n["id"]: rid, status: terminal}
        del table[rid]
        return {n["id"]: rid, "deleted": True}
    if act == "restore":
        rid = args[n["id"]]
        rec = world.record(t.domain, e, rid)
        if not _is_closed(e, rec):
            raise ConflictError(f"{e.noun} {rid} is not {e.remove[1]} (its {a.noun} is {rec[a.name]})")
        _set(world, t, rid, rec, a.name, a.values[0])
        return {n["id"]: rid, a.name: a.values[0]}
    if act == "adjust":
        rid = args[n["id"]]
        rec = _open_record(world, t, rid)
        amount = args[n["amount"]]
        new = rec[a.name] + (amount if args["direction"] == "increase" else -amount)
        new = new if a.kind == "int" else _round(new)
        if not a.lo <= new <= a.hi:
            raise ConflictError(f"that would make the {a.noun} of {e.noun} {rid} {new:g}, outside {a.lo:g} to "
                                f"{a.hi:g}")
        before = _set(world, t, rid, rec, a.name, new)
        return {n["id"]: rid, a.name: new, f"previous_{a.name}": before}
    raise ValueError(f"unknown action {act!r}")


class WorldExecutor:
    """``call(name, args) -> ToolResult`` like :class:`tooljudge.data_prep.sandbox.Sandbox`, over a world.

    ``registry`` holds every generated tool (spec, domain as group) so the row builders and argument checks
    work as for the built-in tools.
    """

    def __init__(self, catalog: ToolCatalog, world: World):
        self.catalog, self.world = catalog, world
        self.registry = ToolRegistry()
        for name, t in catalog.tools.items():
            self.registry.tools[name] = Tool(name, functools.partial(self._run, name), t.spec, t.domain.name)
        self.registry.version += 1

    def __enter__(self) -> WorldExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (kept for the sandbox's interface)."""

    def reset(self) -> None:
        self.world.reset()

    def _run(self, name: str, **args: Any) -> Any:
        return run(self.world, self.catalog[name], args)

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Schema check first (unknown tool, types, ranges, unknown keys), then the world's answer."""
        if name not in self.catalog.tools:
            return ToolResult(name, arguments, "unknown_tool", error=f"unknown tool {name!r}")
        problems = argument_problems(self.catalog[name].spec, arguments)
        if problems:
            return ToolResult(name, arguments, "invalid_arguments", error="; ".join(problems), problems=problems)
        try:
            value = self._run(name, **arguments)
        except WorldError as exc:
            return ToolResult(name, arguments, "tool_error", error=f"{exc.kind}: {exc}")
        return ToolResult(name, arguments, "ok", value=value)
