"""The server's settings, from the `serve` config group, checked before anything starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from ..errors import ServeError

# The values serve.host may take: loopback only, or every interface (a deliberate choice, never the default).
LOOPBACK = "127.0.0.1"
EVERY_IPV4_INTERFACE = "0.0.0.0"  # nosec B104
HOSTS = (LOOPBACK, EVERY_IPV4_INTERFACE, "::")
ACCELERATORS = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 32
    batch_timeout: float = 0.01  # seconds a batch waits to fill up
    workers: int = 1  # model replicas (inference processes)
    accelerator: str = "auto"
    threads: int | None = None  # torch threads per worker; None keeps torch's default
    timeout: float = 60.0  # seconds a request may wait in the queue
    api_key: str | None = None
    max_tokens_cap: int = 256
    default_max_tokens: int = 16
    cache_size: int = 1024
    max_body_bytes: int = 65536
    read_timeout: float = 10.0  # seconds a client has for a request's headers, and again for its body: else 408
    idle_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    allow_unauthenticated: bool = False  # serve every interface without an API key (on a trusted network only)
    log_level: str = "warning"


def settings_from(serve: DictConfig) -> ServeSettings:
    """The `serve` group as settings; the API key comes from the variable serve.api_key_env names, never a file."""
    options: dict[str, Any] = {str(key): value for key, value in serve.items() if key != "api_key_env"}
    unknown = sorted(set(options) - set(ServeSettings.__dataclass_fields__) | {"api_key"} & set(options))
    if unknown:
        raise ServeError(f"serve.{unknown[0]} is not a serve setting: remove it or check its spelling")
    for name in ("port", "max_batch_size", "workers", "max_tokens_cap", "default_max_tokens", "max_body_bytes"):
        if not isinstance(options[name], int) or options[name] < 1:
            raise ServeError(f"serve.{name}={options[name]!r} must be a positive integer")
    if options["host"] not in HOSTS:
        raise ServeError(f"serve.host={options['host']!r} cannot be bound: use one of {', '.join(HOSTS)}")
    if options["accelerator"] not in ACCELERATORS:
        raise ServeError(f"serve.accelerator={options['accelerator']!r} is unknown: use {', '.join(ACCELERATORS)}")
    if not 1024 <= options["port"] <= 65535:
        raise ServeError(f"serve.port={options['port']} is outside 1024-65535: choose a free port there")
    if options["default_max_tokens"] > options["max_tokens_cap"]:
        raise ServeError("serve.default_max_tokens is above serve.max_tokens_cap: lower it or raise the cap")
    if options["batch_timeout"] < 0 or options["cache_size"] < 0:
        raise ServeError("serve.batch_timeout and serve.cache_size must be 0 or more")
    api_key = os.environ.get(serve.api_key_env) if serve.api_key_env else None
    settings = ServeSettings(**options, api_key=api_key or None)
    for name in ("read_timeout", "idle_timeout"):
        seconds = getattr(settings, name)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ServeError(f"serve.{name}={seconds!r} must be a number of seconds above 0")
    check_exposure(settings, serve.api_key_env)
    return settings


def check_exposure(settings: ServeSettings, api_key_env: str | None) -> None:
    """Beyond loopback, anyone who can reach the port can use the model: only with a key, or when told to."""
    if settings.host == LOOPBACK or settings.api_key or settings.allow_unauthenticated is True:
        return
    variable = f"set {api_key_env}" if api_key_env else "set serve.api_key_env and that variable"
    raise ServeError(
        f"serve.host={settings.host} would serve every network interface without an API key, so anyone who "
        f"reaches the port could use the model: {variable} to a secret key, or pass "
        "serve.allow_unauthenticated=true when the network itself is trusted"
    )
