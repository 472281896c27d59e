"""Which process is the global rank zero: Lightning's own answer, `rank_zero_only.rank`."""

from __future__ import annotations

from lightning_utilities.core.rank_zero import rank_zero_only


def global_rank() -> int:
    """This process's global rank as Lightning knows it; 0 in a process that never imports Lightning.

    Lightning sets `rank_zero_only.rank` from the launcher's environment when it is imported (RANK,
    then LOCAL_RANK, then SLURM_PROCID) and to the exact rank once a Trainer is built. This is the
    object `lightning.pytorch.utilities.rank_zero_only`, imported from `lightning_utilities` so that the
    stages without Lightning (prepare, export, serve), which run as one process, do not pay its
    import: 3.6 s on a 2-vCPU VM.
    """
    return getattr(rank_zero_only, "rank", 0)
