"""Function-call eval end to end for a set of rows: render prompts -> generate -> parse -> check -> metrics.

Why prompts come from ``tooljudge.data_prep.masking.render_prompt``: it is the code that rendered the training
data, so the prompt the model sees at eval time is byte-for-byte the one it was trained to continue.

Eval sets by name: ``builtin`` (alias ``function_calls``; the synthetic set, 400 rows over the five categories,
fixed seed), ``bfcl`` (BFCL's five non-live categories, read from the installed ``bfcl-eval`` package),
``bfcl_<category>`` (one BFCL single-turn set, live ones included), or a path to an eval JSONL (rows ``{"id", "category", "messages", "tools", "ground_truth"}``).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows, json_text, write_jsonl
from tooljudge.eval.fc_metrics import compute_metrics, format_table, score_example

from tooljudge.core.ast_checker import CHECKER_MODES, base_category

BUILTIN_SEED = 1234
BUILTIN_SIZE = 400


@dataclass
class FCEvalConfig:
    """What to evaluate and how to generate. ``max_examples`` caps each set (a seeded, stratified subsample)."""

    sets: list[str] = field(default_factory=lambda: ["builtin"])
    max_examples: int | None = None
    # a cap for some sets instead of ``max_examples`` ({"bfcl_simple": 40}): eval rows spent where a test needs them
    max_examples_per_set: dict[str, int] = field(default_factory=dict)
    max_new_tokens: int = 256
    temperature: float = 0.0
    batch_size: int = 8
    seed: int = 0
    # BFCL's files: None reads them from the installed bfcl-eval package; a folder (or $TOOLJUDGE_BFCL_DIR) overrides
    bfcl_dir: str | None = field(default_factory=lambda: os.environ.get("TOOLJUDGE_BFCL_DIR") or None)
    # AST checker mode: "bfcl" (BFCL's own verdicts, the default) or "strict" (tooljudge's refinements)
    checker: str = "bfcl"


@dataclass
class FCEvalResult:
    metrics: dict
    records: list[dict]
    skipped: dict[str, int]
    family: str
    config: dict
    problems: list[str] = field(default_factory=list)  # one line per skipped row: id and why

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "skipped": self.skipped, "problems": self.problems, "family": self.family,
                "config": self.config}


def validate_eval_row(row: Any, where: str) -> None:
    """Raise naming the row and the problem (an eval set with a broken row must not score quietly)."""
    if not isinstance(row, dict):
        raise ValueError(f"{where}: not an object")
    missing = [k for k in ("id", "category", "messages", "tools", "ground_truth") if k not in row]
    if missing:
        raise ValueError(f"{where} (id={row.get('id')!r}): missing {missing}")
    try:
        base = base_category(row["category"])
    except ValueError as e:
        raise ValueError(f"{where} (id={row['id']!r}): {e}") from None
    gt = row["ground_truth"]
    if not isinstance(gt, list) or any(not (isinstance(g, dict) and len(g) == 1) for g in gt):
        raise ValueError(f"{where} (id={row['id']!r}): ground_truth must be a list of {{name: {{param: [values]}}}}")
    if base not in ("irrelevance", "relevance") and not gt:
        raise ValueError(f"{where} (id={row['id']!r}): category {row['category']} needs a ground_truth")
    if not isinstance(row["messages"], list) or not row["messages"]:
        raise ValueError(f"{where} (id={row['id']!r}): messages must be a non-empty list")


def read_eval_jsonl(path: str | Path) -> list[dict]:
    rows = []
    for lineno, row in iter_rows(path, OUTPUT_LIMITS):
        validate_eval_row(row, f"{path}:{lineno}")
        rows.append(row)
    return rows


def subsample(rows: list[dict], k: int | None, seed: int) -> list[dict]:
    """At most ``k`` rows, spread over categories as evenly as possible; file order kept."""
    if k is None or k >= len(rows):
        return rows
    rng = random.Random(seed)
    by_cat: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_cat.setdefault(r["category"], []).append(i)
    for idx in by_cat.values():
        rng.shuffle(idx)
    chosen: list[int] = []
    while len(chosen) < k:
        for idx in by_cat.values():
            if idx and len(chosen) < k:
                chosen.append(idx.pop())
    return [rows[i] for i in sorted(chosen)]


def load_eval_set(name: str, config: FCEvalConfig) -> list[dict]:
    """Rows of one named set (see the module docstring); ids are prefixed by the set when sets are mixed."""
    if name in ("builtin", "function_calls"):
        from tooljudge.data_prep.synthetic import build_fc_eval_set

        rows = build_fc_eval_set(n=BUILTIN_SIZE, seed=BUILTIN_SEED)
    elif name == "tool_world":  # generated tools that training rows never show (docs/synthetic.md)
        from tooljudge.data_prep.tool_world_rows import build_world_eval_set

        rows = build_world_eval_set(n=BUILTIN_SIZE)
    elif name == "bfcl" or name.startswith("bfcl_"):
        from tooljudge.eval.bfcl_data import NON_LIVE, load_bfcl

        cats = NON_LIVE if name == "bfcl" else (name[len("bfcl_"):],)
        rows, _ = load_bfcl(config.bfcl_dir, cats)
    elif name.endswith((".jsonl", ".json")) or Path(name).exists():
        rows = read_eval_jsonl(name)
    else:
        raise ValueError(f"unknown eval set {name!r}: use builtin, tool_world, bfcl, bfcl_<category> or a JSONL path")
    return subsample(rows, set_cap(name, config), config.seed)


def set_cap(name: str, config: FCEvalConfig) -> int | None:
    """The row cap of one set: its own from ``max_examples_per_set``, else ``max_examples``. With one category
    (every BFCL set) a larger cap keeps the smaller cap's rows (``subsample`` pops one seeded order)."""
    return config.max_examples_per_set.get(name, config.max_examples)


