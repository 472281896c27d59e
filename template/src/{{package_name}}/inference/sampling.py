"""Per-request sampling settings, and the draw of one token from a row's logits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class SamplingParams:
    """How one request decodes. temperature 0 is greedy; a seeded request draws from its own generator."""

    max_tokens: int  # new tokens at most (the engine also stops at block_size)
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    stop: tuple[str, ...] = ()  # the text ends before the first of these found
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens={self.max_tokens}: ask for at least 1 new token.")
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature}: use 0 (greedy) or more.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p}: use a value above 0 and at most 1.")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k={self.top_k}: use 1 or more, or None for no limit.")
        if any(not stop for stop in self.stop):
            raise ValueError("an empty stop sequence would end every text: give non-empty strings.")

    def generator(self) -> torch.Generator | None:
        """The request's own random generator (None when greedy); a random seed unless one was given."""
        if self.temperature == 0:
            return None
        seed = secrets.randbits(63) if self.seed is None else self.seed % 2**64
        return torch.Generator().manual_seed(seed)


def sample(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator, top_k: int | None = None
) -> int:
    """Draw one token from softmax(logits / temperature), restricted to the top_k logits and the top_p nucleus.

    Safe for every temperature and top_p above 0, however small: the logits are shifted so that the largest
    is 0 before dividing (the rest can only fall, to -inf at worst, never overflow), and the most likely token
    always stays in the nucleus, so there is always a token to draw. Float64 keeps tiny top_p values above 0.
    """
    logits = logits.double()
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -float("inf"))
    probs = F.softmax((logits - logits.max()) / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
        outside[0] = False
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs.masked_fill(outside, 0.0))
    return int(torch.multinomial(probs, 1, generator=generator))
