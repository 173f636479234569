"""Judge-accuracy statistics a reviewer accepts: CIs, paired permutation tests, position bias, Elo.

Why these: Kenton et al. (2024) report accuracy per protocol with a normal-approximation 95% CI over
questions (a question's score is the mean over its judgements: both answer orders, both consultancy sides),
p-values from paired permutation tests between protocols, position bias as the mean chosen position, open
protocols split by whether the agent chose correctly, and debater Elo from cross-play. We add a bootstrap
clustered by article (several questions share one article, so they are not independent).

A *judgement record* is a dict with at least ``id`` (question), ``is_correct`` (bool) and, where used,
``cluster`` (article or question id), ``order`` (0 shown as stored, 1 swapped), ``chosen_pos`` (0/1 or None
when unparsable), ``chosen`` (answer index in the stored row or None), ``assignment`` (the side argued),
``agent_correct`` (open protocols).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

ELO_SCALE = 400.0 / math.log(10.0)  # rating points per natural-log odds unit


@dataclass
class Interval:
    """A point estimate with a two-sided interval."""

    estimate: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n}


def group_scores(records: Iterable[dict], key: str = "id", value: str = "is_correct") -> dict[str, list[float]]:
    """Scores grouped by question (insertion order kept, so paired tests line questions up)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        groups[str(r[key])].append(float(r[value]))
    return dict(groups)


def question_means(records: Iterable[dict], key: str = "id", value: str = "is_correct") -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in group_scores(records, key, value).items()}


def normal_ci(per_question: Sequence[float], confidence: float = 0.95) -> Interval:
    """The paper's CI: mean of per-question scores +- z * sd / sqrt(n) (sample sd, ddof=1)."""
    x = np.asarray(per_question, dtype=float)
    n = len(x)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1)
    z = stats.norm.ppf(0.5 + confidence / 2)
    half = z * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def accuracy_normal_ci(records: Sequence[dict], confidence: float = 0.95) -> Interval:
    """Accuracy averaged over each question's judgements, then over questions, with the normal CI."""
    return normal_ci(list(question_means(records).values()), confidence)


