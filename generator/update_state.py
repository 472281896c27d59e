"""An update in progress, recorded inside `.git` so that an interrupted one can never pass for done.

Before an update touches a file it takes a lock (`filelock`: the OS frees it when the process
dies, even by SIGKILL, so a stale lock cannot block the next run) and writes a record of the
HEAD and versions it started from. A finished or rolled-back update removes the record. A record
without a live lock holder is an interrupted update: `check`, `update` and `fleet` report it, and
`update --abort` restores the recorded HEAD exactly.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from generator.errors import ProjectError, UpdateInterruptedError, UpdateRunningError
from generator.project import current_branch, git

# Files git writes while an operation waits for the user: an update on top would mix two merges.
GIT_OPERATIONS = {
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or `git am`",
    "BISECT_LOG": "a bisect",
    "sequencer": "a cherry-pick or revert of several commits",
}


@dataclass
class UpdateRecord:
    """What an update started from: enough to report it and to undo it."""

    head: str
    branch: str
    from_version: str
    to_version: str
    pid: int
    started: float


def git_dir(repo: Path) -> Path:
    """The repository's git folder (also for a worktree or a project in a monorepo's subfolder)."""
    return Path(git(repo, "rev-parse", "--absolute-git-dir").stdout.strip())


def state_dir(repo: Path) -> Path:
    return git_dir(repo) / "llm-scaffold"


def record_path(repo: Path) -> Path:
    return state_dir(repo) / "update-in-progress.json"


def read_record(repo: Path) -> UpdateRecord | None:
    """The record of an unfinished update, or None."""
    path = record_path(repo)
    if not path.is_file():
        return None
    try:
        return UpdateRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as err:
        raise ProjectError(
            f"{path} is unreadable ({err}): an update was interrupted; "
            f"run `git reset --hard` to the commit before it, then delete that file"
        ) from err


def write_record(repo: Path, record: UpdateRecord) -> None:
    """Atomically (write, then rename), so a kill cannot leave half a record."""
    path = record_path(repo)
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(partial, path)


def clear_record(repo: Path) -> None:
    record_path(repo).unlink(missing_ok=True)


def describe(record: UpdateRecord) -> str:
    """`an update from v1 to v2 (pid 42, started ...)`, for messages."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
    return f"an update from {record.from_version} to {record.to_version} (pid {record.pid}, started {started})"


def process_lock(path: Path) -> FileLock:
    """One lock object per path in this process: re-entrant here, exclusive against other processes."""
    return FileLock(path, is_singleton=True)


@contextmanager
def update_lock(repo: Path) -> Iterator[None]:
    """Hold the repository's update lock; another holder means another update is running now."""
    directory = state_dir(repo)
    directory.mkdir(exist_ok=True)
    lock = process_lock(directory / "update.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        record = read_record(repo)
        running = describe(record) if record else "another update"
        raise UpdateRunningError(
            f"{running} of {repo} is running: wait for it to finish (one update per repository at a time)"
        ) from None
    try:
        yield
    finally:
        lock.release()


def is_running(repo: Path) -> bool:
    """Whether another process holds the update lock right now (this process's own hold does not count)."""
    path = state_dir(repo) / "update.lock"
    if not path.exists():
        return False
    lock = process_lock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def ensure_not_interrupted(repo: Path) -> None:
    """Raise when the repository holds an unfinished update (running now, or interrupted)."""
    record = read_record(repo)
    if record is None:
        return
    if is_running(repo):
        raise UpdateRunningError(f"{describe(record)} of {repo} is running: wait for it to finish")
    raise UpdateInterruptedError(
        f"{describe(record)} was interrupted and left {repo} half-updated: "
        "run `llm-scaffold update --abort` to restore the commit before it, then update again"
    )


def ensure_no_git_operation(repo: Path) -> None:
    """Refuse while git waits for the user to finish a merge, rebase, cherry-pick, revert or bisect."""
    folder = git_dir(repo)
    for name, operation in GIT_OPERATIONS.items():
        if (folder / name).exists():
            raise ProjectError(
                f"{repo} is in the middle of {operation}: finish it (commit, or `--continue`) or abort it "
                "(`--abort`) with git first, so that the template update is not mixed into it"
            )


def abort_update(repo: Path) -> UpdateRecord:
    """Undo an interrupted update: back to the recorded HEAD, files the update added removed."""
    with update_lock(repo):
        record = read_record(repo)
        if record is None:
            raise ProjectError(f"{repo} has no interrupted update to abort")
        head = git(repo, "rev-parse", "HEAD").stdout.strip()
        if head != record.head:  # commits made after the interruption: a reset would drop them
            raise ProjectError(
                f"HEAD moved from {record.head[:12]} to {head[:12]} after {describe(record)} was interrupted: "
                f"--abort would drop those commits; reset by hand (`git reset --hard {record.head[:12]}`) or keep "
                f"them, then delete {record_path(repo)}"
            )
        if record.branch and current_branch(repo) != record.branch:
            git(repo, "checkout", "--quiet", "--force", record.branch)
        git(repo, "reset", "--hard", "--quiet", record.head)
        git(repo, "clean", "-fd", "--quiet")
        clear_record(repo)
        return record
