"""`llm-scaffold new`: generate a project, all or nothing.

The answers given with `-d` are checked first (unknown keys, the template's validators) without
rendering anything. The project is then rendered into a hidden sibling of the destination and
renamed into place only after rendering and the post-generation tasks succeed, so a failure (a
refused answer, a task error, an untrusted template, Ctrl-C) never leaves a half-written project.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from copier import run_copy
from copier.errors import CopierError, InteractiveSessionError, UserMessageError

from generator import template_source
from generator import trust as trust_policy
from generator.errors import DestinationError, GenerationError, InvalidAnswerError


def create_project(
    dest: str | Path,
    template: str | None = None,
    vcs_ref: str | None = None,
    data: dict[str, str] | None = None,
    defaults: bool = False,
    quiet: bool = False,
    trust: bool = False,
) -> Path:
    """Render the template into `dest` (which must not exist or be empty); return its path."""
    source = template_source.resolve(template)
    dest = Path(dest).expanduser().resolve()
    unsafe = trust_policy.allows_code(source, trust)
    check_answers(source, vcs_ref, data or {}, unsafe)
    staging = prepare_destination(dest)
    try:
        render(source, staging, vcs_ref, data or {}, defaults, quiet, unsafe)
        move_into_place(staging, dest)
    except OSError as err:
        reason = err.strerror or err
        raise DestinationError(f"cannot write {dest} ({reason}): choose a folder you can write to") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def move_into_place(staging: Path, dest: Path) -> None:
    """A new destination takes the staging folder's place; an existing empty one (maybe the current
    folder, or a mount point) is kept and filled entry by entry."""
    if not dest.exists():
        staging.rename(dest)
        return
    for entry in staging.iterdir():
        entry.rename(dest / entry.name)


def prepare_destination(dest: Path) -> Path:
    """Check `dest` can receive the project; return the hidden staging folder beside it."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DestinationError(f"{dest} already exists and is not empty: choose a new folder or empty this one")
    staging = dest.with_name(f".{dest.name}.llm-scaffold-{uuid.uuid4().hex[:8]}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()  # proves the folder is writable before anything is rendered
    except OSError as err:
        raise DestinationError(
            f"cannot create {dest} ({err.strerror or err}): choose a folder you can write to"
        ) from err
    return staging


def check_answers(source: str, vcs_ref: str | None, data: dict, unsafe: bool) -> None:
    """Unknown keys and invalid values in `data`, found before anything is rendered or asked.

    A pretend copy that excludes every file: copier loads the questions and runs their validators
    on the given answers (defaults for the rest), and writes nothing.
    """
    if not data:
        return
    worker = copier_call(
        source,
        lambda: run_copy(
            source,
            Path("/nonexistent/llm-scaffold-check"),
            data=data,
            vcs_ref=vcs_ref,
            defaults=True,
            pretend=True,
            quiet=True,
            skip_tasks=True,
            exclude=["*"],
            unsafe=unsafe,
        ),
    )
    # copier accepts any extra data silently; a typo in -d must not pass unnoticed.
    unknown = sorted(set(data) - set(worker.template.questions_data))
    if unknown:
        known = ", ".join(worker.template.questions_data)
        raise InvalidAnswerError(
            f"unknown question(s) {', '.join(unknown)}: the template asks {known}. Nothing was written."
        )


def render(source: str, staging: Path, vcs_ref, data: dict, defaults: bool, quiet: bool, unsafe: bool) -> None:
    copier_call(
        source,
        lambda: run_copy(source, staging, data=data, vcs_ref=vcs_ref, defaults=defaults, quiet=quiet, unsafe=unsafe),
    )


def copier_call(source: str, call):
    """Run a copier call; its failures become our typed errors, each saying that nothing was written."""
    try:
        with trust_policy.refusing_untrusted(source):
            return call()
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
