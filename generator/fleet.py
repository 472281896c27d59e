"""`llm-scaffold fleet`: check or update many projects at once, in parallel processes.

Each repository is handled in its own process, so one failing never affects another. An update
goes onto a new branch `llm-scaffold/update-<version>` with one commit. A repository whose update
leaves conflicts is not committed: the branch is left checked out with the markers in the work
tree for a person to resolve and commit (committing markers would let them slip into main).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.check import check_project
from generator.errors import ScaffoldError
from generator.project import commit_all, git, open_project, uncommitted_changes
from generator.update import resolve_target, update_project

OK_RESULTS = {"updated", "current"}


@dataclass
class FleetEntry:
    repo: str
    from_version: str = ""
    to_version: str = ""
    result: str = "error"  # updated | current | conflicts | dirty | behind | drifted | error
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_fleet(kind: str, paths: list[str | Path], to: str | None = None, jobs: int = 1) -> list[FleetEntry]:
    """`kind` is "status" or "update"; results come back in the order of `paths`."""
    work = status_one if kind == "status" else update_one
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(work, str(Path(path).expanduser().resolve()), to) for path in paths]
        return [future.result() for future in futures]


def all_ok(entries: list[FleetEntry]) -> bool:
    return all(entry.result in OK_RESULTS for entry in entries)


def status_one(path: str, to: str | None = None) -> FleetEntry:
    try:
        report = check_project(path)
    except ScaffoldError as err:
        return FleetEntry(path, message=str(err))
    result = (
        "conflicts" if report.conflicts else "behind" if report.behind else "drifted" if report.drifted else "current"
    )
    detail = report.conflicts or report.drifted
    return FleetEntry(path, report.version, report.latest or "", result, ", ".join(detail))


def update_one(path: str, to: str | None = None) -> FleetEntry:
    try:
        project = open_project(path)
        entry = FleetEntry(path, project.version)
        dirty = uncommitted_changes(project.path)
        if dirty:
            return FleetEntry(path, project.version, result="dirty", message=f"uncommitted: {', '.join(dirty[:5])}")
        entry.to_version = resolve_target(project, to)
        if entry.to_version == project.version:
            entry.result = "current"
            return entry
        original = git(project.path, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
        branch = f"llm-scaffold/update-{entry.to_version}"
        git(project.path, "checkout", "--quiet", "-b", branch)
        try:
            result = update_project(project.path, to=entry.to_version)
        except ScaffoldError:
            git(project.path, "checkout", "--quiet", original)
            git(project.path, "branch", "--quiet", "-D", branch)
            raise
        if result.conflicts:
            entry.result, entry.message = "conflicts", f"on branch {branch}: resolve {', '.join(result.conflicts)}"
            return entry
        commit_all(project.path, f"Update template to {result.to_version}")
        entry.result, entry.message = "updated", f"branch {branch}"
        return entry
    except ScaffoldError as err:
        return FleetEntry(path, result="error", message=str(err))
    except Exception as err:  # noqa: BLE001 - one repository's surprise must not stop the fleet
        return FleetEntry(path, result="error", message=f"{type(err).__name__}: {err}")
