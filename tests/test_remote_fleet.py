"""fleet remote: local bare repositories as remotes in every state, updated in parallel, then run again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, git, small_template
from typer.testing import CliRunner

from generator.cli import app
from generator.fleet_file import load_fleet
from generator.new import create_project
from generator.project import commit_all
from generator.remote_fleet import run_remote_fleet
from generator.update import update_project

runner = CliRunner()
BRANCH = "llm-scaffold/update-v2"
CONFIG = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
VERSIONS = {
    "v1": {"copier.yml": CONFIG, "notes.txt.jinja": "{{ name }}\nline two\n", **ANSWERS_TEMPLATE},
    "v2": {"notes.txt.jinja": "{{ name }}\nline two, v2\n", "added.txt": "new in v2\n"},
}
BEHIND = ["behind-1", "behind-2", "behind-3", "behind-4"]


def project_repo(template: Path, dest: Path, version: str) -> Path:
    repo = create_project(dest, template=str(template), vcs_ref=version, defaults=True, quiet=True)
    git(repo, "init", "--quiet", "--initial-branch", "main")
    commit_all(repo, "generated")
    return repo


def bare(source: Path, dest: Path) -> Path:
    git(source.parent, "clone", "--quiet", "--bare", str(source), str(dest))
    return dest


def push_change(remote: Path, change, branch: str = "main", message: str = "team change") -> None:
    """Clone `remote`, let `change(work_tree)` edit it on `branch`, commit and push."""
    work = remote.with_suffix(".work")
    git(remote.parent, "clone", "--quiet", str(remote), str(work))
    on_remote = git(work, "branch", "--remotes", "--list", f"origin/{branch}").strip()
    git(work, "checkout", "--quiet", "-B", branch, *([f"origin/{branch}"] if on_remote else []))
    change(work)
    git(work, "add", "--all")
    git(work, "-c", "user.name=team", "-c", "user.email=team@localhost", "commit", "-q", "--allow-empty", "-m", message)
    git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
    shutil.rmtree(work)


def edit(name: str, old: str, new: str):
    def change(work: Path) -> None:
        (work / name).write_text((work / name).read_text().replace(old, new))

    return change


def refs(remote: Path) -> dict[str, str]:
    listed = git(remote, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return dict(line.split() for line in listed)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A fleet file of 13 entries over 12 bare repositories, built from two projects by cloning."""
    root = tmp_path_factory.mktemp("remote-fleet")
    template = small_template(root / "template", VERSIONS)
    seed, current = project_repo(template, root / "seed", "v1"), project_repo(template, root / "current", "v2")
    remotes = root / "remotes"
    for name in [*BEHIND, "conflicting", "broken", "no-branch", "foreign", "stale"]:
        bare(seed, remotes / f"{name}.git")
    bare(current, remotes / "current.git")
    git(remotes / "behind-4.git", "branch", "develop", "main")
    push_change(remotes / "conflicting.git", edit("notes.txt", "line two", "line two, ours"))
    push_change(remotes / "broken.git", lambda work: (work / ".copier-answers.yml").unlink())
    push_change(remotes / "foreign.git", lambda work: None, BRANCH, "someone's own work")
    push_change(remotes / "stale.git", lambda work: None, BRANCH, "Update template to v2")  # ours, not the update
    mono = root / "mono"
    shutil.copytree(seed, mono / "services" / "bot", ignore=shutil.ignore_patterns(".git"))
    (mono / "README.md").write_text("a monorepo\n")
    git(mono, "init", "--quiet", "--initial-branch", "main")
    commit_all(mono, "monorepo")
    bare(mono, remotes / "mono.git")
    entries = [{"url": f"remotes/{name}.git"} for name in BEHIND[:3]] + [
        {"url": "remotes/behind-4.git", "branch": "develop"},
        {"url": "remotes/current.git"},
        {"url": "remotes/conflicting.git"},
        {"url": "remotes/broken.git"},
        {"url": "remotes/unreachable.git"},
        {"url": "remotes/no-branch.git", "branch": "release"},
        {"url": "remotes/mono.git", "path": "services/bot", "name": "mono-bot"},
        {"url": "remotes/foreign.git"},
        {"url": "remotes/stale.git"},
        {"url": str(remotes / "mono.git"), "path": "services/missing", "name": "mono-bot"},
    ]
    fleet_file = root / "fleet.yml"
    fleet_file.write_text(yaml.safe_dump({"repositories": entries}))
    return fleet_file, remotes, seed


