"""Run protocols x judge over a task set and compute every judging metric.

``evaluate_judge(judge, tasks, protocols)`` generates the transcripts (agents = the judge model unless others
are given), judges them, and returns (and optionally writes) one results dict: accuracy per protocol and task
type with the paper's normal CI and an article-clustered bootstrap CI, paired permutation tests between
protocols and between debate rounds, position bias, unparsable counts, consultant agreement, the open
protocols split by whether the agent was right, and debater Elo from cross-play when several debaters are
given. Open consultancy/debate are filtered from the assigned-role runs by the agent's own direct answer
(QA with the article for extractive tasks, QA otherwise), as in Kenton et al. (2024).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tooljudge.data_prep.jsonl import write_jsonl
from tooljudge.data_prep.judge_tasks import EXTRACTIVE_TASKS, validate_judge_row
from tooljudge.eval import judge_stats as st
from tooljudge.eval.judge_plots import plot_accuracy
from tooljudge.eval.judge_protocol_registry import (
    BUILTIN_PROTOCOLS,
    JUDGE_PROTOCOLS,
    GenerationContext,
    protocols_to_generate,
)
from tooljudge.eval.judge_protocols import Agent, ProtocolConfig, chat_renderer, qa_transcripts, run_debate
from tooljudge.eval.judges import JudgeConfig, judge_transcripts

from tooljudge.config import setting


@dataclass
class JudgeEvalConfig:
    """Everything ``evaluate_judge`` varies; the defaults are the paper's reporting choices."""

    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    judge: JudgeConfig = field(default_factory=lambda: JudgeConfig(both_orders=True))
    confidence: float = 0.95
    n_resamples: int = 10_000  # bootstrap and permutation resamples
    elo_bootstrap: int = 200
    elo_rows: int | None = setting(None, "questions used for Elo cross-play (default: all)")
    seed: int = 0


def as_agent(model: Any, name: str, tokenizer: Any = None) -> Agent:
    """An ``Agent`` from an Agent, or from a backend plus its tokenizer (``backend.tokenizer`` if it has one)."""
    if isinstance(model, Agent):
        return model
    tok = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tok is None:
        raise ValueError(f"{name}: pass a tokenizer (or an Agent with a renderer) to render chat prompts")
    return Agent(model, chat_renderer(tok), name)


def task_type(task: str) -> str:
    return "extractive" if task in EXTRACTIVE_TASKS else "closed"


def agent_direct_answers(agent: Agent, rows: Sequence[dict], seed: int = 0) -> dict[str, int]:
    """The agent's own answer to each question (QA with the article when there is one), judged in both orders
    and decided by the mean probability of each answer (or the majority of parsed verdicts)."""
    transcripts = []
    for r in rows:
        transcripts += qa_transcripts([r], with_article=bool(r.get("article")))
    recs = judge_transcripts(agent, transcripts, JudgeConfig(both_orders=True, seed=seed))
    return direct_answers_from_records(recs, rows)


def direct_answers_from_records(records: Sequence[dict], rows: Sequence[dict]) -> dict[str, int]:
    """Each question's answer from QA judgements: the answer with the larger summed probability over the
    judged orders (or the majority of parsed verdicts; a tie goes to answer 0)."""
    score: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rec in records:
        if rec["p_correct"] is not None:
            c = rec["correct_answer"]
            score[rec["id"]][c] += rec["p_correct"]
            score[rec["id"]][1 - c] += 1 - rec["p_correct"]
        elif rec["chosen"] is not None:
            score[rec["id"]][rec["chosen"]] += 1
    return {r["id"]: (0 if score[r["id"]][0] >= score[r["id"]][1] else 1) for r in rows}


def summarise(records: Sequence[dict], cfg: JudgeEvalConfig) -> dict:
    """Accuracy with both CIs, unparsable rate and position bias for one set of judgements."""
    return {"accuracy": st.accuracy_normal_ci(records, cfg.confidence).estimate,
            "normal_ci": st.accuracy_normal_ci(records, cfg.confidence).as_dict(),
            "bootstrap_ci": st.accuracy_bootstrap_ci(records, cfg.confidence, cfg.n_resamples, cfg.seed).as_dict(),
            "n_questions": len({r["id"] for r in records}), "n_judgements": len(records),
            "unparsable": st.unparsable_rate(records), "position_bias": st.position_bias(records)}


