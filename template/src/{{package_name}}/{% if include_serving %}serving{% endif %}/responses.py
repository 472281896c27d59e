"""OpenAI's response shapes for both endpoints: a whole answer, and the chunks of a streamed one."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

DONE = b"data: [DONE]\n\n"
Send = Callable[[dict], Awaitable[None]]


class Answer:
    """One request's response as the openai client reads it; `model` names the variant that answers."""

    def __init__(self, chat: bool, model: str) -> None:
        self.chat, self.model = chat, model
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def whole(self, text: str, finish_reason: str, usage: dict) -> dict:
        if self.chat:
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
            return {**self.head("chat.completion"), "choices": [choice], "usage": usage}
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
        return {**self.head("text_completion"), "choices": [choice], "usage": usage}

    def chunk(self, text: str, finish_reason: str | None, first: bool = False) -> dict:
        """A streamed piece; a chat stream's first chunk also says who speaks (OpenAI's role delta)."""
        if self.chat:
            delta = {"role": "assistant", "content": text} if first else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**self.head("chat.completion.chunk"), "choices": [choice], "usage": None}
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
        return {**self.head("text_completion"), "choices": [choice], "usage": None}

    def usage_chunk(self, usage: dict) -> dict:
        """stream_options.include_usage: a last chunk with no choices and the request's usage."""
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {**self.head(kind), "choices": [], "usage": usage}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


async def send_json(send: Send, status: int, payload: dict, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A whole JSON response through an ASGI `send`."""
    body = json.dumps(payload).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
