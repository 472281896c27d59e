"""The LitAPI: each inference worker runs one Engine per served variant, a decoding step at a time.

LitServe's ContinuousBatchingLoop hands requests over as they arrive (add_request, on its event loop) and calls
step() between them, in a thread: new requests wait in an inbox that step() empties into the engines, so they join
the running rows at the next step. Every step's events stream back to the gate (gate.py), which answers each request
in OpenAI's format, whole or as server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import litserve as ls
import torch
from litserve.loops.continuous_batching_loop import ContinuousBatchingLoop, Output
from litserve.utils import LitAPIStatus
from tokenizers import Tokenizer

from ..data.tokenizer import EOT_TOKEN
from ..inference.engine import Engine, Event
from ..inference.sampling import SamplingParams
from ..models.gpt import GPT
from ..utils.logging import get_logger
from .cancel import Cancellations
from .chat import ChatFormat
from .lifecycle import Lifecycle
from .metrics import Metrics
from .validation import CompletionRequest

log = get_logger(__name__)
API_PATH = "/v1/completions"  # LitServe's route; only the gate reaches it, with a checked request
Source = Callable[[], "ServedModel"]


@dataclass
class ServedModel:
    model: GPT
    tokenizer: Tokenizer
    version: str
    precision: str  # "fp32" | "int8"
    eos_id: int | None = None  # where generation stops: the artifact's eos token; None: <|endoftext|>, if any
    chat: ChatFormat = field(default_factory=ChatFormat)  # the chat template /v1/chat/completions renders with


@dataclass(frozen=True)
class Scheduling:
    """How each engine schedules its rows: see serve.scheduler, serve.max_batch_size and serve.prefill_chunk."""

    max_rows: int = 32
    admission: Literal["continuous", "static"] = "continuous"
    prefill_chunk: int = 0
    queue_timeout: float = 60.0  # seconds a request may wait for a row before it is answered 504
    batch_timeout: float = 0.0  # static only: seconds a new batch waits for more requests before it starts


@dataclass
class Live:
    """A request a worker holds: its variant, the gate's id for it, when it arrived, whether it has had an event."""

    variant: str
    request_id: str
    arrival: float
    answered: bool = False


