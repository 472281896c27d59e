"""The project root, exposed to Hydra configs as `${project_root:}`."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

# src/<package>/utils/paths.py -> the project root, for a source checkout or editable install.
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def project_root() -> str:
    """`PROJECT_ROOT` if set, else the checkout this package lives in, else the working dir."""
    if "PROJECT_ROOT" in os.environ:
        return os.environ["PROJECT_ROOT"]
    if (SOURCE_ROOT / "configs").is_dir():
        return str(SOURCE_ROOT)
    return os.getcwd()


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("project_root", project_root, replace=True)


def config_dir() -> str:
    """The checkout's `configs/`; for a non-editable install, the one under the project root."""
    if (SOURCE_ROOT / "configs").is_dir():
        return str(SOURCE_ROOT / "configs")
    return str(Path(project_root()) / "configs")


CONFIG_DIR = config_dir()
