"""`llm-scaffold update`: move a project to a newer template version with copier's 3-way merge.

Refuses a dirty tree or a downgrade before touching anything. If anything fails midway (a
migration raises, an exception, Ctrl-C), the repository is reset to exactly its state before:
HEAD, index and working tree. Conflicts are listed afterwards instead of passing silently.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from copier import run_update

from generator import versions
from generator.errors import DirtyTreeError, UpdateError, VersionError
from generator.project import Project, files_with_conflict_markers, git, open_project, uncommitted_changes


@dataclass
class UpdateResult:
    path: Path
    from_version: str
    to_version: str
    status: str  # "updated", "current", "conflicts" or "dry-run"
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    diff: str = ""


def update_project(
    path: str | Path, to: str | None = None, conflict: str = "inline", dry_run: bool = False
) -> UpdateResult:
    project = open_project(path)
    dirty = uncommitted_changes(project.path)
    if dirty:
        raise DirtyTreeError(
            f"{project.path} has uncommitted changes ({', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}): "
            "commit or stash them first, so that the update can be reviewed and undone on its own"
        )
    target = resolve_target(project, to)
    if target == project.version:
        return UpdateResult(project.path, project.version, target, "current")
    if dry_run:
        return preview(project, target, conflict)
    return apply(project, target, conflict)


def resolve_target(project: Project, to: str | None) -> str:
    available = versions.list_versions(project.source)
    target = to or (available[-1] if available else None)
    if target is None:
        raise VersionError(f"template '{project.source}' has no version tags (vX.Y.Z): tag a release first")
    if target not in available:
        raise VersionError(
            f"version {target} does not exist in '{project.source}': choose one of {', '.join(available)}"
        )
    current = versions.parse(project.version)
    if current is not None and versions.parse(target) < current:
        raise VersionError(
            f"{target} is older than the project's {project.version}: downgrades are refused; "
            "to undo an update, revert its commit with git"
        )
    return target


def apply(project: Project, target: str, conflict: str) -> UpdateResult:
    head = git(project.path, "rev-parse", "HEAD").stdout.strip()
    try:
        run_update(
            str(project.path),
            vcs_ref=target,
            overwrite=True,  # copier's API refuses to update without it
            defaults=True,
            skip_answered=True,
            conflict=conflict,
            quiet=True,
            unsafe=True,  # our own template: its tasks and migrations are part of it
        )
    except BaseException as err:
        restore(project.path, head)
        if isinstance(err, KeyboardInterrupt):
            raise
        raise UpdateError(
            f"updating {project.path} to {target} failed ({type(err).__name__}: {err}); "
            "the repository was restored to its state before the update"
        ) from err
    changed = uncommitted_changes(project.path)
    conflicts = conflicted(project.path, conflict)
    status = "conflicts" if conflicts else "updated"
    return UpdateResult(project.path, project.version, target, status, changed, conflicts)


def conflicted(repo: Path, conflict: str) -> list[str]:
    if conflict == "rej":
        return sorted(name for name in uncommitted_changes(repo) if name.endswith(".rej"))
    return files_with_conflict_markers(repo)


def restore(repo: Path, head: str) -> None:
    """Back to `head` exactly: index and tracked files reset, files the update added removed."""
    git(repo, "reset", "--hard", "--quiet", head)
    git(repo, "clean", "-fd", "--quiet")


def preview(project: Project, target: str, conflict: str) -> UpdateResult:
    """Run the update in a throw-away clone and report its diff; the project is not touched."""
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-dry-run-") as scratch:
        clone = Path(scratch) / project.path.name
        git(project.path, "clone", "--quiet", "--no-hardlinks", str(project.path), str(clone))
        result = apply(open_project(clone), target, conflict)
        git(clone, "add", "--all")
        diff = git(clone, "diff", "--cached", "--no-color").stdout
    return UpdateResult(project.path, project.version, target, "dry-run", result.changed, result.conflicts, diff)
