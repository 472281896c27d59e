"""Next steps a template migration reports for the user: what it could not do by itself.

The protocol, for template authors: a migration appends one line per step to the file that
`git rev-parse --git-path llm-scaffold/next-steps` names in the project (copier runs migrations
there). hooks/migrations/next_steps.py does that, and also prints the line as `NEXT STEP: ...`, so
that a plain `copier update` shows it too. `update` empties the file before copier runs and reads
and removes it afterwards, so every step is reported by the update that caused it, once.
"""

from __future__ import annotations

from pathlib import Path

from generator.update_state import state_dir

FILE_NAME = "next-steps"


def steps_file(repo: Path) -> Path:
    return state_dir(repo) / FILE_NAME


def clear(repo: Path) -> None:
    steps_file(repo).unlink(missing_ok=True)


def collect(repo: Path) -> list[str]:
    """The steps reported since `clear`, in order, without repeats; the file is removed."""
    path = steps_file(repo)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    path.unlink()
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))
