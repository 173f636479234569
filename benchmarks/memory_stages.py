"""Peak resident memory of the demo's stages, each in its own process under ``/usr/bin/time -v``.

    python benchmarks/memory_stages.py --stages sft,sft_gc --output /tmp/memory.json
    python benchmarks/memory_stages.py --stages dpo,dpo_gc --dpo_init runs/smollm2_demo/sft

Each stage is a real command of the demo (``train/rounds.py recipes/smollm2_demo_rounds.yaml`` runs them in one
process, so the demo's peak is the largest stage plus what stays allocated between them) with few steps: the
peak of a training stage is reached in its first optimizer step, since every step holds the same tensors.
``--steps`` sets them; ``--kill_after`` stops a stage after that many seconds (``/usr/bin/time`` still reports
its peak so far: useful on a loaded machine, marked in the output). The machine's load average is recorded
before and after each stage.

Stages (``STAGES`` below): the recipe as shipped, and with gradient checkpointing and/or one row per micro-batch
(same rows per optimizer step through gradient accumulation), for SFT and DPO; ``eval``: the function-call eval
of the bundled model as the demo runs it; ``sft_2proc``: the SFT recipe launched as 2 CPU processes
(``accelerate_configs/multi_cpu.yaml``; the peak is the largest process's); ``rounds``: the whole demo in one
process with ``--steps`` steps per training stage and ``--eval_examples`` rows per eval. ``OMP_NUM_THREADS``
is passed on as set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
SFT = ["train/sft.py", "recipes/smollm2_demo.yaml", "--training.save_strategy", "no"]
DPO = ["train/dpo.py", "recipes/smollm2_demo_dpo.yaml", "--training.save_strategy", "no"]
GC = ["--training.gradient_checkpointing", "true"]
ROW1_SFT = ["--training.per_device_train_batch_size", "1", "--training.gradient_accumulation_steps", "4"]
ROW1_DPO = ["--training.per_device_train_batch_size", "1", "--training.gradient_accumulation_steps", "2"]
STAGES: dict[str, list[str]] = {
    "sft": SFT, "sft_gc": SFT + GC, "sft_gc_row1": SFT + GC + ROW1_SFT,
    "dpo": DPO, "dpo_gc": DPO + GC, "dpo_gc_row1": DPO + GC + ROW1_DPO,
    "eval": ["eval/run.py", "--sets", "builtin", "--max_examples", "40", "--max_new_tokens", "80",
             "--batch_size", "8", "--tasks", "function_calls"],
    # the SFT demo recipe as shipped, 2 processes (DDP over gloo): /usr/bin/time reports the largest process
    "sft_2proc": ["-m", "accelerate.commands.launch", "--config_file", "accelerate_configs/multi_cpu.yaml",
                  *SFT],
    # the whole demo in one process (base eval, SFT, eval, on-policy pairs, DPO, eval, export), each training
    # stage cut to --steps optimizer steps and each eval to --eval_examples rows
    "rounds": ["train/rounds.py", "recipes/smollm2_demo_rounds.yaml"],
}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def parse_time_v(text: str) -> dict:
    """Peak RSS (MiB), wall seconds and exit status from GNU time's ``-v`` report."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    status = re.search(r"Exit status: (\d+)", text)
    signal = re.search(r"Command terminated by signal (\d+)", text)
    seconds = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        seconds = sum(p * 60 ** k for k, p in enumerate(reversed(parts)))
    return {"peak_rss_mib": round(int(rss.group(1)) / 1024, 1) if rss else None,
            "wall_s": round(seconds, 1) if seconds is not None else None,
            "exit_status": int(status.group(1)) if status else None,
            "signal": int(signal.group(1)) if signal else None}


def stage_command(name: str, steps: int, out_dir: Path, dpo_init: str | None, model: str | None,
                  eval_examples: int | None = None) -> list[str]:
    cmd = list(STAGES[name])
    if name == "rounds":
        cmd += ["--output_dir", str(out_dir / name), "--sft_overrides.training.max_steps", str(steps),
                "--dpo_overrides.training.max_steps", str(steps)]
        if eval_examples is not None:
            cmd += ["--eval.max_examples", str(eval_examples)]
    elif name.startswith(("sft", "dpo")):
        cmd += ["--training.max_steps", str(steps), "--output_dir", str(out_dir / name)]
        if name.startswith("dpo") and dpo_init:
            cmd += ["--model.init_from", dpo_init]
    else:
        cmd += ["--model", model or _bundled(), "--output_dir", str(out_dir / name)]
    return cmd


def _bundled() -> str:
    from tooljudge.models import smollm2_checkpoint

    return str(smollm2_checkpoint())


