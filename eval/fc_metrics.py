"""Per-example function-call verdicts and the metrics over them, per category and overall, with 95% CIs.

Why these metrics: AST accuracy alone hides *why* a model fails. Name accuracy separates "picked the wrong
tool" from "right tool, wrong arguments" (argument accuracy is conditional on the names being right);
valid-format rate catches a model that forgot its template's call syntax; hallucinated-function rate counts
calls to tools that were never offered; irrelevance precision/recall (the positive class is "no call") show
whether a model that abstains well also calls when it should. BFCL's own reports put irrelevance beside AST
accuracy for the same reason.

Confidence intervals: Wilson score intervals (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``),
which stay inside [0, 1] and behave at 0% / 100% and small n, where the normal interval does not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from tooljudge.core.ast_checker import Verdict, base_category, check_calls, tools_by_name
from tooljudge.core.tool_parsers import UNKNOWN_FUNCTION, parse_tool_calls

METRICS = (
    "ast_accuracy",
    "name_accuracy",
    "argument_accuracy",
    "valid_format_rate",
    "hallucinated_function_rate",
    "irrelevance_precision",
    "irrelevance_recall",
)


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (scipy)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def proportion(k: int, n: int) -> dict | None:
    """``{"value", "k", "n", "ci_low", "ci_high"}``; None when n == 0 (undefined, never reported as 0)."""
    if n == 0:
        return None
    low, high = wilson_ci(k, n)
    return {"value": k / n, "k": k, "n": n, "ci_low": low, "ci_high": high}


def score_example(row: dict, output: str, family: str, checker: str = "bfcl") -> dict:
    """Parse one raw output and judge it with the ``checker`` mode (``bfcl``: BFCL's own verdicts; ``strict``:
    tooljudge's refinements); the record keeps everything a person needs to see why, and the mode."""
    tools = row.get("tools") or []
    names = set(tools_by_name(tools))
    parsed = parse_tool_calls(output, family, tool_names=names)
    category = row["category"]
    base = base_category(category)
    format_ok = parsed.failure in (None, UNKNOWN_FUNCTION)
    if not format_ok and not (base == "irrelevance" and not parsed.calls):
        # BFCL's classes for an output it cannot decode (the parser's own class is in ``failure``)
        kind = "relevance_error:decoder_failed" if base == "relevance" else "ast_decoder:decoder_failed"
        verdict = Verdict(False, f"{parsed.failure}: {parsed.detail}", kind, checker)
    else:
        # BFCL: on irrelevance, an output from which no call can be decoded passes (its failure is still saved)
        try:
            verdict = check_calls(parsed.calls, row.get("ground_truth") or [], category, tools, checker)
        except ValueError as e:  # a key or tool list no output can be checked against: name the row
            raise ValueError(f"eval row {row.get('id')!r}: {e}") from None
    expected = [next(iter(g)) for g in row.get("ground_truth") or []]
    called = [c["name"] for c in parsed.calls]
    expects_call = base not in ("irrelevance", "relevance")
    return {
        "id": row.get("id"),
        "category": category,
        "output": output,
        "calls": parsed.calls,
        "failure": parsed.failure,
        "failure_detail": parsed.detail,
        "correct": verdict.correct,
        "reason": verdict.reason,
        "error_type": verdict.error_type,
        "checker": verdict.checker,
        "checker_note": verdict.note,
        "expected_names": expected,
        "called_names": called,
        "names_correct": (sorted(called) == sorted(expected)) if expects_call else None,
        "valid_format": format_ok,
        "hallucinated": any(n not in names for n in called),
        "made_call": bool(parsed.calls),
        "no_call_expected": base == "irrelevance",
    }


def group_metrics(records: Sequence[dict]) -> dict[str, Any]:
    """All metrics over one group of records (see the module docstring for definitions)."""
    n = len(records)
    with_calls_expected = [r for r in records if r["names_correct"] is not None]
    names_ok = [r for r in with_calls_expected if r["names_correct"]]
    no_call = [r for r in records if not r["made_call"]]
    irrelevant = [r for r in records if r["no_call_expected"]]
    out: dict[str, Any] = {
        "n": n,
        "ast_accuracy": proportion(sum(r["correct"] for r in records), n),
        "name_accuracy": proportion(len(names_ok), len(with_calls_expected)),
        "argument_accuracy": proportion(sum(r["correct"] for r in names_ok), len(names_ok)),
        "valid_format_rate": proportion(sum(r["valid_format"] for r in records), n),
        "hallucinated_function_rate": proportion(sum(r["hallucinated"] for r in records), n),
        "irrelevance_precision": proportion(sum(r["no_call_expected"] for r in no_call), len(no_call)),
        "irrelevance_recall": proportion(sum(not r["made_call"] for r in irrelevant), len(irrelevant)),
        "failures": dict(Counter(r["failure"] for r in records if r["failure"])),
        "error_types": dict(Counter(r["error_type"] for r in records if r["error_type"])),
    }
    return out


def compute_metrics(records: Iterable[dict]) -> dict[str, Any]:
    """``{"overall": {...}, "categories": {cat: {...}}, "macro_ast_accuracy": float}``.

    ``overall`` pools every example (micro); ``macro_ast_accuracy`` is the unweighted mean of the categories'
    AST accuracies (BFCL's summary style), given without a CI.
    """
    records = list(records)
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_cat[r["category"]].append(r)
    cats = {c: group_metrics(rs) for c, rs in sorted(by_cat.items())}
    accs = [m["ast_accuracy"]["value"] for m in cats.values() if m["ast_accuracy"]]
    modes = sorted({r.get("checker", "bfcl") for r in records})
    return {
        "overall": group_metrics(records),
        "categories": cats,
        "macro_ast_accuracy": sum(accs) / len(accs) if accs else None,
        "ci_method": "wilson (scipy.stats.binomtest.proportion_ci), 95%",
        "checker": "+".join(modes) if modes else None,  # the AST checker mode that judged (bfcl | strict)
    }


def flat_metrics(metrics: dict, prefix: str = "fc") -> dict[str, float]:
    """``{"fc/overall/ast_accuracy": 0.61, ...}``: scalar values for the trainer's reporters."""
    flat: dict[str, float] = {}
    groups = {"overall": metrics["overall"], **metrics["categories"]}
    for g, m in groups.items():
        for name in METRICS:
            if m.get(name) is not None:
                flat[f"{prefix}/{g}/{name}"] = float(m[name]["value"])
    if metrics.get("macro_ast_accuracy") is not None:
        flat[f"{prefix}/macro_ast_accuracy"] = float(metrics["macro_ast_accuracy"])
    return flat


def format_table(metrics: dict) -> str:
    """A plain-text table: one line per group, each metric as ``value% [low, high]``."""
    cols = ("ast_accuracy", "name_accuracy", "argument_accuracy", "valid_format_rate",
            "hallucinated_function_rate", "irrelevance_recall", "irrelevance_precision")
    short = ("ast", "name", "args", "format", "halluc", "irr_rec", "irr_prec")
    lines = [f"{'group':<24}{'n':>5}  " + "  ".join(f"{s:>18}" for s in short)]
    groups = {**metrics["categories"], "overall": metrics["overall"]}
    for g, m in groups.items():
        cells = []
        for c in cols:
            v = m.get(c)
            cells.append(f"{'-':>18}" if v is None else
                         f"{100 * v['value']:5.1f} [{100 * v['ci_low']:4.1f},{100 * v['ci_high']:5.1f}]".rjust(18))
        lines.append(f"{g:<24}{m['n']:>5}  " + "  ".join(cells))
    if metrics.get("checker"):
        lines.append(f"checker: {metrics['checker']}")
    return "\n".join(lines)
