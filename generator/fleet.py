"""`llm-scaffold fleet`: check or update many projects at once, in parallel processes.

Each repository is handled in its own process, so one failing never affects another. An update
goes onto a new branch `llm-scaffold/update-<version>` with one commit. Run again, an earlier run's
branch that holds the update is reported and left alone, and one that does not is reset (only when
it holds nothing but our own update commits). A repository whose update leaves conflicts is not
committed: the branch is left checked out with the markers in the work tree for a person to
resolve and commit (committing markers would let them slip into main).
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from generator import update_state, versions
from generator.check import check_project
from generator.errors import FleetInterrupted, ScaffoldError, UpdateInterruptedError
from generator.outcomes import COMMIT_PREFIX, OK, ConflictStyle, Status, update_branch
from generator.project import (
    ANSWERS_FILE,
    Project,
    commit_all,
    current_branch,
    git,
    open_project,
    uncommitted_changes,
)
from generator.update import apply


@dataclass
class FleetEntry:
    repo: str
    from_version: str = ""
    to_version: str = ""
    result: Status = Status.ERROR
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_fleet(
    kind: str, paths: list[str | Path], to: str | None = None, jobs: int = 1, trust: bool = False
) -> list[FleetEntry]:
    """`kind` is "status" or "update"; results come back in the order of `paths`.

    Ctrl-C cancels the repositories not started yet; those in progress finish (or roll back) in
    their workers, which ignore it, and FleetInterrupted says which were not started.
    """
    work = status_one if kind == "status" else update_one
    resolved = [str(Path(path).expanduser().resolve()) for path in paths]
    with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=ignore_interrupts) as pool:
        futures = [pool.submit(guarded, work, path, to, trust) for path in resolved]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            skipped = [path for path, future in zip(resolved, futures, strict=True) if future.cancelled()]
            raise FleetInterrupted(
                "interrupted: the repositories in progress finished or rolled back; "
                f"not started: {', '.join(skipped) or 'none'}"
            ) from None


def ignore_interrupts() -> None:
    """In each worker: Ctrl-C is the parent's to handle, so no update stops halfway through."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def guarded(work, path: str, to: str | None, trust: bool) -> FleetEntry:
    """One repository's work; whatever goes wrong becomes its own row, never the whole fleet's failure."""
    entry = FleetEntry(path)
    try:
        return work(entry, to, trust)
    except UpdateInterruptedError as err:
        record = update_state.read_record(Path(path))
        entry.result, entry.message = Status.INTERRUPTED, str(err)
        if record:
            entry.from_version, entry.to_version = record.from_version, record.to_version
    except ScaffoldError as err:
        entry.result, entry.message = Status.ERROR, str(err)
    except Exception as err:  # noqa: BLE001 - one repository's surprise must not stop the fleet
        entry.result, entry.message = Status.ERROR, f"{type(err).__name__}: {err}"
    return entry


def all_ok(entries: list[FleetEntry]) -> bool:
    return all(entry.result in OK for entry in entries)


def status_one(entry: FleetEntry, to: str | None, trust: bool) -> FleetEntry:
    entry.from_version = open_project(entry.repo).version
    report = check_project(entry.repo, trust=trust)
    entry.to_version = report.target or ""
    entry.result = (
        Status.CONFLICTS
        if report.conflicts
        else Status.BEHIND
        if report.behind
        else Status.DRIFTED
        if report.drifted
        else Status.CURRENT
    )
    entry.message = ", ".join(report.conflicts or report.drifted)
    return entry


def update_one(entry: FleetEntry, to: str | None, trust: bool) -> FleetEntry:
    project = open_project(entry.repo)
    entry.from_version = project.version
    with update_state.update_lock(project.path):  # the branch switch, the update and the commit: one unit
        update_state.ensure_not_interrupted(project.path)
        update_state.ensure_no_git_operation(project.path)
        entry.to_version = versions.choose(project.source, to, project.version)
        dirty = uncommitted_changes(project.path, whole_repository=True)
        if dirty:
            entry.result, entry.message = Status.DIRTY, f"uncommitted: {', '.join(dirty[:5])}"
            return entry
        if entry.to_version == project.version:
            entry.result = Status.CURRENT
            return entry
        branch = update_branch(entry.to_version)
        if holds_update(project.path, branch, entry.to_version):
            entry.result, entry.message = Status.UPDATED, f"branch {branch} (from an earlier run)"
            return entry
        return update_on_branch(entry, project, branch, trust)


def update_on_branch(entry: FleetEntry, project: Project, branch: str, trust: bool) -> FleetEntry:
    """Update on `branch` and commit; on failure, back to where the repository was, branch removed.

    The caller holds the lock and made update_project's checks, so this applies the update directly.
    """
    repo = project.path
    original = current_branch(repo) or git(repo, "rev-parse", "HEAD").stdout.strip()  # detached: its commit
    switch_to_fresh_branch(repo, branch)
    try:
        result = apply(project, entry.to_version, ConflictStyle.INLINE, trust)
    except BaseException:
        git(repo, "checkout", "--quiet", "--force", original, check=False)
        git(repo, "branch", "--quiet", "-D", branch, check=False)
        raise
    if result.conflicts:
        entry.result, entry.message = Status.CONFLICTS, f"on branch {branch}: resolve {', '.join(result.conflicts)}"
        return entry
    commit_all(repo, f"{COMMIT_PREFIX}{result.to_version}")
    entry.result, entry.message = Status.UPDATED, f"branch {branch}"
    return entry


def holds_update(repo: Path, branch: str, version: str) -> bool:
    """Whether `branch` exists and already records `version` (an earlier run's update, maybe resolved)."""
    shown = git(repo, "show", f"refs/heads/{branch}:{ANSWERS_FILE}", check=False)
    if shown.returncode != 0:
        return False
    try:
        return str((yaml.safe_load(shown.stdout) or {}).get("_commit")) == version
    except (yaml.YAMLError, AttributeError):
        return False


def switch_to_fresh_branch(repo: Path, branch: str) -> None:
    """Create `branch` at HEAD; an old one of ours (only our own update commits) is reset, another refused."""
    if git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        subjects = git(repo, "log", "--format=%s", f"HEAD..refs/heads/{branch}").stdout.splitlines()
        if any(not subject.startswith(COMMIT_PREFIX) for subject in subjects):
            raise ScaffoldError(
                f"branch {branch} exists with commits of someone else's: merge or delete it "
                f"(`git branch -D {branch}`), then run again"
            )
    git(repo, "checkout", "--quiet", "-B", branch)
