"""Export a trained run: the LoRA adapter as is (PEFT format, vLLM ``--enable-lora`` loads it), or merged into
its base as safetensors shards in bf16/fp16/fp32; with the tokenizer and the exact chat template it was trained
with, a ``generation_config`` that stops on the family's stop tokens, and a model card.

``python train/export.py RUN_DIR --output_dir OUT_DIR --mode merged --dtype bfloat16``

Loads anywhere: the adapter names its base by hub id (``HuggingFaceTB/SmolLM2-135M-Instruct`` for the bundled
model; ``--base_model_id`` for a base trained from a local folder), never by a path on the training machine. The
model card shows how to load it with peft / transformers and serve it with vLLM, and the eval figures of the
stage exported. An existing non-empty output folder that export did not make is never replaced without
``--overwrite``.

Why the logits check: a merge can go wrong silently (a module outside the adapter's targets, tied embeddings,
a QLoRA adapter merged into a quantised base, a lost ``modules_to_save``). Before anything is written we compare
the merged model's logits with the adapter model's on a few rendered prompts, then reload the written files and
compare again; a mismatch raises ``ExportError`` and leaves no output folder. QLoRA adapters are merged into the
unquantised base (loaded in float32), never into 4-bit weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tooljudge.eval.headline import headline
from tooljudge.train import model_setup
from tooljudge.train.cli import UserError, run_cli

from tooljudge.config import cli_parser, param, setting
from tooljudge.file_modes import open_saved_weights

DTYPES = ("float32", "bfloat16", "float16")
# Allowed max |logit difference|, relative to max(1, max |logit|): the merge itself is checked in float32; the
# written bf16/fp16 files only have to stay within that dtype's rounding of the weights.
MERGE_TOLERANCE = 1e-4
CAST_TOLERANCE = {"float32": MERGE_TOLERANCE, "bfloat16": 6e-2, "float16": 8e-3}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json",
                   "special_tokens_map.json", "added_tokens.json", "tokenizer.model", "vocab.json", "merges.txt",
                   "vocab.txt", "tokenizer.tiktoken")
CHECK_CONVERSATIONS = [
    [{"role": "user", "content": "What is the weather in Paris?"}],
    [{"role": "system", "content": "You are a careful assistant."},
     {"role": "user", "content": "Add 17 and 25, then explain."}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello, how can I help?"},
     {"role": "user", "content": "Name three primes."}],
]


class ExportError(UserError):
    """The export would not be faithful (logits differ, template changed); nothing was written (a user error:
    shown by ``cli.run_cli`` without traceback)."""


@dataclass
class LogitsCheck:
    """Max |logit difference| of one comparison and whether it is within tolerance."""

    name: str
    max_abs_diff: float
    scale: float
    tolerance: float
    passed: bool


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _run_info(run_dir: Path) -> dict[str, Any]:
    for folder in (run_dir, run_dir.parent):
        path = folder / "run_info.json"
        if path.exists():
            return json.loads(path.read_text())
    return {}


def _recipe_text(run_dir: Path) -> str | None:
    for folder in (run_dir, run_dir.parent):
        path = folder / "recipe.resolved.yaml"
        if path.exists():
            return path.read_text()
    return None


def _family(run_dir: Path, family: str | None) -> str | None:
    if family:
        return family
    text = _recipe_text(run_dir)
    if text:
        import yaml

        return (yaml.safe_load(text).get("data") or {}).get("family")
    return None


def check_prompts(tokenizer, family: str | None, conversations=None) -> list[list[int]]:
    """Token ids of a few generation prompts rendered the way eval renders them (data_prep.render_prompt)."""
    conversations = conversations or CHECK_CONVERSATIONS
    out = []
    for messages in conversations:
        if family:
            from tooljudge.data_prep.masking import render_prompt

            text = render_prompt(tokenizer, messages, family=family)
        else:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


def _logits(model, prompts: list[list[int]]):
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for ids in prompts:
            outs.append(model(input_ids=torch.tensor([ids], device=model.device)).logits[0].float().cpu())
    return outs


def compare_logits(name: str, reference, candidate, tolerance: float) -> LogitsCheck:
    """Max |difference| over all prompts and positions, against ``tolerance * max(1, max |reference|)``."""
    diff = max(float((a - b).abs().max()) for a, b in zip(reference, candidate, strict=True))
    scale = max(1.0, max(float(a.abs().max()) for a in reference))
    return LogitsCheck(name, diff, scale, tolerance, diff <= tolerance * scale)


def _require(check: LogitsCheck) -> None:
    if not check.passed:
        raise ExportError(f"refusing to export: {check.name}: max |logit difference| {check.max_abs_diff:.3g} > "
                          f"{check.tolerance:g} x {check.scale:.3g}")


def _copy_tokenizer(src: Path, dst: Path, tokenizer) -> None:
    """Copy the tokenizer files byte for byte (the chat template stays byte-identical); save them if the
    source folder has none."""
    copied = False
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
            copied = True
    if not copied:
        tokenizer.save_pretrained(str(dst))


def _stop_token_ids(tokenizer, family: str | None) -> tuple[list[int], list[str]]:
    """The family's stop tokens as ids (single tokens) and as stop strings (multi-token markers)."""
    if not family:
        return ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []), []
    from tooljudge.data_prep.families import get_family

    ids, strings = [], []
    for stop in get_family(family, tokenizer=tokenizer).stop_tokens:
        token_id = tokenizer.convert_tokens_to_ids(stop)
        if token_id is not None and token_id != tokenizer.unk_token_id and \
                tokenizer.convert_ids_to_tokens(token_id) == stop:
            ids.append(token_id)
        else:
            strings.append(stop)
    return ids, strings


