"""Deadlines for slow clients: a request's headers, and then its body, must each arrive within serve.read_timeout.

uvicorn waits for a request as long as a client likes, so one that sends part of a request and stops would
hold its connection forever. The body's deadline is the gate's (gate.py), where the request is visible; the
headers' deadline lives here, in the HTTP protocol, because no ASGI app sees a request before its headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .validation import RequestError


def late(seconds: float) -> RequestError:
    """The 408 for a request that was not received in full within `seconds`."""
    return RequestError(408, f"The request was not received in full within {seconds:g} s: send it without pausing.")


def http_protocol(read_timeout: float) -> partial:
    """uvicorn's `http` setting: its own protocol, with `read_timeout` seconds for each request's headers."""
    return partial(HeaderDeadline, read_timeout=read_timeout)


class HeaderDeadline(AutoHTTPProtocol):  # type: ignore[misc,valid-type]  # a class uvicorn picks on import
    """uvicorn's HTTP protocol (httptools, or h11 without it) with a deadline on each request's headers.

    The clock starts when the connection opens, or when the first bytes of its next request arrive, and
    stops when the request reaches the app; a request that misses it is answered 408 and its connection
    closed. A keep-alive connection with no request on it is uvicorn's timeout_keep_alive (serve.idle_timeout).
    """

    app: Callable[..., Awaitable[None]]  # the ASGI app uvicorn's protocol calls with each request

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self.deadline: asyncio.TimerHandle | None = None
        self.in_app = False  # a request reached the app and its response is not complete yet
        app = self.app

        async def arrived(scope: dict, receive: Any, send: Any) -> None:
            self.in_app = True
            self.stop_clock()
            await app(scope, receive, send)

        self.app = arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.start_clock()

    def data_received(self, data: bytes) -> None:
        if not self.in_app:
            self.start_clock()
        super().data_received(data)

    def on_response_complete(self) -> None:
        self.in_app = False
        super().on_response_complete()

    def start_clock(self) -> None:
        if self.deadline is None:
            self.deadline = self.loop.call_later(self.read_timeout, self.expire)

    def stop_clock(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def expire(self) -> None:
        self.deadline = None
        if not self.in_app and not self.transport.is_closing():
            self.transport.write(raw_response(late(self.read_timeout)))
            self.transport.close()


def raw_response(error: RequestError) -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, for the protocol to write itself."""
    body = json.dumps(error.payload()).encode()
    head = (
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
