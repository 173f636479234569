"""The eval hook inside a real CPU training run (tiny model): metrics reach the trainer's reporters (on_log),
log_history, eval_results.json beside the checkpoint and at the end, every verdict saved; config contract."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from tooljudge.eval.hook import EvalHookCallback, EvalHookConfig, run_evals

FAMILY = "qwen25"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint, tiny_model_dir

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    return tiny_model_dir(tok, tmp_path_factory.mktemp("hook") / "tiny", hidden=16)


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory):
    """One row per category from the built-in eval set generator."""
    from tooljudge.data_prep.synthetic import build_fc_eval_set

    rows = build_fc_eval_set(n=5, seed=7)
    path = tmp_path_factory.mktemp("evalset") / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _train_rows(tokenizer, n=4):
    from tooljudge.data_prep.masking import prepare_example

    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    out = []
    for i in range(n):
        row = {"messages": [{"role": "user", "content": f"Weather in city {i}?"},
                            {"role": "assistant", "content": "", "tool_calls": [
                                {"id": f"c{i:08d}", "type": "function",
                                 "function": {"name": "get_weather", "arguments": {"city": f"city {i}"}}}]}],
               "tools": [tool]}
        ex = prepare_example(tokenizer, row, family=FAMILY)
        labels = [t if m else -100 for t, m in zip(ex["input_ids"], ex["assistant_masks"], strict=True)]
        out.append({"input_ids": ex["input_ids"], "labels": labels})
    return out


class Recorder:
    """Stands in for a reporter (TensorBoard/W&B): what it receives through on_log."""

    def __init__(self):
        self.logs = []

    def __getattr__(self, name):  # every other TrainerCallback event: no-op
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append((state.global_step, dict(logs or {})))


def test_hook_in_cpu_training(tiny, eval_file, tmp_path):
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    out = tmp_path / "run"
    hook = EvalHookCallback(tokenizer=tok, family=FAMILY, sets=[str(eval_file)], every_n_steps=1,
                            max_new_tokens=6, max_examples=None, batch_size=5)
    recorder = Recorder()
    args = TrainingArguments(output_dir=str(out), max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3,
                             logging_steps=1, save_steps=2, save_strategy="steps", report_to=[], use_cpu=True,
                             disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=_train_rows(tok),
                      data_collator=DataCollatorForSeq2Seq(tok, padding=True), callbacks=[hook, recorder])
    trainer.train()

    key = "fc/overall/ast_accuracy"
    # through Trainer.log: in log_history and seen by the reporter callback at steps 1 and 2
    assert [h["step"] for h in trainer.state.log_history if key in h] == [1, 2]
    assert [s for s, logs in recorder.logs if key in logs] == [1, 2]
    # the Trainer's own loss log at those steps still happens (Trainer.log clears should_log; the hook restores it)
    assert [h["step"] for h in trainer.state.log_history if "loss" in h] == [1, 2]
    # beside the checkpoint, and at the end in output_dir; the end reuses the step-2 eval (same step)
    ckpt = json.loads((out / "checkpoint-2" / "eval_results.json").read_text())
    final = json.loads((out / "eval_results.json").read_text())
    assert ckpt["step"] == final["step"] == 2 and ckpt["metrics"] == final["metrics"]
    assert (out / "eval_results" / "step-000001" / "eval_results.json").exists()
    logged = next(h for h in trainer.state.log_history if key in h and h["step"] == 2)
    assert logged[key] == final["metrics"][key]
    # every verdict saved with its reason; the logged accuracy is the mean of the saved verdicts
    examples = [json.loads(x) for x in (out / "checkpoint-2" / "fc_examples.jsonl").read_text().splitlines()]
    assert len(examples) == 5
    assert all(e["correct"] or e["reason"] for e in examples)
    assert final["metrics"][key] == pytest.approx(sum(e["correct"] for e in examples) / 5)
    assert {e["category"] for e in examples} == {"simple", "multiple", "parallel", "parallel_multiple", "irrelevance"}
    # the prompts are data_prep's render_prompt output (train/eval parity)
    from tooljudge.data_prep.masking import render_prompt

    rows = [json.loads(x) for x in eval_file.read_text().splitlines()]
    assert examples[0]["prompt"] == render_prompt(tok, rows[0]["messages"], rows[0]["tools"], family=FAMILY)


def test_run_evals_returns_flat_metrics(tiny, eval_file):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    model.train()
    metrics = run_evals(model, tok, FAMILY, {"sets": [str(eval_file)], "max_new_tokens": 4, "max_examples": 5})
    assert 0.0 <= metrics["fc/overall/ast_accuracy"] <= 1.0
    assert {"fc/overall/valid_format_rate", "fc/overall/irrelevance_recall"} <= set(metrics)
    assert model.training  # training mode restored after generation


def test_judge_set_through_the_hook_api(tiny, tmp_path):
    """``judge:<rows>`` runs the judging engineer's evaluate_judge (QA protocol) and logs its accuracy."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = [{"id": "j1", "task": "closed", "question": "What is 2+2?", "answers": ["4", "5"], "correct": 0},
            {"id": "j2", "task": "closed", "question": "Capital of France?", "answers": ["Berlin", "Paris"],
             "correct": 1}]
    path = tmp_path / "judge.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tok = AutoTokenizer.from_pretrained(tiny)
    metrics = run_evals(AutoModelForCausalLM.from_pretrained(tiny), tok, FAMILY,
                        {"sets": [f"judge:{path}"], "max_new_tokens": 4})
    acc = metrics["judge/protocols/qa/accuracy"]
    assert acc in (0.0, 0.25, 0.5, 0.75, 1.0)  # 2 questions x 2 answer orders
    assert not any(k.startswith("fc/") for k in metrics)


