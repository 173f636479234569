"""Function-call correctness by the Berkeley Function Calling Leaderboard's AST rules, in two named modes.

``checker="bfcl"`` (the default): BFCL's own verdict on every input. The code below re-implements
``bfcl_eval/eval_checker/ast_tooljudge/core/ast_checker.py`` (Python categories) step by step, quirks included, so a score
here is the leaderboard's; ``tests/test_eval_bfcl_parity.py`` runs BFCL's own checker beside it on every answer
key and thousands of perturbations and asserts identical verdicts and error classes. Its rules, in BFCL's order:

* category: ``*parallel*`` -> as many calls as answers, matched greedily (each answer in key order takes the
  first unused call that passes); ``*multiple*`` -> one call, checked against the doc named by the answer;
  otherwise (simple) one call, checked against the *first function doc*, whose name the call must carry (BFCL's
  simple entries offer one tool; where several are offered, the doc the answer names is used if present);
  ``irrelevance`` correct iff no call, ``relevance`` iff some call;
* per call: the name; every ``required`` parameter present; each given parameter in the schema and the answer
  key; its type (``float`` accepts an int; a value of the answer's own type is a "variable" and is then compared
  exactly; ``array`` items are checked one level deep against each acceptable list in turn, and an acceptable
  value that is not a list, e.g. ``""``, passes them); its value (strings after BFCL's normalisation; lists with
  their top-level strings normalised and ``""`` read as ``[]``; dicts key by key with string values normalised and
  everything else compared with ``==``; lists of dicts element-wise; other values with ``in``, where ``True == 1``);
  last, every answer parameter left out needs ``""`` among its values.

``checker="strict"``: tooljudge's refinements, opt-in: parallel calls matched by maximum bipartite matching;
int items accepted in float arrays; types checked at every depth; strings normalised at every depth (also
"variable" answers); dicts compared recursively; ``[]``/``" "`` never stand for an omitted parameter; bool never
equals int. docs/eval.md lists each difference with an example. A strict verdict that differs from BFCL's
carries BFCL's in ``Verdict.note``.

Error classes (``Verdict.error_type``) are BFCL's own strings (``simple_function_checker:wrong_func_name``,
``type_error:nested``, ``value_error:dict_value``, ``parallel_function_checker_no_order:cannot_find_match``,
``irrelevance_error:decoder_success``, ...); ``Verdict.reason`` names the call, the parameter path, what was given
and what the answer accepts.

Where BFCL's own code raises on an input (a schema without ``required`` or ``items``, a type it does not know, a
list-of-dicts value whose items are not dicts), BFCL gives no verdict; here the missing ``required``/``items`` count
as empty, an unknown type skips the type check, and a non-dict item is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CHECKER_MODES = ("bfcl", "strict")
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
FLOAT_TYPES = ("float", "number")  # BFCL's "float" (our loader writes JSON schema's "number")
NESTED_TYPES = ("array", "tuple")

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "relevance")
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass
class Verdict:
    """``error_type``: BFCL's error class (see the module docstring); ``reason``: the human-readable why;
    ``checker``: the mode that judged; ``note``: in strict mode, BFCL's verdict where it differs."""

    correct: bool
    reason: str = ""
    error_type: str = ""
    checker: str = "bfcl"
    note: str = ""

    def to_dict(self) -> dict:
        return {"correct": self.correct, "reason": self.reason, "error_type": self.error_type,
                "checker": self.checker, "note": self.note}


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


def _type_name(v: Any) -> str:
    return type(v).__name__


def _as_list(options: Any) -> list:
    return options if isinstance(options, list) else [options]


def _is_blank(o: Any) -> bool:
    return isinstance(o, str) and o == ""


def _show(v: Any, limit: int | None = 160) -> str:
    text = repr(v)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _rejected(where: str, value: Any, options: list) -> str:
    shown, accepted = _show(value), _acceptable(options)
    if any(_show(o) == shown or _show(o, 80) == shown for o in options):  # cut off where they differ: show all
        shown, accepted = repr(value), _acceptable(options, limit=None)
    return f"{where}: {shown} is not acceptable; the answer accepts {accepted}"


