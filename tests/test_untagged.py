"""Updates from a template without version tags: to the head of its default branch, or `--to` any tag,
branch or commit, with every guarantee a tagged update has. Small real templates, real copier, real git;
one test on a fresh clone of this repository itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, REPO_ROOT, git, small_template, tree_state
from typer.testing import CliRunner

from generator import update_state, versions
from generator.check import check_project
from generator.cli import app
from generator.errors import DirtyTreeError, UpdateError, UpdateInterruptedError, VersionError
from generator.fleet import run_fleet
from generator.new import create_project
from generator.project import commit_all
from generator.update import update_project

runner = CliRunner()
CONFIG = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
NOTES = "# Notes of {{ name }}\n\nfirst\nsecond\nthird\n"


def untagged_template(root: Path) -> Path:
    """A template with two commits on `main` and no tags at all."""
    template = small_template(
        root,
        {
            "one": {"copier.yml": CONFIG, "notes.txt.jinja": NOTES, "keep.txt": "keep\n", **ANSWERS_TEMPLATE},
            "two": {"extra.txt": "extra\n"},
        },
    )
    for tag in git(template, "tag").split():
        git(template, "tag", "-d", tag)
    git(template, "branch", "-M", "main")
    return template


def change_template(template: Path, message: str, files: dict[str, str | None]) -> str:
    """Commit a template change; return the commit as copier will record it."""
    for name, content in files.items():
        if content is None:
            (template / name).unlink()
        else:
            (template / name).write_text(content)
    commit_all(template, message)
    return git(template, "describe", "--tags", "--always").strip()


def generate(template: Path, dest: Path, vcs_ref: str | None = None) -> Path:
    project = create_project(dest, template=str(template), vcs_ref=vcs_ref, defaults=True, quiet=True)
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    return project


def recorded(project: Path) -> str:
    return str(yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"])


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return untagged_template(tmp_path / "template")


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    return generate(template, tmp_path / "project")


def test_without_tags_check_and_update_go_to_the_head_of_the_default_branch(template, project):
    made_from = git(template, "rev-parse", "--short", "HEAD").strip()
    assert recorded(project) == made_from  # copier records the bare commit
    assert check_project(project).ok
    head = change_template(template, "three", {"notes.txt.jinja": NOTES.replace("third", "third, new")})

    report = json.loads(runner.invoke(app, ["check", str(project), "--json"]).output)
    assert (report["behind"], report["latest"], report["target"]) == (True, None, head)
    result = runner.invoke(app, ["update", str(project), "--json"])
    assert result.exit_code == 0, result.output
    updated = json.loads(result.output)
    assert (updated["from_version"], updated["to_version"], updated["status"]) == (made_from, head, "updated")
    assert [(step["from_version"], step["to_version"]) for step in updated["steps"]] == [(made_from, head)]
    assert recorded(project) == head and "third, new" in (project / "notes.txt").read_text()
    commit_all(project, "update")
    assert check_project(project).ok and update_project(project).status == "current"
    listed = runner.invoke(app, ["versions", "--template", str(template)])
    assert f"head of its default branch, {head}" in " ".join(listed.output.split())


def test_an_untagged_update_keeps_every_guarantee_of_a_tagged_one(template, project):
    (project / "notes.txt").write_text((project / "notes.txt").read_text().replace("second", "second, ours"))
    (project / "keep.txt").write_text("keep, edited by us\n")
    commit_all(project, "our edits")
    (project / "extra.txt").write_text("uncommitted\n")
    with pytest.raises(DirtyTreeError):
        update_project(project)
    git(project, "checkout", "--", "extra.txt")

    before = tree_state(project)
    change_template(template, "broken", {"notes.txt.jinja": "{{ name \n"})
    with pytest.raises(UpdateError, match="restored to its state before"):
        update_project(project)
    assert tree_state(project) == before and update_state.read_record(project) is None
    head = git(project, "rev-parse", "HEAD").strip()
    update_state.write_record(project, update_state.UpdateRecord(head, "", "a", "b", 1, 0.0))
    with pytest.raises(UpdateInterruptedError):
        update_project(project)
    update_state.clear_record(project)

    change_template(
        template,
        "three",
        {"notes.txt.jinja": NOTES.replace("second", "second, theirs"), "kept.txt": "keep\n", "keep.txt": None},
    )
    dry = update_project(project, dry_run=True)
    assert dry.status == "dry-run" and "rename to kept.txt" in dry.diff and tree_state(project) == before
    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 1 and "notes.txt" in result.output, result.output
    assert "<<<<<<< before updating" in (project / "notes.txt").read_text()
    assert (project / "kept.txt").read_text() == "keep, edited by us\n"  # the rename carried our edit
    assert not (project / "keep.txt").exists()


def test_to_a_branch_or_commit_and_refusals(template, project, tmp_path):
    two = git(template, "rev-parse", "HEAD").strip()
    three = change_template(template, "three", {"notes.txt.jinja": NOTES + "fourth\n"})
    git(template, "checkout", "--quiet", "-b", "feature", two)
    feature = change_template(template, "on a branch", {"feature.txt": "feature\n"})
    git(template, "checkout", "--quiet", "main")

    with pytest.raises(VersionError, match="does not exist"):
        update_project(project, to="no-such-branch")
    result = update_project(project, to="feature")
    assert (result.status, result.to_version, recorded(project)) == ("updated", feature, feature)
    commit_all(project, "to the feature branch")
    with pytest.raises(VersionError, match="not on the default branch"):
        check_project(project)
    with pytest.raises(VersionError, match="does not descend from"):
        update_project(project, to="main")
    with pytest.raises(VersionError, match="downgrades are refused"):
        update_project(project, to=two[:10])

    other = generate(template, tmp_path / "other", vcs_ref=two)
    assert update_project(other, to=git(template, "rev-parse", "main").strip()).to_version == three


def test_tags_stay_the_default_target_and_a_commit_ahead_of_one_follows_the_branch(template, tmp_path):
    git(template, "tag", "v1.0.0")
    ahead = change_template(template, "after the release", {"notes.txt.jinja": NOTES + "fourth\n"})
    assert ahead.startswith("v1.0.0-1-g")

    released = generate(template, tmp_path / "released", vcs_ref="v1.0.0")
    from_branch = generate(template, tmp_path / "from-branch", vcs_ref="main")
    assert recorded(from_branch) == ahead

    def target(project: Path) -> str:
        return versions.choose(str(template), None, recorded(project))

    newer = change_template(template, "more", {"notes.txt.jinja": NOTES + "fifth\n"})
    assert target(released) == "v1.0.0"  # made from a release: follows releases, not the branch
    report = check_project(from_branch)
    assert (report.target, report.behind, report.latest) == (newer, True, "v1.0.0")
    assert update_project(from_branch).to_version == newer
    commit_all(from_branch, "update")
    change_template(template, "a release", {"notes.txt.jinja": NOTES + "sixth\n"})
    git(template, "tag", "v1.1.0")
    git(template, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "--allow-empty", "-m", "later")
    assert target(from_branch) == "v1.1.0" and target(released) == "v1.1.0"  # a newer release comes first


def test_versions_check_and_update_agree_on_the_projects_own_template(template, project, tmp_path, monkeypatch):
    elsewhere = untagged_template(tmp_path / "elsewhere")
    monkeypatch.setenv("LLM_SCAFFOLD_TEMPLATE", str(elsewhere))
    head = change_template(template, "three", {"notes.txt.jinja": NOTES + "fourth\n"})
    monkeypatch.chdir(project)
    listed = runner.invoke(app, ["versions"])
    assert head in listed.output and "elsewhere" not in listed.output, listed.output
    report = json.loads(runner.invoke(app, ["check", "--json"]).output)
    assert report["target"] == head
    assert json.loads(runner.invoke(app, ["update", "--json"]).output)["to_version"] == head


def test_fleet_updates_projects_of_an_untagged_template(template, project, tmp_path):
    second = generate(template, tmp_path / "second")
    head = change_template(template, "three", {"notes.txt.jinja": NOTES + "fourth\n"})
    entries = run_fleet("update", [project, second])
    assert [(entry.result, entry.to_version) for entry in entries] == [("updated", head)] * 2, entries
    assert git(project, "log", "-1", "--format=%s").strip() == f"Update template to {head}"
    assert [entry.result for entry in run_fleet("update", [project])] == ["current"]


@pytest.mark.slow
def test_a_fresh_clone_of_this_repository_generates_and_updates_without_any_tag(tmp_path):
    """The issue's words: clone, generate, commit a template change, update; no tag anywhere."""
    clone = tmp_path / "llm-scaffold"
    git(tmp_path, "clone", "--quiet", "--no-local", str(REPO_ROOT), str(clone))
    for tag in git(clone, "tag").split():
        git(clone, "tag", "-d", tag)
    cli = [sys.executable, "-m", "generator"]
    env = {**os.environ, "LLM_SCAFFOLD_TEMPLATE": str(clone)}

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)

    made = run("new", "project", "--defaults", "--quiet")
    assert made.returncode == 0, made.stderr
    project = tmp_path / "project"
    assert recorded(project) == git(clone, "rev-parse", "--short", "HEAD").strip()
    line = "A line committed to the template after the project was generated."
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + f"\n{line}\n")
    commit_all(clone, "a template change")

    updated = run("update", "--json", cwd=project)
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["to_version"] == recorded(project)
    assert recorded(project) == git(clone, "rev-parse", "--short", "HEAD").strip()
    assert line in (project / "README.md").read_text()
    commit_all(project, "update")
    assert run("check", cwd=project).returncode == 0
