"""`llm-scaffold check`: is the project behind its template, has a managed file drifted,
are update conflicts left unresolved?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator import update_state, versions
from generator.project import files_with_conflict_markers, open_project
from generator.reference import differing, drifted, reference_render


@dataclass
class CheckReport:
    path: str
    version: str
    latest: str | None  # the latest release (version tag), None without tags
    behind: bool  # `target` is not the project's version
    drifted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    target: str = ""  # where `update` (no --to) would move: the latest release or the default branch's head

    @property
    def ok(self) -> bool:
        return not (self.behind or self.drifted or self.conflicts)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def check_project(path: str | Path, trust: bool = False) -> CheckReport:
    """Raises UpdateInterruptedError / UpdateRunningError for a tree an update has not finished with."""
    project = open_project(path)
    update_state.ensure_not_interrupted(project.path)
    latest = versions.latest_version(project.source)
    target = versions.choose(project.source, None, project.version or None)  # the recorded `_commit` when current
    with reference_render(project, trust=trust) as reference:
        different = differing(project, reference)
        changed = drifted(project, different)
        # Conflicts only where a managed file differs from the template (owned ones too): a file of
        # the user's own that quotes a marker line is not an unresolved update.
        conflicts = files_with_conflict_markers(project.path, different)
    return CheckReport(
        path=str(project.path),
        version=project.version,
        latest=latest,
        behind=target != project.version,
        drifted=changed,
        conflicts=conflicts,
        target=target,
    )