def _generation_config(model, tokenizer, family: str | None):
    config = model.generation_config
    ids, strings = _stop_token_ids(tokenizer, family)
    if ids:
        config.eos_token_id = ids if len(ids) > 1 else ids[0]
    if strings:
        config.stop_strings = strings
    if tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    return config


def _format_figure(cell: Any) -> str:
    if isinstance(cell, dict) and "value" in cell:
        text = f"{cell['value']:.3f}"
        if cell.get("ci_low") is not None:
            text += f" [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]"
        return text + (f" (n={cell['n']})" if cell.get("n") is not None else "")
    return str(cell)


def usage_section(out_name: str, mode: str, base: str | None) -> list[str]:
    """How to load the export with peft / transformers and serve it with vLLM (the model card's part)."""
    folder = f"./{out_name}"
    if mode == "adapter":
        return [
            "## Use it", "",
            "```python",
            "from peft import AutoPeftModelForCausalLM",
            "from transformers import AutoTokenizer",
            "",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{folder}")  # fetches the base: {base}',
            f'tokenizer = AutoTokenizer.from_pretrained("{folder}")  # the training chat template',
            'prompt = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False)',
            "```", "",
            "Serve with vLLM (LoRA): "
            f"`vllm serve {base} --enable-lora --lora-modules tooljudge={folder} --max-lora-rank 64`, then request "
            "`model: tooljudge`. For a base you keep locally, pass its folder instead of the hub id.", "",
        ]
    return [
        "## Use it", "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'model = AutoModelForCausalLM.from_pretrained("{folder}", dtype="auto")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")  # the training chat template',
        "```", "",
        f"Serve with vLLM: `vllm serve {folder}` (generation_config.json carries the stop tokens).", "",
    ]


