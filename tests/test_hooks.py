"""hooks/post_generate.py, the copier task: idempotent, offline, and not run by updates.

Copier renders the template three times per update (old and new versions in temporary folders,
then the project itself); a task that runs each time must not turn those folders into repositories
or commit twice. Ours runs only on `copy` and does nothing when it finds a repository.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, copy_template, git

from generator.new import create_project
from generator.project import commit_all
from generator.update import update_project

HOOK = REPO_ROOT / "hooks" / "post_generate.py"


def run_hook(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HOOK)], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_task_run_three_times_commits_once_and_changes_nothing_after(tmp_path):
    (tmp_path / "README.md").write_text("# generated\n")
    first = run_hook(tmp_path)
    assert first.returncode == 0 and "initialised a git repository" in first.stdout, first.stderr
    head = git(tmp_path, "rev-parse", "HEAD")
    for _ in range(2):
        again = run_hook(tmp_path)
        assert again.returncode == 0 and "inside a git repository" in again.stdout, again.stderr
    assert git(tmp_path, "rev-parse", "HEAD") == head
    assert git(tmp_path, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(tmp_path, "status", "--porcelain") == ""


def test_task_leaves_an_enclosing_repository_to_its_owner(tmp_path):
    git(tmp_path, "init", "--quiet")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "file.txt").write_text("x\n")
    result = run_hook(sub)
    assert result.returncode == 0 and "commit the new files yourself" in result.stdout
    assert not (sub / ".git").exists()
    assert git(tmp_path, "status", "--porcelain") == "?? sub/\n"


def test_update_runs_no_task_and_adds_no_commit(tmp_path, capfd):
    template = copy_template(tmp_path / "template", tag="v0.1.0")
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True)
    assert "initialised a git repository" in capfd.readouterr().out
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nNew in v0.2.0.\n")
    commit_all(template, "v0.2.0")
    git(template, "tag", "v0.2.0")
    commits = git(project, "rev-list", "--count", "HEAD")

    assert update_project(project).status == "updated"
    captured = capfd.readouterr()
    assert "llm-scaffold: " not in captured.out + captured.err, "the copy task ran during an update"
    assert git(project, "rev-list", "--count", "HEAD") == commits
