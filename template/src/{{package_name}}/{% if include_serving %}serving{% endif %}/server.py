"""Assemble the LitServer: the completion API, the gate in front of it, and /metrics; run it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import litserve as ls
from fastapi import Response

from ..utils.logging import get_logger
from .api import CompletionAPI, ServedModel
from .cache import ResponseCache
from .deadline import http_protocol
from .gate import CompletionGate
from .metrics import Metrics, shared_directory
from .settings import ServeSettings
from .validation import Limits

log = get_logger(__name__)


def build_server(source: Callable[[], ServedModel], settings: ServeSettings) -> tuple[ls.LitServer, Metrics, dict]:
    """The server, its metrics and the served model's labels.

    Loads the model once here too: the gate needs its tokenizer and context, and a bad artifact fails now.
    """
    served = source()
    limits = Limits(served.model.config.block_size, settings.max_tokens_cap, settings.default_max_tokens)
    labels = {"version": served.version, "precision": served.precision}
    metrics = Metrics(labels)
    api = CompletionAPI(
        source,
        metrics,
        workers=settings.workers,
        threads=settings.threads,
        max_batch_size=settings.max_batch_size,
        batch_timeout=settings.batch_timeout,
    )
    gate = {
        "path": api.api_path,
        "tokenizer": served.tokenizer,
        "limits": limits,
        "api_key": settings.api_key,
        "cache": ResponseCache(settings.cache_size),
        "max_body_bytes": settings.max_body_bytes,
        "read_timeout": settings.read_timeout,
        "metrics": metrics,
    }
    server = ls.LitServer(
        api,
        accelerator=settings.accelerator,
        workers_per_device=settings.workers,
        timeout=settings.timeout,
        middlewares=[(CompletionGate, gate)],
        model_metadata=labels,
    )

    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    server.app.add_api_route("/metrics", prometheus, methods=["GET"])
    return server, metrics, labels


def run_server(source: Callable[[], ServedModel], settings: ServeSettings) -> dict:
    """Serve until Ctrl+C or SIGTERM, then return what was served and how many requests were answered."""
    with shared_directory():
        server, metrics, labels = build_server(source, settings)
        if threading.current_thread() is threading.main_thread():
            stop_on_signals(server)
        log.info("Serving on http://%s:%d/v1/completions", settings.host, settings.port)
        server.run(
            host=settings.host,
            port=settings.port,
            num_api_servers=1,  # one HTTP process: one cache
            api_server_worker_type="process",  # a thread would outlive a shutdown: LitServe can only stop processes
            generate_client_file=False,
            log_level=settings.log_level,
            http=http_protocol(settings.read_timeout),  # uvicorn's, with a deadline for request headers
            timeout_keep_alive=settings.idle_timeout,
        )
        answered, errors = metrics.value("llm_requests_total"), metrics.value("llm_request_errors_total")
    url = f"http://{settings.host}:{settings.port}"
    return {**labels, "url": url, "requests": int(answered), "errors": int(errors)}


def stop_on_signals(server: ls.LitServer) -> None:
    """Ctrl+C and SIGTERM (`docker stop`) stop the server through LitServe's own shutdown event.

    A KeyboardInterrupt would skip it and leave LitServe's worker monitor polling a closed manager.
    The event is private (LitServe 0.2 has no public stop but its HTTP shutdown route): pyproject.toml
    keeps litserve below 0.3, and tests/test_serve.py fails if a release renames it or stops honouring it.
    The processes LitServe forks (its HTTP server, its queue manager) inherit the handler and ignore
    the signal when a whole process group gets it: the server stops them in order.
    """
    server_pid = os.getpid()

    def handler(signum: int, frame) -> None:
        if os.getpid() != server_pid:
            return
        if server._shutdown_event is None:  # still starting: nothing to shut down gracefully yet
            raise KeyboardInterrupt
        # From another thread: this one may be blocked inside a call to the same manager proxy.
        threading.Thread(target=server._shutdown_event.set, daemon=True).start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
