"""Load BFCL v3 single-turn data (``BFCL_v3_<category>.json`` + ``possible_answer/``) into function-call eval rows.

Why normalise: chat templates and our tool schema expect JSON-schema tools (``object``, ``number``, ``array``),
while BFCL writes Python type names (``dict``, ``float``, ``tuple``, ``any``). The mapping is the one BFCL uses
for its own OpenAI-style models (dict->object, float->number, tuple->array, any->string), and the AST checker
gives ``number``/``array``/``string`` the same rules as ``float``/``tuple``/``any``, so scores do not change.

Eval row: ``{"id", "category", "messages", "tools", "ground_truth"}``.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
NON_LIVE = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
DEFAULT_BFCL_DIR = Path("/work/shared/bfcl_v3")


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


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not JSON ({e.msg})") from None
    return rows


def category_of(file_category: str) -> str:
    """``live_parallel`` stays as is (the checker maps live_* to its base rule)."""
    return file_category


def load_bfcl(
    root: str | Path = DEFAULT_BFCL_DIR,
    categories: tuple[str, ...] | list[str] = NON_LIVE,
    per_category: int | None = None,
    seed: int = 0,
) -> tuple[list[dict], BFCLReport]:
    """Rows of the given categories; ``per_category`` subsamples each with ``seed`` (kept in file order)."""
    root = Path(root)
    report = BFCLReport()
    rows: list[dict] = []
    for cat in categories:
        qpath = root / f"BFCL_v3_{cat}.json"
        if not qpath.exists():
            raise FileNotFoundError(f"BFCL category {cat!r}: {qpath} not found")
        questions = _read_jsonl(qpath)
        apath = root / "possible_answer" / f"BFCL_v3_{cat}.json"
        needs_answer = not cat.endswith(("irrelevance", "relevance"))
        answers: dict[str, list] = {}
        if needs_answer:
            if not apath.exists():
                raise FileNotFoundError(f"BFCL category {cat!r} needs {apath}")
            answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(apath)}
        cat_rows = []
        for q in questions:
            qid = q.get("id", "?")
            if needs_answer and qid not in answers:
                report.skipped[f"{cat}:no_answer"] += 1
                report.problems.append(f"{qid}: no entry in {apath.name}")
                continue
            turns = q.get("question") or []
            if len(turns) != 1:
                report.skipped[f"{cat}:multi_turn"] += 1
                report.problems.append(f"{qid}: {len(turns)} turns (single-turn loader)")
                continue
            cat_rows.append(
                {
                    "id": qid,
                    "category": category_of(cat),
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


def reference_calls(ground_truth: list[dict], tools: list[dict] | None = None) -> list[dict]:
    """The answer key as calls a perfect model would make: the first acceptable value of each parameter;
    parameters that may be omitted (``""`` acceptable) are left out unless the schema marks them required."""
    calls = []
    for entry in ground_truth:
        (name, params), = entry.items()
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
