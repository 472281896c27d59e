"""The one decoding loop: requests join and leave a running batch between decode steps (continuous batching).

Every row owns a slot of a SlotCache, so it keeps its own positions and attends only to its own keys: a
request's greedy tokens are the same whether it ran alone or beside others, and a seeded request draws
from its own generator, so its samples are too. A finished row frees its slot in the step it ends.

Newcomers are prefilled one by one, each with exactly its own tokens. Measured (small preset, one thread of a
shared 2-core CPU, 8 prompts of 5-128 tokens): one by one 171 ms, the 8 left-padded into one forward 331 ms;
with two threads 126 ms against 196 ms. On a CPU the padding's wasted work costs more than the extra calls.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import torch
from tokenizers import Tokenizer

from ..models.gpt import GPT
from ..models.kv_cache import SlotCache
from ..utils.logging import get_logger
from .sampling import SamplingParams, sample
from .text import TextStream

log = get_logger(__name__)


@dataclass
class Event:
    """What one step produced for one request."""

    request_id: str
    text: str  # new text since this request's previous event (never a split character or a possible stop's start)
    finish_reason: str | None  # None while running; "stop" (eos or a stop sequence) | "length" | "error"
    prompt_tokens: int
    completion_tokens: int  # so far; an eos counts as generated
    error: str | None = None  # the exception's type when finish_reason is "error" (the details go to the log)
    token_id: int | None = None  # the token this step produced (None when the request failed)


@dataclass
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    token_ids: list[int]  # the generated tokens, a final eos included


@dataclass
class Row:
    """One request's progress: its prompt in its slot, then one token per step."""

    request_id: str
    prompt: list[int]
    params: SamplingParams
    budget: int  # new tokens at most: max_tokens, or fewer where the context ends
    text: TextStream
    generator: torch.Generator | None
    slot: int | None = None
    cached: int = 0  # prompt tokens in the slot so far
    tokens: list[int] = field(default_factory=list)  # generated, a final eos included
    finish_reason: str | None = None
    error: str | None = None

    @property
    def decoding(self) -> bool:
        return self.cached == len(self.prompt)

    def event(self, text: str, token_id: int | None = None) -> Event:
        prompt_tokens, completion_tokens = len(self.prompt), len(self.tokens)
        return Event(self.request_id, text, self.finish_reason, prompt_tokens, completion_tokens, self.error, token_id)

    def completion(self) -> Completion:
        reason = self.finish_reason or "length"
        return Completion(self.text.text, reason, len(self.prompt), len(self.tokens), self.tokens)


