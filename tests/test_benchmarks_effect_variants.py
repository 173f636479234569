"""benchmarks/effect_dpo_variants.py and collect_effect_run.py on frozen excerpts of CPU runs
(tests/data/dpo_variants: 11 eval rows and a few pairs per run; tests/data/trl_stdout: a rounds run's stdout),
each count hand-checked against the rows."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DATA = Path(__file__).resolve().parent / "data"
RUNS = DATA / "dpo_variants"


def _load(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import run_archive beside them
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(monkeypatch):
    return _load("effect_dpo_variants", monkeypatch)


def test_repeats_a_call_hand_checked(script):
    call = '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    other = '<tool_call>\n{"name": "f", "arguments": {"x": 2}}\n</tool_call>'
    assert script.repeats_a_call(f"{call}\n{call}")
    assert script.repeats_a_call(f"{call}\n{other}\n{call}\n<tool_call>\n{{\"name")  # cut off at the limit
    assert not script.repeats_a_call(f"{call}\n{other}")  # two different calls: a parallel answer
    assert not script.repeats_a_call(call) and not script.repeats_a_call("no call")


def test_describe_counts_chosen_sides_rows_right_repeats_and_flips(script):
    """The same 11 eval rows after SFT and after DPO: SFT right on simple_0006, multiple_0033, irrelevance_0014
    and _0024; DPO right on simple_0006, _0022, multiple_0008, irrelevance_0010 and _0014 (3 won, 2 lost).
    SFT repeats a call in simple_0022 and parallel_0060, DPO in parallel_0060 and parallel_multiple_0012.
    Pairs: 2 of 5 choose a call. The DPO run's data report cut 83 rejected answers and has no rule-made pairs."""
    row = script.describe(RUNS / "rejected_cut_run")
    assert (row["chosen_call"], row["chosen_reply"], row["rule_pairs"], row["rejected_cut"]) == (2, 3, 0, 83)
    assert row["sft"] == {"simple": 1, "multiple": 1, "irrelevance": 2}
    assert row["dpo"] == {"simple": 2, "multiple": 1, "irrelevance": 2}
    assert (row["repeats_sft"], row["repeats_dpo"]) == (2, 2)
    assert (row["comparison"].n, row["comparison"].wins, row["comparison"].losses) == (11, 3, 2)


def test_rule_made_pairs_are_counted_from_the_data_report(script):
    """A DPO run that also trained on 38 pairs from builtin:synthetic: those are the rule pairs; it cut no
    rejected answers. Its DPO model is right on simple_0006, _0009, _0022 and multiple_0033 (2 won, 2 lost)."""
    row = script.describe(RUNS / "rule_pairs_run")
    assert (row["chosen_call"], row["chosen_reply"], row["rule_pairs"], row["rejected_cut"]) == (2, 3, 38, 0)
    assert row["dpo"] == {"simple": 3, "multiple": 1} and row["repeats_dpo"] == 0
    assert (row["comparison"].wins, row["comparison"].losses) == (2, 2)


def test_runs_from_another_sft_model_are_refused(script):
    """The table shows one SFT row: runs from the same SFT model pass, one from another SFT model is refused."""
    runs = [script.describe(RUNS / "rule_pairs_run"), script.describe(RUNS / "rejected_cut_run")]
    script.check_same_sft(runs)
    other = script.describe(RUNS / "other_sft_run")
    with pytest.raises(ValueError, match="starts from another SFT model"):
        script.check_same_sft([*runs, other])


def test_training_log_rows_parse_what_trl_prints(monkeypatch):
    """A line as TRL prints it (progress bar around it), parsed to floats; and a rounds run's stdout (SFT logs,
    the runner's "eval r1-sft" line, DPO logs, warnings and tables between them) split into the two stages."""
    module = _load("collect_effect_run", monkeypatch)
    line = (" 14%|#4  | 3/21 [02:35<14:31, 48.42s/it]  {'loss': '1.605', 'rewards/chosen': '0.05685', "
            "'epoch': '0.1429'}\n 14%|#4  | 3/21 {'train_runtime': '978.7', 'epoch': '1'}")
    assert module.training_log_rows(line) == [{"stage": "dpo", "loss": 1.605, "rewards/chosen": 0.05685, "epoch": 0.1429},
                                         {"stage": "dpo", "train_runtime": 978.7, "epoch": 1.0}]
    rows = module.training_log_rows((DATA / "trl_stdout" / "rounds_sft_then_dpo.log").read_text())
    assert [r["stage"] for r in rows] == ["sft"] * 4 + ["dpo"] * 4
    assert rows[0]["loss"] == 0.7144 and rows[0]["num_tokens"] == 96470.0 and rows[0]["epoch"] == 0.08
    assert rows[3]["train_runtime"] == 67.79 and rows[4]["loss"] == 0.7583 and rows[7]["train_runtime"] == 40.94


def test_collect_copies_a_rounds_run_and_packs_its_per_row_files(monkeypatch, tmp_path):
    """A rounds run folder (files as train/rounds.py writes them) collected into a results folder: summaries
    stay as text, per-row files and the parsed training logs go into rows.tar.xz; a second collect into the
    same folder is refused."""
    module = _load("collect_effect_run", monkeypatch)
    run = tmp_path / "run"
    files = {"round_0/eval/fc_examples.jsonl": '{"id": "b"}\n', "round_1/eval_sft/fc_examples.jsonl": '{"id": "s"}\n',
             "round_1/eval_dpo/fc_examples.jsonl": '{"id": "d"}\n', "summary.json": "{}\n", "summary.md": "| |\n",
             "summary.png": "png", "round_1/on_policy_report.json": "{}\n", "data/on_policy_round_1.jsonl": "{}\n",
             "round_1/dpo/dpo_health.json": "{}\n", "round_1/dpo/run_info.json": "{}\n"}
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    log = tmp_path / "run.log"
    log.write_text((DATA / "trl_stdout" / "rounds_sft_then_dpo.log").read_text())
    dest = tmp_path / "results" / "NAME"
    module.collect(run, dest, log)
    assert sorted(p.name for p in dest.iterdir()) == [
        "dpo_health.json", "dpo_run_info.json", "effect_on_policy_report.json", "effect_summary.json",
        "effect_summary.md", "effect_summary.png", "rows.tar.xz"]
    from run_archive import read_all  # beside the script, on the path _load set

    archived = read_all(dest / "rows.tar.xz")
    assert sorted(archived) == ["effect_dpo_training_log.jsonl", "effect_examples_base.jsonl",
                                "effect_examples_dpo.jsonl", "effect_examples_sft.jsonl",
                                "effect_sft_training_log.jsonl", "on_policy_pairs.jsonl"]
    assert archived["effect_examples_dpo.jsonl"] == b'{"id": "d"}\n'
    assert len(archived["effect_sft_training_log.jsonl"].splitlines()) == 4
    with pytest.raises(FileExistsError, match="already holds a collected run"):
        module.collect(run, dest, log)
