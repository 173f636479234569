"""``KVSlots``, the decode batch's KV cache written in place, against a plain reference: each live row's keys and
values as a list of columns. Random joins (prompts of random length), decode steps, leaves and room-making (the
window moved left or the buffers grown) must leave every live row's columns, right-aligned at the shared end, equal
to the reference, inside the window, with the other columns of the window finite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tooljudge.core.kv_slots import KVSlots

HEADS, DIM, LAYERS = 2, 3, 2


def _row(length: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(1, HEADS, length, DIM, generator=gen), torch.randn(1, HEADS, length, DIM, generator=gen))
            for _ in range(LAYERS)]


def _check(slots: KVSlots, ref: list[list[list[tuple[torch.Tensor, torch.Tensor]]]]) -> None:
    assert slots.rows == len(ref)
    for layer_index, layer in enumerate(slots.layers):
        assert layer.keys.shape == (len(ref), HEADS, slots.end - slots.start, DIM)
        assert torch.isfinite(layer.keys).all() and torch.isfinite(layer.values).all()
        assert layer.get_seq_length() == slots.end - slots.start
        for slot, columns in enumerate(ref):
            n = len(columns)
            assert n <= slots.end - slots.start  # the row's columns lie inside the window
            want_k = torch.stack([c[layer_index][0] for c in columns], dim=1)
            want_v = torch.stack([c[layer_index][1] for c in columns], dim=1)
            assert torch.equal(layer.keys[slot, :, -n:], want_k)
            assert torch.equal(layer.values[slot, :, -n:], want_v)


@settings(max_examples=200, deadline=None)
@given(slots_n=st.integers(1, 4), capacity=st.integers(0, 12),
       rows=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 14)), min_size=1, max_size=10))
def test_slots_match_a_per_row_reference(slots_n, capacity, rows):
    """Rows (prompt length, decode steps) join whenever a slot is free, as in ``greedy_decode_rows``, and leave
    after their steps; a small ``capacity`` makes ``make_room`` move the window and grow the buffers."""
    prompts = [p for p, _ in rows]
    longest = max(prompts)
    pending = list(range(len(rows)))
    ref: list[list] = []  # slot -> columns, each column per layer (k [heads, dim], v [heads, dim])
    steps_left: list[int] = []
    slots: KVSlots | None = None
    seed = 0
    while pending or ref:
        while pending and len(ref) < slots_n:
            i = pending.pop(0)
            kv = _row(prompts[i], seed := seed + 1)
            if slots is None:
                slots = KVSlots(kv, slots=slots_n, first_end=longest, capacity=longest + capacity)
            columns = [[(kv[li][0][0, :, c], kv[li][1][0, :, c]) for li in range(LAYERS)] for c in range(prompts[i])]
            slots.admit(kv, prompts[i])
            assert kv == [None] * LAYERS  # the row's prefill cache is released as it is copied
            ref.append(columns)
            steps_left.append(rows[i][1])
        _check(slots, ref)
        slots.make_room(1, keep_left=max((prompts[i] for i in pending), default=0))
        assert slots.end >= max((prompts[i] for i in pending), default=0)  # any prompt still to come fits
        _check(slots, ref)
        gen = torch.Generator().manual_seed(seed := seed + 1)
        step = [(torch.randn(len(ref), HEADS, 1, DIM, generator=gen), torch.randn(len(ref), HEADS, 1, DIM, generator=gen))
                for _ in range(LAYERS)]
        for li, layer in enumerate(slots.layers):
            layer.update(*step[li], li)
        for slot, columns in enumerate(ref):
            columns.append([(step[li][0][slot, :, 0], step[li][1][slot, :, 0]) for li in range(LAYERS)])
        _check(slots, ref)
        steps_left = [n - 1 for n in steps_left]
        kept = [k for k, n in enumerate(steps_left) if n > 0]
        if len(kept) < len(ref):
            ref, steps_left = [ref[k] for k in kept], [steps_left[k] for k in kept]
            longest_kept = max((len(c) for c in ref), default=slots.end - slots.start)
            slots.keep(kept, (slots.end - slots.start) - longest_kept)
            _check(slots, ref)


def test_admit_refuses_a_row_longer_than_the_end_and_a_full_batch():
    slots = KVSlots(_row(3, 1), slots=1, first_end=3, capacity=8)
    with pytest.raises(RuntimeError, match="does not fit"):
        slots.admit(_row(4, 2), 4)
    slots.admit(_row(3, 3), 3)
    with pytest.raises(RuntimeError, match="all 1 slots"):
        slots.admit(_row(2, 4), 2)


def test_update_past_the_capacity_is_an_error_not_a_silent_overwrite():
    slots = KVSlots(_row(2, 1), slots=1, first_end=2, capacity=3)
    slots.admit(_row(2, 2), 2)
    layer = slots.layers[0]
    layer.update(torch.zeros(1, HEADS, 1, DIM), torch.zeros(1, HEADS, 1, DIM))
    with pytest.raises(RuntimeError, match="no room"):
        layer.update(torch.zeros(1, HEADS, 1, DIM), torch.zeros(1, HEADS, 1, DIM))
