"""A DPO health check: warn when training pushes the *chosen* answers down (likelihood displacement).

Why: DPO only asks that chosen beat rejected by a margin; it can meet that by lowering both, and the mass they
lose goes to answers that were in neither, such as broken JSON. Our own H100 run of the effect recipe did
exactly this (benchmarks/results/h100_2026-11-26: the chosen log-likelihood fell by ~7 nats per answer, the
share of well-formed tool calls fell from 0.92 to 0.50), while the loss and the reward accuracy looked fine.
TRL logs ``rewards/chosen`` = beta * (log pi(chosen) - log pi_ref(chosen)), so the drop is visible at every log
step; this callback turns it into a warning that names the cures, and writes the trajectory to
``dpo_health.json`` in the output folder.

The warning reads a running mean over the last logs that together hold at least ``min_pairs`` pairs (32 by
default): with small batches one batch can dip while the run as a whole rises (CPU run 4, batches of 4: one step
at -4.9 nats between steps at +8 and +0.4). The H100 run logged 80 pairs at a time, so there the mean is the
logged value itself.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from transformers import TrainerCallback


@dataclass
class ChosenDrift:
    """Chosen log-likelihood change from the reference (nats per answer) at each logged step."""

    beta: float
    threshold_nats: float
    # How many of the last logs the running mean covers (enough to hold ``min_pairs`` pairs).
    window_logs: int = 1
    steps: list[int] = field(default_factory=list)
    chosen_shift_nats: list[float] = field(default_factory=list)
    mean_shift_nats: list[float] = field(default_factory=list)
    warned_at_step: int | None = None

    def add(self, step: int, rewards_chosen: float) -> bool:
        """Record one log; True the first time the running mean falls below ``-threshold_nats``."""
        self.steps.append(step)
        self.chosen_shift_nats.append(rewards_chosen / self.beta)
        recent = self.chosen_shift_nats[-self.window_logs:]
        mean = sum(recent) / len(recent)
        self.mean_shift_nats.append(mean)
        if self.warned_at_step is None and len(recent) == self.window_logs and mean < -self.threshold_nats:
            self.warned_at_step = step
            return True
        return False


def pairs_per_log(args) -> int:
    """Pairs behind one logged value: TRL averages its metrics over the steps since the last log."""
    return (args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
            * max(1, int(args.logging_steps)))


class ChosenLikelihoodWatch(TrainerCallback):
    """Warns once when the chosen answers' log-likelihood has fallen more than ``threshold_nats`` below the
    reference's (a running mean over at least ``min_pairs`` pairs), and saves the whole trajectory at the end of
    training."""

    def __init__(self, beta: float, output_dir: str | Path, threshold_nats: float = 2.0, min_pairs: int = 32):
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        if min_pairs < 1:
            raise ValueError(f"min_pairs must be >= 1, got {min_pairs}")
        self.drift = ChosenDrift(beta=beta, threshold_nats=threshold_nats)
        self.min_pairs = min_pairs
        self.output_dir = Path(output_dir)

    def on_train_begin(self, args, state, control, **kwargs):
        self.drift.window_logs = math.ceil(self.min_pairs / pairs_per_log(args))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "rewards/chosen" not in logs:
            return
        if self.drift.add(state.global_step, float(logs["rewards/chosen"])) and state.is_world_process_zero:
            pairs = "" if self.drift.window_logs == 1 else f" (mean of the last {self.drift.window_logs} logs)"
            warnings.warn(
                f"DPO step {state.global_step}: the chosen answers are now {-self.drift.mean_shift_nats[-1]:.1f} "
                f"nats less likely than under the reference{pairs} (threshold {self.drift.threshold_nats}). DPO is "
                "lowering chosen and rejected together, and the freed probability goes to answers in neither "
                "(often malformed calls). Cures: a lower learning rate, a larger beta, or more weight on the NLL "
                "term (training.loss_type: [sigmoid, sft], loss_weights: [1.0, w]).", stacklevel=2)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.drift.steps:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "dpo_health.json").write_text(json.dumps(asdict(self.drift), indent=2))
