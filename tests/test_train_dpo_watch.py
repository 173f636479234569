"""train/dpo_watch.py: the warning when DPO lowers the chosen answers, checked on frozen DPO logs of runs where
it happened or nearly did (tests/data/dpo_watch/, extracted from benchmarks/results/) and on hand-made logs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from tooljudge.train.dpo_watch import ChosenDrift, ChosenLikelihoodWatch

DATA = Path(__file__).resolve().parent / "data" / "dpo_watch"


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


def test_a_sustained_fall_of_the_chosen_answers_is_flagged_once():
    """The DPO logs of an H100 run where well-formed calls fell from 0.92 to 0.50 (beta 0.1, logged every 5
    steps): rewards/chosen first falls below -0.2 (2 nats) at the 5th DPO log, step 25."""
    dpo_logs = [json.loads(line) for line in (DATA / "chosen_falls_h100_dpo_logs.jsonl").read_text().splitlines()]
    assert len(dpo_logs) == 13
    drift = ChosenDrift(beta=0.1, threshold_nats=2.0)
    flagged = [drift.add(5 * (i + 1), float(x["rewards/chosen"])) for i, x in enumerate(dpo_logs)]
    assert flagged.index(True) == 4 and drift.warned_at_step == 25 and sum(flagged) == 1
    assert min(drift.chosen_shift_nats) < -7


def test_beta_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="beta must be > 0"):
        ChosenLikelihoodWatch(beta=0.0, output_dir=tmp_path)


def _args(batch: int, accumulation: int = 1, world: int = 1, logging_steps: int = 1) -> SimpleNamespace:
    return SimpleNamespace(per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation,
                           world_size=world, logging_steps=logging_steps)


def test_window_covers_at_least_min_pairs():
    from tooljudge.train.dpo_watch import pairs_per_log

    assert pairs_per_log(_args(4)) == 4 and pairs_per_log(_args(16, logging_steps=5)) == 80
    assert pairs_per_log(_args(2, accumulation=4, world=2)) == 16
    for args, window in ((_args(4), 8), (_args(16, logging_steps=5), 1), (_args(2, 2, 2, 1), 4)):
        watch = ChosenLikelihoodWatch(beta=0.1, output_dir=".", min_pairs=32)
        watch.on_train_begin(args, _state(0), None)
        assert watch.drift.window_logs == window


def test_one_bad_batch_is_not_flagged_but_a_sustained_drop_is(tmp_path):
    """A CPU run (batches of 4, logged every step): one step at -4.9 nats among rising ones. Per step it crossed
    -2 nats; the mean over 32 pairs (8 logs) never does. The same steps shifted down by 8 nats do warn, at the
    first full window."""
    health = json.loads((DATA / "one_bad_batch_dpo_health.json").read_text())
    assert min(health["chosen_shift_nats"]) < -2  # what the per-step check warned on
    for shift, expected in ((0.0, None), (-8.0, 8)):
        watch = ChosenLikelihoodWatch(beta=health["beta"], output_dir=tmp_path)
        watch.on_train_begin(_args(4), _state(0), None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step, nats in zip(health["steps"], health["chosen_shift_nats"], strict=True):
                watch.on_log(_args(4), _state(step), None, logs={"rewards/chosen": (nats + shift) * health["beta"]})
        assert watch.drift.warned_at_step == expected and len(caught) == (expected is not None)
        if expected:
            assert "mean of the last 8 logs" in str(caught[0].message)
    watch.on_train_end(None, _state(31), None)
    saved = json.loads((tmp_path / "dpo_health.json").read_text())
    assert saved["window_logs"] == 8 and len(saved["mean_shift_nats"]) == len(health["steps"])


def test_a_one_batch_dip_then_a_rise_is_not_flagged():
    """A CPU run with the per-step check, which warned at step 13 (one batch at -5.0 nats; the chosen answers
    rose to +11 nats by the end). Over 32 pairs the mean never falls below zero."""
    health = json.loads((DATA / "dip_then_rise_dpo_health.json").read_text())
    assert health["warned_at_step"] == 13
    drift = ChosenDrift(beta=health["beta"], threshold_nats=2.0, window_logs=8)
    flagged = [drift.add(s, n * health["beta"]) for s, n in zip(health["steps"], health["chosen_shift_nats"], strict=True)]
    assert not any(flagged) and min(drift.mean_shift_nats) >= 0
