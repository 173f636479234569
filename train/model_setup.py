"""Model, tokenizer, chat template and LoRA/QLoRA objects from a recipe's ``model`` and ``lora`` sections.

Why one place: SFT, DPO, export and rounds must load the same weights the same way, with the same chat
template (the one data_prep masked with is the one saved next to the weights, byte for byte).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TRL_TEMPLATE_PREFIX = "trl:"
# Names of bundled models, their resolution and the export marker live in the bottom layer (eval needs them too).
from tooljudge.models import (  # noqa: E402,F401  (re-exported: callers and tests use model_setup's names)
    BUNDLED_MODELS,
    BUNDLED_PREFIX,
    BUNDLED_SMOLLM2,
    EXPORT_INFO,
    adapter_base_name,
    bundled_name_of,
    is_adapter_dir,
    resolve_model_path,
)


def chat_template_text(spec: str) -> str:
    """The exact text of a chat template: ``trl:<name>`` (TRL's bundled file) or a path to a .jinja file."""
    if spec.startswith(TRL_TEMPLATE_PREFIX):
        import trl

        path = Path(trl.__file__).parent / "chat_templates" / f"{spec[len(TRL_TEMPLATE_PREFIX):]}.jinja"
    else:
        path = Path(spec).expanduser()
    if not path.exists():
        from tooljudge.train.recipe import RecipeError

        raise RecipeError(f"model.chat_template: {spec!r} -> {path} does not exist")
    return path.read_bytes().decode("utf-8")


def install_chat_template(tokenizer, family: str, spec: str | None) -> str:
    """Put on the tokenizer the template data_prep renders with for ``family`` (saved with the weights).

    ``spec`` (the recipe's ``model.chat_template``) replaces the tokenizer's own template first; a family that
    bundles its own template (qwen25, llama31, ...) renders with that one, so it must agree with ``spec``.
    """
    from tooljudge.data_prep.families import get_family

    if spec:
        tokenizer.chat_template = chat_template_text(spec)
    fam = get_family(family, tokenizer=tokenizer)
    template = fam.chat_template(tokenizer)
    if spec and template != tokenizer.chat_template:
        from tooljudge.train.recipe import RecipeError

        raise RecipeError(f"model.chat_template {spec!r} differs from the template of data.family {fam.name!r}, "
                         "which data_prep renders with; drop model.chat_template or pick the matching family")
    tokenizer.chat_template = template
    return fam.name


def load_tokenizer(model_section, path: str | None = None, family: str | None = None):
    """The tokenizer with the training chat template installed and a pad token set."""
    from transformers import AutoTokenizer

    path = path or resolve_model_path(model_section.name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=model_section.trust_remote_code,
                                              revision=model_section.revision)
    if family is not None:
        install_chat_template(tokenizer, family, model_section.chat_template)
    elif model_section.chat_template:
        tokenizer.chat_template = chat_template_text(model_section.chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def torch_dtype(name: str):
    import torch

    return {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def quantization_config(lora_section):
    """bitsandbytes config for QLoRA (None without quantisation). Constructing it needs no GPU; loading does."""
    if not lora_section.quantization:
        return None
    from transformers import BitsAndBytesConfig

    if lora_section.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=lora_section.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=torch_dtype(lora_section.bnb_4bit_compute_dtype),
        bnb_4bit_use_double_quant=lora_section.bnb_4bit_use_double_quant,
        bnb_4bit_quant_storage=torch_dtype(lora_section.bnb_4bit_compute_dtype),  # FSDP-QLoRA needs it uniform
    )


def check_quantization_available(lora_section) -> None:
    """QLoRA needs bitsandbytes and a CUDA device: say so before any weights are read."""
    if not lora_section.quantization:
        return
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") is None:
        raise RuntimeError("lora.quantization needs bitsandbytes: pip install 'tooljudge[qlora]'")
    if not torch.cuda.is_available():
        raise RuntimeError("lora.quantization (QLoRA) needs a CUDA GPU; bitsandbytes 4-bit layers do not train on CPU")


def model_init_kwargs(model_section, lora_section) -> dict[str, Any]:
    """Keyword arguments for ``AutoModelForCausalLM.from_pretrained``."""
    kwargs: dict[str, Any] = {"dtype": torch_dtype(model_section.dtype),
                              "trust_remote_code": model_section.trust_remote_code}
    if model_section.revision:
        kwargs["revision"] = model_section.revision
    if model_section.attn_implementation:
        kwargs["attn_implementation"] = model_section.attn_implementation
    quant = quantization_config(lora_section)
    if quant is not None:
        kwargs["quantization_config"] = quant
        import os

        # One GPU per process: each rank loads its own quantised copy on its own device.
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return kwargs


def load_model(model_section, lora_section, path: str | None = None):
    """The causal LM to train, from ``path`` or the recipe's ``name_or_path``."""
    from transformers import AutoModelForCausalLM

    check_quantization_available(lora_section)
    path = path or resolve_model_path(model_section.name_or_path)
    return AutoModelForCausalLM.from_pretrained(path, **model_init_kwargs(model_section, lora_section))


def lora_config(lora_section):
    """peft ``LoraConfig`` from the recipe (None when LoRA is off)."""
    if not lora_section.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora_section.r,
        lora_alpha=lora_section.alpha,
        lora_dropout=lora_section.dropout,
        target_modules=lora_section.target_modules,
        modules_to_save=lora_section.modules_to_save,
        bias="none",
        task_type="CAUSAL_LM",
    )


def adapter_base_path(adapter_dir: str | Path) -> str:
    """The base model an adapter was trained on, as a path or hub id ``from_pretrained`` loads."""
    return resolve_model_path(adapter_base_name(adapter_dir))