@pytest.mark.slow
def test_hook_under_ddp(tiny, eval_file, tmp_path):
    """Two CPU processes (torchrun, gloo): only rank 0 evaluates and logs, both ranks keep joining the
    Trainer's collectives (a hook that logged from one rank used to desynchronise the loss all-gather)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("eval_ddp_script.py")
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script),
                           str(tiny), str(eval_file), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0 == {"world": 2, "logged": [1, 2], "evaluated": [1, 2]}
    assert r1 == {"world": 2, "logged": [], "evaluated": []}
    assert json.loads((out / "eval_results.json").read_text())["step"] == 2


def test_sharded_weights_skip_with_a_clear_message(tiny, eval_file, tmp_path, monkeypatch, caplog):
    import tooljudge.eval.hook as hook_mod

    monkeypatch.setattr(hook_mod, "_sharding", lambda trainer, args: "zero3")
    hook = EvalHookCallback(tokenizer=object(), family=FAMILY, sets=[str(eval_file)])
    args = SimpleNamespace(output_dir=str(tmp_path), world_size=1)
    state = SimpleNamespace(global_step=3, is_world_process_zero=True, log_history=[])
    with caplog.at_level(logging.WARNING, logger="tooljudge.eval.hook"):
        hook.on_train_end(args, state, None, model=torch.nn.Linear(2, 2))
    assert "weights are sharded (zero3)" in caplog.text and "eval/run.py --watch" in caplog.text
    assert hook.results == {} and not (tmp_path / "eval_results.json").exists()


def test_failed_eval_raises_naming_the_step(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hook = EvalHookCallback(tokenizer=AutoTokenizer.from_pretrained(tiny), family=FAMILY, sets=["no_such_set"],
                            every_n_steps=5)
    args = SimpleNamespace(output_dir=str(tmp_path), world_size=1)
    state = SimpleNamespace(global_step=5, is_world_process_zero=True, log_history=[])
    with pytest.raises(RuntimeError, match="eval hook failed at step 5: ValueError: unknown eval set 'no_such_set'"):
        hook.on_step_end(args, state, None, model=AutoModelForCausalLM.from_pretrained(tiny))


def test_config_contract():
    cfg = EvalHookConfig.from_any({"sets": ["bfcl_simple"], "every_n_steps": 50}, max_new_tokens=64)
    assert cfg.sets == ["bfcl_simple"] and cfg.every_n_steps == 50 and cfg.max_new_tokens == 64
    with pytest.raises(ValueError, match=r"unknown key 'evry_n_steps' in EvalHookConfig \(did you mean 'every_n_steps'\?\)"):
        EvalHookConfig.from_any({"evry_n_steps": 5})
    with pytest.raises(ValueError, match="sharded must be"):
        EvalHookConfig.from_any(sharded="maybe")
    # what train/callbacks_setup.py passes from a recipe's eval section
    settings = {"sets": ["builtin"], "every_n_steps": 10, "at_end": True, "max_examples": 20,
                "max_new_tokens": 32, "output_dir": "/tmp/x"}
    hook = EvalHookCallback(tokenizer=None, family="qwen25", config=settings, **settings)
    assert hook.config.every_n_steps == 10 and hook.config.max_examples == 20


def test_per_set_caps_spend_rows_where_named_and_keep_the_smaller_cap_rows():
    """``max_examples_per_set`` caps the named sets, ``max_examples`` the rest; on a one-category BFCL set a larger
    cap holds every row of a smaller one (so a preset raised from 20 to 40 rows still scores its first 20)."""
    from tooljudge.eval.fc_eval import load_eval_rows, load_eval_set

    cfg = EvalHookConfig.from_any(sets=["builtin", "bfcl_simple", "bfcl_irrelevance"], max_examples=10,
                                  max_examples_per_set={"bfcl_simple": 40}).fc_config()
    rows = load_eval_rows(cfg)
    per_set = {}
    for r in rows:
        per_set[r["id"].split("/")[0]] = per_set.get(r["id"].split("/")[0], 0) + 1
    assert per_set == {"builtin": 10, "bfcl_simple": 40, "bfcl_irrelevance": 10}
    small = EvalHookConfig.from_any(sets=["bfcl_simple"], max_examples=20).fc_config()
    ids = {k: [r["id"] for r in load_eval_set("bfcl_simple", c)] for k, c in (("small", small), ("large", cfg))}
    assert len(ids["small"]) == 20 and set(ids["small"]) < set(ids["large"])


@pytest.mark.parametrize("caps, message", [
    ({"bfcl_multiple": 5}, "names 'bfcl_multiple', which is not one of the sets"),
    ({"bfcl_simple": 0}, r"\['bfcl_simple'\] must be an integer >= 1, got 0"),
    ({"bfcl_simple": True}, "must be an integer >= 1, got True"),
    ({"bfcl_simple": "40"}, "must be an integer >= 1, got '40'"),
    (["bfcl_simple", 40], "must map set names to caps, got list"),
    ({"bfcl_multi_turn_base": 5}, "caps single-turn function-call sets; 'bfcl_multi_turn_base' takes max_examples"),
    ({"judge:rows.jsonl": 5}, "caps single-turn function-call sets; 'judge:rows.jsonl' takes max_examples"),
])
def test_per_set_caps_refuse_what_they_cannot_apply(caps, message):
    with pytest.raises(ValueError, match=message):
        EvalHookConfig.from_any(sets=["bfcl_simple", "bfcl_multi_turn_base", "judge:rows.jsonl"],
                                max_examples_per_set=caps)


def test_eval_cli_reads_set_caps():
    from tooljudge.eval.run import parse_set_caps

    assert parse_set_caps("bfcl_simple=40, builtin=20") == {"bfcl_simple": 40, "builtin": 20}
    assert parse_set_caps(None) is None
    for bad in ("bfcl_simple", "bfcl_simple=x", "=4", "bfcl_simple=40,,builtin=2"):
        with pytest.raises(SystemExit, match="is not SET=N"):
            parse_set_caps(bad)
