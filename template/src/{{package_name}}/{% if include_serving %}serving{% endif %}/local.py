"""Talking to a server this process started on 127.0.0.1: a free port, and waiting for /health."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable


class ServerNotHealthy(RuntimeError):
    """The local server died or did not answer /health with 200 in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base: str, alive: Callable[[], bool], limit: float) -> None:
    """Poll `base`/health until it answers 200; `alive()` says whether the server process still runs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            # base is http://127.0.0.1:<port> of a server the caller started, never read from input.
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:  # nosec B310
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):  # not listening yet, or still loading
            pass
        if not alive():
            raise ServerNotHealthy("the server died while starting: see its log above")
        time.sleep(0.2)
    raise ServerNotHealthy(f"the server was not healthy within {limit:.0f} s")