def _left_out(name: str, param: str, options: list) -> str:
    if not options:
        return f"{name}: parameter {param!r} left out; the answer key lists no acceptable value for it (a key defect)"
    return f"{name}: parameter {param!r} left out; the answer needs {_acceptable(options)}"


def _acceptable(options: list, limit: int | None = 80) -> str:
    """The answer's values as a phrase that never reads as an empty list when only ``""`` is listed."""
    given = [o for o in options if not _is_blank(o)]
    omit = len(given) < len(options)
    if not given:
        return 'only leaving it out (or "")' if omit else "nothing (its list of acceptable values is empty)"
    wide = None if limit is None else 2 * limit
    shown = _show(given[0], wide) if len(given) == 1 else "one of " + " | ".join(
        _show(g, limit) for g in given[:8]) + (f" | ... ({len(given)} values)" if len(given) > 8 else "")
    return shown + (" or leaving it out" if omit else "")


# ============================================================================================ BFCL mode


def _answer_type(options: list) -> type | None:
    """BFCL's ``get_possible_answer_type``: the type of the first acceptable value other than ``""``."""
    for o in options:
        if o != "":
            return type(o)
    return None


def _schema_type(schema: Any) -> tuple[Any, type | None]:
    tname = schema.get("type") if isinstance(schema, dict) else None
    return tname, (TYPE_MAP.get(tname) if isinstance(tname, str) else None)


def _bad_item(value: list, option: list, nested: type) -> int | None:
    """BFCL's one-level item check against one acceptable list: index of the first item that is neither of the
    item type nor of the type of that list's first item, else None."""
    item_answer_type = _answer_type(option)
    for i, item in enumerate(value):
        if type(item) is not nested and not (item_answer_type is not None and type(item) is item_answer_type):
            return i
    return None


def _bfcl_type_check(path: str, value: Any, options: list, tname: str, expected: type,
                     nested_name: Any, nested: type | None) -> bool:
    """BFCL's ``type_checker``: returns ``is_variable`` (the answer's type differs from the schema's, so the
    value is compared exactly) or raises ``type_error:simple`` / ``type_error:nested``."""
    answer_type = _answer_type(options)
    is_variable = answer_type is not None and answer_type is not expected
    nested_reason = ""
    if type(value) is expected:
        if nested is None:
            return is_variable
        first_bad = None
        for opt in options:
            if type(opt) is not list:
                return is_variable  # BFCL: an acceptable value that is not a list passes the item check
            bad = _bad_item(value, opt, nested)
            if bad is None:
                return is_variable
            if first_bad is None:
                first_bad = bad
        if first_bad is not None:
            item = value[first_bad]
            nested_reason = (f"{path}[{first_bad}]: expected {nested_name} items, got {_type_name(item)} "
                             f"{_show(item)} (items are checked one level deep, no int for float)")
        else:
            nested_reason = f"{path}: the answer lists no acceptable list to check the items against"
        if answer_type is not None and type(value) is answer_type:
            raise _Mismatch("type_error:nested", nested_reason)
    elif answer_type is not None and type(value) is answer_type:
        return True  # BFCL: a "variable" written in the answer's own type
    why = f"{path}: expected {tname}, got {_type_name(value)} {_show(value)}"
    raise _Mismatch("type_error:simple", f"{nested_reason}; {why}" if nested_reason else why)


def _std_if_str(v: Any) -> Any:
    return standardize_string(v) if type(v) is str else v


def _bfcl_string(path: str, value: str, options: list) -> None:
    std = [standardize_string(o) for o in options if type(o) is str]
    if standardize_string(value) not in std:
        raise _Mismatch("value_error:string", _rejected(path, value, options) + " (compared "
                                              f"after BFCL's normalisation: {_show(standardize_string(value))} "
                                              f"vs {_show(std)})")


