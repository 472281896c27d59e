"""`llm-scaffold update`: move a project to a newer template version with copier's 3-way merge.

Refuses before touching anything: a dirty tree, a merge/rebase/cherry-pick in progress, a
downgrade, an untrusted template, an update already running or interrupted. The update is
recorded inside `.git` while it runs (see update_state), so a killed one is reported and undone
with `--abort`. If anything fails midway (a migration raises, an exception, Ctrl-C), the
repository is reset to exactly its state before: HEAD, index and working tree. User-edited files
that the template deletes or renames are carried over (see template_moves), and conflicts are
listed afterwards instead of passing silently.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from copier import run_update

from generator import next_steps, template_source, update_state, versions
from generator import trust as trust_policy
from generator.errors import DirtyTreeError, ScaffoldError, UpdateError
from generator.outcomes import ConflictStyle, Status
from generator.project import (
    Project,
    current_branch,
    files_with_conflict_markers,
    git,
    open_project,
    uncommitted_changes,
)
from generator.reference import reference_render
from generator.template_moves import Move, carry_edits, edited_moves


@dataclass
class Step:
    """One template version applied: `update` makes one, `update --stepwise` one per version."""

    from_version: str
    to_version: str
    status: Status
    conflicts: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)  # what the migrations asked the user to do
    commit: str | None = None  # the step's commit (--stepwise); None while it is left for review


@dataclass
class UpdateResult:
    path: Path
    from_version: str
    to_version: str
    status: Status
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    diff: str = ""
    kept: dict[str, str] = field(default_factory=dict)  # user files kept in place, and why (also in conflicts)
    merged_renames: list[str] = field(default_factory=list)  # user edits moved into a renamed file
    steps: list[Step] = field(default_factory=list)  # versions applied, in order (none when already current)
    next_steps: list[str] = field(default_factory=list)  # every step's next steps, in order

    def as_dict(self) -> dict:
        """The `--json` report."""
        return {**asdict(self), "path": str(self.path)}


def update_project(
    path: str | Path,
    to: str | None = None,
    conflict: ConflictStyle = ConflictStyle.INLINE,
    dry_run: bool = False,
    trust: bool = False,
) -> UpdateResult:
    with ready_for_update(path) as project:
        target = versions.choose(project.source, to, project.version)  # the recorded `_commit` when current
        if target == project.version:
            return UpdateResult(project.path, project.version, target, Status.CURRENT)
        if dry_run:
            return preview(project, target, conflict, trust)
        return apply(project, target, conflict, trust)


@contextmanager
def ready_for_update(path: str | Path) -> Iterator[Project]:
    """The project, under the update lock, once nothing stands in an update's way: another update running or
    interrupted, a merge or rebase in progress, uncommitted changes (each refused with its own error)."""
    project = open_project(path)
    with update_state.update_lock(project.path):
        update_state.ensure_not_interrupted(project.path)
        update_state.ensure_no_git_operation(project.path)
        ensure_clean(project)
        yield project


def abort(path: str | Path) -> UpdateResult:
    """Undo an interrupted update: the recorded HEAD restored exactly."""
    project_path = Path(path).expanduser().resolve()
    record = update_state.abort_update(project_path)
    return UpdateResult(project_path, record.from_version, record.to_version, Status.ABORTED)


def ensure_clean(project: Project) -> None:
    dirty = uncommitted_changes(project.path, whole_repository=True)  # a failed update resets the whole repo
    if dirty:
        raise DirtyTreeError(
            f"{project.path} has uncommitted changes ({', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}): "
            "commit or stash them first, so that the update can be reviewed and undone on its own"
        )


def apply(project: Project, target: str, conflict: ConflictStyle, trust: bool, *, record: bool = True) -> UpdateResult:
    """Update to `target` (the caller holds the lock and made the checks); restored exactly on failure.

    `record=False`: the caller has recorded a longer update in progress (--stepwise) and undoes it.
    """
    head = git(project.path, "rev-parse", "HEAD").stdout.strip()
    try:
        moves = planned_moves(project, target, trust)
    except OSError as err:
        raise UpdateError(
            f"cannot compare template versions {project.version} and {target} ({err}); nothing was changed"
        ) from err
    if record:
        update_state.write_record(
            project.path,
            update_state.UpdateRecord(
                head, current_branch(project.path), project.version, target, os.getpid(), time.time()
            ),
        )
    next_steps.clear(project.path)
    try:
        with trust_policy.refusing_untrusted(project.source):
            run_update(
                str(project.path),
                vcs_ref=target,
                overwrite=True,  # copier's API refuses to update without it
                defaults=True,
                skip_answered=True,
                conflict=str(conflict),
                quiet=True,
                unsafe=trust_policy.allows_code(project.source, trust),
            )
        carried = carry_edits(project.path, moves)
    except (Exception, KeyboardInterrupt) as err:
        restore(project.path, head)
        next_steps.clear(project.path)
        if record:
            update_state.clear_record(project.path)
        if isinstance(err, KeyboardInterrupt | ScaffoldError):
            raise
        raise UpdateError(
            f"updating {project.path} to {target} failed ({type(err).__name__}: {err}); "
            "the repository was restored to its state before the update"
        ) from err
    if record:
        update_state.clear_record(project.path)
    reported = next_steps.collect(project.path)
    changed = uncommitted_changes(project.path)
    merged_with_markers = files_with_conflict_markers(project.path, carried.merged)  # inline even with `rej`
    conflicts = sorted({*conflicted(project.path, changed, conflict), *merged_with_markers, *carried.kept})
    status = Status.CONFLICTS if conflicts else Status.UPDATED
    result = UpdateResult(project.path, project.version, target, status, changed, conflicts)
    result.kept, result.merged_renames = carried.kept, carried.merged
    result.steps = [Step(project.version, target, status, conflicts, reported)]
    result.next_steps = reported
    return result


def planned_moves(project: Project, target: str, trust: bool) -> list[Move]:
    """User-edited files that `target` deletes or renames, read before copier drops them."""
    if not template_may_drop_files(project.source, project.version, target):
        return []
    with reference_render(project, trust=trust) as old, reference_render(project, target, trust) as new:
        return edited_moves(project.path, old, new)


def template_may_drop_files(source: str, old: str, new: str) -> bool:
    """False only when a local template provably drops no file between the two versions.

    Two renders cost about as much as the update itself, so they are skipped when no template file
    was deleted or renamed and copier.yml (questions, `_exclude`, `_subdirectory`) is unchanged:
    then every file rendered at `old` is rendered at `new` under the same name.
    """
    if template_source.is_url(source):
        return True
    listed = git(Path(source), "diff", "--name-status", "--no-renames", old, new, check=False)
    if listed.returncode != 0:
        return True
    for line in listed.stdout.splitlines():
        status, _, name = line.partition("\t")
        if status.startswith("D") or name in ("copier.yml", "copier.yaml"):
            return True
    return False


def conflicted(repo: Path, changed: list[str], conflict: ConflictStyle) -> list[str]:
    """Files the update changed that hold conflicts (a file merely quoting a marker line does not count)."""
    if conflict == ConflictStyle.REJ:
        return sorted(name for name in changed if name.endswith(".rej"))
    return files_with_conflict_markers(repo, changed)


def restore(repo: Path, head: str) -> None:
    """Back to `head` exactly: index and tracked files reset, files the update added removed."""
    git(repo, "reset", "--hard", "--quiet", head)
    git(repo, "clean", "-fd", "--quiet")


def preview(project: Project, target: str, conflict: ConflictStyle, trust: bool) -> UpdateResult:
    """Run the update in a throw-away clone and report its diff; the project is not touched."""
    return in_scratch_clone(project, lambda clone: apply(clone, target, conflict, trust))


def in_scratch_clone(project: Project, update: Callable[[Project], UpdateResult]) -> UpdateResult:
    """Run `update` on a throw-away clone of the project and report the diff from HEAD (commits it made
    included); the project is not touched."""
    head = git(project.path, "rev-parse", "HEAD").stdout.strip()
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-dry-run-") as scratch:
        clone = Path(scratch) / project.path.name
        git(project.path, "clone", "--quiet", "--no-hardlinks", str(project.path), str(clone))
        result = update(open_project(clone))
        git(clone, "add", "--all")
        diff = git(clone, "diff", "--cached", "--no-color", head).stdout
    result.path, result.status, result.diff = project.path, Status.DRY_RUN, diff
    return result
