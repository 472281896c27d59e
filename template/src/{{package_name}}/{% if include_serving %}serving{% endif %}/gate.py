"""ASGI middleware in front of LitServe: auth, body limits and deadline, validation, routing, the greedy cache, metrics.

Everything that can reject a request happens here, before LitServe queues it, so a bad request is answered on its
own and never reaches a decoding step. Both endpoints, /v1/completions and /v1/chat/completions, reach the workers as
one checked CompletionRequest; the workers' events come back as a stream, which relay.py answers in OpenAI's format.
Whatever fails behind the gate, or in it, is answered as a JSON 500, and every 5xx on any path is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tokenizers import Tokenizer

from ..data.chat_template import ChatTemplate
from ..utils.logging import get_logger
from .auth import authorized
from .cache import ResponseCache
from .cancel import Cancellations
from .chat import ChatFormat, chat_prompt
from .deadline import late
from .lifecycle import Lifecycle
from .metrics import Metrics
from .relay import relay
from .responses import Answer, send_json
from .validation import ChatBody, Limits, RequestError, parse_body, to_request
from .variants import Router

log = get_logger(__name__)
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
OPEN_PATHS = ("/health",)  # load balancers probe it without a key
ENDPOINTS = {"/v1/completions": False, "/v1/chat/completions": True}  # path -> whether it is the chat endpoint
ADMIN_VARIANTS = "/admin/variants"
CLIENT_CLOSED = 499  # nginx's status for a request whose client closed the connection first (never sent)


@dataclass(frozen=True)
class VariantSpec:
    """What the gate needs of a served variant to check its requests; plain data, so it pickles."""

    tokenizer: Tokenizer
    chat: ChatFormat
    limits: Limits


class Exchange:
    """One request as the gate sees it: the response status sent so far, and whether the cache answered it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None  # None until the response starts
        self.complete = False
        self.cache_hit: bool | None = None  # None when the request could not be cached
        self.variant = "none"  # the variant that answers, once chosen

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
        variants: dict[str, VariantSpec],
        router: Router,
        api_key: str | None,
        cache: ResponseCache,
        max_body_bytes: int,
        read_timeout: float,
        metrics: Metrics,
        lifecycle: Lifecycle,
        cancellations: Cancellations,
        max_in_flight: int = 1024,
    ) -> None:
        self.app, self.path, self.variants, self.router = app, path, variants, router
        self.templates: dict[str, ChatTemplate] = {name: spec.chat.compile() for name, spec in variants.items()}
        self.api_key, self.cache, self.max_body_bytes, self.metrics = api_key, cache, max_body_bytes, metrics
        self.read_timeout, self.lifecycle, self.cancellations = read_timeout, lifecycle, cancellations
        self.max_in_flight = max_in_flight
        self.special_tokens = {name: special_tokens(spec.tokenizer) for name, spec in variants.items()}

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        exchange, started = Exchange(send), time.perf_counter()
        completions = scope["path"] in ENDPOINTS and scope["method"] == "POST"
        try:
            await self.answer(scope, receive, exchange, completions, started)
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
                seconds = time.perf_counter() - started
                self.metrics.observe_request(exchange.status, seconds, exchange.cache_hit, exchange.variant)
        return None

    async def answer(
        self, scope: dict, receive: Receive, exchange: Exchange, completions: bool, started: float
    ) -> None:
        send = exchange.send
        if scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if not authorized(scope["headers"], self.api_key):
            error = RequestError(401, "Missing or wrong API key: send it as 'Authorization: Bearer <key>'.")
            return await send_json(send, 401, error.payload(), [(b"www-authenticate", b"Bearer")])
        if scope["path"] == ADMIN_VARIANTS:
            return await self.admin(scope, receive, send)
        if scope["path"] in ENDPOINTS and not completions:
            error = RequestError(405, f"Use POST for {scope['path']}.")
            return await send_json(send, 405, error.payload(), [(b"allow", b"POST")])
        if not completions:
            return await self.app(scope, receive, send)
        with self.lifecycle.answering():  # counted from here: a drain waits for a body still arriving
            return await self.complete(scope, receive, exchange, started)

    async def complete(self, scope: dict, receive: Receive, exchange: Exchange, started: float) -> None:
        """A completion request: checked, routed to a variant, answered from the cache or by the workers."""
        send = exchange.send
        refusal = self.refusal()
        if refusal is not None:  # not accepted: a load balancer or the client retries it later or elsewhere
            return await send_json(send, 503, refusal.payload(), [(b"connection", b"close"), (b"retry-after", b"1")])
        try:
            body = await read_body(scope, receive, self.max_body_bytes, self.read_timeout)
            fields = parse_body(body, chat=ENDPOINTS[scope["path"]])
            exchange.variant = self.router.choose(fields.model, scope["headers"])
            spec = self.variants[exchange.variant]
            if isinstance(fields, ChatBody):
                check_no_special_tokens(fields, self.special_tokens[exchange.variant])
                prompt = chat_prompt(self.templates[exchange.variant], fields)
            else:
                prompt = fields.prompt
            answer = Answer(isinstance(fields, ChatBody), exchange.variant)
            request = to_request(fields, prompt, spec.tokenizer, spec.limits, exchange.variant, answer.id)
        except RequestError as error:
            closing = [(b"connection", b"close")] if error.status == 408 else []  # the rest of the body may follow
            return await send_json(send, error.status, error.payload(), closing)
        key = None if no_cache(scope["headers"]) else request.cache_key()
        cached = self.cache.get(key) if key is not None else None
        exchange.cache_hit = None if key is None else cached is not None
        if cached is not None:
            return await send_json(send, 200, {**cached, "id": answer.id, "created": answer.created})
        relayed = await relay(self.app, self.path, scope, receive, send, request, answer)
        if relayed.client_left:  # the worker frees its row; nothing more can be sent
            self.cancellations.cancel(request.request_id)
            exchange.status = CLIENT_CLOSED  # for the metrics, even if a stream had started: it was not answered
            return None
        if relayed.first_text_at is not None:
            self.metrics.observe_first_token(relayed.first_text_at - started, exchange.variant)
        if key is not None and relayed.whole is not None:
            self.cache.put(key, relayed.whole)
        return None

    def refusal(self) -> RequestError | None:
        """Why a new request cannot be taken now: the server drains, or holds serve.max_in_flight already."""
        if self.lifecycle.draining:
            return RequestError(503, "The server is shutting down: send the request again (to another replica).")
        if self.lifecycle.in_flight > self.max_in_flight:  # this request is counted too
            return RequestError(503, f"The server is answering {self.max_in_flight} requests already: retry shortly.")
        return None

    async def admin(self, scope: dict, receive: Receive, send: Send) -> None:
        """GET: the variants' weights; POST {"weights": {...}}: new weights, at once, without a restart."""
        if scope["method"] == "GET":
            return await send_json(send, 200, self.router.state())
        if scope["method"] != "POST":
            error = RequestError(405, f"Use GET or POST for {ADMIN_VARIANTS}.")
            return await send_json(send, 405, error.payload(), [(b"allow", b"GET, POST")])
        try:
            body = await read_body(scope, receive, self.max_body_bytes, self.read_timeout)
            state = self.router.update(body)
        except RequestError as error:
            return await send_json(send, error.status, error.payload())
        log.warning("Variant weights are now %s", state["weights"])
        return await send_json(send, 200, state)


def special_tokens(tokenizer: Tokenizer) -> list[str]:
    """The tokenizer's special tokens (<|im_end|>, </s>, ...): markup the chat template writes, never user text."""
    return [token.content for token in tokenizer.get_added_tokens_decoder().values() if token.special]


def check_no_special_tokens(body: ChatBody, forbidden: list[str]) -> None:
    """A message holding a special token could close its turn and open one of another role: refused."""
    for index, message in enumerate(body.messages):
        found = next((token for token in forbidden if token in message.content), None)
        if found is not None:
            raise RequestError(
                400,
                f"'messages[{index}].content' holds the special token {found!r}, which would read as the chat "
                "template's own markup: remove it.",
                "messages",
            )


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
