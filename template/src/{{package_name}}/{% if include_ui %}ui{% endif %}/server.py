"""The ui stage: check the settings and the port, serve the page until Ctrl+C or SIGTERM, stop what it started."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..errors import UserError
from ..utils.logging import get_logger
from .app import Project, create_app
from .settings import UiSettings, settings_from

log = get_logger(__name__)


def serve_page(cfg: DictConfig) -> dict:
    settings = settings_from(cfg.ui)
    check_port_free(settings)
    run_dir = Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else None
    project = Project(
        root=Path(cfg.paths.root_dir),
        log_dir=Path(cfg.paths.log_dir),
        artifacts_dir=Path(cfg.paths.artifacts_dir),
        ui_log=run_dir / "ui.log" if run_dir else None,
    )
    app = create_app(settings, project)
    key = f", API key from {settings.api_key_env}" if settings.api_key else ""
    log.info("Workflow page on %s (project %s%s); Ctrl+C stops it", settings.url, project.root, key)
    server = PageServer(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
    try:
        server.run()
    finally:
        app.state.launcher.stop_all()
    launched = app.state.launcher.launched()
    return {"url": settings.url, "launched": [f"{item.stage}/{item.run_id}" for item in launched]}


class PageServer(uvicorn.Server):
    """uvicorn, except that Ctrl+C or SIGTERM returns from `run()` instead of being raised again once it has
    stopped (which would kill the process): the page then stops its stages and writes its summary."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def check_port_free(settings: UiSettings) -> None:
    """A port in use stops here with the fix (uvicorn would only log it)."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as err:
            raise UserError(
                f"cannot listen on {settings.host}:{settings.port} ({err.strerror}): "
                "choose another ui.port=..., or stop what uses it"
            ) from None
