"""A request's text as its tokens arrive: what is safe to show now, and the cut at a stop sequence."""

from __future__ import annotations

from tokenizers import Tokenizer

REPLACEMENT = "\ufffd"  # what decoding shows for the bytes of a character not yet complete


class TextStream:
    """Decodes a row's tokens after each step; shows text only once no later token can change or stop it.

    Held back: a trailing U+FFFD (a UTF-8 character split over tokens) and the longest end of the text that
    starts a stop sequence. Shown pieces joined are the final text, cut before the first stop sequence found.
    """

    def __init__(self, tokenizer: Tokenizer | None, stop: tuple[str, ...]) -> None:
        self.tokenizer, self.stop = tokenizer, stop
        self.text = ""
        self.shown = 0  # characters of text already given out
        self.stopped = False

    def update(self, tokens: list[int]) -> None:
        if self.tokenizer is None:
            return
        text = self.tokenizer.decode(tokens)
        decided = text.rstrip(REPLACEMENT)  # a half-decoded character is no text yet: no stop may match it
        found = [decided.find(stop) for stop in self.stop if stop in decided]
        if found:
            text, self.stopped = text[: min(found)], True
        self.text = text

    def take(self, final: bool) -> str:
        """The text not shown yet that is safe to show; everything left when final."""
        end = len(self.text)
        if not final:
            end = len(self.text.rstrip(REPLACEMENT))
            end -= self.pending_stop(self.text[:end])
        new = self.text[self.shown : end]
        self.shown = max(self.shown, end)
        return new

    def pending_stop(self, text: str) -> int:
        """Length of the longest end of text that a stop sequence starts with (it may still become one)."""
        longest = max((len(stop) for stop in self.stop), default=1) - 1
        for size in range(min(longest, len(text)), 0, -1):
            if any(stop.startswith(text[-size:]) for stop in self.stop):
                return size
        return 0
