"""The names shared by update, fleet and the CLI: what happened to a repository, and how conflicts are written."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What `update` did, or what `fleet` found, for one repository (also its JSON value)."""

    UPDATED = "updated"
    CURRENT = "current"
    CONFLICTS = "conflicts"
    DRY_RUN = "dry-run"
    ABORTED = "aborted"
    DIRTY = "dirty"
    BEHIND = "behind"
    DRIFTED = "drifted"
    INTERRUPTED = "interrupted"
    ERROR = "error"


OK = {Status.UPDATED, Status.CURRENT}


class ConflictStyle(StrEnum):
    """copier's `--conflict`: markers in the files, or `.rej` files beside them."""

    INLINE = "inline"
    REJ = "rej"
