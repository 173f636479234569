"""The few figures of an ``eval_results.json`` a person reads first (rounds' summary, an export's model card).

Why here: the figures are a view of what eval writes, and both ``train/rounds.py`` and ``train/export.py`` need
them; kept in eval, neither has to import the other.
"""

from __future__ import annotations

from typing import Any


def headline(results: dict) -> dict[str, Any]:
    """The few numbers a person reads first: AST accuracy and irrelevance recall (function calls) and judge
    accuracy per protocol, each ``{"value", "ci_low", "ci_high", "n"}``."""
    out: dict[str, Any] = {}
    overall = (results.get("function_calls") or {}).get("metrics", {}).get("overall", {})
    for key in ("ast_accuracy", "valid_format_rate", "irrelevance_recall"):
        if overall.get(key):
            out[f"fc_{key}"] = overall[key]
    for _spec, judged in (results.get("judge") or {}).items():
        for protocol, res in (judged.get("protocols") or {}).items():
            ci = res.get("normal_ci") or {}
            if res.get("accuracy") is not None and ci:
                # the paper's CI: normal approximation over questions, each averaged across both answer orders
                out[f"judge_{protocol}_accuracy"] = {"value": res["accuracy"], "ci_low": ci["low"],
                                                     "ci_high": ci["high"], "n": ci["n"]}
    return out
