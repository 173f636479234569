"""Generation backends behind one interface: local transformers, vLLM, and any OpenAI-compatible server.

Why one protocol: the function-call eval, the judge protocols and the synthetic-data generator all need
"text in, text out" plus "how likely is each answer label", and must not care whether the model runs
in-process (a checkpoint being trained), in vLLM on a GPU, or behind an HTTP server.

Prompts are complete rendered texts (``tooljudge.data_prep.masking.render_prompt`` output, BOS included
where the template writes one), so every backend tokenizes them without adding special tokens again.
Returned texts are only the newly generated text, cut before the first stop string / stop token, with
special tokens kept (``[TOOL_CALLS]`` or ``<|python_tag|>`` are part of what the parsers read).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tooljudge.core.kv_slots import KVSlots
from tooljudge.models import is_adapter_dir


@runtime_checkable
class GenerationBackend(Protocol):
    """What eval, judging and synthetic data need from a model."""

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int = 0,
    ) -> list[str]:
        """One completion per prompt (greedy when ``temperature == 0``), new text only, cut at ``stop``."""
        ...

    def label_probs(self, prompts: list[str], labels: list[str]) -> list[list[float]]:
        """For each prompt, the next-token probability of each label's first token, normalised over labels."""
        ...


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Text before the earliest occurrence of any stop string (the stop string itself removed)."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def normalise_logprobs(logprobs: Sequence[float]) -> list[float]:
    """Softmax over label log-probabilities (numerically stable); -inf entries get probability 0."""
    finite = [x for x in logprobs if x != -math.inf]
    if not finite:
        raise ValueError("every label has probability zero under the model")
    top = max(finite)
    exps = [math.exp(x - top) if x != -math.inf else 0.0 for x in logprobs]
    total = sum(exps)
    return [e / total for e in exps]


def _accepts(model, name: str) -> bool:
    """Whether ``model.forward`` takes ``name`` (a PEFT wrapper passes extra keywords to its base model)."""
    import inspect

    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _check_labels(labels: Sequence[str]) -> None:
    if len(labels) < 2:
        raise ValueError(f"label_probs needs at least two labels, got {list(labels)!r}")
    if any(not lab for lab in labels):
        raise ValueError(f"label_probs got an empty label in {list(labels)!r}")


# ----------------------------------------------------------------------------------------------------------
# transformers
# ----------------------------------------------------------------------------------------------------------


def load_model_and_tokenizer(model_path: str | Path, dtype: Any = None, device: str | None = None):
    """Load a full checkpoint or a PEFT adapter folder (its base model read from ``adapter_config.json``).

    The tokenizer is read from the given folder when it has one (adapters saved by our trainer do), else
    from the base model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.models import adapter_base_name, resolve_model_path

    path = Path(resolve_model_path(str(model_path)))  # ``bundled:smollm2`` -> its converted checkpoint
    dtype = dtype or torch.float32
    tok_source = str(path)
    if path.is_dir() and is_adapter_dir(path):
        from peft import PeftModel

        base = resolve_model_path(adapter_base_name(path))  # an export of the bundled model needs no hub
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
        model = PeftModel.from_pretrained(model, str(path))
        if not (path / "tokenizer_config.json").exists():
            tok_source = base
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(tok_source)
    if device is None and torch.cuda.is_available():
        device = "cuda"  # a GPU is used when present; pass device="cpu" to keep the model on the CPU
    if device:
        model.to(device)
    model.eval()
    return model, tokenizer


@contextlib.contextmanager
def _eval_mode(model, tokenizer):
    """Eval mode + left padding for the duration of a call, restoring the trainer's state afterwards."""
    was_training = model.training
    side = tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()


