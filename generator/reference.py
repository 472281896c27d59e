"""Fresh renders of a project's template with its recorded answers.

`check` and `diff` compare the project against a render of its own version: what differs is drift
from the template. `update` also renders the version it moves to, to see what the template renames
or deletes.
"""

from __future__ import annotations

import fnmatch
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from copier import run_copy
from copier.errors import CopierError

from generator import trust as trust_policy
from generator.errors import ProjectError
from generator.project import ANSWERS_FILE, Project

PYPROJECT = "pyproject.toml"


@contextmanager
def reference_render(project: Project, version: str | None = None, trust: bool = False) -> Iterator[Path]:
    """Yield a temporary folder holding the template rendered at `version` (default: the project's)."""
    version = version or project.version or None
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-reference-") as scratch:
        dest = Path(scratch) / project.path.name
        try:
            with trust_policy.refusing_untrusted(project.source):
                run_copy(
                    project.source,
                    dest,
                    data=project.user_answers,
                    vcs_ref=version,
                    defaults=True,
                    quiet=True,
                    skip_tasks=True,  # no git init, no hooks: only the files
                    unsafe=trust_policy.allows_code(project.source, trust),
                )
        except (CopierError, ValueError, OSError) as err:
            raise ProjectError(
                f"cannot render template '{project.source}' at {version or 'its latest version'} "
                f"({type(err).__name__}: {str(err).strip() or 'no detail'}): check _commit and _src_path "
                f"in {ANSWERS_FILE}"
            ) from err
        yield dest


def owned_patterns(project: Project) -> list[str]:
    """Globs of files the team changed on purpose: `[tool.llm-scaffold] owned = [...]` in pyproject.toml."""
    pyproject = project.path / PYPROJECT
    if not pyproject.is_file():
        return []
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("llm-scaffold", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ProjectError(
            f"{pyproject} is not valid TOML ({err}): resolve its conflict markers (<<<<<<<) or syntax error, "
            "then run again"
        ) from err
    owned = table.get("owned", []) if isinstance(table, dict) else []
    if not isinstance(owned, list) or not all(isinstance(pattern, str) for pattern in owned):
        raise ProjectError(f'{pyproject}: [tool.llm-scaffold] owned must be a list of globs, e.g. ["README.md"]')
    return owned


def managed_files(reference: Path) -> list[str]:
    """Files the template renders (the answers file aside), as posix paths."""
    return sorted(
        path.relative_to(reference).as_posix()
        for path in reference.rglob("*")
        if path.is_file() and path.name != ANSWERS_FILE and ".git" not in path.relative_to(reference).parts
    )


def without_own_table(path: Path) -> dict | None:
    """pyproject.toml as TOML data without `[tool.llm-scaffold]` (None when it does not parse).

    Compared as data, so the table counts in none of its spellings (`[tool."llm-scaffold"]`, a
    dotted key under `[tool]`, a comment above it): declaring owned files is not drift.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    tool = data.get("tool")
    if isinstance(tool, dict):
        tool.pop("llm-scaffold", None)
        if not tool:
            data.pop("tool")
    return data


def same_content(name: str, ours: Path, theirs: Path) -> bool:
    if ours.read_bytes() == theirs.read_bytes():
        return True
    if name != PYPROJECT:
        return False
    mine = without_own_table(ours)
    return mine is not None and mine == without_own_table(theirs)


def differing(project: Project, reference: Path) -> list[str]:
    """Managed files whose content differs from the reference render (missing ones included)."""
    result = []
    for name in managed_files(reference):
        ours = project.path / name
        if not ours.is_file() or not same_content(name, ours, reference / name):
            result.append(name)
    return result


def drifted(project: Project, differing_names: list[str]) -> list[str]:
    """Those of the differing managed files that the team did not declare its own."""
    owned = owned_patterns(project)
    return [name for name in differing_names if not any(fnmatch.fnmatch(name, pattern) for pattern in owned)]