def _bfcl_list(path: str, value: list, options: list) -> None:
    std_value = [_std_if_str(x) for x in value]
    std_opts = []
    for o in options:  # BFCL indexes each acceptable value: "" becomes [], a string its characters
        if isinstance(o, (list, str)) or (isinstance(o, dict) and not o):
            std_opts.append([_std_if_str(x) for x in (o if isinstance(o, (list, str)) else [])])
    if std_value not in std_opts:
        raise _Mismatch("value_error:list/tuple", _rejected(path, value, options) + " (order "
                                                  "matters; only top-level strings are normalised)")


def _bfcl_dict(path: str, value: dict, options: list) -> None:
    """BFCL's ``dict_checker``: one acceptable dict must take every given key (string values normalised, others
    compared with ==) and every key it needs; the error class is that of the last alternative tried."""
    failure = _Mismatch("dict_checker:unclear", f"{path}: got a dict, but the answer lists no dict (only \"\")")
    for opt in options:
        if opt == "":
            continue
        if not isinstance(opt, dict):
            failure = _Mismatch("dict_checker:unclear", f"{path}: the acceptable value {_show(opt)} is not a dict")
            continue
        problems: list[tuple[str, str]] = []
        for key, v in value.items():
            if key not in opt:
                problems.append(("value_error:dict_key", f"{path}: key {key!r} is not in the answer's dict "
                                                         f"(its keys: {_show(list(opt))})"))
                break
            allowed = _as_list(opt[key])
            if _std_if_str(v) not in [_std_if_str(a) for a in allowed]:
                problems.append(("value_error:dict_value", _rejected(f"{path}[{key!r}]", v, allowed)
                                 + " (strings normalised, other values compared with ==)"))
                break
        for key, allowed in opt.items():
            if key not in value and "" not in _as_list(allowed):
                problems.append(("value_error:dict_key", f"{path}: key {key!r} missing; the answer needs "
                                                         f"{_acceptable(_as_list(allowed))}"))
                break
        if not problems:
            return
        n = sum(1 for o in options if o != "")
        prefix = f"none of the {n} acceptable dicts matches; the last: " if n > 1 else ""
        failure = _Mismatch(problems[-1][0], prefix + "; ".join(r for _, r in problems))
    raise failure


def _bfcl_list_dict(path: str, value: list, options: list) -> None:
    """BFCL's ``list_dict_checker``: an acceptable list of the same length whose dicts match one by one."""
    failure = _Mismatch("list_dict_checker:unclear", f"{path}: the answer lists no acceptable list of dicts")
    for opt in options:
        seq = opt if isinstance(opt, (list, str)) else []
        if len(value) != len(seq):
            failure = _Mismatch("value_error:list_dict_count", f"{path}: {len(value)} dicts given, the acceptable "
                                                               f"value {_show(opt)} has {len(seq)}")
            continue
        ok = True
        for i, (item, want) in enumerate(zip(value, seq, strict=True)):
            if not isinstance(item, dict):
                failure = _Mismatch("value_error:dict_value", f"{path}[{i}]: {_show(item)} is not a dict")
                ok = False
                break
            try:
                _bfcl_dict(f"{path}[{i}]", item, [want])
            except _Mismatch as m:
                failure, ok = m, False
                break
        if ok:
            return
    raise failure


def _bfcl_param(path: str, value: Any, options: list, schema: dict) -> None:
    """Type then value of one given parameter, as BFCL's ``simple_function_checker`` does it."""
    tname, expected = _schema_type(schema)
    nested_name, nested = None, None
    if tname in NESTED_TYPES:
        nested_name, nested = _schema_type(schema.get("items"))
    if tname in FLOAT_TYPES and type(value) is int:
        value = float(value)  # BFCL: Python's int -> float
    is_variable = False
    if expected is not None:
        is_variable = _bfcl_type_check(path, value, options, tname, expected, nested_name, nested)
        if not is_variable:
            if expected is dict:
                return _bfcl_dict(path, value, options)
            if expected is list and nested is dict:
                return _bfcl_list_dict(path, value, options)
            if expected is str:
                return _bfcl_string(path, value, options)
            if expected is list:
                return _bfcl_list(path, value, options)
    if value not in options:
        how = ("compared exactly: the answer's type differs from the schema's, so BFCL treats it as a variable"
               if is_variable else "compared with ==")
        raise _Mismatch("value_error:others", _rejected(path, value, options) + f" ({how})")