def write_model_card(out: Path, run_dir: Path, mode: str, dtype: str | None, base: str | None,
                     checks: list[LogitsCheck], family: str | None, title: str | None = None,
                     eval_figures: dict[str, Any] | None = None, eval_stage: str | None = None,
                     base_note: str | None = None) -> None:
    """README.md: what this is, how to load and serve it, the eval figures of the exported stage, how it was
    trained (the resolved recipe), the export checks."""
    info = _run_info(run_dir)
    base = base or info.get("start_from")
    recipe = _recipe_text(run_dir) or "(no resolved recipe found next to the run)"
    metrics = info.get("eval_metrics") or {}
    eval_file = run_dir / "eval_results.json"  # written by tooljudge.eval.hook at the end of training
    if eval_file.exists():
        results = json.loads(eval_file.read_text())
        flat = results.get("metrics") if isinstance(results.get("metrics"), dict) else results
        metrics = {**metrics, **{k: v for k, v in flat.items() if isinstance(v, int | float | str)}}
        if "step" in results:
            metrics["eval step"] = results["step"]
    lines = [
        "---",
        f"base_model: {base}" if base else "base_model: null",
        "library_name: " + ("peft" if mode == "adapter" else "transformers"),
        "tags: [tooljudge, tool-use, " + (info.get("kind") or "sft") + "]",
        "---",
        "",
        f"# {title or out.name}",
        "",
        f"Exported by tooljudge from `{run_dir}` as **{mode}**" + (f" in {dtype}" if dtype else "") + ".",
        f"Chat-template family: `{family}`. The chat template is the one used in training, byte for byte "
        "(`chat_template.jinja`); `generation_config.json` stops on the family's stop tokens.",
        f"Base model: `{base}`." + (f" {base_note}" if base_note else ""),
        "",
        *usage_section(out.name, mode, base),
    ]
    if eval_figures:
        lines += [f"## Eval figures of this model ({eval_stage or 'the exported stage'})", "",
                  "95% confidence intervals in brackets (function calls: Wilson; judge: normal over questions).", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_format_figure(v)} |" for k, v in eval_figures.items()]
        lines += [""]
    lines += ["## Last eval metrics logged in training", ""]
    lines += [f"- {k}: {v}" for k, v in metrics.items()] or ["(none logged during training"
                                                              + ("; see the eval figures above)" if eval_figures else ")")]
    lines += ["", "## Export checks", ""]
    lines += [f"- {c.name}: max |logit diff| {c.max_abs_diff:.3g}" + (
        "" if "informational" in c.name else
        f" (tolerance {c.tolerance:g} x {c.scale:.3g}): {'passed' if c.passed else 'FAILED'}")
        for c in checks] or ["(none: adapter copied as is)"]
    lines += ["", "## Training", "", f"Versions: `{json.dumps(info.get('versions', {}))}`", "",
              "```yaml", recipe.rstrip(), "```", ""]
    (out / "README.md").write_text("\n".join(lines))


def portable_base(run_dir: Path, base_model_id: str | None = None) -> tuple[str, str | None, str | None]:
    """``(reference written into the export, what training loaded, a note for the card)``.

    The reference is a hub id wherever one is known: ``--base_model_id``, the recipe's ``model.name_or_path``
    when it is a hub id, the hub id of a bundled model; a local folder stays as it is, with a note.
    """
    info = _run_info(run_dir)
    trained_on = info.get("base_model") or ((_recipe_dict(run_dir).get("model") or {}).get("name_or_path"))
    if not trained_on and model_setup.is_adapter_dir(run_dir):
        trained_on = model_setup.adapter_base_name(run_dir)
    trained_on = model_setup.bundled_name_of(trained_on) or trained_on
    if base_model_id:
        return base_model_id, trained_on, None
    if trained_on in model_setup.BUNDLED_MODELS:
        hub = model_setup.BUNDLED_MODELS[trained_on]
        return hub, trained_on, (f"Trained on tooljudge's bundled `{trained_on}` (the GGUF Q4_1 weights of {hub}, "
                                 "dequantised); the hub's weights differ from them by that quantisation. For the "
                                 "exact base: `tooljudge.models.smollm2_checkpoint()`.")
    if trained_on and not Path(trained_on).exists() and trained_on.count("/") == 1:
        return trained_on, trained_on, None
    return trained_on, trained_on, ("The base is a local folder of the training machine: export again with "
                                    "`--base_model_id ORG/NAME` to name it by hub id.")


def _recipe_dict(run_dir: Path) -> dict[str, Any]:
    text = _recipe_text(run_dir)
    if not text:
        return {}
    import yaml

    return yaml.safe_load(text) or {}


def _export_info(out: Path, **fields: Any) -> None:
    (out / model_setup.EXPORT_INFO).write_text(json.dumps({"made_by": "tooljudge train/export.py", **fields},
                                                          indent=2, default=str))


