"""Complete a batch of requests in one left-padded, KV-cached decoding loop, each row with its own settings.

Padding is masked and every row keeps its own positions, so a request's greedy completion is the same
whether it ran alone or in a batch; a seeded request draws from its own generator, so it is too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import torch
from tokenizers import Tokenizer
from torch.nn import functional as F

from ..models.gpt import GPT, KVCache
from ..utils.logging import get_logger
from .validation import CompletionRequest

log = get_logger(__name__)


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop": end of text or a stop sequence; "length": max_tokens or the context is full
    prompt_tokens: int
    completion_tokens: int


@dataclass
class RowFailure:
    """A request the model failed on; it is answered 500 on its own while the rest of its batch completes."""

    error: str  # the exception's type: the details stay in the server's log


@dataclass
class Row:
    """One request's progress through the loop."""

    request: CompletionRequest
    budget: int  # new tokens it may still take: max_tokens, or fewer where the context ends
    generator: torch.Generator | None
    tokens: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    stop_at: int | None = None  # character offset of the first stop sequence in the text

    def add(self, token: int, eos_id: int, tokenizer: Tokenizer) -> None:
        if token == eos_id:
            self.finish_reason = "stop"
            return
        self.tokens.append(token)
        if self.request.stop:
            text = tokenizer.decode(self.tokens)
            found = [text.find(stop) for stop in self.request.stop if stop in text]
            if found:
                self.stop_at, self.finish_reason = min(found), "stop"
                return
        if len(self.tokens) == self.budget:
            self.finish_reason = "length"

    def completion(self, tokenizer: Tokenizer) -> Completion:
        text = tokenizer.decode(self.tokens)
        if self.stop_at is not None:
            text = text[: self.stop_at]
        generated = len(self.tokens) + (self.finish_reason == "stop" and self.stop_at is None)  # eos counts too
        return Completion(text, self.finish_reason or "length", len(self.request.prompt_ids), generated)


def complete_each(
    model: GPT, tokenizer: Tokenizer, requests: list[CompletionRequest], eos_id: int
) -> list[Completion | RowFailure]:
    """The batch in one loop; should that fail, each request alone, so that a failure stays with its own request."""
    if len(requests) > 1:
        try:
            return list(complete(model, tokenizer, requests, eos_id))
        except Exception:
            log.warning("A batch of %d failed: completing its requests one by one", len(requests), exc_info=True)
    return [complete_alone(model, tokenizer, request, eos_id) for request in requests]


def complete_alone(
    model: GPT, tokenizer: Tokenizer, request: CompletionRequest, eos_id: int
) -> Completion | RowFailure:
    """One request alone; a failure is logged and becomes the request's RowFailure."""
    try:
        return complete(model, tokenizer, [request], eos_id)[0]
    except Exception as error:  # whatever failed, it failed for this request only: the server goes on
        log.exception("The model failed on a request")
        return RowFailure(type(error).__name__)


@torch.inference_mode()
def complete(model: GPT, tokenizer: Tokenizer, requests: list[CompletionRequest], eos_id: int) -> list[Completion]:
    device = model.lm_head.weight.device  # a parameter, or in an INT8 model a buffer
    rows = [new_row(request, model.config.block_size) for request in requests]
    width = max(len(request.prompt_ids) for request in requests)
    idx = torch.full((len(rows), width), eos_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, request in enumerate(requests):
        idx[i, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
        mask[i, width - len(request.prompt_ids) :] = True
    cache = KVCache(model.config.n_layer)
    logits = model(idx.to(device), kv_cache=cache, attention_mask=mask.to(device))[0][:, -1]
    while True:
        for row, token in zip(rows, next_tokens(logits, rows), strict=True):
            if row.finish_reason is None:
                row.add(token, eos_id, tokenizer)
        active = torch.tensor([row.finish_reason is None for row in rows])
        if not active.any():
            return [row.completion(tokenizer) for row in rows]
        # Finished rows feed a masked token: nothing attends to it and their positions stop advancing.
        step = torch.tensor([row.tokens[-1] if row.tokens else eos_id for row in rows])[:, None]
        logits = model(step.to(device), kv_cache=cache, attention_mask=active[:, None].to(device))[0][:, -1]


def new_row(request: CompletionRequest, block_size: int) -> Row:
    generator = None
    if request.temperature > 0:
        seed = secrets.randbits(63) if request.seed is None else request.seed % 2**64
        generator = torch.Generator().manual_seed(seed)
    return Row(request, min(request.max_tokens, block_size - len(request.prompt_ids)), generator)


def next_tokens(logits: torch.Tensor, rows: list[Row]) -> list[int]:
    """Greedy rows take the argmax (in one call for the batch); sampling rows draw from their own generator."""
    chosen = logits.argmax(dim=-1).tolist()
    for i, row in enumerate(rows):
        if row.generator is not None and row.finish_reason is None:
            chosen[i] = sample(logits[i].float().cpu(), row.request.temperature, row.request.top_p, row.generator)
    return chosen


def sample(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> int:
    """Draw one token from softmax(logits / temperature), restricted to the top_p nucleus.

    Safe for every temperature and top_p above 0, however small: the logits are shifted so that the largest
    is 0 before dividing (the rest can only fall, to -inf at worst, never overflow), and the most likely token
    always stays in the nucleus, so there is always a token to draw. Float64 keeps tiny top_p values above 0.
    """
    logits = logits.double()
    probs = F.softmax((logits - logits.max()) / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
        outside[0] = False
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs.masked_fill(outside, 0.0))
    return int(torch.multinomial(probs, 1, generator=generator))