def generate_transcripts(rows: Sequence[dict], protocols: Sequence[str], ctx: GenerationContext
                         ) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Step 1: the transcripts of every assigned protocol ``protocols`` need (a derived one needs its base), in
    registration order. Rows without an article are left out of ``needs_article`` protocols and counted."""
    transcripts: dict[str, list[dict]] = {}
    skipped: dict[str, dict] = {}
    for name in protocols_to_generate(protocols):
        spec = JUDGE_PROTOCOLS.get(name)
        use = [r for r in rows if r.get("article")] if spec.needs_article else list(rows)
        if len(use) < len(rows):
            skipped[name] = {"no_article": len(rows) - len(use)}
        transcripts[name] = spec.generate(use, ctx)
    return transcripts, skipped


def judge_transcript_sets(judge: Agent, transcripts: dict[str, list[dict]], cfg: JudgeEvalConfig
                          ) -> tuple[dict[str, list[dict]], dict[str, list[tuple[str, str]]]]:
    """Step 2: judge each protocol's transcripts, then each protocol's variants (``debate_r1``...). Returns the
    records by name and, per protocol, its ``(variant name, comparison key)`` pairs. Few-shot examples (when
    asked for) come from the other questions of the same transcript set."""
    records = {name: judge_transcripts(judge, ts, cfg.judge, few_shot_pool=ts) for name, ts in transcripts.items()}
    variants: dict[str, list[tuple[str, str]]] = {}
    for name, ts in transcripts.items():
        spec = JUDGE_PROTOCOLS.get(name)
        for v in spec.variants(ts, cfg.protocol) if spec.variants else []:
            records[v.name] = judge_transcripts(judge, v.transcripts, cfg.judge, few_shot_pool=v.transcripts)
            variants.setdefault(name, []).append((v.name, v.comparison))
    return records, variants


def direct_answers(agent: Agent, judge: Agent, records: dict[str, list[dict]], rows: Sequence[dict],
                   seed: int = 0) -> dict[str, int]:
    """The agent's own direct answer to each question (QA with the article when there is one). When the agent
    is the judge model, its QA judgements already hold that answer: reuse them instead of judging again."""
    extractive = [r for r in rows if r.get("article")]
    same = agent.backend is judge.backend and agent.render is judge.render
    if same and "qa" in records and (not extractive or "qa_article" in records):
        art = {r["id"] for r in extractive}
        qa_recs = list(records.get("qa_article", [])) + [r for r in records["qa"] if r["id"] not in art]
        return direct_answers_from_records(qa_recs, rows)
    return agent_direct_answers(agent, rows, seed)


def derive_protocols(records: dict[str, list[dict]], protocols: Sequence[str], direct: dict[str, int],
                     skipped: dict[str, dict]) -> dict[str, list[dict]]:
    """Step 3: the derived (open) protocols from their base's judgements and the agent's direct answers (the
    paper builds them the same way: the same transcript judged in the same order gets the same verdict, so
    nothing is judged twice). Then only the asked-for protocols and the variants are kept, in that order; a
    protocol with no judgements (e.g. qa_article on closed tasks only) is dropped and counted in ``skipped``."""
    records = dict(records)
    for name in protocols:
        spec = JUDGE_PROTOCOLS.get(name)
        if spec.derive is not None:
            records[name] = spec.derive(records[spec.base], direct)
    generated = set(protocols_to_generate(protocols))
    variant_names = sorted(k for k in records if k not in generated and k not in protocols)
    records = {k: records[k] for k in [*protocols, *variant_names] if k in records}
    for name in [k for k, v in records.items() if not v]:
        del records[name]
        skipped.setdefault(name, {})["no_judgements"] = 1
    return records


_SUMMARY_EXTRAS = {"consultant_agreement": st.consultant_agreement, "open_split": st.open_protocol_split}


def summarise_protocols(records: dict[str, list[dict]], protocols: Sequence[str],
                        variants: dict[str, list[tuple[str, str]]], cfg: JudgeEvalConfig) -> dict:
    """Step 4: per protocol (and variant) accuracy with both CIs, the protocol's extra figures, accuracy by task
    and by task type; paired comparisons between the asked-for protocols and between each protocol and its
    variants."""
    out: dict[str, Any] = {"protocols": {}, "by_task_type": {}, "comparisons": {}, "round_comparisons": {}}
    for name, recs in records.items():
        res = summarise(recs, cfg)
        extras = JUDGE_PROTOCOLS.get(name).summary if name in JUDGE_PROTOCOLS else ()
        for extra in extras:
            res[extra] = _SUMMARY_EXTRAS[extra](recs, cfg.confidence)
        res["by_task"] = {task: summarise([r for r in recs if r["task"] == task], cfg)["normal_ci"]
                          for task in sorted({r["task"] for r in recs})}
        out["protocols"][name] = res
        for tt in sorted({task_type(r["task"]) for r in recs}):
            sub = [r for r in recs if task_type(r["task"]) == tt]
            out["by_task_type"].setdefault(tt, {})[name] = {
                "accuracy": st.accuracy_normal_ci(sub, cfg.confidence).estimate,
                "normal_ci": st.accuracy_normal_ci(sub, cfg.confidence).as_dict(),
                "bootstrap_ci": st.accuracy_bootstrap_ci(sub, cfg.confidence, cfg.n_resamples, cfg.seed).as_dict()}
    main = [p for p in protocols if p in records]
    for a, b in itertools.combinations(main, 2):
        out["comparisons"][f"{a}_vs_{b}"] = st.compare_protocols(records[a], records[b], cfg.n_resamples, cfg.seed)
    for name in main:
        for variant, key in variants.get(name, []):
            out["round_comparisons"][key] = st.compare_protocols(records[name], records[variant], cfg.n_resamples,
                                                                 cfg.seed)
    return out


def evaluate_judge(judge: Any, tasks: Sequence[dict], protocols: Sequence[str] = BUILTIN_PROTOCOLS, *,
                   tokenizer: Any = None, agent: Any = None, agent_tokenizer: Any = None,
                   elo_debaters: dict[str, Any] | None = None, chooser: Any = None,
                   config: JudgeEvalConfig | None = None, out_dir: str | Path | None = None,
                   judge_name: str = "judge", keep_records: bool = False) -> dict:
    """Protocols x one judge over ``tasks`` -> results dict (written with transcripts, judgements and the
    plot under ``out_dir`` when given). ``judge``/``agent``: a ``GenerationBackend`` (with ``tokenizer=`` or a
    ``.tokenizer``) or an ``Agent``; the agent (consultant, debaters) defaults to the judge model.
    ``protocols``: names in ``JUDGE_PROTOCOLS`` (generate, judge, derive, summarise)."""
    cfg = config or JudgeEvalConfig()
    start = time.time()
    JUDGE_PROTOCOLS.check(protocols)
    for i, row in enumerate(tasks):
        problems = validate_judge_row(row)
        if problems:
            raise ValueError(f"task row {i} ({row.get('id')}): {'; '.join(problems)}")
    judge_agent = as_agent(judge, judge_name, tokenizer)
    agent_ = as_agent(agent, "agent", agent_tokenizer) if agent is not None else Agent(
        judge_agent.backend, judge_agent.render, "agent")
    chooser_ = as_agent(chooser, "chooser") if chooser is not None else None
    rows = list(tasks)

    transcripts, skipped = generate_transcripts(rows, protocols, GenerationContext(agent_, cfg.protocol, chooser_))
    records, variants = judge_transcript_sets(judge_agent, transcripts, cfg)
    direct: dict[str, int] = {}
    if any(JUDGE_PROTOCOLS.get(p).derive is not None for p in protocols):
        direct = direct_answers(agent_, judge_agent, records, rows, cfg.seed)
    records = derive_protocols(records, protocols, direct, skipped)

    results: dict[str, Any] = {"judge": judge_name, "n_tasks": len(rows),
                               "tasks": dict(sorted(_count(r["task"] for r in rows).items())),
                               "config": _config_dict(cfg, protocols), "skipped": skipped}
    results.update(summarise_protocols(records, protocols, variants, cfg))
    if direct:
        results["agent_direct_accuracy"] = sum(direct[r["id"]] == r["correct"] for r in rows) / len(rows)

    if elo_debaters and len(elo_debaters) >= 2:
        elo_out, elo_recs, elo_transcripts = cross_play_elo(judge_agent, rows, elo_debaters, cfg, chooser_)
        results["elo"] = elo_out
        records["cross_play"] = elo_recs
        transcripts["cross_play"] = elo_transcripts

    results["seconds"] = round(time.time() - start, 1)
    if out_dir is not None:
        write_outputs(results, transcripts, records, out_dir)
    if keep_records:  # every per-question verdict, for callers that save them (the eval hook)
        results["records"] = records
    return results


def cross_play_elo(judge: Agent, rows: Sequence[dict], debaters: dict[str, Any], cfg: JudgeEvalConfig,
                   chooser: Agent | None = None) -> tuple[dict, list[dict], list[dict]]:
    """One-round debates between every ordered pair of debaters (so each plays both sides against each
    other), judged; Elo overall and by correct/incorrect side with bootstrap CIs clustered by question, and
    judge accuracy per debater pairing."""
    agents = {n: Agent(ag.backend, ag.render, n) for n, ag in ((n, as_agent(a, n)) for n, a in debaters.items())}
    sub = list(rows[: cfg.elo_rows] if cfg.elo_rows else rows)
    one_round = ProtocolConfig(**{**asdict(cfg.protocol), "rounds": 1})
    transcripts, recs = [], []
    for a, b in itertools.permutations(agents, 2):
        ts = run_debate(sub, (agents[a], agents[b]), one_round, chooser=chooser, tag=f"{a}-{b}:")
        transcripts += ts
        recs += judge_transcripts(judge, ts, cfg.judge, few_shot_pool=ts)
    games, clusters = st.debate_games(recs)
    games_split, _ = st.debate_games(recs, split_sides=True)
    out = {"overall": st.elo_with_ci(games, cfg.elo_bootstrap, cfg.confidence, cfg.seed, clusters=clusters),
           "by_side": st.elo_with_ci(games_split, cfg.elo_bootstrap, cfg.confidence, cfg.seed, clusters=clusters),
           "n_games": len(games),
           "judge_accuracy": st.accuracy_normal_ci(recs, cfg.confidence).as_dict()}
    return out, recs, transcripts


def _count(items) -> dict:
    out: dict = defaultdict(int)
    for x in items:
        out[x] += 1
    return dict(out)


def _config_dict(cfg: JudgeEvalConfig, protocols: Sequence[str]) -> dict:
    d = asdict(cfg)
    d["protocols"] = list(protocols)
    return d


def write_outputs(results: dict, transcripts: dict, records: dict, out_dir: str | Path) -> dict:
    """results.json, transcripts.jsonl, judgements.jsonl and accuracy.png under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_rows = [{"judge": results["judge"], "task_type": tt, "protocols": protos}
                 for tt, protos in results["by_task_type"].items()]
    results["plot"] = str(plot_accuracy(plot_rows, out / "accuracy.png",
                                        title=f"judge accuracy, {results['n_tasks']} questions"))
    # any model text (lone surrogates are escaped); NaN as json.dumps writes it
    write_jsonl((t for ts in transcripts.values() for t in ts), out / "transcripts.jsonl", allow_nan=True)
    write_jsonl((r for rs in records.values() for r in rs), out / "judgements.jsonl", allow_nan=True)
    results["files"] = {"results": str(out / "results.json"), "transcripts": str(out / "transcripts.jsonl"),
                        "judgements": str(out / "judgements.jsonl"), "plot": results["plot"]}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=_json_default), encoding="utf-8")
    return results["files"]


def _json_default(x):
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")