class EngineLoop(ContinuousBatchingLoop):
    """LitServe's continuous-batching loop, waiting for work instead of spinning when no request is active.

    LitServe 0.2.19's loop calls run() again at once when it returns: with nothing to do that is a busy loop
    taking a core from the HTTP process (measured: 100% of a core while idle). run() here waits up to 50 ms for
    a request to arrive first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arrived: asyncio.Event | None = None

    def add_request(self, uid, request, lit_api, lit_spec, transport=None) -> None:
        super().add_request(uid, request, lit_api, lit_spec, transport)
        if self.arrived is not None:
            self.arrived.set()

    async def step(self, prev_outputs, lit_api, lit_spec) -> list[Output]:
        """The API's step; outputs for requests LitServe no longer tracks (it drops them all when anything in its
        loop fails) are not sent, and their rows are freed, so one failure cannot turn into a failure per step."""
        outputs = await super().step(prev_outputs, lit_api, lit_spec)
        orphans = {output.uid for output in outputs if output.uid not in self.response_queue_ids}
        for uid in orphans:
            lit_api.abandon(uid)
        return [output for output in outputs if output.uid not in orphans]

    async def run(self, lit_api, device, worker_id, request_queue, transport, workers_setup_status, callback_runner):
        if lit_api.has_active_requests():
            return await super().run(
                lit_api, device, worker_id, request_queue, transport, workers_setup_status, callback_runner
            )
        if self.arrived is None:
            self.arrived = asyncio.Event()  # made here: it belongs to the loop's own event loop
        self.arrived.clear()
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), 0.05)
        return None


class CompletionAPI(ls.LitAPI):
    """Completions from the variants that `sources` load in each worker, streamed a decoding step at a time.

    sources must pickle (LitServe spawns the workers): module-level functions with their arguments bound by
    functools.partial, for instance. Nothing here raises for one request: a request the model fails on ends with
    an error event, which the gate answers as that request's own 500.
    """

    def __init__(
        self,
        sources: dict[str, Source],
        metrics: Metrics,
        lifecycle: Lifecycle,
        cancellations: Cancellations,
        *,
        scheduling: Scheduling = Scheduling(),
        workers: int = 1,
        threads: int | None = None,
    ) -> None:
        super().__init__(max_batch_size=scheduling.max_rows, api_path=API_PATH, stream=True, loop=EngineLoop())
        self.sources, self.metrics, self.lifecycle, self.cancellations = sources, metrics, lifecycle, cancellations
        self.scheduling, self.workers, self.threads = scheduling, workers, threads
        self.ready_workers = mp.get_context("spawn").Value("i", 0)  # workers whose models have answered

    def setup(self, device: str) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group; the server stops workers
        if self.threads:
            torch.set_num_threads(self.threads)
        self.engines: dict[str, Engine] = {}
        for name, source in self.sources.items():
            served = source()
            model = served.model.to(device).eval()
            engine = Engine(
                model,
                served.tokenizer,
                stop_token(served),
                max_rows=self.scheduling.max_rows,
                admission=self.scheduling.admission,
                prefill_chunk=self.scheduling.prefill_chunk,
            )
            probe = SamplingParams(max_tokens=1, temperature=0.0)
            engine.run([([max(stop_token(served), 0)], probe)])  # it answers before /health says ready
            self.engines[name] = engine
        # Thread-safe hand-overs from LitServe's event loop to step(), which runs in another thread.
        self.inbox: queue.SimpleQueue[tuple[str, CompletionRequest, float]] = queue.SimpleQueue()
        self.departed: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.live: dict[str, Live] = {}  # LitServe's id -> the request, until its last event
        self.uids: dict[str, str] = {}  # the gate's request id -> LitServe's id
        self.early: dict[str, float] = {}  # cancelled before they arrived: the gate's id -> when to forget it
        with self.ready_workers.get_lock():
            self.ready_workers.value += 1

    def health(self) -> bool:
        """Runs in the HTTP process: true once every worker has loaded its models, false again while draining."""
        return self.ready_workers.value >= self.workers and not self.lifecycle.draining

    def add_request(self, uid: str, request: dict) -> None:
        """On LitServe's event loop, while step() may run in another thread: the inbox is thread-safe."""
        self.inbox.put((uid, CompletionRequest.from_json(request), time.monotonic()))

    def has_capacity(self) -> bool:
        return True  # every request goes to an engine, whose own queue waits for a free row

    def has_active_requests(self) -> bool:
        """LitServe asks often, busy or idle: the moment to read the gate's cancellations (never from two threads)."""
        for request_id in self.cancellations.received():
            self.departed.put(request_id)
        return not self.inbox.empty() or any(engine.has_work() for engine in self.engines.values())

    def step(self, prev_outputs: list[Output] | None) -> list[Output]:
        """Admit what arrived, then run each variant's engine until a step yields events (or it has no work)."""
        if self.scheduling.admission == "static":
            self.fill_batch()
        events = self.admit() + self.drop_departed() + self.expire_waiting()
        for variant, engine in self.engines.items():
            produced: list[Event] = []
            while not produced and engine.has_work():  # a step may only prefill: it yields no event
                started = time.perf_counter()
                produced = engine.step()
                decoded = sum(1 for event in produced if event.finish_reason != "error")  # a token each
                self.metrics.observe_step(variant, decoded, decoded, time.perf_counter() - started)
            events += produced
        outputs = []
        for event in events:
            if event.request_id not in self.live:  # ended already (cancelled and expired at once, say): LitServe
                continue  # must see one end per request, or it fails every request it tracks
            self.live[event.request_id].answered = True
            outputs.append(Output(event.request_id, event, LitAPIStatus.OK))
            if event.finish_reason is not None:
                self.forget(event.request_id)
                outputs.append(Output(event.request_id, None, LitAPIStatus.FINISH_STREAMING))
        return outputs

    def fill_batch(self) -> None:
        """Static batching as it was: a new batch waits up to serve.batch_timeout for more requests (they reach the
        inbox from LitServe's event loop meanwhile); a running batch, or a full one, does not wait."""
        if self.inbox.empty() or any(engine.has_work() for engine in self.engines.values()):
            return
        deadline = time.monotonic() + self.scheduling.batch_timeout
        while self.inbox.qsize() < self.scheduling.max_rows and time.monotonic() < deadline:
            time.sleep(0.001)

    def admit(self) -> list[Event]:
        """Hand what arrived to the engines; a request an engine refuses (the gate checked it) fails alone, and one
        whose client has already left ends at once."""
        ended = []
        while not self.inbox.empty():
            uid, request, arrival = self.inbox.get()
            self.live[uid] = Live(request.variant, request.request_id, arrival)
            if self.early.pop(request.request_id, None) is not None:
                self.metrics.observe_cancelled(request.variant)
                ended.append(Event(uid, "", "error", len(request.prompt_ids), 0, error="cancelled"))
                continue
            params = SamplingParams(
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                stop=request.stop,
                seed=request.seed,
            )
            try:
                self.engines[request.variant].add(uid, request.prompt_ids, params)
            except (KeyError, ValueError) as error:
                log.error("Refused request %s: %s", uid, error)
                ended.append(Event(uid, "", "error", len(request.prompt_ids), 0, error=type(error).__name__))
                continue
            self.uids[request.request_id] = uid
        return ended

    def drop_departed(self) -> list[Event]:
        """Requests whose client left: their rows are freed now; LitServe gets their end to close its stream."""
        dropped, now = [], time.monotonic()
        self.early = {request_id: until for request_id, until in self.early.items() if until > now}
        while not self.departed.empty():
            request_id = self.departed.get()
            uid = self.uids.get(request_id)
            if uid is None:  # not here yet (it may be overtaken), another worker's, or finished: kept a while
                self.early[request_id] = now + self.scheduling.queue_timeout
                continue
            variant = self.live[uid].variant
            self.engines[variant].cancel(uid)
            self.metrics.observe_cancelled(variant)
            dropped.append(Event(uid, "", "error", 0, 0, error="cancelled"))
        return dropped

    def expire_waiting(self) -> list[Event]:
        """Requests that waited serve.timeout for a row without one: cancelled, and answered 504 by the gate."""
        now, expired = time.monotonic(), []
        for uid, live in list(self.live.items()):
            if not live.answered and now - live.arrival > self.scheduling.queue_timeout:
                self.engines[live.variant].cancel(uid)
                expired.append(Event(uid, "", "error", 0, 0, error="timeout"))
        return expired

    def abandon(self, uid: str) -> None:
        """Free a request's row without answering it (LitServe has given up on it)."""
        live = self.live.get(uid)
        if live is not None:
            self.engines[live.variant].cancel(uid)
            self.forget(uid)

    def forget(self, uid: str) -> None:
        live = self.live.pop(uid, None)
        if live is not None:
            self.uids.pop(live.request_id, None)

    def encode_response(self, output: Event | None) -> dict:
        if output is None:  # the end of a stream
            return {}
        return {
            "text": output.text,
            "finish_reason": output.finish_reason,
            "prompt_tokens": output.prompt_tokens,
            "completion_tokens": output.completion_tokens,
            "error": output.error,
        }


def stop_token(served: ServedModel) -> int:
    """The id that ends a completion: the artifact's eos, else <|endoftext|>, else -1 (only max_tokens stops)."""
    if served.eos_id is not None:
        return served.eos_id
    token_id = served.tokenizer.token_to_id(EOT_TOKEN)
    return -1 if token_id is None else token_id
