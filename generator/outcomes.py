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


COMMIT_PREFIX = "Update template to "  # the subject of every commit an update makes (fleet, --stepwise, the job)
BRANCH_PREFIX = "llm-scaffold/update-"


def update_branch(target: str) -> str:
    """The branch an update to `target` goes onto: the version tag, or a commit's first 12 characters.

    The generated project's update job (devtools/template_update.py) names its branches the same way.
    """
    from generator.versions import parse  # imported here: versions imports nothing of this module's users

    return BRANCH_PREFIX + (target if parse(target) is not None else target[:12])


class ConflictStyle(StrEnum):
    """copier's `--conflict`: markers in the files, or `.rej` files beside them."""

    INLINE = "inline"
    REJ = "rej"
