"""Is the judge's cue linearly readable from the frozen model? A probe diagnostic for issue 22 item 3.

The judge-effect run (``tooljudge.train.judge_effect``) trained a SmolLM2-135M judge by SFT + DPO on the
scripted arguer's transcripts and left it at chance: DPO loss stayed at ln 2. The cue it had to learn is in the
text: the scripted consultant / debater for the wrong answer quotes a true line about *another* town than the
one the question asks about (``tooljudge.eval.scripted_agent``). This module asks where the signal is lost:

1. the same extractive rows, split by question, and the same scripted transcripts (``split_by_question``,
   ``make_agent``, ``make_transcripts`` of the judge-effect pipeline);
2. a rule with no model: the quote that names the question's town (every capitalised word of the question
   after its first word) is the honest side. Its held-out accuracy says whether the cue is in the text;
3. the exact prompt the judge reads (``judge_messages`` rendered by ``chat_renderer``, tokenised as
   ``TransformersBackend`` does, both answer orders) and the blind prompt (``blind_view``: no transcript), run
   through the frozen model; the last prompt token's hidden state at a few layers (``final``: the input of the
   LM head, what the A/B label logits are read from) and the model's own A/B label probabilities;
4. an L2 logistic regression per protocol, view (full / blind), layer and target, its penalty chosen by
   question-grouped cross-validation on the train side only; held-out accuracy with a Wilson 95% CI and an
   exact two-sided binomial p against 0.5. Targets: ``label`` (the correct label is A: what the judge must
   output) and, in consultancy, ``honest`` (the consultant argues the correct answer: the cue itself, the same
   in both answer orders; ``label`` is ``honest`` XOR "the consultant's answer is shown as A").

Judgements within a question are not independent (a question gives 2 judgements in debate and 4 in
consultancy, and questions repeat over rows), so the CIs and p-values over judgements are narrower than the
questions warrant; ``n_questions`` says how many clusters are behind each figure.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tooljudge.train.judge_effect import JudgeDataSettings

from tooljudge.config import setting

VIEWS = ("full", "blind")


@dataclass(kw_only=True)
class JudgeProbeConfig(JudgeDataSettings):
    """One probe run: the judge-effect run's data settings (``JudgeDataSettings``), defaulting to those of the
    first H200 judge run (benchmarks/results/h200_2026-11-30_judge_effect, as the 2026-12-01 probe ran), plus the
    probe's own."""

    out_dir: str = setting(help="result folder; probe_summary.json and probe_rows.jsonl.gz must not exist")
    protocols: str = setting("consultancy,debate", "comma-separated: consultancy, debate")
    n_rows: int = setting(2000, "extractive rows generated (as the GPU run, so the split is the same)")
    towns_per_article: int = setting(3, "towns per generated article")
    rounds: int = setting(2, "debate / consultancy rounds")
    word_limit: int = setting(60, "words of an argument the judge sees")
    max_train_rows: int = setting(140, "train-side rows used at most (the first ones)")
    max_heldout_rows: int = setting(70, "held-out rows used at most (the first ones)")
    layers: str = setting("4,8,16,24,final", "hidden states probed: indices into output_hidden_states (0: "
                          "embeddings, i: after block i) and 'final' (the LM head's input)")
    penalties: str = setting("1e-4,1e-3,1e-2,1e-1,1,10", "L2 penalties tried (on the mean log-loss, "
                             "standardised features)")
    cv_folds: int = setting(5, "question-grouped folds of the penalty search (train side only)")
    batch_size: int = setting(8, "prompts per forward pass")

    def protocol_list(self) -> list[str]:
        names = [p.strip() for p in self.protocols.split(",") if p.strip()]
        bad = [p for p in names if p not in ("consultancy", "debate")]
        if bad or not names:
            raise ValueError(f"protocols: consultancy and/or debate (the ones with a transcript), got "
                             f"{self.protocols!r}")
        return names

    def layer_list(self) -> list[str]:
        names = [x.strip() for x in self.layers.split(",") if x.strip()]
        for x in names:
            if x != "final" and not x.isdigit():
                raise ValueError(f"layers: integers or 'final', got {x!r}")
        if not names:
            raise ValueError("layers: none given")
        return names

    def penalty_list(self) -> list[float]:
        vals = [float(x) for x in self.penalties.split(",") if x.strip()]
        if not vals or any(v <= 0 for v in vals):
            raise ValueError(f"penalties: positive numbers, got {self.penalties!r}")
        return vals


