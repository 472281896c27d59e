"""Heuristic quality rules (Gopher, C4, FineWeb) that drop a whole document; each can be switched off.

The measures follow datatrove's GopherRepetitionFilter, GopherQualityFilter and FineWebQualityFilter
(Rae et al. 2021, table A1; Penedo et al. 2024) but are computed here from one whitespace split per
document: datatrove's n-gram helpers take 1.0 s per MB of text on the built-in corpus, three times
the whole `prepare` stage (0.33 CPU-s/MB), and its word tokenizers need NLTK or spaCy downloads;
all seven rules here take 0.1 CPU-s/MB. Fractions of characters are of len(text), as in datatrove.
One difference on purpose: an n-gram seen once is not repetition (datatrove counts the most
frequent n-gram even when it occurs once, which drops any document of under about five words).
Another: the mean word length rules skip text written mostly without spaces (Chinese, Japanese, Thai,
Khmer, ...), where a whitespace "word" is a whole clause; Gopher measured them on English only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import compress, pairwise
from operator import itemgetter

from datatrove.utils.text import TERMINAL_PUNCTUATION

from ..errors import DataError

QUALITY_RULES = (
    "max_non_letter_fraction",
    "max_duplicate_line_fraction",
    "max_top_ngram_fraction",
    "max_duplicate_ngram_fraction",
    "min_mean_word_length",
    "max_mean_word_length",
    "min_punctuated_line_fraction",
)
# Defaults: the built-in corpus (stories, arithmetic drills, dialogues) passes every one whole.
QUALITY_DEFAULTS: dict[str, float | None] = {
    "max_non_letter_fraction": 0.5,  # ours: no published value for this measure (arithmetic drills reach 0.39)
    "max_duplicate_line_fraction": 0.3,  # Gopher
    "max_top_ngram_fraction": 0.2,  # Gopher, for 2-grams; 3- and 4-grams scale to 0.18 and 0.16
    "max_duplicate_ngram_fraction": 0.15,  # Gopher, for 5-grams; 6..10-grams scale down to 0.10
    "min_mean_word_length": 3.0,  # Gopher
    "max_mean_word_length": 10.0,  # Gopher
    "min_punctuated_line_fraction": 0.12,  # FineWeb
}
# Gopher's thresholds per n-gram size, relative to the first one: one setting moves the whole table.
TOP_NGRAM_SCALE = {2: 1.0, 3: 0.18 / 0.20, 4: 0.16 / 0.20}
DUPLICATE_NGRAM_SCALE = {n: (0.20 - 0.01 * n) / 0.15 for n in range(5, 11)}
FRACTIONS = {name for name in QUALITY_RULES if name.endswith("_fraction")}
# FineWeb's terminal punctuation (many scripts) plus C4's closing quotes, brackets and a colon.
LINE_ENDINGS = tuple(TERMINAL_PUNCTUATION | set("\"'”’»):"))
LINE_BREAKS = re.compile(r"\n+")
MAX_NGRAM = max(DUPLICATE_NGRAM_SCALE)
# Gopher keeps only documents of 50+ words, so its repetition thresholds were never meant for less:
# under it one repeated phrase exceeds them (it would drop 102 arithmetic drills of the built-in corpus).
REPETITION_MIN_WORDS = 50
REPETITION_RULES = {"max_top_ngram_fraction", "max_duplicate_ngram_fraction"}
WORD_LENGTH_RULES = {"min_mean_word_length", "max_mean_word_length"}
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs.
UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _mark_class() -> str:
    """Combining marks of the Basic Multilingual Plane as a regex class body: vowel signs count as letters."""
    marks = [chr(c) for c in range(0x300, 0x10000) if unicodedata.category(chr(c)).startswith("M")]
    return "".join(re.escape(mark) for mark in marks)


# Runs of non-whitespace characters that are not letters: digits, punctuation, symbols, controls.
NON_LETTERS = re.compile(rf"(?:[^\w\s{_mark_class()}]|[\d_])+")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the active rules, in check order; empty when quality filtering is off."""

    rules: tuple[tuple[str, float], ...] = ()

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.rules}

    def threshold(self, name: str) -> float | None:
        return dict(self.rules).get(name)


def quality_settings(cfg: Mapping) -> QualitySettings:
    """Validate `data.quality` (a plain mapping): null switches a rule off, a missing key takes its default."""
    if not isinstance(cfg, Mapping):
        raise DataError(
            f"data.quality={cfg!r} is not a mapping of rules: set data.quality.enabled=false to switch them off, "
            "or a rule to null, e.g. data.quality.max_mean_word_length=null"
        )
    unknown = sorted(set(cfg) - set(QUALITY_RULES) - {"enabled"})
    if unknown:
        raise DataError(f"data.quality.{unknown[0]} is not a quality setting: use enabled or one of {QUALITY_RULES}")
    enabled = cfg.get("enabled", True)
    if not isinstance(enabled, bool):
        raise DataError(f"data.quality.enabled={enabled!r} must be true or false")
    if not enabled:
        return QualitySettings()
    values = {name: cfg.get(name, QUALITY_DEFAULTS[name]) for name in QUALITY_RULES}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise DataError(f"data.quality.{name}={value!r} must be a number, or null to switch the rule off")
        if name in FRACTIONS and not 0 <= value <= 1:
            raise DataError(f"data.quality.{name}={value} is a fraction: use a value in [0, 1], or null for off")
        if name not in FRACTIONS and value < 0:
            raise DataError(f"data.quality.{name}={value} is a length in characters: use a value >= 0, or null")
    low, high = values["min_mean_word_length"], values["max_mean_word_length"]
    if low is not None and high is not None and low > high:
        raise DataError(
            f"data.quality.min_mean_word_length={low} is above max_mean_word_length={high}: "
            "lower the minimum or raise the maximum"
        )
    return QualitySettings(tuple((name, float(value)) for name, value in values.items() if value is not None))


