"""Data mixtures: several sources with weights, sampled deterministically by tokens.

`data.sources=[{path: a, weight: 3}, {path: b, weight: 1}]` asks for 75% of the tokens of every
split from `a` and 25% from `b`. Nothing is repeated: the scarcest source (relative to its weight)
is taken whole and the others are sampled down to match. Which documents of a source are kept
depends only on their content hash and the split seed (a priority per document, smallest first),
so the same inputs and settings always give the same mixture, whatever the order of the files.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError


@dataclass(frozen=True)
class MixtureSource:
    """One entry of `data.sources`: where the documents are and their share of the tokens."""

    path: str
    weight: float


def mixture_sources(source: str | None, sources: Iterable[Mapping] | None) -> list[MixtureSource]:
    """The sources to read: `data.sources` when given, else `data.source` with weight 1."""
    if sources is None:
        return [MixtureSource(str(source) if source is not None else "", 1.0)]
    if isinstance(sources, Mapping):  # one source written without the list brackets
        sources = [sources]
    if isinstance(sources, str | bytes) or not isinstance(sources, Iterable):
        raise DataError(
            f"data.sources={sources!r} is not a list: write data.sources='[{{path: <file or folder>, weight: 1}}]' "
            "or set it to null to use data.source"
        )
    entries = list(sources)
    if not entries:
        raise DataError("data.sources is an empty list: give at least one {path: ..., weight: ...} or set it to null")
    parsed = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or set(entry) - {"path", "weight"} or "path" not in entry:
            raise DataError(
                f"data.sources[{number}]={dict(entry) if isinstance(entry, Mapping) else entry!r} is not a source: "
                "write each one as {path: <file, folder or 'default'>, weight: <positive number>}"
            )
        if not isinstance(entry["path"], str) or not entry["path"].strip():
            raise DataError(
                f"data.sources[{number}].path={entry['path']!r} is not a path: give a file, a folder or 'default'"
            )
        weight = entry.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight <= 0:
            raise DataError(f"data.sources[{number}].weight={weight!r} must be a positive number, e.g. 1 or 0.25")
        parsed.append(MixtureSource(str(entry["path"]), float(weight)))
    paths = [entry.path for entry in parsed]
    if len(set(paths)) != len(paths):
        raise DataError(f"data.sources names a path twice ({', '.join(paths)}): give each source once")
    return parsed


def check_distinct(mixture: list[MixtureSource], files: list[list[Path]]) -> None:
    """Refuse two sources that read the same file (one folder spelled two ways, a folder and a file in it):
    exact dedup would give all of its documents to the first, and the second would have nothing to mix."""
    owner: dict[Path, int] = {}
    for number, paths in enumerate(files):
        for path in paths:
            first = owner.setdefault(path.resolve(), number)
            if first != number:
                raise DataError(
                    f"data.sources[{first}] ({mixture[first].path}) and data.sources[{number}] "
                    f"({mixture[number].path}) both read {path}: give each file to one source only"
                )


def document_priority(content_hashes: Iterable[str], seed: int) -> np.ndarray:
    """A deterministic pseudo-random priority in [0, 2**64) per document, from its content hash."""
    key = str(seed).encode()
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(h.encode(), digest_size=8, key=key).digest(), "big") for h in content_hashes),
        dtype=np.uint64,
    )


def select_mixture(
    source_ids: np.ndarray, num_tokens: np.ndarray, priority: np.ndarray, weights: list[float]
) -> tuple[np.ndarray, dict]:
    """Row indices (ascending) that give each source its weight's share of the tokens.

    The budget of source i is share_i * T, where T is the largest total every source can fill
    without repeating documents; each source contributes its documents in priority order while they
    fit its budget (whole documents only, so shares are exact up to one document per source).
    Returns the indices and, per source, the tokens available and kept.
    """
    scaled = np.asarray(weights, dtype=np.float64) / max(weights)  # 1e308 + 1e308 would overflow to inf
    shares = scaled / scaled.sum()
    available = np.bincount(source_ids, weights=num_tokens, minlength=len(weights))
    if np.any(available == 0):
        empty = [str(i) for i in np.flatnonzero(available == 0)]
        raise DataError(
            f"data.sources[{', '.join(empty)}] has no documents left in this split after cleaning, quality rules "
            "and deduplication (they were dropped, or copies of documents of an earlier source): "
            "add text to that source or remove it from the mixture"
        )
    with np.errstate(divide="ignore"):  # a weight too small to matter has share 0: it sets no limit
        total = float(np.min(available / shares))
    keep = []
    for index, share in enumerate(shares):
        rows = np.flatnonzero(source_ids == index)
        rows = rows[np.argsort(priority[rows], kind="stable")]
        fits = np.cumsum(num_tokens[rows]) <= share * total + 0.5
        keep.append(rows[fits])
    kept = np.sort(np.concatenate(keep))
    kept_tokens = np.bincount(source_ids[kept], weights=num_tokens[kept], minlength=len(weights))
    return kept, {
        "available_tokens": available.astype(np.int64).tolist(),
        "tokens": kept_tokens.astype(np.int64).tolist(),
    }
