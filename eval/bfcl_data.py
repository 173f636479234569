"""BFCL single-turn data (questions + ``possible_answer/``) from the installed ``bfcl-eval`` package, as eval rows.

Where the data comes from: the ``bfcl-eval`` wheel ships BFCL's data in ``bfcl_eval/data`` (``BFCL_v4_<name>.json``
and ``possible_answer/BFCL_v4_<name>.json``). Its dependency list pins numpy and pulls many API clients, so it is
installed without them (``pip install --no-deps bfcl-eval``, as ``setup.sh`` does) and only its files are read,
through ``importlib.resources``. A folder given as ``bfcl_dir`` overrides the package (``BFCL_v4_*`` or older
``BFCL_v3_*`` files). Our set names are BFCL's file names less the prefix, except ``simple`` = v4's
``simple_python`` (v3's name, and the category name the checker uses).

Why normalise: chat templates and our tool schema expect JSON-schema tools (``object``, ``number``, ``array``),
while BFCL writes Python type names (``dict``, ``float``, ``tuple``, ``any``). The mapping is the one BFCL uses
for its own OpenAI-style models (dict->object, float->number, tuple->array, any->string), and the AST checker
gives ``number``/``array``/``string`` the same rules as ``float``/``tuple``/``any``, so scores do not change.

Eval row: ``{"id", "category", "messages", "tools", "ground_truth"}``.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from tooljudge.data_prep.jsonl import read_jsonl

BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
NON_LIVE = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
        "live_relevance")
SINGLE_TURN_AST = NON_LIVE + LIVE  # the single-turn Python categories our checker scores
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
BFCL_PACKAGE = "bfcl_eval"
INSTALL_HINT = "pip install --no-deps bfcl-eval"
# our set name -> the file stem BFCL v4 uses (every other name is its own stem)
V4_STEMS = {"simple": "simple_python"}


class BFCLDataMissing(FileNotFoundError):
    """BFCL data is not installed (or a file is absent); the message says how to get it."""


def bfcl_data_root(bfcl_dir: str | Path | None = None) -> Traversable:
    """The folder holding BFCL's files: ``bfcl_dir`` when given, else ``bfcl_eval/data`` of the installed package."""
    if bfcl_dir is not None:
        root = Path(bfcl_dir)
        if not root.is_dir():
            raise BFCLDataMissing(f"--bfcl_dir {str(root)!r} is not a folder")
        return root
    try:
        root = resources.files(BFCL_PACKAGE) / "data"
    except ModuleNotFoundError:
        raise BFCLDataMissing(f"BFCL data needs the bfcl-eval package: {INSTALL_HINT} (or pass --bfcl_dir)") from None
    if not root.is_dir():
        raise BFCLDataMissing(f"the installed bfcl-eval has no data folder; reinstall it: {INSTALL_HINT}")
    return root


def _candidates(name: str) -> list[str]:
    stem = V4_STEMS.get(name, name)
    return [f"BFCL_v4_{stem}.json", f"BFCL_v3_{name}.json"]


def bfcl_data_file(name: str, answers: bool = False, bfcl_dir: str | Path | None = None) -> Traversable:
    """The question file (``answers=False``) or answer-key file of set ``name`` (``simple``, ``live_multiple``,
    ``multi_turn_base``, ...): ``BFCL_v4_<stem>.json``, or ``BFCL_v3_<name>.json`` in an older ``bfcl_dir``."""
    root = bfcl_data_root(bfcl_dir)
    folder = root / "possible_answer" if answers else root
    for fname in _candidates(name):
        f = folder / fname
        if f.is_file():
            return f
    where = "bfcl_dir " + str(bfcl_dir) if bfcl_dir is not None else f"the installed bfcl-eval ({INSTALL_HINT})"
    kind = "answer key" if answers else "questions"
    raise BFCLDataMissing(f"BFCL set {name!r}: no {kind} file {' or '.join(_candidates(name))} in {where}")


