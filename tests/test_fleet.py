"""fleet: ten real repositories, one dirty, one conflicting, one broken; the others updated."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import ANSWERS_TEMPLATE, copy_template, git, small_template
from test_update import release_v2
from typer.testing import CliRunner

from generator.cli import app
from generator.new import create_project
from generator.project import commit_all

runner = CliRunner()


def test_fleet_update_reports_each_repository_exactly(tmp_path: Path):
    template = copy_template(tmp_path / "template", tag="v0.1.0")
    release_v2(template)
    repos = [
        create_project(tmp_path / f"repo{i}", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True)
        for i in range(10)
    ]
    branch_before = git(repos[2], "rev-parse", "--abbrev-ref", "HEAD").strip()
    (repos[2] / "Makefile").write_text("uncommitted work\n")
    readme = repos[5] / "README.md"
    readme.write_text(readme.read_text().replace("## Set up", "Our own introduction.\n\n## Set up", 1))
    commit_all(repos[5], "team edit")
    (repos[8] / ".copier-answers.yml").unlink()
    commit_all(repos[8], "lost the answers file")

    status = json.loads(runner.invoke(app, ["fleet", "status", *map(str, repos), "--json"]).output)
    assert [entry["result"] for entry in status] == ["behind"] * 8 + ["error", "behind"]

    result = runner.invoke(app, ["fleet", "update", *map(str, repos), "--jobs", "2", "--json"])
    assert result.exit_code == 1
    report = {Path(entry["repo"]).name: entry for entry in json.loads(result.output)}
    expected = {f"repo{i}": "updated" for i in range(10)} | {"repo2": "dirty", "repo5": "conflicts", "repo8": "error"}
    assert {name: entry["result"] for name, entry in report.items()} == expected
    assert "has no .copier-answers.yml" in report["repo8"]["message"]
    for i in (0, 1, 3, 4, 6, 7, 9):
        assert git(repos[i], "rev-parse", "--abbrev-ref", "HEAD").strip() == "llm-scaffold/update-v0.2.0"
        assert git(repos[i], "log", "-1", "--format=%s").strip() == "Update template to v0.2.0"
        assert git(repos[i], "status", "--porcelain") == ""
        assert report[f"repo{i}"]["from_version"] == "v0.1.0" and report[f"repo{i}"]["to_version"] == "v0.2.0"
    assert git(repos[2], "rev-parse", "--abbrev-ref", "HEAD").strip() == branch_before
    assert (repos[2] / "Makefile").read_text() == "uncommitted work\n"
    assert "<<<<<<<" in readme.read_text()

    again = json.loads(runner.invoke(app, ["fleet", "status", str(repos[0]), "--json"]).output)
    assert again[0]["result"] == "current"


def test_fleet_update_run_again_reuses_or_resets_its_own_branch(tmp_path: Path):
    config = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
    template = small_template(
        tmp_path / "template",
        {
            "v1": {"copier.yml": config, "notes.txt.jinja": "{{ name }}\n", **ANSWERS_TEMPLATE},
            "v2": {"notes.txt.jinja": "{{ name }} v2\n"},
        },
    )
    repos = []
    for i in range(3):
        repo = create_project(tmp_path / f"repo{i}", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
        git(repo, "init", "--quiet", "--initial-branch", "main")
        commit_all(repo, "generated")
        repos.append(repo)
    branch = "llm-scaffold/update-v2"
    first = json.loads(runner.invoke(app, ["fleet", "update", str(repos[0]), "--json"]).output)
    assert first[0]["result"] == "updated"
    git(repos[0], "checkout", "--quiet", "main")
    git(repos[1], "branch", branch)  # a stale branch of ours: no commits of anyone else
    git(repos[2], "checkout", "--quiet", "-b", branch)
    git(repos[2], "commit", "--quiet", "--allow-empty", "-m", "someone's own work")
    git(repos[2], "checkout", "--quiet", "main")

    result = runner.invoke(app, ["fleet", "update", *map(str, repos), "--json"])
    rows = json.loads(result.output)
    assert [row["result"] for row in rows] == ["updated", "updated", "error"], rows
    assert "earlier run" in rows[0]["message"] and git(repos[0], "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repos[1], "log", "-1", "--format=%s").strip() == "Update template to v2"
    assert "commits of someone else's" in rows[2]["message"]
    assert (rows[2]["from_version"], rows[2]["to_version"]) == ("v1", "v2")  # error rows keep what they know
    assert git(repos[2], "log", "-1", "--format=%s", branch).strip() == "someone's own work"
    assert git(repos[2], "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_fleet_update_restores_a_detached_head_and_refuses_a_merge_in_progress(tmp_path: Path):
    config = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
    broken_v2 = yaml.safe_dump({**yaml.safe_load(config), "_migrations": [{"version": "v2", "command": "exit 3"}]})
    template = small_template(
        tmp_path / "template",
        {
            "v1": {"copier.yml": config, "notes.txt.jinja": "{{ name }}\n", **ANSWERS_TEMPLATE},
            "v2": {"copier.yml": broken_v2, "notes.txt.jinja": "{{ name }} v2\n"},
        },
    )
    detached, merging = (
        create_project(tmp_path / name, template=str(template), vcs_ref="v1", defaults=True, quiet=True)
        for name in ("detached", "merging")
    )
    for repo in (detached, merging):
        git(repo, "init", "--quiet", "--initial-branch", "main")
        commit_all(repo, "generated")
    head = git(detached, "rev-parse", "HEAD")
    git(detached, "checkout", "--quiet", "--detach")
    git(merging, "checkout", "--quiet", "-b", "side")
    git(merging, "commit", "--quiet", "--allow-empty", "-m", "side")
    git(merging, "checkout", "--quiet", "main")
    git(merging, "merge", "--quiet", "--no-ff", "--no-commit", "side")

    rows = json.loads(runner.invoke(app, ["fleet", "update", str(detached), str(merging), "--json"]).output)
    assert [row["result"] for row in rows] == ["error", "error"], rows
    assert "failed" in rows[0]["message"] and "restored" in rows[0]["message"]  # the migration's failure
    assert git(detached, "rev-parse", "HEAD") == head and git(detached, "branch", "--list", "llm-scaffold/*") == ""
    assert git(detached, "rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"
    assert "middle of a merge" in rows[1]["message"]
    assert (merging / ".git" / "MERGE_HEAD").exists()
