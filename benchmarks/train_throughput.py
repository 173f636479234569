"""SFT throughput: TRL's default padded batches vs our packed / padding-free path, same rows, same model.

    # GPU, a 0.5B-class random-weight Llama over SmolLM2's tokenizer, flash-attention when installed:
    python benchmarks/train_throughput.py --preset 0.5b --rows 512 --json runs/bench/train_gpu.json
    # CPU, tiny config (what CI machines can run):
    python benchmarks/train_throughput.py --preset tiny --rows 48 --device cpu --json runs/bench/train_cpu.json
    # plus DeepSpeed ZeRO-3 on one GPU, end to end through accelerate launch (needs deepspeed):
    python benchmarks/train_throughput.py --preset 0.5b --zero3

Why these two modes: conversational tool data has very uneven lengths (a one-line answer next to a long tool
schema and results), so padded batches spend much of their compute on pad tokens. Packing (TRL's BFD) with
padding-free attention (position ids restart per row; flash-attention varlen on GPU, a block-diagonal mask on
CPU/sdpa) spends it on real tokens, and our masks survive it (checked when the trainer is built).

Each mode runs in its own subprocess (clean peak memory), over one epoch of the same data_prep-prepared rows;
tokens/s counts real (non-pad) tokens after the first step (warm-up excluded). Peak memory is
``torch.cuda.max_memory_allocated`` on GPU and the process's peak RSS on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import tooljudge  # noqa: F401  before torch, as the CLIs import it: huge pages on (tooljudge/cpu_memory.py)

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    # name: (hidden, layers, intermediate, heads, kv heads)
    "tiny": (64, 2, 128, 4, 2),
    "0.5b": (1024, 24, 2816, 16, 8),  # ~0.45B parameters with SmolLM2's 49k vocabulary
    "1b": (2048, 16, 5632, 32, 8),
}
MODES = ("padded", "packed")


def build_model_dir(preset: str, out: Path, tokenizer_path: str | None = None) -> Path:
    """A random-weight Llama of the preset size over SmolLM2's tokenizer (no download; ``tokenizer_path``
    reads it from a folder instead of the bundled model, e.g. where the bundled GGUF is not installed)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tooljudge.models import smollm2_checkpoint

    folder = out / f"random-{preset}"
    if (folder / "config.json").exists():
        return folder
    import torch

    hidden, layers, inter, heads, kv = PRESETS[preset]
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or smollm2_checkpoint())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=inter,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                         max_position_embeddings=8192, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def write_data(rows: int, out: Path, seed: int) -> Path:
    """Synthetic executed tool conversations (all categories) from data_prep, as JSONL."""
    from tooljudge.data_prep.synthetic import SynthConfig, synthesize

    path = out / f"synthetic-{rows}-{seed}.jsonl"
    if not path.exists():
        data, _ = synthesize(SynthConfig(n=rows, seed=seed))
        path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return path


