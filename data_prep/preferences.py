"""Make DPO preference pairs from tool conversations (rule-made mistakes, and on-policy samples).

    python data_prep/preferences.py --from tools.jsonl --output pairs.jsonl
    python data_prep/preferences.py --from tools.jsonl --policy CHECKPOINT --output pairs.jsonl --n-samples 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tooljudge.data_prep.jsonl import write_jsonl
from tooljudge.data_prep.preference_pairs import (
    REJECTION_KINDS,
    builtin_sample_args,
    on_policy_pairs,
    rule_pairs,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", required=True, help="conversation rows (JSON Lines)")
    p.add_argument("--output", required=True)
    p.add_argument("--report", help="report JSON (default: OUTPUT with .report.json)")
    p.add_argument("--kinds", default=",".join(REJECTION_KINDS), help="rule-made mistake kinds, comma-separated")
    p.add_argument("--per-point", type=int, default=2, help="rule pairs per decision point")
    p.add_argument("--no-rules", action="store_true", help="only on-policy pairs")
    p.add_argument("--policy", help="checkpoint (folder or adapter) to sample on-policy pairs from")
    p.add_argument("--family", default="auto", help="chat/tool format family of the policy")
    p.add_argument("--n-samples", type=int, default=4)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--include-greedy", action="store_true",
                   help="make the first of the --n-samples the greedy answer (what evals decode)")
    p.add_argument("--max-points", type=int, help="cap on decision points sampled on-policy")
    p.add_argument("--decision-balance", type=float, metavar="RATIO",
                   help="keep at most RATIO times as many pairs teaching 'call' over 'reply' as the reverse, or "
                        "the reverse (each source apart); dropped pairs are counted in the report")
    p.add_argument("--on-policy-rule-kinds", default="", metavar="KINDS",
                   help="also rule-made pairs of these kinds (comma-separated) on the prompts sampled on-policy, "
                        "added before --decision-balance: no_call_when_needed gives a model that calls everywhere "
                        "the call-over-reply pairs its own mistakes lack")
    p.add_argument("--on-policy-keep-decisions", default="", metavar="DECISIONS",
                   help="keep only on-policy pairs teaching these decisions (comma-separated: call_over_reply, "
                        "reply_over_call, same_decision); the rest are counted in the report")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--meta", action="store_true", help="add a 'meta' field (kind, source row) to each pair")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = [json.loads(line) for line in Path(args.source).read_text().splitlines() if line.strip()]
    pairs, reports = [], {}
    if not args.no_rules:
        made, rep = rule_pairs(rows, seed=args.seed, kinds=args.kinds.split(","), per_point=args.per_point,
                               meta=args.meta, sample_args=builtin_sample_args,
                               decision_balance=args.decision_balance)
        pairs += made
        reports["rules"] = rep
    if args.policy:
        from tooljudge.core.backends import TransformersBackend

        backend = TransformersBackend(args.policy, batch_size=args.batch_size, progress=True)
        made, rep = on_policy_pairs(backend, backend.tokenizer, rows, family=args.family, n_samples=args.n_samples,
                                    temperature=args.temperature, seed=args.seed, meta=args.meta,
                                    max_points=args.max_points, include_greedy=args.include_greedy,
                                    decision_balance=args.decision_balance,
                                    rule_kinds=[k for k in args.on_policy_rule_kinds.split(",") if k],
                                    keep_decisions=[d for d in args.on_policy_keep_decisions.split(",") if d]
                                    or None)
        pairs += made
        reports["on_policy"] = rep
    out = write_jsonl(pairs, args.output)  # safe whatever the model wrote (lone surrogates are escaped)
    report_path = Path(args.report) if args.report else out.with_suffix(".report.json")
    report_path.write_text(json.dumps({k: r.to_dict() for k, r in reports.items()}, indent=2, default=dict))
    for name, rep in reports.items():
        print(f"[{name}] {rep.format()}")
    print(f"wrote {len(pairs)} pairs to {out} and the report to {report_path}")


if __name__ == "__main__":
    main()
