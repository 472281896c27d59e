"""Exact deduplication by content hash of the cleaned text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def content_hash(text: str) -> str:
    """A 128-bit hash of the exact document text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def first_occurrences(hashes: Iterable[str]) -> list[int]:
    """Indices of the first document with each hash, in order.

    Memory grows with the number of unique documents (a set of short strings), not with
    their length; the texts themselves stay on disk.
    """
    seen: set[str] = set()
    keep: list[int] = []
    for index, digest in enumerate(hashes):
        if digest not in seen:
            seen.add(digest)
            keep.append(index)
    return keep