# ------------------------------------------------------------------------------------------------ the cue


_QUOTE = re.compile(r"<[vu]_quote>(.*?)</[vu]_quote>", re.S)
_CAPITAL = re.compile(r"\b[A-Z][A-Za-z]*\b")


def question_names(question: str) -> list[str]:
    """The capitalised words of the question after its first word: the town it asks about ("Who founded Marrow
    Bay?" -> Marrow, Bay)."""
    words = question.split()
    return _CAPITAL.findall(" ".join(words[1:]))


def names_town(text: str, question: str) -> bool:
    """Whether any quote in ``text`` names the question's town (all its words, as whole words)."""
    names = question_names(question)
    if not names:
        return False
    return any(all(re.search(rf"\b{re.escape(n)}\b", q) for n in names) for q in _QUOTE.findall(text))


def rule_side(transcript: dict) -> int | None:
    """The answer index the rule picks from what the judge sees: in consultancy the consultant's answer when one
    of its quotes names the question's town, else the other answer; in debate the side whose quotes (and only
    whose) name it. None on a tie (both or neither side in debate)."""
    question = transcript["question"]
    naming = {turn["side"] for turn in transcript["turns"] if names_town(turn["text"], question)}
    if transcript["protocol"] == "consultancy":
        side = transcript["assignment"]
        return side if side in naming else 1 - side
    return next(iter(naming)) if len(naming) == 1 else None


# ------------------------------------------------------------------------------------------------ judgements


def judgements(transcripts: dict[str, list[dict]], split: str, render) -> list[dict]:
    """One record per transcript and answer order: the full and blind prompts (rendered), the label, the
    consultancy target ``honest`` and the rule's label."""
    from tooljudge.eval.judge_data import blind_view
    from tooljudge.eval.judges import LABELS, correct_label, displayed, judge_messages

    out = []
    for protocol, ts in transcripts.items():
        for t in ts:
            side = rule_side(t)
            for order in (0, 1):
                label = correct_label(t, order)
                rule = LABELS[displayed(t, order).index(side)] if side is not None else None
                out.append({"key": f"{t['transcript_id']}#{order}", "protocol": protocol, "split": split,
                            "id": t["id"], "question": t["question"], "transcript_id": t["transcript_id"],
                            "order": order, "label": label,
                            "honest": (t["assignment"] == t["correct"]) if protocol == "consultancy" else None,
                            "rule_label": rule,
                            "prompt_full": render(judge_messages(t, order)),
                            "prompt_blind": render(judge_messages(blind_view(t), order))})
    return out


# ------------------------------------------------------------------------------------------------ features


