"""Does training a judge on the toolkit's judge data help? Trained vs untrained vs blind, paired, held out.

Issue 22 item 3. One run:

1. extractive judge tasks (``generate_extractive``), split by *question text* into train and held-out sides
   (no question on both sides; a question repeats over articles, so splitting rows would leak it);
2. consultancy and debate transcripts from an agent: the scripted arguer (``tooljudge.eval.scripted_agent``, a
   stand-in for a strong model) or a model (``bundled:smollm2``);
3. three judges from one starting model: *untrained*; *trained* (SFT then DPO on ``judge_sft_rows`` /
   ``judge_dpo_pairs`` of the train-side transcripts); *blind* (the same two stages on the same rows with the
   transcript removed, ``blind=True``: the control that learns the question and answers but not the debate);
4. every judge judges every held-out transcript in both answer orders (label probabilities); per protocol:
   accuracy over judgements with Wilson CIs, paired tests (``tooljudge.eval.paired_stats``) trained vs
   untrained and trained vs blind on the same judgements, clustered by question;
5. the ``"judge"`` key of ``<out_dir>/effect_summary.json`` (other keys kept) and every verdict under
   ``<out_dir>/judge/`` (the thin script packs them into ``judge/rows.tar.xz``).

A question (one held-out row) gives 2 judgements in debate and 4 in consultancy (two sides, two orders). They
are not independent within a question, so the unit of the paired test is the question: ``clustered_comparison``,
an exact sign-flip test on each question's change in right judgements; ``n`` counts judgements, ``n_questions``
the clusters behind them. The Wilson CIs are still over judgements (narrower than the questions warrant).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tooljudge.config import setting

JUDGE_PROTOCOL_NAMES = ("qa", "consultancy", "debate")  # the registered protocols this pipeline runs
JUDGES = ("untrained", "trained", "blind")


@dataclass(kw_only=True)
class JudgeDataSettings:
    """What the judges are shown: the starting judge, the arguers, the extractive rows, their split by question
    and the transcripts' shape. The judge-effect run and the probe (``tooljudge.train.judge_probe``) both hold
    these, so one set of settings builds the same judgements in both."""

    judge_model: str = setting("bundled:smollm2", "the judge's starting model (name or folder)")
    agent: str = setting("scripted", "consultant/debaters: 'scripted' (the article-quoting stand-in) or a model "
                         "name or folder (e.g. bundled:smollm2)")
    family: str = setting("chatml", "chat family the judge is trained and prompted with")
    protocols: str = setting("consultancy,debate", "comma-separated, from qa, consultancy, debate")
    n_rows: int = setting(240, "extractive rows generated (both sides together)")
    heldout_fraction: float = setting(0.3, "share of distinct questions held out for the evaluation")
    towns_per_article: int = setting(2, "towns per generated article")
    rounds: int = setting(1, "debate / consultancy rounds")
    word_limit: int = setting(40, "words of an argument the judge sees")
    agent_max_new_tokens: int = setting(64, "new tokens per argument of a model agent")
    seed: int = setting(0, "task generation, split and training seed")


@dataclass(kw_only=True)
class JudgeEffectConfig(JudgeDataSettings):
    """One judge-effect run (defaults: the CPU preset, recipes/judge_effect_cpu.yaml)."""

    out_dir: str = setting(help="result folder (benchmarks/results/<run>); its judge/ subfolder must not exist")
    work_dir: str = setting("runs/judge_effect", "training outputs and checkpoints (not committed)")
    max_eval_rows: int = setting(60, "held-out rows judged at most (the first ones)")
    sft_steps: int = setting(60, "SFT steps")
    dpo_steps: int = setting(30, "DPO steps")
    batch_size: int = setting(4, "training batch size")
    sft_learning_rate: float = setting(2e-4, "SFT learning rate (LoRA)")
    dpo_learning_rate: float = setting(5e-5, "DPO learning rate (LoRA)")
    beta: float = setting(0.1, "DPO beta")
    lora_r: int = setting(16, "LoRA rank; 0 trains every weight (full fine-tuning, DPO against a frozen copy)")
    max_length: int = setting(1024, "training sequence length")
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass: less memory, "
                                           "slower steps")
    dtype: str = setting("float32", "weights dtype", choices=("float32", "bfloat16"))
    use_cpu: bool = setting(True, "train on the CPU even when a GPU is present")
    eval_batch_size: int = setting(8, "judge prompts per forward pass")
    judge_reasoning: str = setting(
        "none", "the trained judge's target: 'none' (the bare letter) or 'scripted' (a rule-written reasoning "
        "about which town each quote is about, then the letter: tooljudge.eval.judge_rationales); with 'scripted' "
        "the trained and untrained judges are prompted to reason first and judged after their own reasoning, the "
        "blind control keeps bare letters (it has no quotes to reason about)", choices=("none", "scripted"))
    cot_max_new_tokens: int = setting(72, "new tokens of a judge's reasoning (judge_reasoning: scripted)")

    def protocol_list(self) -> list[str]:
        """The protocols to run: registered names (an unknown one gets the registry's did-you-mean) that this
        pipeline generates transcripts for."""
        from tooljudge.eval.judge_protocol_registry import JUDGE_PROTOCOLS

        names = JUDGE_PROTOCOLS.check(p.strip() for p in self.protocols.split(",") if p.strip())
        unsupported = [p for p in names if p not in JUDGE_PROTOCOL_NAMES]
        if unsupported or not names:
            raise ValueError(f"protocols: this pipeline runs {', '.join(JUDGE_PROTOCOL_NAMES)}; got "
                             f"{self.protocols!r}")
        return names


# ------------------------------------------------------------------------------------------------ data


def split_by_question(rows: Sequence[dict], heldout_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Train / held-out rows such that no question text is on both sides: a seeded shuffle of the distinct
    questions, the first ``heldout_fraction`` of them (at least one) held out."""
    questions = sorted({r["question"] for r in rows})
    if len(questions) < 2:
        raise ValueError(f"need at least 2 distinct questions to split, got {len(questions)}")
    random.Random(seed).shuffle(questions)
    k = min(len(questions) - 1, max(1, round(heldout_fraction * len(questions))))
    held = set(questions[:k])
    return [r for r in rows if r["question"] not in held], [r for r in rows if r["question"] in held]


def make_transcripts(rows: Sequence[dict], protocols: Sequence[str], agent: Any, cfg: JudgeDataSettings
                     ) -> dict[str, list[dict]]:
    """Each protocol's transcripts of ``rows`` from ``agent`` (an ``Agent``), through the protocol registry."""
    from tooljudge.eval.judge_eval import generate_transcripts
    from tooljudge.eval.judge_protocol_registry import GenerationContext
    from tooljudge.eval.judge_protocols import ProtocolConfig

    pcfg = ProtocolConfig(rounds=cfg.rounds, word_limit=cfg.word_limit, max_new_tokens=cfg.agent_max_new_tokens,
                          seed=cfg.seed)
    transcripts, skipped = generate_transcripts(rows, protocols, GenerationContext(agent, pcfg))
    if skipped:
        raise ValueError(f"rows skipped by protocols: {skipped}")
    return transcripts


def scripted_reasonings(transcripts: Sequence[dict]
                        ) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """Rule-written reasonings (``judge_rationales.scripted_rationale``) of every transcript in both orders,
    ending in their verdict, and the judgements left without one with the reason."""
    from tooljudge.eval.judge_rationales import NoRationale, scripted_rationale
    from tooljudge.eval.judges import verdict_text

    reasonings, missing = {}, {}
    for t in transcripts:
        for order in (0, 1):
            key = (t["transcript_id"], order)
            try:
                r = scripted_rationale(t, order)
            except NoRationale as exc:
                missing[key] = exc.reason
                continue
            reasonings[key] = verdict_text(r.label, True, r.text)
    return reasonings, missing


def training_files(transcripts: dict[str, list[dict]], data_dir: Path, blind: bool,
                   reasoning: str = "none") -> dict[str, Any]:
    """Judge SFT rows and DPO pairs of every train-side transcript (both orders), blind or not. With
    ``reasoning="scripted"`` (never blind) the SFT target is the rule-written reasoning then the letter, and each
    DPO pair is that reasoning ending in the right letter against the same reasoning ending in the wrong one."""
    from tooljudge.eval.judge_data import judge_cot_dpo_pairs, judge_dpo_pairs, judge_sft_rows, write_jsonl

    every = [t for ts in transcripts.values() for t in ts]
    if reasoning == "scripted" and not blind:
        reasonings, missing = scripted_reasonings(every)
        sft, sft_report = judge_sft_rows(every, cot=True, reasonings=reasonings, missing_reasons=missing)
        dpo, dpo_report = judge_cot_dpo_pairs(every, {k: [v] for k, v in reasonings.items()})
    elif reasoning in ("none", "scripted"):
        sft, sft_report = judge_sft_rows(every, blind=blind)
        dpo, dpo_report = judge_dpo_pairs(every, blind=blind)
    else:
        raise ValueError(f"judge_reasoning: 'none' or 'scripted', got {reasoning!r}")
    if not sft:
        raise ValueError(f"no judge SFT rows were written: {sft_report.as_dict()}")
    tag = "blind" if blind else "full"
    return {"sft": write_jsonl(sft, data_dir / f"judge_sft_{tag}.jsonl", keep_meta=False),
            "dpo": write_jsonl(dpo, data_dir / f"judge_dpo_{tag}.jsonl", keep_meta=False),
            "report": {"sft": sft_report.as_dict(), "dpo": dpo_report.as_dict()}}


# ------------------------------------------------------------------------------------------------ training


def _recipe(cfg: JudgeEffectConfig, kind: str, data: Path, out: Path, init_from: Path | None) -> dict:
    if cfg.lora_r < 0:
        raise ValueError(f"lora_r must be >= 0 (0 = full fine-tuning), got {cfg.lora_r}")
    training = {"output_dir": str(out), "max_steps": cfg.sft_steps if kind == "sft" else cfg.dpo_steps,
                "per_device_train_batch_size": cfg.batch_size, "gradient_accumulation_steps": 1,
                "learning_rate": cfg.sft_learning_rate if kind == "sft" else cfg.dpo_learning_rate,
                "lr_scheduler_type": "constant", "logging_steps": 5, "save_strategy": "no", "seed": cfg.seed,
                "use_cpu": cfg.use_cpu, "max_length": cfg.max_length, "dataloader_num_workers": 0,
                "disable_tqdm": False, "gradient_checkpointing": cfg.gradient_checkpointing,
                "report_to": "none"}
    if kind == "dpo":
        training["beta"] = cfg.beta
    model: dict[str, Any] = {"name_or_path": cfg.judge_model, "dtype": cfg.dtype, "attn_implementation": "sdpa"}
    lora = {"enabled": True, "r": cfg.lora_r, "alpha": 2 * cfg.lora_r, "dropout": 0.0,
            "target_modules": "all-linear"} if cfg.lora_r > 0 else {"enabled": False}
    if init_from is not None:  # DPO continues the SFT adapter or model (TRL keeps a frozen copy as the reference)
        model["init_from"] = str(init_from)
        lora = {"enabled": False}
    return {"kind": kind, "model": model, "lora": lora,
            "data": {"family": cfg.family, "sources": [{"source": str(data), "weight": 1.0}]},
            "training": training}


def train_judge(cfg: JudgeEffectConfig, files: dict[str, Any], out: Path) -> Path:
    """SFT then DPO (continuing the SFT adapter); returns the DPO output folder (a LoRA adapter, or a whole model
    when ``lora_r`` is 0)."""
    from tooljudge.train.dpo import run_dpo
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.sft import run_sft

    sft_dir = run_sft(recipe_from_dict(_recipe(cfg, "sft", files["sft"], out / "sft", None)))
    return run_dpo(recipe_from_dict(_recipe(cfg, "dpo", files["dpo"], out / "dpo", sft_dir)))


# ------------------------------------------------------------------------------------------------ judging


def judge_all(model: str | Path, name: str, transcripts: dict[str, list[dict]], cfg: JudgeEffectConfig
              ) -> list[dict]:
    """One judge's verdicts on every transcript, both answer orders, from its A/B label probabilities (with
    ``judge_reasoning: scripted``, read after the judge's own greedy reasoning, except for the blind control)."""
    from tooljudge.eval.judge_protocols import Agent, chat_renderer
    from tooljudge.eval.judges import JudgeConfig, judge_transcripts

    from tooljudge.core.backends import TransformersBackend
    from tooljudge.models import resolve_model_path

    backend = TransformersBackend(resolve_model_path(str(model)), batch_size=cfg.eval_batch_size)
    judge = Agent(backend, chat_renderer(backend.tokenizer, cfg.family), name)
    records = []
    for ts in transcripts.values():
        records += judge_transcripts(judge, ts, JudgeConfig(
            both_orders=True, seed=cfg.seed, show_progress=True, cot=reasons_first(cfg, name),
            cot_max_new_tokens=cfg.cot_max_new_tokens))
    for rec in records:
        rec["judge"] = name
    return records


def reasons_first(cfg: JudgeEffectConfig, judge_name: str) -> bool:
    """Whether this judge is prompted to reason before its letter: with scripted reasonings, every judge that
    sees the transcript (the trained one and its untrained self, on the same prompt); never the blind one."""
    return cfg.judge_reasoning == "scripted" and judge_name != "blind"


def verdict_key(rec: dict) -> str:
    """A judgement's key, the same for every judge: transcript and answer order."""
    return f"{rec['transcript_id']}#{rec['order']}"


def protocol_summary(verdicts: dict[str, list[dict]], protocol: str) -> dict:
    """The issue's per-protocol record from the three judges' verdicts: accuracies, Wilson CIs, n, and the
    p-values trained vs untrained and trained vs blind on the same judgements, clustered by question."""
    from tooljudge.eval.fc_metrics import wilson_ci
    from tooljudge.eval.paired_stats import clustered_comparison

    correct = {j: {verdict_key(r): bool(r["is_correct"]) for r in verdicts[j] if r["protocol"] == protocol}
               for j in JUDGES}
    n = len(correct["trained"])
    out: dict[str, Any] = {}
    for j in JUDGES:
        k = sum(correct[j].values())
        out[j] = k / n
        out[f"ci_{j}"] = list(wilson_ci(k, n))
    out["ci"] = out["ci_trained"]
    out["n"] = n
    question_of = {verdict_key(r): str(r["id"]) for r in verdicts["trained"] if r["protocol"] == protocol}
    out["n_questions"] = len(set(question_of.values()))
    out["unit"] = "judgement (transcript x answer order); paired test clustered by question"
    for other in ("untrained", "blind"):
        comp = clustered_comparison(correct[other], correct["trained"], question_of)
        out[f"p_trained_vs_{other}"] = comp.p_value
        out[f"trained_vs_{other}"] = comp.as_dict()
    return out


# ------------------------------------------------------------------------------------------------ the run


def make_agent(cfg: JudgeDataSettings, batch_size: int):
    """The consultant / debaters: the scripted stand-in, or a model generating ``batch_size`` prompts at once."""
    from tooljudge.eval.judge_protocols import Agent, chat_renderer
    from tooljudge.eval.scripted_agent import scripted_agent

    if cfg.agent == "scripted":
        return scripted_agent()
    from tooljudge.core.backends import TransformersBackend
    from tooljudge.models import resolve_model_path

    backend = TransformersBackend(resolve_model_path(cfg.agent), batch_size=batch_size)
    return Agent(backend, chat_renderer(backend.tokenizer, cfg.family), cfg.agent)


def run_judge_effect(cfg: JudgeEffectConfig) -> dict:
    """The whole run (module docstring); returns the ``judge`` record written into effect_summary.json."""
    from tooljudge.data_prep.jsonl import write_jsonl
    from tooljudge.data_prep.judge_tasks import generate_tasks
    from tooljudge.train.effect import detect_machine, merge_summary

    started = time.time()
    out, work = Path(cfg.out_dir), Path(cfg.work_dir)
    rows_dir = out / "judge"
    if rows_dir.exists():
        raise FileExistsError(f"{rows_dir} exists: choose a new out_dir (results are never overwritten)")
    protocols = cfg.protocol_list()
    rows = generate_tasks("extractive", cfg.n_rows, seed=cfg.seed, towns_per_article=cfg.towns_per_article)
    train_rows, held_rows = split_by_question(rows, cfg.heldout_fraction, cfg.seed)
    heldout_available = len(held_rows)
    held_rows = held_rows[: cfg.max_eval_rows]
    agent = make_agent(cfg, cfg.eval_batch_size)
    train_ts = make_transcripts(train_rows, protocols, agent, cfg)
    held_ts = make_transcripts(held_rows, protocols, agent, cfg)
    timings = {"transcripts_s": round(time.time() - started, 1)}

    data_dir = work / "data"
    files = {"trained": training_files(train_ts, data_dir, blind=False, reasoning=cfg.judge_reasoning),
             "blind": training_files(train_ts, data_dir, blind=True)}
    models: dict[str, str | Path] = {"untrained": cfg.judge_model}
    for name in ("trained", "blind"):
        t0 = time.time()
        models[name] = train_judge(cfg, files[name], work / name)
        timings[f"train_{name}_s"] = round(time.time() - t0, 1)

    verdicts: dict[str, list[dict]] = {}
    for name in JUDGES:
        t0 = time.time()
        verdicts[name] = judge_all(models[name], name, held_ts, cfg)
        timings[f"judge_{name}_s"] = round(time.time() - t0, 1)

    rows_dir.mkdir(parents=True)
    for name in JUDGES:
        write_jsonl(verdicts[name], rows_dir / f"verdicts_{name}.jsonl")
    write_jsonl([t for ts in held_ts.values() for t in ts], rows_dir / "heldout_transcripts.jsonl")
    write_jsonl([{"id": r["id"], "question": r["question"], "side": side}
                 for side, rs in (("train", train_rows), ("heldout", held_rows)) for r in rs],
                rows_dir / "split.jsonl")
    timings["total_s"] = round(time.time() - started, 1)
    agent_counts = dict(getattr(agent.backend, "counts", {}) or {})
    judge = {"protocols": {p: protocol_summary(verdicts, p) for p in protocols},
             "machine": detect_machine(), "config": asdict(cfg), "timings": timings,
             "rows": {"generated": len(rows), "train": len(train_rows), "heldout_available": heldout_available,
                      "heldout": len(held_rows),
                      "train_questions": len({r["question"] for r in train_rows}),
                      "heldout_questions": len({r["question"] for r in held_rows})},
             "training_data": {k: v["report"] for k, v in files.items()},
             "agent_counts": agent_counts,
             "verdicts": {j: f"judge/verdicts_{j}.jsonl" for j in JUDGES}}
    merge_summary(out / "effect_summary.json", "judge", judge)
    return judge
