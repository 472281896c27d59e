"""A graceful life cycle: on SIGTERM the server stops taking requests, finishes the ones it has, then exits.

State shared by the server's processes: whether it drains (the gate answers new requests 503 and /health turns 503,
so a load balancer or Kubernetes stops sending traffic) and how many accepted requests are still being answered.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import litserve as ls

from ..utils.logging import get_logger

log = get_logger(__name__)


class Lifecycle:
    """Created before the server starts; LitServe's spawned processes get it pickled and share its values."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self._draining = context.Event()
        self._in_flight = context.Value("i", 0)

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        self._draining.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight.value

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Counts one accepted request while it is being answered."""
        with self._in_flight.get_lock():
            self._in_flight.value += 1
        try:
            yield
        finally:
            with self._in_flight.get_lock():
                self._in_flight.value -= 1

    def wait_drained(self, limit: float) -> bool:
        """Wait until no request is in flight, at most `limit` seconds; whether it drained in time."""
        deadline = time.monotonic() + limit
        while self.in_flight > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def stop_on_signals(server: ls.LitServer, lifecycle: Lifecycle, drain_timeout: float) -> None:
    """SIGTERM (`docker stop`, Kubernetes) drains, then stops; Ctrl+C stops at once; a second signal too.

    Stopping goes through LitServe's own shutdown event: a KeyboardInterrupt would skip it and leave LitServe's
    worker monitor polling a closed manager. The event is private (LitServe 0.2 has no public stop but its HTTP
    shutdown route): pyproject.toml keeps litserve below 0.3, and tests/test_serve.py fails if a release renames it
    or stops honouring it. The processes LitServe forks (its HTTP server, its queue manager) inherit the handler and
    ignore the signal when a whole process group gets it: the server stops them in order.
    """
    server_pid = os.getpid()

    def stop() -> None:
        if server._shutdown_event is not None:
            server._shutdown_event.set()

    def drain_then_stop() -> None:
        lifecycle.drain()
        log.warning("Draining: %d requests in flight, at most %g s", lifecycle.in_flight, drain_timeout)
        if not lifecycle.wait_drained(drain_timeout):
            log.warning("Stopping with %d requests still in flight after %g s", lifecycle.in_flight, drain_timeout)
        stop()

    def handler(signum: int, frame) -> None:
        if os.getpid() != server_pid:
            return
        if server._shutdown_event is None:  # still starting: nothing to shut down gracefully yet
            raise KeyboardInterrupt
        # From another thread: this one may be blocked inside a call to the same manager proxy.
        graceful = signum == signal.SIGTERM and not lifecycle.draining
        threading.Thread(target=drain_then_stop if graceful else stop, daemon=True).start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
