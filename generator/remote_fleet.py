"""`llm-scaffold fleet remote`: update each repository of a fleet file and push a branch with the update.

Each repository is handled in its own process, in a fresh clone: `--depth 1` of the branch named
(copier's update reads only the working tree and the answers file; our update needs only HEAD, so
a shallow clone updates exactly as a full one does). The update is committed on
`llm-scaffold/update-<version>` and pushed to the repository's own remote.

Conflicts are committed with their markers and pushed, the files listed in the commit message and
the report. Locally (`fleet update`) they are left uncommitted for the person at that machine; a
remote has nobody at the clone, which is thrown away, so the branch is the only place the owners
can see and resolve them, as Renovate and cruft's action do: the update job opens it as a draft pull
request while conflicts remain, and `llm-scaffold check` in the project's CI fails on the markers,
so they cannot reach the base branch unnoticed.

Run again, a branch already on the remote is never overwritten when it records the same version
(it may hold the owners' resolution): it is reported as it is (`push`: "unchanged" when it is
exactly what this run made, "kept" otherwise, its conflicts read from its files). A branch of that
name that does not hold the update is replaced only when all its commits are ours; one with
someone else's commits is an error row. Pushes use `--force-with-lease` on our branch alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from generator.errors import FleetInterrupted, ScaffoldError
from generator.fleet_file import RemoteRepo
from generator.outcomes import COMMIT_PREFIX, OK, Status, update_branch
from generator.project import (
    ANSWERS_FILE,
    commit_all,
    current_branch,
    files_with_conflict_markers,
    git,
    open_project,
    uncommitted_changes,
)
from generator.update import UpdateResult, update_project


class RemoteError(ScaffoldError):
    """A repository of the fleet cannot be cloned, read or pushed to."""


@dataclass
class RemoteResult:
    """One repository's row of the report (also its JSON object)."""

    name: str
    url: str
    branch: str  # the base branch the update starts from
    path: str  # the project's folder inside the repository ("" = its top)
    update_branch: str = ""
    from_version: str = ""
    to_version: str = ""
    status: Status = Status.ERROR
    conflicts: list[str] = field(default_factory=list)
    push: str = ""  # created, replaced, unchanged, kept, skipped (--no-push), or "" (nothing to push)
    commit: str = ""  # the update branch's commit on the remote (or local, with --no-push)
    message: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def run_remote_fleet(
    repos: list[RemoteRepo],
    workdir: str | Path | None = None,
    to: str | None = None,
    jobs: int = 1,
    trust: bool = False,
    push: bool = True,
    on_done: Callable[[RemoteResult], None] | None = None,
) -> list[RemoteResult]:
    """Results in the order of `repos`; `on_done` is called in this process as each one finishes.

    Clones go to `workdir/<name>` and stay there; without a workdir, to a temporary folder removed after.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="llm-scaffold-fleet-") as scratch:
            return run_remote_fleet(repos, scratch, to, jobs, trust, push, on_done)
    workdir = Path(workdir).expanduser().resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=prepare_worker) as pool:
        futures = {pool.submit(update_remote, repo, workdir, to, trust, push): repo for repo in repos}
        done: dict[str, RemoteResult] = {}
        try:
            for future in as_completed(futures):
                result = future.result()
                done[result.name] = result
                if on_done:
                    on_done(result)
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            skipped = [repo.name for future, repo in futures.items() if future.cancelled()]
            raise FleetInterrupted(
                f"interrupted: the repositories in progress finished; not started: {', '.join(skipped) or 'none'}"
            ) from None
    return [done[repo.name] for repo in repos]


def prepare_worker() -> None:
    """Ctrl-C is the parent's to handle; git must fail rather than ask for a password nobody can type;
    what a template's tasks and migrations print goes to stderr, so that stdout holds only the report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    os.dup2(2, 1)


def all_ok(results: list[RemoteResult]) -> bool:
    return all(result.status in OK for result in results)


def update_remote(repo: RemoteRepo, workdir: Path, to: str | None, trust: bool, push: bool) -> RemoteResult:
    """Clone, update, commit and push one repository; whatever goes wrong becomes its own error row."""
    started = time.perf_counter()
    result = RemoteResult(repo.name, repo.url, repo.branch, repo.path)
    try:
        clone = fresh_clone(repo, workdir)
        result.branch = repo.branch or current_branch(clone)
        update_in_clone(result, repo, clone, to, trust, push)
    except ScaffoldError as err:
        result.status, result.message = Status.ERROR, str(err)
    except Exception as err:  # noqa: BLE001 - one repository's surprise must not stop the fleet
        result.status, result.message = Status.ERROR, f"{type(err).__name__}: {err}"
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def fresh_clone(repo: RemoteRepo, workdir: Path) -> Path:
    """A shallow clone of the branch in `workdir/<name>`, replacing only an earlier clone of the same URL."""
    dest = workdir / repo.name
    if dest.exists():
        origin = git(dest, "config", "--get", "remote.origin.url", check=False).stdout.strip()
        if origin != repo.clone_url:
            raise RemoteError(f"{dest} exists and is not a clone of {repo.url}: remove it or choose another --workdir")
        ensure_disposable(dest)
        shutil.rmtree(dest)
    branch = ["--branch", repo.branch] if repo.branch else []
    cloned = git(
        workdir, "clone", "--quiet", "--depth", "1", "--no-tags", *branch, repo.clone_url, str(dest), check=False
    )
    if cloned.returncode != 0:
        fatal = [line.removeprefix("fatal: ") for line in cloned.stderr.splitlines() if line.startswith("fatal: ")]
        reason = (fatal or ["no reason given"])[0].rstrip(".")
        which = f" (branch {repo.branch})" if repo.branch else ""
        raise RemoteError(f"cannot clone {repo.url}{which}: {reason}: check the URL, the branch and your access")
    return dest