def _bfcl_one_call(call: dict, answer: dict, doc: dict) -> None:
    """BFCL's ``simple_function_checker`` for one call against one answer and one function doc."""
    answer_params = next(iter(answer.values()))
    name = doc.get("name")
    if call.get("name") != name:
        raise _Mismatch("simple_function_checker:wrong_func_name", f"called {call.get('name')!r}, expected {name!r}")
    args = call.get("arguments")
    if not isinstance(args, dict):
        raise _Mismatch("ast_decoder:decoder_wrong_output_format", f"the arguments of {name!r} are not an object: "
                                                                   f"{_show(args)}")
    schema = doc.get("parameters") or {}
    props = schema.get("properties") or {}
    for req in schema.get("required") or []:
        if req not in args:
            raise _Mismatch("simple_function_checker:missing_required", f"{name}: required parameter {req!r} missing")
    for param, value in args.items():
        if param not in props or param not in answer_params:
            where = "the function's schema" if param not in props else "the answer key"
            raise _Mismatch("simple_function_checker:unexpected_param",
                            f"{name}: parameter {param!r} (given {_show(value)}) is not in {where}")
        _bfcl_param(f"{name}.{param}", value, _as_list(answer_params[param]), props[param])
    for param, options in answer_params.items():
        if param not in args and "" not in _as_list(options):
            raise _Mismatch("simple_function_checker:missing_optional",
                            _left_out(name, param, _as_list(options)))


def _find_doc(tools: list[dict] | None, name: str) -> dict:
    for t in tools or []:
        doc = normalize_tool(t)
        if doc.get("name") == name:
            return doc
    raise ValueError(f"the answer key calls {name!r}, which is not among the tools (BFCL's checker needs its doc)")


def _simple_doc(tools: list[dict] | None, answer_name: str, category: str) -> dict:
    """BFCL checks a simple call against the first function doc and its name (every BFCL simple entry offers
    exactly one). With several tools offered (tooljudge's own sets, never BFCL's) the doc the answer names is
    used when there is one, as BFCL's multiple checker does."""
    if not tools:
        raise ValueError(f"category {category!r}: BFCL checks the call against the first tool; none given")
    if len(tools) > 1:
        named = tools_by_name(tools).get(answer_name)
        if named is not None:
            return named
    return normalize_tool(tools[0])


def _bfcl_check(calls: list[dict], gt: list[dict], category: str, tools: list[dict] | None) -> Verdict:
    if "parallel" in category:
        kind = "parallel_function_checker_no_order"
    elif "multiple" in category:
        kind = "multiple_function_checker"
    else:
        kind = "simple_function_checker"
    if len(calls) != len(gt):
        rule = "as many calls as answers" if kind.startswith("parallel") else "exactly one call"
        return Verdict(False, f"{len(calls)} call(s), expected {len(gt)} ({rule})", f"{kind}:wrong_count")
    if kind != "parallel_function_checker_no_order":
        if kind == "simple_function_checker":
            doc = _simple_doc(tools, next(iter(gt[0])), category)
        else:
            doc = _find_doc(tools, next(iter(gt[0])))
        try:
            _bfcl_one_call(calls[0], gt[0], doc)
        except _Mismatch as m:
            return Verdict(False, m.reason, m.error_type)
        return Verdict(True)
    matched: list[int] = []
    for a, answer in enumerate(gt):
        doc = _find_doc(tools, next(iter(answer)))
        tried = []
        for k, call in enumerate(calls):
            if k in matched:
                continue
            try:
                _bfcl_one_call(call, answer, doc)
            except _Mismatch as m:
                tried.append(f"call {k}: {m.reason} [{m.error_type}]")
                continue
            matched.append(k)
            break
        else:
            taken = f"; calls {sorted(matched)} were already matched to earlier answers" if matched else ""
            return Verdict(False, f"answer {a} ({next(iter(answer))}) matches none of the unmatched calls "
                                  f"(greedy, in answer order{taken}): " + " | ".join(tried),
                           "parallel_function_checker_no_order:cannot_find_match")
    return Verdict(True)


