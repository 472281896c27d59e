"""Assemble the LitServer: the engines' API, the gate in front of it, /metrics; run it with a graceful stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import litserve as ls
from fastapi import Response

from ..utils.logging import get_logger
from .api import API_PATH, CompletionAPI, Scheduling, ServedModel, Source
from .cache import ResponseCache
from .cancel import Cancellations
from .deadline import http_protocol
from .gate import CompletionGate, VariantSpec
from .lifecycle import Lifecycle, stop_on_signals
from .metrics import Metrics, shared_directory
from .settings import ServeSettings
from .validation import Limits
from .variants import Router

log = get_logger(__name__)


def build_server(
    sources: Mapping[str, Source], weights: Mapping[str, float], settings: ServeSettings
) -> tuple[ls.LitServer, Metrics, dict, Lifecycle]:
    """The server, its metrics, what it serves (each variant's version and precision) and its life cycle.

    Loads each model once here too: the gate needs its tokenizer, chat template and context, and a bad artifact
    fails now, before any worker starts.
    """
    specs, models = {}, {}
    for name, source in sources.items():
        served = source()
        limits = Limits(served.model.config.block_size, settings.max_tokens_cap, settings.default_max_tokens)
        specs[name] = VariantSpec(served.tokenizer, served.chat, limits)
        models[name] = {"version": served.version, "precision": served.precision}
    metrics, lifecycle, cancellations = Metrics(models), Lifecycle(), Cancellations()
    scheduling = Scheduling(
        settings.max_batch_size, settings.scheduler, settings.prefill_chunk, settings.timeout, settings.batch_timeout
    )
    api = CompletionAPI(
        dict(sources),
        metrics,
        lifecycle,
        cancellations,
        scheduling=scheduling,
        workers=settings.workers,
        threads=settings.threads,
    )
    gate = {
        "path": API_PATH,
        "variants": specs,
        "router": Router(dict(weights), settings.sticky_header),
        "api_key": settings.api_key,
        "cache": ResponseCache(settings.cache_size),
        "max_body_bytes": settings.max_body_bytes,
        "max_in_flight": settings.max_in_flight,
        "read_timeout": settings.read_timeout,
        "metrics": metrics,
        "lifecycle": lifecycle,
        "cancellations": cancellations,
    }
    server = ls.LitServer(
        api,
        accelerator=settings.accelerator,
        workers_per_device=settings.workers,
        timeout=settings.timeout,
        middlewares=[(CompletionGate, gate)],
        model_metadata={"variants": models},
    )

    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    server.app.add_api_route("/metrics", prometheus, methods=["GET"])
    # LitServe starts serve.workers workers per device (every GPU, with accelerator=auto on a multi-GPU host).
    api.workers = len(server.devices) * settings.workers
    cancellations.open(api.workers)
    return server, metrics, models, lifecycle


def run_server(
    source: Callable[[], ServedModel] | Mapping[str, Source],
    settings: ServeSettings,
    weights: Mapping[str, float] | None = None,
) -> dict:
    """Serve until Ctrl+C or SIGTERM (which drains first); return what was served and how many requests were answered.

    source: one model (its variant is named after its version), or variants by name with their traffic weights.
    """
    if callable(source):
        version = source().version
        sources, weights = {version: source}, {version: 1.0}
    else:
        sources, weights = dict(source), dict(weights or dict.fromkeys(source, 1.0))
    with shared_directory():
        server, metrics, models, lifecycle = build_server(sources, weights, settings)
        if threading.current_thread() is threading.main_thread():
            stop_on_signals(server, lifecycle, settings.drain_timeout)
        log.info("Serving %s on http://%s:%d/v1", ", ".join(models), settings.host, settings.port)
        server.run(
            host=settings.host,
            port=settings.port,
            num_api_servers=1,  # one HTTP process: one cache, one set of variant weights
            api_server_worker_type="process",  # a thread would outlive a shutdown: LitServe can only stop processes
            generate_client_file=False,
            log_level=settings.log_level,
            http=http_protocol(settings.read_timeout),  # uvicorn's, with a deadline for request headers
            timeout_keep_alive=settings.idle_timeout,
        )
        answered, errors = metrics.value("llm_requests_total"), metrics.value("llm_request_errors_total")
    url = f"http://{settings.host}:{settings.port}"
    summary = {"variants": models, "url": url, "requests": int(answered), "errors": int(errors)}
    if len(models) == 1:  # one model: its version and precision at the top, as before variants
        summary.update(next(iter(models.values())))
    return summary