class _NewTextStop:
    """Stop a row once its *generated* text contains a stop string.

    transformers' own ``stop_strings`` also matches across the prompt boundary (a prompt ending in
    ``"\n"`` plus two generated newlines "contains" ``"\n\n\n"``), which stops rows too early.
    """

    def __init__(self, tokenizer, stop_strings: list[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.stop_strings = stop_strings
        self.prompt_len = prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = input_ids[:, self.prompt_len :].tolist()
        done = [any(s in self.tokenizer.decode(row, skip_special_tokens=False) for s in self.stop_strings) for row in new]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


# Generation-config fields that change which token greedy decoding picks, with their neutral values: under any
# other value the backend leaves decoding to ``model.generate`` (which applies them).
_GREEDY_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "repetition_penalty": (None, 1.0), "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0), "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,), "force_words_ids": (None,), "constraints": (None,), "sequence_bias": (None,),
    "min_length": (None, 0), "min_new_tokens": (None, 0), "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,), "forced_bos_token_id": (None,), "forced_eos_token_id": (None,),
    "exponential_decay_length_penalty": (None,), "guidance_scale": (None, 1.0), "watermarking_config": (None,),
    "num_beams": (None, 1), "num_beam_groups": (None, 1), "penalty_alpha": (None,), "dola_layers": (None,),
    "prompt_lookup_num_tokens": (None,), "assistant_model": (None,),
}


def plain_greedy(generation_config: Any) -> bool:
    """Whether greedy decoding under ``generation_config`` is the plain argmax of the next-token logits."""
    return all(getattr(generation_config, name, None) in neutral for name, neutral in _GREEDY_NEUTRAL.items())


class _StopScan:
    """Whether a row's *generated* tokens contain a stop string, decoding only their tail each step.

    A stop string of ``n`` characters spans at most ``4 n`` byte-level tokens, so a window of the last
    ``4 n + 4`` tokens sees every newly completed occurrence; the final text is cut at the first occurrence
    anyway, so a late detection costs steps, never text.
    """

    def __init__(self, tokenizer, stop_strings: list[str]):
        self.tokenizer = tokenizer
        self.stop_strings = stop_strings
        self.window = 4 * max(len(s) for s in stop_strings) + 4

    def __call__(self, tokens: list[int]) -> bool:
        tail = self.tokenizer.decode(tokens[-self.window :], skip_special_tokens=False)
        return any(s in tail for s in self.stop_strings)