def check_target(out: Path, overwrite: bool = False) -> None:
    """Refuse to replace a non-empty folder that export did not make (no ``tooljudge_export.json``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--output_dir {out} is a file; pick a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / model_setup.EXPORT_INFO).exists() and not overwrite:
        raise ExportError(f"--output_dir {out} exists, is not empty and was not made by train/export.py: refusing "
                          "to delete or overwrite it. Pick another --output_dir, or pass --overwrite to replace it.")


def _staging(out: Path) -> Path:
    staging = out.with_name(out.name + f".partial{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _finish(staging: Path, out: Path, overwrite: bool = False) -> Path:
    try:
        check_target(out, overwrite)
    except ExportError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    open_saved_weights(staging)  # safetensors and copy2 leave weights 0600 (tooljudge.file_modes)
    if out.is_dir():
        shutil.rmtree(out)
    staging.rename(out)
    return out


def _check_template_unchanged(run_dir: Path, out: Path) -> None:
    expected = _run_info(run_dir).get("chat_template_sha256")
    got = _sha256(out / "chat_template.jinja")
    if expected and got and expected != got:
        raise ExportError(f"refusing to export: chat_template.jinja differs from the template trained with "
                          f"(sha256 {got} != {expected})")


def export_adapter(run_dir: str | Path, out_dir: str | Path, family: str | None = None, overwrite: bool = False,
                   eval_figures: dict[str, Any] | None = None, eval_stage: str | None = None,
                   base_model_id: str | None = None) -> Path:
    """Copy the PEFT adapter with the tokenizer, chat template, generation config and model card; its
    ``base_model_name_or_path`` becomes a portable reference (:func:`portable_base`)."""
    from transformers import AutoTokenizer, GenerationConfig

    run_dir, out = Path(run_dir), Path(out_dir)
    if not model_setup.is_adapter_dir(run_dir):
        raise ExportError(f"{run_dir} holds no adapter_config.json: export it with --mode merged or full")
    check_target(out, overwrite)
    family = _family(run_dir, family)
    base, trained_on, note = portable_base(run_dir, base_model_id)
    staging = _staging(out)
    try:
        for path in run_dir.iterdir():
            if path.name.startswith("adapter_") and path.is_file():
                shutil.copy2(path, staging / path.name)
        adapter_config = json.loads((staging / "adapter_config.json").read_text())
        adapter_config["base_model_name_or_path"] = base
        (staging / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2, sort_keys=True))
        tokenizer = AutoTokenizer.from_pretrained(str(run_dir))
        _copy_tokenizer(run_dir, staging, tokenizer)
        try:
            gen = GenerationConfig.from_pretrained(model_setup.adapter_base_path(run_dir))
        except OSError:
            gen = GenerationConfig()
        holder = type("M", (), {"generation_config": gen})()
        _generation_config(holder, tokenizer, family).save_pretrained(str(staging))
        _check_template_unchanged(run_dir, staging)
        write_model_card(staging, run_dir, "adapter", None, base, [], family, out.name, eval_figures, eval_stage,
                         note)
        _export_info(staging, mode="adapter", base_model=base, base_model_trained_on=trained_on,
                     source_run=str(run_dir), eval_stage=eval_stage, eval_figures=eval_figures)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out, overwrite)


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, base_path: str | None = None,
                  dtype: str = "bfloat16", tokenizer=None, family: str | None = None,
                  max_shard_size: str = "5GB", prompts: list[list[int]] | None = None,
                  merge=None, overwrite: bool = False, eval_figures: dict[str, Any] | None = None,
                  eval_stage: str | None = None, base_model_id: str | None = None) -> tuple[Path, list[LogitsCheck]]:
    """Merge a (Q)LoRA adapter into its unquantised base and save safetensors shards, checked by logits.

    ``merge`` (default ``PeftModel.merge_and_unload``) is the merge step, injectable so a test can show that
    a wrong merge is refused.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r} is not one of {DTYPES}")
    adapter_dir, out = Path(adapter_dir), Path(out_dir)
    check_target(out, overwrite)
    portable, trained_on, note = portable_base(adapter_dir, base_model_id)
    base_path = model_setup.resolve_model_path(base_path or model_setup.adapter_base_path(adapter_dir))
    family = _family(adapter_dir, family)
    if tokenizer is None:
        has_tok = (adapter_dir / "tokenizer_config.json").exists()
        tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir if has_tok else base_path))
    prompts = prompts or check_prompts(tokenizer, family)

    # float32, unquantised: the merge is exact up to float32 rounding, whatever the adapter was trained on.
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    base_logits = _logits(base, prompts)
    adapted = PeftModel.from_pretrained(base, str(adapter_dir))
    adapter_logits = _logits(adapted, prompts)
    merged = (merge or (lambda m: m.merge_and_unload()))(adapted)
    checks = [compare_logits("merged (float32) vs adapter", adapter_logits, _logits(merged, prompts),
                             MERGE_TOLERANCE)]
    _require(checks[-1])
    # Informational: how much the adapter changes the model (0 would mean a no-op adapter, e.g. never trained).
    effect = compare_logits("adapter vs base (informational: the adapter's effect)", base_logits, adapter_logits,
                            0.0)
    effect.passed = effect.max_abs_diff > 0
    merged = merged.to(getattr(torch, dtype))
    tolerance = MERGE_TOLERANCE if dtype == "float32" else CAST_TOLERANCE[dtype]

    staging = _staging(out)
    try:
        merged.generation_config = _generation_config(merged, tokenizer, family)
        merged.save_pretrained(str(staging), safe_serialization=True, max_shard_size=max_shard_size)
        _copy_tokenizer(adapter_dir, staging, tokenizer)
        # Round trip: the files on disk, loaded as a user will load them, must give the adapter model's logits.
        reloaded = AutoModelForCausalLM.from_pretrained(str(staging), dtype=getattr(torch, dtype))
        checks.append(compare_logits(f"written files ({dtype}) vs adapter", adapter_logits,
                                     _logits(reloaded, prompts), tolerance))
        _require(checks[-1])
        _check_template_unchanged(adapter_dir, staging)
        write_model_card(staging, adapter_dir, "merged", dtype, portable, checks + [effect], family, out.name,
                         eval_figures, eval_stage, note)
        (staging / "export_checks.json").write_text(json.dumps([asdict(c) for c in checks + [effect]], indent=2))
        _export_info(staging, mode="merged", dtype=dtype, base_model=portable, base_model_trained_on=trained_on,
                     source_run=str(adapter_dir), eval_stage=eval_stage, eval_figures=eval_figures)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out, overwrite), checks


