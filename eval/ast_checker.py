"""Function-call correctness by the Berkeley Function Calling Leaderboard's AST rules (reimplemented from the
published rules, not copied).

Why these rules: they are the public standard, so a score here can be read beside BFCL's leaderboard. Rules:

* categories ``simple`` / ``multiple``: exactly one call; ``parallel`` / ``parallel_multiple``: as many calls as
  the answer key, matched in any order; ``irrelevance``: correct iff no call; ``relevance``: correct iff at
  least one call. ``live_*`` categories use the rule of their base category.
* per call: the name must match; every required parameter present; no parameter outside both the schema and
  the answer key; an answer-key parameter left out must have ``""`` among its acceptable values;
* types are exact Python types of the schema type (``integer`` -> int, ``float``/``number`` -> float,
  ``string``/``any`` -> str, ``boolean`` -> bool, ``array``/``tuple`` -> list, ``dict``/``object`` -> dict):
  an int is accepted for a float (never a float for an int, a bool for an int, or "3" for an int); a value
  of the answer key's own type is accepted when that differs from the schema type (BFCL writes variable names
  as strings); array items are checked against ``items.type`` the same way;
* values: strings compared after BFCL's normalisation (lower case, ``'`` -> ``"``, spaces and ``,./-_*^``
  removed); lists element by element in order; dicts key by key, recursively (a key of the answer left out
  needs ``""``); everything else by ``==`` against the acceptable values.

Two deliberate differences, both only ever accept what a perfect matching accepts: parallel calls are
matched by maximum bipartite matching rather than BFCL's greedy first-fit, and int items are accepted in
float arrays (the int-for-float rule applied at every depth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TYPE_MAP: dict[str, type] = {
    "string": str,
    "any": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
}

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "relevance")
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass
class Verdict:
    """``error_type`` is a stable class (``wrong_count``, ``wrong_name``, ``missing_required``,
    ``unexpected_param``, ``missing_param``, ``type_error``, ``value_error``, ``called_on_irrelevance``,
    ``no_call``) and ``reason`` the human-readable why."""

    correct: bool
    reason: str = ""
    error_type: str = ""

    def to_dict(self) -> dict:
        return {"correct": self.correct, "reason": self.reason, "error_type": self.error_type}


class _Mismatch(Exception):
    def __init__(self, error_type: str, reason: str):
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


def standardize_string(s: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, single to double quotes."""
    return _STRIP.sub("", s).lower().replace("'", '"')


def base_category(category: str) -> str:
    """``live_parallel`` -> ``parallel``; unknown categories raise (a typo must not silently score)."""
    base = category[len("live_") :] if category.startswith("live_") else category
    if base not in CATEGORIES:
        raise ValueError(f"unknown function-call category {category!r}; known: {CATEGORIES} (and live_*)")
    return base


def normalize_tool(tool: dict) -> dict:
    """OpenAI ``{"type": "function", "function": {...}}`` or BFCL ``{"name", "parameters"}`` -> the inner doc."""
    if isinstance(tool.get("function"), dict):
        return tool["function"]
    return tool


def tools_by_name(tools: list[dict] | None) -> dict[str, dict]:
    return {normalize_tool(t)["name"]: normalize_tool(t) for t in tools or []}


# --------------------------------------------------------------------------------------------- type rules


def _type_name(v: Any) -> str:
    return type(v).__name__


def _answer_type(options: list) -> type | None:
    return next((type(o) for o in options if not _is_blank(o)), None)


def _coerce_type(param: str, value: Any, schema: dict, options: list) -> Any:
    """Return the value to compare (int -> float for float params) or raise a type mismatch."""
    tname = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(tname, list):  # JSON-schema unions: accept any member type
        for t in tname:
            try:
                return _coerce_type(param, value, {**schema, "type": t}, options)
            except _Mismatch:
                continue
        raise _Mismatch("type_error", f"{param!r}: {_type_name(value)} is none of {tname}")
    expected = TYPE_MAP.get(tname) if isinstance(tname, str) else None
    if expected is None:
        return value  # no (known) type declared: only the value rule applies
    if expected is float and type(value) is int:
        return float(value)
    if type(value) is expected:
        if expected is list:
            _check_items(param, value, schema.get("items") or {}, options)
        return value
    answer_type = _answer_type(options)
    if answer_type is not None and answer_type is not expected and type(value) is answer_type:
        return value  # BFCL: the answer key uses another type (a variable name as a string)
    raise _Mismatch("type_error", f"{param!r}: expected {tname}, got {_type_name(value)} {value!r}")


