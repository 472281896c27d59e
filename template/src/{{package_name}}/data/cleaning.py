"""Text cleaning: Unicode NFC, no control characters, tidy whitespace, length limits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

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


def describe_reasons(reasons: Mapping[str, int], min_chars: int, max_chars: int) -> str:
    """Counts of dropped documents per reason, naming the setting behind each (a cleaning limit or a quality rule)."""
    limits = {
        "empty": "empty (whitespace or control characters only)",
        "short": f"shorter than data.cleaning.min_chars={min_chars}",
        "long": f"longer than data.cleaning.max_chars={max_chars}",
    }
    parts = [f"{reasons[key]} {text}" for key, text in limits.items() if reasons.get(key)]
    parts += [f"{count} failing data.quality.{rule}" for rule, count in reasons.items() if rule not in limits and count]
    return ", ".join(parts)
