"""Tokenize documents and pack them into one flat token file per split.

Each split becomes `<split>.bin`: the token ids of every document followed by an end-of-text
token, concatenated, as raw little-endian uint16 (when the vocabulary fits) or uint32. Read it
back with `numpy.memmap(path, dtype=meta["dtype"], mode="r")`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from ..errors import DataError

DTYPES: dict[str, np.dtype] = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}


def choose_dtype(vocab_size: int, requested: str = "auto") -> np.dtype:
    """The smallest dtype that holds every token id, or the requested one if it fits."""
    if requested == "auto":
        return DTYPES["uint16"] if vocab_size <= 2**16 else DTYPES["uint32"]
    if requested not in DTYPES:
        raise DataError(f"data.dtype={requested} is not supported: use auto, uint16 or uint32")
    if vocab_size > np.iinfo(DTYPES[requested]).max + 1:
        raise DataError(
            f"data.tokenizer.vocab_size={vocab_size} does not fit data.dtype={requested} "
            f"(at most {np.iinfo(DTYPES[requested]).max + 1} ids): use data.dtype=uint32 or auto"
        )
    return DTYPES[requested]


def encode_batch(batch: dict[str, list[str]], tokenizer: Tokenizer, eot_id: int) -> dict[str, list]:
    """`datasets.map` function: token ids with an end-of-text token after each document."""
    # encode_batch_fast skips character offsets, which packing never needs.
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    encodings = encode(batch["text"], add_special_tokens=False)
    ids = [encoding.ids + [eot_id] for encoding in encodings]
    return {"ids": ids, "num_tokens": [len(row) for row in ids]}


def write_tokens(
    batches: Iterable[np.ndarray],
    path: Path,
    dtype: np.dtype,
    on_batch: Callable[[int], None] = lambda num_tokens: None,
) -> int:
    """Append each flat batch of token ids to `path`; return the token count.

    Writes sequentially through a file handle, so memory stays at one batch whatever the size.
    """
    total = 0
    with path.open("wb") as handle:
        for ids in batches:
            ids.astype(dtype, copy=False).tofile(handle)
            total += ids.size
            on_batch(ids.size)
    return total
