"""What the demos (`make demo`, `make demo-finetune`) do at each step: run a stage as a user does, serve once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .utils.paths import PACKAGE


class DemoError(RuntimeError):
    """A stage of the demo failed; its own output above says why."""


def stage(name: str, *overrides: str) -> dict:
    """Run `python -m <package>.<name>` (its log on the terminal) and return its summary.json."""
    print(f"\n== {name} {' '.join(overrides)}".rstrip(), flush=True)
    result = subprocess.run([sys.executable, "-m", f"{PACKAGE}.{name}", *overrides], stdout=subprocess.PIPE, text=True)
    print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        raise DemoError(f"{name} failed (exit {result.returncode})")
    return json.loads(Path(result.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8"))


def call(url: str, body: dict | None = None) -> tuple[int, bytes]:
    """Status and body of a GET (no body) or a JSON POST to the local server."""
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get("LLM_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        # The URL is http://127.0.0.1:<port> of the server this demo started.
        with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def serve_one_completion(version: str, prompt: str) -> str:
    """Start the server on a free local port, wait for /health, ask for one completion, stop it."""
    from .serving.local import ServerNotHealthy, free_port, wait_healthy  # only in projects that serve

    port = free_port()
    print(f"\n== serve artifact={version} serve.port={port}", flush=True)
    command = [sys.executable, "-m", f"{PACKAGE}.serve", f"artifact={version}", f"serve.port={port}"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(base, lambda: server.poll() is None, limit=180.0)
        except ServerNotHealthy as error:
            raise DemoError(str(error)) from None
        request = {"model": version, "prompt": prompt, "max_tokens": 24, "temperature": 0}
        status, body = call(f"{base}/v1/completions", request)
        if status != 200:
            raise DemoError(f"POST /v1/completions answered {status}: {body.decode(errors='replace')}")
        text = json.loads(body)["choices"][0]["text"]
        print(f"POST {base}/v1/completions {prompt!r} -> {text!r}", flush=True)
        return text
    finally:
        server.terminate()
        server.wait(timeout=60)
