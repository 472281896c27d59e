"""Server metrics in shared memory, written by the HTTP side and the inference workers, read as Prometheus text."""

from __future__ import annotations

import multiprocessing as mp
from bisect import bisect_left

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STATUS_CODES = (200, 400, 401, 404, 405, 408, 413, 500, 503, 504)  # any other code counts as "other"
COUNTERS = (
    "errors",
    "server_errors",
    "cache_hits",
    "cache_misses",
    "generated_tokens",
    "generation_seconds",
    "last_tokens_per_s",
)


class Metrics:
    """Counters and histograms in one array of doubles that the spawned workers inherit.

    The array comes from a spawn context because LitServe spawns its inference workers; a lock
    from the default (fork) context could not be passed to them.
    """

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}
        for code in (*STATUS_CODES, "other"):
            self._add(f"requests:{code}")
        for name in COUNTERS:
            self._add(name)
        for name, buckets in (("latency", LATENCY_BUCKETS), ("batch", BATCH_BUCKETS)):
            for index in range(len(buckets) + 1):  # the last bucket is +Inf
                self._add(f"{name}:{index}")
            self._add(f"{name}:sum")
        self._values = mp.get_context("spawn").Array("d", len(self._slots))

    def _add(self, name: str) -> None:
        self._slots[name] = len(self._slots)

    def _inc(self, name: str, amount: float = 1.0) -> None:
        self._values[self._slots[name]] += amount

    def value(self, name: str) -> float:
        return self._values[self._slots[name]]

    def observe_request(self, status: int, seconds: float, cache_hit: bool | None = None) -> None:
        """One answered completion request; cache_hit is None when the request could not be cached."""
        with self._values.get_lock():
            self._inc(f"requests:{status if status in STATUS_CODES else 'other'}")
            self._inc("errors", status >= 400)
            self._observe("latency", LATENCY_BUCKETS, seconds)
            if cache_hit is not None:
                self._inc("cache_hits" if cache_hit else "cache_misses")

    def observe_server_error(self) -> None:
        """One response with a 5xx status, on any path."""
        with self._values.get_lock():
            self._inc("server_errors")

    def observe_batch(self, size: int, tokens: int, seconds: float) -> None:
        """One batch through the model: its size, the tokens it generated, and how long that took."""
        with self._values.get_lock():
            self._observe("batch", BATCH_BUCKETS, size)
            self._inc("generated_tokens", tokens)
            self._inc("generation_seconds", seconds)
            self._values[self._slots["last_tokens_per_s"]] = tokens / seconds if seconds > 0 else 0.0

    def _observe(self, name: str, buckets: tuple, value: float) -> None:
        self._inc(f"{name}:{bisect_left(buckets, value)}")  # Prometheus buckets are "less than or equal"
        self._inc(f"{name}:sum", value)

    def render(self, labels: dict[str, str]) -> str:
        """The Prometheus text exposition (version 0.0.4); labels describe the served model."""
        with self._values.get_lock():
            lines = self._render(labels)
        return "\n".join(lines) + "\n"

    def _render(self, labels: dict[str, str]) -> list[str]:
        info = ",".join(f'{key}="{value}"' for key, value in labels.items())
        lines = metric("llm_model_info", "gauge", "The served model (always 1).", [(label_set(info), 1)])
        codes = [(label_set(f'code="{code}"'), self.value(f"requests:{code}")) for code in (*STATUS_CODES, "other")]
        lines += metric("llm_requests_total", "counter", "Completion requests answered, by HTTP status.", codes)
        lines += metric("llm_request_errors_total", "counter", "Requests answered 4xx or 5xx.", self.value("errors"))
        text = "Responses with a 5xx status, on any path (/health's 503 while loading too)."
        lines += metric("llm_server_errors_total", "counter", text, self.value("server_errors"))
        lines += self._histogram("llm_request_latency_seconds", "Time to answer a request.", "latency", LATENCY_BUCKETS)
        lines += self._histogram("llm_batch_size", "Requests per batch through the model.", "batch", BATCH_BUCKETS)
        for name, kind, text, slot in (
            ("llm_generated_tokens_total", "counter", "Tokens generated.", "generated_tokens"),
            ("llm_generation_seconds_total", "counter", "Time spent generating.", "generation_seconds"),
            ("llm_tokens_per_second", "gauge", "Generation throughput of the last batch.", "last_tokens_per_s"),
            ("llm_cache_hits_total", "counter", "Greedy requests answered from the cache.", "cache_hits"),
            ("llm_cache_misses_total", "counter", "Greedy requests not in the cache.", "cache_misses"),
        ):
            lines += metric(name, kind, text, self.value(slot))
        return lines

    def _histogram(self, name: str, text: str, slot: str, buckets: tuple) -> list[str]:
        samples, total = [], 0.0
        for index, bound in enumerate((*buckets, "+Inf")):
            total += self.value(f"{slot}:{index}")
            samples.append(("_bucket" + label_set(f'le="{bound}"'), total))
        samples += [("_sum", self.value(f"{slot}:sum")), ("_count", total)]
        return metric(name, "histogram", text, samples)


def metric(name: str, kind: str, text: str, samples: list[tuple[str, float]] | float) -> list[str]:
    if not isinstance(samples, list):
        samples = [("", samples)]
    values = [f"{name}{suffix} {value:g}" for suffix, value in samples]
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *values]


def label_set(labels: str) -> str:
    return "{" + labels + "}"
