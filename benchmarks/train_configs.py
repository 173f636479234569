"""SFT under DDP, FSDP and ZeRO-3, QLoRA 4-bit SFT, and DPO: tokens/s and peak memory, each against TRL's defaults.

    # one GPU machine (benchmarks/device/train_configs.sh runs this after installing the carried wheels):
    python benchmarks/train_configs.py --preset 0.5b --tokenizer .gpu/cfg/tokenizer --json $OUT/train_configs.json
    # what would run, without running it:
    python benchmarks/train_configs.py --dry_run
    # CPU (what a machine without a GPU can check: DDP over gloo, the others are skipped with their reason):
    python benchmarks/train_configs.py --preset tiny --configs ddp --num_processes 2 --steps 3

No 0.5-1B checkpoint is available offline, so the model is **random-initialised** from a config
(:data:`PRESETS`, seeded, over the bundled SmolLM2 tokenizer): right for speed and memory, meaningless for
quality, and every printed table says so.

Each configuration runs twice on the same rows and model: ``trl_default`` (TRL's own ``SFTConfig``/``DPOConfig``
defaults: padded batches of 8, gradient checkpointing on, bf16 on a GPU; a DPO reference model held as a
second copy) and ``tooljudge`` (what our recipes change: packed BFD rows padding-free at the same token
capacity per step for SFT; reference log-probs precomputed once, no second model, and the NLL term of the
shipped DPO recipe for DPO). Every run is its own launched process group (``accelerate launch`` with the
configs in ``accelerate_configs/``), so peak memory is clean; tokens/s counts the non-pad tokens every process
fed in the timed steps (after ``warmup_steps``), summed over processes; peak memory is the largest
``torch.cuda.max_memory_allocated`` over processes (GPU) or the largest peak RSS (CPU). DPO's precomputed
reference pass runs before the first step: outside tokens/s, inside the run's wall time (``train_seconds``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = ROOT / "accelerate_configs"
CONFIGS = ("ddp", "fsdp", "zero3", "qlora", "dpo")
MODES = ("trl_default", "tooljudge")
PRESETS: dict[str, dict[str, int]] = {
    # hidden, layers, MLP width, attention heads, KV heads. With SmolLM2's 49,152-token vocabulary (tied
    # embeddings): "0.5b" 0.52B parameters, "1b" 1.0B, "tiny" for CPU tests.
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128, "num_attention_heads": 4,
             "num_key_value_heads": 2},
    "0.5b": {"hidden_size": 1280, "num_hidden_layers": 26, "intermediate_size": 3584, "num_attention_heads": 20,
             "num_key_value_heads": 4},
    "1b": {"hidden_size": 2048, "num_hidden_layers": 16, "intermediate_size": 8192, "num_attention_heads": 32,
           "num_key_value_heads": 8},
}
RANDOM_MODEL_NOTE = ("model: random-initialised LlamaForCausalLM from a config (no checkpoint offline); figures "
                     "are speed and memory only, not quality")


@dataclass
class ConfigRun:
    """One measured run: a configuration (how it is launched) in one mode (whose defaults it trains with)."""

    config: str  # ddp | fsdp | zero3 | qlora | dpo
    mode: str  # trl_default | tooljudge
    kind: str  # sft | dpo: which trainer
    accelerate_config: str | None  # file in accelerate_configs/, None: a plain single process
    needs: tuple[str, ...] = ()  # python modules, and "cuda"
    skipped: str | None = None  # why it does not run here

    @property
    def name(self) -> str:
        return f"{self.config}/{self.mode}"


@dataclass
class BenchArgs:
    """What every run shares (the same rows, model and step count)."""

    work_dir: Path
    model_dir: Path
    steps: int = 20
    warmup_steps: int = 2
    batch: int = 8  # rows per padded batch (TRL's default)
    max_length: int = 2048
    sft_rows: int = 640
    dpo_rows: int = 160
    seed: int = 0
    num_processes: int = 1
    on_gpu: bool = False
    attn: str = "sdpa"
    extra: dict[str, Any] = field(default_factory=dict)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def plan_runs(configs: list[str], modes: list[str], cuda: bool | None = None,
              has_module=_has) -> list[ConfigRun]:
    """The runs to make, each marked ``skipped`` with its reason where this machine cannot run it."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    table = {
        "ddp": ("sft", "ddp.yaml" if cuda else "multi_cpu.yaml", ()),
        "fsdp": ("sft", "fsdp.yaml", ("cuda",)),
        "zero3": ("sft", "zero3.yaml", ("cuda", "deepspeed")),
        "qlora": ("sft", None, ("cuda", "bitsandbytes")),
        "dpo": ("dpo", "ddp.yaml" if cuda else "multi_cpu.yaml", ()),
    }
    cuda_why = {"fsdp": "needs a CUDA GPU (accelerate_configs/fsdp.yaml: bf16 over NCCL)",
                "zero3": "needs a CUDA GPU (DeepSpeed ZeRO-3: bf16 over NCCL)",
                "qlora": "needs a CUDA GPU (bitsandbytes 4-bit layers do not train on a CPU)"}
    why = {"deepspeed": "deepspeed is not installed (carry it: benchmarks/device/README.md)",
           "bitsandbytes": "bitsandbytes is not installed (carry it: benchmarks/device/README.md)"}
    runs = []
    for config in configs:
        if config not in table:
            raise SystemExit(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
        kind, accel, needs = table[config]
        missing = [n for n in needs if not (cuda if n == "cuda" else has_module(n))]
        for mode in modes:
            if mode not in MODES:
                raise SystemExit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
            runs.append(ConfigRun(config, mode, kind, accel, needs,
                                  skipped="; ".join(cuda_why[config] if m == "cuda" else why[m]
                                                    for m in missing) or None))
    return runs


def build_random_model(preset: str, out: Path, tokenizer_dir: str | Path, seed: int = 0) -> Path:
    """A seeded random-weight Llama of the preset's shape over the given tokenizer, saved once under ``out``."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = out / f"random-{preset}"
    if (folder / "config.json").exists():
        return folder
    import torch

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=8192, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **PRESETS[preset])
    tmp = out / f".random-{preset}.tmp"
    LlamaForCausalLM(config).save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def parameter_count(preset: str, vocab: int) -> int:
    """Parameters of a preset's Llama with tied embeddings (no model built)."""
    p = PRESETS[preset]
    h, inter, layers = p["hidden_size"], p["intermediate_size"], p["num_hidden_layers"]
    head = h // p["num_attention_heads"]
    attn = 2 * h * h + 2 * h * head * p["num_key_value_heads"]
    return vocab * h + layers * (attn + 3 * h * inter + 2 * h) + h


def recipe_for(run: ConfigRun, args: BenchArgs) -> dict[str, Any]:
    """The recipe a run trains with: TRL's defaults, or the settings tooljudge's recipes change."""
    training: dict[str, Any] = {
        "output_dir": str(args.work_dir / "out" / run.config / run.mode), "max_steps": args.steps,
        "logging_steps": 1, "save_strategy": "no", "report_to": "none", "seed": args.seed, "disable_tqdm": True,
        "dataloader_num_workers": 0, "max_length": args.max_length,  # the same rows in both modes
    }
    if not args.on_gpu:
        training.update(use_cpu=True, bf16=False, gradient_checkpointing=False)
    model = {"name_or_path": str(args.model_dir), "dtype": "bfloat16" if args.on_gpu else "float32",
             "attn_implementation": args.attn}
    lora: dict[str, Any] = {"enabled": False}
    if run.config == "qlora":
        lora = {"enabled": True, "r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear",
                "quantization": "4bit"}
        model["dtype"] = "bfloat16" if args.on_gpu else "float32"
    if run.kind == "sft":
        source = {"source": "builtin:synthetic", "options": {"n": args.sft_rows, "seed": args.seed}}
        if run.mode == "tooljudge":  # the same token capacity per step as a padded batch, packed
            training.update(per_device_train_batch_size=1, max_length=args.batch * args.max_length,
                            packing=True, packing_strategy="bfd")
        else:
            training.update(per_device_train_batch_size=args.batch)
    else:
        source = {"source": "builtin:synthetic", "options": {"n": args.dpo_rows, "seed": args.seed + 1}}
        training.update(per_device_train_batch_size=args.batch, beta=0.1)
        if run.mode == "tooljudge":  # recipes/smollm2_effect_dpo.yaml's loss; no second model in memory
            training.update(precompute_ref_log_probs=True, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 1.0])
    training.update(args.extra)
    return {"kind": run.kind, "model": model,
            "data": {"family": "qwen25", "sources": [source], "max_length": args.max_length,
                     "truncation": "drop_turns"},
            "training": training, "lora": lora}


