"""DPO with each pair's prompt run through the model once (``data.prompt_once``).

Why: TRL's DPO batch is ``[chosen rows; rejected rows]``, each row the whole prompt plus one answer, so every
prompt is computed twice, by the policy (forward, recompute under checkpointing, backward) and by the reference.
Tool-use prompts hold the tool schemas and are long (1,400-1,500 tokens in the effect runs) next to answers of
30-60 tokens, so about half of a DPO step is the second copy of the prompt. Here each pair becomes one packed row,
``shared tokens | chosen tail | rejected tail``: position ids restart after the shared tokens for the rejected
tail, and a block mask lets each tail see the shared tokens and itself, never the other tail. Every token then
has exactly the context and position it has in TRL's row, so its hidden state (and log-prob) is the same up to
float rounding; the hidden states are put back in TRL's ``[2B, L]`` layout and TRL's own LM head and loss run
unchanged. The shared tokens are those both rows begin with (the prompt, and under ``data.shared_prefix:
prompt`` the answers' common opening, already part of it).

The switch acts on the backbone's ``forward`` (the module TRL's fused LM head calls) while a DPO loss or reference
pass runs, and only where the batch has TRL's layout (an even number of right-padded rows, a 2-D mask, no
position ids of its own). Attention kernels that take no dense mask (flash attention, flex) are refused at start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MASKED_KERNELS = ("sdpa", "eager")  # attention implementations that take a dense 4-D mask as given


@dataclass
class PackedPairs:
    """One packed row per pair and how to put its hidden states back in TRL's layout."""

    input_ids: Any  # [B, T]
    position_ids: Any  # [B, T]
    allowed: Any  # [B, 1, T, T] bool: query q may attend key k
    rows: Any  # [2B, L] index of the packed row of each of TRL's rows
    columns: Any  # [2B, L] index of the packed column that holds each of TRL's positions
    shared: Any  # [B] tokens both rows of a pair begin with

    def unpack(self, packed_hidden):
        """``[B, T, H]`` -> TRL's ``[2B, L, H]`` (padding positions get some packed state; TRL masks them)."""
        return packed_hidden[self.rows, self.columns]


def pack_pairs(input_ids, attention_mask) -> PackedPairs | None:
    """The packed rows of TRL's DPO batch (``[chosen; rejected]``, right-padded), or None when the batch does not
    have that layout (odd row count, a mask that is not ones then zeros)."""
    import torch

    n_rows, width = input_ids.shape
    if n_rows % 2 or attention_mask.shape != input_ids.shape:
        return None
    mask = attention_mask.bool()
    lengths = mask.sum(dim=1)
    positions = torch.arange(width, device=input_ids.device)
    if not torch.equal(mask, positions.unsqueeze(0) < lengths.unsqueeze(1)):
        return None  # not right padding
    pairs = n_rows // 2
    chosen_len, rejected_len = lengths[:pairs], lengths[pairs:]
    same = (input_ids[:pairs] == input_ids[pairs:]) & mask[:pairs] & mask[pairs:]
    shared = same.long().cumprod(dim=1).sum(dim=1)  # the common prefix of each pair
    packed_len = chosen_len + rejected_len - shared
    total = int(packed_len.max())
    column = torch.arange(total, device=input_ids.device).unsqueeze(0)  # [1, T]
    in_chosen = column < chosen_len.unsqueeze(1)
    in_rejected = (column >= chosen_len.unsqueeze(1)) & (column < packed_len.unsqueeze(1))
    # the rejected tail's column c holds the rejected row's position shared + (c - chosen_len)
    rejected_pos = shared.unsqueeze(1) + column - chosen_len.unsqueeze(1)
    source_pos = torch.where(in_chosen, column, torch.where(in_rejected, rejected_pos, torch.zeros_like(column)))
    source_pos = source_pos.clamp(max=width - 1)
    pair_index = torch.arange(pairs, device=input_ids.device).unsqueeze(1)
    from_chosen = input_ids[:pairs].gather(1, source_pos)
    from_rejected = input_ids[pairs:].gather(1, source_pos)
    packed_ids = torch.where(in_rejected, from_rejected, from_chosen)
    packed_ids = torch.where(in_chosen | in_rejected, packed_ids, input_ids[pair_index, 0].expand_as(packed_ids))
    position_ids = torch.where(in_chosen | in_rejected, source_pos, torch.zeros_like(source_pos))
    # branch: 0 shared, 1 chosen tail, 2 rejected tail, 3 padding
    branch = torch.full_like(column.expand(pairs, -1), 3)
    branch = torch.where(in_rejected, torch.full_like(branch, 2), branch)
    branch = torch.where(in_chosen, torch.ones_like(branch), branch)
    branch = torch.where(column < shared.unsqueeze(1), torch.zeros_like(branch), branch)
    query, key = branch.unsqueeze(2), branch.unsqueeze(1)  # [B, T, 1], [B, 1, T]
    causal = column.squeeze(0).unsqueeze(1) >= column.squeeze(0).unsqueeze(0)  # [T, T]: key not after query
    allowed = causal & ((key == 0) | (key == query)) & (query != 3) & (key != 3)
    allowed = allowed | torch.eye(total, dtype=torch.bool, device=input_ids.device)  # padding sees itself
    # TRL's row -> packed row and column
    trl_pos = torch.arange(width, device=input_ids.device).unsqueeze(0)  # [1, L]
    chosen_cols = trl_pos.expand(pairs, -1).clamp(max=total - 1)
    rejected_cols = torch.where(trl_pos < shared.unsqueeze(1), trl_pos,
                                chosen_len.unsqueeze(1) + trl_pos - shared.unsqueeze(1))
    rejected_cols = torch.where(trl_pos < rejected_len.unsqueeze(1), rejected_cols, torch.zeros_like(rejected_cols))
    rejected_cols = rejected_cols.clamp(max=total - 1)
    rows = torch.cat([pair_index, pair_index]).expand(-1, width)
    columns = torch.cat([chosen_cols, rejected_cols])
    return PackedPairs(packed_ids, position_ids, allowed.unsqueeze(1), rows, columns, shared)