def _check_items(param: str, value: list, item_schema: dict, options: list) -> None:
    tname = item_schema.get("type") if isinstance(item_schema, dict) else None
    expected = TYPE_MAP.get(tname) if isinstance(tname, str) else None
    if expected is None:
        return
    answer_item_types = {type(x) for o in options if isinstance(o, list) for x in o}
    for i, item in enumerate(value):
        if type(item) is expected or (expected is float and type(item) is int):
            if expected is list:
                _check_items(f"{param}[{i}]", item, item_schema.get("items") or {}, [])
            continue
        if type(item) in answer_item_types and expected not in answer_item_types:
            continue
        raise _Mismatch(
            "type_error", f"{param!r}[{i}]: expected {tname} items, got {_type_name(item)} {item!r}"
        )


# --------------------------------------------------------------------------------------------- value rules


def _std(v: Any) -> Any:
    """Normalise strings anywhere inside lists (dicts are compared key by key instead)."""
    if isinstance(v, str):
        return standardize_string(v)
    if isinstance(v, list):
        return [_std(x) for x in v]
    return v


def _value_matches(value: Any, option: Any) -> bool:
    if isinstance(option, dict):
        return isinstance(value, dict) and _dict_matches(value, option)
    if isinstance(value, dict):
        return False
    if isinstance(value, list) and isinstance(option, list):
        if len(value) != len(option):
            return False
        if any(isinstance(o, dict) for o in option):  # list of dicts: element-wise dict rule
            return all(_value_matches(v, o) for v, o in zip(value, option, strict=True))
        return _std(value) == _std(option)
    if isinstance(value, str) and isinstance(option, str):
        return standardize_string(value) == standardize_string(option)
    if isinstance(value, bool) != isinstance(option, bool):
        return False  # True == 1 in Python; not here
    return type(value) is not str and type(option) is not str and value == option


def _as_list(options: Any) -> list:
    return options if isinstance(options, list) else [options]


def _is_blank(o: Any) -> bool:
    return isinstance(o, str) and o == ""


def _accepts(value: Any, options: list) -> bool:
    """One value against a list of acceptable values (``""`` among them = may be omitted or given empty)."""
    if _is_blank(value) and any(_is_blank(o) for o in options):
        return True
    return any(_value_matches(value, o) for o in options if not _is_blank(o))


def _dict_matches(value: dict, answer: dict) -> bool:
    """Key by key: every given key known to the answer with an acceptable value; left-out keys need ``""``."""
    for key, v in value.items():
        if key not in answer or not _accepts(v, _as_list(answer[key])):
            return False
    return all(key in value or any(_is_blank(o) for o in _as_list(opts)) for key, opts in answer.items())


def _check_value(param: str, value: Any, options: list) -> None:
    if not _accepts(value, options):
        shown = [o for o in options if not _is_blank(o)]
        raise _Mismatch("value_error", f"{param!r}: {value!r} is not among the acceptable values {shown!r}")


# ------------------------------------------------------------------------------------------- single call


