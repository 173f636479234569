"""Checkpoint jobs: eval/run.py on a model folder and on a LoRA adapter, and --watch over a run folder
(skips done checkpoints, waits for incomplete ones, resumes, writes the table and the PNG)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FAMILY = "qwen25"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint, tiny_model_dir

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    return tiny_model_dir(tok, tmp_path_factory.mktemp("run") / "tiny", hidden=16)


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory):
    from tooljudge.data_prep.synthetic import build_fc_eval_set

    path = tmp_path_factory.mktemp("evalset") / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in build_fc_eval_set(n=5, seed=11)))
    return path


def _args(eval_file):
    return ["--sets", str(eval_file), "--family", FAMILY, "--max_new_tokens", "4", "--batch_size", "5"]


def test_run_model_and_adapter(tiny, eval_file, tmp_path):
    from peft import LoraConfig, get_peft_model
    from tooljudge.eval.run import main
    from transformers import AutoModelForCausalLM

    main(["--model", str(tiny), "--output_dir", str(tmp_path / "full"), *_args(eval_file)])
    res = json.loads((tmp_path / "full" / "eval_results.json").read_text())
    assert res["model"] == str(tiny)
    assert set(res["function_calls"]["metrics"]["categories"]) == {"simple", "multiple", "parallel",
                                                                   "parallel_multiple", "irrelevance"}
    assert len((tmp_path / "full" / "fc_examples.jsonl").read_text().splitlines()) == 5

    # a LoRA adapter folder: base model read from adapter_config.json
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny),
                                LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    assert (adapter / "adapter_config.json").exists() and not (adapter / "config.json").exists()
    main(["--model", str(adapter), "--output_dir", str(tmp_path / "lora"), *_args(eval_file)])
    lora = [json.loads(x) for x in (tmp_path / "lora" / "fc_examples.jsonl").read_text().splitlines()]
    assert len(lora) == 5


def _fake_checkpoint(tiny: Path, run: Path, step: int, finished: bool = True) -> Path:
    ckpt = run / f"checkpoint-{step}"
    shutil.copytree(tiny, ckpt)
    if finished:
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return ckpt


def test_watch_skips_done_waits_and_resumes(tiny, eval_file, tmp_path):
    from tooljudge.eval.checkpoint_jobs import JobConfig, watch
    from tooljudge.eval.hook import EvalHookConfig

    run = tmp_path / "run"
    for step in (1, 3):
        _fake_checkpoint(tiny, run, step)
    _fake_checkpoint(tiny, run, 5, finished=False)  # still being written (fresh, no trainer_state.json)
    broken = _fake_checkpoint(tiny, run, 7)  # unreadable: reported and skipped, the others still run
    (broken / "config.json").write_text("{not json")
    unloadable = _fake_checkpoint(tiny, run, 9)  # complete files that transformers cannot load: the eval fails
    (unloadable / "config.json").write_text('{"model_type": "no_such_model"}')
    cfg = EvalHookConfig.from_any(sets=[str(eval_file)], max_new_tokens=4, batch_size=5, max_examples=None)
    job = JobConfig(family=FAMILY, settle_seconds=3600)
    logs = []
    assert watch(run, cfg, job, once=True, log=logs.append) == [1, 3]
    assert any("step 7: waiting, incomplete: config.json: not complete JSON" in line for line in logs)
    assert any("step 9 FAILED" in line for line in logs)
    table = (run / "eval_summary" / "table.md").read_text().splitlines()
    assert [line.split("|")[1].strip() for line in table[2:]] == ["1", "3"]
    png = run / "eval_summary" / "metrics.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    assert mpimg.imread(png).shape[0] > 300
    # nothing new: nothing evaluated again
    assert watch(run, cfg, job, once=True, log=logs.append) == []
    # resumable: a missing result is redone, the others are kept
    (run / "checkpoint-1" / "eval_results.json").unlink()
    before = (run / "checkpoint-3" / "eval_results.json").stat().st_mtime_ns
    assert watch(run, cfg, job, once=True, log=logs.append) == [1]
    assert (run / "checkpoint-3" / "eval_results.json").stat().st_mtime_ns == before
    # once the unfinished checkpoint has settled it is evaluated too
    assert watch(run, cfg, JobConfig(family=FAMILY, settle_seconds=0), once=True, log=logs.append) == [5]
    assert len((run / "eval_summary" / "table.md").read_text().splitlines()) == 2 + 3
    # checkpoint rotation deletes a folder: its result stays in the summary
    shutil.rmtree(run / "checkpoint-1")
    assert watch(run, cfg, job, once=True, log=logs.append) == []
    assert [line.split("|")[1].strip() for line in
            (run / "eval_summary" / "table.md").read_text().splitlines()[2:]] == ["1", "3", "5"]



def test_run_script_help_runs_as_a_file():
    """``python eval/run.py`` puts eval/ first on sys.path: no module there may shadow a library."""
    proc = subprocess.run([sys.executable, str(REPO / "eval" / "run.py"), "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--watch" in proc.stdout and "--model" in proc.stdout


class ReplayBackend:
    """A 'model' that answers each prompt with a given text (the pipeline around generation is under test)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.stops = None

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.stops = stop
        return [self.answers[p] for p in prompts]

    def label_probs(self, prompts, labels):
        raise NotImplementedError


