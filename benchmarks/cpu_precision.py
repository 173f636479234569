"""LoRA SFT speed on a CPU: float32 vs bf16 autocast, with and without LoRA dropout, through train/sft.py.

    python benchmarks/cpu_precision.py [--steps 6] [--json runs/bench/cpu_precision.json]

Each variant is the demo recipe (recipes/smollm2_demo.yaml: the bundled SmolLM2-135M, LoRA r16 on every linear
layer) run for ``--steps`` steps of 4 rows, in its own process, the same rows in the same order; it prints each
variant's train_runtime and its speed against the recipe's own setting (float32, dropout 0.05), which is what a
user gets without changing anything.

Why: on our 2-core CPU with avx512_bf16, bf16 autocast alone barely sped up a LoRA run, and neither did dropout 0
alone, but the two together were 1.6x faster (benchmarks/README.md; we have not profiled why: peft applies the
dropout to each adapted layer's input, outside the base layer's autocast matmul). A CPU without native bf16
emulates it: measure first.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name: (bf16, lora dropout)
    "float32, dropout 0.05 (recipe default)": (False, 0.05),
    "bf16 autocast, dropout 0.05": (True, 0.05),
    "float32, dropout 0": (False, 0.0),
    "bf16 autocast, dropout 0": (True, 0.0),
}


def sft_command(steps: int, bf16: bool, dropout: float, out_dir: Path) -> list[str]:
    """train/sft.py on the demo recipe with this precision and dropout, 4 rows per step, no warm-up."""
    return [sys.executable, str(ROOT / "train" / "sft.py"), str(ROOT / "recipes" / "smollm2_demo.yaml"),
            "--training.max_steps", str(steps), "--training.bf16", str(bf16).lower(),
            "--training.use_cpu", "true", "--training.output_dir", str(out_dir),
            "--training.save_steps", "100000", "--training.per_device_train_batch_size", "4",
            "--training.gradient_accumulation_steps", "1", "--training.warmup_steps", "0",
            "--lora.dropout", str(dropout)]


def train_runtime(log: str) -> float:
    """TRL's final ``train_runtime`` (seconds) from a run's output."""
    found = re.findall(r"'train_runtime': '([0-9.]+)'", log)
    if not found:
        raise RuntimeError(f"no train_runtime in the run's output; its tail:\n{log[-2000:]}")
    return float(found[-1])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--work", default="runs/bench/cpu_precision", help="scratch folder for the runs")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    results = {}
    for name, (bf16, dropout) in VARIANTS.items():
        out = Path(args.work) / re.sub(r"\W+", "_", name)
        run = subprocess.run(sft_command(args.steps, bf16, dropout, out), capture_output=True, text=True,
                             cwd=ROOT)
        if run.returncode:
            raise RuntimeError(f"{name}: train/sft.py failed ({run.returncode}):\n{run.stderr[-2000:]}")
        results[name] = train_runtime(run.stdout + run.stderr)
        print(f"{name}: {results[name]:.1f} s for {args.steps} steps", flush=True)
    base = results[next(iter(VARIANTS))]
    for name, seconds in results.items():
        print(f"{name:42s} {seconds / args.steps:6.1f} s/step  {base / seconds:4.2f}x")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"steps": args.steps, "seconds": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
