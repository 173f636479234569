"""Paired comparison of two evaluations of the same examples: did a training stage change accuracy?

Why paired: every stage of a run is scored on the *same* held-out examples, so two stages' 95% CIs overlapping
says little; what matters is how many examples flipped. Of the examples the two stages disagree on, ``wins``
went wrong -> right and ``losses`` right -> wrong; under "no change" each flip is a fair coin, so the exact
McNemar test is a two-sided binomial test of ``wins`` out of ``wins + losses`` (scipy's ``binomtest``). The
CI of the accuracy difference is the Wald interval of the paired difference, the textbook pair to McNemar's test.

When observations are not independent (one eval row scored once per seed; one question judged in 2 or 4
transcripts and answer orders), ``clustered_comparison`` tests at the level of the independent unit, the
cluster: an exact sign-flip test on per-cluster differences (``sign_flip_p`` says why that test), which is the
exact McNemar test when every cluster holds one observation.
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


# ---------------------------------------------------------------------------------------- clustered pairs


@dataclass(frozen=True)
class ClusteredComparison:
    """``after`` against ``before`` where observations come in clusters (an eval row scored once per seed; a
    question judged in several transcripts and answer orders): the test's unit is the cluster."""

    n: int  # observations
    n_clusters: int
    before_correct: int
    after_correct: int
    diff: float  # after accuracy - before accuracy, over observations
    clusters_up: int  # clusters where after scored more observations right than before
    clusters_down: int  # clusters where before scored more
    p_value: float  # two-sided; exact McNemar when every cluster holds one observation
    test: str

    def as_dict(self) -> dict:
        return asdict(self)


def sign_flip_p(differences: Iterable[int]) -> float:
    """Exact two-sided p of the paired sign-flip (permutation) test on integer per-cluster differences
    ``d_c`` (after's right count minus before's): under "no change" the two stages' labels are exchangeable
    within a cluster, so each ``d_c`` is ``+|d_c|`` or ``-|d_c|`` with probability 1/2, independently across
    clusters, and p = P(|sum of flipped d| >= |sum of d|).

    Why this test: it asks only that clusters be independent (not observations), uses the size of each
    cluster's change (a sign test would not), and with one observation per cluster (d in {-1, 0, 1}) it *is*
    the exact McNemar test. Why exact and not Monte Carlo: the differences are small integers, so the null
    distribution is a convolution of binomials, one per distinct |d|, computed here with Python integers:
    exact at every size and the same on every run (no sampling seed). Why not Wilcoxon signed-rank: with
    differences in {-k..k} nearly every rank is tied, scipy then falls back to a normal approximation, and
    it does not reduce to McNemar."""
    counts: dict[int, int] = {}
    total = 0
    for d in differences:
        if d:
            counts[abs(d)] = counts.get(abs(d), 0) + 1
            total += d
    if total == 0:
        return 1.0  # also the case of no cluster changing
    # U = sum of |d| over the clusters flipped to +; T = 2U - S. Ways[u] = number of sign patterns giving U = u.
    ways = [1]
    for size, count in sorted(counts.items()):
        new = [0] * (len(ways) + size * count)
        for j in range(count + 1):
            c, shift = math.comb(count, j), size * j
            for u, w in enumerate(ways):
                if w:
                    new[u + shift] += w * c
        ways = new
    span = sum(size * count for size, count in counts.items())  # S
    threshold = (span + abs(total)) // 2  # T >= |t|  <=>  U >= (S + |t|) / 2 (same parity)
    tail = sum(ways[threshold:])
    # symmetric null, |t| > 0: P(|T| >= |t|) = 2 P(T >= |t|), exactly, as a fraction of 2^(clusters changed)
    return min(1.0, 2 * tail / 2 ** sum(counts.values()))


def clustered_comparison(before: Mapping[str, bool], after: Mapping[str, bool],
                         cluster_of: Mapping[str, str]) -> ClusteredComparison:
    """Compare two ``{observation_id: correct}`` maps whose observations group into independent clusters
    (``cluster_of[observation_id]``). The p-value is ``sign_flip_p`` of the per-cluster differences; with one
    observation per cluster it is taken from ``paired_comparison`` (the exact McNemar p, which it equals)."""
    paired = paired_comparison(before, after)  # same ids, none empty (raises naming them)
    unmapped = sorted(set(before) - set(cluster_of))
    if unmapped:
        raise ValueError(f"observations without a cluster: {unmapped[:5]} ({len(unmapped)})")
    diffs: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for key, ok in before.items():
        cluster = cluster_of[key]
        diffs[cluster] = diffs.get(cluster, 0) + int(after[key]) - int(ok)
        sizes[cluster] = sizes.get(cluster, 0) + 1
    single = all(s == 1 for s in sizes.values())
    p_value = paired.p_value if single else sign_flip_p(diffs.values())
    return ClusteredComparison(n=paired.n, n_clusters=len(sizes), before_correct=paired.before_correct,
                               after_correct=paired.after_correct, diff=paired.diff,
                               clusters_up=sum(d > 0 for d in diffs.values()),
                               clusters_down=sum(d < 0 for d in diffs.values()), p_value=p_value,
                               test="exact McNemar (one observation per cluster)" if single
                               else "exact sign-flip test on per-cluster differences")
