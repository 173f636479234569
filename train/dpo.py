"""Preference tuning: ``accelerate launch train/dpo.py recipes/llama31_dpo.yaml [--key value ...]``.

Thin over TRL's DPOTrainer. Pairs are rendered by data_prep (``render_prompt`` + ``render_completion``) and
handed over as token ids, so the loss covers exactly the chosen/rejected assistant turn, stop token included.
The run starts from the SFT output named in ``model.init_from``; the reference model follows from it:

- SFT adapter, ``init_adapter_mode: continue``: the adapter keeps training; TRL keeps a frozen copy of it as
  the reference (so the reference is the SFT model, not the bare base).
- new LoRA (``lora.enabled``): the reference is the same model with the adapter disabled.
- full fine-tuning: a second copy of the starting model, or ``training.precompute_ref_log_probs: true`` to
  compute the reference log-probs once before training and keep no second model in memory.
"""

from __future__ import annotations

from pathlib import Path

from tooljudge.train import model_setup, run_setup, trl_seam
from tooljudge.train.callbacks_setup import build_callbacks
from tooljudge.train.cli import run_cli
from tooljudge.train.recipe import RecipeConfig, RecipeError, parse_cli, usage


def reference_kind(config: RecipeConfig, start: run_setup.StartPoint) -> str:
    """How the DPO reference log-probs are obtained (recorded in run_info.json)."""
    if start.continued_adapter:
        return "frozen copy of the init_from adapter"
    if config.lora.enabled:
        return "policy with the LoRA adapter disabled"
    if config.training.get("precompute_ref_log_probs"):
        return "precomputed from the starting model"
    return "separate copy of the starting model"


def build_dpo_trainer(config: RecipeConfig):
    """Everything up to (not including) ``train()``: returns ``(trainer, start, report)``."""
    if config.kind != "dpo":
        raise RecipeError(f"train/dpo.py runs kind: dpo recipes; this one is kind: {config.kind}")
    plan = run_setup.plan_run(config, "dpo")
    args = plan.args
    start = run_setup.load_start(config)
    train_rows, eval_rows, report = run_setup.prepare_data(config, start.tokenizer)
    peft_config = None if start.continued_adapter else model_setup.lora_config(config.lora)
    from tooljudge.train.dpo_watch import ChosenLikelihoodWatch  # imports transformers: not at --help time

    callbacks = build_callbacks(config, start.tokenizer)
    callbacks.append(ChosenLikelihoodWatch(beta=args.beta, output_dir=args.output_dir))
    trainer = trl_seam.dpo_trainer(start.model, args, start.tokenizer, train_rows, eval_rows,
                                   peft_config=peft_config, callbacks=callbacks,
                                   prompt_once=config.data.prompt_once)
    run_setup.start_run_files(config, report, start, plan, {"dpo_reference": reference_kind(config, start)})
    return trainer, start, report


def run_dpo(config: RecipeConfig) -> Path:
    """Run DPO for ``config``; returns the output folder."""
    trainer, start, _ = build_dpo_trainer(config)
    return run_setup.train_and_save(trainer, config, start)


def _main(argv: list[str]) -> None:
    config, _ = parse_cli(argv)
    out = run_dpo(config)
    if run_setup.is_main_process():
        print(f"[tooljudge] DPO done: {out}")


def main(argv: list[str] | None = None) -> None:
    run_cli(_main, argv, usage("dpo.py", "dpo"))


if __name__ == "__main__":
    main()
