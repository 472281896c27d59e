"""Who may use the page: the API key when one is set, and protection against other web sites.

With a key, a request carries it as `Authorization: Bearer <key>` or in the cookie the key form
sets. Without one (loopback only), the Host header must name this server, so a web site that
rebinds its DNS name to 127.0.0.1 is refused. Every POST must come from htmx (`HX-Request`), a header
a form on another site cannot send, so no other page can launch a stage through the browser.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from .settings import UiSettings, is_loopback

COOKIE = "ui_key"
OPEN_PATHS = ("/static/", "/login")  # the key form and its stylesheet


def key_matches(candidate: str | None, api_key: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), api_key.encode())


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def has_key(request: Request, settings: UiSettings) -> bool:
    if not settings.api_key:
        return True
    return key_matches(bearer(request), settings.api_key) or key_matches(request.cookies.get(COOKIE), settings.api_key)


def host_allowed(request: Request, settings: UiSettings) -> bool:
    """Without a key: the Host header must be this server's own loopback name and port."""
    if settings.api_key:
        return True
    host = request.headers.get("host", "")
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    name = name.strip("[]")
    return is_loopback(name) and port == str(settings.port)


def refusal(request: Request, settings: UiSettings) -> tuple[int, str] | None:
    """(status, message) when the request may not pass, else None."""
    if not host_allowed(request, settings):
        return 403, f"this page answers only to {settings.url}: open that address"
    if request.method == "POST" and request.url.path != "/login" and request.headers.get("hx-request") != "true":
        return 403, "changes come only from the page itself (htmx requests): use the page's buttons"
    if request.url.path.startswith(OPEN_PATHS) or has_key(request, settings):
        return None
    return 401, f"this page needs the API key (the value of {settings.api_key_env}) as a Bearer token or via /login"
