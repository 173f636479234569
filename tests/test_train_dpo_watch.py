"""train/dpo_watch.py: the warning when DPO lowers the chosen answers, checked on the logs of our own H100 run
where it happened (benchmarks/results/h100_2026-11-26) and on hand-made logs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from tooljudge.train.dpo_watch import ChosenDrift, ChosenLikelihoodWatch

ROOT = Path(__file__).resolve().parents[1]
H100_LOG = ROOT / "benchmarks" / "results" / "h100_2026-11-26" / "effect_training_log.jsonl"


def _state(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, is_world_process_zero=True)


def test_warns_once_at_the_first_log_below_the_threshold(tmp_path):
    watch = ChosenLikelihoodWatch(beta=0.5, output_dir=tmp_path, threshold_nats=2.0)
    with pytest.warns(UserWarning, match=r"DPO step 3: the chosen answers are now 2\.2 nats less likely"):
        for step, reward in [(1, 0.1), (2, -0.9), (3, -1.1), (4, -1.5)]:  # shifts 0.2, -1.8, -2.2, -3.0 nats
            watch.on_log(None, _state(step), None, logs={"rewards/chosen": reward, "loss": 0.6})
    watch.on_log(None, _state(5), None, logs={"loss": 0.5})  # a log without DPO rewards is ignored
    watch.on_train_end(None, _state(5), None)
    saved = json.loads((tmp_path / "dpo_health.json").read_text())
    assert saved["warned_at_step"] == 3 and saved["steps"] == [1, 2, 3, 4]
    assert saved["chosen_shift_nats"] == pytest.approx([0.2, -1.8, -2.2, -3.0])


def test_the_h100_run_that_broke_json_is_flagged():
    """The DPO logs of the run where well-formed calls fell from 0.92 to 0.50 (beta 0.1, logged every 5
    steps): rewards/chosen first falls below -0.2 (2 nats) at the 5th DPO log, step 25."""
    logs = [json.loads(line) for line in H100_LOG.read_text().splitlines()]
    dpo_logs = [x for x in logs if "rewards/chosen" in x and "train_runtime" not in x]
    drift = ChosenDrift(beta=0.1, threshold_nats=2.0)
    flagged = [drift.add(5 * (i + 1), float(x["rewards/chosen"])) for i, x in enumerate(dpo_logs)]
    assert flagged.index(True) == 4 and drift.warned_at_step == 25 and sum(flagged) == 1
    assert min(drift.chosen_shift_nats) < -7


def test_beta_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="beta must be > 0"):
        ChosenLikelihoodWatch(beta=0.0, output_dir=tmp_path)
