"""Where the template comes from, always recorded as an absolute path or a URL.

Order: an explicit `--template`, then `$LLM_SCAFFOLD_TEMPLATE` (a team's git URL or path),
then the git checkout this package was installed from (an editable install of a clone).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from generator.errors import TemplateSourceError

ENV_VAR = "LLM_SCAFFOLD_TEMPLATE"
CHECKOUT = Path(__file__).resolve().parents[1]
# git URLs copier understands: scheme://..., user@host:path, and the gh:/gl: shortcuts.
URL_PATTERN = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:|gh:|gl:)", re.IGNORECASE)


def is_url(source: str) -> bool:
    return bool(URL_PATTERN.match(source))


def normalize(source: str) -> str:
    """A URL unchanged, or a local path made absolute after checking it holds a template."""
    if is_url(source):
        return source
    path = Path(source).expanduser().resolve()
    if not path.is_dir():
        raise TemplateSourceError(
            f"template '{source}' does not exist: give a path to an llm-scaffold checkout or a git URL"
        )
    if not (path / "copier.yml").is_file() and not (path / "copier.yaml").is_file():
        raise TemplateSourceError(
            f"'{path}' is not a Copier template (no copier.yml): point --template at the llm-scaffold repository"
        )
    return str(path)


def is_checkout_template() -> bool:
    """Whether this package runs from a git checkout of the template (an editable install of a clone)."""
    return (CHECKOUT / "copier.yml").is_file() and (CHECKOUT / ".git").exists()


def resolve(explicit: str | None = None) -> str:
    """The template source to use, normalised; a clear error if none can be found."""
    if explicit:
        return normalize(explicit)
    if os.environ.get(ENV_VAR):
        return normalize(os.environ[ENV_VAR])
    if is_checkout_template():
        return str(CHECKOUT)
    raise TemplateSourceError(
        f"no template given: pass --template <git URL or path>, or set {ENV_VAR} to your team's template"
    )
