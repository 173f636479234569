"""Judge statistics checked against independent numpy/scipy computations written here on fixed data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from tooljudge.eval import judge_stats as st


def _records(scores_by_q: dict[str, list[int]], clusters: dict[str, str] | None = None) -> list[dict]:
    out = []
    for q, scores in scores_by_q.items():
        for order, s in enumerate(scores):
            out.append({"id": q, "cluster": (clusters or {}).get(q, q), "order": order, "is_correct": bool(s)})
    return out


FIXED = {  # question -> correctness in order 0 / order 1
    "q1": [1, 1], "q2": [1, 0], "q3": [0, 0], "q4": [1, 1], "q5": [0, 1], "q6": [1, 1], "q7": [1, 0],
    "q8": [1, 1], "q9": [0, 0], "q10": [1, 1], "q11": [1, 1], "q12": [0, 1],
}


def test_normal_ci_matches_hand_computation():
    recs = _records(FIXED)
    per_q = np.array([np.mean(v) for v in FIXED.values()])
    mean = per_q.mean()
    half = 1.959963984540054 * np.sqrt(((per_q - mean) ** 2).sum() / (len(per_q) - 1)) / np.sqrt(len(per_q))
    ci = st.accuracy_normal_ci(recs)
    assert ci.estimate == pytest.approx(16 / 24)  # 16 correct of 24 judgements, 2 per question
    assert ci.low == pytest.approx(mean - half, abs=1e-12)
    assert ci.high == pytest.approx(mean + half, abs=1e-12)
    assert ci.n == 12


def _numpy_cluster_bootstrap(values, clusters, n, seed, conf=0.95):
    keys = sorted(set(clusters))
    groups = {k: [v for v, c in zip(values, clusters, strict=True) if c == k] for k in keys}
    rng = np.random.default_rng(seed)
    stats_ = []
    for _ in range(n):
        draw = rng.integers(0, len(keys), len(keys))
        vals = [v for d in draw for v in groups[keys[d]]]
        stats_.append(np.mean(vals))
    return np.percentile(stats_, [50 * (1 - conf), 50 * (1 + conf)])


def test_cluster_bootstrap_agrees_with_independent_loop():
    rng = np.random.default_rng(7)
    # 30 articles with 4 questions each; accuracy varies by article, so clustering matters
    clusters = [f"a{i}" for i in range(30) for _ in range(4)]
    p = {f"a{i}": rng.uniform(0.2, 0.95) for i in range(30)}
    values = [float(rng.random() < p[c]) for c in clusters]
    ours = st.cluster_bootstrap_ci(values, clusters, n_resamples=20_000, seed=1)
    ref_low, ref_high = _numpy_cluster_bootstrap(values, clusters, 20_000, seed=2)
    assert ours.estimate == pytest.approx(np.mean(values))
    assert ours.low == pytest.approx(ref_low, abs=0.012)
    assert ours.high == pytest.approx(ref_high, abs=0.012)
    # treating each judgement as its own cluster gives a narrower interval here (positively correlated data)
    iid = st.cluster_bootstrap_ci(values, list(range(len(values))), n_resamples=20_000, seed=1)
    assert (iid.high - iid.low) < (ours.high - ours.low)


def test_paired_permutation_exact_against_enumeration():
    a = np.array([1, 1, 0.5, 1, 0, 1, 1, 0.5, 1, 1, 0, 1])
    b = np.array([0.5, 1, 0, 0, 0, 1, 0.5, 0, 1, 0, 0, 1])
    d = a - b
    observed = abs(d.mean())
    flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    null = np.abs((flips * d).mean(axis=1))
    p_ref = np.mean(null >= observed - 1e-12)
    res = st.paired_permutation_test(a, b, n_resamples=10_000)
    assert res["diff"] == pytest.approx(d.mean())
    assert res["p_value"] == pytest.approx(p_ref, abs=1e-9)


def test_paired_permutation_monte_carlo_close_to_independent():
    rng = np.random.default_rng(3)
    a = (rng.random(60) < 0.7).astype(float)
    b = (rng.random(60) < 0.55).astype(float)
    d = a - b
    flips = rng.choice([-1, 1], size=(100_000, len(d)))
    p_ref = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    res = st.paired_permutation_test(a, b, n_resamples=10_000, seed=0)
    assert res["p_value"] == pytest.approx(p_ref, abs=0.015)


def test_compare_protocols_pairs_by_question():
    ra = _records({"q1": [1, 1], "q2": [1, 1], "q3": [1, 0]})
    rb = _records({"q3": [0, 0], "q1": [0, 1], "q2": [1, 1], "q4": [1, 1]})
    out = st.compare_protocols(ra, rb)
    # per-question differences: q1 1-0.5, q2 0, q3 0.5-0 -> mean 1/3; q4 is unpaired
    assert out["diff"] == pytest.approx(1 / 3)
    assert out["n"] == 3 and out["unpaired_dropped"] == 1


def test_position_bias_and_swap_agreement():
    recs = [
        {"id": "q1", "transcript_id": "t1", "order": 0, "chosen_pos": 0, "chosen": 0, "is_correct": True},
        {"id": "q1", "transcript_id": "t1", "order": 1, "chosen_pos": 0, "chosen": 1, "is_correct": False},
        {"id": "q2", "transcript_id": "t2", "order": 0, "chosen_pos": 1, "chosen": 1, "is_correct": True},
        {"id": "q2", "transcript_id": "t2", "order": 1, "chosen_pos": 0, "chosen": 1, "is_correct": True},
        {"id": "q3", "transcript_id": "t3", "order": 0, "chosen_pos": None, "chosen": None, "is_correct": False},
        {"id": "q3", "transcript_id": "t3", "order": 1, "chosen_pos": 0, "chosen": 1, "is_correct": True},
    ]
    out = st.position_bias(recs)
    pos = np.array([1, 1, 2, 1, 1])
    assert out["mean_position"]["estimate"] == pytest.approx(pos.mean())
    assert out["mean_position"]["high"] == pytest.approx(
        pos.mean() + stats.norm.ppf(0.975) * pos.std(ddof=1) / math.sqrt(5))
    assert out["n_swap_pairs"] == 3
    assert out["swap_agreement"] == pytest.approx(1 / 3)  # only q2 keeps the same answer; q3 unparsable
    assert st.unparsable_rate(recs) == {"unparsable": 1, "n": 6, "rate": 1 / 6}


def test_open_split_and_consultant_agreement():
    recs = []
    # (assignment, correct_answer, chosen, agent_correct)
    spec = [(0, 0, 0, True), (0, 0, 1, True), (1, 1, 1, True), (1, 0, 1, False), (1, 0, 0, False),
            (0, 1, 0, False)]
    for i, (a, c, ch, ok) in enumerate(spec):
        recs.append({"id": f"q{i}", "assignment": a, "correct_answer": c, "chosen": ch,
                     "is_correct": ch == c, "agent_correct": ok})
    split = st.open_protocol_split(recs)
    assert split["agent_correct"]["estimate"] == pytest.approx(2 / 3)
    assert split["agent_wrong"]["estimate"] == pytest.approx(1 / 3)
    assert split["agent_win_rate"] == pytest.approx(4 / 6)  # judge sided with rows 0, 2, 3, 5
    agree = st.consultant_agreement(recs)
    assert agree["overall"]["estimate"] == pytest.approx(4 / 6)
    assert agree["consultant_correct"]["estimate"] == pytest.approx(2 / 3)  # rows 0-2: 0 and 2 agree
    assert agree["consultant_incorrect"]["estimate"] == pytest.approx(2 / 3)  # rows 3-5: 3 and 5 agree


def test_elo_two_players_closed_form():
    # MLE of a 2-player Bradley-Terry: R_a - R_b = 400 log10(w / l)
    games = [("a", "b", 1.0)] * 30 + [("a", "b", 0.0)] * 10 + [("b", "a", 0.0)] * 6 + [("b", "a", 1.0)] * 4
    r = st.fit_elo(games, l2=0.0)
    assert r["a"] - r["b"] == pytest.approx(400 * math.log10(36 / 14), abs=0.05)
    assert (r["a"] + r["b"]) / 2 == pytest.approx(1000.0)


def test_elo_recovers_known_ratings_within_ci():
    true = {"p0": 1200.0, "p1": 1100.0, "p2": 1000.0, "p3": 850.0, "p4": 850.0}
    centre = np.mean(list(true.values()))
    rng = np.random.default_rng(11)
    games = []
    for a, b in itertools.permutations(true, 2):
        p = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
        games += [(a, b, float(x)) for x in rng.random(120) < p]
    est = st.elo_with_ci(games, n_boot=300, seed=0, base=centre)
    for p, r in true.items():
        assert est[p]["low"] <= r <= est[p]["high"], (p, r, est[p])
        assert est[p]["high"] - est[p]["low"] < 120  # informative, not a trivially wide interval
    order = sorted(true, key=lambda p: est[p]["estimate"], reverse=True)
    assert order[:3] == ["p0", "p1", "p2"]


def test_elo_fit_is_the_likelihood_maximum():
    rng = np.random.default_rng(5)
    games = [(str(a), str(b), float(rng.random() < 0.3 + 0.1 * a)) for a, b in
             itertools.permutations(range(4), 2) for _ in range(20)]
    fit = st.fit_elo(games, l2=0.0)

    def ll(r):
        return sum(s * math.log(st.elo_win_prob(r[a], r[b])) + (1 - s) * math.log(1 - st.elo_win_prob(r[a], r[b]))
                   for a, b, s in games)

    base = ll(fit)
    for p in fit:  # any single-rating perturbation lowers the likelihood
        for eps in (-5, 5):
            assert ll({**fit, p: fit[p] + eps}) < base


def test_debate_games_split_sides():
    recs = [{"id": "q", "debaters": ["m1", "m2"], "chosen": 0, "correct_answer": 1},
            {"id": "q", "debaters": ["m2", "m1"], "chosen": None, "correct_answer": 1}]
    games, clusters = st.debate_games(recs)
    assert games == [("m1", "m2", 1.0), ("m2", "m1", 0.5)]
    split, _ = st.debate_games(recs, split_sides=True)
    assert split[0] == ("m1|incorrect", "m2|correct", 1.0)
    assert clusters == ["q", "q"]


def test_figure2_plot_across_judges(tmp_path):
    import json

    from tooljudge.eval.judge_plots import colour, plot_results_files

    paths = []
    for judge, acc in (("weak", 0.6), ("strong", 0.8)):
        ci = {"estimate": acc, "low": acc - 0.05, "high": acc + 0.05, "n": 50}
        res = {"judge": judge, "by_task_type": {t: {p: {"accuracy": acc, "normal_ci": ci} for p in
                                                    ("qa", "debate", "debate_r1")} for t in ("closed", "extractive")}}
        paths.append(tmp_path / f"{judge}.json")
        paths[-1].write_text(json.dumps(res))
    out = plot_results_files(paths, tmp_path / "fig.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert colour("debate_r1") != colour("debate") and colour("debate_r2") != colour("debate_r1")
