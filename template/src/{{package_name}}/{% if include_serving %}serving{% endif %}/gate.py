"""ASGI middleware in front of LitServe: auth, body limits and deadline, validation, the greedy cache, metrics.

Everything that can reject a request happens here, before LitServe queues it, so a bad request is
answered on its own and never fails the batch it would have joined. Whatever fails behind it, or in
it, is answered as a JSON 500, and every 5xx on any path is counted.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from tokenizers import Tokenizer

from ..utils.logging import get_logger
from .auth import authorized
from .cache import ResponseCache
from .deadline import late
from .metrics import Metrics
from .validation import Limits, RequestError, parse_completion

log = get_logger(__name__)
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
OPEN_PATHS = ("/health",)  # load balancers probe it without a key


class Exchange:
    """One request as the gate sees it: the response status sent so far, and whether the cache answered it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None  # None until the response starts
        self.complete = False
        self.cache_hit: bool | None = None  # None when the request could not be cached

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)


class CompletionGate:
    def __init__(
        self,
        app,
        *,
        path: str,
        tokenizer: Tokenizer,
        limits: Limits,
        api_key: str | None,
        cache: ResponseCache,
        max_body_bytes: int,
        read_timeout: float,
        metrics: Metrics,
    ) -> None:
        self.app, self.path, self.tokenizer, self.limits = app, path, tokenizer, limits
        self.api_key, self.cache, self.max_body_bytes, self.metrics = api_key, cache, max_body_bytes, metrics
        self.read_timeout = read_timeout

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        exchange, started = Exchange(send), time.perf_counter()
        completions = scope["path"] == self.path and scope["method"] == "POST"
        try:
            await self.answer(scope, receive, exchange, completions)
        except Exception:
            log.exception("Error answering %s %s", scope["method"], scope["path"])
            if exchange.status is None:
                error = RequestError(500, "The server failed to answer this request; its log has the details.")
                await send_json(exchange.send, 500, error.payload())
            elif not exchange.complete:
                raise  # a response half sent cannot be replaced: the server closes the connection
        finally:
            if exchange.status is not None and exchange.status >= 500:
                self.metrics.observe_server_error()
            if completions and exchange.status is not None:
                self.metrics.observe_request(exchange.status, time.perf_counter() - started, exchange.cache_hit)
        return None

    async def answer(self, scope: dict, receive: Receive, exchange: Exchange, completions: bool) -> None:
        send = exchange.send
        if scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if not authorized(scope["headers"], self.api_key):
            error = RequestError(401, "Missing or wrong API key: send it as 'Authorization: Bearer <key>'.")
            return await send_json(send, 401, error.payload(), [(b"www-authenticate", b"Bearer")])
        if not completions:
            return await self.app(scope, receive, send)
        try:
            body = await read_body(scope, receive, self.max_body_bytes, self.read_timeout)
            request = parse_completion(body, self.tokenizer, self.limits)
        except RequestError as error:
            closing = [(b"connection", b"close")] if error.status == 408 else []  # the rest of the body may follow
            return await send_json(send, error.status, error.payload(), closing)
        key = None if no_cache(scope["headers"]) else request.cache_key()
        cached = self.cache.get(key) if key is not None else None
        exchange.cache_hit = None if key is None else cached is not None
        if cached is not None:
            return await send_json(send, 200, {**cached, "id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time())})
        status, answer = await self.forward(scope, receive, send, request.to_json())
        if status == 200 and key is not None:
            self.cache.put(key, json.loads(answer))
        return None

    async def forward(self, scope: dict, receive: Receive, send: Send, payload: dict) -> tuple[int, bytes]:
        """Pass the validated request on as JSON (whatever type curl -d declared); return LitServe's answer."""
        body = json.dumps(payload).encode()
        replaced = (b"content-length", b"content-type", b"content-encoding")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in replaced]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {**scope, "headers": headers}
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> dict:
            return pending.pop() if pending else await receive()

        status, chunks = 500, []

        async def record(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, record)
        return status, b"".join(chunks)


async def read_body(scope: dict, receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole request body; 413 as soon as it is known to exceed `limit` bytes, 408 when it takes `timeout` s."""
    too_large = f"The body is larger than the server's limit of {limit} bytes: send a shorter prompt."
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, too_large)

    async def chunks() -> bytes:
        received, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError(400, "The client disconnected before the body was complete.")
            received.append(message.get("body", b""))
            size += len(received[-1])
            if size > limit:
                raise RequestError(413, too_large)
            if not message.get("more_body", False):
                return b"".join(received)

    try:
        return await asyncio.wait_for(chunks(), timeout)
    except asyncio.TimeoutError:  # noqa: UP041 (the builtin TimeoutError only from Python 3.11)
        raise late(timeout) from None


def no_cache(headers: list[tuple[bytes, bytes]]) -> bool:
    """`Cache-Control: no-cache` (or no-store) asks for a fresh completion."""
    value = dict(headers).get(b"cache-control", b"").lower()
    return b"no-cache" in value or b"no-store" in value


async def send_json(send: Send, status: int, payload: dict, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