def cluster_bootstrap_ci(values: Sequence[float], clusters: Sequence, confidence: float = 0.95,
                         n_resamples: int = 10_000, seed: int = 0) -> Interval:
    """Percentile bootstrap of the mean resampling whole clusters (articles): the statistic is the ratio of
    summed scores to summed counts over the drawn clusters, fed to ``scipy.stats.bootstrap`` as paired data."""
    v = np.asarray(values, dtype=float)
    sums: dict = defaultdict(float)
    counts: dict = defaultdict(int)
    for x, c in zip(v, clusters, strict=True):
        sums[c] += x
        counts[c] += 1
    keys = list(sums)
    s = np.array([sums[k] for k in keys])
    c = np.array([counts[k] for k in keys], dtype=float)
    est = float(s.sum() / c.sum()) if len(v) else float("nan")
    if len(keys) < 2:
        return Interval(est, float("nan"), float("nan"), len(v))
    if np.all(s / c == s[0] / c[0]):  # degenerate: every cluster has the same mean
        return Interval(est, est, est, len(v))
    res = stats.bootstrap((s, c), lambda a, b, axis=-1: a.sum(axis=axis) / b.sum(axis=axis), paired=True,
                          vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", random_state=np.random.default_rng(seed))
    return Interval(est, float(res.confidence_interval.low), float(res.confidence_interval.high), len(v))


def accuracy_bootstrap_ci(records: Sequence[dict], confidence: float = 0.95, n_resamples: int = 10_000,
                          seed: int = 0) -> Interval:
    clusters = [r.get("cluster", r["id"]) for r in records]
    return cluster_bootstrap_ci([float(r["is_correct"]) for r in records], clusters, confidence,
                                n_resamples, seed)


def paired_permutation_test(x: Sequence[float], y: Sequence[float], n_resamples: int = 10_000,
                            seed: int = 0) -> dict:
    """Two-sided test of mean(x - y) = 0 for paired per-question scores by swapping labels within pairs
    (``scipy.stats.permutation_test``, ``permutation_type='samples'``; exact when 2^n <= n_resamples)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be equal-length 1-d arrays, got {a.shape} and {b.shape}")
    diff = float((a - b).mean()) if len(a) else float("nan")
    if len(a) < 2 or np.all(a == b):
        return {"diff": diff, "p_value": 1.0, "n": len(a)}
    res = stats.permutation_test((a, b), lambda u, v, axis=-1: np.mean(u - v, axis=axis),
                                 permutation_type="samples", n_resamples=n_resamples, vectorized=True,
                                 alternative="two-sided", random_state=np.random.default_rng(seed))
    return {"diff": diff, "p_value": float(res.pvalue), "n": len(a)}


def compare_protocols(records_a: Sequence[dict], records_b: Sequence[dict], n_resamples: int = 10_000,
                      seed: int = 0) -> dict:
    """Paired permutation test on the questions both protocols judged (per-question mean accuracy)."""
    qa, qb = question_means(records_a), question_means(records_b)
    common = [k for k in qa if k in qb]
    out = paired_permutation_test([qa[k] for k in common], [qb[k] for k in common], n_resamples, seed)
    out["unpaired_dropped"] = len(qa) + len(qb) - 2 * len(common)
    return out


def position_bias(records: Sequence[dict]) -> dict:
    """Mean chosen position on the paper's 1/2 scale (1.5 = no bias on balanced data) with a normal CI, and,
    where both orders were judged, the rate at which the same answer is chosen after swapping."""
    pos = [r["chosen_pos"] + 1 for r in records if r.get("chosen_pos") is not None]
    ci = normal_ci(pos) if pos else Interval(float("nan"), float("nan"), float("nan"), 0)
    by_q: dict[tuple, dict[int, object]] = defaultdict(dict)
    for r in records:
        if "order" in r:
            by_q[(r["id"], r.get("transcript_id"))][r["order"]] = r.get("chosen")
    pairs = [v for v in by_q.values() if 0 in v and 1 in v]
    agree = [float(v[0] is not None and v[0] == v[1]) for v in pairs]
    return {"mean_position": ci.as_dict(), "n_parsed": len(pos),
            "swap_agreement": float(np.mean(agree)) if agree else None, "n_swap_pairs": len(pairs)}


def unparsable_rate(records: Sequence[dict]) -> dict:
    bad = sum(1 for r in records if not r.get("parsed", r.get("chosen") is not None))
    return {"unparsable": bad, "n": len(records), "rate": bad / len(records) if records else float("nan")}


def open_protocol_split(records: Sequence[dict], confidence: float = 0.95) -> dict:
    """Open consultancy/debate: judge accuracy when the agent chose the correct vs the wrong answer, and the
    agent's win rate (the judge sides with the consultant / protagonist)."""
    out = {}
    for name, flag in (("agent_correct", True), ("agent_wrong", False)):
        sub = [r for r in records if bool(r.get("agent_correct")) == flag]
        out[name] = accuracy_normal_ci(sub, confidence).as_dict()
    wins = [float(r["chosen"] == r["assignment"]) for r in records if r.get("chosen") is not None]
    out["agent_win_rate"] = float(np.mean(wins)) if wins else None
    out["agent_correct_rate"] = (float(np.mean([bool(r.get("agent_correct")) for r in records]))
                                 if records else None)
    return out


def consultant_agreement(records: Sequence[dict], confidence: float = 0.95) -> dict:
    """How often the judge picks the consultant's side, overall and by whether that side was correct."""
    def rate(sub):
        return normal_ci([float(r["chosen"] == r["assignment"]) for r in sub], confidence).as_dict()

    return {"overall": rate(records),
            "consultant_correct": rate([r for r in records if r["assignment"] == r["correct_answer"]]),
            "consultant_incorrect": rate([r for r in records if r["assignment"] != r["correct_answer"]])}


# ---------------------------------------------------------------------------------------------------------
# Elo (Bradley-Terry with the Elo scale) by maximum likelihood
# ---------------------------------------------------------------------------------------------------------
def elo_win_prob(r_a: float, r_b: float) -> float:
    return 1.0 / (1.0 + 10 ** ((r_b - r_a) / 400.0))


def _elo_arrays(games: Sequence[tuple[str, str, float]], players: Sequence[str]):
    """Games -> (pair index per game, pair player indices a/b); games on the same ordered pair are pooled
    (the likelihood depends on them only through their count and summed score)."""
    index = {p: i for i, p in enumerate(players)}
    pairs: dict[tuple[int, int], int] = {}
    pair_of_game = np.empty(len(games), dtype=int)
    for g, (pa, pb, _) in enumerate(games):
        key = (index[pa], index[pb])
        pair_of_game[g] = pairs.setdefault(key, len(pairs))
    ab = np.array(list(pairs), dtype=int).reshape(-1, 2)
    scores = np.array([float(g[2]) for g in games])
    return pair_of_game, ab, scores


def _fit_pooled(ab: np.ndarray, wins: np.ndarray, counts: np.ndarray, k: int, l2: float) -> np.ndarray:
    a, b = ab[:, 0], ab[:, 1]

    def nll(theta):
        d = theta[a] - theta[b]
        # -sum[w log sigmoid(d) + (n - w) log sigmoid(-d)] written stably, plus the ridge
        loss = np.sum(wins * np.logaddexp(0.0, -d) + (counts - wins) * np.logaddexp(0.0, d)) + l2 * theta @ theta
        g = counts / (1.0 + np.exp(-d)) - wins
        grad = np.bincount(a, g, k) - np.bincount(b, g, k)
        return loss, grad + 2 * l2 * theta

    res = optimize.minimize(nll, np.zeros(k), jac=True, method="BFGS", options={"gtol": 1e-8})
    if not res.success and np.abs(res.jac).max() > 1e-4 * max(1.0, counts.sum()):
        raise RuntimeError(f"Elo fit did not converge: {res.message}")
    return res.x - res.x.mean()


def fit_elo(games: Sequence[tuple[str, str, float]], players: Sequence[str] | None = None, base: float = 1000.0,
            l2: float = 1e-4) -> dict[str, float]:
    """Maximum-likelihood Elo ratings from games ``(a, b, score_a)`` (score in [0, 1]: 1 = a won).

    P(a beats b) = 1 / (1 + 10^((R_b - R_a)/400)), fitted with ``scipy.optimize.minimize`` (exact
    gradient, BFGS). Ratings are identified up to a constant, fixed by their mean = ``base``. A tiny ridge penalty
    ``l2`` (in log-odds units) keeps ratings finite when a player won or lost every game (then the plain MLE
    is infinite); it moves a well-determined fit by far less than a rating point.
    """
    names = list(players) if players is not None else sorted({p for g in games for p in g[:2]})
    if len(names) < 2:
        return {p: base for p in names}
    pair_of_game, ab, scores = _elo_arrays(games, names)
    wins = np.bincount(pair_of_game, scores, len(ab))
    counts = np.bincount(pair_of_game, None, len(ab)).astype(float)
    theta = _fit_pooled(ab, wins, counts, len(names), l2)
    return {p: base + ELO_SCALE * float(theta[i]) for i, p in enumerate(names)}


def elo_with_ci(games: Sequence[tuple[str, str, float]], n_boot: int = 500, confidence: float = 0.95,
                seed: int = 0, base: float = 1000.0, clusters: Sequence | None = None,
                l2: float = 1e-4) -> dict[str, dict]:
    """Elo point estimates and percentile bootstrap CIs, resampling games (or whole clusters of games, e.g.
    all games on one question) with replacement and refitting."""
    players = sorted({p for g in games for p in g[:2]})
    point = fit_elo(games, players, base, l2)
    pair_of_game, ab, scores = _elo_arrays(games, players)
    cl = list(clusters) if clusters is not None else list(range(len(games)))
    keys = {c: i for i, c in enumerate(dict.fromkeys(cl))}
    cluster_of_game = np.array([keys[c] for c in cl])
    rng = np.random.default_rng(seed)
    samples = np.empty((n_boot, len(players)))
    for i in range(n_boot):
        times = np.bincount(rng.integers(0, len(keys), len(keys)), minlength=len(keys))[cluster_of_game]
        wins = np.bincount(pair_of_game, scores * times, len(ab))
        counts = np.bincount(pair_of_game, times, len(ab)).astype(float)
        samples[i] = base + ELO_SCALE * _fit_pooled(ab, wins, counts, len(players), l2)
    lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
    return {p: {"estimate": point[p], "low": float(np.percentile(samples[:, j], lo)),
                "high": float(np.percentile(samples[:, j], hi)), "n_games": sum(1 for g in games if p in g[:2])}
            for j, p in enumerate(players)}


def debate_games(records: Sequence[dict], split_sides: bool = False) -> tuple[list[tuple[str, str, float]], list]:
    """Cross-play debate judgements -> games. Each record names ``debaters`` (the two players, by side index
    0/1 of the stored answers) and ``chosen``; with ``split_sides`` a player is ``name|correct`` or
    ``name|incorrect`` (the paper's correct-/incorrect-side Elo)."""
    games, clusters = [], []
    for r in records:
        if r.get("chosen") is None:
            score = 0.5  # unparsable: a draw, counted, not dropped
        else:
            score = 1.0 if r["chosen"] == 0 else 0.0
        names = list(r["debaters"])
        if split_sides:
            names = [f"{n}|{'correct' if side == r['correct_answer'] else 'incorrect'}"
                     for side, n in enumerate(names)]
        games.append((names[0], names[1], score))
        clusters.append(r.get("cluster", r["id"]))
    return games, clusters