# ============================================================================================ strict mode


def _strict_type(path: str, value: Any, schema: dict, options: list) -> Any:
    """The value to compare (int -> float for float params) or a type mismatch; items at every depth."""
    tname = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(tname, list):  # JSON-schema unions: accept any member type
        for t in tname:
            try:
                return _strict_type(path, value, {**schema, "type": t}, options)
            except _Mismatch:
                continue
        raise _Mismatch("type_error:simple", f"{path}: {_type_name(value)} {_show(value)} is none of {tname}")
    expected = TYPE_MAP.get(tname) if isinstance(tname, str) else None
    if expected is None:
        return value  # no (known) type declared: only the value rule applies
    if expected is float and type(value) is int:
        return float(value)
    if type(value) is expected:
        if expected is list:
            _strict_items(path, value, schema.get("items") or {}, options)
        return value
    answer_type = _answer_type(options)
    if answer_type is not None and answer_type is not expected and type(value) is answer_type:
        return value  # the answer key uses another type (a variable name as a string)
    raise _Mismatch("type_error:simple", f"{path}: expected {tname}, got {_type_name(value)} {_show(value)}")


def _strict_items(path: str, value: list, item_schema: dict, options: list) -> None:
    tname = item_schema.get("type") if isinstance(item_schema, dict) else None
    expected = TYPE_MAP.get(tname) if isinstance(tname, str) else None
    if expected is None:
        return
    answer_item_types = {type(x) for o in options if isinstance(o, list) for x in o}
    for i, item in enumerate(value):
        if type(item) is expected or (expected is float and type(item) is int):
            if expected is list:
                _strict_items(f"{path}[{i}]", item, item_schema.get("items") or {}, [])
            continue
        if type(item) in answer_item_types and expected not in answer_item_types:
            continue
        raise _Mismatch("type_error:nested", f"{path}[{i}]: expected {tname} items, got {_type_name(item)} "
                                             f"{_show(item)}")


def _std(v: Any) -> Any:
    """Normalise strings anywhere inside lists (dicts are compared key by key instead)."""
    if isinstance(v, str):
        return standardize_string(v)
    if isinstance(v, list):
        return [_std(x) for x in v]
    return v


def _same_scalar(value: Any, option: Any) -> bool:
    if isinstance(value, bool) != isinstance(option, bool):
        return False  # True == 1 in Python; not here
    return type(value) is not str and type(option) is not str and value == option


def _value_matches(value: Any, option: Any) -> bool:
    if isinstance(option, dict):
        return isinstance(value, dict) and _dict_matches(value, option)
    if isinstance(value, dict):
        return False
    if isinstance(value, list) and isinstance(option, list):
        if len(value) != len(option):
            return False
        if any(isinstance(o, (dict, list)) for o in option):  # element-wise, recursively
            return all(_value_matches(v, o) for v, o in zip(value, option, strict=True))
        return all(_value_matches(v, o) for v, o in zip(_std(value), _std(option), strict=True))
    if isinstance(value, str) and isinstance(option, str):
        return standardize_string(value) == standardize_string(option)
    return _same_scalar(value, option)


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


def _explain_dict(path: str, value: dict, answer: dict) -> tuple[str, str]:
    """(error class, reason) naming the first key where ``value`` departs from one acceptable dict."""
    for key, v in value.items():
        if key not in answer:
            return "value_error:dict_key", f"{path}: key {key!r} is not in the answer's dict (its keys: " \
                                           f"{_show(list(answer))})"
        opts = _as_list(answer[key])
        if not _accepts(v, opts):
            sub = next((o for o in opts if isinstance(o, dict)), None)
            if isinstance(v, dict) and sub is not None:
                return _explain_dict(f"{path}[{key!r}]", v, sub)
            return "value_error:dict_value", _rejected(f"{path}[{key!r}]", v, opts)
    for key, opts in answer.items():
        if key not in value and not any(_is_blank(o) for o in _as_list(opts)):
            return "value_error:dict_key", f"{path}: key {key!r} missing; the answer needs " \
                                           f"{_acceptable(_as_list(opts))}"
    return "value_error:dict_value", f"{path}: {_show(value)} differs from {_show(answer)}"