def _dense_mask(allowed, kernel: str, dtype):
    """The 4-D mask as the kernel reads it: sdpa a boolean (True attends), eager an additive float mask."""
    import torch

    if kernel == "sdpa":
        return allowed
    blocked = torch.finfo(dtype).min
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, blocked)


def _packed_forward(original, kernel: str, dtype):
    def forward(*args, input_ids=None, attention_mask=None, **kwargs):
        plain = (args or input_ids is None or attention_mask is None or attention_mask.dim() != 2
                 or kwargs.get("position_ids") is not None or kwargs.get("inputs_embeds") is not None
                 or kwargs.get("output_router_logits"))
        packing = None if plain else pack_pairs(input_ids, attention_mask)
        if packing is None:
            return original(*args, input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        outputs = original(input_ids=packing.input_ids, position_ids=packing.position_ids,
                           attention_mask=_dense_mask(packing.allowed, kernel, dtype), **kwargs)
        outputs.last_hidden_state = packing.unpack(outputs.last_hidden_state)
        return outputs

    return forward


def backbone_of(model):
    """The module TRL's fused LM head calls (``model.base_model``; under PEFT, that of the wrapped model)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner, inner.base_model


def check_kernel(model) -> str:
    """The model's attention implementation, refused unless it takes a dense mask (ValueError naming it)."""
    inner, _ = backbone_of(model)
    kernel = getattr(inner.config, "_attn_implementation", None) or "eager"
    if kernel not in MASKED_KERNELS:
        raise ValueError(f"data.prompt_once needs an attention implementation that takes a dense mask "
                         f"({' | '.join(MASKED_KERNELS)}); this model uses {kernel!r} (set model.attn_implementation)")
    return kernel


@contextmanager
def prompt_once(*models) -> Iterator[None]:
    """While inside, each model's backbone packs TRL's DPO batches (see the module docstring)."""
    patched = []
    try:
        for model in models:
            if model is None:
                continue
            inner, backbone = backbone_of(model)
            kernel = check_kernel(model)
            own = backbone.__dict__.get("forward")
            dtype = next(backbone.parameters()).dtype
            backbone.forward = _packed_forward(own or type(backbone).forward.__get__(backbone), kernel, dtype)
            patched.append((backbone, own))
        yield
    finally:
        for backbone, own in reversed(patched):
            if own is None:
                del backbone.forward
            else:
                backbone.forward = own
