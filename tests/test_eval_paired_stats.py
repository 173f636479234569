"""eval/paired_stats.py: the paired comparison of two stages, against hand-checked numbers and an
independent exact binomial computed here with math.comb."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tooljudge.eval.paired_stats import correct_by_id, format_comparison, paired_comparison


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
