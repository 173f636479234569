"""benchmarks/effect_dpo_variants.py on the committed CPU runs: its counts agree with the runs' own reports."""

import importlib.util
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _script():
    path = RESULTS.parent / "effect_dpo_variants.py"
    spec = importlib.util.spec_from_file_location("effect_dpo_variants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_repeats_a_call_hand_checked():
    script = _script()
    call = '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    other = '<tool_call>\n{"name": "f", "arguments": {"x": 2}}\n</tool_call>'
    assert script.repeats_a_call(f"{call}\n{call}")
    assert script.repeats_a_call(f"{call}\n{other}\n{call}\n<tool_call>\n{{\"name")  # cut off at the limit
    assert not script.repeats_a_call(f"{call}\n{other}")  # two different calls: a parallel answer
    assert not script.repeats_a_call(call) and not script.repeats_a_call("no call")


def test_run_2_counts_match_its_reports():
    """Chosen sides recounted from the pairs file equal the on-policy report's count; per-category rows right
    and the paired test equal the run's own summary."""
    script = _script()
    run = RESULTS / "cpu_2026-11-26_effect_v2"
    row = script.describe(run)
    report = json.loads((run / "effect_on_policy_report.json").read_text())
    recounted = {"call": row["chosen_call"], "reply": row["chosen_reply"]}
    assert recounted == report["by_chosen_side"] == {"call": 39, "reply": 45}
    assert row["rule_pairs"] == 0 and row["dpo"]["irrelevance"] == 27 and row["repeats_dpo"] == 26
    summary = json.loads((run / "effect_summary.json").read_text())
    paired = summary["stages"][2]["fc_vs_previous"]["paired"]
    assert (row["comparison"].wins, row["comparison"].losses) == (paired["wins"], paired["losses"]) == (14, 11)
    assert script.describe(RESULTS / "cpu_2026-11-26_effect_v4")["rule_pairs"] == 38


def test_run_5_cut_rejected_answers_and_its_paired_result():
    """Run 5 trained on run 2's pairs with data.rejected_span: to_first_difference; the recount of cut answers
    comes from the DPO run's data report, the paired result equals the run's own summary."""
    script = _script()
    run = RESULTS / "cpu_2026-11-26_effect_v5"
    row = script.describe(run)
    assert (row["chosen_call"], row["chosen_reply"], row["rejected_cut"]) == (39, 45, 83)
    assert script.describe(RESULTS / "cpu_2026-11-26_effect_v2")["rejected_cut"] == 0
    paired = json.loads((run / "effect_summary.json").read_text())["stages"][2]["fc_vs_previous"]["paired"]
    assert (row["comparison"].wins, row["comparison"].losses) == (paired["wins"], paired["losses"]) == (10, 4)
    assert row["repeats_dpo"] == 9 and row["dpo"]["irrelevance"] == 21


def test_training_log_rows_parse_what_trl_prints():
    """A line as TRL printed it in CPU run 2's stdout (progress bar around it), parsed to floats."""
    spec = importlib.util.spec_from_file_location("collect_effect_run", RESULTS.parent / "collect_effect_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    line = (" 14%|#4  | 3/21 [02:35<14:31, 48.42s/it]  {'loss': '1.605', 'rewards/chosen': '0.05685', "
            "'epoch': '0.1429'}\n 14%|#4  | 3/21 {'train_runtime': '978.7', 'epoch': '1'}")
    assert module.training_log_rows(line) == [{"stage": "dpo", "loss": 1.605, "rewards/chosen": 0.05685, "epoch": 0.1429},
                                         {"stage": "dpo", "train_runtime": 978.7, "epoch": 1.0}]
    logged = [json.loads(x) for x in (RESULTS / "cpu_2026-11-26_effect_v2" / "effect_dpo_training_log.jsonl")
              .read_text().splitlines()]
    assert len(logged) == 22 and logged[-1]["train_runtime"] == 978.7  # 21 steps logged, then the run's totals
    sft_then_dpo = "{'loss': '1.1', 'epoch': '0.01'}\n[tooljudge] eval r1-sft: runs/x\n{'loss': '0.7', 'epoch': '0.02'}"
    assert [r["stage"] for r in module.training_log_rows(sft_then_dpo)] == ["sft", "dpo"]


def test_runs_from_another_sft_model_are_refused():
    """Run 6 trained its own SFT model; put beside runs 1-5 the table's single SFT row would be wrong."""
    import pytest

    script = _script()
    runs = [script.describe(RESULTS / "cpu_2026-11-26_effect"), script.describe(RESULTS / "cpu_2026-11-26_effect_v5")]
    script.check_same_sft(runs)
    other = script.describe(RESULTS / "cpu_2026-11-26_run6_sft80")
    with pytest.raises(ValueError, match="starts from another SFT model"):
        script.check_same_sft([*runs, other])
