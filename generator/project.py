"""A generated project on disk: its recorded answers, template source and version, its git state."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator import template_source
from generator.errors import ProjectError

ANSWERS_FILE = ".copier-answers.yml"
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)


@dataclass
class Project:
    path: Path
    answers: dict

    @property
    def source(self) -> str:
        return self.answers["_src_path"]

    @property
    def version(self) -> str:
        return str(self.answers.get("_commit", ""))

    @property
    def user_answers(self) -> dict:
        """The answers to the template's questions, without copier's own `_` keys."""
        return {key: value for key, value in self.answers.items() if not key.startswith("_")}


def open_project(path: str | Path) -> Project:
    """Read a project's answers file and check what updates rely on: git and an absolute source."""
    path = Path(path).expanduser().resolve()
    answers_path = path / ANSWERS_FILE
    if not answers_path.is_file():
        raise ProjectError(
            f"{path} has no {ANSWERS_FILE}: it was not generated from a template; "
            "generate one with `llm-scaffold new`, or link this one with `llm-scaffold adopt`"
        )
    answers = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    source = str(answers.get("_src_path", ""))
    if not source:
        raise ProjectError(f"{answers_path} records no _src_path: set it to the template's git URL or absolute path")
    if not template_source.is_url(source) and not Path(source).is_absolute():
        raise ProjectError(
            f"{answers_path} records the relative template path '{source}', which only works from one folder: "
            "replace _src_path with the template's absolute path or git URL"
        )
    if git(path, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise ProjectError(f"{path} is not a git repository: updates need its history; run `git init` and commit")
    return Project(path=path, answers=answers)


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ProjectError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result


def commit_all(repo: Path, message: str) -> None:
    """Commit everything; where git has no identity configured, as `llm-scaffold` (like the hook)."""
    configured = all(git(repo, "config", key, check=False).stdout.strip() for key in ("user.name", "user.email"))
    identity = [] if configured else ["-c", "user.name=llm-scaffold", "-c", "user.email=llm-scaffold@localhost"]
    git(repo, "add", "--all")
    git(repo, *identity, "commit", "--quiet", "--no-verify", "-m", message)


def uncommitted_changes(repo: Path) -> list[str]:
    """Paths with staged, unstaged or untracked (not ignored) changes."""
    return [line[3:] for line in git(repo, "status", "--porcelain", "--untracked-files=all").stdout.splitlines()]


def files_with_conflict_markers(repo: Path) -> list[str]:
    """Tracked or new (not ignored) files that hold unresolved `<<<<<<<` / `>>>>>>>` blocks."""
    listed = git(repo, "ls-files", "--cached", "--others", "--exclude-standard").stdout.splitlines()
    found = []
    for name in sorted(set(listed)):
        file = repo / name
        if file.is_file() and CONFLICT_MARKER.search(file.read_text(encoding="utf-8", errors="replace")):
            found.append(name)
    return found
