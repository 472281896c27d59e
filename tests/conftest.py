"""Shared fixtures: this checkout's template as a real, tagged git repository."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from copier import run_copy

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FILES = ["copier.yml", "template", "hooks", "CHANGELOG.md"]
TEMPLATE_VERSION = "v0.1.0"
COPIER_SETTINGS = "COPIER_SETTINGS_PATH"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def tree_state(repo: Path) -> dict:
    """HEAD, index and a hash of every file in the work tree (ignored ones too, .git aside)."""
    files = {
        path.relative_to(repo).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in repo.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }
    return {"head": git(repo, "rev-parse", "HEAD"), "index": git(repo, "ls-files", "-s"), "files": files}


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


@pytest.fixture(scope="session", autouse=True)
def trusted_test_templates(tmp_path_factory: pytest.TempPathFactory):
    """The templates the tests build live under pytest's temporary folder: trust that prefix the way a
    user would, in copier's own settings file. Tests of the refusal point COPIER_SETTINGS_PATH elsewhere."""
    settings = tmp_path_factory.getbasetemp() / "copier-settings.yml"
    settings.write_text(yaml.safe_dump({"trust": [f"{tmp_path_factory.getbasetemp()}/"]}))
    previous = os.environ.get(COPIER_SETTINGS)
    os.environ[COPIER_SETTINGS] = str(settings)
    yield settings
    if previous is None:
        os.environ.pop(COPIER_SETTINGS, None)
    else:
        os.environ[COPIER_SETTINGS] = previous


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


def small_template(root: Path, versions: dict[str, dict[str, str]]) -> Path:
    """A tiny real template repository: one commit and tag per version, each a full file tree
    (paths relative to the repository; `None` deletes a file of the previous version)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "--quiet")
    for tag, files in versions.items():
        for name, content in files.items():
            path = root / name
            if content is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git(root, "add", "--all")
        git(root, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "--allow-empty", "-m", tag)
        git(root, "tag", tag)
    return root


ANSWERS_TEMPLATE = {"{{_copier_conf.answers_file}}.jinja": "{{ _copier_answers|to_nice_yaml -}}\n"}
