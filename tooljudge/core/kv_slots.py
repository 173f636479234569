"""The decode batch's KV cache for continuous batching: one buffer per layer, allocated once, rows in fixed slots.

Why: the earlier cache allocated a fresh batch-wide buffer per layer whenever a row joined, when the columns ran
out and when a row left (``index_select``). On a 2-core CPU first-touching that memory (page faults, huge-page
compaction) cost 6 of 32 s of a 32-row eval batch (``benchmarks/results/cpu_2026-12-03_eval_kv_slots/``). Here
the buffers are written in place: a joining row is copied into a free slot, a leaving row's slot is filled by
moving the later rows down, and leading columns that only padding uses are skipped by moving a view's start.

Layout: live rows occupy slots ``0 .. rows-1``; every row's tokens end at the shared column ``end`` (the next
token of every row is written there), right-aligned, so the attention window is columns ``start .. end`` with
each row's padding on the left. Padding columns may hold stale keys and values of rows that left: they are always
finite (zeros or real keys/values) and masked, so they add exactly nothing to attention.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


@functools.cache
def buffer_layer_class():
    """The class of one layer's cache in a decode batch: views ``[rows, heads, start:end]`` of buffers written in
    place. A ``DynamicLayer`` subclass (transformers checks the type), defined on first use so that importing
    this module does not import transformers."""
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):
        def __init__(self, keys, values):
            super().__init__()
            self.buf_k, self.buf_v = keys, values
            self.rows, self.start, self.end = 0, 0, 0
            self.device = keys.device
            self.is_initialized = True
            self._views()

        def _views(self) -> None:
            self.keys = self.buf_k[: self.rows, :, self.start : self.end]
            self.values = self.buf_v[: self.rows, :, self.start : self.end]

        def update(self, key_states, value_states, *args, **kwargs):
            q = key_states.shape[2]
            if self.end + q > self.buf_k.shape[2]:
                raise RuntimeError(f"KV slots: no room for {q} more columns (end {self.end} of "
                                   f"{self.buf_k.shape[2]}); make_room must run before each step")
            self.buf_k[: self.rows, :, self.end : self.end + q] = key_states
            self.buf_v[: self.rows, :, self.end : self.end + q] = value_states
            self.end += q
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.end - self.start

        def get_max_length(self) -> int:
            return -1

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return self.end - self.start + query_length, 0

    return BufferLayer


class KVSlots:
    """Per-layer KV buffers of ``slots`` rows and some columns, and the window of them the live rows use.

    ``end`` starts at ``first_end`` (the longest prompt still to come), so a joining row's prompt always fits left
    of it; columns run out only by decoding, and then the window moves left over columns no live row uses, or the
    buffers grow (a copy, rare).
    """

    def __init__(self, row_kv: Sequence[tuple[Any, Any]], slots: int, first_end: int, capacity: int):
        cls = buffer_layer_class()
        self.layers = []
        for k, _ in row_kv:
            shape = (slots, k.shape[1], max(capacity, first_end + 1), k.shape[3])
            self.layers.append(cls(k.new_zeros(shape), k.new_zeros(shape)))
        self.slots = slots
        self._set(rows=0, start=first_end, end=first_end)

    # -- the shared window, kept equal in every layer
    @property
    def rows(self) -> int:
        return self.layers[0].rows

    @property
    def start(self) -> int:
        return self.layers[0].start

    @property
    def end(self) -> int:
        return self.layers[0].end

    @property
    def capacity(self) -> int:
        return self.layers[0].buf_k.shape[2]

    def _set(self, **values: int) -> None:
        for layer in self.layers:
            for name, value in values.items():
                setattr(layer, name, value)
            layer._views()

    def admit(self, row_kv: list, length: int) -> None:
        """Copy one prefilled row (per layer ``(keys, values)`` of shape ``[1, heads, length, dim]``) into the next
        free slot, ending at column ``end``. Entries of ``row_kv`` are set to None as they are copied (the caller's
        last prefill cache, kept for prefix reuse, is passed as a copy of the list)."""
        slot, end = self.rows, self.end
        if slot >= self.slots:
            raise RuntimeError(f"KV slots: all {self.slots} slots are taken")
        if length > end:
            raise RuntimeError(f"KV slots: a {length}-token row does not fit left of column {end}")
        for li, layer in enumerate(self.layers):
            keys, values = row_kv[li]
            layer.buf_k[slot, :, end - length : end] = keys[0]
            layer.buf_v[slot, :, end - length : end] = values[0]
            row_kv[li] = None
        self._set(rows=slot + 1, start=min(self.start, end - length))

    def keep(self, kept: Sequence[int], drop_cols: int) -> None:
        """Keep the rows in slots ``kept`` (ascending), moved down to slots ``0 ..``, and skip the first
        ``drop_cols`` columns of the window (padding in every kept row)."""
        start, end = self.start, self.end
        for target, source in enumerate(kept):
            if source != target:  # ascending: a source slot is always above every slot written so far
                for layer in self.layers:
                    layer.buf_k[target, :, start:end] = layer.buf_k[source, :, start:end]
                    layer.buf_v[target, :, start:end] = layer.buf_v[source, :, start:end]
        self._set(rows=len(kept), start=start + drop_cols)

    def make_room(self, columns: int, keep_left: int) -> None:
        """At least ``columns`` free columns right of ``end`` for the next step, keeping ``end`` at least
        ``keep_left`` (the longest prompt still to come). Moves the window left in place when that frees enough
        (and at least a quarter of its width: fewer, smaller copies), else grows every buffer by half."""
        start, end = self.start, self.end
        if end + columns <= self.capacity:
            return
        shift = min(start, end - keep_left)
        if shift >= columns and shift >= (end - start) // 4:
            rows = self.rows
            for layer in self.layers:
                for buf in (layer.buf_k, layer.buf_v):
                    for lo in range(start, end, shift):  # chunks no wider than the shift: source and target apart
                        hi = min(lo + shift, end)
                        buf[:rows, :, lo - shift : hi - shift] = buf[:rows, :, lo:hi]
            self._set(start=start - shift, end=end - shift)
            return
        capacity = end + max(columns, 64, self.capacity // 2)
        for layer in self.layers:
            for name in ("buf_k", "buf_v"):
                old = getattr(layer, name)
                new = old.new_zeros(old.shape[0], old.shape[1], capacity, old.shape[3])
                new[:, :, :end] = old[:, :, :end]
                setattr(layer, name, new)
            layer._views()
