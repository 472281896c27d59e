"""API-key check: when a key is configured, every request but /health must carry it as a Bearer token."""

from __future__ import annotations

import hmac


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header in raw ASGI headers, if any."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def authorized(headers: list[tuple[bytes, bytes]], api_key: str | None) -> bool:
    if not api_key:
        return True
    token = bearer_token(headers)
    return token is not None and hmac.compare_digest(token.encode(), api_key.encode())