def _strict_value(path: str, value: Any, options: list) -> None:
    if _accepts(value, options):
        return
    given = [o for o in options if not _is_blank(o)]
    if isinstance(value, dict):
        dicts = [o for o in given if isinstance(o, dict)]
        if dicts:
            kind, why = _explain_dict(path, value, dicts[0])
            more = f" (and {len(dicts) - 1} other acceptable dict(s) do not match either)" if len(dicts) > 1 else ""
            raise _Mismatch(kind, why + more)
        raise _Mismatch("value_error:dict_value", _rejected(path, value, options))
    if isinstance(value, list) and any(isinstance(o, list) and any(isinstance(x, dict) for x in o) for o in given):
        same = [o for o in given if isinstance(o, list) and len(o) == len(value)]
        if not same:
            raise _Mismatch("value_error:list_dict_count", f"{path}: {len(value)} items given; the acceptable "
                                                           f"lists have {sorted({len(o) for o in given})}")
        for i, (v, o) in enumerate(zip(value, same[0], strict=True)):
            if not _value_matches(v, o):
                if isinstance(v, dict) and isinstance(o, dict):
                    raise _Mismatch(*_explain_dict(f"{path}[{i}]", v, o))
                raise _Mismatch("value_error:dict_value", f"{path}[{i}]: {_show(v)} does not match {_show(o)}")
    kind = ("value_error:string" if isinstance(value, str) else
            "value_error:list/tuple" if isinstance(value, list) else "value_error:others")
    extra = " (strings compared after BFCL's normalisation, at every depth)" if kind != "value_error:others" else ""
    raise _Mismatch(kind, _rejected(path, value, options) + extra)


def _strict_one_call(call: dict, answer: dict, doc: dict | None) -> None:
    """Raise ``_Mismatch`` unless ``call`` satisfies ``answer`` = ``{name: {param: [acceptable values]}}``."""
    (gt_name, gt_params), = answer.items()
    expected_name = doc.get("name") if doc is not None else gt_name
    name = call.get("name")
    if name != expected_name:
        raise _Mismatch("simple_function_checker:wrong_func_name", f"called {name!r}, expected {expected_name!r}")
    args = call.get("arguments")
    if not isinstance(args, dict):
        raise _Mismatch("ast_decoder:decoder_wrong_output_format", f"the arguments of {name!r} are not an object: "
                                                                   f"{_show(args)}")
    schema = (doc or {}).get("parameters") or {}
    props = schema.get("properties") or {}
    for req in schema.get("required") or []:
        if req not in args:
            raise _Mismatch("simple_function_checker:missing_required", f"{name}: required parameter {req!r} missing")
    for param, value in args.items():
        if param not in gt_params or (doc is not None and param not in props):
            where = "the answer key" if param not in gt_params else "the function's schema"
            raise _Mismatch("simple_function_checker:unexpected_param",
                            f"{name}: parameter {param!r} (given {_show(value)}) is not in {where}")
        options = _as_list(gt_params[param])
        value = _strict_type(f"{name}.{param}", value, props.get(param) or {}, options)
        _strict_value(f"{name}.{param}", value, options)
    for param, options in gt_params.items():
        if param not in args and not any(_is_blank(o) for o in _as_list(options)):
            raise _Mismatch("simple_function_checker:missing_optional",
                            _left_out(name, param, _as_list(options)))


def _max_matching(ok: list[list[bool]]) -> list[int]:
    """A maximum bipartite matching (answers x calls) by augmenting paths: ``owner[call]`` = answer or -1."""
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

    for a in range(len(ok)):
        augment(a, [False] * n_calls)
    return owner


def _strict_doc(tools: list[dict] | None, name: str) -> dict | None:
    return tools_by_name(tools).get(name)