def prompt_features(model, tokenizer, prompts: Sequence[str], layers: Sequence[str], batch_size: int = 8,
                    progress: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Last-token hidden states ``{layer: (n, hidden)}`` and P(A) normalised over the A/B label tokens ``(n,)``
    of each prompt, from one no-grad forward pass (left padding with real-token positions, as
    ``TransformersBackend.label_probs``; tokenised with ``encode_rendered`` as its ``_encode``)."""
    import torch
    from tqdm.auto import tqdm

    from tooljudge.core.backends import label_token_ids
    from tooljudge.core.control_text import encode_rendered

    ids = [encode_rendered(tokenizer, p) for p in prompts]
    label_ids = label_token_ids(tokenizer, ("A", "B"))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    head = model.get_output_embeddings()
    captured: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda _m, args: captured.append(args[0][:, -1, :].detach()))
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    feats = {layer: np.zeros((len(ids), model.config.hidden_size), dtype=np.float32) for layer in layers}
    p_a = np.zeros(len(ids), dtype=np.float64)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in tqdm(range(0, len(order), batch_size), desc="frozen forward", disable=not progress):
                idx = order[start : start + batch_size]
                width = max(len(ids[i]) for i in idx)
                input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    input_ids[row, width - len(ids[i]):] = torch.tensor(ids[i])
                    mask[row, width - len(ids[i]):] = 1
                position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
                captured.clear()
                out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                            position_ids=position_ids.to(device), output_hidden_states=True, logits_to_keep=1)
                logp = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)[:, label_ids]
                pa = torch.softmax(logp, dim=-1)[:, 0]
                for layer in layers:
                    h = captured[0] if layer == "final" else out.hidden_states[int(layer)][:, -1, :]
                    feats[layer][idx] = h.float().cpu().numpy()
                p_a[idx] = pa.double().cpu().numpy()
    finally:
        hook.remove()
        model.train(was_training)
    return feats, p_a


# ------------------------------------------------------------------------------------------------ the probe


def fit_logistic(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """Weights and bias minimising mean log-loss + penalty/2 * |w|^2 (bias not penalised), by L-BFGS."""
    from scipy.optimize import minimize

    n, d = x.shape
    yf = y.astype(np.float64)

    def loss(theta):
        w, b = theta[:d], theta[d]
        z = x @ w + b
        # log(1 + e^z) - y z, stable
        value = np.mean(np.logaddexp(0.0, z) - yf * z) + 0.5 * penalty * float(w @ w)
        g = (1.0 / (1.0 + np.exp(-z)) - yf) / n
        return value, np.concatenate([x.T @ g + penalty * w, [g.sum()]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d])


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Features centred and scaled by the train side's mean and standard deviation (constant columns kept at 0)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-8] = 1.0
    return [(a.astype(np.float64) - mean) / std for a in (train, *others)]


def group_folds(groups: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """Indices of ``k`` folds such that no group (question) is in two folds: a seeded shuffle of the distinct
    groups dealt round-robin."""
    distinct = sorted(set(groups))
    if len(distinct) < 2:
        raise ValueError("cross-validation needs at least 2 distinct questions")
    k = min(k, len(distinct))
    random.Random(seed).shuffle(distinct)
    fold_of = {g: i % k for i, g in enumerate(distinct)}
    return [np.array([i for i, g in enumerate(groups) if fold_of[g] == f]) for f in range(k)]


def _log_loss(y: np.ndarray, z: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def choose_penalty(x: np.ndarray, y: np.ndarray, groups: Sequence[str], penalties: Sequence[float], k: int,
                   seed: int) -> tuple[float, dict]:
    """The penalty of least mean held-out-fold log-loss (the larger penalty on a tie), with every fold's
    accuracy and log-loss; features are standardised within each fold's train part."""
    folds = group_folds(groups, k, seed)
    table = {}
    for pen in penalties:
        losses, accs = [], []
        for f, test in enumerate(folds):
            train = np.concatenate([folds[j] for j in range(len(folds)) if j != f])
            xt, xv = standardise(x[train], x[test])
            w, b = fit_logistic(xt, y[train], pen)
            z = xv @ w + b
            losses.append(_log_loss(y[test].astype(np.float64), z))
            accs.append(float(np.mean((z >= 0) == (y[test] == 1))))
        table[pen] = {"cv_log_loss": float(np.mean(losses)), "cv_accuracy": float(np.mean(accs))}
    best = min(penalties, key=lambda p: (round(table[p]["cv_log_loss"], 12), -p))
    return best, {str(p): v for p, v in table.items()}


def accuracy_record(correct: Sequence[bool], questions: Sequence[str]) -> dict:
    """Accuracy, Wilson 95% CI, exact two-sided binomial p against 0.5, n and n_questions."""
    from scipy.stats import binomtest
    from tooljudge.eval.fc_metrics import wilson_ci

    n, k = len(correct), int(sum(bool(c) for c in correct))
    if n == 0:
        return {"accuracy": None, "k": 0, "n": 0, "n_questions": 0}
    low, high = wilson_ci(k, n)
    return {"accuracy": k / n, "ci": [low, high], "p_vs_half": float(binomtest(k, n, 0.5).pvalue), "k": k, "n": n,
            "n_questions": len(set(questions))}


def probe(x_train: np.ndarray, y_train: np.ndarray, q_train: Sequence[str], x_held: np.ndarray,
          y_held: np.ndarray, q_held: Sequence[str], penalties: Sequence[float], folds: int, seed: int
          ) -> tuple[dict, np.ndarray]:
    """Penalty by grouped CV on the train side, refit on all of it, scored on the held-out side. Returns the
    record and the held-out P(y=1)."""
    pen, cv = choose_penalty(x_train, y_train, q_train, penalties, folds, seed)
    xt, xh = standardise(x_train, x_held)
    w, b = fit_logistic(xt, y_train, pen)
    z_train, z_held = xt @ w + b, xh @ w + b
    rec = accuracy_record(list((z_held >= 0) == (y_held == 1)), q_held)
    rec.update({"penalty": pen, "train_accuracy": float(np.mean((z_train >= 0) == (y_train == 1))),
                "heldout_log_loss": _log_loss(y_held.astype(np.float64), z_held), "cv": cv})
    return rec, 1.0 / (1.0 + np.exp(-z_held))


# ------------------------------------------------------------------------------------------------ the run


def build_judgements(cfg: JudgeProbeConfig, render) -> tuple[list[dict], dict]:
    """Rows, split, transcripts and judgement records of both sides; the row counts."""
    from tooljudge.data_prep.judge_tasks import generate_tasks
    from tooljudge.train.judge_effect import make_agent, make_transcripts, split_by_question

    protocols = cfg.protocol_list()
    rows = generate_tasks("extractive", cfg.n_rows, seed=cfg.seed, towns_per_article=cfg.towns_per_article)
    train_rows, held_rows = split_by_question(rows, cfg.heldout_fraction, cfg.seed)
    train_rows, held_rows = train_rows[: cfg.max_train_rows], held_rows[: cfg.max_heldout_rows]
    agent = make_agent(cfg, cfg.batch_size)
    items = (judgements(make_transcripts(train_rows, protocols, agent, cfg), "train", render)
             + judgements(make_transcripts(held_rows, protocols, agent, cfg), "heldout", render))
    counts = {"generated": len(rows), "train": len(train_rows), "heldout": len(held_rows),
              "train_questions": len({r["question"] for r in train_rows}),
              "heldout_questions": len({r["question"] for r in held_rows})}
    return items, counts


def analyse(items: list[dict], feats: dict[str, dict[str, np.ndarray]], p_a: dict[str, np.ndarray],
            cfg: JudgeProbeConfig) -> tuple[dict, dict[str, dict]]:
    """Rule, untrained-choice and probe records per protocol (and view, target, layer); held-out probe
    P(target) per judgement key. ``feats[view][layer]`` and ``p_a[view]`` are row-aligned with ``items``."""
    out: dict[str, Any] = {}
    preds: dict[str, dict] = {it["key"]: {} for it in items if it["split"] == "heldout"}
    for protocol in cfg.protocol_list():
        sel = {s: np.array([i for i, it in enumerate(items) if it["protocol"] == protocol and it["split"] == s])
               for s in ("train", "heldout")}
        held = [items[i] for i in sel["heldout"]]
        qh = [it["question"] for it in held]
        rec: dict[str, Any] = {
            "rule": {**accuracy_record([it["rule_label"] == it["label"] for it in held], qh),
                     "ties": sum(it["rule_label"] is None for it in held)},
            "rule_train": accuracy_record([items[i]["rule_label"] == items[i]["label"] for i in sel["train"]],
                                          [items[i]["question"] for i in sel["train"]]),
            "untrained_choice": {}, "probe": {}}
        targets = {"label": np.array([it["label"] == "A" for it in items], dtype=np.int64)}
        if protocol == "consultancy":
            targets["honest"] = np.array([bool(it["honest"]) for it in items], dtype=np.int64)
        for view in VIEWS:
            pa = p_a[view][sel["heldout"]]
            ya = targets["label"][sel["heldout"]] == 1
            rec["untrained_choice"][view] = {**accuracy_record(list((pa >= 0.5) == ya), qh),
                                             "mean_p_correct": float(np.mean(np.where(ya, pa, 1 - pa))),
                                             "share_chose_A": float(np.mean(pa >= 0.5))}
            rec["probe"][view] = {}
            for target, y in targets.items():
                rec["probe"][view][target] = {}
                for layer in cfg.layer_list():
                    x = feats[view][layer]
                    r, ph = probe(x[sel["train"]], y[sel["train"]], [items[i]["question"] for i in sel["train"]],
                                  x[sel["heldout"]], y[sel["heldout"]], qh, cfg.penalty_list(), cfg.cv_folds,
                                  cfg.seed)
                    rec["probe"][view][target][layer] = r
                    for it, p in zip(held, ph, strict=True):
                        preds[it["key"]][f"{view}/{target}/{layer}"] = round(float(p), 4)
        out[protocol] = rec
    return out, preds


def run_judge_probe(cfg: JudgeProbeConfig, model=None, tokenizer=None, progress: bool = True) -> dict:
    """The whole diagnostic (module docstring): writes ``<out_dir>/probe_summary.json`` and
    ``<out_dir>/probe_rows.jsonl.gz`` (every judgement without its prompts: split, label, rule label, the
    model's P(A) full and blind, held-out probe probabilities) and returns the summary. ``model`` /
    ``tokenizer``: an already loaded model (tests); else ``judge_model`` is loaded in float32."""
    import torch
    from tooljudge.eval.judge_protocols import chat_renderer

    from tooljudge.core.control_text import encode_rendered

    started = time.time()
    out = Path(cfg.out_dir)
    summary_path, rows_path = out / "probe_summary.json", out / "probe_rows.jsonl.gz"
    for p in (summary_path, rows_path):
        if p.exists():
            raise FileExistsError(f"{p} exists: choose a new out_dir (results are never overwritten)")
    layers = cfg.layer_list()
    cfg.penalty_list()
    if model is None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from tooljudge.models import resolve_model_path

        path = resolve_model_path(cfg.judge_model)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.eval()
    render = chat_renderer(tokenizer, cfg.family)
    items, counts = build_judgements(cfg, render)
    timings = {"judgements_s": round(time.time() - started, 1)}

    feats: dict[str, dict[str, np.ndarray]] = {}
    p_a: dict[str, np.ndarray] = {}
    lengths: dict[str, dict[str, float]] = {}
    for view in VIEWS:
        t0 = time.time()
        prompts = [it[f"prompt_{view}"] for it in items]
        unique = list(dict.fromkeys(prompts))  # blind consultancy prompts repeat (both consultants, same view)
        f, pa = prompt_features(model, tokenizer, unique, layers, cfg.batch_size, progress)
        where = {p: i for i, p in enumerate(unique)}
        rows = np.array([where[p] for p in prompts])
        feats[view] = {layer: f[layer][rows] for layer in layers}
        p_a[view] = pa[rows]
        n_tok = [len(encode_rendered(tokenizer, p)) for p in unique]
        lengths[view] = {"unique_prompts": len(unique), "mean_tokens": float(np.mean(n_tok)),
                         "max_tokens": int(max(n_tok))}
        timings[f"forward_{view}_s"] = round(time.time() - t0, 1)
    t0 = time.time()
    protocols, preds = analyse(items, feats, p_a, cfg)
    timings["probe_s"] = round(time.time() - t0, 1)
    timings["total_s"] = round(time.time() - started, 1)

    summary = {"protocols": protocols, "config": asdict(cfg), "rows": counts,
               "judgements": {p: {s: sum(it["protocol"] == p and it["split"] == s for it in items)
                                  for s in ("train", "heldout")} for p in cfg.protocol_list()},
               "prompts": lengths, "timings": timings, "torch_threads": torch.get_num_threads(),
               "unit": "judgement (transcript x answer order); CIs and p over judgements, clusters = n_questions"}
    out.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    with gzip.open(rows_path, "wt", encoding="utf-8") as fh:
        for i, it in enumerate(items):
            rec = {k: v for k, v in it.items() if not k.startswith("prompt_")}
            rec["p_A"] = {v: round(float(p_a[v][i]), 6) for v in VIEWS}
            if it["key"] in preds and it["split"] == "heldout":
                rec["probe_p"] = preds[it["key"]]
            fh.write(json.dumps(rec) + "\n")
    return summary


def table(summary: dict) -> str:
    """A plain-text table of the held-out figures."""
    lines = []
    fmt = "{:<12} {:<6} {:<7} {:<6} {:>6} {:>15} {:>9} {:>7} {:>8}"
    lines.append(fmt.format("protocol", "view", "target", "layer", "acc", "wilson95", "p_vs_0.5", "n", "penalty"))
    for protocol, rec in summary["protocols"].items():
        r = rec["rule"]
        lines.append(fmt.format(protocol, "text", "label", "rule", f"{r['accuracy']:.3f}",
                                f"[{r['ci'][0]:.3f},{r['ci'][1]:.3f}]", _p(r["p_vs_half"]), r["n"], "-"))
        for view, u in rec["untrained_choice"].items():
            lines.append(fmt.format(protocol, view, "label", "model", f"{u['accuracy']:.3f}",
                                    f"[{u['ci'][0]:.3f},{u['ci'][1]:.3f}]", _p(u["p_vs_half"]), u["n"], "-"))
        for view, targets in rec["probe"].items():
            for target, by_layer in targets.items():
                for layer, p in by_layer.items():
                    lines.append(fmt.format(protocol, view, target, layer, f"{p['accuracy']:.3f}",
                                            f"[{p['ci'][0]:.3f},{p['ci'][1]:.3f}]", _p(p["p_vs_half"]), p["n"],
                                            f"{p['penalty']:g}"))
    return "\n".join(lines)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}" if p > 0 else "0"

