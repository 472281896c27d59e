"""Build Lightning objects from Hydra config groups, logging what is built."""

from __future__ import annotations

import importlib.util

import hydra
from lightning import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from ..errors import UserError
from .logging import get_logger

log = get_logger(__name__)

# Lightning's loggers that need a package of their own: (modules, any one of which will do; pip name).
LOGGER_PACKAGES = {
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "WandbLogger": (("wandb",), "wandb"),
    "MLFlowLogger": (("mlflow",), "mlflow"),
    "CometLogger": (("comet_ml",), "comet-ml"),
    "NeptuneLogger": (("neptune",), "neptune"),
}


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


def check_logger_packages(group: DictConfig | None) -> None:
    """Refuse a configured logger whose package is missing before any work, naming the install command.

    Lightning itself would fail only when the logger is built, after the data and the model.
    """
    for name, entry in (group or {}).items():
        if not (isinstance(entry, DictConfig) and "_target_" in entry):
            continue
        target = str(entry._target_)
        modules, pip_name = LOGGER_PACKAGES.get(target.rsplit(".", 1)[-1], ((), ""))
        if modules and not any(importlib.util.find_spec(module) for module in modules):
            raise UserError(
                f"logger {str(name)} ({target}) needs the package {pip_name}, which is not installed: "
                f"pip install {pip_name}, or choose another logger (logger=csv)"
            )