def load_eval_rows(config: FCEvalConfig) -> list[dict]:
    rows: list[dict] = []
    for name in config.sets:
        for r in load_eval_set(name, config):
            rows.append({**r, "id": f"{name}/{r['id']}"} if len(config.sets) > 1 else r)
    return rows


def resolve_family_name(family: Any, tokenizer: Any) -> tuple[Any, str]:
    """(Family object, name for the parser); ``auto`` is detected from the tokenizer's template."""
    from tooljudge.data_prep.families import get_family

    fam = get_family(family, tokenizer=tokenizer) if isinstance(family, str) else get_family(family)
    return fam, fam.name


def render_prompts(
    tokenizer, rows: list[dict], family: Any, problems: list[str] | None = None
) -> tuple[list[str], list[dict], Counter]:
    """Prompts for the rows that render; the others are counted by reason (never dropped silently) and, when
    ``problems`` is given, described there row by row."""
    from tooljudge.data_prep.masking import render_prompt

    prompts, kept, skipped = [], [], Counter()
    for r in rows:
        try:
            prompts.append(render_prompt(tokenizer, r["messages"], r.get("tools") or None, family=family))
        except Exception as e:  # noqa: BLE001 - any render failure is reported per row
            skipped[f"render_error:{type(e).__name__}"] += 1
            if problems is not None:
                problems.append(f"{r.get('id')}: {type(e).__name__}: {e}"[:300])
            continue
        kept.append(r)
    return prompts, kept, skipped


def score_outputs(rows: list[dict], outputs: list[str], family: str, checker: str = "bfcl") -> tuple[dict, list[dict]]:
    """Metrics and per-example records for outputs produced anywhere (one output per row, same order), judged by
    the ``checker`` mode (recorded in every record and in the metrics)."""
    if len(rows) != len(outputs):
        raise ValueError(f"{len(rows)} rows but {len(outputs)} outputs")
    records = [score_example(r, o, family, checker) for r, o in zip(rows, outputs, strict=True)]
    return compute_metrics(records), records


def evaluate_function_calls(
    backend, tokenizer, rows: list[dict], family: Any = "auto", config: FCEvalConfig | None = None
) -> FCEvalResult:
    """Generate with ``backend`` (a ``GenerationBackend``) on ``rows`` and score the outputs."""
    config = config or FCEvalConfig()
    if config.checker not in CHECKER_MODES:  # before generating, not after
        raise ValueError(f"FCEvalConfig.checker must be one of {CHECKER_MODES}, got {config.checker!r}")
    fam, fam_name = resolve_family_name(family, tokenizer)
    problems: list[str] = []
    prompts, kept, skipped = render_prompts(tokenizer, rows, fam, problems)
    if not kept:
        raise RuntimeError(f"no eval row could be rendered with family {fam_name!r}: {dict(skipped)}; "
                           f"first problem: {problems[0] if problems else '?'}")
    outputs = backend.generate(prompts, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                               stop=list(fam.stop_tokens), seed=config.seed)
    metrics, records = score_outputs(kept, outputs, fam_name, config.checker)
    for rec, prompt in zip(records, prompts, strict=True):
        rec["prompt"] = prompt
    return FCEvalResult(metrics, records, dict(skipped), fam_name, asdict(config), problems)


def save_result(result: FCEvalResult, out_dir: str | Path) -> dict[str, Path]:
    """``fc_metrics.json`` (metrics, skips, config), ``fc_examples.jsonl`` (every verdict and why),
    ``fc_table.txt``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "fc_metrics.json", "examples": out / "fc_examples.jsonl", "table": out / "fc_table.txt"}
    paths["metrics"].write_text(json_text(result.to_dict(), indent=2, allow_nan=True), encoding="utf-8")
    write_jsonl(result.records, paths["examples"], allow_nan=True)
    paths["table"].write_text(format_table(result.metrics) + "\n", encoding="utf-8")
    return paths
