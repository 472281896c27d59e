"""The serve stage: check the settings, then serve the artifact (or the variants) until stopped."""

from __future__ import annotations

from functools import partial

from omegaconf import DictConfig

from .server import run_server
from .settings import settings_from
from .source import load_served


def serve(cfg: DictConfig) -> dict:
    """cfg.artifact (a version, a folder, or null for current), or serve.variants, at cfg.precision."""
    settings = settings_from(cfg.serve)
    load = partial(load_served, artifacts_dir=cfg.paths.artifacts_dir, precision=cfg.precision)
    if settings.variants is None:
        return run_server(partial(load, cfg.artifact), settings)
    sources = {variant.name: partial(load, variant.artifact) for variant in settings.variants}
    return run_server(sources, settings, {variant.name: variant.weight for variant in settings.variants})