def greedy_decode(model, enc: dict, max_new_tokens: int, end_ids: Sequence[int], stop_scan: Any = None) -> list[list[int]]:
    """Greedy continuation of one left-padded batch with a KV cache; the new token ids of each row, end token cut.

    Why not ``model.generate``: there a finished row keeps computing pad tokens until the batch's longest row
    ends. Here a row that emits one of ``end_ids`` (or whose text contains a stop string, ``stop_scan``) leaves
    the batch: its row of the KV cache is dropped and later steps run on the rows still going. Positions count
    real tokens only (left padding), as ``generate`` computes them.
    """
    import torch
    from transformers import DynamicCache

    ids, mask = enc["input_ids"], enc["attention_mask"]
    n = ids.shape[0]
    ends = torch.tensor(sorted(set(end_ids)) or [-1], device=ids.device)
    extra = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    cache = DynamicCache(config=getattr(model, "config", None))
    cache_key = "cache" if _accepts(model, "cache") else "past_key_values"  # renamed in transformers 5
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                   **{cache_key: cache}, **extra).logits[:, -1, :]
    last = positions[:, -1:]
    rows: list[list[int]] = [[] for _ in range(n)]
    live = list(range(n))  # batch row -> input row
    for _ in range(max_new_tokens):
        nxt = logits.float().argmax(dim=-1)
        ended = torch.isin(nxt, ends).tolist()
        keep: list[int] = []
        for k, (token, done) in enumerate(zip(nxt.tolist(), ended, strict=True)):
            row = rows[live[k]]
            if done:
                continue
            row.append(token)
            if len(row) < max_new_tokens and not (stop_scan is not None and stop_scan(row)):
                keep.append(k)
        if not keep:
            break
        if len(keep) < len(live):
            sel = torch.tensor(keep, device=ids.device)
            cache.reorder_cache(sel)
            nxt, mask, last = nxt[sel], mask[sel], last[sel]
            live = [live[k] for k in keep]
        last = last + 1
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        logits = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last, use_cache=True,
                       **{cache_key: cache}, **extra).logits[:, -1, :]
    return rows


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` begin with alike (prefix reuse here, DPO's shared openings in data_prep)."""
    k, n = 0, min(len(a), len(b))
    while k < n and a[k] == b[k]:
        k += 1
    return k


def prefix_order(token_rows: Sequence[Sequence[int]]) -> list[int]:
    """Row indices in lexicographic order of their token ids.

    Why: in that order each row shares its longest prefix with *some* other row with a neighbour, so prefilling each
    row on top of the previous row's KV cache (up to their common prefix) computes every distinct prefix once, the
    least prefill any prefix cache can do (the sum of ``len - shared-with-previous`` is the size of the rows' trie).
    """
    return sorted(range(len(token_rows)), key=lambda i: list(token_rows[i]))


def _plain_dynamic_cache(model) -> bool:
    """Whether the model's cache is plain full-attention layers (no sliding windows, no recurrent state)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    config = getattr(model, "config", None)
    if config is None:
        return False
    try:
        layers = DynamicCache(config=config).layers
    except Exception:  # noqa: BLE001 - an unusual cache: take the general path
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


DECODE_HEADROOM = 256  # decode columns the KV slots hold at first; more come by moving the window or growing


def greedy_decode_rows(
    model,
    token_rows: Sequence[Sequence[int]],
    max_new_tokens: int,
    end_ids: Sequence[int],
    batch_size: int,
    stop_scan: Any = None,
    on_done: Any = None,
) -> list[list[int]]:
    """Greedy continuation of every row with continuous batching; the new token ids of each row, end token cut.

    - Prefill: one row at a time, no padding, in ``prefix_order``, on top of the previous row's KV cache up to the
      prefix the two share (rows of an eval set share the system prompt and tool preamble), so every distinct
      prefix is computed once.
    - Decode: up to ``batch_size`` rows advance together, left-padded to a shared width in per-layer buffers
      allocated once and written in place (``KVSlots``: a row joins by a copy into a free slot, leaves by the later
      rows moving down; no batch-wide allocation per join, step or leave); a row that emits one of ``end_ids`` (or whose text contains a stop string, ``stop_scan``)
      or reaches ``max_new_tokens`` leaves at once and the next row is prefilled into its slot, so the batch stays
      full until the rows run out. Positions count real tokens only, as ``generate`` computes them.

    Greedy picks are the argmax of float32 logits, as in ``generate``; the batch shapes differ from one-prompt
    ``generate``, so a near-tie could flip in the last bits of float arithmetic (``tests/test_eval_backends.py``
    compares token ids with ``generate`` exactly).
    """
    import torch
    from transformers import DynamicCache

    rows: list[list[int]] = [[] for _ in token_rows]
    if max_new_tokens <= 0 or not token_rows:
        return rows
    empty = [i for i, r in enumerate(token_rows) if len(r) == 0]
    if empty:
        raise ValueError(f"greedy_decode_rows: an empty prompt (prompt {empty[0]} of {len(token_rows)}): no token "
                         "to continue from")
    device = next(model.parameters()).device
    config = getattr(model, "config", None)
    ends = set(end_ids)
    extra = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    cache_key = "cache" if _accepts(model, "cache") else "past_key_values"  # renamed in transformers 5
    pending = prefix_order(token_rows)[::-1]  # popped from the end
    prev: tuple[Sequence[int], list] | None = None  # last prefilled row's tokens and per-layer (keys, values)

    def prefill(i: int):
        """Row ``i``'s per-layer (keys, values) [1, heads, len, dim] and its first new token."""
        nonlocal prev
        ids = token_rows[i]
        reuse = 0 if prev is None else min(common_prefix_length(prev[0], ids), len(ids) - 1)
        data = [(k[:, :, :reuse], v[:, :, :reuse]) for k, v in prev[1]] if reuse else None
        cache = DynamicCache(data, config=config) if data else DynamicCache(config=config)
        x = torch.tensor([ids[reuse:]], device=device)
        pos = torch.arange(reuse, len(ids), device=device)[None, :]
        logits = model(input_ids=x, position_ids=pos, use_cache=True, **{cache_key: cache}, **extra).logits
        kv = [(layer.keys, layer.values) for layer in cache.layers]
        prev = (ids, kv)
        return kv, int(logits[0, -1].float().argmax())

    live: list[int] = []  # batch row (= KV slot) -> input row
    lens: list[int] = []  # batch row -> tokens so far (prompt + generated), the next position
    slots: KVSlots | None = None  # allocated at the first admission, then written in place
    mask = None  # [batch, window] 1 for real tokens
    cache = None
    nxt: list[int] = []  # batch row -> token to feed next
    longest_prompt = max(map(len, token_rows))

    def accept(k_row: int, token: int) -> bool:
        """Record ``token`` for batch row ``k_row``; whether the row goes on."""
        row = rows[live[k_row]]
        if token in ends:
            return False
        row.append(token)
        return len(row) < max_new_tokens and not (stop_scan is not None and stop_scan(row))

    while pending or live:
        # admit rows into free slots
        new: list[tuple[int, list, int]] = []
        while pending and len(live) + len(new) < batch_size:
            i = pending.pop()
            kv, first = prefill(i)
            token_ok = first not in ends
            if token_ok:
                rows[i].append(first)
            if not token_ok or len(rows[i]) >= max_new_tokens or (stop_scan is not None and stop_scan(rows[i])):
                if on_done is not None:
                    on_done(i)
                continue
            new.append((i, kv, first))
        if new:
            if slots is None:
                slots = KVSlots(new[0][1], slots=min(batch_size, len(token_rows)), first_end=longest_prompt,
                                capacity=longest_prompt + min(max_new_tokens, DECODE_HEADROOM) + 1)
                cache = DynamicCache(config=config)
                cache.layers = slots.layers
            old_start, n_old = slots.start, len(live)
            for i, kv, _ in new:
                # a copy of the list: the last prefill's cache stays whole for prefix reuse
                slots.admit(list(kv) if prev is not None and kv is prev[1] else kv, len(token_rows[i]))
            window = slots.end - slots.start
            new_mask = torch.zeros((slots.rows, window), dtype=torch.long, device=device)
            if live:
                new_mask[:n_old, old_start - slots.start :] = mask
            for j, (i, _, _) in enumerate(new):
                new_mask[n_old + j, window - len(token_rows[i]) :] = 1
            mask = new_mask
            live += [i for i, _, _ in new]
            lens += [len(token_rows[i]) for i, _, _ in new]
            nxt += [first for _, _, first in new]
        if not live:
            continue
        # one decode step for every live row
        if slots.end + 1 > slots.capacity:  # rare: the longest waiting prompt is looked up only then
            slots.make_room(1, keep_left=max((len(token_rows[i]) for i in pending), default=0))
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        logits = model(input_ids=torch.tensor(nxt, device=device)[:, None], attention_mask=mask,
                       position_ids=torch.tensor(lens, device=device)[:, None], use_cache=True,
                       **{cache_key: cache}, **extra).logits[:, -1, :]
        picks = logits.float().argmax(dim=-1).tolist()
        lens = [n + 1 for n in lens]
        keep = [k for k, token in enumerate(picks) if accept(k, token)]
        if on_done is not None:
            for k in sorted(set(range(len(live))) - set(keep)):
                on_done(live[k])
        if len(keep) < len(live):
            mask = mask[torch.tensor(keep, dtype=torch.long, device=device)]
            drop = int((mask.sum(0) == 0).long().cumprod(0).sum()) if keep else mask.shape[1]
            mask = mask[:, drop:]
            slots.keep(keep, drop)
            live = [live[k] for k in keep]
            lens = [lens[k] for k in keep]
            picks = [picks[k] for k in keep]
        nxt = picks
    return rows


def label_token_ids(tokenizer, labels: Sequence[str]) -> list[int]:
    """First token of each label tokenized on its own, the token a judge's label probability is read from;
    distinct first tokens are required."""
    _check_labels(labels)
    ids = []
    for lab in labels:
        toks = tokenizer(lab, add_special_tokens=False)["input_ids"]
        if not toks:
            raise ValueError(f"label {lab!r} tokenizes to nothing")
        ids.append(int(toks[0]))
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"labels {list(labels)!r} share a first token ({ids}); pick labels whose first tokens differ"
        )
    return ids


class TransformersBackend:
    """Batched, left-padded generation on any causal LM (CPU-safe; the default backend).

    ``model_or_path``: a loaded model (e.g. the one being trained, PEFT-wrapped or not) or a folder (full
    checkpoint or LoRA adapter). Prompts are sorted by length before batching so that padding stays small;
    results come back in input order. Greedy decoding runs ``greedy_decode`` (a row leaves the batch as soon as
    it ends, so one long answer does not keep the others computing); sampling, and greedy decoding under a
    generation config whose processors change the next token (repetition penalty, ...), run ``model.generate``.
    """

    def __init__(self, model_or_path: Any, tokenizer: Any = None, batch_size: int = 8, progress: bool = False):
        if isinstance(model_or_path, (str, Path)):
            model, loaded_tok = load_model_and_tokenizer(model_or_path)
            tokenizer = tokenizer or loaded_tok
        else:
            model = model_or_path
            if tokenizer is None:
                raise ValueError("TransformersBackend: pass tokenizer= when giving a loaded model")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.progress = progress
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @property
    def device(self):
        return next(self.model.parameters()).device

    def _split_stop(self, stop: Sequence[str] | None) -> tuple[list[int], list[str]]:
        """Stop strings that are single vocabulary tokens become token ids (exact, cheap); the rest stay
        strings (``stop_strings`` in generate + a final textual cut)."""
        ids: list[int] = []
        strings: list[str] = []
        vocab = self.tokenizer.get_vocab()
        unk = self.tokenizer.unk_token_id
        for s in stop or []:
            tid = vocab.get(s)
            if tid is None:
                tid = self.tokenizer.convert_tokens_to_ids(s)
                if tid == unk:
                    tid = None
            if tid is not None and self.tokenizer.decode([tid]) == s:
                ids.append(int(tid))
            else:
                strings.append(s)
        return ids, strings

    def _batches(self, prompts: list[str]):
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size]

    def _encode(self, texts: list[str]):
        if any(getattr(t, "structural", None) is not None for t in texts):
            # render_prompt output whose content holds control-token text: only the template's own control tokens
            # become control tokens (tooljudge.core.control_text)
            from tooljudge.core.control_text import encode_rendered

            ids = [encode_rendered(self.tokenizer, t) for t in texts]
            enc = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
        else:
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int = 0,
    ) -> list[str]:
        import torch
        from tqdm.auto import tqdm
        from transformers import StoppingCriteriaList

        stop_ids, stop_strings = self._split_stop(stop)
        eos = self.model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        end_ids = sorted(set(eos_ids + stop_ids))
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "eos_token_id": end_ids or None,
            "pad_token_id": self.tokenizer.pad_token_id,
            "use_cache": True,
        }
        if temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        out: list[str | None] = [None] * len(prompts)
        batches = list(self._batches(prompts))
        own_loop = temperature <= 0 and plain_greedy(self.model.generation_config)
        with _eval_mode(self.model, self.tokenizer), torch.inference_mode():
            torch.manual_seed(seed)
            if own_loop and _plain_dynamic_cache(self.model):
                return self._greedy_rows(prompts, max_new_tokens, end_ids, stop_strings)
            for idx in tqdm(batches, desc="generate", disable=not self.progress):
                enc = self._encode([prompts[i] for i in idx])
                if own_loop:
                    rows = greedy_decode(self.model, enc, max_new_tokens, end_ids,
                                         _StopScan(self.tokenizer, stop_strings) if stop_strings else None)
                    for row, i in zip(rows, idx, strict=True):
                        text = self.tokenizer.decode(row, skip_special_tokens=False)
                        out[i] = cut_at_stop(text, stop_strings)
                    continue
                criteria = None
                if stop_strings:
                    criteria = StoppingCriteriaList(
                        [_NewTextStop(self.tokenizer, stop_strings, enc["input_ids"].shape[1])]
                    )
                seqs = self.model.generate(**enc, **gen_kwargs, stopping_criteria=criteria)
                new = seqs[:, enc["input_ids"].shape[1] :].tolist()
                for row, i in zip(new, idx, strict=True):
                    cut = next((k for k, t in enumerate(row) if t in end_ids), len(row))
                    text = self.tokenizer.decode(row[:cut], skip_special_tokens=False)
                    out[i] = cut_at_stop(text, stop_strings)
        return [o if o is not None else "" for o in out]

    def _token_rows(self, texts: list[str]) -> list[list[int]]:
        """Each prompt's token ids, unpadded (control-token-safe for ``render_prompt`` output, as ``_encode``)."""
        if any(getattr(t, "structural", None) is not None for t in texts):
            from tooljudge.core.control_text import encode_rendered

            return [list(encode_rendered(self.tokenizer, t)) for t in texts]
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _greedy_rows(self, prompts: list[str], max_new_tokens: int, end_ids: list[int],
                     stop_strings: list[str]) -> list[str]:
        """Greedy decoding through ``greedy_decode_rows`` (continuous batching, shared prefixes computed once)."""
        from tqdm.auto import tqdm

        token_rows = self._token_rows(prompts)
        scan = _StopScan(self.tokenizer, stop_strings) if stop_strings else None
        with tqdm(total=len(prompts), desc="generate", disable=not self.progress) as bar:
            rows = greedy_decode_rows(self.model, token_rows, max_new_tokens, end_ids, self.batch_size, scan,
                                      on_done=lambda _i: bar.update(1))
        return [cut_at_stop(self.tokenizer.decode(row, skip_special_tokens=False), stop_strings) for row in rows]

    def label_ids(self, labels: Sequence[str]) -> list[int]:
        """First token of each label tokenized on its own; distinct first tokens are required."""
        return label_token_ids(self.tokenizer, labels)

    def label_probs(self, prompts: list[str], labels: list[str]) -> list[list[float]]:
        import torch

        ids = self.label_ids(labels)
        out: list[list[float] | None] = [None] * len(prompts)
        with _eval_mode(self.model, self.tokenizer), torch.inference_mode():
            for idx in self._batches(prompts):
                enc = self._encode([prompts[i] for i in idx])
                mask = enc["attention_mask"]
                # Left padding: positions must count real tokens only, as in generate().
                position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
                # Only the last position's logits are needed: logits_to_keep=1 avoids a (batch x length x vocab)
                # tensor, gigabytes for a 49k-150k vocabulary on long judge prompts.
                extra = {"logits_to_keep": 1} if _accepts(self.model, "logits_to_keep") else {}
                logits = self.model(**enc, position_ids=position_ids, **extra).logits[:, -1, :].float()
                picked = torch.log_softmax(logits, dim=-1)[:, ids]
                for row, i in zip(picked.tolist(), idx, strict=True):
                    out[i] = normalise_logprobs(row)
        return [o or [] for o in out]


# ----------------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP
# ----------------------------------------------------------------------------------------------------------


class OpenAIBackend:
    """Any OpenAI-compatible server (vLLM's, llama.cpp's, a hosted API) through ``/v1/completions``.

    Prompts are already rendered by our chat-template code, so the raw-text completions endpoint is used
    (the server must not apply its own template on top). ``chat()`` goes through ``/v1/chat/completions``
    for servers that parse tool calls themselves.

    ``label_probs`` asks for ``prompt + label`` with ``echo`` and ``logprobs`` and reads the log-probability of
    the first token starting at the prompt's end (``text_offset``); if the server's tokenizer merges the
    boundary, it raises rather than guessing.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 16,
        timeout: float = 120.0,
        retries: int = 2,
        extra_body: dict | None = None,
    ):
        """``extra_body`` is merged into every completions request; the default asks vLLM-style servers to keep
        special tokens (``skip_special_tokens: false``); pass ``{}`` for servers that reject unknown fields."""
        url = base_url.rstrip("/")
        self.extra_body = {"skip_special_tokens": False} if extra_body is None else dict(extra_body)
        self.base_url = url if url.endswith("/v1") else url + "/v1"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.batch_size = batch_size
        self.timeout = timeout
        self.retries = retries

    def _post(self, route: str, payload: dict) -> dict:
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/{route}"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as e:
                body = e.read().decode(errors="replace")[:500]
                if e.code < 500:  # the request is wrong: retrying will not help
                    raise RuntimeError(f"POST {url} -> HTTP {e.code}: {body}") from e
                last = RuntimeError(f"POST {url} -> HTTP {e.code}: {body}")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = RuntimeError(f"POST {url} failed: {e}")
            if attempt < self.retries:
                time.sleep(0.5 * 2**attempt)
        assert last is not None
        raise last

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int = 0,
    ) -> list[str]:
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            payload: dict[str, Any] = {
                "model": self.model,
                "prompt": chunk,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "seed": seed,
                **self.extra_body,
            }
            if stop:
                payload["stop"] = list(stop)
            resp = self._post("completions", payload)
            choices = resp.get("choices")
            if not isinstance(choices, list) or len(choices) != len(chunk):
                raise RuntimeError(
                    f"completions returned {len(choices) if isinstance(choices, list) else choices!r} choices "
                    f"for {len(chunk)} prompts: {str(resp)[:300]}"
                )
            texts = [""] * len(chunk)
            for k, ch in enumerate(choices):
                texts[int(ch.get("index", k))] = cut_at_stop(ch.get("text") or "", stop)
            out.extend(texts)
        return out

    def chat(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> dict:
        """One ``/v1/chat/completions`` call; returns the assistant message (``content``, ``tool_calls``)."""
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        if tools:
            payload["tools"] = tools
        resp = self._post("chat/completions", payload)
        try:
            return resp["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as e:
            raise RuntimeError(f"chat/completions returned no message: {str(resp)[:300]}") from e

    def label_probs(self, prompts: list[str], labels: list[str]) -> list[list[float]]:
        _check_labels(labels)
        result = []
        for prompt in prompts:
            payload = {
                "model": self.model,
                "prompt": [prompt + lab for lab in labels],
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 0,
            }
            resp = self._post("completions", payload)
            choices = sorted(resp.get("choices", []), key=lambda c: c.get("index", 0))
            if len(choices) != len(labels):
                raise RuntimeError(f"label_probs: expected {len(labels)} choices, got {len(choices)}")
            lps = []
            for lab, ch in zip(labels, choices, strict=True):
                lp = ch.get("logprobs") or {}
                offsets, values = lp.get("text_offset"), lp.get("token_logprobs")
                if not offsets or not values:
                    raise RuntimeError("label_probs: the server returned no echoed logprobs (needs echo support)")
                try:
                    k = offsets.index(len(prompt))
                except ValueError as e:
                    raise RuntimeError(
                        f"label_probs: the server tokenizer merges the prompt end with label {lab!r}; "
                        "end the prompt so that the label starts a new token"
                    ) from e
                lps.append(values[k] if values[k] is not None else -math.inf)
            result.append(normalise_logprobs(lps))
        return result


# ----------------------------------------------------------------------------------------------------------
# vLLM
# ----------------------------------------------------------------------------------------------------------


class VLLMBackend:
    """vLLM offline engine (GPU only), optionally with a LoRA adapter.

    ``label_probs`` scores ``prompt tokens + the label's first token`` with ``prompt_logprobs``, the same
    quantity ``TransformersBackend`` reads from the next-token logits.
    """

    def __init__(
        self,
        model: str | Path,
        lora_path: str | Path | None = None,
        max_lora_rank: int = 64,
        **llm_kwargs: Any,
    ):
        try:
            import vllm  # noqa: F401
        except ImportError as e:
            raise RuntimeError(
                "VLLMBackend needs vllm (pip install 'tooljudge[vllm]') on a machine with a CUDA GPU; "
                "use TransformersBackend on CPU"
            ) from e
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("VLLMBackend needs a CUDA GPU; none is visible. Use TransformersBackend on CPU")
        from vllm import LLM

        model = str(model)
        self.lora_request = None
        if lora_path is None and is_adapter_dir(Path(model)):
            lora_path = model
            model = json.loads((Path(model) / "adapter_config.json").read_text())["base_model_name_or_path"]
        if lora_path is not None:
            from vllm.lora.request import LoRARequest

            llm_kwargs.setdefault("enable_lora", True)
            llm_kwargs.setdefault("max_lora_rank", max_lora_rank)
            self.lora_request = LoRARequest("adapter", 1, str(lora_path))
        self.llm = LLM(model=model, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int = 0,
    ) -> list[str]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(
            max_tokens=max_new_tokens,
            temperature=temperature,
            stop=list(stop or []) or None,
            seed=seed,
            skip_special_tokens=False,
        )
        from tooljudge.core.control_text import encode_rendered

        inputs = [TokensPrompt(prompt_token_ids=encode_rendered(self.tokenizer, p)) for p in prompts]
        outs = self.llm.generate(inputs, params, lora_request=self.lora_request, use_tqdm=False)
        return [cut_at_stop(o.outputs[0].text, stop) for o in outs]

    def label_probs(self, prompts: list[str], labels: list[str]) -> list[list[float]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        _check_labels(labels)
        ids = [self.tokenizer(lab, add_special_tokens=False)["input_ids"][0] for lab in labels]
        if len(set(ids)) != len(ids):
            raise ValueError(f"labels {labels!r} share a first token; pick labels whose first tokens differ")
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        result = []
        for p in prompts:
            from tooljudge.core.control_text import encode_rendered

            base = encode_rendered(self.tokenizer, p)
            inputs = [TokensPrompt(prompt_token_ids=base + [t]) for t in ids]
            outs = self.llm.generate(inputs, params, lora_request=self.lora_request, use_tqdm=False)
            lps = [o.prompt_logprobs[-1][t].logprob for o, t in zip(outs, ids, strict=True)]
            result.append(normalise_logprobs(lps))
        return result


def make_backend(kind: str, model: Any, tokenizer: Any = None, **kwargs: Any) -> GenerationBackend:
    """``transformers`` | ``vllm`` | ``openai`` (``model`` is then the served model name; pass base_url=)."""
    if kind == "transformers":
        return TransformersBackend(model, tokenizer=tokenizer, **kwargs)
    if kind == "vllm":
        return VLLMBackend(model, **kwargs)
    if kind == "openai":
        base_url = kwargs.pop("base_url", None)
        if not base_url:
            raise ValueError("the openai backend needs base_url=")
        return OpenAIBackend(base_url, str(model), **kwargs)
    raise ValueError(f"unknown backend {kind!r}; choose transformers, vllm or openai")
