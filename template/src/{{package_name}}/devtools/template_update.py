"""The scheduled template-update job: one pull request that moves this project to its template's latest version.

python -m <package>.devtools.template_update [--base BRANCH] [--remote origin] [--trust]
python -m <package>.devtools.template_update --requirement

`llm-scaffold check` says whether the project is behind. If it is, the update is made on the branch
`llm-scaffold/update-<version>` from the base branch (with `update --stepwise`: one commit per template
version, stopping at the first that conflicts; files left with conflict markers are committed as they
are), the branch is pushed, and a pull request is opened or the open one refreshed: the template's
CHANGELOG sections between the two versions, the files with conflicts (a draft while any remain) and
the next steps migrations asked for. A re-run rebuilds the branch from the base, force-pushes it with
a lease and edits the same pull request; a branch holding commits that are not the job's own (someone
resolving the conflicts) is left alone. `--requirement` prints what `pip install` needs to get
llm-scaffold from the template source this project records (or $LLM_SCAFFOLD_REQUIREMENT).

Needs git, llm-scaffold and gh (authenticated: GH_TOKEN) on PATH. Exit codes: 0 current, or the pull
request is open and up to date; 2 an error (one `error:` line naming the problem and the fix).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BRANCH_PREFIX = "llm-scaffold/update-"
COMMIT_PREFIX = "Update template to "  # llm-scaffold's own stepwise commits start the same way
ANSWERS_FILE = ".copier-answers.yml"
# Used only where neither the environment nor git's config names a committer (a bare CI runner).
DEFAULT_IDENTITY = ("llm-scaffold update job", "llm-scaffold-update@users.noreply.localhost")
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
SCP_URL = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>(?!/).+)$")  # git@host:org/repo.git
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}  # copier's own URL shortcuts


class JobError(Exception):
    """A problem the job cannot get past; the message names it and the fix."""


class UnsupportedOptionError(JobError):
    """An older llm-scaffold that lacks an option the job asked for."""


@dataclass
class Update:
    """What `llm-scaffold update --json` reported."""

    from_version: str
    to_version: str
    conflicts: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    @classmethod
    def from_report(cls, report: dict) -> Update:
        steps = report.get("steps") or []
        next_steps = list(report.get("next_steps") or [])
        for step in steps:  # a CLI that reports them per step only
            next_steps += [line for line in step.get("next_steps") or [] if line not in next_steps]
        return cls(report["from_version"], report["to_version"], list(report.get("conflicts") or []), next_steps)


def say(message: str) -> None:
    print(f"template-update: {message}", flush=True)


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run a command; its stdout, or a JobError with its last line of stderr."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, input=stdin, check=False)
    except FileNotFoundError:
        raise JobError(f"`{args[0]}` is not on PATH: install it on the runner (README: Template updates)") from None
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise JobError(f"`{' '.join(args[:3])}` failed: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done.stdout


def git(*args: str, env: dict[str, str] | None = None) -> str:
    return run("git", *args, env=env).strip()


def llm_scaffold(*args: str, env: dict[str, str]) -> dict:
    """An `llm-scaffold ... --json` report; exit 1 (behind, conflicts) is a result, exit 2 an error."""
    try:
        done = subprocess.run(["llm-scaffold", *args, "--json"], capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError:
        raise JobError(
            '`llm-scaffold` is not on PATH: pip install "$(python -m <package>.devtools.template_update '
            '--requirement)" first'
        ) from None
    if done.returncode not in (0, 1):
        if "No such option" in done.stderr:
            raise UnsupportedOptionError(done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error: ")] or lines or ["failed"]
        raise JobError(f"llm-scaffold {args[0]}: {errors[-1].removeprefix('error: ')}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise JobError(f"llm-scaffold {args[0]} --json printed no JSON: upgrade llm-scaffold") from None
    if not isinstance(report, dict):
        raise JobError(f"llm-scaffold {args[0]} --json printed no report: upgrade llm-scaffold")
    return report


def pip_requirement(project: Path, environ: dict[str, str]) -> str:
    """The `pip install` argument for llm-scaffold: $LLM_SCAFFOLD_REQUIREMENT, else the recorded template
    source (llm-scaffold is that repository's root package) at $LLM_SCAFFOLD_REF or its default branch."""
    if environ.get("LLM_SCAFFOLD_REQUIREMENT"):
        return environ["LLM_SCAFFOLD_REQUIREMENT"]
    source = recorded_source(project)
    for shortcut, base in SHORTCUTS.items():
        if source.startswith(shortcut):
            source = base + source.removeprefix(shortcut)
    scp = SCP_URL.match(source)
    if scp and "://" not in source:
        source = f"ssh://{scp['user']}@{scp['host']}/{scp['path']}"
    if "://" not in source:
        path = Path(source)
        if not path.is_dir():
            raise JobError(
                f"the template source recorded in {ANSWERS_FILE} is the local path {source}, which this machine "
                "does not have: set LLM_SCAFFOLD_REQUIREMENT (e.g. 'llm-scaffold @ git+https://git.example.com/"
                f"ml/llm-scaffold.git'), or record the template's URL as _src_path in {ANSWERS_FILE}"
            )
        source = path.resolve().as_uri()
    ref = environ.get("LLM_SCAFFOLD_REF")
    return f"llm-scaffold @ {source if source.startswith('git+') else 'git+' + source}{'@' + ref if ref else ''}"


def recorded_source(project: Path) -> str:
    """`_src_path` of the answers file, read without a YAML library (this job installs nothing before it)."""
    try:
        text = (project / ANSWERS_FILE).read_text(encoding="utf-8")
    except OSError as err:
        raise JobError(f"cannot read {ANSWERS_FILE} ({err.strerror}): run the job in the project's root") from None
    match = re.search(r"^_src_path:[ \t]*(.+?)[ \t]*$", text, re.MULTILINE)
    if not match:
        raise JobError(f"{ANSWERS_FILE} records no _src_path: set LLM_SCAFFOLD_REQUIREMENT to install llm-scaffold")
    value = match[1]
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    if value.startswith('"') and value.endswith('"'):
        return str(json.loads(value))
    return value


def version_key(name: str) -> tuple[int, ...] | None:
    match = VERSION.match(name)
    return tuple(int(part) for part in match.groups()) if match else None


def release_notes(versions: list[dict], start: str, end: str) -> list[tuple[str, str]]:
    """(version, changes) of each version after `start` up to `end`, oldest first; none when either end
    is not a vX.Y.Z tag (an untagged template's commits have no CHANGELOG sections)."""
    low, high = version_key(start), version_key(end)
    if low is None or high is None:
        return []
    picked = [entry for entry in versions if (key := version_key(entry["version"])) and low < key <= high]
    return [(entry["version"], entry.get("changes", "").strip()) for entry in picked]


def pull_request_title(update: Update) -> str:
    title = f"Update template from {update.from_version} to {update.to_version}"
    return title + (" (conflicts to resolve)" if update.conflicts else "")


def pull_request_body(update: Update, target: str, notes: list[tuple[str, str]], command: str) -> str:
    lines = [
        f"Moves this project from template {update.from_version} to {update.to_version}: one commit per "
        "template version, made by `llm-scaffold update --stepwise` (a 3-way merge: the project's edits are kept)."
    ]
    if update.to_version != target:
        lines += [
            "",
            f"Stopped at {update.to_version}, the first version whose changes conflict with this project's "
            f"edits: once this is merged, the next run continues to {target}.",
        ]
    if update.conflicts:
        lines += [
            "",
            "## Conflicts to resolve",
            "",
            "These files were committed with `<<<<<<<` markers, so this pull request is a draft: check out "
            "the branch, resolve them, commit, push and mark it ready for review.",
            "",
        ]
        lines += [f"- `{name}`" for name in update.conflicts]
    if update.next_steps:
        lines += ["", "## Next steps", "", "The template's migrations could not do these by themselves:", ""]
        lines += [f"- {step}" for step in update.next_steps]
    lines += ["", "## Template changes", ""]
    if notes:
        for version, changes in notes:
            lines += [f"### {version}", "", changes or "(no CHANGELOG entry)", ""]
    else:
        lines += ["The template has no CHANGELOG sections between these versions (an untagged template's commits).", ""]
    lines += [
        "---",
        f"Opened by `{command}`. A re-run rebuilds this branch from the base branch and rewrites this "
        "text, unless the branch holds commits that are not the job's own: then it is left to you.",
    ]
    return "\n".join(lines) + "\n"


def identity_env() -> dict[str, str]:
    """The environment for every command: the job's committer identity made explicit, so that its commits
    (and llm-scaffold's stepwise ones) can be told from anyone else's on a re-run."""
    env = dict(os.environ)
    name = env.get("GIT_COMMITTER_NAME") or config_value("user.name") or DEFAULT_IDENTITY[0]
    email = env.get("GIT_COMMITTER_EMAIL") or config_value("user.email") or DEFAULT_IDENTITY[1]
    env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    return env


def config_value(key: str) -> str:
    done = subprocess.run(["git", "config", key], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def others_commits(base: str, ref: str, email: str) -> list[str]:
    """Commits on `ref` after `base` that the job did not make (another committer, or another subject)."""
    log = git("log", "--format=%h%x00%ce%x00%s", f"{base}..{ref}")
    commits = [line.split("\x00") for line in log.splitlines() if line]
    return [
        f"{sha} {subject}"
        for sha, committer, subject in commits
        if committer != email or not subject.startswith(COMMIT_PREFIX)
    ]


def remote_branch(remote: str, branch: str) -> str | None:
    """The branch's commit on the remote, fetched into refs/remotes/; None when it has no such branch."""
    listed = git("ls-remote", "--heads", remote, f"refs/heads/{branch}")
    if not listed:
        return None
    git("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    return listed.split()[0]


def same_update(pushed: str, base_sha: str) -> bool:
    """Whether the pushed branch already holds HEAD's tree on top of the same base (nothing to push)."""
    on_base = subprocess.run(["git", "merge-base", "--is-ancestor", base_sha, pushed], check=False).returncode == 0
    return on_base and git("rev-parse", "HEAD^{tree}") == git("rev-parse", f"{pushed}^{{tree}}")


def make_update(target: str, trust: list[str], env: dict[str, str]) -> Update:
    """Update the checked-out branch to `target`; everything it leaves (markers too) in commits."""
    try:
        report = llm_scaffold("update", "--to", target, "--stepwise", *trust, env=env)
    except UnsupportedOptionError:
        say("this llm-scaffold has no `update --stepwise`: one update straight to the target")
        report = llm_scaffold("update", "--to", target, *trust, env=env)
    update = Update.from_report(report)
    git("add", "--all", env=env)
    if run("git", "status", "--porcelain", env=env).strip():
        suffix = " (conflicts to resolve)" if update.conflicts else ""
        # --no-verify: the markers are committed on purpose, for the pull request to show them.
        git("commit", "--quiet", "--no-verify", "-m", f"{COMMIT_PREFIX}{update.to_version}{suffix}", env=env)
    return update


def release_notes_of(update: Update, env: dict[str, str]) -> list[tuple[str, str]]:
    done = subprocess.run(["llm-scaffold", "versions", "--json"], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        say(f"could not list the template's versions, the body goes without its CHANGELOG: {done.stderr.strip()}")
        return []
    return release_notes(json.loads(done.stdout), update.from_version, update.to_version)


def open_pull_requests(env: dict[str, str]) -> list[dict]:
    fields = "number,headRefName,isDraft,url"
    return json.loads(run("gh", "pr", "list", "--state", "open", "--limit", "200", "--json", fields, env=env))


def publish(branch: str, base: str, update: Update, body: str, env: dict[str, str]) -> dict:
    """Open the pull request of `branch`, or refresh the open one; its state as gh lists it."""
    title = pull_request_title(update)
    mine = [pr for pr in open_pull_requests(env) if pr["headRefName"] == branch]
    if not mine:
        draft = ["--draft"] if update.conflicts else []
        url = run(
            "gh",
            "pr",
            "create",
            "--base",
            base,
            "--head",
            branch,
            "--title",
            title,
            "--body-file",
            "-",
            *draft,
            env=env,
            stdin=body,
        ).split()[-1]  # gh prints the new pull request's URL last
        say(f"opened {url}{' as a draft' if draft else ''}")
        return {"headRefName": branch, "url": url}
    pr = mine[0]
    number = str(pr["number"])
    run("gh", "pr", "edit", number, "--title", title, "--body-file", "-", env=env, stdin=body)
    if update.conflicts and not pr["isDraft"]:
        run("gh", "pr", "ready", number, "--undo", env=env)
    elif not update.conflicts and pr["isDraft"]:
        run("gh", "pr", "ready", number, env=env)
    say(f"refreshed {pr['url']}{' (draft: conflicts)' if update.conflicts else ''}")
    return pr


def close_superseded(branch: str, new_pr: dict, base_sha: str, remote: str, email: str, env: dict[str, str]) -> None:
    """Close the job's pull requests for older versions, when nobody else has committed to them."""
    for pr in open_pull_requests(env):
        name = pr["headRefName"]
        if not name.startswith(BRANCH_PREFIX) or name == branch:
            continue
        if remote_branch(remote, name) and others_commits(base_sha, f"refs/remotes/{remote}/{name}", email):
            say(f"{pr['url']} (older) holds commits that are not the job's: left open")
            continue
        run("gh", "pr", "close", str(pr["number"]), "--comment", f"Superseded by {new_pr['url']}.", env=env)
        say(f"closed {pr['url']}: superseded")


def update_pull_request(base: str | None, remote: str, trust: bool, command: str) -> int:
    env = identity_env()
    email = env["GIT_COMMITTER_EMAIL"]
    if run("git", "status", "--porcelain").strip():
        raise JobError("the working tree has uncommitted changes: run the job on a clean checkout")
    on = subprocess.run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], capture_output=True, text=True)
    start = on.stdout.strip() or git("rev-parse", "HEAD")  # to come back to: the branch, or a detached commit
    if base is None:
        if on.returncode != 0:
            raise JobError("HEAD is detached (a CI checkout of a commit): name the branch to update with --base")
        base = start
    trust_flag = ["--trust"] if trust else []
    report = llm_scaffold("check", *trust_flag, env=env)
    target = report.get("target") or report.get("latest")
    if not report.get("behind") or not target:
        say(f"current: template {report.get('version')}, nothing to update")
        return 0
    branch = BRANCH_PREFIX + (target if version_key(target) else target[:12])
    base_sha = git("rev-parse", "HEAD")
    say(f"behind: {report.get('version')} -> {target} on {branch} (base {base})")
    pushed = remote_branch(remote, branch)
    if pushed:
        foreign = others_commits(base_sha, f"refs/remotes/{remote}/{branch}", email)
        if foreign:
            say(
                f"{branch} holds commits that are not the job's ({'; '.join(foreign)}): left alone; "
                "merge or close its pull request, or delete the branch, and the next run starts afresh"
            )
            return 0
    git("checkout", "--quiet", "-B", branch, base_sha)
    try:
        update = make_update(target, trust_flag, env)
        if pushed and same_update(pushed, base_sha):
            say(f"{remote}/{branch} already holds this update on this base: not pushed again")
        else:
            git(
                "push",
                "--quiet",
                f"--force-with-lease=refs/heads/{branch}:{pushed or ''}",
                remote,
                f"{branch}:refs/heads/{branch}",
                env=env,
            )
            say(f"pushed {branch}: {git('rev-list', '--count', f'{base_sha}..HEAD')} commit(s)")
    finally:
        subprocess.run(["git", "checkout", "--quiet", start], capture_output=True, check=False)
    body = pull_request_body(update, target, release_notes_of(update, env), command)
    pr = publish(branch, base, update, body, env)
    close_superseded(branch, pr, base_sha, remote, email, env)
    return 0


def main(argv: list[str] | None = None) -> int:
    command = f"python -m {__spec__.name}" if __spec__ else "template_update.py"
    parser = argparse.ArgumentParser(prog=command, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--base",
        help="The branch the checkout holds, to open the pull request against (default: the checked-out "
        "branch; a detached checkout, as Jenkins makes, needs it)",
    )
    parser.add_argument("--remote", default="origin", help="The git remote to push the branch to (default: origin)")
    parser.add_argument(
        "--trust",
        action="store_true",
        help="Let the template run its migrations (llm-scaffold "
        "--trust): the job installed llm-scaffold from the same source, so it already runs its code",
    )
    parser.add_argument(
        "--requirement", action="store_true", help="Print the `pip install` argument for llm-scaffold and exit"
    )
    args = parser.parse_args(argv)
    try:
        if args.requirement:
            print(pip_requirement(Path.cwd(), dict(os.environ)))
            return 0
        return update_pull_request(args.base, args.remote, args.trust, command)
    except JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