def _strict_check(calls: list[dict], gt: list[dict], category: str, tools: list[dict] | None) -> Verdict:
    base = base_category(category)
    kind = {"simple": "simple_function_checker", "multiple": "multiple_function_checker"}.get(
        base, "parallel_function_checker_no_order")
    if len(calls) != len(gt):
        rule = "as many calls as answers" if kind.startswith("parallel") else "exactly one call"
        return Verdict(False, f"{len(calls)} call(s), expected {len(gt)} ({rule})", f"{kind}:wrong_count", "strict")
    if kind == "simple_function_checker":  # as BFCL: the first function doc names the function
        docs = [_simple_doc(tools, next(iter(gt[0])), category) if tools else None]
    else:
        docs = [_strict_doc(tools, next(iter(a))) for a in gt]
    results = []
    for answer, doc in zip(gt, docs, strict=True):
        row = []
        for call in calls:
            try:
                _strict_one_call(call, answer, doc)
                row.append(None)
            except _Mismatch as m:
                row.append(m)
        results.append(row)
    owner = _max_matching([[r is None for r in row] for row in results])
    matched = set(owner) - {-1}
    if len(matched) == len(gt):
        return Verdict(True, checker="strict")
    a = next(a for a in range(len(gt)) if a not in matched)
    if len(gt) == 1:
        m = results[0][0]
        return Verdict(False, m.reason, m.error_type, "strict")
    parts = []
    for k, m in enumerate(results[a]):
        parts.append(f"call {k}: fits, but a full matching needs it for answer {owner[k]}" if m is None
                     else f"call {k}: {m.reason} [{m.error_type}]")
    return Verdict(False, f"answer {a} ({next(iter(gt[a]))}) has no call of its own in a maximum matching of calls "
                          "to answers: " + " | ".join(parts), "parallel_function_checker_no_order:cannot_find_match",
                   "strict")


# ============================================================================================ entry point


def check_calls(calls: list[dict], ground_truth: list[dict], category: str, tools: list[dict] | None,
                checker: str = "bfcl") -> Verdict:
    """Verdict for one example. ``calls``: parsed ``[{"name", "arguments"}]``; ``ground_truth``: BFCL's
    ``[{name: {param: [values]}}]`` (ignored for irrelevance / relevance); ``checker``: ``"bfcl"`` (BFCL's own
    verdict) or ``"strict"`` (tooljudge's refinements; BFCL's verdict in ``note`` where it differs)."""
    if checker not in CHECKER_MODES:
        raise ValueError(f"unknown checker mode {checker!r}; known: {CHECKER_MODES}")
    base = base_category(category)
    calls = list(calls or [])
    if base == "irrelevance":
        if calls:
            names = [c.get("name") for c in calls]
            return Verdict(False, f"made {len(calls)} call(s) {names} where no call is right",
                           "irrelevance_error:decoder_success", checker)
        return Verdict(True, checker=checker)
    if base == "relevance":
        if calls:
            return Verdict(True, checker=checker)
        return Verdict(False, "no call where a call is needed", "relevance_error:decoder_failed", checker)
    gt = list(ground_truth or [])
    if not gt:
        raise ValueError(f"category {category!r} needs a non-empty ground_truth")
    if base in ("simple", "multiple") and len(gt) != 1:
        raise ValueError(f"category {category!r} expects one answer, the key has {len(gt)}")
    bad_args = next((c for c in calls if not isinstance(c.get("arguments"), dict)), None)
    if bad_args is not None:  # BFCL checks the output's shape before anything else
        return Verdict(False, f"the arguments of {bad_args.get('name')!r} are not an object: "
                              f"{_show(bad_args.get('arguments'))}", "ast_decoder:decoder_wrong_output_format", checker)
    if checker == "bfcl":
        return _bfcl_check(calls, gt, category, tools)
    verdict = _strict_check(calls, gt, category, tools)
    try:
        bfcl = _bfcl_check(calls, gt, category, tools)
    except ValueError:
        return verdict
    if bfcl.correct != verdict.correct:
        verdict.note = ("BFCL's checker accepts this output" if bfcl.correct else
                        f"BFCL's checker rejects this output: {bfcl.reason} [{bfcl.error_type}]")
    return verdict
