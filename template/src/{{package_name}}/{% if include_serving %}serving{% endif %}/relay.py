"""Relay a checked request to LitServe and answer the client from the workers' events, in OpenAI's format.

The workers stream one JSON line per event (api.py's encode_response). A streamed request gets each piece of text
as a server-sent event the moment its decoding step ends, then `data: [DONE]`; any other gets one JSON answer
when its last event arrives. A request whose events stop without an end (its worker failed) or end in an error
is answered 500, or, once a stream has started, with an error event before `[DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .responses import DONE, Answer, Send, send_json, usage
from .validation import CompletionRequest, RequestError

Receive = Callable[[], Awaitable[dict]]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


@dataclass
class Relayed:
    first_text_at: float | None = None  # time.perf_counter() when the first text (or the end) arrived
    whole: dict | None = None  # the non-streamed 200 answer, for the cache
    client_left: bool = False  # the client disconnected before its answer ended


class Reply:
    """The client's side: what has been answered so far, as a stream or as one JSON body."""

    def __init__(self, send: Send, request: CompletionRequest, answer: Answer) -> None:
        self.send, self.request, self.answer = send, request, answer
        self.started, self.ended = False, False
        self.text: list[str] = []
        self.relayed = Relayed()

    async def event(self, event: dict) -> None:
        if self.relayed.first_text_at is None and (event["text"] or event["finish_reason"]):
            self.relayed.first_text_at = time.perf_counter()
        if event["finish_reason"] == "error":
            return await self.fail(event["error"])
        self.text.append(event["text"])
        finish = event["finish_reason"]
        if self.request.stream and (event["text"] or finish or not self.started):
            await self.chunk(self.answer.chunk(event["text"], finish, first=not self.started))
        if finish is None:
            return None
        self.ended = True
        counts = usage(event["prompt_tokens"], event["completion_tokens"])
        if not self.request.stream:
            self.relayed.whole = self.answer.whole("".join(self.text), finish, counts)
            return await send_json(self.send, 200, self.relayed.whole)
        if self.request.include_usage:
            await self.chunk(self.answer.usage_chunk(counts))
        return await self.send({"type": "http.response.body", "body": DONE})

    async def chunk(self, payload: dict) -> None:
        if not self.started:
            await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            self.started = True
        body = b"data: " + json.dumps(payload).encode() + b"\n\n"
        await self.send({"type": "http.response.body", "body": body, "more_body": True})

    async def fail(self, error: str | None) -> None:
        """The request's own failure: a 500, or an error event ending a stream already under way."""
        self.ended = True
        if error == "timeout":
            failure = RequestError(504, "The request waited longer than serve.timeout for the model: try again.")
        else:
            message = f"The model failed on this request ({error}); the server's log has the details."
            failure = RequestError(500, message)
        if not self.started:
            return await send_json(self.send, failure.status, failure.payload())
        await self.chunk(failure.payload())
        return await self.send({"type": "http.response.body", "body": DONE})


async def relay(
    app, path: str, scope: dict, receive: Receive, send: Send, request: CompletionRequest, answer: Answer
) -> Relayed:
    """Pass the request on to LitServe's `path` as JSON (whatever type curl -d declared); answer from its events."""
    body = json.dumps(request.to_json()).encode()
    replaced = (b"content-length", b"content-type", b"content-encoding")
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in replaced]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> dict:
        """The checked body, then the client's own messages: a disconnect ends LitServe's stream."""
        if pending:
            return pending.pop()
        message = await receive()
        if message["type"] == "http.disconnect" and not reply.ended:
            reply.relayed.client_left = True
        return message

    reply, status, buffer = Reply(send, request, answer), 500, b""

    async def events(message: dict) -> None:
        nonlocal status, buffer
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not reply.ended:
            buffer += message.get("body", b"")
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line) if status == 200 else {}
                if event and not reply.ended:
                    await reply.event(event)

    await app({**scope, "path": path, "raw_path": path.encode(), "headers": headers}, replay, events)
    if not reply.ended and not reply.relayed.client_left:
        await reply.fail("no end of stream" if status == 200 else f"HTTP {status}")
    return reply.relayed
