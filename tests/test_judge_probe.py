"""The judge probe diagnostic (issue 22 item 3): the rule, the frozen features, the probe, the CLI on a tiny model."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import train_support as ts
from tooljudge.eval.judge_protocols import ProtocolConfig, chat_renderer, run_consultancy, run_debate
from tooljudge.eval.scripted_agent import scripted_agent
from tooljudge.train.judge_probe import (
    JudgeProbeConfig,
    group_folds,
    judgements,
    names_town,
    probe,
    prompt_features,
    question_names,
    rule_side,
)

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ("The main export of Keldwick is salt. Keldwick was founded by Mira Kest.\n\n"
           "Halvik was founded by Duro Pike. The main export of Halvik is wool.")
ROW = {"id": "hand-0", "task": "extractive", "question": "What is the main export of Keldwick?",
       "answers": ["wool", "salt"], "correct": 1, "article": ARTICLE}


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _transcripts(row=ROW):
    cfg = ProtocolConfig(rounds=2, word_limit=60)
    return {"consultancy": run_consultancy([row], scripted_agent(), cfg),
            "debate": run_debate([row], (scripted_agent(), scripted_agent("b")), cfg)}


def test_rule_reads_the_town_of_the_question():
    assert question_names("What is the main export of Keldwick?") == ["Keldwick"]
    assert question_names("In which year did Marrow Bay receive its charter?") == ["Marrow", "Bay"]
    # a river named like a town is not the town: every word of the town must be in the quote
    assert not names_town("<v_quote>Halvik lies on the banks of the Marrow.</v_quote>", "Who founded Marrow Bay?")
    assert names_town("x <u_quote>Marrow Bay was founded by Lena Sorn.</u_quote>", "Who founded Marrow Bay?")
    assert not names_town("Keldwick, unquoted", "Who founded Keldwick?")  # only quotes count
    ts_ = _transcripts()
    assert len(ts_["consultancy"]) == 2
    for t in ts_["consultancy"] + ts_["debate"]:
        assert rule_side(t) == ROW["correct"]
    items = judgements(ts_, "heldout", lambda msgs: msgs[-1]["content"])
    assert len(items) == 6 and all(it["rule_label"] == it["label"] for it in items)
    assert sorted(it["honest"] for it in items if it["protocol"] == "consultancy") == [False, False, True, True]
    assert {it["label"] for it in items} == {"A", "B"}
    # the blind prompt is the full one without the transcript
    assert all("<transcript>" in it["prompt_full"] and "<transcript>" not in it["prompt_blind"] for it in items)


def test_features_are_the_backends_label_probs_and_padding_free(tmp_path, one_thread):
    """Batched left-padded features equal one-prompt-at-a-time ones; P(A) equals TransformersBackend.label_probs
    (what the judge-effect run reads); 'final' is the LM head's input (its A/B logits give the same P(A))."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.core.backends import TransformersBackend

    path = ts.tiny_model(tmp_path / "models")
    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    render = chat_renderer(tok, ts.FAMILY)
    items = judgements(_transcripts(), "train", render)
    prompts = [it["prompt_full"] for it in items] + [items[0]["prompt_blind"], items[-1]["prompt_blind"]]
    layers = ["0", "1", "2", "final"]
    batched, pa = prompt_features(model, tok, prompts, layers, batch_size=3, progress=False)
    single, pa1 = prompt_features(model, tok, prompts, layers, batch_size=1, progress=False)
    for layer in layers:
        assert batched[layer].shape == (len(prompts), model.config.hidden_size)
        np.testing.assert_allclose(batched[layer], single[layer], atol=2e-4)
    np.testing.assert_allclose(pa, pa1, atol=1e-5)
    ref = TransformersBackend(model, tok, batch_size=4).label_probs(prompts, ["A", "B"])
    np.testing.assert_allclose(pa, [r[0] for r in ref], atol=1e-5)
    ids = [tok("A", add_special_tokens=False)["input_ids"][0], tok("B", add_special_tokens=False)["input_ids"][0]]
    logits = torch.from_numpy(batched["final"]) @ model.get_output_embeddings().weight[ids].T
    np.testing.assert_allclose(torch.softmax(logits, -1)[:, 0].detach().numpy(), pa, atol=1e-4)


