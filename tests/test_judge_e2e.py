"""End to end on CPU with real models (no fakes): extractive rows through every protocol, judged, every
metric in the results JSON, judgements re-scored independently from the written files, the plot written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tooljudge.data_prep.judge_tasks import generate_extractive
from tooljudge.eval.judge_eval import JudgeEvalConfig, evaluate_judge
from tooljudge.eval.judge_protocol_registry import BUILTIN_PROTOCOLS as PROTOCOLS
from tooljudge.eval.judge_protocols import Agent, ProtocolConfig, chat_renderer
from transformers import AutoTokenizer

from tooljudge.core.backends import TransformersBackend
from tooljudge.models import smollm2_checkpoint, tiny_model_dir


class Sampled:
    """The same model sampling at temperature 1 (a second, noisier debater for the Elo cross-play)."""

    def __init__(self, backend):
        self.backend = backend

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        return self.backend.generate(prompts, max_new_tokens, 1.0, stop, seed)

    def label_probs(self, prompts, labels):
        return self.backend.label_probs(prompts, labels)


@pytest.fixture(scope="module")
def smol_tokenizer():
    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


def run(model_dir, tok, n_rows, out, rounds=2, max_new_tokens=6, word_limit=6, family="chatml", best_of_n=2):
    backend = TransformersBackend(str(model_dir), batch_size=16)
    render = chat_renderer(tok, family=family)
    judge = Agent(backend, render, "judge")
    cfg = JudgeEvalConfig(protocol=ProtocolConfig(rounds=rounds, best_of_n=best_of_n, word_limit=word_limit,
                                                  max_new_tokens=max_new_tokens),
                          n_resamples=1000, elo_bootstrap=50)
    debaters = {"greedy": judge, "sampled": Agent(Sampled(backend), render, "sampled")}
    rows = generate_extractive(n_rows, seed=0, towns_per_article=2)
    return rows, evaluate_judge(judge, rows, PROTOCOLS, elo_debaters=debaters, config=cfg, out_dir=out,
                                judge_name="judge")


def check_results(rows, res, out: Path, rounds: int):
    saved = json.loads((out / "results.json").read_text())
    assert saved["protocols"].keys() == res["protocols"].keys()
    expected = set(PROTOCOLS) | {f"debate_r{r}" for r in range(1, rounds)}
    assert set(res["protocols"]) == expected
    for name, p in res["protocols"].items():
        for key in ("accuracy", "normal_ci", "bootstrap_ci", "unparsable", "position_bias", "by_task"):
            assert key in p, (name, key)
        assert p["normal_ci"]["low"] <= p["accuracy"] <= p["normal_ci"]["high"] or p["normal_ci"]["n"] < 2
    assert res["protocols"]["consultancy"]["n_judgements"] == 4 * len(rows)  # 2 sides x 2 orders
    assert res["protocols"]["qa"]["position_bias"]["n_swap_pairs"] == len(rows)
    for name in ("open_consultancy", "open_debate"):
        split = res["protocols"][name]["open_split"]
        assert split["agent_correct"]["n"] + split["agent_wrong"]["n"] == len(rows) or name == "open_consultancy"
    assert "consultant_agreement" in res["protocols"]["consultancy"]
    assert len(res["comparisons"]) == len(PROTOCOLS) * (len(PROTOCOLS) - 1) // 2
    assert all(0 <= c["p_value"] <= 1 for c in res["comparisons"].values())
    assert set(res["round_comparisons"]) == {f"debate_r{rounds}_vs_r{r}" for r in range(1, rounds)}
    elo = res["elo"]
    assert set(elo["overall"]) == {"greedy", "sampled"}
    assert set(elo["by_side"]) == {f"{m}|{s}" for m in ("greedy", "sampled") for s in ("correct", "incorrect")}
    assert elo["n_games"] == 2 * len(rows) * 2  # 2 pairings x rows x 2 orders
    assert np.mean([v["estimate"] for v in elo["overall"].values()]) == pytest.approx(1000.0)
    # independent re-scoring of the written judgements: per-question mean, then mean over questions
    judgements = [json.loads(x) for x in (out / "judgements.jsonl").read_text().splitlines()]
    for name in ("qa", "debate", "consultancy"):
        recs = [j for j in judgements if j["protocol"] == name and ":r" not in j["transcript_id"]]
        per_q = {}
        for j in recs:
            per_q.setdefault(j["id"], []).append(j["is_correct"])
        acc = float(np.mean([np.mean(v) for v in per_q.values()]))
        assert res["protocols"][name]["accuracy"] == pytest.approx(acc)
    transcripts = [json.loads(x) for x in (out / "transcripts.jsonl").read_text().splitlines()]
    debate = [t for t in transcripts if t["protocol"] == "debate" and t["transcript_id"].endswith(":debate:01")]
    assert len(debate) == len(rows) and all(len(t["turns"]) == 2 * rounds for t in debate)
    assert all(len(turn["text"].split()) <= 8 for t in debate for turn in t["turns"])  # word limit (+ tags)
    png = (out / "accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def tiny_run(tmp_path, n_rows, rounds=2):
    """A 2-layer random model over a 512-token ChatML BPE (tests/train_support.py; a 49k-row LM head would
    dominate the CPU time), rendered with the Qwen2.5 template SmolLM2 uses for tools. One torch thread: on a
    shared 2-core machine the tiny model's small matmuls run faster without thread contention."""
    import train_support as ts

    model = tiny_model_dir(ts.tiny_tokenizer(), tmp_path / "tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows, res = run(model, AutoTokenizer.from_pretrained(model), n_rows, tmp_path / "out", family="qwen25",
                        max_new_tokens=4, rounds=rounds)
    finally:
        torch.set_num_threads(threads)
    check_results(rows, res, tmp_path / "out", rounds=rounds)


def test_tiny_model_every_protocol_small(tmp_path):
    """Fast default version: 3 extractive rows, every protocol, 2 rounds, Best-of-2, Elo cross-play."""
    tiny_run(tmp_path, 3)


@pytest.mark.slow
def test_tiny_model_fifty_extractive_rows_every_protocol(tmp_path):
    tiny_run(tmp_path, 50)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smollm2_every_protocol(tmp_path, smol_tokenizer):
    """The real bundled model as debaters, consultant and judge (slow on CPU: 135M parameters; about 10 min on
    a loaded 2-core machine)."""
    rows, res = run(smollm2_checkpoint(), smol_tokenizer, 3, tmp_path / "out", rounds=1, max_new_tokens=16,
                    word_limit=6, best_of_n=1)
    check_results(rows, res, tmp_path / "out", rounds=1)
    # a pretrained judge's label probabilities are not degenerate
    assert all(j["p_correct"] not in (0.0, 1.0) for j in (json.loads(x) for x in
               (tmp_path / "out" / "judgements.jsonl").read_text().splitlines()))
