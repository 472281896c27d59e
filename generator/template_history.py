"""A template's git history: which commit a tag, branch or commit names, and which of two comes first.

A local template is read in place. A URL is read from a temporary bare, blob-less clone (history
and tags only, no file contents), much as copier clones it for the update anyway.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generator import template_source
from generator.errors import TemplateSourceError


class TemplateHistory:
    def __init__(self, source: str, repo: Path):
        self.source = source
        self.repo = repo

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise TemplateSourceError(
                f"cannot read the history of template '{self.source}' (git {args[0]}: {result.stderr.strip()}): "
                "check that it is a git repository or URL you can reach"
            )
        return result

    def commit(self, ref: str) -> str | None:
        """The full hash of the commit `ref` names (a tag, branch, commit or `git describe` output), or None."""
        if not ref or ref.startswith("-"):
            return None
        found = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return found.stdout.strip() if found.returncode == 0 else None

    def describe(self, commit: str) -> str:
        """The commit named as copier records it in `_commit`: a tag, `v1.2.0-3-gabc1234`, or `abc1234`."""
        return self.git("describe", "--tags", "--always", commit).stdout.strip()

    def contains(self, older: str, newer: str) -> bool:
        """Whether commit `older` is `newer` or one of its ancestors."""
        found = self.git("merge-base", "--is-ancestor", older, newer, check=False)
        if found.returncode not in (0, 1):
            raise TemplateSourceError(
                f"cannot compare commits {older[:12]} and {newer[:12]} of template '{self.source}' "
                f"({found.stderr.strip()}): check that the template is a complete (not shallow) git repository"
            )
        return found.returncode == 0

    def head(self) -> str:
        """The commit at the tip of the template's default branch (its HEAD)."""
        commit = self.commit("HEAD")
        if commit is None:
            raise TemplateSourceError(f"template '{self.source}' has no commits: commit the template first")
        return commit

    def head_name(self) -> str:
        """The default branch's name ("HEAD" when the template's checkout is detached)."""
        named = self.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return named.stdout.strip() or "HEAD"

    def tag_commits(self) -> dict[str, str]:
        """Every tag and the commit it points at (annotated tags peeled)."""
        listed = self.git("for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/tags")
        commits = {}
        for line in listed.stdout.splitlines():
            name, obj, peeled = (line.split(" ") + ["", ""])[:3]
            commits[name] = peeled or obj
        return commits


@contextmanager
def open_history(source: str) -> Iterator[TemplateHistory]:
    if not template_source.is_url(source):
        yield TemplateHistory(source, checked_local_repository(source))
        return
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-history-") as scratch:
        clone = subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--filter=blob:none", "--", source, scratch],
            capture_output=True,
            text=True,
        )
        if clone.returncode != 0:
            raise TemplateSourceError(
                f"cannot read the history of template '{source}' ({clone.stderr.strip()}): "
                "check that it is a git repository or URL you can reach"
            )
        yield TemplateHistory(source, Path(scratch))


def checked_local_repository(source: str) -> Path:
    """`source` itself, once it is known to be the top of a git repository (not a folder inside one)."""
    repo = Path(source)
    probe = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--is-bare-repository", "--show-prefix"], capture_output=True, text=True
    )
    answers = probe.stdout.split("\n")
    if probe.returncode != 0 or (answers[0] != "true" and answers[1] != ""):
        raise TemplateSourceError(
            f"template '{source}' is not the top folder of a git repository: updates compare its versions "
            "in git history; commit the template with git (or point _src_path at its repository)"
        )
    return repo
