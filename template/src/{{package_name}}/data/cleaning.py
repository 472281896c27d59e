"""Text cleaning: Unicode NFC, no control characters, tidy whitespace, length limits."""

from __future__ import annotations

import re
import unicodedata

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
    return min_chars <= len(text) <= max_chars
