"""One document through the document steps: cleaned, judged, and (when kept) hashed and split.

Shared by the local path (`pipeline.clean_batch`) and datatrove's tasks (`distributed.CleanAndFilter`),
so every executor keeps the same documents for the same reasons.
"""

from __future__ import annotations

from collections.abc import Mapping

from .cleaning import clean_text, drop_reason
from .dedup import content_hash
from .quality import QualitySettings, failed_rule
from .splitting import assign_split


def judge(raw: str, cleaning: Mapping, quality: QualitySettings) -> tuple[str, str]:
    """The cleaned text and why it is dropped: a length reason or the first failing quality rule ("": kept)."""
    text = clean_text(raw)
    return text, drop_reason(text, cleaning["min_chars"], cleaning["max_chars"]) or failed_rule(text, quality) or ""


def keys(text: str, split: Mapping) -> tuple[str, str]:
    """A kept document's content hash and its split."""
    return content_hash(text), assign_split(text, split["val_fraction"], split["test_fraction"], split["seed"])