def export_full(run_dir: str | Path, out_dir: str | Path, dtype: str = "bfloat16", family: str | None = None,
                max_shard_size: str = "5GB", overwrite: bool = False, eval_figures: dict[str, Any] | None = None,
                eval_stage: str | None = None, base_model_id: str | None = None) -> tuple[Path, list[LogitsCheck]]:
    """A fully fine-tuned run, cast to ``dtype`` (checked against float32) with the same extras."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, out = Path(run_dir), Path(out_dir)
    check_target(out, overwrite)
    portable, trained_on, _ = portable_base(run_dir, base_model_id)
    family = _family(run_dir, family)
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir))
    prompts = check_prompts(tokenizer, family)
    model = AutoModelForCausalLM.from_pretrained(str(run_dir), dtype=torch.float32)
    reference = _logits(model, prompts)
    model = model.to(getattr(torch, dtype))
    checks: list[LogitsCheck] = []
    staging = _staging(out)
    try:
        model.generation_config = _generation_config(model, tokenizer, family)
        model.save_pretrained(str(staging), safe_serialization=True, max_shard_size=max_shard_size)
        _copy_tokenizer(run_dir, staging, tokenizer)
        reloaded = AutoModelForCausalLM.from_pretrained(str(staging), dtype=getattr(torch, dtype))
        checks.append(compare_logits(f"written files ({dtype}) vs float32 run", reference,
                                     _logits(reloaded, prompts), CAST_TOLERANCE[dtype]))
        _require(checks[-1])
        _check_template_unchanged(run_dir, staging)
        write_model_card(staging, run_dir, "full", dtype, portable, checks, family, out.name, eval_figures,
                         eval_stage, "(fine-tuned from it; the weights here are complete)")
        _export_info(staging, mode="full", dtype=dtype, base_model=portable, base_model_trained_on=trained_on,
                     source_run=str(run_dir), eval_stage=eval_stage, eval_figures=eval_figures)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out, overwrite), checks


def export_run(run_dir: str | Path, out_dir: str | Path, mode: str = "auto", dtype: str = "bfloat16",
               family: str | None = None, max_shard_size: str = "5GB", overwrite: bool = False,
               eval_figures: dict[str, Any] | None = None, eval_stage: str | None = None,
               base_model_id: str | None = None) -> Path:
    """Dispatch on ``mode``: adapter | merged | full | auto (merged for adapters, full otherwise)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"RUN_DIR {run_dir} does not exist; give the output folder of a finished training run")
    is_adapter = model_setup.is_adapter_dir(run_dir)
    if mode == "auto":
        mode = "merged" if is_adapter else "full"
    extras = {"overwrite": overwrite, "eval_figures": eval_figures, "eval_stage": eval_stage,
              "base_model_id": base_model_id}
    if mode == "adapter":
        return export_adapter(run_dir, out_dir, family, **extras)
    if mode == "merged":
        return merge_adapter(run_dir, out_dir, dtype=dtype, family=family, max_shard_size=max_shard_size, **extras)[0]
    if mode == "full":
        if is_adapter:
            raise ExportError(f"{run_dir} is an adapter: use --mode adapter or merged")
        return export_full(run_dir, out_dir, dtype, family, max_shard_size, **extras)[0]
    raise ExportError(f"--mode {mode!r} is not adapter|merged|full|auto")