def launch_command(run: ConfigRun, spec_path: Path, num_processes: int) -> list[str]:
    """The command that starts ``run``'s worker processes."""
    worker = [str(Path(__file__).resolve()), "--_worker", str(spec_path)]
    if run.accelerate_config is None:
        return [sys.executable, *worker]
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
            str(ACCELERATE_CONFIGS / run.accelerate_config), "--num_processes", str(num_processes), *worker]


def count_tokens(inputs: dict[str, Any], pad_id: int | None) -> int:
    """Non-pad tokens in one micro-batch: attention masks summed (DPO: chosen and rejected sides), else
    the ``input_ids`` that are not padding (padding-free packed rows have no mask)."""
    masks = [v for k, v in inputs.items() if k.endswith("attention_mask") and hasattr(v, "sum")]
    if masks:
        return int(sum(int(m.sum()) for m in masks))
    ids = [v for k, v in inputs.items() if k.endswith("input_ids") and hasattr(v, "numel")]
    if pad_id is None:
        return int(sum(int(v.numel()) for v in ids))
    return int(sum(int((v != pad_id).sum()) for v in ids))


def timed_window(marks: list[tuple[int, float, int]], warmup_steps: int):
    """The first and last (step, time, tokens fed) marks of the timing: the clock starts at the end of step
    ``warmup_steps`` (at least step 1, so that at least one step is timed)."""
    if len(marks) < 2:
        raise RuntimeError(f"only {len(marks)} steps ran; the timing needs at least 2")
    start = min(max(warmup_steps, 1), len(marks) - 1) - 1
    return marks[start], marks[-1]


