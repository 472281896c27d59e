"""ASGI middleware in front of LitServe: auth, body limits, validation, the greedy cache, request metrics.

Everything that can reject a request happens here, before LitServe queues it, so a bad request is
answered on its own and never fails the batch it would have joined.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from tokenizers import Tokenizer

from .auth import authorized
from .cache import ResponseCache
from .metrics import Metrics
from .validation import Limits, RequestError, parse_completion

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
OPEN_PATHS = ("/health",)  # load balancers probe it without a key


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
        metrics: Metrics,
    ) -> None:
        self.app, self.path, self.tokenizer, self.limits = app, path, tokenizer, limits
        self.api_key, self.cache, self.max_body_bytes, self.metrics = api_key, cache, max_body_bytes, metrics

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        completions = scope["path"] == self.path and scope["method"] == "POST"
        started = time.perf_counter()
        if not authorized(scope["headers"], self.api_key):
            error = RequestError(401, "Missing or wrong API key: send it as 'Authorization: Bearer <key>'.")
            await send_json(send, 401, error.payload(), [(b"www-authenticate", b"Bearer")])
            if completions:
                self.metrics.observe_request(401, time.perf_counter() - started)
            return None
        if not completions:
            return await self.app(scope, receive, send)
        try:
            body = await read_body(scope, receive, self.max_body_bytes)
            request = parse_completion(body, self.tokenizer, self.limits)
        except RequestError as error:
            await send_json(send, error.status, error.payload())
            self.metrics.observe_request(error.status, time.perf_counter() - started)
            return None
        key = None if no_cache(scope["headers"]) else request.cache_key()
        cached = self.cache.get(key) if key is not None else None
        if cached is not None:
            await send_json(send, 200, {**cached, "id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time())})
            self.metrics.observe_request(200, time.perf_counter() - started, cache_hit=True)
            return None
        status, body = await self.forward(scope, receive, send, request.to_json())
        if status == 200 and key is not None:
            self.cache.put(key, json.loads(body))
        self.metrics.observe_request(status, time.perf_counter() - started, None if key is None else False)
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


async def read_body(scope: dict, receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 as soon as it is known to exceed `limit` bytes."""
    too_large = f"The body is larger than the server's limit of {limit} bytes: send a shorter prompt."
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, too_large)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError(400, "The client disconnected before the body was complete.")
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise RequestError(413, too_large)
        if not message.get("more_body", False):
            return b"".join(chunks)


def no_cache(headers: list[tuple[bytes, bytes]]) -> bool:
    """`Cache-Control: no-cache` (or no-store) asks for a fresh completion."""
    value = dict(headers).get(b"cache-control", b"").lower()
    return b"no-cache" in value or b"no-store" in value


async def send_json(send: Send, status: int, payload: dict, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