def test_probe_finds_a_linear_signal_and_not_a_missing_one():
    rng = np.random.default_rng(0)
    n, d = 240, 20
    groups = [f"q{i % 30}" for i in range(n)]
    x = rng.normal(size=(n, d))
    y = (x[:, 3] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    train, held = np.arange(160), np.arange(160, n)
    args = ([1e-3, 1e-1, 10.0], 4, 0)
    rec, p = probe(x[train], y[train], [groups[i] for i in train], x[held], y[held], [groups[i] for i in held], *args)
    assert rec["accuracy"] > 0.85 and rec["p_vs_half"] < 1e-6 and rec["n"] == 80 and p.shape == (80,)
    assert rec["ci"][0] < rec["accuracy"] < rec["ci"][1] and set(rec["cv"]) == {"0.001", "0.1", "10.0"}
    noise = rng.integers(0, 2, size=n)
    rec0, _ = probe(x[train], noise[train], [groups[i] for i in train], x[held], noise[held],
                    [groups[i] for i in held], *args)
    assert 0.3 < rec0["accuracy"] < 0.7 and rec0["p_vs_half"] > 0.001
    folds = group_folds(groups, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(n))
    seen = [{groups[i] for i in f} for f in folds]
    assert all(not (seen[a] & seen[b]) for a in range(5) for b in range(a + 1, 5))


def _script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("judge_probe_script", ROOT / "benchmarks" / "judge_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_end_to_end_tiny_model(tmp_path, one_thread):
    model = ts.tiny_model(tmp_path / "models")
    out = tmp_path / "run"
    recipe = tmp_path / "probe.yaml"
    recipe.write_text(f"judge_model: {model}\nfamily: {ts.FAMILY}\nn_rows: 60\nlayers: '1,final'\n")
    summary = _script().main(["--recipe", str(recipe), "--out_dir", str(out), "--max_train_rows", "10",
                              "--max_heldout_rows", "4", "--penalties", "0.1,10", "--cv_folds", "2"])
    assert summary["config"]["n_rows"] == 60 and summary["config"]["max_train_rows"] == 10  # recipe, then flags
    assert summary["judgements"] == {"consultancy": {"train": 40, "heldout": 16}, "debate": {"train": 20, "heldout": 8}}
    assert summary["prompts"]["blind"]["unique_prompts"] == (10 + 4) * 2 * 2  # consultancy's blind pair shares one
    for protocol, rec in summary["protocols"].items():
        assert rec["rule"]["accuracy"] == 1.0 and rec["rule"]["ties"] == 0 and rec["rule_train"]["accuracy"] == 1.0
        targets = {"label", "honest"} if protocol == "consultancy" else {"label"}
        for view in ("full", "blind"):
            assert set(rec["probe"][view]) == targets
            assert set(rec["probe"][view]["label"]) == {"1", "final"}
            assert 0 <= rec["untrained_choice"][view]["accuracy"] <= 1
    on_disk = json.loads((out / "probe_summary.json").read_text())
    assert on_disk["protocols"] == json.loads(json.dumps(summary["protocols"]))
    with gzip.open(out / "probe_rows.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == 84 and not any("prompt_full" in r for r in rows)
    held = [r for r in rows if r["split"] == "heldout"]
    assert all(len(r["probe_p"]) == (8 if r["protocol"] == "consultancy" else 4) for r in held)
    full_acc = np.mean([(r["p_A"]["full"] >= 0.5) == (r["label"] == "A") for r in held if r["protocol"] == "debate"])
    assert full_acc == pytest.approx(summary["protocols"]["debate"]["untrained_choice"]["full"]["accuracy"])
    with pytest.raises(FileExistsError):
        _script().main(["--out_dir", str(out), "--judge_model", str(model), "--family", ts.FAMILY])


def test_config_rejects_what_it_cannot_run():
    with pytest.raises(ValueError, match="consultancy"):
        JudgeProbeConfig(out_dir="x", protocols="qa").protocol_list()
    with pytest.raises(ValueError, match="layers"):
        JudgeProbeConfig(out_dir="x", layers="8,last").layer_list()
    with pytest.raises(ValueError, match="penalties"):
        JudgeProbeConfig(out_dir="x", penalties="0,1").penalty_list()