def _reduce(value: float, op: str) -> float:
    """Sum or max over the launched processes (the value itself in a single process)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return float(t.item())


def measure(spec: dict[str, Any]) -> dict[str, Any] | None:
    """Inside each launched process: build the trainer from the recipe, train ``max_steps`` steps and measure.

    Returns the result on the main process (None elsewhere)."""
    import torch
    from tooljudge.train.recipe import recipe_from_dict
    from transformers import TrainerCallback

    config = recipe_from_dict(spec["recipe"])
    if config.kind == "sft":
        from tooljudge.train.sft import build_sft_trainer as build
    else:
        from tooljudge.train.dpo import build_dpo_trainer as build
    built = time.perf_counter()
    trainer, _, report = build(config)
    built = time.perf_counter() - built
    pad_id = trainer.processing_class.pad_token_id
    fed = [0]
    marks: list[tuple[int, float, int]] = []
    original_step = trainer.training_step

    def counted_step(model, inputs, *rest, **kw):
        fed[0] += count_tokens(inputs, pad_id)
        return original_step(model, inputs, *rest, **kw)

    trainer.training_step = counted_step

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            marks.append((state.global_step, time.perf_counter(), fed[0]))

    trainer.add_callback(Clock())
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    (step0, t0, tok0), (step1, t1, tok1) = timed_window(marks, spec["warmup_steps"])
    tokens = _reduce(tok1 - tok0, "sum")
    if torch.cuda.is_available():
        peak = _reduce(torch.cuda.max_memory_allocated() / 2**30, "max")
        reserved = _reduce(torch.cuda.max_memory_reserved() / 2**30, "max")
        kind = "cuda max_memory_allocated (max over processes)"
    else:
        peak = _reduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "max")
        reserved = None
        kind = "process peak RSS (max over processes)"
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    from tooljudge.train.trl_seam import check_distributed

    layout = check_distributed(trainer.args)
    return {"steps": step1, "timed_steps": step1 - step0, "tokens_timed": int(tokens), "seconds_timed": t1 - t0,
            "tokens_per_s": tokens / (t1 - t0) if t1 > t0 else float("nan"), "peak_memory_gib": peak,
            "peak_reserved_gib": reserved, "peak_memory_kind": kind, "build_seconds": built,
            "train_seconds": train_s, "world_size": int(os.environ.get("WORLD_SIZE", "1")), "layout": layout,
            "mask_check": report.get("mask_check")}


def run_one(run: ConfigRun, args: BenchArgs, timeout: float | None = None,
            dry_run: bool = False) -> dict[str, Any]:
    """Launch one run and collect its result (or its skip / failure, with the log's end)."""
    out: dict[str, Any] = {"config": run.config, "mode": run.mode, "accelerate_config": run.accelerate_config}
    spec_path = args.work_dir / "specs" / f"{run.config}-{run.mode}.json"
    cmd = launch_command(run, spec_path, args.num_processes)
    out["command"] = shlex.join(cmd)
    if run.skipped:
        return {**out, "skipped": run.skipped}
    if dry_run:
        return {**out, "skipped": "dry run"}
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps({"recipe": recipe_for(run, args), "warmup_steps": args.warmup_steps}))
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    if not args.on_gpu:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.num_processes)))
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        tail = ((err.stdout or b"")[-1500:] if isinstance(err.stdout, bytes) else (err.stdout or "")[-1500:])
        return {**out, "failed": f"timed out after {timeout:.0f} s", "tail": str(tail)}
    out["wall_seconds"] = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {**out, "failed": f"exit {proc.returncode}", "tail": (proc.stdout + proc.stderr)[-2500:]}
    return {**out, **json.loads(lines[-1][len("RESULT "):])}


