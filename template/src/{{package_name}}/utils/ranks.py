"""Which process is the global rank zero, before or without a Lightning trainer."""

from __future__ import annotations

import os


def global_rank() -> int:
    """The global rank from the launcher's environment (torchrun, SLURM, Lightning), else 0."""
    for variable in ("RANK", "SLURM_PROCID"):
        if variable in os.environ:
            return int(os.environ[variable])
    if int(os.environ.get("NODE_RANK", "0")) > 0:
        return -1  # some rank on another node: not zero
    return int(os.environ.get("LOCAL_RANK", "0"))