@pytest.mark.parametrize(("family", "tok_name"), [
    ("qwen25", "smollm2"), ("mistral_v3", "mistral_v3"),
    pytest.param("llama31_meta", "llama31", marks=pytest.mark.slow),
    pytest.param("qwen2_fncall", "qwen2", marks=pytest.mark.slow)])
def test_pipeline_scores_the_trained_answer_as_correct(family, tok_name):
    """Generate -> parse -> check -> metrics: when the 'model' emits exactly the assistant turn training renders
    for the answer key (data_prep's render_completion), every example is correct and well-formed."""
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep.families import get_family
    from tooljudge.data_prep.masking import render_completion, render_prompt
    from tooljudge.data_prep.synthetic import build_fc_eval_set
    from tooljudge.eval.bfcl_data import reference_calls
    from tooljudge.eval.fc_eval import FCEvalConfig, evaluate_function_calls, subsample

    if tok_name == "smollm2":
        from transformers import AutoTokenizer

        from tooljudge.models import smollm2_checkpoint

        tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    else:
        tok = reference_tokenizer(tok_name)
    rows = subsample(build_fc_eval_set(), 15, seed=3)
    answers = {}
    for i, r in enumerate(rows):
        calls = reference_calls(r["ground_truth"], r["tools"])
        msg = {"role": "assistant", "content": "" if calls else "No tool here can do that.",
               "tool_calls": [{"id": f"ref{i:03d}x{k:02d}", "type": "function",
                               "function": {"name": c["name"], "arguments": c["arguments"]}}
                              for k, c in enumerate(calls)]}
        if not calls:
            del msg["tool_calls"]
        answers[render_prompt(tok, r["messages"], r["tools"], family=family)] = render_completion(
            tok, r["messages"], msg, r["tools"], family=family)
    bad = {"id": "broken", "category": "simple", "messages": [{"role": "banana", "content": "?"}],
           "tools": rows[0]["tools"], "ground_truth": rows[0]["ground_truth"]}
    backend = ReplayBackend(answers)
    # strict: the built-in keys write int items in number arrays ([-11.8, 2, 45]), which BFCL's own rules reject
    result = evaluate_function_calls(backend, tok, rows + [bad], family, FCEvalConfig(checker="strict"))
    ov = result.metrics["overall"]
    assert ov["n"] == 15 and ov["ast_accuracy"]["value"] == 1.0 and ov["valid_format_rate"]["value"] == 1.0
    assert backend.stops == get_family(family).stop_tokens
    assert sum(result.skipped.values()) == 1 and result.problems[0].startswith("broken: ")
