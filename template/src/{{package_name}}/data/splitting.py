"""Leak-free train/val/test assignment by a hash of the normalised document.

The split of a document depends only on its normalised text (case, punctuation and spacing
removed) and the split seed, never on its position. Copies and near-copies of a document
therefore always land in the same split, so nothing seen in training leaks into val or test.
"""

from __future__ import annotations

import hashlib
import re

from ..errors import DataError

SPLITS = ("train", "val", "test")
NON_WORD = re.compile(r"[\W_]+")


def split_key(text: str) -> str:
    """The normalised form that decides the split: lower case, words only."""
    return NON_WORD.sub(" ", text.casefold()).strip()


def assign_split(text: str, val_fraction: float, test_fraction: float, seed: int) -> str:
    """'train', 'val' or 'test' for one document, uniformly by hash."""
    digest = hashlib.blake2b(split_key(text).encode("utf-8"), digest_size=8, key=str(seed).encode())
    position = int.from_bytes(digest.digest(), "big") / 2**64
    if position < test_fraction:
        return "test"
    if position < test_fraction + val_fraction:
        return "val"
    return "train"


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions that leave no room for training."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(
            f"data.split.val_fraction={val_fraction} and data.split.test_fraction={test_fraction} "
            "must each be in (0, 1) and sum to less than 1, e.g. 0.05 and 0.05"
        )
