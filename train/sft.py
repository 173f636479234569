"""Supervised fine-tuning: ``accelerate launch train/sft.py recipes/llama31.yaml [--key value ...]``.

Thin over TRL's SFTTrainer: data_prep's ``input_ids`` + ``assistant_masks`` go in pre-tokenised, TRL turns
the masks into labels (and packs them when ``training.packing`` is on); we check they survived before the
first step. The same file runs on one CPU, one GPU, or many through accelerate (DDP, FSDP, DeepSpeed).
"""

from __future__ import annotations

from pathlib import Path

from tooljudge.train import model_setup, run_setup, trl_seam
from tooljudge.train.callbacks_setup import build_callbacks
from tooljudge.train.cli import run_cli
from tooljudge.train.recipe import RecipeConfig, RecipeError, parse_cli, usage


def build_sft_trainer(config: RecipeConfig):
    """Everything up to (not including) ``train()``: returns ``(trainer, start, report)``."""
    if config.kind != "sft":
        raise RecipeError(f"train/sft.py runs kind: sft recipes; this one is kind: {config.kind}")
    plan = run_setup.plan_run(config, "sft", forced={
        "assistant_only_loss": False,  # our assistant_masks already select the trained tokens
    })
    args = plan.args
    start = run_setup.load_start(config)
    train_rows, eval_rows, report = run_setup.prepare_data(config, start.tokenizer)
    peft_config = None if start.continued_adapter else model_setup.lora_config(config.lora)
    trainer = trl_seam.sft_trainer(start.model, args, start.tokenizer, train_rows, eval_rows,
                                   peft_config=peft_config, callbacks=build_callbacks(config, start.tokenizer))
    counts = trl_seam.check_sft_labels(train_rows, trainer.train_dataset, packed=bool(args.packing))
    report["mask_check"] = {"passed": True, "packed": bool(args.packing), **counts}
    run_setup.start_run_files(config, report, start, plan)
    return trainer, start, report


def run_sft(config: RecipeConfig) -> Path:
    """Run SFT for ``config``; returns the output folder (final weights or adapter, tokenizer, run files)."""
    trainer, start, _ = build_sft_trainer(config)
    return run_setup.train_and_save(trainer, config, start)


def _main(argv: list[str]) -> None:
    config, _ = parse_cli(argv)
    out = run_sft(config)
    if run_setup.is_main_process():
        print(f"[tooljudge] SFT done: {out}")


def main(argv: list[str] | None = None) -> None:
    run_cli(_main, argv, usage("sft.py", "sft"))


if __name__ == "__main__":
    main()
