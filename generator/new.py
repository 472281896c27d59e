"""`llm-scaffold new`: generate a project, all or nothing.

The project is rendered into a hidden sibling of the destination and renamed into place only
after rendering and the post-generation tasks succeed, so a failure (a refused answer, a task
error, Ctrl-C) never leaves a half-written project behind.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from copier import run_copy
from copier.errors import CopierError, InteractiveSessionError, UserMessageError

from generator import template_source
from generator.errors import DestinationError, GenerationError, InvalidAnswerError


def create_project(
    dest: str | Path,
    template: str | None = None,
    vcs_ref: str | None = None,
    data: dict[str, str] | None = None,
    defaults: bool = False,
    quiet: bool = False,
) -> Path:
    """Render the template into `dest` (which must not exist or be empty); return its path."""
    source = template_source.resolve(template)
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DestinationError(f"{dest} already exists and is not empty: choose a new folder or empty this one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.llm-scaffold-{uuid.uuid4().hex[:8]}")
    try:
        _render(source, staging, vcs_ref, data or {}, defaults, quiet)
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _render(source: str, staging: Path, vcs_ref, data: dict, defaults: bool, quiet: bool) -> None:
    try:
        worker = run_copy(
            source,
            staging,
            data=data,
            vcs_ref=vcs_ref,
            defaults=defaults,
            quiet=quiet,
            unsafe=True,  # our own template runs its own hooks/ as copier tasks
        )
    except ValueError as err:  # copier's validators and choice checks raise ValueError
        raise InvalidAnswerError(f"{str(err).rstrip('.')}. Nothing was written.") from err
    except InteractiveSessionError as err:
        raise InvalidAnswerError(
            "no terminal to ask the questions in: pass --defaults and/or -d key=value for each answer"
        ) from err
    except UserMessageError as err:
        raise GenerationError(f"{str(err).rstrip('.')}. Nothing was written.") from err
    except CopierError as err:
        raise GenerationError(f"generation failed ({type(err).__name__}: {err}). Nothing was written.") from err
    # copier accepts any extra data silently; a typo in -d must not pass unnoticed.
    unknown = sorted(set(data) - set(worker.template.questions_data))
    if unknown:
        known = ", ".join(worker.template.questions_data)
        raise InvalidAnswerError(
            f"unknown question(s) {', '.join(unknown)}: the template asks {known}. Nothing was written."
        )
