"""Shared fixtures: this checkout's template as a real, tagged git repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from copier import run_copy

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FILES = ["copier.yml", "template", "hooks", "CHANGELOG.md"]
TEMPLATE_VERSION = "v0.1.0"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_template(dest: Path, tag: str | None = TEMPLATE_VERSION, files: list[str] = TEMPLATE_FILES) -> Path:
    """Copy the template as it is on disk (uncommitted edits included) into a new git repo."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest / name)
    git(dest, "init", "--quiet")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "-m", "template")
    if tag:
        git(dest, "tag", tag)
    return dest


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory, default_gitconfig) -> Path:
    return copy_template(tmp_path_factory.mktemp("template") / "llm-scaffold")


@pytest.fixture
def render(template_repo: Path, tmp_path: Path):
    """Render the template with copier's API: defaults plus the given answers."""

    def _render(dest_name: str = "project", **answers) -> Path:
        dest = tmp_path / dest_name
        run_copy(str(template_repo), dest, data=answers, defaults=True, unsafe=True, quiet=True)
        return dest

    return _render
