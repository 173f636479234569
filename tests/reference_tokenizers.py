"""Local Hugging Face tokenizers for the reference families, built from files that ship in PyPI wheels.

Why: the parity tests and benchmarks must run offline, yet compare our chat-template rendering token for token
with the vendors' own encoders. Each builder turns the vendor's tokenizer file into a ``PreTrainedTokenizerFast``
with the vendor's special tokens at their ids and a chat template, and caches it under
``tooljudge.models.cache_root() / "tokenizers"`` (building the Llama 3 BPE merges takes a few seconds).

- ``llama31``: Meta's tiktoken ``tokenizer.model`` from ``llama-models`` with the 256 special tokens at ids
  128000+ and TRL's Llama 3.1 template (the model repository's template).
- ``mistral_v3``: Mistral's v3 SentencePiece model from ``mistral-common`` (control tokens ``[INST]`` ...
  ``[/TOOL_RESULTS]`` at ids 3-9) with our ``mistral_v3`` family template.
- ``glm4``: GLM-4-9b-chat-like: SmolLM2's byte-level BPE plus GLM-4's special tokens (the real GLM-4 tokenizer
  is not on PyPI); the glm4 family template.
- ``qwen2``: Qwen2-like: SmolLM2's ChatML BPE with Qwen2's chat template (the one quoted in the seed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tooljudge.models import cache_root

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)
LLAMA3_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|step_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
]
GLM4_SPECIAL = ["[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
REFERENCE_NAMES = ("llama31", "mistral_v3", "glm4", "qwen2", "smollm2")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the reference tokenizer needs the {name!r} package (pip install tooljudge[test])")
    return Path(list(spec.submodule_search_locations)[0])


def llama3_tokenizer_model_path() -> Path:
    """Meta's tiktoken file shipped by ``llama-models``."""
    return _package_dir("llama_models") / "llama3" / "tokenizer.model"


def mistral_v3_model_path() -> Path:
    """Mistral's v3 SentencePiece model (Mistral Large 2 generation) shipped by ``mistral-common``."""
    return _package_dir("mistral_common") / "data" / "mistral_instruct_tokenizer_240323.model.v3"


def _wrap(backend, **kwargs):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=backend, **kwargs)


def _build_llama31():
    from tokenizers import AddedToken
    from tooljudge.data_prep.families import family_template
    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = llama3_tokenizer_model_path()
    converter = TikTokenConverter(vocab_file=str(path), pattern=LLAMA3_PATTERN)
    backend = converter.converted()
    n_base = backend.get_vocab_size(with_added_tokens=False)
    special = LLAMA3_SPECIAL + [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(LLAMA3_SPECIAL))]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    if backend.token_to_id("<|begin_of_text|>") != n_base or n_base != 128000:
        raise RuntimeError(f"Llama 3 special tokens landed at the wrong ids (base vocab {n_base})")
    return _wrap(
        backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        chat_template=family_template("llama31"),
    )


def _build_mistral_v3():
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from tooljudge.data_prep.families import family_template
    from transformers.convert_slow_tokenizer import generate_merges

    sp = spm.SentencePieceProcessor(model_file=str(mistral_v3_model_path()))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = {p: i for i, p in enumerate(pieces)}
    scores = {p: sp.get_score(i) for i, p in enumerate(pieces)}
    controls = [p for i, p in enumerate(pieces) if sp.is_control(i) or sp.is_unknown(i)]
    merges = generate_merges(vocab, scores, skip_tokens=set(controls))
    backend = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in controls])
    return _wrap(
        backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        chat_template=family_template("mistral_v3"),
    )


def _smollm2_backend():
    from tokenizers import Tokenizer

    from tooljudge.models import smollm2_checkpoint

    return Tokenizer.from_file(str(smollm2_checkpoint(progress=False) / "tokenizer.json"))


def _build_glm4():
    from tokenizers import AddedToken
    from tooljudge.data_prep.families import family_template

    backend = _smollm2_backend()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in GLM4_SPECIAL])
    return _wrap(
        backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        chat_template=family_template("glm4"),
    )


def _build_qwen2():
    return _wrap(_smollm2_backend(), eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=QWEN2_TEMPLATE)


def _build_smollm2():
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    return AutoTokenizer.from_pretrained(str(smollm2_checkpoint(progress=False)))


_BUILDERS: dict[str, Callable] = {
    "llama31": _build_llama31,
    "mistral_v3": _build_mistral_v3,
    "glm4": _build_glm4,
    "qwen2": _build_qwen2,
    "smollm2": _build_smollm2,
}
_MEMO: dict[str, object] = {}


def _fingerprint(name: str) -> str:
    """Changes when our family template changes, so a cached tokenizer never keeps a stale template."""
    import hashlib

    from tooljudge.data_prep.families import family_template

    tpl = {"llama31": "llama31", "mistral_v3": "mistral_v3", "glm4": "glm4"}.get(name)
    text = (family_template(tpl) if tpl else QWEN2_TEMPLATE) + "v1"
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def reference_tokenizer(name: str, cache: bool = True):
    """Return the named reference tokenizer (``llama31``, ``mistral_v3``, ``glm4``, ``qwen2``, ``smollm2``)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown reference tokenizer {name!r}; choose one of {', '.join(REFERENCE_NAMES)}")
    if name in _MEMO:
        return _MEMO[name]
    if name == "smollm2":
        tok = _build_smollm2()
    else:
        from transformers import AutoTokenizer

        folder = cache_root() / "tokenizers" / f"{name}-{_fingerprint(name)}"
        if cache and (folder / "tokenizer.json").exists():
            tok = AutoTokenizer.from_pretrained(str(folder))
        else:
            tok = _BUILDERS[name]()
            if cache:
                tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
                tok.save_pretrained(str(tmp))
                (tmp / "tooljudge_reference.json").write_text(json.dumps({"name": name}))
                if not folder.exists():
                    try:
                        tmp.rename(folder)
                    except OSError:  # another process finished first; its copy is identical
                        shutil.rmtree(tmp, ignore_errors=True)
                else:
                    shutil.rmtree(tmp, ignore_errors=True)
                tok = AutoTokenizer.from_pretrained(str(folder))
    _MEMO[name] = tok
    return tok
