"""A fresh render of a project's own template version with its recorded answers.

`check` and `diff` compare the project against it: what differs is drift from the template.
"""

from __future__ import annotations

import fnmatch
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from copier import run_copy

from generator.project import ANSWERS_FILE, Project


@contextmanager
def reference_render(project: Project) -> Iterator[Path]:
    """Yield a temporary folder holding the template rendered at the project's version."""
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-reference-") as scratch:
        dest = Path(scratch) / project.path.name
        run_copy(
            project.source,
            dest,
            data=project.user_answers,
            vcs_ref=project.version or None,
            defaults=True,
            quiet=True,
            skip_tasks=True,  # no git init, no hooks: only the files
            unsafe=True,
        )
        yield dest


def owned_patterns(project: Project) -> list[str]:
    """Globs of files the team changed on purpose: `[tool.llm-scaffold] owned = [...]` in pyproject.toml."""
    pyproject = project.path / "pyproject.toml"
    if not pyproject.is_file():
        return []
    table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("llm-scaffold", {})
    return list(table.get("owned", []))


def managed_files(reference: Path) -> list[str]:
    """Files the template renders (the answers file aside), as posix paths."""
    return sorted(
        path.relative_to(reference).as_posix()
        for path in reference.rglob("*")
        if path.is_file() and path.name != ANSWERS_FILE and ".git" not in path.relative_to(reference).parts
    )


def drifted(project: Project, reference: Path) -> list[str]:
    """Managed files whose content differs from the reference render (missing ones included)."""
    owned = owned_patterns(project)
    result = []
    for name in managed_files(reference):
        if any(fnmatch.fnmatch(name, pattern) for pattern in owned):
            continue
        ours = project.path / name
        if not ours.is_file() or ours.read_bytes() != (reference / name).read_bytes():
            result.append(name)
    return result