def bfcl_resource(relpath: str, bfcl_dir: str | Path | None = None) -> Traversable:
    """Any other file under BFCL's data folder, e.g. ``multi_turn_func_doc/gorilla_file_system.json``."""
    f = bfcl_data_root(bfcl_dir)
    for part in relpath.split("/"):
        f = f / part
    if not f.is_file():
        raise BFCLDataMissing(f"BFCL data file {relpath!r} not found under {bfcl_dir or 'bfcl_eval/data'}")
    return f


def read_bfcl_jsonl(file: Traversable) -> list[dict]:
    """One JSON object per line (BFCL's format), through the project's strict reader; a bad line is an error
    naming the file, line and reason."""
    with resources.as_file(file) as path:
        return read_jsonl(path)


def needs_answer_key(name: str) -> bool:
    return not name.endswith(("irrelevance", "relevance"))


def load_bfcl_set(name: str, bfcl_dir: str | Path | None = None) -> tuple[list[dict], dict[str, Any]]:
    """BFCL's raw entries of one set (file order) and its answer key by id (``{}`` for (ir)relevance sets)."""
    questions = read_bfcl_jsonl(bfcl_data_file(name, bfcl_dir=bfcl_dir))
    answers: dict[str, Any] = {}
    if needs_answer_key(name):
        answers = {a["id"]: a["ground_truth"] for a in read_bfcl_jsonl(bfcl_data_file(name, True, bfcl_dir))}
    return questions, answers


@dataclass
class BFCLReport:
    """What was read, kept and skipped (by reason), per category."""

    kept: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kept = ", ".join(f"{k}={v}" for k, v in sorted(self.kept.items()))
        skipped = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"kept {sum(self.kept.values())} ({kept}); skipped: {skipped}"


