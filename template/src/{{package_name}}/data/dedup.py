"""Exact deduplication by content hash of the cleaned text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

DIGEST_BYTES = 16


def content_hash(text: str) -> str:
    """A 128-bit hash of the exact document text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).hexdigest()


def first_occurrences(hashes: Iterable[str]) -> np.ndarray:
    """Row indices (int64, ascending) of the first document with each hash; rows with an empty hash
    (documents dropped earlier) are skipped.

    The digests are packed as 16 raw bytes per document and deduplicated with a stable sort
    (np.unique keeps the first index of each value): a transient 9 MB for the 96,000 documents of
    the built-in corpus x16, where a Python set of hex strings plus a list of ints (about 150 bytes
    per document, kept to the end of the step) showed as prepare's memory growing with the corpus.
    """
    packed, present = bytearray(), bytearray()
    for digest in hashes:
        if digest:
            packed += bytes.fromhex(digest)
        present.append(bool(digest))
    rows = np.flatnonzero(np.frombuffer(present, dtype=np.uint8))
    if not len(rows):
        return rows
    _, first = np.unique(np.frombuffer(packed, dtype=f"V{DIGEST_BYTES}"), return_index=True)
    return rows[np.sort(first)]
