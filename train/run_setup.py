"""The steps SFT and DPO share: pick the starting weights, tokenise the data, write the run files, train with
resume, save. ``run_sft`` / ``run_dpo`` are short compositions of these.

Why the starting-weights rules live here: DPO (and a later round's SFT) starts from an earlier run's output,
which is either a PEFT adapter or a full model, and the reference model of DPO depends on which.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooljudge.train import model_setup
from tooljudge.train.run_files import resolve_resume, update_run_info, write_run_files

from tooljudge.file_modes import open_saved_weights


@dataclass
class StartPoint:
    """The weights a run starts from and how its reference model (DPO) follows from them."""

    model: Any
    tokenizer: Any
    base_path: str  # the full-weight model the trained adapter (if any) applies to
    continued_adapter: bool  # model is a PeftModel whose existing adapter keeps training


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def say(message: str) -> None:
    """One progress line, from the main process only (a launch with N processes would print it N times)."""
    if is_main_process():
        print(f"[tooljudge] {message}", flush=True)


@dataclass
class RunPlan:
    """What is settled before any weights are read: the TRL config, where the run runs, the preflight's
    findings."""

    args: Any
    layout: dict[str, Any]
    preflight: Any
    requested: dict[str, Any]  # the recipe before the preflight's fallbacks (what train/rounds.py compares)


def plan_run(config, kind: str, forced: dict[str, Any] | None = None) -> RunPlan:
    """Preflight (data, packages, output folder, model reachable), the TRL config and the process layout,
    checked and announced before any model is loaded."""
    from tooljudge.train import trl_seam
    from tooljudge.train.preflight import run_preflight

    say(f"{kind}: checking the recipe ({config.source_path or 'built in code'})")
    requested = copy.deepcopy(config.to_dict())
    report = run_preflight(config)
    trl_seam.check_trl_version()
    args = trl_seam.make_trl_config(kind, config.training, forced=forced)
    layout = trl_seam.check_distributed(args)
    layout["attn_implementation"] = config.model.attn_implementation
    say(f"{kind}: world size {layout['world_size']}, backend {layout['backend'] or 'none'}, device "
        f"{layout['device']} ({layout['distributed_type']}); model from {report.model}; output "
        f"{config.output_dir}")
    if str(layout["device"]).startswith("cpu"):  # tooljudge/cpu_memory.py: what makes CPU steps fault less, measured there
        from tooljudge.cpu_memory import apply_heap_setting, describe

        say(f"{kind}: CPU memory: huge pages for large tensors {describe()}; heap: {apply_heap_setting()}")
    return RunPlan(args, layout, report, requested)


def load_start(config) -> StartPoint:
    """Load the model the recipe starts from (``model.init_from`` or ``model.name_or_path``)."""
    section, lora, fam = config.model, config.lora, config.data.family
    init = section.init_from
    say(f"{config.kind}: loading the model ({init or section.name_or_path})")
    if not init:
        path = model_setup.resolve_model_path(section.name_or_path)
        return StartPoint(model_setup.load_model(section, lora, path), model_setup.load_tokenizer(section, path, fam),
                          path, False)
    if not Path(init).exists():
        raise FileNotFoundError(f"model.init_from: {init} does not exist")
    if not model_setup.is_adapter_dir(init):
        return StartPoint(model_setup.load_model(section, lora, init), model_setup.load_tokenizer(section, init, fam),
                          init, False)
    base = model_setup.resolve_model_path(section.name_or_path) if section.name_or_path else \
        model_setup.adapter_base_path(init)
    tokenizer = model_setup.load_tokenizer(section, init if (Path(init) / "tokenizer_config.json").exists()
                                           else base, fam)
    if section.init_adapter_mode == "continue":
        if lora.enabled:
            from tooljudge.train.recipe import RecipeError

            raise RecipeError("model.init_adapter_mode: continue trains the adapter in model.init_from; set "
                             "lora.enabled: false, or use init_adapter_mode: merge to train a new adapter")
        from peft import PeftModel

        base_model = model_setup.load_model(section, lora, base)
        model = PeftModel.from_pretrained(base_model, init, is_trainable=True)
        return StartPoint(model, tokenizer, base, True)
    # merge: write the merged SFT model once (logits-checked), then start from it like from any full model.
    from tooljudge.train.export import merge_adapter

    merged_dir = config.output_dir / "init_merged"
    if is_main_process() and not (merged_dir / "config.json").exists():
        merge_adapter(init, merged_dir, base_path=base, dtype="float32", tokenizer=tokenizer, overwrite=True)
    _barrier()
    return StartPoint(model_setup.load_model(section, lora, str(merged_dir)), tokenizer, str(merged_dir), False)


def _barrier() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def prepare_data(config, tokenizer):
    """Tokenised train/eval datasets and the per-source report (kept / skipped by reason)."""
    from tooljudge.data_prep.data_mix import build_datasets, summarize_report

    say(f"{config.kind}: preparing the data ({len(config.data.sources)} source(s))")
    train, evaluation, report = build_datasets(config, tokenizer)
    if is_main_process():
        print(summarize_report(report), flush=True)
    return train, evaluation, report


def start_run_files(config, report: dict[str, Any], start: StartPoint, plan: RunPlan,
                    extra: dict[str, Any] | None = None):
    """Resolved recipe + versions + process layout + data report next to the checkpoints (main process only)."""
    if not is_main_process():
        return
    write_run_files(config, config.output_dir, {
        **plan.layout,
        "preflight": plan.preflight.as_dict(),
        "recipe_as_requested": plan.requested,
        "base_model": config.model.name_or_path or None,
        "start_from": start.base_path,
        "continued_adapter": start.continued_adapter,
        "chat_template_sha256": _sha256(start.tokenizer.chat_template),
        "data_report": report,
        **(extra or {}),
    })


def _sha256(text: str | None) -> str | None:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def train_and_save(trainer, config, start: StartPoint) -> Path:
    """Train (resuming from the newest complete checkpoint unless told otherwise), save, record metrics."""
    resume = resolve_resume(config.training.get("resume_from_checkpoint"), config.output_dir)
    if resume:
        say(f"resuming from {resume}")
    steps = trainer.args.max_steps if trainer.args.max_steps > 0 else None
    say(f"{config.kind}: training" + (f" {steps} steps" if steps else f" {trainer.args.num_train_epochs:g} epochs")
        + f" on {len(trainer.train_dataset)} rows (progress bar below; logs every {trainer.args.logging_steps} steps)")
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(config.output_dir))
    if is_main_process():
        open_saved_weights(config.output_dir)  # safetensors writes 0600 (tooljudge.file_modes)
        start.tokenizer.save_pretrained(str(config.output_dir))
        history = trainer.state.log_history
        update_run_info(config.output_dir, resumed_from=resume, global_step=trainer.state.global_step,
                        train_metrics=result.metrics, log_history=history,
                        eval_metrics=_last_eval_metrics(history))
        (config.output_dir / "DONE").write_text(json.dumps({"global_step": trainer.state.global_step}))
    _barrier()
    return config.output_dir


EVAL_PREFIXES = ("eval", "fc/", "judge/")  # Trainer eval logs and tooljudge.eval.hook's metrics


def _last_eval_metrics(history: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in reversed(history):
        metrics = {k: v for k, v in entry.items() if k.startswith(EVAL_PREFIXES)}
        if metrics:
            return metrics
    return {}
