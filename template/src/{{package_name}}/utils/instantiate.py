"""Build Lightning objects from Hydra config groups, logging what is built."""

from __future__ import annotations

import hydra
from lightning import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from .logging import get_logger

log = get_logger(__name__)


def instantiate_group(group: DictConfig | None, kind: str) -> list:
    """Every entry with a `_target_` in a config group such as `callbacks` or `logger`."""
    objects = []
    for name, entry in (group or {}).items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            log.info("Instantiating %s %s <%s>", kind, name, entry._target_)
            objects.append(hydra.utils.instantiate(entry))
    return objects


def instantiate_callbacks(group: DictConfig | None) -> list[Callback]:
    return instantiate_group(group, "callback")


def instantiate_loggers(group: DictConfig | None) -> list[Logger]:
    return instantiate_group(group, "logger")