def failed_rule(text: str, settings: QualitySettings) -> str | None:
    """The first rule in QUALITY_RULES order that `text` (a cleaned document) fails; None when it passes all."""
    words = text.split()
    if not settings.rules or not words:
        return None  # empty documents are cleaning's business (data.cleaning.min_chars)
    word_chars = sum(map(len, words))
    lines = LINE_BREAKS.split(text)
    checked = len(words) >= REPETITION_MIN_WORDS and REPETITION_RULES & settings.names
    top, repeated = repeated_ngrams(words) if checked else ({}, {})
    for name, threshold in settings.rules:
        if name == "max_non_letter_fraction":
            failed = non_letter_fraction(text, word_chars, threshold) > threshold
        elif name == "max_duplicate_line_fraction":
            failed = (len(lines) - len(set(lines))) / len(lines) > threshold
        elif name == "max_top_ngram_fraction":
            failed = any(top.get(n, 0) / len(text) > threshold * s for n, s in TOP_NGRAM_SCALE.items())
        elif name == "max_duplicate_ngram_fraction":
            failed = duplicate_ngrams_fail(words, repeated, len(text), threshold)
        elif name == "min_mean_word_length":
            failed = word_chars / len(words) < threshold
        elif name == "max_mean_word_length":
            failed = word_chars / len(words) > threshold
        else:
            failed = sum(line.endswith(LINE_ENDINGS) for line in lines) / len(lines) < threshold
        if failed and not (name in WORD_LENGTH_RULES and unspaced(text, word_chars)):
            return name
    return None


def unspaced(text: str, word_chars: int) -> bool:
    """Whether most of the text is in scripts without spaces between words (checked only when a rule fails)."""
    return len(UNSPACED.findall(text)) * 2 > word_chars


def non_letter_fraction(text: str, word_chars: int, threshold: float) -> float:
    """Non-letters / non-whitespace characters; combining marks (vowel signs) count as letters.

    `str.isalpha` misses only the marks, so its count is exact whenever it is under the threshold;
    the regex (three times slower) runs only on the documents it does not clear.
    """
    fraction = (word_chars - sum(map(str.isalpha, text))) / word_chars
    return fraction if fraction <= threshold else sum(map(len, NON_LETTERS.findall(text))) / word_chars


def repeated_ngrams(words: list[str]) -> tuple[dict[int, int], dict[int, list[int]]]:
    """For n = 2..10: characters in all occurrences of the most frequent n-gram (when it repeats), and
    the start of every occurrence of a repeated n-gram.

    A repeated n-gram extends a repeated (n-1)-gram, so each n only looks at the previous n's
    repeats: after the 2-grams there is little left to count.
    """
    top: dict[int, int] = {}
    repeated: dict[int, list[int]] = {}
    starts: list[int] | range = range(len(words) - 1)
    grams: list[tuple[str, ...]] = list(pairwise(words))
    for n in range(2, MAX_NGRAM + 1):
        counts = Counter(grams)
        gram, count = max(counts.items(), key=itemgetter(1), default=((), 0))
        if count < 2:
            break
        top[n] = (sum(map(len, gram)) + n - 1) * count
        kept = [(start, gram) for start, gram in zip(starts, grams, strict=True) if counts[gram] > 1]
        repeated[n] = [start for start, _ in kept]
        kept = [(start, gram) for start, gram in kept if start + n < len(words)]
        starts = [start for start, _ in kept]
        grams = [gram + (words[start + n],) for start, gram in kept]
    return top, repeated


def duplicate_ngrams_fail(words: list[str], repeated: dict[int, list[int]], length: int, threshold: float) -> bool:
    """Whether, for any n in 5..10, the words covered by repeated n-grams hold too many of the characters.

    The fraction only falls as n grows and the lowest threshold is the one for n=10, so a
    fraction at or under it ends the check.
    """
    lowest = threshold * min(DUPLICATE_NGRAM_SCALE.values())
    for n, scale in DUPLICATE_NGRAM_SCALE.items():
        if n not in repeated:
            return False
        covered = bytearray(len(words))
        for start in repeated[n]:
            covered[start : start + n] = b"\x01" * n
        fraction = sum(compress(map(len, words), covered)) / length
        if fraction > threshold * scale:
            return True
        if fraction <= lowest:
            return False
    return False