def recipe(model: Path, data: Path, out: Path, mode: str, args) -> dict:
    on_gpu = args.device == "cuda"
    training = {
        "output_dir": str(out / mode), "num_train_epochs": 1, "learning_rate": 1e-5, "logging_steps": 1,
        "save_strategy": "no", "report_to": "none", "seed": 0, "disable_tqdm": True,
        "gradient_checkpointing": args.gradient_checkpointing, "use_cpu": not on_gpu, "bf16": on_gpu,
        "dataloader_num_workers": 0,
    }
    if mode == "padded":  # TRL's defaults: padded batches of `batch` rows
        training.update(per_device_train_batch_size=args.batch, max_length=args.max_length, packing=False)
    else:  # the same token capacity per step, packed (BFD) and padding-free
        training.update(per_device_train_batch_size=1, max_length=args.batch * args.max_length, packing=True,
                        packing_strategy="bfd")
    attn = args.attn or ("flash_attention_2" if on_gpu and _has("flash_attn") else "sdpa")
    return {"kind": "sft",
            "model": {"name_or_path": str(model), "dtype": "bfloat16" if on_gpu else "float32",
                      "attn_implementation": attn},
            "data": {"family": "qwen25", "sources": [{"source": str(data)}], "max_length": args.max_length},
            "training": training}


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run_mode(spec_path: Path) -> dict:
    """Inside the subprocess: build the trainer, time one epoch, report tokens/s and peak memory."""
    import torch
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.sft import build_sft_trainer
    from transformers import TrainerCallback

    spec = json.loads(spec_path.read_text())
    config = recipe_from_dict(spec["recipe"])
    trainer, _, report = build_sft_trainer(config)
    marks: list[tuple[int, float]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            marks.append((state.global_step, time.perf_counter()))

    trainer.add_callback(Clock())
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    tokens = {e["step"]: e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e}
    (first_step, t_first), (last_step, t_last) = marks[0], marks[-1]
    timed_tokens = tokens[last_step] - tokens[first_step]
    if torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
        peak_kind = "cuda max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
        peak_kind = "process peak RSS"
    return {"mode": spec["mode"], "steps": last_step, "timed_steps": last_step - first_step,
            "tokens_timed": timed_tokens, "seconds_timed": t_last - t_first,
            "tokens_per_s": timed_tokens / (t_last - t_first), "peak_memory_gib": peak, "peak_memory_kind": peak_kind,
            "rows": report["train"][0]["kept"], "mask_check": report["mask_check"]}


def run_zero3(model: Path, data: Path, out: Path, args) -> dict:
    """ZeRO-3 on one GPU through the real launcher (end to end; needs deepspeed)."""
    import yaml

    if not _has("deepspeed"):
        return {"mode": "zero3", "skipped": "deepspeed is not installed"}
    spec = recipe(model, data, out, "zero3", args)
    spec["training"].update(max_steps=10, per_device_train_batch_size=args.batch, max_length=args.max_length)
    path = out / "zero3.yaml"
    path.write_text(yaml.safe_dump(spec))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                           str(ROOT / "accelerate_configs" / "zero3.yaml"), "--num_processes", "1",
                           str(ROOT / "train" / "sft.py"), str(path)], capture_output=True, text=True)
    return {"mode": "zero3", "returncode": proc.returncode, "seconds": time.perf_counter() - start,
            "tail": (proc.stdout + proc.stderr)[-1500:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--batch", type=int, default=4, help="rows per padded batch")
    parser.add_argument("--max_length", type=int, default=2048)
    parser.add_argument("--device", default=None, choices=["cuda", "cpu"])
    parser.add_argument("--attn", default=None, help="attention implementation (default: flash_attention_2 on "
                                                     "GPU when installed, else sdpa)")
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--zero3", action="store_true")
    parser.add_argument("--work_dir", default=str(ROOT / "runs" / "bench_train"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the bundled SmolLM2's)")
    parser.add_argument("--_spec", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._spec:
        print("RESULT " + json.dumps(run_mode(Path(args._spec))), flush=True)
        return
    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    model = build_model_dir(args.preset, work, args.tokenizer)
    data = write_data(args.rows, work, args.seed)
    results = []
    for mode in args.modes.split(","):
        spec = work / f"{mode}.spec.json"
        spec.write_text(json.dumps({"mode": mode, "recipe": recipe(model, data, work, mode, args)}))
        proc = subprocess.run([sys.executable, __file__, "--_spec", str(spec)], capture_output=True, text=True,
                              env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"mode {mode} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(lines[-1][len("RESULT "):]))
    if args.zero3:
        results.append(run_zero3(model, data, work, args))
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    summary = {"device": device, "preset": args.preset, "rows": args.rows, "batch": args.batch,
               "max_length": args.max_length, "command": " ".join(sys.argv), "results": results}
    base = next((r for r in results if r.get("mode") == "padded"), None)
    print(f"device: {device}; preset {args.preset}; {args.rows} rows; padded batch {args.batch} x <= "
          f"{args.max_length} tokens, packed 1 x {args.batch * args.max_length}")
    print("| mode | steps | tokens/s | speed-up | peak memory (GiB) |\n|---|---|---|---|---|")
    for r in results:
        if "tokens_per_s" not in r:
            print(f"| {r['mode']} | {r} |")
            continue
        speed = r["tokens_per_s"] / base["tokens_per_s"] if base else float("nan")
        print(f"| {r['mode']} | {r['steps']} | {r['tokens_per_s']:.1f} | {speed:.2f}x | "
              f"{r['peak_memory_gib']:.2f} ({r['peak_memory_kind']}) |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
