"""`llm-scaffold update --stepwise`: one template version at a time, one commit each.

A jump over several versions merges the project against the last version only; when a file changed
in two of them, the single hops can merge cleanly where the jump conflicts (the reason `nx migrate`
advises one major version at a time). Each intermediate version is applied in order and committed
as "Update template to <version>"; the first one that leaves conflicts stops the run, uncommitted,
its markers in the files. Any failure resets the repository to where the run started, committed
steps included, so an error still means "repository unchanged". A killed run is undone by
`update --abort` back to the last version it committed (the in-progress record follows each commit).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from generator import update_state, versions
from generator.errors import ScaffoldError, UpdateError
from generator.outcomes import COMMIT_PREFIX, ConflictStyle, Status
from generator.project import Project, commit_all, current_branch, git, open_project, uncommitted_changes
from generator.update import UpdateResult, apply, in_scratch_clone, ready_for_update, restore


def update_stepwise(
    path: str | Path,
    to: str | None = None,
    conflict: ConflictStyle = ConflictStyle.INLINE,
    dry_run: bool = False,
    trust: bool = False,
) -> UpdateResult:
    with ready_for_update(path) as project:
        target = versions.resolve_target(project.source, to, project.version)
        if target.ref == project.version:
            return UpdateResult(project.path, project.version, target.ref, Status.CURRENT)
        hops = [hop.ref for hop in versions.intermediate_targets(project.source, project.version, target)]
        if dry_run:
            return in_scratch_clone(project, lambda clone: apply_in_order(clone, hops, conflict, trust))
        return apply_in_order(project, hops, conflict, trust)


def apply_in_order(project: Project, hops: list[str], conflict: ConflictStyle, trust: bool) -> UpdateResult:
    """Apply and commit each version of `hops`; stop at the first that leaves conflicts."""
    repo, start_version = project.path, project.version
    start = git(repo, "rev-parse", "HEAD").stdout.strip()
    record = update_state.UpdateRecord(start, current_branch(repo), start_version, hops[-1], os.getpid(), time.time())
    update_state.write_record(repo, record)
    total = UpdateResult(repo, start_version, start_version, Status.UPDATED)
    hop = hops[0]
    try:
        for number, hop in enumerate(hops, 1):
            step = apply(project, hop, conflict, trust, record=False)
            merge_into(total, step)
            if step.conflicts:
                break
            commit_all(repo, f"{COMMIT_PREFIX}{hop}")
            total.steps[-1].commit = git(repo, "rev-parse", "HEAD").stdout.strip()
            # A kill from here on is undone by `--abort` to this commit (it refuses to drop commits).
            update_state.write_record(repo, replace(record, head=total.steps[-1].commit, from_version=hop))
            if number < len(hops):
                project = open_project(repo)
    except (Exception, KeyboardInterrupt) as err:
        restore(repo, start)
        update_state.clear_record(repo)
        if isinstance(err, UpdateError) and hop != hops[0]:
            raise UpdateError(
                f"{err}, at {start_version}: the versions committed before {hop} were undone too"
            ) from err
        if isinstance(err, KeyboardInterrupt | ScaffoldError):
            raise
        raise UpdateError(
            f"updating {repo} step by step failed at {hop} ({type(err).__name__}: {err}); "
            f"the repository was restored to its state before the update, at {start_version}"
        ) from err
    update_state.clear_record(repo)
    total.changed = changed_since(repo, start)
    return total


def merge_into(total: UpdateResult, step: UpdateResult) -> None:
    """Add one version's outcome to the run's: the last version reached, its conflicts, all next steps."""
    total.to_version, total.status, total.conflicts = step.to_version, step.status, step.conflicts
    total.kept.update(step.kept)
    total.merged_renames.extend(step.merged_renames)
    total.steps.extend(step.steps)
    total.next_steps.extend(step.next_steps)


def changed_since(repo: Path, start: str) -> list[str]:
    """Files the run changed: those of its commits, and those left uncommitted by a conflicted step."""
    committed = git(repo, "diff", "--name-only", "--no-renames", "--relative", start, "HEAD").stdout.splitlines()
    return sorted({*committed, *uncommitted_changes(repo)})
