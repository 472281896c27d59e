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
# A whole conflict block as copier (and our own merges) write it during an update; a document that
# quotes git's `<<<<<<< HEAD` ... `>>>>>>> branch` is not one.
CONFLICT_BLOCK = re.compile(r"^<{7} before updating\n(?:.*\n)*?={7}\n(?:.*\n)*?>{7} after updating$", re.MULTILINE)
MERGE_LABELS = ["-L", "before updating", "-L", "last update", "-L", "after updating"]


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
    if not path.is_dir():
        raise ProjectError(f"{path} is not a folder: give the path of a generated project")
    answers_path = path / ANSWERS_FILE
    if not answers_path.is_file():
        raise ProjectError(
            f"{path} has no {ANSWERS_FILE}: it was not generated from a template; "
            "generate one with `llm-scaffold new`, or link this one with `llm-scaffold adopt`"
        )
    answers = read_answers(answers_path)
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


def read_answers(answers_path: Path) -> dict:
    """The answers file as a mapping; anything else is a ProjectError naming the file and the fix."""
    fix = f"restore it from git (`git checkout -- {ANSWERS_FILE}`) or fix it by hand"
    try:
        answers = yaml.safe_load(answers_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ProjectError(f"{answers_path} is not UTF-8 text ({err.reason} at byte {err.start}): {fix}") from err
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise ProjectError(f"{answers_path} is not valid YAML{line}: {fix}") from err
    except OSError as err:
        raise ProjectError(f"cannot read {answers_path} ({err.strerror}): check its permissions") from err
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise ProjectError(f"{answers_path} holds a {type(answers).__name__}, not key: value answers: {fix}")
    return answers


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not Path(repo).is_dir():
        raise ProjectError(f"{repo} is not a folder: give the path of a project")
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise ProjectError("git is not installed or not on PATH: install git (updates need it)") from err
    if check and result.returncode != 0:
        raise ProjectError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result


def current_branch(repo: Path) -> str:
    """The checked-out branch's name; "" on a detached HEAD."""
    return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()


def commit_all(repo: Path, message: str) -> None:
    """Commit everything; where git has no identity configured, as `llm-scaffold` (like the hook)."""
    configured = all(git(repo, "config", key, check=False).stdout.strip() for key in ("user.name", "user.email"))
    identity = [] if configured else ["-c", "user.name=llm-scaffold", "-c", "user.email=llm-scaffold@localhost"]
    git(repo, "add", "--all")
    git(repo, *identity, "commit", "--quiet", "--no-verify", "-m", message)


def uncommitted_changes(repo: Path, whole_repository: bool = False) -> list[str]:
    """Paths with staged, unstaged or untracked (not ignored) changes (a rename: its new path).

    Relative to `repo` and limited to it, unless `whole_repository` (paths then from the top of the
    git repository that holds `repo`, which may be a monorepo with the project in a subfolder).
    """
    fields = git(repo, "status", "--porcelain", "-z", "--untracked-files=all").stdout.split("\0")
    paths, renamed_from = [], False
    for entry in fields:
        if renamed_from:  # the old path of a staged rename follows the new one
            renamed_from = False
        elif entry:
            paths.append(entry[3:])
            renamed_from = entry[0] in "RC"
    if whole_repository:
        return paths
    prefix = git(repo, "rev-parse", "--show-prefix").stdout.strip()
    return [path[len(prefix) :] for path in paths if path.startswith(prefix)]


def has_conflict_block(file: Path) -> bool:
    return file.is_file() and bool(CONFLICT_BLOCK.search(file.read_text(encoding="utf-8", errors="replace")))


def files_with_conflict_markers(repo: Path, names: list[str]) -> list[str]:
    """Those of `names` (paths in `repo`) that hold an unresolved `<<<<<<<` ... `>>>>>>>` block."""
    return sorted(name for name in set(names) if has_conflict_block(repo / name))
