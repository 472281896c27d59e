"""`llm-scaffold diff`: the project against a fresh render of its own template version."""

from __future__ import annotations

import difflib
from pathlib import Path

from generator import update_state
from generator.project import open_project
from generator.reference import differing, drifted, reference_render


def diff_project(path: str | Path, trust: bool = False) -> str:
    """A unified diff from the template's render (a/) to the project (b/) for every drifted file."""
    project = open_project(path)
    update_state.ensure_not_interrupted(project.path)
    chunks = []
    with reference_render(project, trust=trust) as reference:
        for name in drifted(project, differing(project, reference)):
            ours = project.path / name
            theirs = (reference / name).read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
            mine = ours.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) if ours.exists() else []
            chunks.extend(
                difflib.unified_diff(theirs, mine, f"a/{name}", f"b/{name}" if ours.exists() else "/dev/null")
            )
    return "".join(chunks)