def test_fleet_remote_updates_each_remote_and_a_second_run_changes_nothing(fleet, tmp_path: Path):
    fleet_file, remotes, _ = fleet
    summary = tmp_path / "summary.md"
    result = runner.invoke(
        app, ["fleet", "remote", str(fleet_file), "--jobs", "2", "--json", "--markdown", str(summary)]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    rows = {row["name"]: row for row in report["repositories"]}
    others = ["current", "conflicting", "broken", "unreachable", "no-branch", "mono-bot", "foreign", "stale"]
    assert list(rows) == [*BEHIND, *others, "mono-bot-2"]  # the fleet file's order; a repeated name numbered
    statuses = {name: (row["status"], row["push"]) for name, row in rows.items()}
    assert statuses == {
        **{name: ("updated", "created") for name in BEHIND},
        "current": ("current", ""),
        "conflicting": ("conflicts", "created"),
        "broken": ("error", ""),
        "unreachable": ("error", ""),
        "no-branch": ("error", ""),
        "mono-bot": ("updated", "created"),
        "foreign": ("error", ""),
        "stale": ("updated", "replaced"),
        "mono-bot-2": ("error", ""),
    }
    assert report["ok"] is False and report["counts"] == {"updated": 6, "current": 1, "conflicts": 1, "error": 5}
    assert "has no .copier-answers.yml" in rows["broken"]["message"]
    assert "cannot clone" in rows["unreachable"]["message"] and "(branch release)" in rows["no-branch"]["message"]
    assert "commits of someone else's" in rows["foreign"]["message"]
    assert "services/missing does not exist" in rows["mono-bot-2"]["message"]
    for name in [*BEHIND, "conflicting", "stale", "mono-bot"]:
        row = rows[name]
        assert (row["from_version"], row["to_version"], row["update_branch"]) == ("v1", "v2", BRANCH)
        remote = remotes / f"{'mono' if name == 'mono-bot' else name}.git"
        assert refs(remote)[f"refs/heads/{BRANCH}"] == row["commit"]
        assert git(remote, "log", "-1", "--format=%s", BRANCH).strip() == "Update template to v2"
        base = "develop" if name == "behind-4" else "main"
        assert git(remote, "rev-parse", f"{BRANCH}^").strip() == git(remote, "rev-parse", base).strip()
    assert git(remotes / "mono.git", "show", f"{BRANCH}:services/bot/added.txt") == "new in v2\n"
    assert rows["conflicting"]["conflicts"] == ["notes.txt"]
    assert "<<<<<<< before updating" in git(remotes / "conflicting.git", "show", f"{BRANCH}:notes.txt")
    assert "- notes.txt" in git(remotes / "conflicting.git", "log", "-1", "--format=%b", BRANCH)
    assert git(remotes / "foreign.git", "log", "-1", "--format=%s", BRANCH).strip() == "someone's own work"
    assert f"refs/heads/{BRANCH}" not in refs(remotes / "current.git")

    # Shallow clones update exactly as a full clone does.
    full = tmp_path / "full"
    git(tmp_path, "clone", "--quiet", str(remotes / "behind-1.git"), str(full))
    update_project(full)
    git(full, "add", "--all")
    tree = git(full, "write-tree").strip()
    assert git(remotes / "behind-1.git", "rev-parse", f"{BRANCH}^{{tree}}").strip() == tree

    markdown = summary.read_text()
    assert markdown.startswith("## llm-scaffold fleet: 13 repositories: 1 conflicts, 1 current, 5 error, 6 updated\n")
    assert (
        "| conflicting | main | v1 | v2 | **conflicts** | `notes.txt` | `llm-scaffold/update-v2` | created |"
        in markdown
    )
    assert "| mono-bot (`services/bot`) | main | v1 | v2 | updated |" in markdown
    assert "- **unreachable**: cannot clone" in markdown
    progress = result.stderr.splitlines()
    assert progress[0].startswith("fleet remote: 13 repositories, 2 job(s)")
    assert len([line for line in progress if line.startswith("[")]) == 13
    assert any(line.startswith("[") and "conflicting: conflicts v1 -> v2 (created" in line for line in progress)

    # The owners resolve the conflict on the branch and move behind-2's main on; then run again.
    resolve = lambda work: (work / "notes.txt").write_text("demo\nline two, both\n")  # noqa: E731
    push_change(remotes / "conflicting.git", resolve, BRANCH, "resolve")
    push_change(remotes / "behind-2.git", lambda work: (work / "team.txt").write_text("ours\n"))
    before = {remote.name: refs(remote) for remote in remotes.glob("*.git")}
    again = {row.name: row for row in run_remote_fleet(load_fleet(fleet_file), jobs=2)}
    assert {remote.name: refs(remote) for remote in remotes.glob("*.git")} == before
    assert {name: (row.status, row.push) for name, row in again.items()} == statuses | {
        **{name: ("updated", "unchanged") for name in [*BEHIND, "mono-bot", "stale"]},
        "behind-2": ("updated", "kept"),
        "conflicting": ("updated", "kept"),
    }
    assert again["conflicting"].conflicts == [] and "changes of its own" in again["conflicting"].message
    assert "base branch has moved on" in again["behind-2"].message


def test_fleet_remote_no_push_keeps_shallow_clones_in_the_workdir(fleet, tmp_path: Path):
    _, _, seed = fleet
    remote = bare(seed, tmp_path / "solo.git")
    workdir = tmp_path / "work"
    (workdir / "occupied").mkdir(parents=True)
    fleet_file = tmp_path / "fleet.yml"
    fleet_file.write_text(yaml.safe_dump([str(remote), {"url": str(remote), "name": "occupied"}]))
    for _ in range(2):  # the second run replaces its own clone
        result = runner.invoke(app, ["fleet", "remote", str(fleet_file), "--no-push", "--workdir", str(workdir)])
        assert result.exit_code == 1, result.output
        solo, occupied = run_rows = result.stdout.splitlines()[4:6]
        assert solo.startswith("| solo | main | v1 | v2 | updated |  | `llm-scaffold/update-v2` | skipped |"), run_rows
        assert occupied.startswith("| occupied |  |  |  | **error** |")
    assert "exists and is not a clone of" in result.stdout
    clone = workdir / "solo"
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert git(clone, "log", "--format=%s").splitlines() == ["Update template to v2", "generated"]
    assert f"refs/heads/{BRANCH}" not in refs(remote)
    (clone / "notes.txt").write_text("a person's edit in the kept clone\n")
    row = run_remote_fleet(load_fleet(fleet_file)[:1], workdir, push=False)[0]
    assert (row.status, row.message) == (
        "error",
        f"{clone} holds uncommitted notes.txt: push or remove it, then run again",
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read fleet file"),
        ("repositories: [", "is not valid YAML"),
        ("repositories: []", "lists no repositories"),
        ("- {url: a.git, brach: main}", "unknown key(s) brach"),
        ("- {branch: main}", "has no `url`"),
        ("- {url: a.git, path: ../elsewhere}", "must be a folder inside the repository"),
    ],
)
def test_fleet_remote_refuses_a_wrong_fleet_file_in_one_line(tmp_path: Path, content: str | None, problem: str):
    fleet_file = tmp_path / "fleet.yml"
    if content is not None:
        fleet_file.write_text(content)
    result = runner.invoke(app, ["fleet", "remote", str(fleet_file)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and problem in result.output
    assert len(result.output.strip().splitlines()) == 1
