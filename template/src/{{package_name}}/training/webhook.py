"""POST an alert as JSON to a webhook (Slack-style incoming hooks, alert managers, a chat bot)."""

from __future__ import annotations

import json
import urllib.request


def post_json(url: str, payload: dict, timeout: float = 2.0) -> str | None:
    """Send `payload`; None when the receiver answered 2xx, else why not (never raises)."""
    if not url.startswith(("http://", "https://")):
        return f"webhook url {url!r} must start with http:// or https://"
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:  # the scheme is checked above: http(s) only, no file:// or ftp://
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            status = response.status
    except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts and refused connections are OSErrors
        return f"POST {url} failed: {err}"
    return None if 200 <= status < 300 else f"POST {url} answered HTTP {status}"
