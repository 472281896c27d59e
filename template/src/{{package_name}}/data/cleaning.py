"""Text cleaning: Unicode NFC, no control characters, tidy whitespace, length limits."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# C0/C1 control characters except tab and newline (carriage returns are folded first).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise one document; the result is stable: clean_text(clean_text(x)) == clean_text(x)."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARS.sub("", text)
    text = HORIZONTAL_SPACE.sub(" ", text)
    text = SPACE_AROUND_NEWLINE.sub("\n", text)
    text = BLANK_LINES.sub("\n\n", text)
    return text.strip()


def keep_document(text: str, min_chars: int, max_chars: int) -> bool:
    """Whether a cleaned document is within the configured length limits (in characters)."""
    return drop_reason(text, min_chars, max_chars) is None


def drop_reason(text: str, min_chars: int, max_chars: int) -> str | None:
    """Why a cleaned document is dropped: "empty", "short" or "long"; None when it is kept."""
    if min_chars <= len(text) <= max_chars:
        return None
    if not text:
        return "empty"
    return "short" if len(text) < min_chars else "long"


def describe_drops(raw_texts: Iterable[str | None], min_chars: int, max_chars: int) -> str:
    """Why cleaning kept none of `raw_texts`, as counts per reason naming the settings behind each.

    Only called when every document was dropped, so the second pass over the corpus costs nothing
    in a run that works.
    """
    reasons = Counter(drop_reason(clean_text(text or ""), min_chars, max_chars) for text in raw_texts)
    parts = {
        "empty": "empty (whitespace or control characters only)",
        "short": f"shorter than data.cleaning.min_chars={min_chars}",
        "long": f"longer than data.cleaning.max_chars={max_chars}",
    }
    return ", ".join(f"{reasons[key]} {text}" for key, text in parts.items() if reasons[key])