class Engine:
    """Decodes many requests together through one model; the server, export's latency and benchmarks drive it.

    max_rows: KV-cache slots, the rows decoded together. admission "continuous": waiting requests take free
    slots between decode steps. "static": the batching this loop replaced, kept to compare with: a batch is
    admitted when none runs and decodes every one of its rows until its longest ends (a finished row keeps its
    slot and its share of each step, as in a padded batch, its output discarded).
    prefill_chunk 0: a newcomer's whole prompt in one forward; N > 0: at most N of its prompt tokens per step,
    so that a long prompt delays the running rows' steps less. tokenizer None: token ids only (no text, no stop
    sequences). eos_id None: rows end only at max_tokens or the context's end.
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Tokenizer | None,
        eos_id: int | None,
        *,
        max_rows: int = 32,
        admission: str = "continuous",  # "continuous" | "static": a str, as configs give it; checked here
        prefill_chunk: int = 0,
    ) -> None:
        if admission not in ("continuous", "static"):
            raise ValueError(f"admission={admission!r} is unknown: use 'continuous' or 'static'.")
        if max_rows < 1 or prefill_chunk < 0:
            raise ValueError(f"max_rows={max_rows}, prefill_chunk={prefill_chunk}: use max_rows >= 1, chunk >= 0.")
        self.model, self.tokenizer, self.eos_id = model, tokenizer, eos_id
        self.admission, self.prefill_chunk = admission, prefill_chunk
        self.block_size = model.config.block_size
        self.device = model.lm_head.weight.device  # a parameter, or in an INT8 model a buffer
        self.cache = SlotCache(model.config.n_layer, max_rows, self.block_size)
        self._queue: deque[Row] = deque()
        self._running: dict[str, Row] = {}
        self._held: list[Row] = []  # static: finished rows still decoded with their batch
        self._ids = itertools.count()

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def holding(self) -> int:
        """Rows holding a slot: the running ones, and in a static batch its finished ones until it ends."""
        return len(self._running) + len(self._held)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def has_work(self) -> bool:
        return bool(self._queue or self._running)

    def add(self, request_id: str, prompt_ids: Sequence[int], params: SamplingParams) -> None:
        self._add(request_id, prompt_ids, params)

    def _add(self, request_id: str, prompt_ids: Sequence[int], params: SamplingParams) -> Row:
        prompt = list(prompt_ids)
        if not prompt:
            raise ValueError(f"request {request_id!r} has an empty prompt: give at least one token.")
        if len(prompt) >= self.block_size:
            raise ValueError(
                f"request {request_id!r}: a prompt of {len(prompt)} tokens leaves no room in the model's "
                f"context of {self.block_size}: shorten it."
            )
        if request_id in self._running or any(row.request_id == request_id for row in self._queue):
            raise ValueError(f"request id {request_id!r} is already queued or running: give each request its own.")
        if params.stop and self.tokenizer is None:
            raise ValueError("stop sequences need text: build the Engine with a tokenizer.")
        budget = min(params.max_tokens, self.block_size - len(prompt))
        row = Row(request_id, prompt, params, budget, TextStream(self.tokenizer, params.stop), params.generator())
        self._queue.append(row)
        return row

    def cancel(self, request_id: str) -> None:
        """Drop a waiting or running request; its slot is free at once. An unknown id is ignored."""
        row = self._running.pop(request_id, None)
        if row is not None:
            self._free_slot(row)
        self._queue = deque(row for row in self._queue if row.request_id != request_id)

    @torch.inference_mode()
    def step(self) -> list[Event]:
        """Admit waiting requests, prefill newcomers, then one decode step for the rows that were decoding."""
        self._admit()
        room = [row for row in self._held if self.cache.lengths[row.slot or 0] < self.block_size]
        decoding = [row for row in self._running.values() if row.decoding] + room
        decoding.sort(key=lambda row: row.slot or 0)
        events: list[Event] = []
        for row in [row for row in self._running.values() if not row.decoding]:
            self._guard(row, events, partial(self._prefill, row, events))
        if decoding:
            self._decode(decoding, events)
        if self._held and not self._running:  # the static batch has ended
            for row in self._held:
                self.cache.release(row.slot or 0)
            self._held = []
        return events

    def run(self, requests: Sequence[tuple[Sequence[int], SamplingParams]]) -> list[Completion]:
        """Add every request, step until all are done; the completions in the order given."""
        rows = [self._add(f"run-{next(self._ids)}", prompt, params) for prompt, params in requests]
        while any(row.finish_reason is None for row in rows):
            self.step()
        return [row.completion() for row in rows]

    def _admit(self) -> None:
        if self.admission == "static" and self._running:
            return
        while self._queue and self.cache.free:
            row = self._queue.popleft()
            row.slot = self.cache.allocate()
            self._running[row.request_id] = row

    def _prefill(self, row: Row, events: list[Event]) -> None:
        assert row.slot is not None, "admitted rows hold a slot"
        end = len(row.prompt) if self.prefill_chunk == 0 else min(len(row.prompt), row.cached + self.prefill_chunk)
        logits = self._forward([row], [row.prompt[row.cached : end]])
        row.cached = end
        if row.decoding:
            self._accept(row, logits[0], events)

    def _decode(self, rows: list[Row], events: list[Event]) -> None:
        if len(rows) > 1:
            try:
                logits = self._forward(rows, [[row.tokens[-1]] for row in rows])
            except Exception:
                log.warning("A decode step of %d rows failed: retrying each row alone", len(rows), exc_info=True)
            else:
                greedy = logits.argmax(dim=-1).tolist()
                for i, row in enumerate(rows):
                    if row.finish_reason is None:  # a held row's output is discarded
                        self._guard(row, events, partial(self._accept, row, logits[i], events, greedy[i]))
                return
        for row in rows:
            if row.finish_reason is None:
                self._guard(row, events, partial(self._decode_alone, row, events))

    def _decode_alone(self, row: Row, events: list[Event]) -> None:
        self._accept(row, self._forward([row], [[row.tokens[-1]]])[0], events)

    def _forward(self, rows: list[Row], tokens: list[list[int]]) -> torch.Tensor:
        """Last-position logits (B, vocab) of each row's new tokens (one row at a time when several)."""
        idx = torch.tensor(tokens, dtype=torch.long, device=self.device)
        slots = [row.slot for row in rows if row.slot is not None]
        return self.model(idx, kv_cache=self.cache.rows(slots))[0][:, -1]

    def _accept(self, row: Row, logits: torch.Tensor, events: list[Event], greedy: int | None = None) -> None:
        """Choose the row's next token, then its event; a finished row leaves its slot at once."""
        params = row.params
        if row.generator is not None:
            token = sample(logits.float().cpu(), params.temperature, params.top_p, row.generator, params.top_k)
        else:
            token = int(logits.argmax()) if greedy is None else greedy
        row.tokens.append(token)
        if token == self.eos_id:
            row.finish_reason = "stop"
        else:
            row.text.update(row.tokens)
            if row.text.stopped:
                row.finish_reason = "stop"
            elif len(row.tokens) == row.budget:
                row.finish_reason = "length"
        if row.finish_reason is not None:
            self._finish(row)
        events.append(row.event(row.text.take(final=row.finish_reason is not None), token))

    def _guard(self, row: Row, events: list[Event], work: Callable[[], None]) -> None:
        """Run work for one row; a failure is logged and ends that row alone with finish_reason "error"."""
        try:
            work()
        except Exception as error:  # whatever failed, it failed for this request only: the loop goes on
            log.exception("The model failed on request %s", row.request_id)
            row.finish_reason, row.error = "error", type(error).__name__
            self._finish(row)
            events.append(row.event(row.text.take(final=True)))

    def _finish(self, row: Row) -> None:
        if self._running.pop(row.request_id, None) is None:
            return
        if self.admission == "static" and row.error is None:
            self._held.append(row)
        else:
            self._free_slot(row)

    def _free_slot(self, row: Row) -> None:
        """Release a row's slot, and move the row in the last slot into it: the rows stay in slots 0 .. n-1."""
        if row.slot is None:
            return
        self.cache.release(row.slot)
        last = max(self._running.values(), key=lambda other: other.slot or 0, default=None)
        if last is not None and last.slot is not None and last.slot > row.slot and not self._held:
            self.cache.move(last.slot, row.slot)
            last.slot = row.slot


def generate(
    model: GPT,
    prompts: list[list[int]] | torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    eos_token_id: int | None = None,
) -> list[list[int]]:
    """Each prompt's new token ids (ending with eos_token_id when it came); temperature 0 is greedy.

    Sampling draws its seeds from torch's global generator, so torch.manual_seed makes it reproducible.
    Call model.eval() first.
    """
    rows = prompts.tolist() if isinstance(prompts, torch.Tensor) else prompts
    if max_new_tokens < 1 or not rows:
        return [[] for _ in rows]
    engine = Engine(model, None, eos_token_id, max_rows=len(rows))
    requests = []
    for prompt in rows:
        seed = int(torch.randint(0, 2**62, ())) if temperature > 0 else None
        requests.append((prompt, SamplingParams(max_new_tokens, temperature, top_k=top_k, seed=seed)))
    return [completion.token_ids for completion in engine.run(requests)]