def normalize_schema(schema: Any) -> Any:
    """BFCL parameter schema -> JSON schema, recursively (``properties``, ``items``)."""
    if isinstance(schema, list):
        return [normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = BFCL_TYPES.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = normalize_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def bfcl_function_to_tool(fn: dict) -> dict:
    """One BFCL function doc -> an OpenAI-style tool (the name, dots included, is kept as is)."""
    params = normalize_schema(fn.get("parameters") or {"type": "object", "properties": {}})
    return {
        "type": "function",
        "function": {"name": fn["name"], "description": fn.get("description", ""), "parameters": params},
    }


def category_of(set_name: str) -> str:
    """The checker's category of a set: ``simple_python`` -> ``simple``; ``live_parallel`` stays as is (the
    checker maps live_* to its base rule)."""
    return "simple" if set_name == "simple_python" else set_name


def load_bfcl(
    root: str | Path | None = None,
    categories: tuple[str, ...] | list[str] = NON_LIVE,
    per_category: int | None = None,
    seed: int = 0,
) -> tuple[list[dict], BFCLReport]:
    """Rows of the given single-turn sets, from the installed package (``root=None``) or the folder ``root``;
    ``per_category`` subsamples each with ``seed`` (kept in file order)."""
    report = BFCLReport()
    rows: list[dict] = []
    for cat in categories:
        if cat in ("simple_java", "simple_javascript"):
            raise ValueError(f"BFCL set {cat!r}: its values are Java/JavaScript strings that BFCL converts with its "
                             "own type converters; only the Python sets are scored here")
        questions, answers = load_bfcl_set(cat, root)
        category = category_of(cat)
        cat_rows = []
        for q in questions:
            qid = q.get("id", "?")
            if needs_answer_key(cat) and qid not in answers:
                report.skipped[f"{cat}:no_answer"] += 1
                report.problems.append(f"{qid}: no entry in the answer key of {cat}")
                continue
            turns = q.get("question") or []
            if len(turns) != 1:
                report.skipped[f"{cat}:multi_turn"] += 1
                report.problems.append(f"{qid}: {len(turns)} turns (single-turn loader)")
                continue
            cat_rows.append(
                {
                    "id": qid,
                    "category": category,
                    "messages": copy.deepcopy(turns[0]),
                    "tools": [bfcl_function_to_tool(fn) for fn in q.get("function") or []],
                    "ground_truth": copy.deepcopy(answers.get(qid, [])),
                }
            )
        if per_category is not None and per_category < len(cat_rows):
            keep = sorted(random.Random(f"{seed}:{cat}").sample(range(len(cat_rows)), per_category))
            report.skipped[f"{cat}:subsampled_out"] += len(cat_rows) - per_category
            cat_rows = [cat_rows[i] for i in keep]
        report.kept[cat] += len(cat_rows)
        rows.extend(cat_rows)
    return rows, report


# ------------------------------------------------------------------------- reference calls from the key


def _first_value(options: Any) -> tuple[bool, Any]:
    """(present, value): omit when ``""`` is acceptable, else the first acceptable value, built recursively."""
    opts = options if isinstance(options, list) else [options]
    if any(isinstance(o, str) and o == "" for o in opts):
        return False, None
    if not opts:
        raise ValueError("a parameter has no acceptable value (empty list) and may not be omitted")
    return True, _build(opts[0])


def _build(value: Any) -> Any:
    if isinstance(value, dict):  # dict answer: {key: [acceptable values]}
        out = {}
        for k, opts in value.items():
            present, v = _first_value(opts)
            if present:
                out[k] = v
        return out
    if isinstance(value, list):
        return [_build(v) for v in value]
    return value


def _schema_of(tools: list[dict] | None, name: str) -> dict | None:
    for t in tools or []:
        fn = t.get("function", t)
        if fn.get("name") == name:
            return fn.get("parameters") or {}
    return None


def unanswerable(ground_truth: list[dict], tools: list[dict] | None = None) -> list[str]:
    """Answer-key defects no output can pass under the rules: a parameter with an empty list of acceptable
    values, or (given ``tools``) a parameter the answer requires that the schema does not declare."""
    found = []

    def walk(path: str, opts: Any) -> None:
        if isinstance(opts, list):
            if not opts:
                found.append(f"{path}: no acceptable value")
            for o in opts:
                if isinstance(o, dict):
                    for k, v in o.items():
                        walk(f"{path}.{k}", v)

    for entry in ground_truth:
        for name, params in entry.items():
            schema = _schema_of(tools, name)
            for p, opts in params.items():
                walk(f"{name}.{p}", opts)
                omittable = any(isinstance(o, str) and o == "" for o in (opts if isinstance(opts, list) else [opts]))
                if schema is not None and p not in (schema.get("properties") or {}) and not omittable:
                    found.append(f"{name}.{p}: required by the answer, absent from the schema")
    return found


def reference_calls(ground_truth: list[dict], tools: list[dict] | None = None, category: str | None = None) -> list[dict]:
    """The answer key as calls a perfect model would make: the first acceptable value of each parameter;
    parameters that may be omitted (``""`` acceptable) are left out unless the schema marks them required.
    In a ``simple`` / ``live_simple`` category (given ``category`` and ``tools``) the call takes the first tool's
    name, as BFCL's checker does (``simple_python_363``'s key says ``find_closest``, its doc
    ``restaurant_search.find_closest``)."""
    calls = []
    simple_name = None
    if category is not None and category.removeprefix("live_") == "simple" and tools:
        first = tools[0].get("function", tools[0])
        simple_name = first.get("name")
    for entry in ground_truth:
        (key_name, params), = entry.items()
        name = simple_name or key_name
        required = set((_schema_of(tools, name) or {}).get("required") or [])
        args = {}
        for p, opts in params.items():
            present, v = _first_value(opts)
            if not present and p in required:
                given = [o for o in opts if not (isinstance(o, str) and o == "")]
                present, v = True, (_build(given[0]) if given else "")
            if present:
                args[p] = v
        calls.append({"name": name, "arguments": args})
    return calls