def check_one_call(call: dict, answer: dict, tool: dict | None) -> None:
    """Raise ``_Mismatch`` unless ``call`` satisfies ``answer`` = ``{name: {param: [acceptable values]}}``."""
    (gt_name, gt_params), = answer.items()
    name = call.get("name")
    if name != gt_name:
        raise _Mismatch("wrong_name", f"called {name!r}, expected {gt_name!r}")
    args = call.get("arguments")
    if not isinstance(args, dict):
        raise _Mismatch("type_error", f"arguments of {name!r} are not an object")
    schema = (tool or {}).get("parameters") or {}
    props = schema.get("properties") or {}
    for req in schema.get("required") or []:
        if req not in args:
            raise _Mismatch("missing_required", f"{name}: required parameter {req!r} missing")
    for param, value in args.items():
        if param not in gt_params or (tool is not None and param not in props):
            raise _Mismatch("unexpected_param", f"{name}: unexpected parameter {param!r}")
        options = _as_list(gt_params[param])
        value = _coerce_type(f"{name}.{param}", value, props.get(param) or {}, options)
        _check_value(f"{name}.{param}", value, options)
    for param, options in gt_params.items():
        if param not in args and not any(_is_blank(o) for o in _as_list(options)):
            raise _Mismatch("missing_param", f"{name}: parameter {param!r} left out but the answer needs it")


def _passes(call: dict, answer: dict, tools: dict[str, dict]) -> _Mismatch | None:
    try:
        check_one_call(call, answer, tools.get(next(iter(answer))))
    except _Mismatch as m:
        return m
    return None


def _max_matching(ok: list[list[bool]]) -> int:
    """Size of a maximum bipartite matching (answers x calls), by augmenting paths."""
    n_calls = len(ok[0]) if ok else 0
    owner: list[int] = [-1] * n_calls

    def augment(a: int, seen: list[bool]) -> bool:
        for c in range(n_calls):
            if ok[a][c] and not seen[c]:
                seen[c] = True
                if owner[c] == -1 or augment(owner[c], seen):
                    owner[c] = a
                    return True
        return False

    return sum(augment(a, [False] * n_calls) for a in range(len(ok)))


def check_calls(calls: list[dict], ground_truth: list[dict], category: str, tools: list[dict] | None) -> Verdict:
    """Verdict for one example. ``calls``: parsed ``[{"name", "arguments"}]``; ``ground_truth``: BFCL's
    ``[{name: {param: [values]}}]`` (ignored for irrelevance / relevance)."""
    base = base_category(category)
    calls = list(calls or [])
    if base == "irrelevance":
        if calls:
            names = [c.get("name") for c in calls]
            return Verdict(False, f"made {len(calls)} call(s) {names} where no call is right", "called_on_irrelevance")
        return Verdict(True)
    if base == "relevance":
        return Verdict(True) if calls else Verdict(False, "no call where a call is needed", "no_call")
    gt = list(ground_truth or [])
    if not gt:
        raise ValueError(f"category {category!r} needs a non-empty ground_truth")
    by_name = tools_by_name(tools)
    if base in ("simple", "multiple") and len(gt) != 1:
        raise ValueError(f"category {category!r} expects one answer, the key has {len(gt)}")
    if len(calls) != len(gt):
        kind = "no_call" if not calls else "wrong_count"
        return Verdict(False, f"{len(calls)} call(s), expected {len(gt)}", kind)
    if len(gt) == 1:
        m = _passes(calls[0], gt[0], by_name)
        return Verdict(True) if m is None else Verdict(False, m.reason, m.error_type)
    results = [[_passes(c, a, by_name) for c in calls] for a in gt]
    ok = [[r is None for r in row] for row in results]
    if _max_matching(ok) == len(gt):
        return Verdict(True)
    # Explain the first answer that no call satisfies (or the conflict) with its closest failure.
    # Blame a call of the same name that satisfies no other answer, if there is one.
    used = {k for k in range(len(calls)) if any(ok[a][k] for a in range(len(gt)))}
    for a, row in enumerate(results):
        if not any(r is None for r in row):
            name = next(iter(gt[a]))
            same = [k for k, call in enumerate(calls) if call.get("name") == name]
            k = next((k for k in same if k not in used), same[0] if same else 0)
            m = row[k]
            assert m is not None
            return Verdict(False, f"no call matches answer {a} ({name}); call {k}: {m.reason}", m.error_type)
    return Verdict(False, "calls satisfy the answers only by reusing one call for two answers", "wrong_count")