def run_stage(name: str, cmd: list[str], log: Path, kill_after: float | None) -> dict:
    before = load()
    start = time.time()
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.Popen(["/usr/bin/time", "-v", PY, *cmd], stdout=f, stderr=subprocess.STDOUT)
        killed = False
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            # stop the Python child, not time itself, so that time still writes its report
            import psutil

            for child in psutil.Process(proc.pid).children():
                child.terminate()
            killed = True
            proc.wait()
    report = parse_time_v(log.read_text(encoding="utf-8", errors="replace"))
    return {"stage": name, "command": "python " + " ".join(cmd), **report, "stopped_early": killed,
            "seconds": round(time.time() - start, 1), "load_avg_1m_before": before, "load_avg_1m_after": load()}


# One forward + backward of TRL's fused LM head alone (trl.kernels.chunked_logprob, as SFT calls it: log-probs,
# entropy, top-1) on SmolLM2's shape (hidden 576, vocabulary 49,152), random weights, a fresh process per tile.
LM_HEAD_PROBE = """
import json, resource, sys, time, torch
from tooljudge.train.heap import limit_heap_retention
limit_heap_retention()
import trl.kernels.chunked_logprob as kernel
tokens, vocab, n = (int(a) for a in sys.argv[1:4])
kernel.TOKEN_CHUNK_SIZE = tokens
torch.manual_seed(0)
weight, hidden = torch.randn(49152, 576) * 0.02, torch.randn(n, 576).requires_grad_(True)
targets = torch.randint(0, 49152, (n,))
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before, start = peak(), time.time()
log_probs, *_ = kernel.ChunkedLogProbFunction.apply(hidden, weight, None, targets, 1.0, vocab, None, 1.0,
                                                    ("log_probs", "entropy", "is_top1"))
log_probs.sum().backward()
print(json.dumps({"tile": [tokens, vocab], "tokens": n, "peak_before_mib": round(before, 1),
                  "peak_mib": round(peak(), 1), "head_mib": round(peak() - before, 1),
                  "seconds": round(time.time() - start, 2), "sum_log_probs": log_probs.sum().item(),
                  "grad_abs_sum": hidden.grad.abs().sum().item()}))
"""


def lm_head_tiles(tiles: str, tokens: int) -> list[dict]:
    """Peak memory of the LM head alone per tile (``TOKENSxVOCAB``), each in a fresh process."""
    rows = []
    for tile in [t for t in tiles.split(",") if t]:
        tok, voc = tile.lower().split("x")
        out = subprocess.run([PY, "-c", LM_HEAD_PROBE, tok, voc, str(tokens)], capture_output=True, text=True,
                             check=True)
        row = {**json.loads(out.stdout.strip().splitlines()[-1]), "load_avg_1m": load()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", default="sft,sft_gc,sft_gc_row1", help=f"comma-separated, from {sorted(STAGES)}")
    ap.add_argument("--steps", type=int, default=1, help="optimizer steps per training stage")
    ap.add_argument("--dpo_init", default=None, help="SFT adapter folder the DPO stages start from")
    ap.add_argument("--model", default=None, help="model the eval stage loads (default: the bundled SmolLM2)")
    ap.add_argument("--out_dir", default="runs/memory_stages", help="stage outputs and logs")
    ap.add_argument("--eval_examples", type=int, default=None,
                    help="rounds stage: eval rows per eval (default: the rounds recipe's)")
    ap.add_argument("--kill_after", type=float, default=None, help="seconds before a stage is stopped")
    ap.add_argument("--output", default=None, help="write the JSON report here")
    ap.add_argument("--lm_head_tiles", default="", help="also measure TRL's LM head alone with these tiles, "
                    "TOKENSxVOCAB comma-separated (TRL's own: 4096x32768; tooljudge's CPU tile: 512x4096)")
    ap.add_argument("--lm_head_tokens", type=int, default=1300, help="tokens per LM-head measurement (the SFT "
                    "demo's micro-batch: 2 rows of ~650)")
    args = ap.parse_args(argv)

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "stages": []}
    for name in [s for s in args.stages.split(",") if s]:
        if name not in STAGES:
            raise SystemExit(f"unknown stage {name!r}; known: {sorted(STAGES)}")
        cmd = stage_command(name, args.steps, out, args.dpo_init, args.model, args.eval_examples)
        row = run_stage(name, cmd, out / f"{name}.log", args.kill_after)
        report["stages"].append(row)
        print(json.dumps(row), flush=True)
    if args.lm_head_tiles:
        report["lm_head"] = lm_head_tiles(args.lm_head_tiles, args.lm_head_tokens)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
