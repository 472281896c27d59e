"""Server metrics with prometheus_client in its multiprocess mode: the HTTP process and the inference workers each
write their own file in one directory, and /metrics adds them up.

prometheus_client chooses between in-process and file-backed values when it is first imported, from
PROMETHEUS_MULTIPROC_DIR, so this module imports it only inside functions: shared_directory() sets the variable
before any process of the server imports it (LitServe's spawned workers inherit it). Without the variable, in a
single process (tests), the values stay in the Metrics object's own registry.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STATUS_CODES = (
    200,
    400,
    401,
    404,
    405,
    408,
    413,
    499,
    500,
    503,
    504,
)  # 499: the client left first  # any other code counts as "other"
DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_directory() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for one server run (so no counts from an earlier run), removed at exit."""
    previous = os.environ.get(DIRECTORY)
    with tempfile.TemporaryDirectory(prefix="llm-metrics-") as directory:
        os.environ[DIRECTORY] = directory
        if "prometheus_client" in sys.modules:  # imported earlier (or by an earlier server in this process):
            from prometheus_client import values  # its value files must be this run's, in this folder

            values.ValueClass = values.MultiProcessValue()
        try:
            yield directory
        finally:
            if previous is None:
                del os.environ[DIRECTORY]
            else:
                os.environ[DIRECTORY] = previous


class Metrics:
    """The server's metrics, every series about requests or generation labelled by the variant that answered.

    `models` describes each served variant (its version and precision) for llm_model_info. Each process that
    gets a copy writes its own values. It pickles as a fresh instance (LitServe spawns its inference workers with
    it): prometheus_client's metrics hold locks, and in multiprocess mode each process writes its own file.
    """

    def __init__(self, models: dict[str, dict[str, str]]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.multiprocess import MultiProcessCollector

        self.models, own = models, CollectorRegistry()
        counter, gauge = partial(Counter, registry=own), partial(Gauge, registry=own)
        histogram = partial(Histogram, registry=own)
        # "max": 1 wherever it was set (a forked copy starts its own file at 0), and no pid label as "all" adds.
        names = ["variant", *sorted({key for labels in models.values() for key in labels})]
        info = gauge("llm_model_info", "The served variants (always 1).", names, multiprocess_mode="max")
        for variant, labels in models.items():
            info.labels(variant, *(labels.get(name, "") for name in names[1:])).set(1)
        by_variant = ["variant"]  # "none" for a request refused before a variant was chosen
        self.requests = counter("llm_requests", "Completion requests answered, by HTTP status.", ["code", *by_variant])
        self.errors = counter("llm_request_errors", "Requests answered 4xx or 5xx.", by_variant)
        text = "Responses with a 5xx status, on any path (/health's 503 while loading too)."
        self.server_errors = counter("llm_server_errors", text)
        text = "Time to answer a request (the last byte of a stream)."
        self.latency = histogram("llm_request_latency_seconds", text, by_variant, buckets=LATENCY_BUCKETS)
        text = "Time from a request's arrival to its first generated text."
        self.first_token = histogram("llm_time_to_first_token_seconds", text, by_variant, buckets=LATENCY_BUCKETS)
        self.batch_size = histogram("llm_batch_size", "Rows in each decoding step.", by_variant, buckets=BATCH_BUCKETS)
        self.generated_tokens = counter("llm_generated_tokens", "Tokens generated.", by_variant)
        self.generation_seconds = counter("llm_generation_seconds", "Time spent in decoding steps.", by_variant)
        # "mostrecent": the value of the newest write, whichever worker wrote it (as with one shared value).
        text = "Generation throughput of the last decoding step."
        self.tokens_per_second = gauge("llm_tokens_per_second", text, by_variant, multiprocess_mode="mostrecent")
        text = "Requests whose client left before their answer ended: their rows were freed."
        self.cancelled = counter("llm_cancelled_requests", text, by_variant)
        self.cache_hits = counter("llm_cache_hits", "Greedy requests answered from the cache.", by_variant)
        self.cache_misses = counter("llm_cache_misses", "Greedy requests not in the cache.", by_variant)
        directory = os.environ.get(DIRECTORY)
        self.collected = MultiProcessCollector(None, path=directory) if directory else own

    def __reduce__(self) -> tuple:
        return Metrics, (self.models,)

    def observe_request(
        self, status: int, seconds: float, cache_hit: bool | None = None, variant: str = "none"
    ) -> None:
        """One answered completion request; cache_hit is None when the request could not be cached."""
        code = str(status) if status in STATUS_CODES else "other"
        self.requests.labels(code, variant).inc()
        if status >= 400:
            self.errors.labels(variant).inc()
        self.latency.labels(variant).observe(seconds)
        if cache_hit is not None:
            (self.cache_hits if cache_hit else self.cache_misses).labels(variant).inc()

    def observe_first_token(self, seconds: float, variant: str) -> None:
        self.first_token.labels(variant).observe(seconds)

    def observe_cancelled(self, variant: str) -> None:
        self.cancelled.labels(variant).inc()

    def observe_server_error(self) -> None:
        """One response with a 5xx status, on any path."""
        self.server_errors.inc()

    def observe_step(self, variant: str, rows: int, tokens: int, seconds: float) -> None:
        """One decoding step of a variant: the rows it decoded, the tokens they produced, how long it took."""
        self.batch_size.labels(variant).observe(rows)
        self.generated_tokens.labels(variant).inc(tokens)
        self.generation_seconds.labels(variant).inc(seconds)
        self.tokens_per_second.labels(variant).set(tokens / seconds if seconds > 0 else 0.0)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` (llm_requests_total, say) that carry `labels`, over every process."""
        return sum(
            sample.value
            for family in self.collected.collect()
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def render(self) -> bytes:
        """The Prometheus text exposition (version 0.0.4)."""
        from prometheus_client import generate_latest

        return generate_latest(self.collected)