def format_table(results: list[dict[str, Any]], header: str) -> str:
    """Side by side: each configuration's tooljudge run against its TRL-defaults run."""
    base = {r["config"]: r for r in results if r["mode"] == "trl_default" and "tokens_per_s" in r}
    lines = [header, RANDOM_MODEL_NOTE, "",
             "| config | mode | world | steps timed | tokens/s | vs TRL defaults | peak memory (GiB) | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "tokens_per_s" not in r:
            lines.append(f"| {r['config']} | {r['mode']} | | | {r.get('skipped') or r.get('failed')} | | | |")
            continue
        ref = base.get(r["config"])
        ratio = f"{r['tokens_per_s'] / ref['tokens_per_s']:.2f}x" if ref else "n/a"
        lines.append(f"| {r['config']} | {r['mode']} | {r['world_size']} | {r['timed_steps']} | "
                     f"{r['tokens_per_s']:,.0f} | {ratio} | {r['peak_memory_gib']:.2f} | {r['wall_seconds']:.0f} |")
    failed = [r for r in results if "failed" in r]
    for r in failed:
        lines += ["", f"{r['config']}/{r['mode']} failed ({r['failed']}); end of its log:", r.get("tail", "")]
    return "\n".join(lines)


def machine_line(on_gpu: bool) -> str:
    import torch

    if on_gpu:
        n = torch.cuda.device_count()
        return f"{n} x {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU, {os.cpu_count()} cores, no GPU (torch {torch.__version__})"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="0.5b", choices=sorted(PRESETS), help="random model shape")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the bundled SmolLM2's)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--modes", default=",".join(MODES), help="trl_default and/or tooljudge")
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per run")
    ap.add_argument("--warmup_steps", type=int, default=2, help="steps left out of the timing")
    ap.add_argument("--batch", type=int, default=8, help="rows per padded batch (TRL's default 8)")
    ap.add_argument("--max_length", type=int, default=2048)
    ap.add_argument("--sft_rows", type=int, default=640)
    ap.add_argument("--dpo_rows", type=int, default=160)
    ap.add_argument("--num_processes", type=int, default=None, help="processes per launch (default: GPUs, or 2 "
                                                                    "on a CPU)")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--budget_s", type=float, default=480.0, help="skip runs that would start after this")
    ap.add_argument("--run_timeout_s", type=float, default=150.0, help="kill one run after this long")
    ap.add_argument("--work_dir", default=str(ROOT / "runs" / "bench_train_configs"))
    ap.add_argument("--json", default=None, help="write every result here")
    ap.add_argument("--dry_run", action="store_true", help="print the plan and commands, run nothing")
    ap.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> list[dict[str, Any]] | None:
    opts = build_parser().parse_args(argv)
    if opts._worker:
        result = measure(json.loads(Path(opts._worker).read_text()))
        if result is not None:
            print("RESULT " + json.dumps(result), flush=True)
        return None
    import torch

    on_gpu = torch.cuda.is_available()
    runs = plan_runs(opts.configs.split(","), opts.modes.split(","), cuda=on_gpu)
    work = Path(opts.work_dir)
    n_proc = opts.num_processes or (torch.cuda.device_count() if on_gpu else 2)
    args = BenchArgs(work_dir=work, model_dir=work / f"random-{opts.preset}", steps=opts.steps,
                     warmup_steps=opts.warmup_steps, batch=opts.batch, max_length=opts.max_length,
                     sft_rows=opts.sft_rows, dpo_rows=opts.dpo_rows, num_processes=n_proc, on_gpu=on_gpu,
                     attn=opts.attn)
    header = (f"machine: {machine_line(on_gpu)}; {n_proc} process(es) per launch"
              + ("; one GPU: DDP and FSDP run with world size 1 (no gradient all-reduce across GPUs)"
                 if on_gpu and n_proc == 1 else ""))
    if not opts.dry_run:
        from tooljudge.models import smollm2_checkpoint

        work.mkdir(parents=True, exist_ok=True)
        args.model_dir = build_random_model(opts.preset, work, opts.tokenizer or smollm2_checkpoint())
    from transformers import AutoConfig

    vocab = AutoConfig.from_pretrained(args.model_dir).vocab_size if not opts.dry_run else 49152
    header += f"\npreset {opts.preset}: {parameter_count(opts.preset, vocab) / 1e9:.2f}B parameters"
    print(header, flush=True)
    start = time.monotonic()
    results = []
    for run in runs:
        left = opts.budget_s - (time.monotonic() - start)
        if not run.skipped and not opts.dry_run and left < 20:
            run.skipped = f"time budget ({opts.budget_s:.0f} s) spent"
        print(f"[train_configs] {run.name}: {'skipped: ' + run.skipped if run.skipped else 'running'} "
              f"[{time.monotonic() - start:.0f} s]", flush=True)
        result = run_one(run, args, timeout=min(opts.run_timeout_s, max(left, 1.0)), dry_run=opts.dry_run)
        if opts.dry_run:
            print("  " + result["command"])
        results.append(result)
    print(format_table(results, header))
    if opts.json:
        Path(opts.json).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.json).write_text(json.dumps({"header": header, "note": RANDOM_MODEL_NOTE, "preset": opts.preset,
                                               "args": vars(opts), "plan": [asdict(r) for r in runs],
                                               "results": results}, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
