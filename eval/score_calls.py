"""Score tool-call outputs produced anywhere (another server, another toolkit) against an eval set.

    python eval/score_calls.py --family F --predictions preds.jsonl --dataset eval.jsonl --output_dir DIR

``preds.jsonl`` rows: ``{"id", "output"}`` (raw model text); ``eval.jsonl`` rows: ``{"id", "category",
"messages", "tools", "ground_truth"}`` (or a set name: builtin, bfcl, bfcl_<category>).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tooljudge.data_prep.families import FAMILIES
from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows

from tooljudge.config import cli_parser, setting
from tooljudge.core.ast_checker import CHECKER_MODES
from tooljudge.core.tool_parsers import CALL_FORMATS


def read_predictions(path: str | Path) -> dict[str, str]:
    """``id -> output``; a line that is not UTF-8 or not JSON, a duplicate id or a row without a string output is
    an error naming the line (outputs may hold any text: the parsers are bounded, the writers escape it)."""
    preds: dict[str, str] = {}
    for lineno, row in iter_rows(path, OUTPUT_LIMITS):
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("output"), str):
            raise ValueError(f"{path}:{lineno}: need {{'id', 'output': str}}")
        key = str(row["id"])
        if key in preds:
            raise ValueError(f"{path}:{lineno}: duplicate id {key!r}")
        preds[key] = row["output"]
    return preds


def score_files(family: str, predictions: str | Path, dataset: str, output_dir: str | Path,
                checker: str = "bfcl") -> dict:
    """Score; rows without a prediction are counted (``skipped``), predictions for unknown ids too."""
    from tooljudge.eval.fc_eval import FCEvalConfig, FCEvalResult, load_eval_set, save_result, score_outputs

    rows = load_eval_set(dataset, FCEvalConfig())
    preds = read_predictions(predictions)
    kept = [r for r in rows if str(r["id"]) in preds]
    skipped = Counter()
    if len(kept) < len(rows):
        skipped["no_prediction"] = len(rows) - len(kept)
    extra = set(preds) - {str(r["id"]) for r in rows}
    if extra:
        skipped["prediction_for_unknown_id"] = len(extra)
    if not kept:
        raise ValueError(f"no prediction id matches the dataset ids (e.g. {sorted(preds)[:3]})")
    metrics, records = score_outputs(kept, [preds[str(r["id"])] for r in kept], family, checker)
    result = FCEvalResult(metrics, records, dict(skipped), family, {"dataset": dataset, "predictions": str(predictions), "checker": checker})
    paths = save_result(result, output_dir)
    return {"metrics": metrics, "skipped": dict(skipped), "paths": paths}


@dataclass(kw_only=True)
class ScoreArgs:
    """The options of this CLI."""

    family: str = setting(help="output format: a family or a call format, "
                          f"{', '.join(dict.fromkeys([*FAMILIES.names(), *CALL_FORMATS.names()]))}")
    predictions: str = setting(help="JSONL rows {id, output} (raw model text)")
    dataset: str = setting(help="eval JSONL rows {id, category, messages, tools, ground_truth}, or a set name: "
                           "builtin, bfcl, bfcl_<category>")
    output_dir: str = setting(help="where the metrics and per-example verdicts go")
    checker: str = setting("bfcl", "AST checker: bfcl (BFCL's own verdicts) or strict (tooljudge's refinements)",
                           choices=CHECKER_MODES)


def build_parser():
    return cli_parser(ScoreArgs, description=__doc__)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from tooljudge.eval.fc_metrics import format_table

    try:
        out = score_files(args.family, args.predictions, args.dataset, args.output_dir, args.checker)
    except (ValueError, OSError) as e:  # bad input: the message names the file and line, no traceback
        raise SystemExit(f"score_calls: {e}") from None
    print(format_table(out["metrics"]))
    if out["skipped"]:
        print(f"skipped: {out['skipped']}")
    print("written: " + ", ".join(str(p) for p in out["paths"].values()))


if __name__ == "__main__":
    main()
