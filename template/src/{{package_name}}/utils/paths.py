"""The project root, exposed to Hydra configs as `${project_root:}`, and this package's name."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

# The import name of this package, for `python -m <package>.<stage>` commands and messages.
PACKAGE = __name__.split(".")[0]

# src/<package>/utils/paths.py -> the project root, for a source checkout or editable install.
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def project_root() -> str:
    """`PROJECT_ROOT` if set, else the checkout this package lives in, else the working dir."""
    if "PROJECT_ROOT" in os.environ:
        return os.environ["PROJECT_ROOT"]
    if (SOURCE_ROOT / "configs").is_dir():
        return str(SOURCE_ROOT)
    return os.getcwd()


def run_id() -> str:
    """One name for the run directory shared by every process of a run.

    Launchers that start all ranks themselves (torchrun, SLURM) give each process the same id;
    otherwise a timestamp, which Lightning passes on to the DDP processes it starts.
    """
    for variable in ("RUN_ID", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID"):
        if os.environ.get(variable, "none") != "none":
            return os.environ[variable]
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("project_root", project_root, replace=True)
    OmegaConf.register_new_resolver("run_id", run_id, replace=True, use_cache=True)


def config_dir() -> str:
    """The checkout's `configs/`; for a non-editable install, the one under the project root."""
    if (SOURCE_ROOT / "configs").is_dir():
        return str(SOURCE_ROOT / "configs")
    return str(Path(project_root()) / "configs")


CONFIG_DIR = config_dir()
