"""Tokenize rendered conversations into fixed-length rows of token ids and a loss mask.

Each conversation becomes one row of `row_tokens` ids, truncated at the end when longer and
padded after its end when shorter, so no row holds two conversations and causal attention never
crosses one. Beside it, a mask row: 1 where the token is assistant text (a loss target), 0 for
system and user text, template markers and padding. The text is tokenized whole, as at inference,
and a token counts as assistant text when any of its characters lies in an assistant span of the
render (so a token that straddles the prompt's end is learned: the answer needs it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from .chat_template import Span


@dataclass
class RowStats:
    rows: int = 0
    tokens: int = 0  # real tokens written (padding excluded)
    target_tokens: int = 0  # tokens with mask 1 that a model predicts (never a row's first)
    truncated: int = 0  # conversations cut at row_tokens
    dropped: list[str] = field(default_factory=list)  # where: no assistant token left after the cut


def encode_rendered(
    tokenizer: Tokenizer, texts: list[str], spans: list[list[Span]]
) -> list[tuple[list[int], list[int]]]:
    """Token ids and the assistant mask of each rendered conversation."""
    result = []
    for encoding, text_spans in zip(tokenizer.encode_batch(texts, add_special_tokens=False), spans, strict=True):
        mask = [
            int(any(begin < end and finish > start for start, end in text_spans)) for begin, finish in encoding.offsets
        ]
        result.append((encoding.ids, mask))
    return result


class RowWriter:
    """Appends padded rows to `<split>.bin` (ids) and `<split>.mask.bin` (uint8) as they come."""

    def __init__(self, out_dir: Path, split: str, row_tokens: int, dtype: np.dtype, pad_id: int):
        self.row_tokens, self.dtype, self.pad_id = row_tokens, dtype, pad_id
        self.ids = (out_dir / f"{split}.bin").open("wb")
        self.mask = (out_dir / f"{split}.mask.bin").open("wb")
        self.stats = RowStats()

    def add(self, ids: list[int], mask: list[int], where: str) -> None:
        length = min(len(ids), self.row_tokens)
        targets = sum(mask[1:length])
        if targets == 0:
            self.stats.dropped.append(where)
            return
        row = np.full(self.row_tokens, self.pad_id, dtype=self.dtype)
        row[:length] = ids[:length]
        row_mask = np.zeros(self.row_tokens, dtype=np.uint8)
        row_mask[:length] = mask[:length]
        row.tofile(self.ids)
        row_mask.tofile(self.mask)
        self.stats.rows += 1
        self.stats.tokens += length
        self.stats.target_tokens += targets
        self.stats.truncated += len(ids) > self.row_tokens

    def close(self) -> None:
        self.ids.close()
        self.mask.close()
