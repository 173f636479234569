"""Shared fixtures for tests/test_train_*.py: a tiny model, small tool-call JSONL sets, recipe files.

The rows are hand-written tool-use conversations in the canonical schema (docs/CONTRIBUTING.md). The tiny model
is ``tooljudge.models.tiny_model_dir`` over a small ChatML byte-level BPE (:func:`tiny_tokenizer`), trained with
data_prep's Qwen2.5 tool template (family ``qwen25``), the pairing of the SmolLM2 demo recipes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FAMILY = "qwen25"

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ADD_TOOL = {"type": "function", "function": {
    "name": "add", "description": "Add two integers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}
CITIES = ["Paris", "Oslo", "Lima", "Tokyo", "Cairo", "Quito", "Perth", "Dakar"]


def sft_row(i: int) -> dict[str, Any]:
    """A two-turn tool conversation: call, tool result, final answer."""
    city = CITIES[i % len(CITIES)]
    temp = 10 + (7 * i) % 20
    return {"messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"What is the weather in {city}?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": f"call_{i:04d}", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": city}}}]},
        {"role": "tool", "tool_call_id": f"call_{i:04d}", "name": "get_weather",
         "content": json.dumps({"temp_c": temp})},
        {"role": "assistant", "content": f"It is {temp} C in {city}."}],
        "tools": [WEATHER_TOOL, ADD_TOOL]}


def short_row(i: int) -> dict[str, Any]:
    """A short chat row without tools (~30 tokens): for runs where only the training mechanics matter."""
    city = CITIES[i % len(CITIES)]
    return {"messages": [{"role": "user", "content": f"Capital letter of {city}?"},
                         {"role": "assistant", "content": f"{city[0]}, as in {city}."}]}


def short_pref_row(i: int) -> dict[str, Any]:
    """A short preference pair without tools."""
    city = CITIES[i % len(CITIES)]
    return {"prompt": [{"role": "user", "content": f"Capital letter of {city}?"}],
            "chosen": [{"role": "assistant", "content": f"{city[0]}."}],
            "rejected": [{"role": "assistant", "content": f"{city[-1]}!"}]}


def pref_row(i: int) -> dict[str, Any]:
    """A preference pair: the right tool call (chosen) vs the wrong tool (rejected)."""
    city = CITIES[i % len(CITIES)]
    return {
        "prompt": [{"role": "system", "content": "You are a helpful assistant."},
                   {"role": "user", "content": f"Weather in {city} please."}],
        "chosen": [{"role": "assistant", "content": "", "tool_calls": [
            {"id": f"call_{i:04d}", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": city}}}]}],
        "rejected": [{"role": "assistant", "content": f"I think {city} is sunny."}],
        "tools": [WEATHER_TOOL, ADD_TOOL],
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_tokenizer():
    """A 512-token byte-level BPE with the ChatML special tokens, trained in ~1 s on this file's rows.

    Why not SmolLM2's tokenizer: its 49k-row LM head dominates a tiny model's CPU step (TRL's chunked log-prob
    kernel tiles over the vocabulary); 512 rows make the launcher/resume tests several times faster. Byte-level,
    so any text still encodes; data_prep's masks on it are cross-checked in test_train_sft.py.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from tooljudge.data_prep.families import family_template
    from transformers import PreTrainedTokenizerFast

    corpus = [family_template(FAMILY)] + [json.dumps(make(i)) for i in range(8)
                                          for make in (sft_row, pref_row, short_row, short_pref_row)]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def tiny_model(cache: Path) -> Path:
    """A 2-layer hidden-64 random Llama over :func:`tiny_tokenizer` (folder cached per test session)."""
    from tooljudge.models import tiny_model_dir

    return tiny_model_dir(tiny_tokenizer(), cache / "tiny-bpe512")


def recipe_dict(kind: str, model: Path | str, data: Path, out: Path, **training: Any) -> dict[str, Any]:
    """A small CPU recipe; ``training`` entries override the defaults."""
    base_training = {
        "output_dir": str(out), "max_steps": 4, "per_device_train_batch_size": 2, "learning_rate": 1e-3,
        "logging_steps": 1, "save_strategy": "no", "seed": 0, "use_cpu": True, "max_length": 512,
        "dataloader_num_workers": 0, "disable_tqdm": True, "lr_scheduler_type": "constant",
        "gradient_checkpointing": False,
    }
    if kind == "dpo":
        base_training.update({"beta": 0.1})
    base_training.update(training)
    return {
        "kind": kind,
        "model": {"name_or_path": str(model), "dtype": "float32", "attn_implementation": "sdpa"},
        "data": {"family": FAMILY, "sources": [{"source": str(data), "weight": 1.0}]},
        "training": base_training,
    }


def write_recipe(path: Path, recipe: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def prefix_diff_prepare(tokenizer, row, family=FAMILY, max_length=None):
    """An independent mask reference (used only where data_prep.masking is absent, and to cross-check it):
    for each assistant turn i, the tokens between render(messages[:i], add_generation_prompt=True) and
    render(messages[:i+1]), cut after the turn's ``<|im_end|>``."""
    messages, tools = row["messages"], row.get("tools") or None
    full = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    mask = [0] * len(ids)
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tools=tools, tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tools=tools, tokenize=False)
        start = len(tokenizer(before, add_special_tokens=False)["input_ids"])
        end = len(tokenizer(upto, add_special_tokens=False)["input_ids"])
        while end > start and ids[end - 1] != stop:
            end -= 1
        for k in range(start, end):
            mask[k] = 1
    return {"input_ids": ids, "assistant_masks": mask}


def tiny_lora_dpo_trainer(model: Path, tmp_path: Path, rows: list[dict[str, Any]], **data_options: Any):
    """``build_dpo_trainer`` on ``rows`` with a new rank-4 LoRA: returns ``(trainer, start, report)``."""
    from tooljudge.train.dpo import build_dpo_trainer
    from tooljudge.train.recipe import recipe_from_dict

    raw = recipe_dict("dpo", model, write_jsonl(tmp_path / "pref.jsonl", rows), tmp_path / "out")
    raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    raw["data"].update(data_options)
    return build_dpo_trainer(recipe_from_dict(raw))
