"""Make DPO preference pairs from tool conversations (rule-made mistakes, and on-policy samples).

    python data_prep/preferences.py --from tools.jsonl --output pairs.jsonl
    python data_prep/preferences.py --from tools.jsonl --policy CHECKPOINT --output pairs.jsonl --n-samples 4
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tooljudge.data_prep.jsonl import read_jsonl, write_jsonl
from tooljudge.data_prep.preference_pairs import (
    REJECTION_KINDS,
    builtin_sample_args,
    on_policy_pairs,
    rule_pairs,
)

from tooljudge.config import cli_parser, param, setting


@dataclass(kw_only=True)
class PreferencesArgs:
    """The options; those that fill ``rule_pairs`` / ``on_policy_pairs`` take those functions' defaults
    (``param``)."""

    source: str = setting(help="conversation rows (JSON Lines)", aliases=["--from"])
    output: str = setting(help="the pairs, as JSON Lines")
    report: str | None = setting(None, "report JSON (default: OUTPUT with .report.json)")
    kinds: str = setting(",".join(REJECTION_KINDS), "rule-made mistake kinds, comma-separated")
    per_point: int = param(rule_pairs, "per_point", "rule pairs per decision point")
    no_rules: bool = setting(False, "only on-policy pairs")
    policy: str | None = setting(None, "checkpoint (folder or adapter) to sample on-policy pairs from")
    family: str = param(on_policy_pairs, "family", "chat/tool format family of the policy")
    n_samples: int = param(on_policy_pairs, "n_samples", "answers sampled per decision point")
    temperature: float = param(on_policy_pairs, "temperature", "sampling temperature")
    include_greedy: bool = param(on_policy_pairs, "include_greedy",
                                 "make the first of the --n-samples the greedy answer (what evals decode)")
    max_points: int | None = param(on_policy_pairs, "max_points", "cap on decision points sampled on-policy")
    decision_balance: float | None = param(
        on_policy_pairs, "decision_balance", "keep at most RATIO times as many pairs teaching 'call' over 'reply' "
        "as the reverse, or the reverse (each source apart); dropped pairs are counted in the report",
        metavar="RATIO")
    on_policy_rule_kinds: str = setting(
        "", "also rule-made pairs of these kinds (comma-separated) on the prompts sampled on-policy, added before "
        "--decision-balance: no_call_when_needed gives a model that calls everywhere the call-over-reply pairs "
        "its own mistakes lack", metavar="KINDS")
    on_policy_keep_decisions: str = setting(
        "", "keep only on-policy pairs teaching these decisions (comma-separated: call_over_reply, reply_over_call, "
        "same_decision); the rest are counted in the report", metavar="DECISIONS")
    batch_size: int = setting(8, "generation batch of the policy")
    seed: int = param(rule_pairs, "seed", "seed of the rule-made mistakes and of sampling")
    meta: bool = param(rule_pairs, "meta", "add a 'meta' field (kind, source row) to each pair")


def build_parser():
    return cli_parser(PreferencesArgs, description=__doc__)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = read_jsonl(args.source)  # a bad line stops the run, naming it
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
