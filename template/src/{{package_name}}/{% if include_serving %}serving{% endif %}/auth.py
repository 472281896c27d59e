"""API-key check: when a key is configured, every request but /health must carry it as a Bearer token."""

from __future__ import annotations

import hmac


def bearer_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header in raw ASGI headers, as the bytes the client sent."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def key_bytes(api_key: str) -> bytes:
    """The key as the bytes a client sends: UTF-8, or the environment's own bytes where they are not UTF-8."""
    return api_key.encode("utf-8", "surrogateescape")


def authorized(headers: list[tuple[bytes, bytes]], api_key: str | None) -> bool:
    """Compares bytes with bytes, in constant time: a non-ASCII key matches when the client sends it as UTF-8."""
    if not api_key:
        return True
    token = bearer_token(headers)
    return token is not None and hmac.compare_digest(token, key_bytes(api_key))
