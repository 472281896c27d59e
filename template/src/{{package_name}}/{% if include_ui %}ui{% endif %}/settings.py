"""The `ui` settings: the address the page listens on and the API key that guards it."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from omegaconf import DictConfig

from ..errors import UserError


@dataclass(frozen=True)
class UiSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    api_key_env: str | None = "LLM_API_KEY"
    api_key: str | None = field(default=None, repr=False)
    log_lines: int = 200
    refresh_s: float = 2.0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def settings_from(ui: DictConfig) -> UiSettings:
    """The `ui` config group checked, with the API key read from the variable `ui.api_key_env` names."""
    known = set(UiSettings.__dataclass_fields__) - {"api_key"}
    unknown = sorted(set(ui) - known)
    if unknown:
        raise UserError(f"ui.{unknown[0]} is not a ui setting: the settings are {', '.join(sorted(known))}")
    options = dict(ui)
    port, lines, refresh = options.get("port", 8765), options.get("log_lines", 200), options.get("refresh_s", 2.0)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise UserError(f"ui.port={port!r} must be a port number from 1 to 65535")
    if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
        raise UserError(f"ui.log_lines={lines!r} must be a positive number of lines")
    if not isinstance(refresh, (int, float)) or isinstance(refresh, bool) or not 0.1 <= refresh <= 60:
        raise UserError(f"ui.refresh_s={refresh!r} must be from 0.1 to 60 seconds")
    variable = options.get("api_key_env")
    settings = UiSettings(
        host=str(options.get("host", "127.0.0.1")),
        port=port,
        api_key_env=variable,
        api_key=(os.environ.get(variable) or None) if variable else None,
        log_lines=lines,
        refresh_s=float(refresh),
    )
    check_exposure(settings)
    return settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: UiSettings) -> None:
    """The page launches processes: beyond loopback it is served only with an API key."""
    if is_loopback(settings.host) or settings.api_key:
        return
    variable = f"set {settings.api_key_env}" if settings.api_key_env else "set ui.api_key_env and that variable"
    raise UserError(
        f"ui.host={settings.host} would let anyone who reaches the port launch stages on this machine: "
        f"{variable} to a secret key, or keep ui.host=127.0.0.1"
    )
