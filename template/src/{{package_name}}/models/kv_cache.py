"""Key/value caches for decoding: each tells GPT.forward the positions and attention mask of the new tokens.

`KVCache` holds one growing (B, H, T, D) tensor per layer for a batch that starts and ends together
(left-padded prompts allowed). `SlotCache` gives every row its own slot of a per-layer pool, so that
rows join and leave between decode steps (continuous batching); `SlotCache.rows(slots)` is what a
forward pass over some of those rows takes.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch


class Layout(NamedTuple):
    """Where the new tokens sit: their positions and what each may attend to."""

    positions: torch.Tensor  # (T,) shared by every row, or (B, T) per row
    mask: torch.Tensor | None  # (T, keys) or (B, 1, T, keys), True where a query may attend; None: plain causal
    length: int  # the longest row's tokens once these are added: at most block_size


class Cache(Protocol):
    """What GPT.forward asks of a cache: the layout of the new tokens, a home for their keys, then to advance."""

    def layout(self, idx: torch.Tensor, attention_mask: torch.Tensor | None) -> Layout: ...

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def advance(self, tokens: int) -> None: ...


def uncached_layout(idx: torch.Tensor, attention_mask: torch.Tensor | None) -> Layout:
    """The layout of a forward pass without a cache: causal, or with left padding masked (attention_mask (B, T))."""
    if attention_mask is None:
        return Layout(torch.arange(idx.size(1), device=idx.device), None, idx.size(1))
    B = idx.size(0)
    past_mask = torch.ones(B, 0, dtype=torch.bool, device=idx.device)
    start = torch.zeros(B, dtype=torch.long, device=idx.device)
    layout, _, _ = padded_layout(attention_mask.bool(), past_mask, start)
    return layout


def padded_layout(
    mask: torch.Tensor, past_mask: torch.Tensor, start: torch.Tensor
) -> tuple[Layout, torch.Tensor, torch.Tensor]:
    """Per-row positions (B, T) and attention mask (B, 1, T, keys) of a padded batch; the cache's next mask and starts.

    mask (B, T) marks the new real tokens, past_mask (B, past) the cached ones, start (B,) each row's next position.
    """
    T, past = mask.size(1), past_mask.size(1)
    next_position = start + mask.sum(dim=1)
    positions = (start[:, None] + mask.cumsum(dim=1) - 1).clamp(min=0)  # padding repeats a real position
    keys = torch.cat([past_mask, mask], dim=1)
    allowed = torch.ones(T, past + T, dtype=torch.bool, device=mask.device).tril(diagonal=past) & keys[:, None, :]
    # A padding query sees no real key; letting every query see itself keeps its softmax finite.
    allowed[:, :, past:] |= torch.eye(T, dtype=torch.bool, device=mask.device)
    return Layout(positions, allowed[:, None], int(next_position.max())), keys, next_position


class KVCache:
    """Keys and values of every layer for the tokens seen so far, so that decoding feeds one token per step."""

    def __init__(self, n_layer: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.length = 0  # tokens already cached; advanced after all layers have appended
        # For padded batches only: which cached keys are real tokens (B, length), and each row's next position (B,).
        self.mask: torch.Tensor | None = None
        self.next_position: torch.Tensor | None = None
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None  # mask and next_position after this input

    def layout(self, idx: torch.Tensor, attention_mask: torch.Tensor | None) -> Layout:
        """idx continues the cached tokens. A cache that has seen a mask keeps applying it; later inputs are real."""
        B, T = idx.shape
        past = self.length
        if attention_mask is None and self.mask is None:
            positions = torch.arange(past, past + T, device=idx.device)
            # Query i sits at position past + i and may see keys 0 .. past + i.
            mask = None if past == 0 else torch.ones(T, past + T, dtype=torch.bool, device=idx.device).tril(past)
            self._pending = None
            return Layout(positions, mask, past + T)
        new = torch.ones_like(idx, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        if self.mask is not None and self.next_position is not None:
            past_mask, start = self.mask, self.next_position
        else:  # a cache filled without padding: all its tokens are real
            past_mask = torch.ones(B, past, dtype=torch.bool, device=idx.device)
            start = torch.full((B,), past, dtype=torch.long, device=idx.device)
        layout, keys, next_position = padded_layout(new, past_mask, start)
        self._pending = keys, next_position
        return layout

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add one layer's new (B, H, T, D) keys and values; return the cached ones followed by the new ones."""
        past_k, past_v = self.keys[layer], self.values[layer]
        if past_k is not None and past_v is not None:  # set together: both or neither
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def advance(self, tokens: int) -> None:
        self.length += tokens
        if self._pending is not None:
            self.mask, self.next_position = self._pending


