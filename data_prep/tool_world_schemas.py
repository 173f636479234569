"""Tool schemas generated from the domain specs: every entity becomes a family of realistic tools.

Why: thousands of distinct, plausible tools (not random gibberish) arise combinatorially from a few dozen
entity specs: each entity gets a getter, one getter per attribute, a search with typed filters (enums, numeric
ranges as nested objects, booleans, a sort and a limit with defaults), list-by-field, count, create, update (a
nested ``changes`` object), one setter per mutable attribute, a remove verb (cancel, close, retire, ...),
statistics per numeric attribute, a batch getter (an array of IDs) and increase/decrease adjusters. Siblings of
one family are near misses of each other: the same entity with another action (``get_ticket`` /
``get_ticket_priority`` / ``set_ticket_priority``) or the same action on another entity (``set_agent_shift``).

Determinism: names and parameters are fixed by the specs; the ``seed`` picks each tool's description wording,
some parameter names (``limit`` / ``max_results`` / ``page_size``) and defaults, from a per-tool RNG, so a tool
looks the same whatever else is generated. ``provides`` lists what a tool can do (``ticket:read:priority``),
which is how generators know that a near-miss tool really cannot answer a request.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from tooljudge.data_prep.tool_world_domains import DOMAINS, Attr, Domain, Entity

ACTIONS = ("get", "get_attr", "find_by_label", "search", "list_by", "top_by", "count", "breakdown", "create",
           "update", "set_attr", "toggle", "bulk_set", "remove", "restore", "stats", "batch_get", "adjust", "history",
           "list_for_ref")


@dataclass(frozen=True)
class WorldTool:
    """One generated tool. ``names`` maps roles (``id``, ``limit``, ``changes``...) to this tool's parameter
    names; ``provides`` the capabilities it has (see the module docstring)."""

    name: str
    domain: Domain
    entity: Entity
    action: str
    attr: Attr | None
    spec: dict
    names: dict[str, str] = field(default_factory=dict)
    provides: frozenset[str] = frozenset()

    @property
    def family(self) -> str:
        """Near-miss family: tools of one domain share it."""
        return self.domain.name


def snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _with_unit(a: Attr) -> str:
    return f"{a.noun} in {a.unit}" if a.unit and a.unit not in ("", "points") else a.noun


def attr_schema(a: Attr, description: str) -> dict:
    """JSON schema of one attribute value (a parameter that sets or matches it)."""
    if a.kind == "enum":
        return {"type": "string", "enum": list(a.values), "description": description}
    if a.kind == "int":
        return {"type": "integer", "minimum": int(a.lo), "maximum": int(a.hi), "description": description}
    if a.kind == "num":
        return {"type": "number", "minimum": a.lo, "maximum": a.hi, "description": description}
    if a.kind == "bool":
        return {"type": "boolean", "description": description}
    if a.kind == "date":
        return {"type": "string", "format": "date", "description": description + " (YYYY-MM-DD)"}
    if a.kind == "tags":
        return {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "description": description}
    return {"type": "string", "description": description}


def _range_text(a: Attr) -> str:
    return f", {_fmt(a.lo)} to {_fmt(a.hi)}" if a.kind in ("int", "num") else ""


def _id_param(e: Entity, domain: Domain) -> tuple[str, dict]:
    return f"{e.name}_id", {"type": "string",
                            "description": f"ID of the {e.noun} in the {domain.title}, like {e.prefix}-1234."}


def _tool(name: str, description: str, props: dict, required: list[str]) -> dict:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ValueError(f"generated tool name {name!r} is not a snake_case identifier of at most 64 characters")
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": props, "required": required}}}


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return rng.choice(options)


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def entity_tools(domain: Domain, e: Entity, seed: int) -> list[WorldTool]:
    """The tool family of one entity (see the module docstring for the actions)."""
    out: list[WorldTool] = []
    title, noun, plural = domain.title, e.noun, e.plural
    idp, id_schema = _id_param(e, domain)
    label = e.attr(e.label)
    mutable = [a for a in e.attrs if a.mutable]
    filters = [a for a in e.attrs if a.filter]
    numeric = [a for a in e.attrs if a.kind in ("int", "num")]
    enums = [a for a in e.attrs if a.kind == "enum" and a.filter]
    key = e.name
    cap = f"{domain.name}.{e.name}"  # capability keys are domain-qualified
    all_read = {f"{cap}:read:*"} | {f"{cap}:read:{a.name}" for a in e.attrs}

    def add(action: str, short: str, description: str, props: dict, required: list[str], provides: set[str],
            attr: Attr | None = None, names: dict | None = None) -> None:
        name = f"{domain.prefix}_{short}"
        out.append(WorldTool(name, domain, e, action, attr, _tool(name, description, props, required),
                             {"id": idp, **(names or {})}, frozenset(provides)))

    def rng_for(short: str) -> random.Random:
        return random.Random(f"{seed}:{domain.prefix}_{short}")

    # get
    r = rng_for(f"get_{key}")
    fields_name = _pick(r, ("fields", "include_fields"))
    add("get", f"get_{key}", _pick(r, (
        f"Look up one {noun} in the {title} by its ID and return all of its fields.",
        f"Fetch the full record of a {noun} from the {title}, given its ID.",
        f"Retrieve a single {noun} by ID from the {title}, with every field.")),
        {idp: id_schema, fields_name: {"type": "array", "items": {"type": "string", "enum": [a.name for a in e.attrs]},
                                       "description": "Only return these fields (default: all fields)."}},
        [idp], all_read, names={"fields": fields_name})
    # one getter per attribute
    for a in e.attrs:
        r = rng_for(f"get_{key}_{a.name}")
        add("get_attr", f"get_{key}_{a.name}", _pick(r, (
            f"Return only the {_with_unit(a)} of one {noun}, given the {noun}'s ID.",
            f"Get the current {_with_unit(a)} of a {noun} in the {title}.",
            f"Look up which {a.noun} a {noun} has, by {noun} ID.")),
            {idp: id_schema}, [idp], {f"{cap}:read:{a.name}"}, attr=a)
    # search
    if filters:
        r = rng_for(f"search_{snake(plural)}")
        props: dict = {}
        names: dict[str, str] = {}
        for a in filters:
            if a.kind in ("int", "num"):
                pname = f"{a.name}_range"
                bound = {"type": "integer" if a.kind == "int" else "number", "minimum": a.lo, "maximum": a.hi}
                props[pname] = {"type": "object", "description": f"Only {plural} whose {_with_unit(a)} lies in this "
                                                                 f"inclusive range; give min, max or both.",
                                "properties": {"min": {**bound, "description": f"Lowest {a.noun}."},
                                               "max": {**bound, "description": f"Highest {a.noun}."}},
                                "additionalProperties": False, "minProperties": 1}
            elif a.kind == "text":
                pname = f"{a.name}_contains"
                props[pname] = {"type": "string", "description": f"Only {plural} whose {a.noun} contains this text "
                                                                 f"(case-insensitive)."}
            else:
                pname = a.name
                props[pname] = attr_schema(a, f"Only {plural} with this {a.noun}.")
            names[f"filter:{a.name}"] = pname
        limit_name = _pick(r, ("limit", "max_results", "page_size"))
        limit_default = _pick(r, ("5", "10"))
        props[limit_name] = {"type": "integer", "minimum": 1, "maximum": 25, "default": int(limit_default),
                             "description": f"Maximum number of {plural} to return."}
        names["limit"] = limit_name
        if numeric:
            props["sort_by"] = {"type": "string", "enum": [a.name for a in numeric],
                                "description": "Field to sort the results by (default: ID order)."}
            desc_name = _pick(r, ("descending", "sort_descending"))
            props[desc_name] = {"type": "boolean", "default": False,
                                "description": "Sort from the highest value down instead of the lowest up."}
            names.update(sort="sort_by", descending=desc_name)
        add("search", f"search_{snake(plural)}", _pick(r, (
            f"Search the {plural} of the {title} by {_listing([a.noun for a in filters])}; returns the matching "
            f"IDs with their {label.noun} and the fields used to filter or sort.",
            f"Find {plural} matching optional filters ({_listing([a.noun for a in filters])}) in the {title}.")),
            props, [], {f"{cap}:find", f"{cap}:count"} | {f"{cap}:stats:{a.name}" for a in numeric}
            | {f"{cap}:find:{a.name}" for a in filters} | {f"{cap}:rank:{a.name}" for a in numeric}
            | {f"{cap}:breakdown:{a.name}" for a in enums}
            # an unfiltered search sorted by a number lists every record's label and that number
            | {f"{cap}:read:{label.name}"} | {f"{cap}:read:{a.name}" for a in numeric}, names=names)
    # list by one field
    for a in filters:
        if a.kind in ("int", "num", "date"):
            continue
        short = f"list_{snake(plural)}_by_{a.name}"
        r = rng_for(short)
        limit_name = _pick(r, ("limit", "max_results"))
        add("list_by", short, _pick(r, (
            f"List the {plural} whose {a.noun} equals the given value, as IDs with their {label.noun}.",
            f"Return every {noun} in the {title} with a given {a.noun}.")),
            {a.name: attr_schema(a, f"The {a.noun} to match" + (" (exact, case-insensitive)." if a.kind == "text"
                                                              else ".")),
             limit_name: {"type": "integer", "minimum": 1, "maximum": 50, "default": 20,
                          "description": f"Maximum number of {plural} to list."}},
            [a.name], {f"{cap}:find", f"{cap}:count", f"{cap}:find:{a.name}"}, attr=a, names={"limit": limit_name})
    # count
    r = rng_for(f"count_{snake(plural)}")
    add("count", f"count_{snake(plural)}", _pick(r, (
        f"Count the {plural} in the {title}" + (f", optionally only those with a given "
                                                f"{_listing([a.noun for a in enums])}." if enums else "."),
        f"How many {plural} the {title} holds" + (", with optional filters." if enums else "."))),
        {a.name: attr_schema(a, f"Count only {plural} with this {a.noun}.") for a in enums}, [],
        {f"{cap}:count"} | {f"{cap}:breakdown:{a.name}" for a in enums})
    # create
    r = rng_for(f"create_{key}")
    props = {}
    for a in e.attrs:
        if a.name in e.create or a.mutable:
            schema = attr_schema(a, f"{a.noun[:1].upper() + a.noun[1:]} of the new {noun}"
                                    f"{' in ' + a.unit if a.unit and a.kind in ('int', 'num') else ''}.")
            if a.name not in e.create:
                if a.kind == "bool":
                    schema["default"] = False
                elif a.kind == "enum":
                    schema["default"] = a.values[0]
            props[a.name] = schema
    add("create", f"create_{key}", _pick(r, (
        f"Create a new {noun} in the {title} and return it with its new ID.",
        f"Add a {noun} to the {title}; fields left out take their defaults.")),
        props, list(e.create), {f"{cap}:create"})
    # update (a nested object of changes)
    if mutable:
        r = rng_for(f"update_{key}")
        changes = _pick(r, ("changes", "updates", "fields_to_update"))
        notify = _pick(r, ("notify", "send_notification"))
        add("update", f"update_{key}", _pick(r, (
            f"Change one or more fields of an existing {noun} ({_listing([a.noun for a in mutable])}); fields "
            f"left out keep their values.",
            f"Update a {noun} in the {title}: pass only the fields to change.")),
            {idp: id_schema,
             changes: {"type": "object", "description": "The fields to change and their new values.",
                       "properties": {a.name: attr_schema(a, f"New {_with_unit(a)}{_range_text(a)}.") for a in mutable},
                       "additionalProperties": False, "minProperties": 1},
             notify: {"type": "boolean", "default": False,
                      "description": f"Tell the people following this {noun} about the change."}},
            [idp, changes], {f"{cap}:change:{a.name}" for a in mutable}
            | ({f"{cap}:remove"} if e.remove[2] in {a.name for a in mutable} else set()),
            names={"changes": changes, "notify": notify})
    # one setter per mutable attribute
    for a in mutable:
        r = rng_for(f"set_{key}_{a.name}")
        provides = {f"{cap}:change:{a.name}"} | ({f"{cap}:remove"} if a.name == e.remove[2] else set())
        add("set_attr", f"set_{key}_{a.name}", _pick(r, (
            f"Set the {_with_unit(a)} of one {noun} and return the previous and the new value.",
            f"Change a {noun}'s {a.noun} in the {title}.")),
            {idp: id_schema, a.name: attr_schema(a, f"New {_with_unit(a)}{_range_text(a)}.")}, [idp, a.name],
            provides, attr=a)
    # remove
    verb, past, status_attr, terminal = e.remove
    r = rng_for(f"{snake(verb)}_{key}")
    reason = _pick(r, ("reason", "note", "comment"))
    if status_attr:
        sa = e.attr(status_attr)
        desc = _pick(r, (f"{verb.capitalize()} a {noun}: its {sa.noun} becomes '{terminal}' and the record is kept.",
                         f"Mark a {noun} in the {title} as {past}."))
        provides = {f"{cap}:remove", f"{cap}:change:{status_attr}"}
    else:
        desc = _pick(r, (f"Delete a {noun} from the {title} permanently.",
                         f"Remove a {noun} and all of its fields from the {title}."))
        provides = {f"{cap}:remove"}
    add("remove", f"{snake(verb)}_{key}", desc,
        {idp: id_schema, reason: {"type": "string", "description": f"Why the {noun} is {past} (kept in the log)."}},
        [idp], provides, names={"reason": reason})
    # statistics per numeric filter attribute
    for a in numeric:
        if not a.filter:
            continue
        short = f"get_{key}_{a.name}_stats"
        r = rng_for(short)
        props = {b.name: attr_schema(b, f"Only {plural} with this {b.noun}.") for b in enums[:1]}
        add("stats", short, _pick(r, (
            f"Summary statistics (count, total, mean, min, max) of the {_with_unit(a)} over the {plural} of the "
            f"{title}" + (f", optionally for one {enums[0].noun}." if enums else "."),
            f"Aggregate the {a.noun} of {plural}: how many, the sum, the average and the extremes.")),
            props, [], {f"{cap}:stats:{a.name}", f"{cap}:count"}, attr=a)
    # batch get
    r = rng_for(f"get_{snake(plural)}")
    ids_name = _pick(r, ("ids", f"{key}_ids"))
    add("batch_get", f"get_{snake(plural)}_by_ids", _pick(r, (
        f"Fetch several {plural} at once by their IDs (up to 10); fails if any ID is unknown.",
        f"Batch lookup of {plural} in the {title} by ID.")),
        {ids_name: {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10, "uniqueItems": True,
                    "description": f"IDs of the {plural}, like {e.prefix}-1234."}},
        [ids_name], all_read, names={"ids": ids_name})
    # find by name/label
    short = f"find_{key}_by_{label.name}"
    r = rng_for(short)
    add("find_by_label", short, _pick(r, (
        f"Find the IDs of the {plural} whose {label.noun} matches the given text (case-insensitive, partial "
        f"matches count).",
        f"Look up a {noun}'s ID from its {label.noun}.")),
        {label.name: {"type": "string", "description": f"The {label.noun}, or part of it."}}, [label.name],
        {f"{cap}:find:{label.name}"}, attr=label)
    # top / bottom N by a number
    for a in numeric:
        short = f"rank_{snake(plural)}_by_{a.name}"
        r = rng_for(short)
        order = _pick(r, ("order", "direction"))
        add("top_by", short, _pick(r, (
            f"Rank the {plural} of the {title} by {_with_unit(a)} and return the first few, highest or lowest "
            f"first.",
            f"The {plural} with the largest or smallest {a.noun}, with their IDs and {label.noun}.")),
            {order: {"type": "string", "enum": ["highest", "lowest"], "default": "highest",
                     "description": f"Start from the highest or the lowest {a.noun}."},
             "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3,
                       "description": f"How many {plural} to return."}},
            # with count 10 a ranking lists every record (8 or fewer) with its label and this number
            [], {f"{cap}:rank:{a.name}", f"{cap}:find", f"{cap}:read:{a.name}", f"{cap}:read:{label.name}"}, attr=a,
            names={"order": order, "count": "count"})
    # counts per enum value
    for a in enums:
        short = f"count_{snake(plural)}_by_{a.name}"
        r = rng_for(short)
        add("breakdown", short, _pick(r, (
            f"Break the {plural} of the {title} down by {a.noun}: how many there are for each value.",
            f"Number of {plural} per {a.noun}.")),
            {"include_empty": {"type": "boolean", "default": False,
                               "description": f"Also list {a.noun} values that no {noun} has (count 0)."}},
            [], {f"{cap}:breakdown:{a.name}", f"{cap}:count"}, attr=a)
    # bulk set of a mutable enum
    for a in mutable:
        if a.kind != "enum":
            continue
        short = f"bulk_set_{key}_{a.name}"
        r = rng_for(short)
        ids_name = _pick(r, (f"{key}_ids", "ids"))
        add("bulk_set", short, _pick(r, (
            f"Set the same {a.noun} on several {plural} at once (up to 20); nothing changes if any ID is unknown.",
            f"Bulk change the {a.noun} of a list of {plural}.")),
            {ids_name: {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20,
                        "uniqueItems": True, "description": f"IDs of the {plural} to change."},
             a.name: attr_schema(a, f"New {a.noun} for all of them.")},
            [ids_name, a.name], {f"{cap}:change:{a.name}"} | ({f"{cap}:remove"} if a.name == e.remove[2] else set()),
            attr=a, names={"ids": ids_name})
    # toggles for mutable booleans
    for a in mutable:
        if a.kind != "bool":
            continue
        short = f"toggle_{key}_{a.name}"
        r = rng_for(short)
        add("toggle", short, _pick(r, (
            f"Flip the '{a.noun}' flag of a {noun} (true becomes false and back) and return the new value.",
            f"Switch a {noun}'s {a.noun} setting to the opposite of what it is now.")),
            {idp: id_schema}, [idp], {f"{cap}:change:{a.name}"}, attr=a)
    # undo a soft removal
    if e.remove[2]:
        sa = e.attr(e.remove[2])
        short = f"restore_{key}"
        r = rng_for(short)
        add("restore", short, _pick(r, (
            f"Undo a {noun} that was {e.remove[1]}: its {sa.noun} goes back to '{sa.values[0]}'.",
            f"Reinstate a {e.remove[1]} {noun} in the {title}.")),
            {idp: id_schema}, [idp], {f"{cap}:restore", f"{cap}:change:{sa.name}"}, attr=sa)
    # records of this entity that point to another one
    for a in e.attrs:
        if a.kind != "ref":
            continue
        target = next(x for x in domain.entities if x.name == a.ref)
        same_target = [b for b in e.attrs if b.kind == "ref" and b.ref == a.ref]
        short = f"list_{snake(plural)}_for_{target.name if len(same_target) == 1 else a.name.removesuffix('_id')}"
        r = rng_for(short)
        add("list_for_ref", short, _pick(r, (
            f"List the {plural} linked to one {target.noun} (by its {a.noun}), as IDs with their {label.noun}.",
            f"All {plural} that belong to a given {target.noun}.")),
            {a.name: {"type": "string", "description": f"ID of the {target.noun}, like {target.prefix}-1234."}},
            [a.name], {f"{cap}:find", f"{cap}:find:{a.name}", f"{cap}:count"}, attr=a)
    # change history
    short = f"get_{key}_change_log"
    r = rng_for(short)
    add("history", short, _pick(r, (
        f"The change log of one {noun}: which field changed, from what, to what and when, newest last.",
        f"Audit trail of a {noun} in the {title}.")),
        {idp: id_schema, "since": {"type": "string", "format": "date",
                                   "description": "Only changes on or after this date (YYYY-MM-DD)."}},
        [idp], {f"{cap}:history"})
    # adjusters for mutable numbers
    for a in mutable:
        if a.kind not in ("int", "num"):
            continue
        short = f"adjust_{key}_{a.name}"
        r = rng_for(short)
        amount = _pick(r, ("amount", "by"))
        add("adjust", short, _pick(r, (
            f"Increase or decrease the {_with_unit(a)} of a {noun} by an amount; fails if the result would leave "
            f"{_fmt(a.lo)} to {_fmt(a.hi)}.",
            f"Raise or lower a {noun}'s {a.noun} relative to its current value.")),
            {idp: id_schema,
             "direction": {"type": "string", "enum": ["increase", "decrease"], "description": "Which way to change it."},
             amount: {"type": "integer" if a.kind == "int" else "number", "exclusiveMinimum": 0,
                      "description": f"How much to change the {a.noun} by (positive)."}},
            [idp, "direction", amount], {f"{cap}:change:{a.name}"}, attr=a, names={"amount": amount})
    return out


@dataclass(frozen=True)
class ToolCatalog:
    """All generated tools, by name, plus their domains."""

    tools: dict[str, WorldTool]
    domains: tuple[Domain, ...]
    seed: int

    def __len__(self) -> int:
        return len(self.tools)

    def __getitem__(self, name: str) -> WorldTool:
        return self.tools[name]

    def in_domain(self, domain: str) -> list[WorldTool]:
        return [t for t in self.tools.values() if t.domain.name == domain]


def build_catalog(seed: int = 0, domains: tuple[Domain, ...] = DOMAINS) -> ToolCatalog:
    """Every tool of every entity of ``domains``; names must come out unique (a clash is a spec bug)."""
    tools: dict[str, WorldTool] = {}
    entity_names: dict[str, str] = {}
    for d in domains:
        for e in d.entities:
            if entity_names.setdefault(f"{d.name}.{e.name}", d.name) != d.name:
                raise ValueError(f"entity {e.name} defined twice in {d.name}")
            for a in e.attrs:
                if a.kind == "ref" and a.ref not in {x.name for x in d.entities}:
                    raise ValueError(f"{d.name}.{e.name}.{a.name} refers to {a.ref!r}, not an entity of {d.name}")
            for t in entity_tools(d, e, seed):
                if t.name in tools:
                    raise ValueError(f"tool name {t.name} generated twice")
                tools[t.name] = t
    return ToolCatalog(tools, domains, seed)
