"""The serve stage: check the settings, then serve the artifact until interrupted."""

from __future__ import annotations

from functools import partial

from omegaconf import DictConfig

from .server import run_server
from .settings import settings_from
from .source import load_served


def serve(cfg: DictConfig) -> dict:
    """The artifact (a version, a folder, or null for current) at cfg.precision; load_served checks both."""
    settings = settings_from(cfg.serve)
    return run_server(partial(load_served, cfg.artifact, cfg.paths.artifacts_dir, cfg.precision), settings)
