"""Shared by the A/B training benchmarks (``dpo_prompt_once.py``, ``lm_head_labelled_only.py``): one timed
training run in its own process, the check that two arms logged the same losses, and a recipe's prepared rows."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_run(cmd: list[str], out: Path, steps: int, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` (a training entry point writing ``out/run_info.json``), its output in ``out.log``; returns TRL's
    ``train_runtime`` / steps, wall seconds, the child's peak resident memory (``ru_maxrss``, KiB), the load after
    and the logged losses. ``env``: added to this process's environment for the run. Raises naming the log when
    the run fails."""
    log = out.parent / f"{out.name}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO,
                                 env=None if env is None else {**os.environ, **env})
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; see {log}")
    history = json.loads((out / "run_info.json").read_text(encoding="utf-8"))["log_history"]
    runtime = next(e["train_runtime"] for e in history if "train_runtime" in e)
    return {"seconds_per_step": runtime / steps, "train_runtime": runtime, "wall_s": round(wall, 1),
            "peak_kib": usage.ru_maxrss, "load_1m_after": round(os.getloadavg()[0], 2),
            "losses": [e["loss"] for e in history if "loss" in e]}


def check_same_losses(off: list[dict], on: list[dict], rel: float = 1e-4) -> None:
    """Refuse speed bought with other numbers: each pair of runs must log the same losses step by step."""
    for a, b in zip(off, on, strict=True):
        for la, lb in zip(a["losses"], b["losses"], strict=True):
            if abs(la - lb) > rel * max(1.0, abs(la)):
                raise SystemExit(f"round {a['round']}: losses differ ({a['losses']} vs {b['losses']})")


def prepared_rows(recipe: str, extra: list[str]):
    """The recipe's training rows as the run prepares them, and its config."""
    from tooljudge.train.model_setup import load_tokenizer
    from tooljudge.train.recipe import parse_cli
    from tooljudge.train.run_setup import prepare_data

    config, _ = parse_cli([recipe, *extra])
    rows, _, _ = prepare_data(config, load_tokenizer(config.model, family=config.data.family))
    return rows, config


def add_run_arguments(ap) -> None:
    """The options every A/B training benchmark takes (after its own)."""
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps per run")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of runs (off / on), alternating order")
    ap.add_argument("--work", required=True, help="folder for the runs' outputs and logs")
    ap.add_argument("--output", default=None, help="write the report as JSON here")
    ap.add_argument("extra", nargs="*", help="more --key value overrides for every run (after --)")


def alternate(rounds: int, work: Path, names: tuple[str, str], run) -> tuple[list[dict], list[dict]]:
    """``rounds`` pairs of runs, off then on, then on then off, so that the machine's drift falls on both arms;
    ``run(on, out)`` does one run into ``work/round<r>_<name>``. Prints each result; returns (off runs, on runs)."""
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for r in range(rounds):
        for on in (False, True) if r % 2 == 0 else (True, False):
            result = {"round": r, **run(on, work / f"round{r}_{names[on]}")}
            print(json.dumps(result), flush=True)
            runs[on].append(result)
    return runs[False], runs[True]