def ensure_disposable(clone: Path) -> None:
    """An earlier run's clone may be replaced, unless someone worked in it since (kept with --workdir for that)."""
    dirty = uncommitted_changes(clone, whole_repository=True)
    unpushed = git(clone, "log", "--branches", "--not", "--remotes", "--format=%s").stdout.splitlines()
    theirs = [subject for subject in unpushed if not ours(subject)]
    if dirty or theirs:
        work = f"uncommitted {', '.join(dirty[:3])}" if dirty else f"the unpushed commit {theirs[0]!r}"
        raise RemoteError(f"{clone} holds {work}: push or remove it, then run again")


def update_in_clone(
    result: RemoteResult, repo: RemoteRepo, clone: Path, to: str | None, trust: bool, push: bool
) -> None:
    project_dir = clone / repo.path
    if not project_dir.is_dir():
        raise RemoteError(f"{repo.path} does not exist in {repo.url} ({result.branch}): fix `path` in the fleet file")
    result.from_version = open_project(project_dir).version
    base = git(clone, "rev-parse", "HEAD").stdout.strip()
    updated = update_project(project_dir, to=to, trust=trust)
    result.to_version, result.status = updated.to_version, updated.status
    if updated.status == Status.CURRENT:
        return
    result.update_branch = update_branch(updated.to_version)
    result.conflicts = updated.conflicts
    git(clone, "add", "--all")  # copier records conflicts as unmerged index entries, which block a branch switch
    git(clone, "checkout", "--quiet", "-b", result.update_branch)
    commit_all(clone, commit_message(updated))
    publish(result, clone, base, push)


def commit_message(updated: UpdateResult) -> str:
    message = f"{COMMIT_PREFIX}{updated.to_version}\n\nFrom {updated.from_version} with llm-scaffold."
    if updated.conflicts:
        listed = "\n".join(f"- {name}" for name in updated.conflicts)
        message += f"\n\nConflicts to resolve (the <<<<<<< blocks) before merging:\n{listed}"
    return message


def publish(result: RemoteResult, clone: Path, base: str, push: bool) -> None:
    """Push the update branch unless the remote's copy holds this update already (see the module's docstring)."""
    branch = result.update_branch
    listed = git(clone, "ls-remote", "--heads", "origin", f"refs/heads/{branch}", check=False)
    if listed.returncode != 0:
        raise RemoteError(f"cannot list the branches of {result.url}: {listed.stderr.strip()}")
    remote = listed.stdout.split("\t", 1)[0].strip()
    if remote:
        ref = f"refs/remotes/origin/{branch}"
        # Only the branch's own commits come: those not on the base branch.
        git(clone, "fetch", "--quiet", f"--shallow-exclude={result.branch}", "origin", f"+refs/heads/{branch}:{ref}")
        if records_version(clone, remote, result.path, result.to_version):
            report_remote_branch(result, clone, remote, base)
            return
        others = [s for s in git(clone, "log", "--format=%s", f"{base}..{remote}").stdout.splitlines() if not ours(s)]
        if others:
            raise RemoteError(
                f"branch {branch} exists on {result.url} with commits of someone else's ({others[0]!r}): "
                "merge or delete it, then run again"
            )
    result.commit = git(clone, "rev-parse", "HEAD").stdout.strip()
    if not push:
        result.push, result.message = "skipped", f"not pushed (--no-push): see {clone}"
        return
    pushed = git(
        clone,
        "push",
        "--quiet",
        f"--force-with-lease=refs/heads/{branch}:{remote}",  # as listed above; "" = it must not exist yet
        "origin",
        f"HEAD:refs/heads/{branch}",
        check=False,
    )
    if pushed.returncode != 0:
        raise RemoteError(f"cannot push {branch} to {result.url}: {pushed.stderr.strip()}: check your write access")
    result.push = "replaced" if remote else "created"


def ours(subject: str) -> bool:
    return subject.startswith(COMMIT_PREFIX)


def records_version(clone: Path, commit: str, sub_path: str, version: str) -> bool:
    shown = git(clone, "show", f"{commit}:{PurePosixPath(sub_path or '.') / ANSWERS_FILE}", check=False)
    try:
        return shown.returncode == 0 and str((yaml.safe_load(shown.stdout) or {}).get("_commit")) == version
    except (yaml.YAMLError, AttributeError):
        return False


def report_remote_branch(result: RemoteResult, clone: Path, remote: str, base: str) -> None:
    """The remote's branch holds this update already: report it as it is, conflicts read from its files."""
    raw = git(clone, "cat-file", "-p", remote).stdout.splitlines()
    parents = [line.split()[1] for line in raw if line.startswith("parent ")]
    same_tree = git(clone, "rev-parse", f"{remote}^{{tree}}", "HEAD^{tree}").stdout.split()
    result.commit = remote
    if parents == [base] and same_tree[0] == same_tree[1]:
        result.push, result.message = "unchanged", "already on the remote from an earlier run"
        return
    git(clone, "checkout", "--quiet", "--force", remote)
    project_dir = clone / result.path
    candidates = git(project_dir, "grep", "-l", "-e", "^<<<<<<< before updating", "--", ".", check=False).stdout
    result.conflicts = files_with_conflict_markers(project_dir, candidates.splitlines())
    result.status = Status.CONFLICTS if result.conflicts else Status.UPDATED
    moved = "" if base in parents else "; the base branch has moved on since: merge it in the pull request"
    result.push, result.message = "kept", f"left as it is: the remote's branch has changes of its own{moved}"