def stage_eval_figures(run_dir: Path, eval_results: str | Path | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The headline eval figures of the stage in ``run_dir``: ``eval_results`` if given, else the eval folder
    train/rounds.py writes beside it (``round_k/dpo`` -> ``round_k/eval_dpo``)."""
    path = Path(eval_results) if eval_results else run_dir.parent / f"eval_{run_dir.name}" / "eval_results.json"
    if not path.exists():
        if eval_results:
            raise ExportError(f"--eval_results {path} does not exist")
        return None, None
    return headline(json.loads(path.read_text())), f"{run_dir.parent.name}/{run_dir.name}, {path}"


@dataclass(kw_only=True)
class ExportArgs:
    """The options; those that fill ``export_run`` take its defaults (``param``)."""

    output_dir: str | None = setting(None, "where the export goes (made by export; an existing non-empty folder it "
                                     "did not make is refused unless --overwrite)", aliases=["--out"])
    mode: str = param(export_run, "mode", "adapter: the PEFT adapter as is; merged: merged into its base; full: a "
                      "fully fine-tuned run; auto: merged for adapters, full otherwise",
                      choices=("auto", "adapter", "merged", "full"))
    dtype: str = param(export_run, "dtype", "merged/full weights' dtype", choices=DTYPES)
    family: str | None = param(export_run, "family", "chat-template family (default: from the run's recipe)")
    max_shard_size: str = param(export_run, "max_shard_size", "safetensors shard size")
    base_model_id: str | None = param(export_run, "base_model_id", "hub id to name as the base model (default: the "
                                      "recipe's hub id, or the hub id of the bundled model)")
    eval_results: str | None = setting(None, "eval_results.json whose figures go into the model card (default: the "
                                       "rounds eval folder beside RUN_DIR, if any)")
    overwrite: bool = param(export_run, "overwrite", "replace an existing output folder")


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser(ExportArgs, prog="python train/export.py", description=__doc__.split("\n\n")[0])
    parser.epilog = ("Example: python train/export.py runs/smollm2_demo_rounds/round_1/dpo --output_dir exported "
                     "--mode adapter. --debug shows the full traceback of an error.")
    parser.add_argument("run_dir", help="a finished training output folder (adapter or full model)")
    parser.add_argument("out_dir", nargs="?", help=argparse.SUPPRESS)  # the old positional OUT_DIR
    return parser


def _main(argv: list[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    output_dir = args.output_dir or args.out_dir
    if not output_dir:
        parser.error("give --output_dir OUT_DIR")
    figures, stage = stage_eval_figures(Path(args.run_dir), args.eval_results)
    out = export_run(args.run_dir, output_dir, args.mode, args.dtype, args.family, args.max_shard_size,
                     overwrite=args.overwrite, eval_figures=figures, eval_stage=stage,
                     base_model_id=args.base_model_id)
    print(f"[tooljudge] exported to {out} (how to load and serve it: {out}/README.md)")


def main(argv: list[str] | None = None) -> None:
    run_cli(_main, argv, build_parser().format_help())


if __name__ == "__main__":
    main()
