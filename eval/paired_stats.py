"""Paired comparison of two evaluations of the same examples: did a training stage change accuracy?

Why paired: every stage of a run is scored on the *same* held-out examples, so two stages' 95% CIs overlapping
says little; what matters is how many examples flipped. Of the examples the two stages disagree on, ``wins``
went wrong -> right and ``losses`` right -> wrong; under "no change" each flip is a fair coin, so the exact
McNemar test is a two-sided binomial test of ``wins`` out of ``wins + losses`` (scipy's ``binomtest``). The
CI of the accuracy difference is the Wald interval of the paired difference, the textbook pair to McNemar's test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from scipy.stats import binomtest, norm


@dataclass(frozen=True)
class PairedComparison:
    """``after`` against ``before`` on the examples both scored (joined by id)."""

    n: int
    before_correct: int
    after_correct: int
    wins: int  # wrong before, right after
    losses: int  # right before, wrong after
    diff: float  # after accuracy - before accuracy
    ci_low: float
    ci_high: float
    p_value: float  # exact McNemar (two-sided)

    def as_dict(self) -> dict:
        return asdict(self)


def paired_comparison(before: Mapping[str, bool], after: Mapping[str, bool],
                      confidence: float = 0.95) -> PairedComparison:
    """Compare two ``{example_id: correct}`` maps. They must score the same ids: a stage that skipped or
    added examples is not comparable, and silently intersecting would hide that."""
    missing, extra = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    if missing or extra:
        raise ValueError(f"paired comparison needs the same examples; only before: {missing[:5]} "
                         f"({len(missing)}), only after: {extra[:5]} ({len(extra)})")
    n = len(before)
    if n == 0:
        raise ValueError("paired comparison of zero examples")
    wins = sum(1 for k, ok in before.items() if not ok and after[k])
    losses = sum(1 for k, ok in before.items() if ok and not after[k])
    diff = (wins - losses) / n
    # Wald CI of a paired difference of proportions: var = ((b + c) - (b - c)^2 / n) / n^2
    z = float(norm.ppf(0.5 + confidence / 2))
    var = max((wins + losses) - (wins - losses) ** 2 / n, 0.0) / n**2
    half = z * math.sqrt(var)
    p_value = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5).pvalue)
    return PairedComparison(n=n, before_correct=sum(before.values()), after_correct=sum(after.values()),
                            wins=wins, losses=losses, diff=diff, ci_low=max(-1.0, diff - half),
                            ci_high=min(1.0, diff + half), p_value=p_value)


def correct_by_id(records: Iterable[Mapping]) -> dict[str, bool]:
    """``{id: correct}`` from per-example eval records (``fc_examples.jsonl`` rows). An id that repeats (two
    eval sets can both have a ``simple_0001``) is keyed ``id#2``, ``id#3``... in order of appearance: stages
    of one run evaluate the same sets in the same order, so the keys pair up."""
    out: dict[str, bool] = {}
    seen: dict[str, int] = {}
    for rec in records:
        key = str(rec["id"])
        seen[key] = seen.get(key, 0) + 1
        out[key if seen[key] == 1 else f"{key}#{seen[key]}"] = bool(rec["correct"])
    return out


def format_comparison(c: PairedComparison) -> str:
    """``+0.075 [+0.01, +0.14], 5 won / 2 lost, McNemar p=0.45 (n=40)``."""
    return (f"{c.diff:+.3f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}], {c.wins} won / {c.losses} lost, "
            f"McNemar p={c.p_value:.3g} (n={c.n})")
