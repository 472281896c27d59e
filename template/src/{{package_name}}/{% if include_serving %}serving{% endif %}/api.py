"""The LitAPI: requests arrive validated (see gate.py); a batch of them runs through one decoding loop."""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import litserve as ls
import torch
from fastapi.responses import JSONResponse
from tokenizers import Tokenizer

from ..data.tokenizer import EOT_TOKEN
from ..models.gpt import GPT
from .engine import Completion, RowFailure, complete, complete_each
from .metrics import Metrics
from .validation import CompletionRequest, RequestError

API_PATH = "/v1/completions"


@dataclass
class ServedModel:
    model: GPT
    tokenizer: Tokenizer
    version: str
    precision: str  # "fp32" | "int8"
    eos_id: int | None = None  # where generation stops: the artifact's eos token; None: <|endoftext|>, if any


class CompletionAPI(ls.LitAPI):
    """OpenAI-style completions from the model that `source()` loads in each worker.

    source must pickle (LitServe spawns the workers): a module-level function with its arguments
    bound by functools.partial, for instance. LitServe's default batch and unbatch (a list of
    requests in, a list of completions out) are what predict works with. LitServe fails a whole batch
    when any step raises, so nothing here raises for one request: a request the model fails on comes
    out of predict as a RowFailure, which encode_response turns into that request's own 500.
    """

    def __init__(
        self,
        source: Callable[[], ServedModel],
        metrics: Metrics,
        *,
        workers: int = 1,
        threads: int | None = None,
        max_batch_size: int = 1,
        batch_timeout: float = 0.0,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=API_PATH)
        self.source, self.metrics, self.workers, self.threads = source, metrics, workers, threads
        self.ready_workers = mp.get_context("spawn").Value("i", 0)  # workers whose model has answered

    def setup(self, device: str) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group; the server stops workers
        if self.threads:
            torch.set_num_threads(self.threads)
        served = self.source()
        self.model, self.tokenizer = served.model.to(device).eval(), served.tokenizer
        self.version, self.eos_id = served.version, stop_token(served)
        probe = CompletionRequest((max(self.eos_id, 0),), max_tokens=1, temperature=0.0)
        complete(self.model, self.tokenizer, [probe], self.eos_id)  # it answers before /health says ready
        with self.ready_workers.get_lock():
            self.ready_workers.value += 1

    def health(self) -> bool:
        """Runs in the HTTP process: true once every worker has loaded its model and completed a test prompt."""
        return self.ready_workers.value >= self.workers

    def decode_request(self, request: dict) -> CompletionRequest:
        return CompletionRequest.from_json(request)

    def predict(
        self, x: list[CompletionRequest] | CompletionRequest
    ) -> list[Completion | RowFailure] | Completion | RowFailure:
        """A batch (max_batch_size > 1) or a single request (LitServe's unbatched loop)."""
        requests = x if isinstance(x, list) else [x]
        started = time.perf_counter()
        outputs = complete_each(self.model, self.tokenizer, requests, self.eos_id)
        tokens = sum(output.completion_tokens for output in outputs if isinstance(output, Completion))
        self.metrics.observe_batch(len(requests), tokens, time.perf_counter() - started)
        return outputs if isinstance(x, list) else outputs[0]

    def encode_response(self, output: Completion | RowFailure) -> JSONResponse:
        """A response LitServe passes on as it is, so that a failed request can have its own status."""
        if isinstance(output, RowFailure):
            message = f"The model failed on this request ({output.error}); the server's log has the details."
            return JSONResponse(RequestError(500, message).payload(), status_code=500)
        usage = {"prompt_tokens": output.prompt_tokens, "completion_tokens": output.completion_tokens}
        choice = {"text": output.text, "index": 0, "logprobs": None, "finish_reason": output.finish_reason}
        completion = {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.version,
            "choices": [choice],
            "usage": {**usage, "total_tokens": output.prompt_tokens + output.completion_tokens},
        }
        return JSONResponse(completion)


def stop_token(served: ServedModel) -> int:
    """The id that ends a completion: the artifact's eos, else <|endoftext|>, else -1 (only max_tokens stops)."""
    if served.eos_id is not None:
        return served.eos_id
    token_id = served.tokenizer.token_to_id(EOT_TOKEN)
    return -1 if token_id is None else token_id
