"""eval/paired_stats.py: the paired comparison of two stages, against hand-checked numbers and an
independent exact binomial computed here with math.comb; the clustered test against hand-counted sign
patterns and a brute-force enumeration of every sign pattern."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tooljudge.eval.paired_stats import (
    clustered_comparison,
    correct_by_id,
    format_comparison,
    paired_comparison,
    sign_flip_p,
)


def _exact_two_sided(wins: int, flips: int) -> float:
    """Two-sided exact binomial p at 1/2 (symmetric, so: twice the smaller tail, capped at 1)."""
    if flips == 0:
        return 1.0
    tail = sum(math.comb(flips, i) for i in range(0, min(wins, flips - wins) + 1)) / 2**flips
    return min(1.0, 2 * tail)


def test_hand_checked_example():
    # 10 examples: 3 right in both, 5 wrong -> right, 1 right -> wrong, 1 wrong in both
    before = {f"e{i}": ok for i, ok in enumerate([1, 1, 1, 0, 0, 0, 0, 0, 1, 0])}
    after = {f"e{i}": ok for i, ok in enumerate([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])}
    c = paired_comparison({k: bool(v) for k, v in before.items()}, {k: bool(v) for k, v in after.items()})
    assert (c.n, c.before_correct, c.after_correct, c.wins, c.losses) == (10, 4, 8, 5, 1)
    assert c.diff == pytest.approx(0.4)
    # exact McNemar: P(X<=1 or X>=5 | n=6, 1/2) = 2 * (1 + 6) / 64 = 0.21875
    assert c.p_value == pytest.approx(0.21875)
    # Wald CI of the paired difference: sqrt((6 - 16/10) / 100) = 0.20976; 0.4 +- 1.95996 * that
    half = 1.959964 * math.sqrt((6 - 16 / 10) / 100)
    assert (c.ci_low, c.ci_high) == (pytest.approx(0.4 - half, abs=1e-5), pytest.approx(min(1.0, 0.4 + half), abs=1e-5))
    assert format_comparison(c).startswith("+0.400 [-0.01, +0.81], 5 won / 1 lost, McNemar p=0.219 (n=10)")


def test_no_flips_is_no_evidence():
    same = {"a": True, "b": False}
    c = paired_comparison(same, dict(same))
    assert (c.wins, c.losses, c.diff, c.p_value, c.ci_low, c.ci_high) == (0, 0, 0.0, 1.0, 0.0, 0.0)


def test_different_examples_are_refused_with_the_ids():
    with pytest.raises(ValueError, match=r"only before: \['b'\] \(1\), only after: \['c'\] \(1\)"):
        paired_comparison({"a": True, "b": True}, {"a": True, "c": False})
    with pytest.raises(ValueError, match="zero examples"):
        paired_comparison({}, {})


def test_repeated_ids_are_numbered_in_order():
    rows = [{"id": "x", "correct": True}, {"id": "y", "correct": False}, {"id": "x", "correct": False}]
    assert correct_by_id(rows) == {"x": True, "y": False, "x#2": False}


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_matches_an_independent_count(pairs):
    before = {str(i): b for i, (b, _a) in enumerate(pairs)}
    after = {str(i): a for i, (_b, a) in enumerate(pairs)}
    c = paired_comparison(before, after)
    wins = sum(1 for b, a in pairs if not b and a)
    losses = sum(1 for b, a in pairs if b and not a)
    assert (c.wins, c.losses) == (wins, losses)
    assert c.diff == pytest.approx(sum(a for _b, a in pairs) / len(pairs) - sum(b for b, _a in pairs) / len(pairs))
    assert c.p_value == pytest.approx(_exact_two_sided(wins, wins + losses), rel=1e-9)
    assert -1.0 <= c.ci_low <= c.diff <= c.ci_high <= 1.0


def _brute_sign_flip(diffs: list[int]) -> float:
    """Every one of the 2^k sign patterns of the clusters, counted: P(|sum| >= |observed sum|)."""
    observed = abs(sum(diffs))
    patterns = list(itertools.product((1, -1), repeat=len(diffs)))
    return sum(abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed for signs in patterns) / len(patterns)


def test_sign_flip_hand_counted():
    # clusters change by +2, +1, -1: T = 2; of the 8 patterns of (+-2, +-1, +-1) the sums are
    # 4, 2, 2, 0, 0, -2, -2, -4: |T| >= 2 in 6 of 8 -> 0.75
    assert sign_flip_p([2, 1, -1]) == 0.75
    # +3, +1: T = 4; the sums are 4, 2, -2, -4: |T| >= 4 in 2 of 4 -> 0.5
    assert sign_flip_p([3, 1]) == 0.5
    assert sign_flip_p([0, 0, 0]) == 1.0 and sign_flip_p([]) == 1.0  # nothing changed: no evidence
    assert sign_flip_p([2, -2, 1, -1]) == 1.0  # changes cancel


def _clusters(per_cluster: list[list[tuple[bool, bool]]]) -> tuple[dict, dict, dict]:
    before, after, cluster_of = {}, {}, {}
    for c, obs in enumerate(per_cluster):
        for i, (b, a) in enumerate(obs):
            key = f"{i}:q{c}"  # the effect pipeline's "seed:row id" form
            before[key], after[key], cluster_of[key] = b, a, f"q{c}"
    return before, after, cluster_of


def test_clustered_identical_pairs_give_one():
    before, after, cluster_of = _clusters([[(True, True), (False, False)], [(True, True), (True, True)]])
    c = clustered_comparison(before, after, cluster_of)
    assert (c.n, c.n_clusters, c.clusters_up, c.clusters_down, c.diff, c.p_value) == (4, 2, 0, 0, 0.0, 1.0)


def test_clustered_all_clusters_one_side_give_the_exact_minimum():
    # 6 questions of 4 judgements; every question gains 1 to 4 right judgements: the only patterns as extreme
    # are all + and all -, so p = 2 / 2^6 = 1/32, whatever the sizes (pooled McNemar would say 2 / 2^15)
    gains = [1, 2, 3, 4, 1, 4]
    per_cluster = [[(False, i < g) for i in range(4)] for g in gains]
    c = clustered_comparison(*_clusters(per_cluster))
    assert (c.n, c.n_clusters, c.clusters_up, c.clusters_down) == (24, 6, 6, 0)
    assert c.p_value == 2 / 2**6 == 0.03125
    assert c.test.startswith("exact sign-flip")
    assert paired_comparison(*_clusters(per_cluster)[:2]).p_value == pytest.approx(2 / 2**15)
    # and the other way round gives the same p
    flipped = [[(a, b) for b, a in obs] for obs in per_cluster]
    assert clustered_comparison(*_clusters(flipped)).p_value == 0.03125


def test_one_observation_per_cluster_is_mcnemar():
    """The hand-checked McNemar example above (5 won / 1 lost of 10, p = 0.21875), each example its own cluster:
    McNemar's p, and sign_flip_p on the same differences gives it too."""
    b = [1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    before, after, cluster_of = _clusters([[(bool(x), bool(y))] for x, y in zip(b, a, strict=True)])
    c = clustered_comparison(before, after, cluster_of)
    assert (c.n, c.n_clusters, c.clusters_up, c.clusters_down) == (10, 10, 5, 1)
    assert c.p_value == pytest.approx(0.21875) and c.test.startswith("exact McNemar")
    assert sign_flip_p([y - x for x, y in zip(b, a, strict=True)]) == pytest.approx(0.21875)


def test_clustered_refuses_unmapped_or_unpaired_observations():
    with pytest.raises(ValueError, match=r"without a cluster: \['b'\] \(1\)"):
        clustered_comparison({"a": True, "b": False}, {"a": True, "b": True}, {"a": "q"})
    with pytest.raises(ValueError, match="only before"):
        clustered_comparison({"a": True}, {"c": True}, {"a": "q", "c": "q"})


@given(st.lists(st.integers(-4, 4), max_size=10))
def test_sign_flip_matches_brute_force(diffs):
    assert sign_flip_p(diffs) == pytest.approx(_brute_sign_flip(diffs), rel=1e-12)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_single_observation_clusters_agree_with_mcnemar(pairs):
    diffs = [int(a) - int(b) for b, a in pairs]
    wins, losses = diffs.count(1), diffs.count(-1)
    assert sign_flip_p(diffs) == pytest.approx(_exact_two_sided(wins, wins + losses), rel=1e-9)
