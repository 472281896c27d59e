"""An update killed midway is never mistaken for a finished one; two updates never run at once;
no update starts in the middle of a merge or rebase."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, git, small_template

from generator.project import commit_all
from generator.update_state import UpdateRecord, write_record

MIGRATION = "import pathlib, time; pathlib.Path('migrating.flag').touch(); time.sleep(120)"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True, text=True, timeout=300)


def slow_template(root: Path) -> Path:
    config = {
        "name": {"type": "str", "default": "demo"},
        "_migrations": [{"version": "v2", "command": ["{{ _copier_python }}", "-c", MIGRATION]}],
    }
    return small_template(
        root,
        {
            "v1": {"copier.yml": yaml.safe_dump(config), "notes.txt.jinja": "{{ name }}\n", **ANSWERS_TEMPLATE},
            "v2": {"notes.txt.jinja": "{{ name }} v2\n", "added.txt": "new in v2\n"},
        },
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    template = slow_template(tmp_path / "template")
    project = tmp_path / "project"
    assert cli("new", str(project), "--template", str(template), "--vcs-ref", "v1", "--defaults").returncode == 0
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    return project


def files(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_killed_update_is_reported_everywhere_and_abort_restores_head_exactly(project: Path):
    head, before = git(project, "rev-parse", "HEAD"), files(project)
    first = subprocess.Popen(
        [sys.executable, "-m", "generator", "update", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the migration dies with it
    )
    try:
        deadline = time.monotonic() + 120
        while not (project / "migrating.flag").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the migration never started"
            time.sleep(0.2)

        second = cli("update", str(project))
        assert second.returncode == 2 and "is running" in second.stderr, second.stderr
        assert f"pid {first.pid}" in " ".join(second.stderr.split())
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"  # half-updated

    for command in (["check", str(project)], ["update", str(project)], ["diff", str(project)]):
        result = cli(*command)
        message = " ".join(result.stderr.split())
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "was interrupted" in message and "llm-scaffold update --abort" in message
        assert "ok: current" not in result.stderr and "Traceback" not in result.stderr
    fleet = cli("fleet", "status", str(project), "--json")
    assert fleet.returncode == 1
    (row,) = json.loads(fleet.stdout)
    assert (row["result"], row["from_version"], row["to_version"]) == ("interrupted", "v1", "v2")

    aborted = cli("update", str(project), "--abort")
    assert aborted.returncode == 0, aborted.stderr
    assert git(project, "rev-parse", "HEAD") == head and git(project, "status", "--porcelain") == ""
    assert files(project) == before
    behind = cli("check", str(project))
    assert behind.returncode == 1 and "behind" in behind.stderr
    assert cli("update", str(project), "--abort").returncode == 2  # nothing left to abort


def test_update_is_refused_during_a_merge_or_rebase_with_a_clean_status(project: Path):
    git(project, "checkout", "--quiet", "-b", "side")
    git(project, "commit", "--quiet", "--allow-empty", "-m", "side")
    git(project, "checkout", "--quiet", "-")
    git(project, "merge", "--quiet", "--no-ff", "--no-commit", "side")
    assert git(project, "status", "--porcelain") == ""
    merging = cli("update", str(project))
    assert merging.returncode == 2 and "middle of a merge" in merging.stderr, merging.stderr
    git(project, "merge", "--abort")

    git(project, "commit", "--quiet", "--allow-empty", "-m", "one more")
    editor = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i s/^pick/edit/"}
    rebase = ["git", "rebase", "--quiet", "-i", "HEAD~1"]
    subprocess.run(rebase, cwd=project, env=editor, check=True, capture_output=True)
    assert git(project, "status", "--porcelain") == ""
    rebasing = cli("update", str(project))
    assert rebasing.returncode == 2 and "middle of a rebase" in rebasing.stderr, rebasing.stderr
    assert not (project / "added.txt").exists()


def test_abort_refuses_to_drop_commits_made_after_the_interruption(project: Path):
    head = git(project, "rev-parse", "HEAD").strip()
    write_record(project, UpdateRecord(head, "main", "v1", "v2", pid=1, started=time.time()))
    (project / "notes.txt").write_text("work committed after the interruption\n")
    commit_all(project, "later work")
    later = git(project, "rev-parse", "HEAD")
    refused = cli("update", str(project), "--abort")
    assert refused.returncode == 2 and "would drop those commits" in " ".join(refused.stderr.split())
    assert git(project, "rev-parse", "HEAD") == later
    assert (project / "notes.txt").read_text() == "work committed after the interruption\n"
