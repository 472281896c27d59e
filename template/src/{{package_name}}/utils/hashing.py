"""sha256 of files and of JSON-able data, for data versioning and artifact manifests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 20


def sha256_file(path: Path, on_chunk: Callable[[bytes], object] | None = None) -> str:
    """Hash a file in 1 MiB chunks; `on_chunk` sees each chunk too (e.g. to validate it)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    return digest.hexdigest()


def sha256_json(data: object) -> str:
    """Hash of a JSON-able value, independent of key order."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()
