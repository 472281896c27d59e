"""The `llm-scaffold-check` hook, run for real by pre-commit on a generated project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from generator.new import create_project

pytestmark = pytest.mark.slow


def try_hook(project: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO_ROOT), "llm-scaffold-check", "--all-files"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, env=env, timeout=900)


def test_hook_passes_on_a_current_project_and_fails_on_drift(template_repo, tmp_path):
    project = create_project(tmp_path / "project", template=str(template_repo), defaults=True, quiet=True)
    clean = try_hook(project, tmp_path / "pre-commit-home")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "llm-scaffold check" in clean.stdout and "Passed" in clean.stdout

    (project / "Makefile").write_text((project / "Makefile").read_text() + "\n# drift\n")
    drifted = try_hook(project, tmp_path / "pre-commit-home")
    assert drifted.returncode == 1
    assert "Failed" in drifted.stdout and "drifted: Makefile" in drifted.stdout