class SlotCache:
    """One slot per row in a per-layer pool (max_rows, n_kv_head, capacity, head_dim); a finished row's slot is reused.

    Each slot keeps its own length, so a row has its own positions and attends only to its own keys. The
    capacity grows by doubling up to block_size as rows need it. Slots are handed out lowest first, so the
    rows of a step are often slots 0 .. B-1 and read as a view instead of a gathered copy.
    """

    def __init__(self, n_layer: int, max_rows: int, block_size: int) -> None:
        self.n_layer, self.max_rows, self.block_size = n_layer, max_rows, block_size
        self.lengths = [0] * max_rows
        self.keys: list[torch.Tensor] = []  # per layer, allocated by the first append
        self.values: list[torch.Tensor] = []
        self.capacity = 0
        self._free = list(range(max_rows))

    @property
    def free(self) -> int:
        return len(self._free)

    def allocate(self) -> int:
        """The lowest free slot, emptied (the caller checks `free` first)."""
        slot = min(self._free)
        self._free.remove(slot)
        self.lengths[slot] = 0
        return slot

    def release(self, slot: int) -> None:
        if slot not in self._free:
            self._free.append(slot)

    def move(self, source: int, target: int) -> None:
        """Copy a slot's keys and values into a free slot, which it then holds; the source becomes free.

        The engine keeps its rows in slots 0 .. n-1 this way: a step then reads them as one slice of the pool.
        Measured (small preset, one thread, 26 rows of 100 tokens): a decode step over consecutive slots
        25.5 ms, over the same rows gathered from scattered slots 58.7 ms; a move copies one row once.
        """
        length = self.lengths[source]
        with torch.inference_mode():  # the pool is made in inference mode; a cancel may come from outside it
            for pool in (*self.keys, *self.values):
                pool[target, :, :length] = pool[source, :, :length]
        self._free.remove(target)
        self._free.append(source)
        self.lengths[target] = length

    def rows(self, slots: list[int]) -> SlotRows:
        """The cache as a forward pass over these slots (one batch row each, in this order) sees it."""
        return SlotRows(self, slots)

    def reserve(self, length: int, like: torch.Tensor) -> None:
        """Room for `length` tokens per slot, the pool in like's dtype and device."""
        if length <= self.capacity and self.keys:
            return
        capacity = min(self.block_size, max(16, 2 * self.capacity, 1 << (length - 1).bit_length()))
        _, H, _, D = like.shape
        for pool in (self.keys, self.values):
            for layer in range(self.n_layer):
                grown = like.new_zeros(self.max_rows, H, capacity, D)
                if len(pool) > layer:
                    grown[:, :, : self.capacity] = pool[layer]
                    pool[layer] = grown
                else:
                    pool.append(grown)
        self.capacity = capacity


class SlotRows:
    """Some slots of a SlotCache, as the rows of one forward pass: every token given is real."""

    def __init__(self, cache: SlotCache, slots: list[int]) -> None:
        self.cache, self.slots = cache, slots
        self.starts = [cache.lengths[slot] for slot in slots]
        first = slots[0]
        self.view = slots == list(range(first, first + len(slots)))  # consecutive slots: a slice, not a copy
        self._slot_index: torch.Tensor | None = None
        self._starts: torch.Tensor | None = None
        self._end = 0

    def layout(self, idx: torch.Tensor, attention_mask: torch.Tensor | None) -> Layout:
        if attention_mask is not None:
            raise ValueError("a SlotCache takes no attention_mask: give each row only its real tokens")
        rows, T = idx.shape
        if rows != len(self.slots):
            raise ValueError(f"{rows} rows of input for {len(self.slots)} slots: give one row per slot")
        self._starts = torch.tensor(self.starts, device=idx.device)
        self._slot_index = torch.tensor(self.slots, device=idx.device)
        positions = self._starts[:, None] + torch.arange(T, device=idx.device)
        self._end = max(self.starts) + T
        keys = torch.arange(self._end, device=idx.device)
        mask = keys <= positions[:, :, None]  # (B, T, keys): a row's own cached keys and its new ones up to itself
        return Layout(positions, mask[:, None], self._end)

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write each row's new keys at its own length; return the rows' keys (B, H, longest, D)."""
        cache, T = self.cache, k.size(2)
        if layer == 0:
            cache.reserve(self._end, k)
        assert self._slot_index is not None and self._starts is not None, "layout() comes before append()"
        out = []
        for pool, new in ((cache.keys[layer], k), (cache.values[layer], v)):
            if T == 1:
                pool[self._slot_index, :, self._starts] = new[:, :, 0]
            else:
                for row, (slot, start) in enumerate(zip(self.slots, self.starts, strict=True)):
                    pool[slot, :, start : start + T] = new[row]
            if self.view:
                out.append(pool[self.slots[0] : self.slots[0] + len(self.slots), :, : self._end])
            else:
                out.append(pool[:, :, : self._end].index_select(0, self._slot_index))
        return out[0], out[1]

    def advance(self, tokens: int) -> None:
        for slot, start in zip(self.slots, self.starts, strict=True):
            self.cache.lengths[slot] = start + tokens
