"""Export a trained run: the LoRA adapter as is (PEFT format, vLLM ``--enable-lora`` loads it), or merged into
its base as safetensors shards in bf16/fp16/fp32; with the tokenizer and the exact chat template it was trained
with, a ``generation_config`` that stops on the family's stop tokens, and a model card.

``python train/export.py RUN_DIR OUT_DIR --mode merged --dtype bfloat16``

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

from tooljudge.train import model_setup

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


class ExportError(RuntimeError):
    """The export would not be faithful (logits differ, template changed); nothing was written."""


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


def write_model_card(out: Path, run_dir: Path, mode: str, dtype: str | None, base: str | None,
                     checks: list[LogitsCheck], family: str | None, title: str | None = None) -> None:
    """README.md: what this is, how it was trained (the resolved recipe), the last eval metrics, the checks."""
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
        "",
        "## Last eval metrics",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in metrics.items()] or ["(no eval metrics recorded for this run)"]
    lines += ["", "## Export checks", ""]
    lines += [f"- {c.name}: max |logit diff| {c.max_abs_diff:.3g}" + (
        "" if "informational" in c.name else
        f" (tolerance {c.tolerance:g} x {c.scale:.3g}): {'passed' if c.passed else 'FAILED'}")
        for c in checks] or ["(none: adapter copied as is)"]
    lines += ["", "## Training", "", f"Versions: `{json.dumps(info.get('versions', {}))}`", "",
              "```yaml", recipe.rstrip(), "```", ""]
    (out / "README.md").write_text("\n".join(lines))


def _staging(out: Path) -> Path:
    staging = out.with_name(out.name + f".partial{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _finish(staging: Path, out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out


def _check_template_unchanged(run_dir: Path, out: Path) -> None:
    expected = _run_info(run_dir).get("chat_template_sha256")
    got = _sha256(out / "chat_template.jinja")
    if expected and got and expected != got:
        raise ExportError(f"refusing to export: chat_template.jinja differs from the template trained with "
                          f"(sha256 {got} != {expected})")


def export_adapter(run_dir: str | Path, out_dir: str | Path, family: str | None = None) -> Path:
    """Copy the PEFT adapter with the tokenizer, chat template, generation config and model card."""
    from transformers import AutoTokenizer, GenerationConfig

    run_dir, out = Path(run_dir), Path(out_dir)
    if not model_setup.is_adapter_dir(run_dir):
        raise ExportError(f"{run_dir} holds no adapter_config.json: export it with --mode merged or full")
    family = _family(run_dir, family)
    staging = _staging(out)
    try:
        for path in run_dir.iterdir():
            if path.name.startswith("adapter_") and path.is_file():
                shutil.copy2(path, staging / path.name)
        tokenizer = AutoTokenizer.from_pretrained(str(run_dir))
        _copy_tokenizer(run_dir, staging, tokenizer)
        base = model_setup.adapter_base_path(run_dir)
        try:
            gen = GenerationConfig.from_pretrained(base)
        except OSError:
            gen = GenerationConfig()
        holder = type("M", (), {"generation_config": gen})()
        _generation_config(holder, tokenizer, family).save_pretrained(str(staging))
        _check_template_unchanged(run_dir, staging)
        write_model_card(staging, run_dir, "adapter", None, base, [], family, out.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out)


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, base_path: str | None = None,
                  dtype: str = "bfloat16", tokenizer=None, family: str | None = None,
                  max_shard_size: str = "5GB", prompts: list[list[int]] | None = None,
                  merge=None) -> tuple[Path, list[LogitsCheck]]:
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
        write_model_card(staging, adapter_dir, "merged", dtype, base_path, checks + [effect], family, out.name)
        (staging / "export_checks.json").write_text(json.dumps([asdict(c) for c in checks + [effect]], indent=2))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out), checks


def export_full(run_dir: str | Path, out_dir: str | Path, dtype: str = "bfloat16", family: str | None = None,
                max_shard_size: str = "5GB") -> tuple[Path, list[LogitsCheck]]:
    """A fully fine-tuned run, cast to ``dtype`` (checked against float32) with the same extras."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, out = Path(run_dir), Path(out_dir)
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
        write_model_card(staging, run_dir, "full", dtype, None, checks, family, out.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(staging, out), checks


def export_run(run_dir: str | Path, out_dir: str | Path, mode: str = "auto", dtype: str = "bfloat16",
               family: str | None = None, max_shard_size: str = "5GB") -> Path:
    """Dispatch on ``mode``: adapter | merged | full | auto (merged for adapters, full otherwise)."""
    run_dir = Path(run_dir)
    is_adapter = model_setup.is_adapter_dir(run_dir)
    if mode == "auto":
        mode = "merged" if is_adapter else "full"
    if mode == "adapter":
        return export_adapter(run_dir, out_dir, family)
    if mode == "merged":
        return merge_adapter(run_dir, out_dir, dtype=dtype, family=family, max_shard_size=max_shard_size)[0]
    if mode == "full":
        if is_adapter:
            raise ExportError(f"{run_dir} is an adapter: use --mode adapter or merged")
        return export_full(run_dir, out_dir, dtype, family, max_shard_size)[0]
    raise ExportError(f"--mode {mode!r} is not adapter|merged|full|auto")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--mode", default="auto", choices=["auto", "adapter", "merged", "full"])
    parser.add_argument("--dtype", default="bfloat16", choices=list(DTYPES))
    parser.add_argument("--family", default=None, help="chat-template family (default: from the run's recipe)")
    parser.add_argument("--max_shard_size", default="5GB")
    args = parser.parse_args(argv)
    out = export_run(args.run_dir, args.out_dir, args.mode, args.dtype, args.family, args.max_shard_size)
    print(f"[tooljudge] exported to {out}")


if __name__ == "__main__":
    main()
